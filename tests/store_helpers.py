"""Test helpers for the store: a seeded practice, a full dump, and independent invariant checks.

Everything here reads the raw rows with its own SQL and Python arithmetic, so the checks do not
trust the store's running balances, summaries or checker: they are what those are compared with.
Importable from any test module (pytest puts ``tests/`` on ``sys.path``): ``import store_helpers``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from tui_billing.store import database
from tui_billing.store import operations as ops
from tui_billing.store.migrations import POSTED_TABLES

#: The business day and clerk the conftest fixtures pin (a Monday).
TODAY = "2026-11-16"
OPERATOR = "tester"
METHODS = ("cash", "check", "card", "eft")
#: Valid NPIs (Luhn with the 80840 prefix) for seeded providers.
NPIS = ("1234567893", "1245319599", "1003000126")
#: The seeded fee schedule: code -> fee in cents.
FEES = {"99213": 10000, "99214": 15000, "85025": 2500, "36415": 1000}
DIAGNOSES = ("J06.9", "I10", "E11.9", "E78.5")


@dataclass
class Practice:
    """Ids of the seeded practice, for tests to post against."""

    providers: list[int] = field(default_factory=list)
    payers: list[int] = field(default_factory=list)
    #: patient ids: [primary coverage only, primary + secondary, self-pay (no coverage)]
    patients: list[int] = field(default_factory=list)
    fees: dict[str, int] = field(default_factory=lambda: dict(FEES))


def seed_practice() -> Practice:
    """A small practice: 2 providers, 2 payers, 3 patients, a fee schedule, the standard reasons."""
    p = Practice()
    ops.set_practice("Test Family Practice", npi=NPIS[2], tax_id="12-3456789")
    p.providers.append(ops.add_provider("SMI", "Smith, Anna", NPIS[0]))
    p.providers.append(ops.add_provider("JON", "Jones, Ben", NPIS[1]))
    p.payers.append(ops.add_payer("ACME", "Acme Health", "commercial", "ACM01"))
    p.payers.append(ops.add_payer("MCR", "Medicare Part B", "medicare", "MCR01"))
    p.patients.append(ops.add_patient("A001", "Doe", "Jane", "1980-02-03", "F",
                                      coverages=[ops.CoverageIn(p.payers[0], "M100", 1)]))
    p.patients.append(ops.add_patient("A002", "Roe", "Rick", "1950-07-08", "M",
                                      coverages=[ops.CoverageIn(p.payers[1], "M200", 1),
                                                 ops.CoverageIn(p.payers[0], "M201", 2)]))
    p.patients.append(ops.add_patient("A003", "Poe", "Edgar", "2001-12-24", "M"))
    for code, fee in FEES.items():
        ops.set_procedure(code, f"Office service {code}", fee)
    ops.seed_standard_reasons()
    return p


# --------------------------------------------------------------------------- dumps


def _rows(sql: str, params: tuple = ()) -> list[tuple]:
    return database.execute_sql(sql, params).fetchall()


def table_names() -> list[str]:
    return [r[0] for r in _rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                                "ORDER BY name")]


def dump_database() -> str:
    """Every row of every table (ordered by all columns), the schema and user_version, as one string.

    Two dumps are equal exactly when nothing in the database changed.
    """
    out = {"user_version": _rows("PRAGMA user_version")[0][0],
           "schema": _rows("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")}
    for name in table_names():
        if name == "tb_books_version":  # PostgreSQL's write lock and data version, bumped by every write (store/pg.py)
            continue
        ncols = len(_rows(f"PRAGMA table_info({name})"))
        order = ", ".join(str(i) for i in range(1, ncols + 1))
        out[name] = _rows(f"SELECT * FROM {name} ORDER BY {order}")
    return repr(out)


def table_rows(name: str) -> set[tuple]:
    return set(_rows(f"SELECT * FROM {name}"))


# --------------------------------------------------------------------------- independent figures


@dataclass
class Books:
    """Balances recomputed from the raw posted rows with plain Python."""

    charge_balance: dict[int, int]
    charge_payer: dict[int, int | None]
    unapplied: dict[int, int]
    #: posting date -> (charges, applications, adjustments, receipts, refunds, receipt adjustments)
    by_date: dict[str, list[int]]
    #: posting date -> method -> receipts less refunds
    deposit: dict[str, dict[str, int]]
    check_count: dict[str, int]

    def rollforward(self) -> list[tuple[str, int, int]]:
        """(date, closing A/R, closing unapplied) for every posting date with money rows."""
        ar = un = 0
        out = []
        for d in sorted(self.by_date):
            ch, ap, aj, rc, rf, ra = self.by_date[d]
            ar += ch - ap - aj
            un += rc - ap - rf + ra
            out.append((d, ar, un))
        return out

    def as_of(self, date: str) -> tuple[int, int]:
        ar = un = 0
        for d, a, u in self.rollforward():
            if d <= date:
                ar, un = a, u
        return ar, un


def compute_books() -> Books:
    charge_balance: dict[int, int] = {}
    charge_payer: dict[int, int | None] = {}
    by_date: dict[str, list[int]] = {}
    deposit: dict[str, dict[str, int]] = {}
    check_count: dict[str, int] = {}

    def bump(date: str, slot: int, amount: int) -> None:
        by_date.setdefault(date, [0, 0, 0, 0, 0, 0])[slot] += amount

    charges = _rows("SELECT id, amount, reverses_id, posting_date, payer_id FROM charge ORDER BY id")
    for cid, amount, rev, _date, payer in charges:
        if rev is None:
            charge_balance[cid] = amount
            charge_payer[cid] = payer
    for _cid, amount, rev, date, _payer in charges:
        if rev is not None:
            charge_balance[rev] += amount
        bump(date, 0, amount)
    for cid, amount, date in _rows("SELECT charge_id, amount, posting_date FROM application"):
        charge_balance[cid] -= amount
        bump(date, 1, amount)
    for cid, amount, date in _rows("SELECT charge_id, amount, posting_date FROM adjustment"):
        charge_balance[cid] -= amount
        bump(date, 2, amount)
    for cid, to_payer in _rows("SELECT charge_id, to_payer_id FROM transfer ORDER BY id"):
        charge_payer[cid] = to_payer

    unapplied: dict[int, int] = {}
    receipts = _rows("SELECT id, amount, reverses_id, posting_date, method FROM receipt ORDER BY id")
    for rid, amount, rev, _date, _method in receipts:
        if rev is None:
            unapplied[rid] = amount
    for _rid, amount, rev, date, method in receipts:
        if rev is not None:
            unapplied[rev] += amount
        bump(date, 3, amount)
        deposit.setdefault(date, dict.fromkeys(METHODS, 0))[method] += amount
        if method == "check":
            check_count[date] = check_count.get(date, 0) + (1 if rev is None else -1)
    for rid, amount in _rows("SELECT receipt_id, amount FROM application"):
        unapplied[rid] -= amount
    for rid, amount, date, method in _rows("SELECT receipt_id, amount, posting_date, method FROM refund"):
        unapplied[rid] -= amount
        bump(date, 4, amount)
        deposit.setdefault(date, dict.fromkeys(METHODS, 0))[method] -= amount
    # an 835's provider-level adjustments and a reversal's recoupments (store/era.py): credit, not A/R
    for rid, amount, date in _rows("SELECT receipt_id, amount, posting_date FROM receipt_adjustment"):
        unapplied[rid] += amount
        bump(date, 5, amount)
    return Books(charge_balance, charge_payer, unapplied, by_date, deposit, check_count)


def audit_chain_problems() -> list[str]:
    """Recompute the audit hash chain with hashlib (independently of store.audit)."""
    problems = []
    prev = "0" * 64
    for eid, at, user, action, entity, entity_id, detail, prev_hash, digest in _rows(
        "SELECT id, at, user, action, entity, entity_id, detail, prev_hash, hash FROM audit_event ORDER BY id"
    ):
        payload = "\x1f".join((prev, at, user, action, entity, "" if entity_id is None else str(entity_id), detail))
        if prev_hash != prev or hashlib.sha256(payload.encode()).hexdigest() != digest:
            problems.append(f"audit event {eid} breaks the chain")
        json.loads(detail)  # every detail is JSON
        prev = digest
    return problems


def invariant_problems() -> list[str]:
    """Every invariant of DESIGN.md, checked from the raw rows. Empty when the books are whole."""
    from tui_billing.store.summary import day_summary

    problems = []
    books = compute_books()
    for cid, bal in books.charge_balance.items():
        if bal < 0:
            problems.append(f"charge {cid} balance {bal} < 0")
    cached = dict(_rows("SELECT charge_id, balance FROM charge_balance"))
    if cached != books.charge_balance:
        problems.append(f"charge_balance table {cached} != recomputed {books.charge_balance}")
    cached_payer = dict(_rows("SELECT charge_id, payer_id FROM charge_balance"))
    if cached_payer != books.charge_payer:
        problems.append(f"responsible payers {cached_payer} != from transfers {books.charge_payer}")
    for rid, un in books.unapplied.items():
        if un < 0:
            problems.append(f"receipt {rid} over-applied: unapplied {un}")
    cached_un = dict(_rows("SELECT receipt_id, unapplied FROM receipt_balance"))
    if cached_un != books.unapplied:
        problems.append(f"receipt_balance table {cached_un} != recomputed {books.unapplied}")

    roll = books.rollforward()
    prev_ar = prev_un = 0
    for d, ar, un in roll:
        s = day_summary(d)
        if (s.opening_ar, s.closing_ar, s.opening_unapplied, s.closing_unapplied) != (prev_ar, ar, prev_un, un):
            problems.append(f"{d}: summary A/R {s.opening_ar}->{s.closing_ar} unapplied {s.opening_unapplied}->"
                            f"{s.closing_unapplied}, rows give {prev_ar}->{ar} / {prev_un}->{un}")
        if s.proof_errors:
            problems.append(f"{d}: proof errors {s.proof_errors}")
        want = books.deposit.get(d, dict.fromkeys(METHODS, 0))
        if s.deposit != want:
            problems.append(f"{d}: summary deposit {s.deposit} != receipts - refunds {want}")
        prev_ar, prev_un = ar, un
    from tui_billing.store.summary import period_summary

    for month in sorted({d[:7] for d, _, _ in roll}):
        first = month + "-01"
        last = ((dt.date.fromisoformat(first).replace(day=28) + dt.timedelta(days=4)).replace(day=1)
                - dt.timedelta(days=1)).isoformat()
        day_before = (dt.date.fromisoformat(first) - dt.timedelta(days=1)).isoformat()
        s = period_summary(first, last)
        want = (*books.as_of(day_before), *books.as_of(last))
        got = (s.opening_ar, s.opening_unapplied, s.closing_ar, s.closing_unapplied)
        if got != want or s.proof_errors:
            problems.append(f"month {month}: summary {got} {s.proof_errors}, rows give {want}")
    final_ar, final_un = roll[-1][1:] if roll else (0, 0)
    if final_ar != sum(books.charge_balance.values()):
        problems.append(f"A/R roll-forward {final_ar} != sum of open balances {sum(books.charge_balance.values())}")
    if final_un != sum(books.unapplied.values()):
        problems.append(f"unapplied roll-forward {final_un} != sum of unapplied {sum(books.unapplied.values())}")

    for d, totals, cash, checks, nchecks, card, eft in _rows(
        "SELECT posting_date, totals, counted_cash, counted_checks, counted_check_count, counted_card, counted_eft "
        "FROM day_close"
    ):
        want = books.deposit.get(d, dict.fromkeys(METHODS, 0))
        if [cash, checks, card, eft] != [want[m] for m in METHODS] or nchecks != books.check_count.get(d, 0):
            problems.append(f"day {d} closed with counted {cash, checks, nchecks, card, eft} but deposit is {want}")
        t = json.loads(totals)
        if (t["closing_ar"], t["closing_unapplied"]) != books.as_of(d):
            problems.append(f"day {d} closed with {t['closing_ar']}/{t['closing_unapplied']}, rows give {books.as_of(d)}")
    for month, totals in _rows("SELECT month, totals FROM month_close"):
        t = json.loads(totals)
        last = (dt.date.fromisoformat(month + "-01").replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        end = (last - dt.timedelta(days=1)).isoformat()
        if (t["closing_ar"], t["closing_unapplied"]) != books.as_of(end):
            problems.append(f"month {month} closed with {t['closing_ar']}, rows give {books.as_of(end)}")
    problems.extend(audit_chain_problems())
    return problems


def posted_snapshot() -> dict[str, set[tuple]]:
    """Rows of every posted-history table (to prove later dumps only ever add rows)."""
    return {t: table_rows(t) for t in POSTED_TABLES}


DATED = ("batch", "encounter", "charge", "receipt", "distribution", "application", "adjustment", "transfer", "refund")


def period_rows(prefix: str) -> dict[str, list[tuple]]:
    """Rows posted on a date (``2026-11-02``) or in a month (``2026-11``), and its close rows."""
    out = {t: sorted(_rows(f"SELECT * FROM {t} WHERE posting_date LIKE ? || '%'", (prefix,)), key=repr)
           for t in DATED}
    out["day_close"] = _rows("SELECT * FROM day_close WHERE posting_date LIKE ? || '%'", (prefix,))
    if len(prefix) == 7:  # a closed day may still see its month close later
        out["month_close"] = _rows("SELECT * FROM month_close WHERE month = ?", (prefix,))
    return out
