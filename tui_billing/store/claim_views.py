"""What the claims screen (F12) reads beside :func:`store.claims.queue`: how many claims wait in
each queue, one claim's lines and events, the file a batched claim is in, and a held claim's
scrubber findings with where each is fixed. Reads only (the actions are in ``store/claims.py``),
plain dataclasses out; no Textual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import claims as cl
from . import validate as v
from .db import sql
from .errors import BillingError

__all__ = ["QUEUES", "ClaimDetail", "Finding", "Queue", "claim_detail", "claim_file", "encounter_claims", "findings",
           "queue_counts", "queue_rows"]


@dataclass(frozen=True)
class Queue:
    """One of the screen's lists: its key, its label, and the statuses it holds."""

    key: str
    label: str
    statuses: tuple[str, ...]
    follow_up: bool = False  # only claims in their status longer than the follow-up days


#: The claims screen's queues, in the order of their keys 1-6.
QUEUES = (
    Queue("1", "Ready", ("ready",)),
    Queue("2", "Held", ("held",)),
    Queue("3", "Sent", ("batched", "sent")),  # built or printed, then sent: waiting for the acknowledgement
    Queue("4", "Rejected", ("file_rejected", "rejected")),
    Queue("5", "Unpaid", ("accepted",), follow_up=True),  # the follow-up list: accepted and unpaid past N days
    Queue("6", "Denied", ("denied",)),
)


def _rows(query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return sql(query, params).fetchall()


def _cutoff(days: int, today: str | None) -> str:
    day = dt.date.fromisoformat(today or v.today().isoformat())
    return (day - dt.timedelta(days=days)).isoformat()


def queue_counts(follow_up_days: int, today: str | None = None) -> dict[str, int]:
    """Queue key -> how many claims are in it now (one indexed pass over the claims' statuses)."""
    by_status = dict(_rows("SELECT status, COUNT(*) FROM claim_status GROUP BY status"))
    late = _rows("SELECT COUNT(*) FROM claim_status WHERE status = 'accepted' AND since < ?",
                 (_cutoff(follow_up_days, today),))[0][0]
    return {q.key: late if q.follow_up else sum(by_status.get(s, 0) for s in q.statuses) for q in QUEUES}


def queue_rows(key: str, follow_up_days: int, *, today: str | None = None, limit: int = 2000) -> list[cl.QueueRow]:
    """The claims of queue ``key``, oldest in their status first."""
    q = next((q for q in QUEUES if q.key == key), None)
    if q is None:
        raise BillingError(f"no claims queue {key}", "queue")
    return cl.queue(q.statuses, follow_up_days if q.follow_up else None, today=today, limit=limit)


def claim_file(claim_row: int) -> tuple[int, str, str] | None:
    """(file id, kind, path) of the file a batched claim was built or printed into; None if not batched."""
    row = _rows("SELECT f.id, f.kind, f.path FROM claim_status s JOIN claim_event e ON e.id = s.event_id "
                "JOIN claim_file f ON f.id = e.file_id WHERE s.claim_id = ? AND s.status = 'batched'", (claim_row,))
    return (row[0][0], row[0][1], row[0][2]) if row else None


@dataclass(frozen=True)
class ClaimDetail:
    """One claim: whose, to whom, its lines and every status it has had."""

    id: int
    claim_id: str
    patient_id: int
    account: str
    patient: str
    payer: str
    provider: str
    encounter_id: int
    dos: str
    frequency: str
    total: int
    payer_claim_number: str
    replaces: str
    lines: tuple[tuple[int, str, str, int, str], ...]  # line no, code, modifiers, charge, control number (REF*6R)
    events: tuple[tuple[str, str, str, str, str], ...]  # on date, status, reason (and payer's claim no.), operator, file


def claim_detail(claim_row: int) -> ClaimDetail:
    head = _rows(
        "SELECT k.id, k.claim_id, k.patient_id, p.account, p.last_name || ', ' || p.first_name, y.code, v.code, "
        "k.encounter_id, k.dos, k.frequency, k.total, k.payer_claim_number, COALESCE(r.claim_id, '') "
        "FROM claim k JOIN patient p ON p.id = k.patient_id JOIN payer y ON y.id = k.payer_id "
        "JOIN encounter n ON n.id = k.encounter_id JOIN provider v ON v.id = n.provider_id "
        "LEFT JOIN claim r ON r.id = k.replaces_claim_id WHERE k.id = ?", (claim_row,))
    if not head:
        raise BillingError(f"no claim row {claim_row}", "claim")
    lines = tuple((n, code, mods, amount, ctl) for n, code, mods, amount, ctl in _rows(
        "SELECT l.line_no, c.code, c.modifiers, l.charge, l.control_number FROM claim_line l "
        "JOIN charge c ON c.id = l.charge_id WHERE l.claim_id = ? ORDER BY l.line_no", (claim_row,)))
    events = tuple(
        (on, status, (f"{reason} " if reason else "") + (f"[payer's claim no. {pcn}]" if pcn else ""), who,
         f"{kind} {fid}" if fid else "")
        for on, status, reason, who, fid, kind, pcn in _rows(
            "SELECT e.on_date, e.status, e.reason, e.operator, e.file_id, COALESCE(f.kind, ''), e.payer_claim_number "
            "FROM claim_event e LEFT JOIN claim_file f ON f.id = e.file_id WHERE e.claim_id = ? ORDER BY e.id",
            (claim_row,)))
    (cid, number, pid, account, patient, payer, provider, encounter, dos, frequency, total, pcn, replaces) = head[0]
    return ClaimDetail(cid, number, pid, account, patient, payer, provider, encounter, dos, frequency, total, pcn,
                       replaces, lines, events)


@dataclass(frozen=True)
class Finding:
    """One scrubber finding on a held claim: the claim's field, what is wrong, where it is fixed
    (account, payer, practice, provider, charge, fee schedule, claim) and whether it only warns."""

    field: str
    message: str
    fix_at: str
    warning: bool


def findings(claim_row: int, today: str | None = None) -> list[Finding]:
    """The claim scrubbed again as its data reads now (what the clerk is about to fix)."""
    from ..claims.scrub import scrub  # the pure rules, loaded when first used (they read the code sets)
    claims = cl.load_claims([claim_row])
    if not claims:
        raise BillingError(f"no claim row {claim_row}", "claim")
    return [Finding(str(p.field), str(p.message), str(p.fix_at), bool(p.warning))
            for p in scrub(claims[0], today=today or v.today().isoformat())]


def encounter_claims(encounter_id: int) -> list[tuple[str, str, str, str, str]]:
    """(claim id, payer, frequency, status, since) of every claim made from an encounter, oldest first
    (the account's encounter detail shows where each line was billed)."""
    return [(r[0], r[1], r[2], r[3], r[4]) for r in _rows(
        "SELECT k.claim_id, y.code, k.frequency, s.status, s.since FROM claim k JOIN payer y ON y.id = k.payer_id "
        "JOIN claim_status s ON s.claim_id = k.id WHERE k.encounter_id = ? ORDER BY k.id", (encounter_id,))]
