"""Claims in the books: made from posted charges, scrubbed, batched into 837P files, followed.

A claim is an encounter's lines owed by one payer (``charge_balance.payer_id``: the payer the
charge's balance sits with now, so a transfer to the secondary makes a secondary claim). It is
never edited: a correction is a new claim (frequency 7 with the payer's claim number, or 8 to void
it) and the old one gets a ``replaced`` or ``voided`` event. A claim's status is its latest
``claim_event``; ``claim_status`` keeps that latest one for the queues (a trigger, schema 12).

Every write is one ``BEGIN IMMEDIATE`` transaction (:func:`db.write`) with one audit event. An
837P file's ISA13/GS06 control numbers come from the receiver's counter in the same transaction
that records the file and the claims' ``batched`` events, and the file is written (0600, never
over an existing one) before that transaction commits; if the commit fails the file is removed,
so a control number on disk is always one the books know. The frozen records the scrubber and
the writers read (:mod:`tui_billing.claims.model`) are built by :func:`load_claims`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..claims import model as m
from . import audit, roles
from . import validate as v
from .db import database, executemany, inserted_id, sql, write
from .errors import BillingError
from .migrations import CLAIM_STATUSES

__all__ = [
    "CLAIM_STATUSES", "LIVE", "BatchFile", "BatchResult", "QueueRow", "ScrubResult", "build_batch", "claim_row_ids",
    "correct", "create_claims", "load_claims", "mark_sent", "queue", "receiver_of", "record_events",
    "scrub_claims", "set_receiver", "unbilled", "void",
]

#: Statuses after which a claim no longer holds its lines for its payer.
CLOSED = ("voided", "replaced")
#: Every status but those: a charge on such a claim is billed to that payer.
LIVE = tuple(s for s in CLAIM_STATUSES if s not in CLOSED)
#: Statuses of a claim the payer has taken in: correcting or voiding it needs a frequency 7/8 claim.
PAYER_HAS = ("accepted", "paid", "partly_paid", "denied", "forwarded")
#: Statuses of a claim in a file whose answer has not come: it is neither corrected nor voided until it does.
IN_FLIGHT = ("batched", "sent")
#: X12 ISA13 and GS06 run 1..999,999,999.
MAX_CONTROL = 999_999_999
_CHUNK = 900  # ids per IN (...) list: under SQLite's default variable limit


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _today() -> str:
    return v.today().isoformat()


def _rows(query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return sql(query, params).fetchall()


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _in(ids: Sequence[Any]) -> str:
    return ",".join("?" * len(ids))


def _rows_in(query: str, ids: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``query`` holds one ``{ids}`` placeholder; run it over ``ids`` in chunks."""
    out: list[tuple[Any, ...]] = []
    for part in _chunks(list(ids)):
        out += _rows(query.format(ids=_in(part)), part)
    return out


def claim_number(row_id: int) -> str:
    """Our claim id (CLM01): short enough for every payer (17 characters), unique as the row is."""
    return f"TB{row_id:08d}"


# --------------------------------------------------------------------------- the scrubber and writer


def _scrubber() -> tuple[Callable[..., list[Any]], Callable[[list[Any]], bool]]:
    """The scrubber (tui_billing/claims/scrub.py), imported when first used: it loads the code sets."""
    from ..claims import scrub

    return scrub.scrub, scrub.ready


def describe(problem: object) -> str:
    """One line for a scrubber problem: the field, what is wrong, and where to fix it."""
    message = getattr(problem, "message", None)
    if message is None:
        return str(problem).replace("\n", " ").strip()
    where = getattr(problem, "fix_at", "")
    text = f"{getattr(problem, 'field', '')}: {message}" + (f" (fix on {where})" if where else "")
    return ("warning: " if getattr(problem, "warning", False) else "") + text.replace("\n", " ").strip()


# --------------------------------------------------------------------------- making claims


@dataclass(frozen=True)
class ScrubResult:
    """What a scrub run did: claims made, and every claim now ready or held (with its reasons)."""

    created: tuple[int, ...] = ()
    ready: tuple[int, ...] = ()
    held: dict[int, str] = field(default_factory=dict)


def unbilled_sql(where: str = "") -> str:
    """Open charges owed by a payer and on no live claim for that payer (the unbilled backlog)."""
    return (
        "SELECT c.id, c.encounter_id, cb.payer_id, c.amount, c.patient_id, c.dos FROM charge_balance cb "
        "JOIN charge c ON c.id = cb.charge_id "
        "WHERE cb.payer_id IS NOT NULL AND cb.balance > 0 " + where +
        " AND NOT EXISTS (SELECT 1 FROM claim_line l JOIN claim k ON k.id = l.claim_id "
        "JOIN claim_status s ON s.claim_id = k.id WHERE l.charge_id = c.id AND k.payer_id = cb.payer_id "
        f"AND s.status NOT IN ({','.join(repr(s) for s in CLOSED)}))"
    )


def unbilled(posted_on: str | Sequence[str] | None = None) -> list[tuple[int, int, int, int, int, str]]:
    """(charge, encounter, payer, amount, patient, dos) of every charge waiting for a claim
    (``posted_on``: only those posted on that day, or on those days)."""
    if posted_on:
        days = [posted_on] if isinstance(posted_on, str) else list(posted_on)
        return _rows(unbilled_sql(f"AND c.posting_date IN ({_in(days)})"), days)
    return _rows(unbilled_sql())


def _coverages_for(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], list[tuple[Any, ...]]]:
    """(patient, payer) -> the patient's coverages with that payer (id, priority, effective, end)."""
    patients = sorted({p for p, _ in pairs})
    out: dict[tuple[int, int], list[tuple[Any, ...]]] = defaultdict(list)
    for cid, patient, payer, priority, effective, end in _rows_in(
            "SELECT id, patient_id, payer_id, priority, effective, end_date FROM coverage WHERE patient_id IN ({ids}) "
            "ORDER BY priority, id", patients):
        if (patient, payer) in pairs:
            out[(patient, payer)].append((cid, priority, effective, end))
    return out


def _coverage_on(options: list[tuple[Any, ...]], dos: str) -> tuple[int | None, str]:
    """The coverage in force on ``dos`` (else the closest one, for the scrubber to name) and SBR01."""
    for cid, priority, effective, end in options:
        if (not effective or effective <= dos) and (not end or end >= dos):
            return cid, m.RESPONSIBILITY.get(priority, "P")
    if options:
        cid, priority, *_ = options[0]
        return cid, m.RESPONSIBILITY.get(priority, "P")
    return None, "P"


def _insert_claims(groups: dict[tuple[int, int], list[tuple[int, int, str]]], *, user: str, now: str, day: str,
                   frequency: str = m.ORIGINAL, replaces: int | None = None, payer_claim_number: str = "") -> list[int]:
    """Write one claim per (encounter, payer) with its lines (charge, amount, dos); returns the row ids."""
    if not groups:
        return []
    encounters = sorted({e for e, _ in groups})
    patient_of = dict(_rows_in("SELECT id, patient_id FROM encounter WHERE id IN ({ids})", encounters))
    covers = _coverages_for({(patient_of[e], p) for e, p in groups})
    next_id = int(_rows("SELECT COALESCE(MAX(id), 0) FROM claim")[0][0])
    claims, lines = [], []
    for (encounter, payer), charges in sorted(groups.items()):
        next_id += 1
        patient = patient_of[encounter]
        dos = min(d for _, _, d in charges)
        coverage, responsibility = _coverage_on(covers.get((patient, payer), []), dos)
        number = claim_number(next_id)
        charges = sorted(charges)
        claims.append((next_id, number, patient, coverage, payer, encounter, dos, frequency, replaces,
                       payer_claim_number, responsibility, sum(a for _, a, _ in charges), day, now, user))
        lines += [(next_id, n, charge, f"{number}-{n}", amount) for n, (charge, amount, _) in enumerate(charges, 1)]
    executemany(
        "INSERT INTO claim (id, claim_id, patient_id, coverage_id, payer_id, encounter_id, dos, frequency, "
        "replaces_claim_id, payer_claim_number, responsibility, total, created_on, created_at, operator) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", claims)
    executemany("INSERT INTO claim_line (claim_id, line_no, charge_id, control_number, charge) VALUES (?,?,?,?,?)",
                lines)
    return [c[0] for c in claims]


def _events(rows: Iterable[tuple[int, str, str, int | None, str]], *, user: str, now: str, day: str) -> int:
    """Insert (claim, status, reason, file, payer claim number) events; returns how many."""
    batch = [(claim, status, reason, pcn, file_id, now, day, user) for claim, status, reason, file_id, pcn in rows]
    for _, status, *_ in batch:
        if status not in CLAIM_STATUSES:
            raise BillingError(f"claim status must be one of {', '.join(CLAIM_STATUSES)}", "status")
    executemany(
        "INSERT INTO claim_event (claim_id, status, reason, payer_claim_number, file_id, at, on_date, operator) "
        "VALUES (?,?,?,?,?,?,?,?)", batch)
    return len(batch)


def _duplicates(claims: Sequence[m.Claim]) -> dict[int, str]:
    """Claim row -> the id of another live original claim for the same patient, payer, DOS and lines."""
    def signature(lines: Iterable[tuple[str, str, int]]) -> tuple[tuple[str, str, int], ...]:
        return tuple(sorted(lines))

    ids = [c.id for c in claims if c.frequency == m.ORIGINAL]
    if not ids:
        return {}
    # other live original claims of the same patients and payers on the same dates of service
    others = _rows_in(
        "SELECT o.id, o.claim_id, o.patient_id, o.payer_id, o.dos FROM claim k JOIN claim o "
        "ON o.patient_id = k.patient_id AND o.payer_id = k.payer_id AND o.dos = k.dos AND o.id <> k.id "
        "AND o.frequency = '1' JOIN claim_status s ON s.claim_id = o.id "
        f"AND s.status NOT IN ({','.join(repr(s) for s in CLOSED)}) WHERE k.id IN ({{ids}})", ids)
    if not others:
        return {}
    other_ids = sorted({o[0] for o in others})
    other_lines: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for claim, code, mods, amount in _rows_in(
            "SELECT l.claim_id, c.code, c.modifiers, l.charge FROM claim_line l JOIN charge c ON c.id = l.charge_id "
            "WHERE l.claim_id IN ({ids})", other_ids):
        other_lines[claim].append((code, mods, amount))
    keyed: dict[tuple[int, int, str], list[tuple[int, str]]] = defaultdict(list)
    for oid, number, patient, payer, dos in others:
        keyed[(patient, payer, dos)].append((oid, number))
    mine = {k: (p, pay, d) for k, p, pay, d in _rows_in(
        "SELECT id, patient_id, payer_id, dos FROM claim WHERE id IN ({ids})", ids)}
    out = {}
    for claim in claims:
        if claim.id not in mine:
            continue
        sig = signature((ln.code, ",".join(ln.modifiers), ln.charge) for ln in claim.lines)
        for oid, number in keyed.get(mine[claim.id], []):
            # the older of two twins is the original; the newer one is the duplicate
            if oid < claim.id and signature(other_lines[oid]) == sig:
                out[claim.id] = number
                break
    return out


def _scrub_events(claims: Sequence[m.Claim], current: dict[int, tuple[str, str]], today: str
                  ) -> tuple[list[tuple[int, str, str, int | None, str]], list[int], dict[int, str]]:
    """Scrub each claim; an event for each whose verdict differs from its status (``current``: status, reason)."""
    scrub, ready = _scrubber()
    twins = _duplicates(claims)
    events: list[tuple[int, str, str, int | None, str]] = []
    good: list[int] = []
    held: dict[int, str] = {}
    for claim in claims:
        problems = scrub(claim, today=today, duplicate_of=twins.get(claim.id, ""))
        reason = "; ".join(describe(p) for p in problems)
        status = "ready" if ready(problems) else "held"
        if status == "ready":
            good.append(claim.id)
        else:
            held[claim.id] = reason
        if current.get(claim.id) != (status, reason):
            events.append((claim.id, status, reason, None, ""))
    return events, good, held


def _statuses(ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Claim row -> (status, reason of its latest event)."""
    return {cid: (status, reason) for cid, status, reason in _rows_in(
        "SELECT s.claim_id, s.status, e.reason FROM claim_status s JOIN claim_event e ON e.id = s.event_id "
        "WHERE s.claim_id IN ({ids})", ids)}


@write
def create_claims(*, posted_on: str | Sequence[str] | None = None, operator: str | None = None) -> ScrubResult:
    """Make a claim for every encounter's lines owed by a payer and not yet on a live claim for it
    (``posted_on``: only charges posted that day), and scrub each: ``ready``, or ``held`` with reasons."""
    user = v.operator(operator)
    roles.require("claims", user)
    groups: dict[tuple[int, int], list[tuple[int, int, str]]] = defaultdict(list)
    for charge, encounter, payer, amount, _patient, dos in unbilled(posted_on):
        groups[(encounter, payer)].append((charge, amount, dos))
    now, day = _now(), _today()
    ids = _insert_claims(groups, user=user, now=now, day=day)
    if not ids:
        return ScrubResult()
    events, good, held = _scrub_events(load_claims(ids), {}, day)
    _events(events, user=user, now=now, day=day)
    audit.record(now, user, "create_claims", "claim", ids[0], {
        "claims": len(ids), "first": claim_number(ids[0]), "last": claim_number(ids[-1]), "held": len(held),
        "posted_on": posted_on if posted_on is None or isinstance(posted_on, str) else sorted(posted_on)})
    return ScrubResult(tuple(ids), tuple(good), held)


@write
def rescrub_held(*, operator: str | None = None) -> ScrubResult:
    """Scrub every held claim again (a clerk fixed the patient, the payer or the practice): ready ones move on."""
    user = v.operator(operator)
    roles.require("claims", user)
    ids = [r[0] for r in _rows("SELECT claim_id FROM claim_status WHERE status = 'held' ORDER BY claim_id")]
    if not ids:
        return ScrubResult()
    now, day = _now(), _today()
    events, good, held = _scrub_events(load_claims(ids), _statuses(ids), day)
    if events:
        _events(events, user=user, now=now, day=day)
        audit.record(now, user, "rescrub_claims", "claim", None, {
            "scrubbed": len(ids), "now_ready": len(good), "held": len(held)})
    return ScrubResult((), tuple(good), held)


def scrub_claims(*, posted_on: str | Sequence[str] | None = None, operator: str | None = None) -> ScrubResult:
    """`claims scrub`: held claims scrubbed again, then new claims for what is unbilled."""
    again = rescrub_held(operator=operator)
    new = create_claims(posted_on=posted_on, operator=operator)
    held = {**again.held, **new.held}
    return ScrubResult(new.created, again.ready + new.ready, held)


@write
def record_events(events: Sequence[tuple[int, str, str]], *, file_id: int | None = None,
                  payer_claim_numbers: dict[int, str] | None = None, operator: str | None = None) -> int:
    """Append (claim row, status, reason) events, e.g. from an acknowledgement or a remittance; returns how many.

    ``payer_claim_numbers``: claim row -> the payer's claim number (277CA REF*1K, 835 CLP07), kept
    for a later correction."""
    user = v.operator(operator)
    roles.require("claims", user)
    ids = sorted({e[0] for e in events})
    known = {r[0] for r in _rows_in("SELECT id FROM claim WHERE id IN ({ids})", ids)}
    missing = [i for i in ids if i not in known]
    if missing:
        raise BillingError(f"no claim row {missing[0]}", "claim")
    numbers = payer_claim_numbers or {}
    now, day = _now(), _today()
    count = _events(((c, s, r, file_id, numbers.get(c, "")) for c, s, r in events), user=user, now=now, day=day)
    audit.record(now, user, "claim_events", "claim_file" if file_id else "claim", file_id,
                 {"events": count, "statuses": sorted({s for _, s, _ in events})})
    return count


def claim_row_ids(claim_ids: Iterable[str]) -> dict[str, int]:
    """Our claim ids (CLM01) -> claim rows (what an acknowledgement or an 835 names)."""
    wanted = sorted(set(claim_ids))
    return {number: rid for rid, number in _rows_in("SELECT id, claim_id FROM claim WHERE claim_id IN ({ids})", wanted)}


# --------------------------------------------------------------------------- the frozen records


def _dotted(code: str) -> str:
    """ICD-10-CM as the claim records keep it (the books store it without the dot)."""
    code = code.replace(".", "")
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


_NOT_DIGITS = re.compile(r"\D+")


def _zip(value: str) -> str:
    """Digits only (ZIP+4 and EIN as the claim records keep them)."""
    return _NOT_DIGITS.sub("", value or "")


@lru_cache(maxsize=4096)
def _parts(text: str) -> tuple[str, ...]:
    """'25,59' -> ('25', '59'): modifiers and pointers as the charge keeps them (a few shapes, many lines)."""
    return tuple(x for x in text.split(",") if x)


@lru_cache(maxsize=1024)
def _pointers(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in _parts(text))


def _address(street: str, city: str, state: str, zip_code: str, street2: str = "") -> m.Address:
    return m.Address(street or "", city or "", state or "", _zip(zip_code), street2 or "")


def _sex(value: str) -> str:
    return value if value in ("F", "M") else "U"


def _split_name(full: str) -> tuple[str, str]:
    """A provider kept as 'Last, First' (or 'First Last') before names had their own columns."""
    if "," in full:
        last, first = full.split(",", 1)
        return last.strip(), first.strip()
    parts = full.split()
    return (parts[-1], " ".join(parts[:-1])) if len(parts) > 1 else (full.strip(), "")


class _AsOf:
    """Master data rows as the books had them on a day: the current row unless a version after
    that day exists, then the newest version on or before it (as ``account_queries.record_as_of``)."""

    def __init__(self, entity: str, rows: dict[int, dict[str, Any]], days: dict[int, str | None]) -> None:
        self.rows = rows
        self.past: dict[tuple[int, str], dict[str, Any]] = {}
        dated = sorted({i for i, d in days.items() if d})
        if not dated:
            return
        latest = dict(_rows_in("SELECT entity_id, MAX(on_date) FROM master_version WHERE entity = '" + entity +
                               "' AND entity_id IN ({ids}) GROUP BY entity_id", dated))
        for eid in dated:
            day = days[eid]
            assert day is not None
            if latest.get(eid, "") > day:
                found = _rows("SELECT data FROM master_version WHERE entity = ? AND entity_id = ? AND on_date <= ? "
                              "ORDER BY version DESC LIMIT 1", (entity, eid, day))
                if found:
                    self.past[(eid, day)] = json.loads(found[0][0])

    def get(self, eid: int, day: str | None) -> dict[str, Any]:
        if day and (eid, day) in self.past:
            return {**self.rows.get(eid, {}), **self.past[(eid, day)]}
        return self.rows[eid]


def _table(table: str, columns: Sequence[str], ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    wanted = sorted({i for i in ids if i is not None})
    return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in _rows_in(
        f"SELECT id, {', '.join(columns)} FROM {table} WHERE id IN ({{ids}})", wanted)}


_PATIENT = ("account", "last_name", "first_name", "middle_name", "dob", "sex", "address", "address2", "city",
            "state", "zip")
_COVERAGE = ("patient_id", "payer_id", "member_id", "group_no", "priority", "relationship", "subscriber_last",
             "subscriber_first", "subscriber_dob", "subscriber_sex", "subscriber_address", "subscriber_city",
             "subscriber_state", "subscriber_zip", "effective", "end_date", "assignment", "signature_on_file")
_PAYER = ("name", "edi_payer_id", "filing_code", "address", "city", "state", "zip", "receiver", "timely_filing_days")
_PROVIDER = ("name", "last_name", "first_name", "npi", "taxonomy")
_PRACTICE = ("name", "npi", "tax_id", "taxonomy", "street", "city", "state", "zip", "phone", "pay_to_street",
             "pay_to_city", "pay_to_state", "pay_to_zip", "submitter_id")


def load_claims(ids: Sequence[int]) -> list[m.Claim]:
    """The frozen records of these claim rows, in the order asked.

    A claim not yet batched reads the patient, coverage, payer, provider and practice as they are
    now (a held claim sees the clerk's fix); a batched one reads them as they were on the day its
    file was built, so it reads as it was sent."""
    ids = list(ids)
    heads = {r[0]: r for r in _rows_in(
        "SELECT k.id, k.claim_id, k.patient_id, k.coverage_id, k.payer_id, k.encounter_id, k.frequency, "
        "k.payer_claim_number, k.responsibility, e.provider_id, e.pos, "
        "(SELECT MIN(on_date) FROM claim_event b WHERE b.claim_id = k.id AND b.status = 'batched') "
        "FROM claim k JOIN encounter e ON e.id = k.encounter_id WHERE k.id IN ({ids})", ids)}
    missing = [i for i in ids if i not in heads]
    if missing:
        raise BillingError(f"no claim row {missing[0]}", "claim")
    lines: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in _rows_in(
            "SELECT l.claim_id, l.line_no, l.control_number, l.charge_id, c.code, c.modifiers, c.units, l.charge, "
            "c.dos, c.dx_pointers, c.pos FROM claim_line l JOIN charge c ON c.id = l.charge_id "
            "WHERE l.claim_id IN ({ids}) ORDER BY l.claim_id, l.line_no", ids):
        lines[row[0]].append(row[1:])
    diagnoses: dict[int, list[str]] = defaultdict(list)
    for encounter, code in _rows_in("SELECT encounter_id, code FROM encounter_diagnosis WHERE encounter_id IN ({ids}) "
                                    "ORDER BY encounter_id, seq", sorted({h[5] for h in heads.values()})):
        diagnoses[encounter].append(_dotted(code))

    def days(index: int) -> dict[int, str | None]:
        out: dict[int, str | None] = {}
        for h in heads.values():
            if h[index] is not None:
                out[h[index]] = min(filter(None, (out.get(h[index]), h[11])), default=None)
        return out

    patients = _AsOf("patient", _table("patient", _PATIENT, (h[2] for h in heads.values())), days(2))
    coverages = _AsOf("coverage", _table("coverage", _COVERAGE, (h[3] for h in heads.values())), days(3))
    payers = _AsOf("payer", _table("payer", _PAYER, (h[4] for h in heads.values())), days(4))
    providers = _AsOf("provider", _table("provider", _PROVIDER, (h[9] for h in heads.values())), days(9))
    practice_rows = _table("practice", _PRACTICE, [1])
    practice = _AsOf("practice", practice_rows, {1: min(filter(None, (h[11] for h in heads.values())), default=None)}
                     if practice_rows else {})
    earlier = _earlier_payers(heads, lines, coverages)
    made: dict[tuple[str, int, str | None], Any] = {}  # payer, practice and provider records, shared (frozen)
    out = []
    for cid in ids:
        (_, number, patient_id, coverage_id, payer_id, encounter, frequency, pcn, responsibility, provider_id, pos,
         batched) = heads[cid]
        pat = patients.get(patient_id, batched)
        person = m.Person(pat["last_name"], pat["first_name"], pat["dob"], _sex(pat["sex"]),
                          _address(pat["address"], pat["city"], pat["state"], pat["zip"], pat["address2"]),
                          pat["middle_name"] or "")
        payer = made.get(("payer", payer_id, batched))
        if payer is None:  # a day's claims go to a few payers from one practice: each record is made once
            pay = payers.get(payer_id, batched)
            payer = made[("payer", payer_id, batched)] = m.Payer(
                payer_id, pay["name"], pay["edi_payer_id"], pay["filing_code"],
                _address(pay["address"], pay["city"], pay["state"], pay["zip"]) if pay["address"] else None,
                pay["receiver"] or pay["edi_payer_id"], int(pay["timely_filing_days"]))
        if coverage_id is not None:
            cov = coverages.get(coverage_id, batched)
            insured = person if cov["relationship"] == "self" else m.Person(
                cov["subscriber_last"], cov["subscriber_first"], cov["subscriber_dob"], _sex(cov["subscriber_sex"]),
                _address(cov["subscriber_address"], cov["subscriber_city"], cov["subscriber_state"],
                         cov["subscriber_zip"]))
            subscriber = m.Subscriber(cov["member_id"], cov["group_no"], cov["relationship"], insured, coverage_id,
                                      cov["effective"], cov["end_date"])
            assignment, signature = bool(cov["assignment"]), bool(cov["signature_on_file"])
        else:  # a payer billed with no coverage on file: the scrubber names the missing member id
            subscriber = m.Subscriber("", "", "self", person)
            assignment = signature = True
        billing = made.get(("practice", 1, batched))
        if billing is None:
            prac = practice.get(1, batched) if practice_rows else dict.fromkeys(_PRACTICE, "")
            pay_to = None
            if prac["pay_to_street"]:
                pay_to = _address(prac["pay_to_street"], prac["pay_to_city"], prac["pay_to_state"], prac["pay_to_zip"])
            billing = made[("practice", 1, batched)] = m.BillingProvider(
                prac["name"], prac["npi"], _zip(prac["tax_id"]), prac["taxonomy"],
                _address(prac["street"], prac["city"], prac["state"], prac["zip"]), _zip(prac["phone"]),
                prac["submitter_id"], "", pay_to)
        rendering = made.get(("provider", provider_id, batched))
        if rendering is None:
            prov = providers.get(provider_id, batched)
            last, first = (prov["last_name"], prov["first_name"]) if prov["last_name"] else _split_name(prov["name"])
            rendering = made[("provider", provider_id, batched)] = m.RenderingProvider(
                last, first, prov["npi"], prov["taxonomy"])
        claim_lines = tuple(
            m.ClaimLine(line_no, control, charge_id, code, _parts(mods), units, charge, dos, _pointers(pointers),
                        line_pos)
            for line_no, control, charge_id, code, mods, units, charge, dos, pointers, line_pos in lines[cid])
        out.append(m.Claim(
            claim_id=number, frequency=frequency, responsibility=responsibility, patient=person,
            account=pat["account"], subscriber=subscriber, payer=payer, billing=billing, rendering=rendering,
            diagnoses=tuple(diagnoses[encounter]), lines=claim_lines, place_of_service=pos,
            payer_claim_number=pcn, assignment=assignment, signature_on_file=signature, id=cid,
            other_payers=tuple(_insured(o, person) for o in earlier.get(cid, ()))))
    remitted = _remitted([c for c in out if c.other_payers])
    if remitted:  # an earlier payer's own 835 says what it did better than the books' postings can
        out = [replace(c, other_payers=tuple(remitted.get((c.id, o.payer.id), o) for o in c.other_payers))
               if c.other_payers else c for c in out]
    return out


def _remitted(claims: Sequence[m.Claim]) -> dict[tuple[int, int], m.OtherPayer]:
    """Each earlier payer's adjudication of these claims' charges, read again from the 835 the books
    kept (loops 2320/2330/2430: its adjustments verbatim, paid amounts, paid date), keyed by (claim
    row, payer id). An earlier payer with no posted remittance (paid by hand) is not here: the
    claim keeps what the books' postings say of it."""
    from ..claims.era import parse_835
    from ..claims.era_match import match_claim
    from ..claims.era_secondary import other_payer_from

    if not claims:
        return {}
    by_id = {c.id: c for c in claims}
    latest: dict[tuple[int, int], tuple[int, int, str, str, int]] = {}
    for target, primary_row, seq, number, paid_date, file_id, payer, _ in _rows_in(
            "SELECT DISTINCT l.claim_id, rc.claim_id, rc.seq, rc.claim_number, r.paid_date, r.file_id, r.payer_id, "
            "rc.id FROM claim_line l JOIN claim_line l2 ON l2.charge_id = l.charge_id "
            "JOIN remittance_claim rc ON rc.claim_id = l2.claim_id JOIN remittance r ON r.id = rc.remittance_id "
            "WHERE l.claim_id IN ({ids}) AND rc.outcome IN ('posted', 'denied') "
            "AND NOT EXISTS (SELECT 1 FROM distribution x WHERE x.reverses_id = rc.distribution_id) "
            "ORDER BY rc.id", list(by_id)):
        if payer != by_id[target].payer.id:
            latest[(target, payer)] = (primary_row, seq, number, paid_date, file_id)  # its newest posting
    if not latest:
        return {}
    primaries = {c.id: c for c in load_claims(sorted({v[0] for v in latest.values()}))}
    files = {fid: parse_835(raw) for fid, raw in _rows_in(
        "SELECT id, raw FROM remittance_file WHERE id IN ({ids})", sorted({v[4] for v in latest.values()}))}
    out = {}
    for (target, payer), (primary_row, seq, number, paid_date, file_id) in latest.items():
        primary = primaries[primary_row]
        payment = next(p for r in files[file_id] for i, p in enumerate(r.claims, 1) if i == seq and p.claim_id == number)
        line_of_charge = {line.charge_id: line.line_no for line in by_id[target].lines}
        match = match_claim(payment, {primary.claim_id: primary})
        line_of = {x.service.index: line_of_charge[x.line.charge_id] for x in match.lines
                   if x.line is not None and x.line.charge_id in line_of_charge}
        out[(target, payer)] = other_payer_from(payment, line_of, payer=primary.payer, subscriber=primary.subscriber,
                                                responsibility=primary.responsibility, paid_date=paid_date)
    return out


def _insured(other: m.OtherPayer, patient: m.Person) -> m.OtherPayer:
    """An earlier coverage of the patient's own: its subscriber is the patient."""
    if other.subscriber.relationship != "self":
        return other
    return replace(other, subscriber=replace(other.subscriber, person=patient))


def _earlier_payers(heads: dict[int, tuple[Any, ...]], lines: dict[int, list[tuple[Any, ...]]],
                    coverages: _AsOf) -> dict[int, tuple[m.OtherPayer, ...]]:
    """For a secondary (or tertiary) claim: what each payer before it did with its lines (loops 2320/2430).

    The earlier payers are the patient's coverages of a lower priority in force on the date of
    service; what each paid and adjusted is read from the applications and adjustments of that
    payer's receipts on these charges."""
    later = {cid: h for cid, h in heads.items() if h[8] in ("S", "T")}
    if not later:
        return {}
    patients = sorted({h[2] for h in later.values()})
    options: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in _rows_in("SELECT id, patient_id, payer_id, priority, effective, end_date FROM coverage "
                        "WHERE patient_id IN ({ids}) ORDER BY priority, id", patients):
        options[row[1]].append(row)
    charges = sorted({ln[2] for cid in later for ln in lines[cid]})
    paid: dict[tuple[int, int], tuple[int, str]] = {}
    for charge, payer, amount, day in _rows_in(
            "SELECT a.charge_id, r.payer_id, SUM(a.amount), MAX(a.posting_date) FROM application a "
            "JOIN receipt r ON r.id = a.receipt_id WHERE r.source = 'payer' AND a.charge_id IN ({ids}) "
            "GROUP BY a.charge_id, r.payer_id", charges):
        paid[(charge, payer)] = (amount, day)
    adjusted: dict[tuple[int, int], list[tuple[str, str, int]]] = defaultdict(list)
    for charge, payer, code, amount in _rows_in(
            "SELECT j.charge_id, r.payer_id, j.reason_code, SUM(j.amount) FROM adjustment j "
            "JOIN distribution d ON d.id = j.distribution_id JOIN receipt r ON r.id = d.receipt_id "
            "JOIN adjustment_reason w ON w.code = j.reason_code AND w.kind = 'carc' "
            "WHERE j.charge_id IN ({ids}) GROUP BY j.charge_id, r.payer_id, j.reason_code", charges):
        group, _, carc = code.partition("-")
        if amount:
            adjusted[(charge, payer)].append((group, carc, amount))
    # What the payer left to the patient or the next payer moved on as a transfer: the patient's
    # responsibility it assigned. The books keep no CARC on a transfer, so it is reported as PR-2
    # (coinsurance), the usual remainder a secondary plan picks up.
    for charge, payer, amount in _rows_in(
            "SELECT t.charge_id, t.from_payer_id, SUM(t.amount) FROM transfer t WHERE t.reverses_id IS NULL "
            "AND t.from_payer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfer x WHERE x.reverses_id = t.id) "
            "AND t.charge_id IN ({ids}) GROUP BY t.charge_id, t.from_payer_id", charges):
        if amount:
            adjusted[(charge, payer)].append(("PR", "2", amount))
    payer_rows = _table("payer", _PAYER, {row[2] for rows in options.values() for row in rows})
    cover_rows = _table("coverage", _COVERAGE, {row[0] for rows in options.values() for row in rows})
    out: dict[int, tuple[m.OtherPayer, ...]] = {}
    for cid, head in later.items():
        own = coverages.rows.get(head[3]) if head[3] is not None else None
        own_priority = own["priority"] if own else {"S": 2, "T": 3}[head[8]]
        dos = min(ln[7] for ln in lines[cid])
        found = []
        for cov_id, _patient, payer, priority, effective, end in options[head[2]]:
            if priority >= own_priority or payer == head[4] or (effective and effective > dos) or (end and end < dos):
                continue
            pay, cov = payer_rows[payer], cover_rows[cov_id]
            payer_record = m.Payer(payer, pay["name"], pay["edi_payer_id"], pay["filing_code"],
                                   _address(pay["address"], pay["city"], pay["state"], pay["zip"])
                                   if pay["address"] else None, pay["receiver"] or pay["edi_payer_id"],
                                   int(pay["timely_filing_days"]))
            insured = m.Person(cov["subscriber_last"], cov["subscriber_first"], cov["subscriber_dob"],
                               _sex(cov["subscriber_sex"]), _address(cov["subscriber_address"], cov["subscriber_city"],
                                                                     cov["subscriber_state"], cov["subscriber_zip"]))
            subscriber = m.Subscriber(cov["member_id"], cov["group_no"], cov["relationship"], insured, cov_id,
                                      cov["effective"], cov["end_date"])
            done = tuple(m.OtherPayment(ln[0], paid.get((ln[2], payer), (0, ""))[0],
                                        tuple(adjusted.get((ln[2], payer), ())),
                                        paid.get((ln[2], payer), (0, ""))[1] or dos)
                         for ln in lines[cid])
            found.append(m.OtherPayer(payer_record, subscriber, m.RESPONSIBILITY.get(priority, "P"),
                                      sum(p.paid for p in done), (), done))
        out[cid] = tuple(found)
    return out


# --------------------------------------------------------------------------- receivers and batches


def receiver_of(payer: m.Payer) -> str:
    """Who gets a payer's claims: its clearinghouse (``receiver``), else the payer's own EDI id."""
    return payer.receiver or payer.edi_id


@dataclass(frozen=True)
class Receiver:
    id: str
    name: str
    production: bool


def _receiver(rid: str, fallback_name: str) -> Receiver:
    row = _rows("SELECT name, production FROM claim_receiver WHERE receiver = ? ORDER BY id DESC LIMIT 1", (rid,))
    if row:
        return Receiver(rid, row[0][0], bool(row[0][1]))
    # a receiver nobody has set up gets test files: nothing is adjudicated by mistake
    return Receiver(rid, fallback_name, False)


@write
def set_receiver(receiver: str, name: str, production: bool, *, operator: str | None = None) -> int:
    """A receiver's name (ISA08/NM1*40) and whether its files are production (ISA15 P) or test (T)."""
    user = v.operator(operator)
    roles.require("set_claim_receiver", user)
    rid = v.text(receiver, "receiver", max_len=15).upper()
    label = v.text(name, "receiver name", max_len=60)
    now = _now()
    cursor = database.execute_sql(
        "INSERT INTO claim_receiver (receiver, name, production, at, operator) VALUES (?,?,?,?,?)",
        (rid, label, 1 if production else 0, now, user))
    receiver_row = inserted_id(cursor)
    audit.record(now, user, "set_claim_receiver", "claim_receiver", receiver_row,
                 {"receiver": rid, "name": label, "production": bool(production)})
    return receiver_row


@dataclass(frozen=True)
class BatchFile:
    receiver: str
    path: str  # '' on a validate-only run
    claims: tuple[str, ...]
    total: int
    interchange_number: int = 0
    group_number: int = 0
    file_id: int = 0
    sha256: str = ""
    text: str = ""


@dataclass(frozen=True)
class BatchResult:
    files: tuple[BatchFile, ...] = ()
    held: dict[str, str] = field(default_factory=dict)  # claim id -> reasons (failed the scrub at build time)
    validate_only: bool = False


def _ready_claims(receiver: str | None) -> dict[str, list[m.Claim]]:
    ids = [r[0] for r in _rows("SELECT claim_id FROM claim_status WHERE status = 'ready' ORDER BY claim_id")]
    by_receiver: dict[str, list[m.Claim]] = defaultdict(list)
    for claim in load_claims(ids):
        rid = receiver_of(claim.payer)
        if rid.upper() == "PAPER":  # billed on CMS-1500 forms: `claims print` (store/claim_paper.py)
            continue
        if receiver is None or rid.upper() == receiver.upper():
            by_receiver[rid].append(claim)
    return by_receiver


def _files(by_receiver: dict[str, list[m.Claim]]) -> list[tuple[str, list[m.Claim]]]:
    """(receiver, claims) per file: one file per receiver, or more when it has more claims than one
    837P transaction may carry (the writer's MAX_CLAIMS, 5,000 by the implementation guide)."""
    from ..claims.x837 import MAX_CLAIMS

    most = MAX_CLAIMS
    return [(rid, claims[i:i + most]) for rid, claims in sorted(by_receiver.items())
            for i in range(0, len(claims), most)]


def _peek_numbers(receiver: str) -> tuple[int, int]:
    """The receiver's next ISA13 and GS06, only looked at (a validate-only run)."""
    row = _rows("SELECT interchange, grp FROM claim_counter WHERE receiver = ?", (receiver,))
    return (min(row[0][0] + 1, MAX_CONTROL), min(row[0][1] + 1, MAX_CONTROL)) if row else (1, 1)


def _next_numbers(receiver: str) -> tuple[int, int]:
    """The receiver's next ISA13 and GS06, taken for good (the counter only moves forward)."""
    row = _rows("SELECT interchange, grp FROM claim_counter WHERE receiver = ?", (receiver,))
    if not row:
        database.execute_sql("INSERT INTO claim_counter (receiver, interchange, grp) VALUES (?, 1, 1)", (receiver,))
        return 1, 1
    interchange, grp = row[0][0] + 1, row[0][1] + 1
    if interchange > MAX_CONTROL or grp > MAX_CONTROL:
        raise BillingError(f"receiver {receiver} has used every ISA13 control number", "receiver")
    database.execute_sql("UPDATE claim_counter SET interchange = ?, grp = ? WHERE receiver = ?",
                         (interchange, grp, receiver))
    return interchange, grp


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)[:20] or "receiver"


def build_batch(*, output_dir: str | os.PathLike[str] | None, receiver: str | None = None,
                validate_only: bool = False, operator: str | None = None, at: str | None = None) -> BatchResult:
    """One 837P file per receiver for every ready claim (re-scrubbed first: a claim that fails now is held).

    ``validate_only``: the files are made in memory with the control numbers a build would take
    next, which stay untaken, and nothing is written, to the books or the disk. ``at``: the time
    the files say they were made (the demo's fixed times; default now)."""
    written: list[Path] = []
    try:
        if validate_only:
            return _validate(receiver, operator, at)
        if output_dir is None:
            raise BillingError("give --output DIR for the claim files", "output")
        return _build(Path(output_dir), receiver, operator, written, at)
    except BaseException:
        for path in written:  # the books do not know these control numbers: the file must go too
            with _suppress():
                path.unlink()
        raise


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        return isinstance(exc, OSError)


def _render(claims: list[m.Claim], rcv: Receiver, sender: str, interchange: int, group: int, created: str) -> str:
    from ..claims.x837 import write_837p
    return str(write_837p(claims, sender_id=sender, receiver_id=rcv.id, receiver_name=rcv.name,
                          interchange_number=interchange, group_number=group, production=rcv.production,
                          created=dt.datetime.fromisoformat(created)))


def _stale(ids: Sequence[int], today: str) -> set[int]:
    """Ready claims whose verdict may be out of date: scrubbed before today, or since scrubbed the
    patient, coverage, payer, rendering provider or practice changed (a new master data version)."""
    heads = _rows_in(
        "SELECT k.id, k.patient_id, k.coverage_id, k.payer_id, e.provider_id, v.at, v.on_date FROM claim k "
        "JOIN encounter e ON e.id = k.encounter_id JOIN claim_status s ON s.claim_id = k.id "
        "JOIN claim_event v ON v.id = s.event_id WHERE k.id IN ({ids})", ids)
    changed: dict[tuple[str, int], str] = {}
    for entity, index in (("patient", 1), ("coverage", 2), ("payer", 3), ("provider", 4)):
        wanted = sorted({h[index] for h in heads if h[index] is not None})
        changed.update(((entity, eid), at) for eid, at in _rows_in(
            f"SELECT entity_id, MAX(at) FROM master_version WHERE entity = '{entity}' AND entity_id IN ({{ids}}) "
            "GROUP BY entity_id", wanted))
    practice = _rows("SELECT MAX(at) FROM master_version WHERE entity = 'practice'")[0][0] or ""
    out = set()
    for cid, patient, coverage, payer, provider, at, on_date in heads:
        latest = max(practice, changed.get(("patient", patient), ""), changed.get(("coverage", coverage), ""),
                     changed.get(("payer", payer), ""), changed.get(("provider", provider), ""))
        if on_date < today or latest >= at:
            out.add(cid)
    return out


def _scrubbed(by_receiver: dict[str, list[m.Claim]]) -> tuple[dict[str, list[m.Claim]], dict[int, str]]:
    """The ready claims that still pass: those scrubbed today with nothing of theirs changed since
    pass as they are; the others are scrubbed again (a failure is held now, not sent)."""
    claims = [c for cs in by_receiver.values() for c in cs]
    today = _today()
    stale = _stale([c.id for c in claims], today)
    again = [c for c in claims if c.id in stale]
    _, good, held = _scrub_events(again, {c.id: ("ready", "") for c in again}, today)
    keep = {c.id for c in claims if c.id not in stale} | set(good)
    return {r: [c for c in cs if c.id in keep] for r, cs in by_receiver.items() if any(c.id in keep for c in cs)}, held


def _sender() -> str:
    row = _rows("SELECT submitter_id, tax_id FROM practice WHERE id = 1")
    if not row or not (row[0][0] or row[0][1]):
        raise BillingError("the practice has no submitter id: set it on the practice screen", "submitter_id")
    return row[0][0] or _zip(row[0][1])


def _validate(receiver: str | None, operator: str | None, at: str | None) -> BatchResult:
    v.operator(operator)
    ready_now = _ready_claims(receiver)
    by_receiver, held = _scrubbed(ready_now)
    names = {c.id: c.claim_id for cs in ready_now.values() for c in cs}
    created = at or _now()
    sender = _sender() if by_receiver else ""
    files = []
    taken: dict[str, int] = defaultdict(int)  # a receiver with more than one file takes more than one number
    for rid, claims in _files(by_receiver):
        interchange, group = (min(n + taken[rid], MAX_CONTROL) for n in _peek_numbers(rid))  # nothing is taken
        taken[rid] += 1
        text = _render(claims, _receiver(rid, claims[0].payer.name), sender, interchange, group, created)
        files.append(BatchFile(rid, "", tuple(c.claim_id for c in claims), sum(c.total for c in claims),
                               interchange, group, text=text))
    return BatchResult(tuple(files), {names[i]: r for i, r in held.items()}, True)


@write
def _build(output_dir: Path, receiver: str | None, operator: str | None, written: list[Path],
           at: str | None) -> BatchResult:
    for path in written:  # a retried transaction starts again from nothing
        with _suppress():
            path.unlink()
    written.clear()
    from ..files import atomic_output

    user = v.operator(operator)
    roles.require("claims", user)
    if not output_dir.is_dir():
        # a typo must not scatter PHI into a new folder: the office makes it, once
        raise BillingError(f"{output_dir} is not a directory (make it first: mkdir -m 700 {output_dir})", "output")
    now, day = at or _now(), _today()
    ready_now = _ready_claims(receiver)
    by_receiver, held = _scrubbed(ready_now)
    names = {c.id: c.claim_id for cs in ready_now.values() for c in cs}
    if held:
        _events(((cid, "held", reason, None, "") for cid, reason in held.items()), user=user, now=now, day=day)
    sender = _sender() if by_receiver else ""
    files = []
    for rid, claims in _files(by_receiver):
        rcv = _receiver(rid, claims[0].payer.name)
        interchange, group = _next_numbers(rid)
        text = _render(claims, rcv, sender, interchange, group, now)
        data = text.encode("ascii")
        digest = hashlib.sha256(data).hexdigest()
        path = output_dir / f"837P-{_safe(rid)}-{interchange:09d}.x12"
        with atomic_output(path, binary=True, replace=False) as fh:
            fh.write(data)
        written.append(path)
        total = sum(c.total for c in claims)
        cursor = database.execute_sql(
            "INSERT INTO claim_file (receiver, kind, path, sha256, interchange_number, group_number, production, "
            "claims, total, at, operator) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (rid, "837P", str(path), digest, interchange, group, 1 if rcv.production else 0, len(claims), total,
             now, user))
        file_id = inserted_id(cursor)
        _events(((c.id, "batched", "", file_id, "") for c in claims), user=user, now=now, day=day)
        audit.record(now, user, "build_claims", "claim_file", file_id, {
            "receiver": rid, "path": str(path), "sha256": digest, "isa13": interchange, "gs06": group,
            "claims": len(claims), "total": total, "production": rcv.production})
        files.append(BatchFile(rid, str(path), tuple(c.claim_id for c in claims), total, interchange, group,
                               file_id, digest))
    return BatchResult(tuple(files), {names[i]: r for i, r in held.items()})


@write
def mark_sent(file_id: int, *, operator: str | None = None) -> int:
    """The clerk uploaded the file: its claims still batched in it become ``sent``; returns how many."""
    user = v.operator(operator)
    roles.require("claims", user)
    row = _rows("SELECT kind, path FROM claim_file WHERE id = ?", (file_id,)) if isinstance(file_id, int) else []
    if not row or row[0][0] not in ("837P", "cms1500"):
        raise BillingError(f"no claim file {file_id} (see `tui-billing claims files`)", "file_id")
    ids = [r[0] for r in _rows(
        "SELECT s.claim_id FROM claim_status s JOIN claim_event e ON e.id = s.event_id "
        "WHERE s.status = 'batched' AND e.file_id = ? ORDER BY s.claim_id", (file_id,))]
    if not ids:
        raise BillingError(f"file {file_id} has no claims waiting to be sent (already marked sent?)", "file_id")
    now, day = _now(), _today()
    _events(((cid, "sent", "", file_id, "") for cid in ids), user=user, now=now, day=day)
    audit.record(now, user, "send_claims", "claim_file", file_id, {"claims": len(ids), "path": row[0][1]})
    return len(ids)


# --------------------------------------------------------------------------- corrections


def _claim_head(claim: int | str) -> tuple[Any, ...]:
    key = "claim_id" if isinstance(claim, str) else "id"
    row = _rows(f"SELECT k.id, k.claim_id, k.encounter_id, k.payer_id, k.frequency, s.status, "
                "(SELECT payer_claim_number FROM claim_event e WHERE e.claim_id = k.id AND e.payer_claim_number <> '' "
                "ORDER BY e.id DESC LIMIT 1), k.payer_claim_number "
                f"FROM claim k JOIN claim_status s ON s.claim_id = k.id WHERE k.{key} = ?", (claim,))
    if not row:
        raise BillingError(f"no claim {claim}", "claim")
    return row[0]


def _lines_of(claim_row: int) -> list[tuple[int, int, str]]:
    return [(r[0], r[1], r[2]) for r in _rows(
        "SELECT l.charge_id, l.charge, c.dos FROM claim_line l JOIN charge c ON c.id = l.charge_id "
        "WHERE l.claim_id = ? ORDER BY l.line_no", (claim_row,))]


def _rescrub_new(ids: list[int], user: str, now: str, day: str) -> str:
    events, _good, held = _scrub_events(load_claims(ids), {}, day)
    _events(events, user=user, now=now, day=day)
    return "held" if held else "ready"


def _refuse_in_flight(number: str, status: str, verb: str) -> None:
    if status == "batched":
        raise BillingError(f"claim {number} is in a file built for sending: mark the file sent, and once the payer "
                           f"answers the claim can be {verb}", "claim")
    if status == "sent":
        raise BillingError(f"claim {number} was sent and awaits its acknowledgement: it can be {verb} once the payer "
                           "accepts or rejects it", "claim")


@write
def correct(claim: int | str, *, encounter: int | None = None, payer_claim_number: str = "", reason: str = "",
            operator: str | None = None) -> tuple[int, str]:
    """Replace a claim: the lines its payer owes now on its encounter (or on ``encounter``, the
    patient's re-keyed visit after the first was voided) go out on a new claim.

    A claim the payer has taken in (accepted, paid, denied...) is replaced by frequency 7 with the
    payer's claim number (the one an acknowledgement or remittance gave, or ``payer_claim_number``);
    one the payer never took (held, ready, rejected, its file rejected) by a new original. One in
    a file still awaiting its answer (batched, sent) is refused: the payer may yet take it in.
    The old claim gets a ``replaced`` event. Returns (new claim row, its status: ready or held)."""
    user = v.operator(operator)
    roles.require("correct_claim", user)
    rid, number, own_encounter, payer, frequency, status, known_pcn, _ = _claim_head(claim)
    if status in CLOSED:
        raise BillingError(f"claim {number} is already {status}", "claim")
    _refuse_in_flight(number, status, "corrected")
    if frequency == m.VOID:
        raise BillingError(f"claim {number} is a void: it cannot be corrected", "claim")
    if encounter is None:
        encounter = own_encounter
    elif _rows("SELECT patient_id FROM encounter WHERE id = ?", (encounter,)) != _rows(
            "SELECT patient_id FROM encounter WHERE id = ?", (own_encounter,)):
        raise BillingError(f"encounter {encounter} is another patient's (or none): claim {number} cannot take it",
                           "encounter")
    pcn = v.text(payer_claim_number, "payer claim number", max_len=50, required=False) or known_pcn or ""
    note = v.text(reason, "reason", max_len=200, required=False)
    lines = [(ch, amount, dos) for ch, _e, _p, amount, _pt, dos in _rows(
        unbilled_sql("AND c.encounter_id = ? AND cb.payer_id = ?").replace(
            "AND s.status NOT IN", "AND k.id <> ? AND s.status NOT IN"), (encounter, payer, rid))]
    if not lines:
        raise BillingError(f"encounter of claim {number} has nothing owed by its payer now: void the claim instead",
                           "claim")
    now, day = _now(), _today()
    sent = status in PAYER_HAS
    new = _insert_claims({(encounter, payer): lines}, user=user, now=now, day=day,
                         frequency=m.REPLACEMENT if sent else m.ORIGINAL, replaces=rid,
                         payer_claim_number=pcn if sent else "")
    _events([(rid, "replaced", note or f"replaced by {claim_number(new[0])}", None, "")], user=user, now=now, day=day)
    verdict = _rescrub_new(new, user, now, day)
    audit.record(now, user, "correct_claim", "claim", rid, {
        "claim": number, "by": claim_number(new[0]), "frequency": m.REPLACEMENT if sent else m.ORIGINAL,
        "payer_claim_number": pcn, "reason": note})
    return new[0], verdict


@write
def void(claim: int | str, *, reason: str = "", payer_claim_number: str = "",
         operator: str | None = None) -> int | None:
    """Void a claim. One the payer has taken in gets a frequency 8 claim (its lines, the payer's
    claim number) to cancel it there (a supervisor's); one the payer never took (held, ready,
    rejected) is only marked ``voided`` (its charges can be claimed again); one in a file awaiting
    its answer is refused. Returns the void claim's row, or None."""
    user = v.operator(operator)
    rid, number, encounter, payer, frequency, status, known_pcn, _ = _claim_head(claim)
    sent = status in PAYER_HAS
    roles.require("void_claim", user, claim=number, sent=sent)
    if status in CLOSED:
        raise BillingError(f"claim {number} is already {status}", "claim")
    _refuse_in_flight(number, status, "voided")
    if frequency == m.VOID:
        raise BillingError(f"claim {number} is itself a void", "claim")
    note = v.text(reason, "reason", max_len=200, required=False)
    now, day = _now(), _today()
    new: int | None = None
    if sent:
        pcn = v.text(payer_claim_number, "payer claim number", max_len=50, required=False) or known_pcn or ""
        new = _insert_claims({(encounter, payer): _lines_of(rid)}, user=user, now=now, day=day,
                             frequency=m.VOID, replaces=rid, payer_claim_number=pcn)[0]
        _events([(rid, "voided", note or f"voided by {claim_number(new)}", None, "")], user=user, now=now, day=day)
        _rescrub_new([new], user, now, day)
    else:
        _events([(rid, "voided", note or "voided before the payer took it", None, "")], user=user, now=now, day=day)
    audit.record(now, user, "void_claim", "claim", rid, {
        "claim": number, "by": claim_number(new) if new else None, "reason": note})
    return new


# --------------------------------------------------------------------------- queues


@dataclass(frozen=True)
class QueueRow:
    id: int
    claim_id: str
    account: str
    patient: str
    payer: str
    dos: str
    total: int
    status: str
    reasons: str
    since: str
    age: int  # days in this status
    frequency: str = m.ORIGINAL


def queue(status: str | Sequence[str], older_than_days: int | None = None, *, today: str | None = None,
          limit: int | None = None) -> list[QueueRow]:
    """Claims whose status now is ``status`` (or one of them), oldest first; ``older_than_days``:
    only those that have been in it longer (the follow-up list: accepted and unpaid for N days)."""
    wanted = (status,) if isinstance(status, str) else tuple(status)
    bad = [s for s in wanted if s not in CLAIM_STATUSES]
    if bad:
        raise BillingError(f"claim status must be one of {', '.join(CLAIM_STATUSES)}", "status")
    day = dt.date.fromisoformat(today or _today())
    where, params = f"s.status IN ({_in(wanted)})", list(wanted)
    if older_than_days is not None:
        where += " AND s.since < ?"
        params.append((day - dt.timedelta(days=older_than_days)).isoformat())
    query = ("SELECT k.id, k.claim_id, p.account, p.last_name, p.first_name, y.code, k.dos, k.total, s.status, "
             "e.reason, s.since, k.frequency FROM claim_status s JOIN claim k ON k.id = s.claim_id "
             "JOIN claim_event e ON e.id = s.event_id JOIN patient p ON p.id = k.patient_id "
             f"JOIN payer y ON y.id = k.payer_id WHERE {where} ORDER BY s.since, k.id")
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    return [QueueRow(cid, number, account, f"{last}, {first}", payer, dos, total, st, reason, since,
                     (day - dt.date.fromisoformat(since)).days, freq)
            for cid, number, account, last, first, payer, dos, total, st, reason, since, freq in _rows(query, params)]
