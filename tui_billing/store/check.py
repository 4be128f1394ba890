"""`tui-billing check`: prove the books are whole.

Recomputes everything from the posted rows with set-based SQL (so it stays fast on millions of
rows) and compares it with the running balances, the stored closes and the audit chain.
"""

from __future__ import annotations

import bisect
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ledger.vocab import METHODS
from ..money import format_cents
from . import audit, check_audit, digests, identity
from .db import database, on_server
from .schema_check import guard_problems


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=dict)
    #: said, not failed: e.g. that these are test books honouring the test hooks
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(sql, params).fetchall()
    return rows


def _first(sql: str, params: tuple[Any, ...] = ()) -> Any:
    return database.execute_sql(sql, params).fetchone()[0]


def _damage_is_a_problem(check: Callable[..., CheckReport]) -> Callable[..., CheckReport]:
    """A damaged file ("database disk image is malformed") is a reported problem, not a traceback.

    Locks, busy and read-only errors still raise: the caller's open path explains those.
    """
    import functools
    import sqlite3

    import peewee

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> CheckReport:
        try:
            return check(*args, **kwargs)
        except (sqlite3.DatabaseError, peewee.DatabaseError) as exc:
            if isinstance(exc, (sqlite3.OperationalError, peewee.OperationalError)) and "malformed" not in str(exc):
                raise
            return CheckReport(problems=[(f"the database file is damaged ({exc}): restore the last backup "
                                          "(tui-billing backup makes them)")])

    return wrapper


@_damage_is_a_problem
def run_check(*, integrity: bool = True, limit: int = 10) -> CheckReport:
    """Run every check; ``report.problems`` says what is wrong, in words."""
    report = CheckReport()
    add = report.problems.append

    # SQLite's page-by-page integrity check is the slowest part on a big file and runs in C
    # without the GIL: run it on its own connection in a thread while the rest runs here.
    # (PostgreSQL keeps its own pages: its DBA's tools check them, e.g. data checksums and amcheck)
    server = on_server()
    pages = _PageCheck(limit) if integrity and not server else None

    # The guards themselves, in full SQL: a dropped, weakened or added trigger would let history be rewritten.
    report.problems.extend(guard_problems(database.execute_sql, limit))

    # Running charge balances against the posted rows. One pass over each table in storage order
    # and one GROUP BY is about twice as fast on a million charges as joining per-table sums
    # (which walks the charge_id indexes and looks every row up). `is_original` marks the ids
    # that are original charges, so a missing running balance is found too.
    for cid, cached, derived in _rows(
        "SELECT t.charge_id, cb.balance, t.derived FROM ("
        " SELECT charge_id, SUM(amount) derived, MAX(is_original) is_original FROM ("
        "  SELECT id charge_id, amount, 1 is_original FROM charge WHERE reverses_id IS NULL"
        "  UNION ALL SELECT reverses_id, amount, 0 FROM charge WHERE reverses_id IS NOT NULL"
        "  UNION ALL SELECT charge_id, -amount, 0 FROM application"
        "  UNION ALL SELECT charge_id, -amount, 0 FROM adjustment"
        " ) GROUP BY charge_id) t "
        "LEFT JOIN charge_balance cb ON cb.charge_id = t.charge_id "
        "WHERE t.is_original = 1 AND (cb.balance IS NULL OR cb.balance <> t.derived OR t.derived < 0) LIMIT ?",
        (limit,),
    ):
        add(f"charge {cid}: running balance {cached} but its postings give {derived}"
            + (" (below zero)" if derived < 0 else ""))

    # Who owes each charge: the last transfer's destination, else the payer it was billed to.
    for cid, cached, derived in _rows(
        "WITH last AS (SELECT charge_id, MAX(id) id FROM transfer GROUP BY charge_id) "
        "SELECT c.id, cb.payer_id, CASE WHEN last.id IS NULL THEN c.payer_id ELSE t.to_payer_id END "
        "FROM charge c JOIN charge_balance cb ON cb.charge_id = c.id "
        "LEFT JOIN last ON last.charge_id = c.id LEFT JOIN transfer t ON t.id = last.id "
        "WHERE cb.payer_id IS NOT (CASE WHEN last.id IS NULL THEN c.payer_id ELSE t.to_payer_id END) LIMIT ?", (limit,)
    ):
        add(f"charge {cid}: responsible payer {cached} but its transfers say {derived}")
    # The running balance's patient and date pick the account and the aging bucket: they must be the charge's.
    for cid, in _rows("SELECT c.id FROM charge c JOIN charge_balance cb ON cb.charge_id = c.id "
                      "WHERE cb.patient_id <> c.patient_id OR cb.dos <> c.dos LIMIT ?", (limit,)):
        add(f"charge {cid}: its running balance names another patient or date of service than the charge")
    for cid, in _rows("SELECT cb.charge_id FROM charge_balance cb LEFT JOIN charge c ON c.id = cb.charge_id "
                      "WHERE c.id IS NULL OR c.reverses_id IS NOT NULL LIMIT ?", (limit,)):
        add(f"running balance {cid} belongs to no original charge")

    for rid, cached, derived in _rows(
        "WITH a AS (SELECT receipt_id, SUM(amount) s FROM application GROUP BY receipt_id), "
        "f AS (SELECT receipt_id, SUM(amount) s FROM refund GROUP BY receipt_id), "
        "v AS (SELECT reverses_id, SUM(amount) s FROM receipt WHERE reverses_id IS NOT NULL GROUP BY reverses_id), "
        "j AS (SELECT receipt_id, SUM(amount) s FROM receipt_adjustment GROUP BY receipt_id) "
        "SELECT r.id, rb.unapplied, r.amount + COALESCE(v.s, 0) - COALESCE(a.s, 0) - COALESCE(f.s, 0) + COALESCE(j.s, 0) "
        "FROM receipt r LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id "
        "LEFT JOIN a ON a.receipt_id = r.id LEFT JOIN f ON f.receipt_id = r.id LEFT JOIN v ON v.reverses_id = r.id "
        "LEFT JOIN j ON j.receipt_id = r.id "
        "WHERE r.reverses_id IS NULL AND (rb.unapplied IS NULL OR rb.unapplied <> "
        "r.amount + COALESCE(v.s, 0) - COALESCE(a.s, 0) - COALESCE(f.s, 0) + COALESCE(j.s, 0) "
        "OR r.amount + COALESCE(v.s, 0) - COALESCE(a.s, 0) - COALESCE(f.s, 0) + COALESCE(j.s, 0) < 0) LIMIT ?", (limit,)
    ):
        add(f"receipt {rid}: unapplied {cached} but its postings give {derived}"
            + (" (over-applied)" if derived < 0 else ""))

    # A reversing row must mirror its original exactly.
    for table in ("charge", "receipt", "application", "adjustment", "refund", "receipt_adjustment"):
        for rid, orig in _rows(
            f"SELECT x.id, x.reverses_id FROM {table} x JOIN {table} o ON o.id = x.reverses_id "
            f"WHERE x.amount <> -o.amount LIMIT ?", (limit,)
        ):
            add(f"{table} {rid} reverses {table} {orig} with a different amount")
    for rid, orig in _rows("SELECT x.id, x.reverses_id FROM transfer x JOIN transfer o ON o.id = x.reverses_id "
                           "WHERE x.to_payer_id IS NOT o.from_payer_id OR x.from_payer_id IS NOT o.to_payer_id LIMIT ?",
                           (limit,)):
        add(f"transfer {rid} does not undo transfer {orig}")

    _check_rollforward(report, limit)
    _check_claims(report, limit)

    report.problems.extend(audit.verify_chain(limit))
    report.problems.extend(digests.problems(limit))  # closed days against their sealed digests
    report.notices.extend(filter(None, [identity.describe(database.execute_sql)]))
    report.problems.extend(identity.problems(database.execute_sql))
    # Rows of open days (the only ones an insert by hand can still reach) against their events.
    report.problems.extend(check_audit.unaccounted(limit=limit))
    if integrity:
        structural = pages.result() if pages else []
        fk = [] if server else _rows("PRAGMA foreign_key_check")  # a server never lets a foreign key dangle
        if fk:
            structural.append(f"{len(fk)} rows point at missing rows (foreign keys), first in table {fk[0][0]}")
        report.problems[:0] = structural
    report.facts.update(
        charges=_first("SELECT COUNT(*) FROM charge"),
        receipts=_first("SELECT COUNT(*) FROM receipt"),
        audit_events=_first("SELECT COUNT(*) FROM audit_event"),
        closed_days=_first("SELECT COUNT(*) FROM day_close"),
    )
    return report


def _check_claims(report: CheckReport, limit: int) -> None:
    """Claims (issue 13): a claim's total is its lines', and its status the latest of its events."""
    add = report.problems.append
    for number, total, lines in _rows(
            "SELECT k.claim_id, k.total, COALESCE(SUM(l.charge), 0) FROM claim k LEFT JOIN claim_line l "
            "ON l.claim_id = k.id GROUP BY k.id HAVING k.total <> COALESCE(SUM(l.charge), 0) LIMIT ?", (limit,)):
        add(f"claim {number}: total {format_cents(total)} but its lines add up to {format_cents(lines)}")
    for number, in _rows(
            "SELECT k.claim_id FROM claim k LEFT JOIN claim_status s ON s.claim_id = k.id "
            "LEFT JOIN claim_event e ON e.id = s.event_id WHERE s.claim_id IS NULL OR e.claim_id IS NOT k.id "
            "OR e.status IS NOT s.status OR s.event_id <> (SELECT MAX(id) FROM claim_event x WHERE x.claim_id = k.id) "
            "LIMIT ?", (limit,)):
        add(f"claim {number}: its status is not its latest event")


class _PageCheck:
    """``PRAGMA integrity_check`` on a second connection in a thread (inline for an in-memory database)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.problems: list[str] = []
        self.error: BaseException | None = None
        path = database.database
        self.thread: threading.Thread | None = None
        if not path or path == ":memory:" or path.startswith("file:") or not os.path.exists(path):
            self._check(lambda: _rows("PRAGMA integrity_check"))
            return
        self.thread = threading.Thread(target=self._run, args=(path,), name="integrity-check", daemon=True)
        self.thread.start()

    def _run(self, path: str) -> None:
        try:
            conn = sqlite3.connect(path, timeout=5, check_same_thread=False)
            try:
                # Reading pages through a memory map saves a copy per page (about 10% on 1M charges).
                conn.execute("PRAGMA mmap_size = 4294967296")
                self._check(lambda: conn.execute("PRAGMA integrity_check").fetchall())
            finally:
                conn.close()
        except BaseException as exc:  # noqa: BLE001  # reported by result(), in the caller's thread
            self.error = exc

    def _check(self, run: Callable[[], list[tuple[Any, ...]]]) -> None:
        result = [r[0] for r in run()]
        if result != ["ok"]:
            self.problems.append("SQLite integrity check failed: " + "; ".join(result[:self.limit]))

    def result(self) -> list[str]:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
        return list(self.problems)


def _by_date(table: str) -> dict[str, int]:
    return dict(_rows(f"SELECT posting_date, SUM(amount) FROM {table} GROUP BY posting_date"))


def _check_rollforward(report: CheckReport, limit: int) -> None:
    """Walk every posting date: the A/R and unapplied roll-forwards, the stored closes, the deposits."""
    add = report.problems.append
    charges, apps, adjs = _by_date("charge"), _by_date("application"), _by_date("adjustment")
    receipts, refunds = _by_date("receipt"), _by_date("refund")
    receipt_adjustments = _by_date("receipt_adjustment")  # an 835's PLB and recoupments: unapplied, not A/R
    closes = {d: (json.loads(t), counted) for d, t, *counted in _rows(
        "SELECT posting_date, totals, counted_cash, counted_checks, counted_card, counted_eft FROM day_close")}
    months = dict(_rows("SELECT month, totals FROM month_close"))
    deposits: dict[str, dict[str, int]] = {}
    for d, method, amount in _rows("SELECT posting_date, method, SUM(amount) FROM receipt GROUP BY 1, 2"):
        deposits.setdefault(d, {}).setdefault(method, 0)
        deposits[d][method] += amount
    for d, method, amount in _rows("SELECT posting_date, method, SUM(amount) FROM refund GROUP BY 1, 2"):
        deposits.setdefault(d, {}).setdefault(method, 0)
        deposits[d][method] -= amount

    dates = sorted(set(charges) | set(apps) | set(adjs) | set(receipts) | set(refunds) | set(receipt_adjustments)
                   | set(closes))
    ar = unapplied = 0
    running: list[tuple[str, int, int]] = []  # (date, A/R, unapplied) at the end of each date
    shown = 0
    for d in dates:
        ar += charges.get(d, 0) - apps.get(d, 0) - adjs.get(d, 0)
        unapplied += receipts.get(d, 0) - apps.get(d, 0) - refunds.get(d, 0) + receipt_adjustments.get(d, 0)
        running.append((d, ar, unapplied))
        if ar < 0 or unapplied < 0:
            add(f"{d}: A/R {format_cents(ar)} or unapplied {format_cents(unapplied)} went below zero")
        if d in closes and shown < limit:
            totals, counted = closes[d]
            if (totals.get("closing_ar"), totals.get("closing_unapplied")) != (ar, unapplied):
                add(f"day {d} was closed with A/R {format_cents(totals.get('closing_ar', 0))} / unapplied "
                    f"{format_cents(totals.get('closing_unapplied', 0))}, but its rows now give "
                    f"{format_cents(ar)} / {format_cents(unapplied)}")
                shown += 1
            dep = deposits.get(d, {})
            want = [dep.get(m, 0) for m in METHODS]
            if list(counted) != want:
                add(f"day {d}: counted deposit {counted} differs from receipts less refunds {want}")
                shown += 1
    for month, text in months.items():
        totals = json.loads(text)
        i = bisect.bisect_right(running, (month + "-99",))
        got = (running[i - 1][1], running[i - 1][2]) if i else (0, 0)
        if (totals.get("closing_ar"), totals.get("closing_unapplied")) != got:
            add(f"month {month} was closed with A/R {totals.get('closing_ar')} but its rows now give {got[0]}")
    open_ar = _first("SELECT COALESCE(SUM(balance), 0) FROM charge_balance")
    open_unapplied = _first("SELECT COALESCE(SUM(unapplied), 0) FROM receipt_balance")
    if open_ar != ar:
        add(f"A/R roll-forward ends at {format_cents(ar)} but open charge balances sum to {format_cents(open_ar)}")
    if open_unapplied != unapplied:
        add(f"unapplied roll-forward ends at {format_cents(unapplied)} but the receipts queue holds "
            f"{format_cents(open_unapplied)}")
    report.facts.update(ar=ar, unapplied=unapplied)
