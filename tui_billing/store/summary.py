"""Figures for a posting date or a range of them: the day sheet totals, the deposit, the A/R proof.

One implementation feeds the balancing screen, the day close, the month close and the reports,
so they can never disagree. Opening balances start from the latest closed day's stored figures
(a checkpoint) and add the movement since, so a day's proof costs the same on year ten as on
day one.

Also here, because they are about "the figures the clerk saw": the batch list, the stored
closes and :func:`day_snapshot` (everything the balancing screen shows, in one read). The closes
themselves live in :mod:`.closes`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, NamedTuple

from ..ledger.records import BatchStatus, PeriodSummary
from ..ledger.vocab import METHODS, SOURCES, VOID_KINDS, month_bounds
from ..money import format_cents
from .db import read_snapshot, sql

__all__ = ["METHODS", "SOURCES", "VOID_KINDS", "BatchStatus", "DayCloseRecord", "DaySnapshot", "MonthCloseRecord",
           "Movement", "PeriodSummary", "balances_as_of", "batches_for", "day_close_record",
           "day_snapshot", "day_summary", "month_bounds", "month_close_record", "movement", "period_summary"]


class Movement(NamedTuple):
    """What was posted between two posting dates inclusive (reversals net in)."""

    charges: int = 0
    applications: int = 0
    adjustments: int = 0
    receipts: int = 0
    refunds: int = 0
    #: receipt-level credit that is no charge's (an 835's PLB, a reversal's recoupment)
    receipt_adjustments: int = 0


def movement(start: str, end: str) -> Movement:
    """Sums of every money table for posting dates in [start, end]."""
    q = "SELECT COALESCE(SUM(amount), 0) FROM {} WHERE posting_date BETWEEN ? AND ?"
    values = [sql(q.format(t), (start, end)).fetchone()[0]
              for t in ("charge", "application", "adjustment", "receipt", "refund", "receipt_adjustment")]
    return Movement(*values)


def _day_before(date: str) -> str:
    return (dt.date.fromisoformat(date) - dt.timedelta(days=1)).isoformat()


def balances_as_of(date: str) -> tuple[int, int]:
    """(A/R, unapplied credit) at the end of a posting date, from the nearest checkpoint."""
    row = sql(
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
            unapplied + m.receipts - m.applications - m.refunds + m.receipt_adjustments)


def _by(query: str, params: tuple[Any, ...]) -> dict[str, int]:
    return {k: v for k, v in sql(query, params).fetchall()}


def period_summary(start: str, end: str) -> PeriodSummary:
    """Every figure of the balancing screen for posting dates start..end inclusive."""
    p = (start, end)
    def one(query: str) -> tuple[Any, ...]:
        row: tuple[Any, ...] = sql(query, p).fetchone()
        return row

    # One pass over each table's rows for the period, in small groups (original or reversal, and
    # the keys shown); every figure below is a sum over those groups.
    charge_groups = sql(
        "SELECT p.code, c.operator, c.reverses_id IS NULL, COUNT(*), SUM(c.amount) FROM charge c "
        "JOIN provider p ON p.id = c.provider_id WHERE c.posting_date BETWEEN ? AND ? GROUP BY 1, 2, 3", p).fetchall()
    charge_lines = sum(n for _, _, original, n, _ in charge_groups if original)
    charges = sum(total for *_, total in charge_groups)
    voids = sum(total for _, _, original, _, total in charge_groups if not original)
    by_provider: dict[str, list[int]] = {}
    by_operator: dict[str, list[int]] = {}
    for code, op, original, n, total in charge_groups:
        for key, table in ((code, by_provider), (op, by_operator)):
            figures = table.setdefault(key, [0, 0])
            figures[0] += n if original else 0
            figures[1] += total
    by_provider = {k: by_provider[k] for k in sorted(by_provider, key=str.upper)}  # codes compare NOCASE
    by_operator = {k: by_operator[k] for k in sorted(by_operator)}

    receipt_groups = sql(
        "SELECT method, source, reverses_id IS NULL, COUNT(*), SUM(amount) FROM receipt "
        "WHERE posting_date BETWEEN ? AND ? GROUP BY 1, 2, 3", p).fetchall()
    receipts: dict[str, int] = {}
    by_source: dict[str, int] = {}
    counts: dict[str, int] = {}
    receipt_count = check_count = receipt_voids = receipt_reversals = 0
    for method, source, original, n, total in receipt_groups:
        signed = n if original else -n  # a voided receipt counts -1
        receipts[method] = receipts.get(method, 0) + total
        by_source[source] = by_source.get(source, 0) + total
        counts[method] = counts.get(method, 0) + signed
        receipt_count += signed
        check_count += signed if method == "check" else 0
        if not original:
            receipt_voids += total
            receipt_reversals += n

    refunds: dict[str, int] = {}
    refund_count = refund_reversals = 0
    for method, original, n, total in sql(
            "SELECT method, reverses_id IS NULL, COUNT(*), SUM(amount) FROM refund "
            "WHERE posting_date BETWEEN ? AND ? GROUP BY 1, 2", p).fetchall():
        refunds[method] = refunds.get(method, 0) + total
        refund_count += n if original else -n
        refund_reversals += 0 if original else n

    applications = one("SELECT COALESCE(SUM(amount), 0) FROM application WHERE posting_date BETWEEN ? AND ?")[0]
    by_reason = _by("SELECT reason_code, SUM(amount) FROM adjustment WHERE posting_date BETWEEN ? AND ? "
                    "GROUP BY reason_code ORDER BY reason_code", p)
    transfer_count, transfer_total = one(
        "SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0), "
        "COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN amount ELSE -amount END), 0) "
        "FROM transfer WHERE posting_date BETWEEN ? AND ?")
    voids_by_kind = {
        "encounter": one("SELECT COUNT(*) FROM encounter WHERE posting_date BETWEEN ? AND ? AND reverses_id IS NOT NULL")[0],
        "receipt": receipt_reversals,
        "distribution": one(
            "SELECT COUNT(*) FROM distribution WHERE posting_date BETWEEN ? AND ? AND reverses_id IS NOT NULL")[0],
        "refund": refund_reversals,
    }
    void_count = sum(voids_by_kind.values())
    opening_ar, opening_unapplied = balances_as_of(_day_before(start))
    adjustments = sum(by_reason.values())
    refunds_total = sum(refunds.values())
    closing_ar = opening_ar + charges - applications - adjustments
    receipt_adjustments = one("SELECT COALESCE(SUM(amount), 0) FROM receipt_adjustment "
                              "WHERE posting_date BETWEEN ? AND ?")[0]
    closing_unapplied = opening_unapplied + sum(receipts.values()) - applications - refunds_total + receipt_adjustments
    errors = []
    check_ar, check_unapplied = balances_as_of(end)
    if (check_ar, check_unapplied) != (closing_ar, closing_unapplied):
        errors.append(f"roll-forward gives A/R {format_cents(closing_ar)} / unapplied {format_cents(closing_unapplied)} "
                      f"but the stored checkpoints give {format_cents(check_ar)} / {format_cents(check_unapplied)}")
    current_ar = current_unapplied = None
    if _nothing_posted_after(end):
        # Balances are never below zero (CHECK), so the open items carry the whole sum; the partial
        # covering indexes (migration V3) make this a walk over open items, not every charge.
        current_ar = sql(
            "SELECT COALESCE(SUM(balance), 0) FROM charge_balance WHERE balance > 0").fetchone()[0]
        current_unapplied = sql(
            "SELECT COALESCE(SUM(unapplied), 0) FROM receipt_balance WHERE unapplied > 0").fetchone()[0]
        if current_ar != closing_ar:
            errors.append(f"closing A/R {format_cents(closing_ar)} differs from the sum of open charge balances "
                          f"{format_cents(current_ar)}")
        if current_unapplied != closing_unapplied:
            errors.append(f"closing unapplied {format_cents(closing_unapplied)} differs from the receipts queue "
                          f"{format_cents(current_unapplied)}")
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
        charges_by_provider=by_provider, charges_by_operator=by_operator,
        receipts_by_source={k: by_source.get(k, 0) for k in SOURCES},
        receipt_counts_by_method={m: counts.get(m, 0) for m in METHODS},
        refund_count=refund_count, voids_by_kind=voids_by_kind, receipt_voids=receipt_voids,
        receipt_adjustments=receipt_adjustments,
    )


def _nothing_posted_after(date: str) -> bool:
    for table in ("charge", "receipt", "application", "adjustment", "refund"):
        if sql(f"SELECT 1 FROM {table} WHERE posting_date > ? LIMIT 1", (date,)).fetchone():
            return False
    return True


def day_summary(date: str) -> PeriodSummary:
    return period_summary(date, date)


# --------------------------------------------------------------------------- batches and closes


def batches_for(start: str, end: str) -> list[BatchStatus]:
    """Every batch opened on posting dates start..end, with entered figures, in one query.

    Rows of a batch always carry its posting date, so each sum walks the posting-date index
    instead of scanning every charge or receipt (there is no index on batch_id).
    """
    rows = sql(
        "SELECT b.id, b.kind, b.posting_date, b.operator, b.control_count, b.control_total, "
        "CASE WHEN b.kind = 'charge' THEN (SELECT COALESCE(SUM(CASE WHEN e.reverses_id IS NULL THEN 1 ELSE -1 END), 0) "
        "  FROM encounter e WHERE e.batch_id = b.id) "
        "ELSE (SELECT COALESCE(SUM(CASE WHEN r.reverses_id IS NULL THEN 1 ELSE -1 END), 0) FROM receipt r "
        "  WHERE r.posting_date = b.posting_date AND r.batch_id = b.id) END, "
        "CASE WHEN b.kind = 'charge' THEN (SELECT COALESCE(SUM(c.amount), 0) FROM charge c "
        "  WHERE c.posting_date = b.posting_date AND c.batch_id = b.id) "
        "ELSE (SELECT COALESCE(SUM(r.amount), 0) FROM receipt r "
        "  WHERE r.posting_date = b.posting_date AND r.batch_id = b.id) END, "
        "EXISTS (SELECT 1 FROM batch_close bc WHERE bc.batch_id = b.id) "
        "FROM batch b WHERE b.posting_date BETWEEN ? AND ? ORDER BY b.posting_date, b.id", (start, end)).fetchall()
    return [BatchStatus(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows]


class DayCloseRecord(NamedTuple):
    """What a closed day was closed with: who, when, the stored totals and the counted deposit."""

    posting_date: str
    closed_at: str
    operator: str
    totals: dict[str, Any]
    counted_cash: int
    counted_checks: int
    counted_check_count: int
    counted_card: int
    counted_eft: int

    @property
    def counted(self) -> dict[str, int]:
        """Counted deposit by method (same keys as PeriodSummary.deposit)."""
        return {"cash": self.counted_cash, "check": self.counted_checks, "card": self.counted_card,
                "eft": self.counted_eft}


def day_close_record(date: str) -> DayCloseRecord | None:
    row = sql(
        "SELECT posting_date, closed_at, operator, totals, counted_cash, counted_checks, counted_check_count, "
        "counted_card, counted_eft FROM day_close WHERE posting_date = ?", (date,)).fetchone()
    if not row:
        return None
    return DayCloseRecord(row[0], row[1], row[2], json.loads(row[3]), *row[4:])


class MonthCloseRecord(NamedTuple):
    month: str
    closed_at: str
    operator: str
    totals: dict[str, Any]


def month_close_record(month: str) -> MonthCloseRecord | None:
    row = sql("SELECT month, closed_at, operator, totals FROM month_close WHERE month = ?",
                               (month,)).fetchone()
    return MonthCloseRecord(row[0], row[1], row[2], json.loads(row[3])) if row else None


class DaySnapshot(NamedTuple):
    """Everything the balancing screen shows for one posting date, read in one go."""

    date: str
    current_date: str
    summary: PeriodSummary
    batches: list[BatchStatus]
    closed: DayCloseRecord | None
    month_closed: MonthCloseRecord | None

    @property
    def is_current(self) -> bool:
        return self.date == self.current_date


def day_snapshot(date: str | None = None) -> DaySnapshot:
    """The balancing screen's figures for a date (default: the current posting date), in one read transaction.

    One transaction gives one consistent view even while other clerks post.
    """
    from .validate import current_posting_date, iso_date

    with read_snapshot():
        current = current_posting_date()
        when = current if not date else iso_date(date, "date")
        return DaySnapshot(
            date=when, current_date=current, summary=day_summary(when), batches=batches_for(when, when),
            closed=day_close_record(when), month_closed=month_close_record(when[:7]),
        )
