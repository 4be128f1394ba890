"""Figures for a posting date or a range of them: the day sheet totals, the deposit, the A/R proof.

One implementation feeds the balancing screen, the day close, the month close and the reports,
so they can never disagree. Opening balances start from the latest closed day's stored figures
(a checkpoint) and add the movement since, so a day's proof costs the same on year ten as on
day one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from .db import database

METHODS = ("cash", "check", "card", "eft")


@dataclass(frozen=True)
class Movement:
    """What was posted between two posting dates inclusive (reversals net in)."""

    charges: int = 0
    applications: int = 0
    adjustments: int = 0
    receipts: int = 0
    refunds: int = 0


def movement(start: str, end: str) -> Movement:
    """Sums of every money table for posting dates in [start, end]."""
    q = "SELECT COALESCE(SUM(amount), 0) FROM {} WHERE posting_date BETWEEN ? AND ?"
    values = [database.execute_sql(q.format(t), (start, end)).fetchone()[0]
              for t in ("charge", "application", "adjustment", "receipt", "refund")]
    return Movement(*values)


def _day_before(date: str) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=1)).isoformat()


def balances_as_of(date: str) -> tuple[int, int]:
    """(A/R, unapplied credit) at the end of a posting date, from the nearest checkpoint."""
    row = database.execute_sql(
        "SELECT posting_date, totals FROM day_close WHERE posting_date <= ? ORDER BY posting_date DESC LIMIT 1", (date,)
    ).fetchone()
    if row:
        stored = json.loads(row[1])
        ar, unapplied, start = stored["closing_ar"], stored["closing_unapplied"], row[0]
        if start == date:
            return ar, unapplied
        start = (dt.date.fromisoformat(start) + dt.timedelta(days=1)).isoformat()
    else:
        ar, unapplied, start = 0, 0, "0000-01-01"
    m = movement(start, date)
    return (ar + m.charges - m.applications - m.adjustments,
            unapplied + m.receipts - m.applications - m.refunds)


@dataclass(frozen=True)
class PeriodSummary:
    start: str
    end: str
    charge_lines: int
    charges: int
    charge_voids: int
    receipt_count: int
    check_count: int
    receipts_by_method: dict[str, int]
    refunds_by_method: dict[str, int]
    applications: int
    adjustments: int
    adjustments_by_reason: dict[str, int]
    transfer_count: int
    transfer_total: int
    void_count: int
    opening_ar: int
    closing_ar: int
    opening_unapplied: int
    closing_unapplied: int
    #: Σ open charge balances and Σ unapplied right now; compared only when nothing is posted after `end`
    current_ar: int | None = None
    current_unapplied: int | None = None
    proof_errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def receipts(self) -> int:
        return sum(self.receipts_by_method.values())

    @property
    def refunds(self) -> int:
        return sum(self.refunds_by_method.values())

    @property
    def deposit(self) -> dict[str, int]:
        """What should be in the bank for the period, by method: receipts less refunds."""
        return {m: self.receipts_by_method.get(m, 0) - self.refunds_by_method.get(m, 0) for m in METHODS}

    @property
    def balances(self) -> bool:
        return not self.proof_errors

    def as_dict(self) -> dict:
        d = asdict(self)
        d["proof_errors"] = list(self.proof_errors)
        d["deposit"] = self.deposit
        return d


def _by(sql: str, params: tuple) -> dict[str, int]:
    return {k: v for k, v in database.execute_sql(sql, params).fetchall()}


def period_summary(start: str, end: str) -> PeriodSummary:
    """Every figure of the balancing screen for posting dates start..end inclusive."""
    p = (start, end)
    one = lambda sql: database.execute_sql(sql, p).fetchone()  # noqa: E731
    charge_lines, charges, voids = one(
        "SELECT COALESCE(SUM(reverses_id IS NULL), 0), COALESCE(SUM(amount), 0), "
        "COALESCE(SUM(CASE WHEN reverses_id IS NOT NULL THEN amount END), 0) "
        "FROM charge WHERE posting_date BETWEEN ? AND ?")
    receipt_count, check_count = one(
        "SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0), "
        "COALESCE(SUM(CASE WHEN method = 'check' THEN (CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END) END), 0) "
        "FROM receipt WHERE posting_date BETWEEN ? AND ?")
    receipts = _by("SELECT method, SUM(amount) FROM receipt WHERE posting_date BETWEEN ? AND ? GROUP BY method", p)
    refunds = _by("SELECT method, SUM(amount) FROM refund WHERE posting_date BETWEEN ? AND ? GROUP BY method", p)
    applications = one("SELECT COALESCE(SUM(amount), 0) FROM application WHERE posting_date BETWEEN ? AND ?")[0]
    by_reason = _by("SELECT reason_code, SUM(amount) FROM adjustment WHERE posting_date BETWEEN ? AND ? "
                    "GROUP BY reason_code ORDER BY reason_code", p)
    transfer_count, transfer_total = one(
        "SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0), "
        "COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN amount ELSE -amount END), 0) "
        "FROM transfer WHERE posting_date BETWEEN ? AND ?")
    void_count = sum(one(f"SELECT COUNT(*) FROM {t} WHERE posting_date BETWEEN ? AND ? AND reverses_id IS NOT NULL")[0]
                     for t in ("encounter", "receipt", "distribution", "refund"))
    opening_ar, opening_unapplied = balances_as_of(_day_before(start))
    adjustments = sum(by_reason.values())
    refunds_total = sum(refunds.values())
    closing_ar = opening_ar + charges - applications - adjustments
    closing_unapplied = opening_unapplied + sum(receipts.values()) - applications - refunds_total
    errors = []
    check_ar, check_unapplied = balances_as_of(end)
    if (check_ar, check_unapplied) != (closing_ar, closing_unapplied):
        errors.append(f"roll-forward gives A/R {closing_ar} / unapplied {closing_unapplied} but the stored "
                      f"checkpoints give {check_ar} / {check_unapplied}")
    current_ar = current_unapplied = None
    if _nothing_posted_after(end):
        current_ar = database.execute_sql("SELECT COALESCE(SUM(balance), 0) FROM charge_balance").fetchone()[0]
        current_unapplied = database.execute_sql("SELECT COALESCE(SUM(unapplied), 0) FROM receipt_balance").fetchone()[0]
        if current_ar != closing_ar:
            errors.append(f"closing A/R {closing_ar} differs from the sum of open charge balances {current_ar}")
        if current_unapplied != closing_unapplied:
            errors.append(f"closing unapplied {closing_unapplied} differs from the receipts queue {current_unapplied}")
    return PeriodSummary(
        start=start, end=end, charge_lines=charge_lines, charges=charges, charge_voids=voids,
        receipt_count=receipt_count, check_count=check_count,
        receipts_by_method={m: receipts.get(m, 0) for m in METHODS},
        refunds_by_method={m: refunds.get(m, 0) for m in METHODS},
        applications=applications, adjustments=adjustments, adjustments_by_reason=by_reason,
        transfer_count=transfer_count, transfer_total=transfer_total, void_count=void_count,
        opening_ar=opening_ar, closing_ar=closing_ar, opening_unapplied=opening_unapplied,
        closing_unapplied=closing_unapplied, current_ar=current_ar, current_unapplied=current_unapplied,
        proof_errors=tuple(errors),
    )


def _nothing_posted_after(date: str) -> bool:
    for table in ("charge", "receipt", "application", "adjustment", "refund"):
        if database.execute_sql(f"SELECT 1 FROM {table} WHERE posting_date > ? LIMIT 1", (date,)).fetchone():
            return False
    return True


def day_summary(date: str) -> PeriodSummary:
    return period_summary(date, date)
