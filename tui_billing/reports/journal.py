"""The books as a double-entry plain-text journal that hledger and ledger both read.

One balanced transaction per posted entry (a charge line, a receipt, a distribution, a refund,
and each of their reversing entries), on its posting date:

* charge:        assets:receivables:{payers:CODE | patients:ACCT}  /  income:fees:PROVIDER
* receipt:       assets:deposits:METHOD  /  liabilities:unapplied:{payers:CODE | patients:ACCT}
* distribution:  liabilities:unapplied:... / receivables (applied), income:adjustments:REASON /
                 receivables (adjusted), receivables:patients:ACCT / receivables:payers:CODE (transfers)
* refund:        liabilities:unapplied:...  /  assets:deposits:METHOD
* receipt adjustment (an 835's PLB; a reversal's recoupment):  liabilities:unapplied:payers:CODE /
                 income:interest (PLB L6), expenses:recoupments (WO), assets:forward-balances (FB),
                 assets:clearing:reversals (credit a reversal moves between two payments),
                 expenses:provider-adjustments:CODE (any other PLB reason)

After each closed day a transaction asserts the A/R and unapplied totals the day sheet shows.
Neither tool can assert a parent account's subtotal in a syntax the other reads, so every
transaction also carries unbalanced virtual postings to ``(control:receivables)`` and
``(control:unapplied)`` that mirror the change to those totals, and the assertions are on those
(``hledger bal --real`` / ``ledger bal --real`` leave them out).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import IO

from ..store.db import sql

CONTROL_AR = "(control:receivables)"
CONTROL_UNAPPLIED = "(control:unapplied)"
OPENING = "equity:opening balances"
#: The characters an account segment keeps as they are; "_" is the escape, so never kept.
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")


def _acct(text: str) -> str:
    """An account name segment, injectively: every other character (spaces, colons, comment
    characters, "_" itself) becomes "_" and two hex digits per UTF-8 byte, so patients ``AUD 1``,
    ``AUD_1`` and ``AUD/1`` stay three accounts (``AUD_201``, ``AUD_5f1``, ``AUD_2f1``)."""
    if text and all(ch in _KEPT for ch in text):
        return text
    return "".join(ch if ch in _KEPT else "".join(f"_{b:02x}" for b in ch.encode("utf-8")) for ch in text) or "_"


def _desc(text: str) -> str:
    """A transaction description with nothing that starts a comment or a note."""
    return re.sub(r"[;|\x00-\x1f\x7f]", " ", text).strip()


def amount(cents: int) -> str:
    """``$-12.34``: both tools read a sign after the symbol; no float ever touches it."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"${sign}{whole}.{rest:02d}"


class _Names:
    """Lookups for account names, loaded once (payers, providers) or by id on demand (patients)."""

    def __init__(self) -> None:
        q = sql
        # ORDER BY id: the journal declares the accounts in this order, and without it PostgreSQL returns
        # rows as they lie on disk (an updated provider moves), not SQLite's rowid order
        self.payer = {i: _acct(c) for i, c in q("SELECT id, code FROM payer ORDER BY id").fetchall()}
        self.provider = {i: _acct(c) for i, c in q("SELECT id, code FROM provider ORDER BY id").fetchall()}
        self._patient: dict[int, str] = {}

    def patient(self, pid: int) -> str:
        name = self._patient.get(pid)
        if name is None:
            row = sql("SELECT account FROM patient WHERE id = ?", (pid,)).fetchone()
            name = self._patient[pid] = _acct(row[0] if row else str(pid))
        return name

    def receivable(self, patient_id: int, payer_id: int | None) -> str:
        if payer_id is None:
            return f"assets:receivables:patients:{self.patient(patient_id)}"
        return f"assets:receivables:payers:{self.payer.get(payer_id, payer_id)}"

    def unapplied(self, patient_id: int | None, payer_id: int | None) -> str:
        if payer_id is not None:
            return f"liabilities:unapplied:payers:{self.payer.get(payer_id, payer_id)}"
        assert patient_id is not None, "a receipt is a patient's or a payer's (the schema's CHECK)"
        return f"liabilities:unapplied:patients:{self.patient(patient_id)}"


class _Responsibility:
    """Who owes each charge as the journal is written (transfers change it)."""

    def __init__(self, start: str | None) -> None:
        self.start = start
        self.current: dict[int, tuple[int, int | None]] = {}

    def get(self, charge_id: int) -> tuple[int, int | None]:
        found = self.current.get(charge_id)
        if found is None:
            # first seen: who owed it just before the export starts
            row = sql("SELECT patient_id, payer_id FROM charge WHERE id = ?", (charge_id,)).fetchone()
            payer = row[1]
            if self.start:
                moved = sql(
                    "SELECT to_payer_id FROM transfer WHERE charge_id = ? AND posting_date < ? "
                    "ORDER BY posting_date DESC, id DESC LIMIT 1", (charge_id, self.start)).fetchone()
                if moved:
                    payer = moved[0]
            found = self.current[charge_id] = (row[0], payer)
        return found

    def set(self, charge_id: int, patient_id: int, payer_id: int | None) -> None:
        self.current[charge_id] = (patient_id, payer_id)


def _txn(date: str, description: str, postings: list[tuple[str, int]], code: str = "") -> str:
    lines = [f"{date} * {f'({code}) ' if code else ''}{_desc(description)}"]
    for account, cents in postings:
        lines.append(f"    {account:<50}  {amount(cents)}")
    return "\n".join(lines) + "\n\n"


def _net(postings: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Merge postings to the same account (virtual ones included), keeping first-seen order."""
    merged: dict[str, int] = {}
    for account, cents in postings:
        merged[account] = merged.get(account, 0) + cents
    return [(a, c) for a, c in merged.items() if c or a.startswith("(")]


def _day_transactions(date: str, names: _Names, resp: _Responsibility) -> list[tuple[tuple, str]]:
    q = lambda query: sql(query, (date,)).fetchall()  # noqa: E731
    out: list[tuple[tuple, str]] = []
    for cid, rev, pid, prov, payer, code, amt, acct, created in q(
        "SELECT c.id, c.reverses_id, c.patient_id, c.provider_id, c.payer_id, c.code, c.amount, p.account, e.created_at "
        "FROM charge c JOIN encounter e ON e.id = c.encounter_id JOIN patient p ON p.id = c.patient_id "
        "WHERE c.posting_date = ? ORDER BY c.id"):
        if rev is None:
            resp.set(cid, pid, payer)
            owner = (pid, payer)
            what = f"Charge {cid} {acct} {code}"
        else:
            owner = resp.get(rev)
            what = f"Void of charge {rev} {acct} {code}"
        postings: list[tuple[str, int]] = [
            (names.receivable(*owner), amt), (f"income:fees:{names.provider.get(prov, prov)}", -amt), (CONTROL_AR, amt)]
        out.append(((created, 0, cid), _txn(date, what, postings, f"C{cid}")))
    for rid, rev, pid, payer, method, ref, amt, created in q(
        "SELECT id, reverses_id, patient_id, payer_id, method, reference, amount, created_at FROM receipt "
        "WHERE posting_date = ? ORDER BY id"):
        src_payer = payer
        src = names.unapplied(pid, src_payer)
        what = (f"Void of receipt {rev}" if rev else f"Receipt {rid}") + f" {method}" + (f" {ref}" if ref else "")
        postings = [(f"assets:deposits:{method}", amt), (src, -amt), (CONTROL_UNAPPLIED, -amt)]
        out.append(((created, 1, rid), _txn(date, what, postings, f"R{rid}")))
    dists = q("SELECT d.id, d.reverses_id, d.receipt_id, d.created_at, r.patient_id, r.payer_id FROM distribution d "
              "LEFT JOIN receipt r ON r.id = d.receipt_id WHERE d.posting_date = ? ORDER BY d.id")
    if dists:
        lines: dict[int, dict[str, list]] = {}
        for did, cid, amt in q("SELECT distribution_id, charge_id, amount FROM application WHERE posting_date = ? "
                               "ORDER BY id"):
            lines.setdefault(did, {}).setdefault("app", []).append((cid, amt))
        for did, cid, reason, amt in q("SELECT distribution_id, charge_id, reason_code, amount FROM adjustment "
                                       "WHERE posting_date = ? ORDER BY id"):
            lines.setdefault(did, {}).setdefault("adj", []).append((cid, reason, amt))
        for did, cid, to_payer, amt in q("SELECT distribution_id, charge_id, to_payer_id, amount FROM transfer "
                                         "WHERE posting_date = ? ORDER BY id"):
            lines.setdefault(did, {}).setdefault("xfer", []).append((cid, to_payer, amt))
        for did, rev, rid, created, rpat, rpayer in dists:
            parts = lines.get(did, {})
            postings = []

            def transfers(parts: dict = parts, postings: list = postings) -> None:  # this distribution's
                for cid, to_payer, amt in parts.get("xfer", []):
                    pid, payer = resp.get(cid)
                    postings.append((names.receivable(pid, to_payer), amt))
                    postings.append((names.receivable(pid, payer), -amt))
                    resp.set(cid, pid, to_payer)

            if rev is not None:  # a reversal undoes the transfers before the money, as void() does
                transfers()
            for cid, amt in parts.get("app", []):
                postings.append((names.unapplied(rpat, rpayer), amt))
                postings.append((names.receivable(*resp.get(cid)), -amt))
                postings.append((CONTROL_UNAPPLIED, amt))
                postings.append((CONTROL_AR, -amt))
            for cid, reason, amt in parts.get("adj", []):
                postings.append((f"income:adjustments:{_acct(reason)}", amt))
                postings.append((names.receivable(*resp.get(cid)), -amt))
                postings.append((CONTROL_AR, -amt))
            if rev is None:
                transfers()
            what = (f"Void of distribution {rev}" if rev else f"Distribution {did}") + \
                (f" of receipt {rid}" if rid else "")
            out.append(((created, 2, did), _txn(date, what, _net(postings), f"D{did}")))
    for fid, rev, rid, method, amt, created, rpat, rpayer in q(
        "SELECT f.id, f.reverses_id, f.receipt_id, f.method, f.amount, f.created_at, r.patient_id, r.payer_id "
        "FROM refund f JOIN receipt r ON r.id = f.receipt_id WHERE f.posting_date = ? ORDER BY f.id"):
        what = (f"Void of refund {rev}" if rev else f"Refund {fid}") + f" of receipt {rid} {method}"
        postings = [(names.unapplied(rpat, rpayer), amt), (f"assets:deposits:{method}", -amt),
                    (CONTROL_UNAPPLIED, amt)]
        out.append(((created, 3, fid), _txn(date, what, postings, f"F{fid}")))
    for jid, rid, code, ref, amt, created, rpat, rpayer in q(
        "SELECT j.id, j.receipt_id, j.code, j.reference, j.amount, j.created_at, r.patient_id, r.payer_id "
        "FROM receipt_adjustment j JOIN receipt r ON r.id = j.receipt_id WHERE j.posting_date = ? ORDER BY j.id"):
        what = f"Receipt adjustment {jid} of receipt {rid} {code}" + (f" {ref}" if ref else "")
        postings = [(names.unapplied(rpat, rpayer), -amt), (receipt_adjustment_account(code), amt),
                    (CONTROL_UNAPPLIED, -amt)]
        out.append(((created, 4, jid), _txn(date, what, postings, f"J{jid}")))
    out.sort(key=lambda item: item[0])
    return out


#: Where an 835's receipt-level money goes (see store/era.py): by PLB reason, else one account per reason.
RECEIPT_ADJUSTMENT_ACCOUNTS = {"L6": "income:interest", "WO": "expenses:recoupments", "FB": "assets:forward-balances",
                               "REVERSAL": "assets:clearing:reversals"}


def receipt_adjustment_account(code: str) -> str:
    return RECEIPT_ADJUSTMENT_ACCOUNTS.get(code) or f"expenses:provider-adjustments:{_acct(code)}"


def _posting_dates(start: str | None, end: str) -> list[str]:
    parts = " UNION ".join(f"SELECT DISTINCT posting_date FROM {t} WHERE posting_date BETWEEN ?1 AND ?2"
                           for t in ("charge", "receipt", "distribution", "refund", "receipt_adjustment", "day_close"))
    return [r[0] for r in sql(f"SELECT posting_date FROM ({parts}) ORDER BY 1",
                                               (start or "0000-01-01", end)).fetchall()]


def _opening(start: str, names: _Names) -> str:
    """Balances carried in when the export starts after the first posting date."""
    from .queries import aging_figures

    before = (dt.date.fromisoformat(start) - dt.timedelta(days=1)).isoformat()
    postings: list[tuple[str, int]] = []
    ar = 0
    for pid, payer, *_, total in aging_figures(before, "patient", "service"):
        postings.append((names.receivable(pid, payer), total))
        ar += total
    unapplied = 0
    for pid, payer, left in sql(
        "SELECT r.patient_id, r.payer_id, r.amount "
        " + COALESCE((SELECT SUM(v.amount) FROM receipt v WHERE v.reverses_id = r.id AND v.posting_date <= ?1), 0)"
        " - COALESCE((SELECT SUM(a.amount) FROM application a WHERE a.receipt_id = r.id AND a.posting_date <= ?1), 0)"
        " - COALESCE((SELECT SUM(f.amount) FROM refund f WHERE f.receipt_id = r.id AND f.posting_date <= ?1), 0)"
        " + COALESCE((SELECT SUM(j.amount) FROM receipt_adjustment j WHERE j.receipt_id = r.id"
        " AND j.posting_date <= ?1), 0) "
        "FROM receipt r WHERE r.reverses_id IS NULL AND r.posting_date <= ?1", (before,)).fetchall():
        if left:
            postings.append((names.unapplied(pid, payer), -left))
            unapplied += left
    postings = _net(postings)
    postings.append((OPENING, -(ar - unapplied)))
    postings += [(CONTROL_AR, ar), (CONTROL_UNAPPLIED, -unapplied)]
    return _txn(before, f"Opening balances at the end of {before}", postings)


def _progress(dates: list[str]):
    """The posting dates, with a progress bar on stderr when it is a terminal and the books are long."""
    import sys

    if len(dates) < 30 or not sys.stderr.isatty():
        yield from dates
        return
    import click

    with click.progressbar(dates, label="writing the journal", file=sys.stderr) as bar:
        yield from bar


def _declarations(names: _Names, end: str) -> str:
    """The commodity and every account the journal can post to, declared before any transaction
    (``hledger check --strict``, ``ledger --pedantic``): every payer and provider, every reason,
    every payment method used, and each patient with a charge or a receipt by ``end``."""
    accounts = [OPENING, CONTROL_AR.strip("()"), CONTROL_UNAPPLIED.strip("()")]
    for code in names.payer.values():
        accounts += [f"assets:receivables:payers:{code}", f"liabilities:unapplied:payers:{code}"]
    accounts += [f"income:fees:{code}" for code in names.provider.values()]
    accounts += [f"income:adjustments:{_acct(r[0])}" for r in sql(
        "SELECT code FROM adjustment_reason UNION SELECT DISTINCT reason_code FROM adjustment ORDER BY 1").fetchall()]
    accounts += [receipt_adjustment_account(r[0]) for r in sql(
        "SELECT DISTINCT code FROM receipt_adjustment WHERE posting_date <= ? ORDER BY 1", (end,)).fetchall()]
    accounts += [f"assets:deposits:{m[0]}" for m in sql(
        "SELECT DISTINCT method FROM receipt WHERE posting_date <= ?1 UNION "
        "SELECT DISTINCT method FROM refund WHERE posting_date <= ?1 ORDER BY 1", (end,)).fetchall()]
    for (account,) in sql(
        "SELECT account FROM patient WHERE id IN (SELECT patient_id FROM charge WHERE posting_date <= ?1 "
        "UNION SELECT patient_id FROM receipt WHERE patient_id IS NOT NULL AND posting_date <= ?1) ORDER BY id",
        (end,)).fetchall():
        code = _acct(account)
        accounts += [f"assets:receivables:patients:{code}", f"liabilities:unapplied:patients:{code}"]
    lines = ["commodity $", "    format $1,000.00"] + [f"account {a}" for a in dict.fromkeys(accounts)]
    return "\n".join(lines) + "\n\n"


def write_journal(out: IO[str], start: str | None, end: str) -> int:
    """Write the journal for posting dates start..end; returns the number of transactions."""
    names = _Names()
    resp = _Responsibility(start)
    practice = sql("SELECT name FROM practice WHERE id = 1").fetchone()
    out.write(f"; tui-billing journal{' for ' + _desc(practice[0]) if practice else ''}: "
              f"posting dates {start or 'beginning'} to {end}\n")
    out.write("; (control:...) virtual postings mirror the A/R and unapplied totals for the day-close assertions;\n"
              "; leave them out with --real\n\n")
    out.write(_declarations(names, end))
    count = 0
    first = _posting_dates(None, end)
    if start and first and first[0] < start:
        out.write(_opening(start, names))
        count += 1
    closes = {d: json.loads(t) for d, t in sql(
        "SELECT posting_date, totals FROM day_close WHERE posting_date BETWEEN ? AND ?",
        (start or "0000-01-01", end)).fetchall()}
    dates = _posting_dates(start, end)
    for date in _progress(dates):
        for _, text in _day_transactions(date, names, resp):
            out.write(text)
            count += 1
        totals = closes.get(date)
        if totals:
            out.write(_txn(date, f"Day {date} closed: A/R and unapplied credit as on the day sheet", []).rstrip("\n")
                      + f"\n    {CONTROL_AR:<50}  $0.00 = {amount(totals['closing_ar'])}"
                      + f"\n    {CONTROL_UNAPPLIED:<50}  $0.00 = {amount(-totals['closing_unapplied'])}\n\n")
            count += 1
    return count
