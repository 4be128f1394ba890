"""Every posted row of an open day is accounted for by the audit event of the posting that made it.

A closed day refuses inserts (triggers), and an edit or delete of a posted row is refused on any
day; the one way left to change history without the program is to insert a row by hand into a
day that is still open. The close would then freeze that row into the totals. So `check`, and
each day's close, ties every entry of an open day (encounter, receipt, distribution, refund, and
their lines) to its audit event and compares the rows with what the event recorded.

Rows are read through the posting-date indexes and events through ``audit_event_entity``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .db import database

#: Tables whose rows carry a posting date (the entries and their lines).
POSTED = ("encounter", "charge", "receipt", "distribution", "application", "adjustment", "transfer", "refund")
#: A line table, the entry table it belongs to, and the column naming that entry.
LINES = (("charge", "encounter", "encounter_id"), ("application", "distribution", "distribution_id"),
         ("adjustment", "distribution", "distribution_id"), ("transfer", "distribution", "distribution_id"))

Detail = dict[str, Any]
Test = Callable[[Detail], "str | None"]


@dataclass
class Expected:
    """The audit event one entry needs: any of ``options`` ((entity, entity_id), action, test);
    a test returns None when the event's detail agrees with the rows, else what differs."""

    what: str
    options: list[tuple[tuple[str, int], str, Test]]


@dataclass
class OpenDayAudit:
    """What the entries of some open days need from the audit trail, and what is already wrong."""

    dates: list[str]
    expected: list[Expected] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def judge(self, limit: int) -> list[str]:
        found = _events({key for e in self.expected for key, _, _ in e.options})
        problems = list(self.problems)
        for e in self.expected:
            if len(problems) >= limit:
                break
            why = [test(json.loads(detail)) for key, action, test in e.options
                   for event_action, detail in found.get(key, ()) if event_action == action]
            if not why:
                problems.append(f"{e.what}: no audit event records it (entered outside the program?)")
            elif all(why):
                problems.append(f"{e.what} differs from its audit event: {why[0]}")
        return problems[:limit]


def unaccounted(dates: list[str] | None = None, *, limit: int = 10) -> list[str]:
    """Entries of ``dates`` (default: every open day) that their audit events do not account for."""
    return prepare(limit, dates).judge(limit)


def _events(keys: set[tuple[str, int]]) -> dict[tuple[str, int], list[tuple[str, str]]]:
    """(action, detail) of the events about each (entity, entity_id), by the entity index."""
    found: dict[tuple[str, int], list[tuple[str, str]]] = defaultdict(list)
    by_entity: dict[str, list[int]] = defaultdict(list)
    for entity, entity_id in keys:
        by_entity[entity].append(entity_id)
    for entity, ids in by_entity.items():
        for start in range(0, len(ids), 500):  # bound the statement's size
            chunk = ids[start:start + 500]
            for entity_id, action, detail in _rows(
                    f"SELECT entity_id, action, detail FROM audit_event WHERE entity = ? "
                    f"AND entity_id IN ({','.join('?' * len(chunk))})", (entity, *chunk)):
                found[(entity, entity_id)].append((action, detail))
    return found


def _rows(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(sql, params).fetchall()
    return rows


def _open_dates() -> list[str]:
    closed = {d for (d,) in _rows("SELECT posting_date FROM day_close")}
    months = {m for (m,) in _rows("SELECT month FROM month_close")}
    dates: set[str] = set()
    for table in POSTED:
        dates.update(d for (d,) in _rows(f"SELECT DISTINCT posting_date FROM {table}"))
    return sorted(d for d in dates if d not in closed and d[:7] not in months)


def _same(label: str, recorded: Any, stored: Any) -> str | None:
    return None if recorded == stored else f"{label} recorded {recorded}, stored {stored}"


def _reversal_is(new: int) -> Test:
    """The void event names ``new`` as its reversal."""
    def test(d: Detail) -> str | None:
        return _same("reversal", d.get("reversal_id"), new)
    return test


def _encounter_lines(mine: list[tuple[Any, ...]]) -> Test:
    def test(d: Detail) -> str | None:
        recorded = sorted((line["code"], line["amount"]) for line in d.get("lines", []))
        return _same("lines (code, amount)", recorded, mine) or _same("total", d.get("total"),
                                                                        sum(a for _, a in mine))
    return test


def _receipt_is(amount: int, method: str) -> Test:
    def test(d: Detail) -> str | None:
        return _same("amount", d.get("amount"), amount) or _same("method", d.get("method"), method)
    return test


def _distribution_is(mine: tuple[list[tuple[Any, ...]], ...], receipt_id: int | None) -> Test:
    def test(d: Detail) -> str | None:
        recorded = (sorted(tuple(x) for x in d.get("applications", [])),
                    sorted(tuple(x) for x in d.get("adjustments", [])),
                    sorted((*x[:3], x[3] if len(x) > 3 else None) for x in d.get("transfers", [])))
        return _same("receipt", d.get("receipt_id"), receipt_id) or _same(
            "lines (applications, adjustments, transfers)", recorded, mine)
    return test


def _listed_in_receipt_void(did: int) -> Test:
    def test(d: Detail) -> str | None:
        return None if did in d.get("distribution_reversals", [did]) \
            else f"distribution reversals recorded {d['distribution_reversals']}"
    return test


def _refund_is(amount: int, method: str, receipt_id: int) -> Test:
    def test(d: Detail) -> str | None:
        return _same("amount", d.get("amount"), amount) or _same("method", d.get("method"), method) \
            or _same("receipt", d.get("receipt_id"), receipt_id)
    return test


def _receipt_adjustment_is(amount: int, receipt_id: int) -> Test:
    def test(d: Detail) -> str | None:
        return _same("amount", d.get("amount"), amount) or _same("receipt", d.get("receipt_id"), receipt_id)
    return test


def prepare(limit: int, dates: list[str] | None = None) -> OpenDayAudit:
    """What every entry of ``dates`` (default: every open day) needs from the audit trail."""
    plan = OpenDayAudit(_open_dates() if dates is None else sorted(dates))
    if not plan.dates:
        return plan
    marks = ",".join("?" * len(plan.dates))
    days = tuple(plan.dates)
    add = plan.expected.append

    # A line on an open day under an entry of another day was not made by any posting.
    for line, entry, column in LINES:
        for lid, eid in _rows(f"SELECT x.id, x.{column} FROM {line} x JOIN {entry} e ON e.id = x.{column} "
                              f"WHERE x.posting_date IN ({marks}) AND e.posting_date <> x.posting_date LIMIT ?",
                              (*days, limit)):
            plan.problems.append(f"{line} {lid} is on an open day but belongs to {entry} {eid} of another day "
                                 "(entered outside the program?)")

    def lines_of(sql: str, ids: set[int]) -> dict[int, list[tuple[Any, ...]]]:
        out: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        if ids:
            for owner, *rest in _rows(sql.format(ids=",".join(map(str, sorted(ids))))):
                out[owner].append(tuple(rest))
        return out

    # Encounters: their charges against the lines the posting recorded.
    encounters = _rows(f"SELECT id, reverses_id FROM encounter WHERE posting_date IN ({marks})", days)
    charges = lines_of("SELECT encounter_id, code, amount FROM charge WHERE encounter_id IN ({ids})",
                       {i for i, original in encounters if original is None})
    for eid, original in encounters:
        if original is None:
            add(Expected(f"encounter {eid}", [(("encounter", eid), "post_encounter",
                                               _encounter_lines(sorted(charges.get(eid, []))))]))
        else:  # each reversing row mirrors its original (run_check's own test); the event names the pair
            add(Expected(f"encounter {eid} (void of {original})", [(
                ("encounter", original), "void_encounter", _reversal_is(eid))]))

    # Receipts: the amount and method the deposit counts.
    for rid, original, amount, method in _rows(
            f"SELECT id, reverses_id, amount, method FROM receipt WHERE posting_date IN ({marks})", days):
        if original is None:
            add(Expected(f"receipt {rid}", [(("receipt", rid), "record_receipt", _receipt_is(amount, method))]))
        else:
            add(Expected(f"receipt {rid} (void of {original})", [(
                ("receipt", original), "void_receipt", _reversal_is(rid))]))

    # Distributions: applications, adjustments and transfers as the posting recorded them.
    dists = _rows(f"SELECT d.id, d.reverses_id, d.receipt_id, o.receipt_id FROM distribution d "
                  f"LEFT JOIN distribution o ON o.id = d.reverses_id WHERE d.posting_date IN ({marks})", days)
    ids = {i for i, original, *_ in dists if original is None}
    apps = lines_of("SELECT distribution_id, charge_id, amount FROM application WHERE distribution_id IN ({ids})", ids)
    adjs = lines_of("SELECT distribution_id, charge_id, reason_code, amount FROM adjustment "
                    "WHERE distribution_id IN ({ids})", ids)
    moves = lines_of("SELECT distribution_id, charge_id, from_payer_id, amount, to_payer_id FROM transfer "
                     "WHERE distribution_id IN ({ids})", ids)

    for did, original, receipt_id, original_receipt in dists:
        if original is None:
            mine = (sorted(apps.get(did, [])), sorted(adjs.get(did, [])), sorted(moves.get(did, [])))
            add(Expected(f"distribution {did}", [(("distribution", did), "distribute",
                                                  _distribution_is(mine, receipt_id))]))
        else:
            # voided on its own, or as part of voiding its receipt
            options: list[tuple[tuple[str, int], str, Test]] = [(
                ("distribution", original), "void_distribution", _reversal_is(did))]
            if original_receipt is not None:  # events before the reversals were listed name the receipt only
                options.append((("receipt", original_receipt), "void_receipt", _listed_in_receipt_void(did)))
            add(Expected(f"distribution {did} (void of {original})", options))

    # Refunds: money paid back out of a receipt.
    for fid, original, amount, method, receipt_id in _rows(
            f"SELECT id, reverses_id, amount, method, receipt_id FROM refund WHERE posting_date IN ({marks})", days):
        if original is None:
            add(Expected(f"refund {fid}", [(("refund", fid), "refund", _refund_is(amount, method, receipt_id))]))
        else:
            add(Expected(f"refund {fid} (void of {original})", [(
                ("refund", original), "void_refund", _reversal_is(fid))]))

    # Receipt adjustments (an 835's PLB, a reversal's recoupment): each posted with its own event.
    for jid, amount, receipt_id in _rows(
            f"SELECT id, amount, receipt_id FROM receipt_adjustment WHERE posting_date IN ({marks})", days):
        add(Expected(f"receipt adjustment {jid}", [(("receipt_adjustment", jid), "adjust_receipt",
                                                    _receipt_adjustment_is(amount, receipt_id))]))
    return plan

