"""Read-only queries for accounts: patient search, the account as of a date, and its ledger.

Plain frozen dataclasses out, never live rows, so a screen calls these from a thread worker.
The search probes indexes only (``patient.search_key``, ``account_key``, ``account``, ``dob``,
``phone_key``) with prefix ranges, and pages: a page says whether more follow, so a list is
never silently cut short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .accounts import clerk_date, snapshot
from .db import database, sql
from .fees import fees_on
from .search_keys import account_key, fold, phone_key

__all__ = [
    "AccountLedger", "CoverageView", "LedgerLine", "NoteView", "PatientView", "SearchHit", "SearchPage",
    "VersionView", "Activity", "EncounterHeader", "account_ledger", "encounter_activity", "encounter_header",
    "patient_receipts", "classify", "coverages",
    "export_patients", "fee_on", "history", "notes",
    "patient_view", "payer_list", "provider_list", "practice_view", "record_as_of", "search_patients",
]


def _rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(sql, params).fetchall()
    return rows


def _after(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchHit:
    id: int
    account: str
    last_name: str
    first_name: str
    dob: str
    phone: str
    payer_code: str  # the primary payer's code ('' : self-pay)
    payer_id: int | None = None
    payer_name: str = ""

    @property
    def name(self) -> str:
        return f"{self.last_name}, {self.first_name}"


@dataclass(frozen=True)
class SearchPage:
    """One page of matches; ``more``: at least one further match exists past this page."""

    query: str
    kind: str  # account | name | dob | phone | none
    hits: tuple[SearchHit, ...]
    offset: int
    more: bool


_HIT_COLS = (
    "p.id, p.account, p.last_name, p.first_name, p.dob, p.phone, COALESCE(y.code, ''), y.id, COALESCE(y.name, '') "
    "FROM patient p LEFT JOIN payer y ON y.id = (SELECT c.payer_id FROM coverage c WHERE c.patient_id = p.id "
    "AND c.effective <= ?1 AND (c.end_date = '' OR c.end_date >= ?1) ORDER BY c.priority, c.id LIMIT 1)"
)
_PHONE = re.compile(r"^\(?\d{3}\)?[\s.-]*\d{3}[\s.-]*\d{4}$")


def classify(text: str) -> tuple[str, Any]:
    """What the clerk typed: ('dob', date), ('phone', digits), ('account', text), ('name', key)."""
    q = " ".join(text.split()).strip()
    if not q:
        return "none", ""
    digits = "".join(ch for ch in q if ch.isdigit())
    if q.isdigit():
        if len(q) == 8 and clerk_date(q):
            return "dob", clerk_date(q)
        if len(q) in (10, 11) and len(phone_key(q)) == 10:
            return "phone", phone_key(q)
        return "account", q
    if clerk_date(q):
        return "dob", clerk_date(q)
    if _PHONE.match(q) or (q.startswith("+1") and len(phone_key(q)) == 10):
        return "phone", phone_key(q)
    if len(digits) >= 1 and re.fullmatch(r"[A-Za-z]{0,3}\d+", q):
        return "account", q
    if any(ch.isalpha() for ch in q):
        last, _, first = q.partition(",")
        key = fold(last) + ("," + fold(first) if "," in q else "")
        return ("name", key) if fold(last) else ("none", "")
    return "none", ""


def search_patients(text: str, *, limit: int = 50, offset: int = 0) -> SearchPage:
    """Patients matching an account (leading zeros optional), a ``last,first`` prefix (accents and
    punctuation ignored), a date of birth as typed, or a phone number. Ordered, paged."""
    from .clock import today

    kind, key = classify(text)
    day = today().isoformat()
    if kind != "none" and _rows("SELECT 1 FROM patient WHERE search_key = '' LIMIT 1"):
        # rows a bulk load wrote without their keys (a demo built before it filled them): key them
        # once, in one write, so no patient is unfindable (an index probe when there are none)
        from .accounts import fill_search_keys

        fill_search_keys()
    page = max(1, min(int(limit), 500))
    fetch = (page + 1, max(0, int(offset)))
    if kind == "none":
        return SearchPage(text, kind, (), offset, False)
    if kind == "name":
        rows = _rows(f"SELECT {_HIT_COLS} WHERE p.search_key >= ? AND p.search_key < ? "
                     "ORDER BY p.search_key, p.id LIMIT ? OFFSET ?", (day, key, _after(key), *fetch))
    elif kind == "dob":
        rows = _rows(f"SELECT {_HIT_COLS} WHERE p.dob = ? ORDER BY p.search_key, p.id LIMIT ? OFFSET ?",
                     (day, key.isoformat(), *fetch))
    elif kind == "phone":
        rows = _rows(f"SELECT {_HIT_COLS} WHERE p.phone_key = ? ORDER BY p.search_key, p.id LIMIT ? OFFSET ?",
                     (day, key, *fetch))
    else:
        upper = key.upper()
        digits = account_key(upper)
        letters = re.match(r"[A-Z]*", upper)
        assert letters is not None  # `*` matches the empty string: match() always finds it
        prefix = letters.group(0)
        # exact account first (typed whole, zeros or not), then accounts starting with what was typed
        rows = _rows(
            f"SELECT {_HIT_COLS} WHERE p.account_key = ? AND p.account LIKE ? || '%' "
            "UNION ALL "
            f"SELECT * FROM (SELECT {_HIT_COLS} WHERE p.account >= ? AND p.account < ? AND p.account_key <> ? "
            "ORDER BY p.account) LIMIT ? OFFSET ?",
            (day, digits, prefix, upper, _after(upper), digits, *fetch),
        )
    hits = tuple(SearchHit(*r) for r in rows[:page])
    return SearchPage(text, kind, hits, fetch[1], len(rows) > page)


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class CoverageView:
    id: int
    priority: int
    payer_id: int
    payer_code: str
    payer_name: str
    member_id: str
    group_no: str
    relationship: str
    subscriber: str  # "Last, First (DOB, sex)" when not the patient
    effective: str
    end_date: str
    assignment: bool
    signature_on_file: bool

    def in_force(self, day: str) -> bool:
        return self.effective <= day and (not self.end_date or self.end_date >= day)


@dataclass(frozen=True)
class NoteView:
    on_date: str
    operator: str
    text: str


@dataclass(frozen=True)
class PatientView:
    """A patient's record as it read on ``as_of`` (None: now); ``version`` counts the changes."""

    id: int
    data: dict[str, Any]
    version: int
    changed_on: str
    changed_by: str
    as_of: str | None

    def __getattr__(self, item: str) -> Any:  # data fields as attributes (view.last_name)
        data = self.__dict__.get("data") or {}
        if item in data:
            return data[item]
        raise AttributeError(item)


def record_as_of(entity: str, entity_id: int, day: str | None = None) -> tuple[dict[str, Any] | None, int, str, str]:
    """(data, version, on_date, operator) of an entity as it read at the end of ``day``.

    A record never changed since versions were kept reads as its current row. ``day`` before
    the record existed gives (None, 0, '', '').
    """
    if day is None:
        row = _rows("SELECT version, on_date, operator FROM master_version WHERE entity = ? AND entity_id = ? "
                    "ORDER BY version DESC LIMIT 1", (entity, entity_id))
        current = snapshot(entity, entity_id)
        return (current, *row[0]) if row else (current, 0, "", "")
    row = _rows("SELECT data, version, on_date, operator FROM master_version WHERE entity = ? AND entity_id = ? "
                "AND on_date <= ? ORDER BY version DESC LIMIT 1", (entity, entity_id, day))
    if row:
        return json.loads(row[0][0]), row[0][1], row[0][2], row[0][3]
    if _rows("SELECT 1 FROM master_version WHERE entity = ? AND entity_id = ? LIMIT 1", (entity, entity_id)):
        return None, 0, "", ""
    return snapshot(entity, entity_id), 0, "", ""


def patient_view(patient_id: int, as_of: str | None = None) -> PatientView | None:
    data, version, on, by = record_as_of("patient", patient_id, as_of)
    if data is None:
        return None
    return PatientView(patient_id, data, version, on, by, as_of)


def coverages(patient_id: int, as_of: str | None = None) -> list[CoverageView]:
    """The patient's coverages (as they read on ``as_of``): in force first by priority, then ended."""
    out = []
    for (cid,) in _rows("SELECT id FROM coverage WHERE patient_id = ? ORDER BY id", (patient_id,)):
        data, *_ = record_as_of("coverage", cid, as_of)
        if data is None:
            continue
        payer = _rows("SELECT code, name FROM payer WHERE id = ?", (data["payer_id"],))[0]
        sub = ""
        if data["relationship"] != "self":
            sub = f"{data['subscriber_last']}, {data['subscriber_first']} ({data['subscriber_dob']}, {data['subscriber_sex']})"
        out.append(CoverageView(cid, data["priority"], data["payer_id"], payer[0], payer[1], data["member_id"],
                                data["group_no"], data["relationship"], sub, data["effective"], data["end_date"],
                                bool(data["assignment"]), bool(data["signature_on_file"])))
    from .clock import today

    day = as_of or today().isoformat()
    return sorted(out, key=lambda c: (not c.in_force(day), c.priority, c.effective))


def notes(patient_id: int) -> list[NoteView]:
    return [NoteView(*r) for r in _rows(
        "SELECT on_date, operator, text FROM account_note WHERE patient_id = ? ORDER BY id DESC", (patient_id,))]


@dataclass(frozen=True)
class VersionView:
    version: int
    on_date: str
    at: str
    operator: str
    data: dict[str, Any]


def history(entity: str, entity_id: int) -> list[VersionView]:
    """Every version of a record, oldest first."""
    return [VersionView(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in _rows(
        "SELECT version, on_date, at, operator, data FROM master_version WHERE entity = ? AND entity_id = ? "
        "ORDER BY version", (entity, entity_id))]


# --------------------------------------------------------------------------- the ledger


@dataclass(frozen=True)
class LedgerLine:
    """One original charge line with everything posted against it."""

    encounter_id: int
    charge_id: int
    dos: str
    posting_date: str
    code: str
    provider: str
    amount: int
    applied: int
    adjusted: int
    balance: int
    owed_by: str  # payer code, or PATIENT
    transfers: str  # "MCR>PAT 12.00" trail
    voided: bool


@dataclass(frozen=True)
class AccountLedger:
    lines: tuple[LedgerLine, ...]
    by_party: tuple[tuple[str, int], ...]  # (payer code or PATIENT, open balance)
    unapplied: int  # the patient's receipts not yet applied (credit on account)
    total: int


def account_ledger(patient_id: int) -> AccountLedger:
    """Every charge line of the patient with applications, adjustments, transfers and who owes it.

    ``+reverses_id``: without statistics SQLite would walk the (huge) ``reverses_id IS NULL``
    range of the unique index instead of the patient's few rows (40 ms at 60,000 charges).
    """
    rows = _rows(
        "SELECT c.encounter_id, c.id, c.dos, c.posting_date, c.code, v.code, c.amount, "
        "COALESCE((SELECT SUM(a.amount) FROM application a WHERE a.charge_id = c.id), 0), "
        "COALESCE((SELECT SUM(j.amount) FROM adjustment j WHERE j.charge_id = c.id), 0), "
        "b.balance, COALESCE(y.code, 'PATIENT'), "
        "EXISTS (SELECT 1 FROM charge r WHERE r.reverses_id = c.id) "
        "FROM charge c JOIN charge_balance b ON b.charge_id = c.id JOIN provider v ON v.id = c.provider_id "
        "LEFT JOIN payer y ON y.id = b.payer_id WHERE c.patient_id = ? AND +c.reverses_id IS NULL "
        "ORDER BY c.dos, c.encounter_id, c.line_no", (patient_id,))
    trail: dict[int, list[str]] = {}
    for charge_id, frm, to, amount in _rows(
            "SELECT t.charge_id, COALESCE(f.code, 'PATIENT'), COALESCE(g.code, 'PATIENT'), t.amount FROM transfer t "
            "JOIN charge c ON c.id = t.charge_id LEFT JOIN payer f ON f.id = t.from_payer_id "
            "LEFT JOIN payer g ON g.id = t.to_payer_id WHERE c.patient_id = ? ORDER BY t.id", (patient_id,)):
        trail.setdefault(charge_id, []).append(f"{frm}>{to} {amount / 100:.2f}")
    lines = tuple(LedgerLine(enc, cid, dos, pd, code, prov, amount, applied, adjusted, balance, owed_by,
                             " ".join(trail.get(cid, [])), bool(voided))
                  for enc, cid, dos, pd, code, prov, amount, applied, adjusted, balance, owed_by, voided in rows)
    parties: dict[str, int] = {}
    for line in lines:
        if line.balance:
            parties[line.owed_by] = parties.get(line.owed_by, 0) + line.balance
    unapplied = _rows(
        "SELECT COALESCE(SUM(rb.unapplied), 0) FROM receipt r JOIN receipt_balance rb ON rb.receipt_id = r.id "
        "WHERE r.patient_id = ? AND +r.reverses_id IS NULL", (patient_id,))[0][0]
    return AccountLedger(lines, tuple(sorted(parties.items(), key=lambda kv: (kv[0] == "PATIENT", kv[0]))),
                         unapplied, sum(parties.values()))


@dataclass(frozen=True)
class Activity:
    """One posting against an encounter's line, in the order it was posted."""

    posting_date: str
    line_no: int
    kind: str  # charge | void | applied | adjusted | transfer
    detail: str
    amount: int


def encounter_activity(encounter_id: int) -> tuple[tuple[str, ...], list[Activity]]:
    """(diagnoses, every charge, void, application, adjustment and transfer on the encounter)."""
    dx = tuple(r[0] for r in _rows("SELECT code FROM encounter_diagnosis WHERE encounter_id = ? ORDER BY seq",
                                   (encounter_id,)))
    out: list[Activity] = []
    for pd, line, code, mods, units, amount, rev, payer in _rows(
            "SELECT c.posting_date, c.line_no, c.code, c.modifiers, c.units, c.amount, c.reverses_id, "
            "COALESCE(y.code, 'PATIENT') FROM charge c LEFT JOIN payer y ON y.id = c.payer_id "
            "WHERE c.encounter_id = ? ORDER BY c.id", (encounter_id,)):
        what = f"{code}{'-' + mods.replace(',', '-') if mods else ''} x{units} billed to {payer}"
        out.append(Activity(pd, line, "void" if rev else "charge", what, amount))
    # Within a day and line, in the order a remittance reads: paid, adjusted, then the rest moved
    # on (ids of different tables are not comparable, so the kind comes first).
    rows = _rows(
        "SELECT a.posting_date, c.line_no, 'applied', r.source || ' ' || r.method || ' ' || r.reference || "
        "' (receipt ' || r.id || ')', a.amount, 1, a.id FROM application a JOIN charge c ON c.id = a.charge_id "
        "JOIN receipt r ON r.id = a.receipt_id WHERE c.encounter_id = ? "
        "UNION ALL SELECT j.posting_date, c.line_no, 'adjusted', j.reason_code || ' ' || COALESCE(ar.description, ''), "
        "j.amount, 2, j.id FROM adjustment j JOIN charge c ON c.id = j.charge_id "
        "LEFT JOIN adjustment_reason ar ON ar.code = j.reason_code WHERE c.encounter_id = ? "
        "UNION ALL SELECT t.posting_date, c.line_no, 'transfer', COALESCE(f.code, 'PATIENT') || ' > ' || "
        "COALESCE(g.code, 'PATIENT'), t.amount, 3, t.id FROM transfer t JOIN charge c ON c.id = t.charge_id "
        "LEFT JOIN payer f ON f.id = t.from_payer_id LEFT JOIN payer g ON g.id = t.to_payer_id "
        "WHERE c.encounter_id = ? ORDER BY 1, 2, 6, 7", (encounter_id,) * 3)
    out += [Activity(*r[:5]) for r in rows]
    return dx, out


@dataclass(frozen=True)
class EncounterHeader:
    """Whose encounter it is and where it was keyed (the top of its detail view)."""

    encounter_id: int
    patient_id: int
    account: str
    patient_name: str
    dos: str
    pos: str
    provider_code: str
    batch_id: int | None
    posting_date: str
    operator: str
    reverses_id: int | None
    void_reason: str | None
    voided_by: int | None


def encounter_header(encounter_id: int) -> EncounterHeader | None:
    """The encounter's patient, provider, DOS and batch; None when there is no such encounter."""
    rows = _rows(
        "SELECT e.id, e.patient_id, p.account, p.last_name || ', ' || p.first_name, e.dos, e.pos, v.code, "
        "e.batch_id, e.posting_date, e.operator, e.reverses_id, e.void_reason, "
        "(SELECT r.id FROM encounter r WHERE r.reverses_id = e.id) "
        "FROM encounter e JOIN patient p ON p.id = e.patient_id JOIN provider v ON v.id = e.provider_id "
        "WHERE e.id = ?", (encounter_id,))
    return EncounterHeader(*rows[0]) if rows else None


def patient_receipts(patient_id: int, limit: int = 10) -> list[int]:
    """The patient's own receipts (not reversals), newest first."""
    return [r[0] for r in _rows("SELECT id FROM receipt WHERE patient_id = ? AND +reverses_id IS NULL "
                                "ORDER BY received_date DESC, id DESC LIMIT ?", (patient_id, limit))]


# --------------------------------------------------------------------------- master data lists


def payer_list() -> list[dict[str, Any]]:
    """Every payer; a claim filing indicator never set (a payer added by ``add_payer`` or an
    import) reads as its kind's default (MB Medicare, MC Medicaid, CI commercial, else ZZ)."""
    cols = ("id", "code", "name", "kind", "edi_payer_id", "filing_code", "address", "city", "state", "zip",
            "receiver", "timely_filing_days")
    select = ", ".join(c if c != "filing_code" else
                       "CASE WHEN filing_code <> '' THEN filing_code WHEN kind = 'medicare' THEN 'MB' "
                       "WHEN kind = 'medicaid' THEN 'MC' WHEN kind = 'commercial' THEN 'CI' ELSE 'ZZ' END"
                       for c in cols)
    return [dict(zip(cols, r, strict=False)) for r in _rows(f"SELECT {select} FROM payer ORDER BY code")]


def provider_list() -> list[dict[str, Any]]:
    cols = ("id", "code", "name", "last_name", "first_name", "npi", "taxonomy", "active")
    return [dict(zip(cols, r, strict=False)) for r in _rows(f"SELECT {', '.join(cols)} FROM provider ORDER BY code")]


def practice_view() -> dict[str, Any] | None:
    return snapshot("practice", 1)


def fee_on(code: str, dos: str, payer_id: int | None = None) -> int | None:
    """The office fee (or a payer's allowed amount) for a code on a date of service."""
    if payer_id is None:
        return fees_on([code.upper()], dos).get(code.upper())
    row = _rows("SELECT amount FROM fee_schedule WHERE code = ? AND payer_id = ? AND effective <= ? "
                "ORDER BY effective DESC, id DESC LIMIT 1", (code.upper(), payer_id, dos))
    allowed: int | None = row[0][0] if row else None
    return allowed


EXPORT_COLUMNS = (
    "account", "last_name", "first_name", "middle_name", "dob", "sex", "address", "address2", "city", "state", "zip",
    "phone", "guarantor_relationship", "guarantor_last", "guarantor_first", "guarantor_address", "guarantor_city",
    "guarantor_state", "guarantor_zip", "guarantor_phone",
)
COVERAGE_EXPORT = ("payer", "member_id", "group_no", "relationship", "subscriber_last", "subscriber_first",
                   "subscriber_dob", "subscriber_sex", "effective", "end_date")


def export_patients() -> Iterator[list[Any]]:
    """Rows for ``export patients``: demographics and up to three coverages in force (payer code)."""
    header = list(EXPORT_COLUMNS) + [f"{c}{n}" for n in (1, 2, 3) for c in COVERAGE_EXPORT]
    yield header
    covs: dict[int, list[tuple[Any, ...]]] = {}
    for r in sql("SELECT c.patient_id, y.code, c.member_id, c.group_no, c.relationship, c.subscriber_last, "
                   "c.subscriber_first, c.subscriber_dob, c.subscriber_sex, c.effective, c.end_date "
                   "FROM coverage c JOIN payer y ON y.id = c.payer_id WHERE c.end_date = '' "
                   "ORDER BY c.patient_id, c.priority, c.id").fetchall():
        covs.setdefault(r[0], []).append(r[1:])
    for r in sql(f"SELECT id, {', '.join(EXPORT_COLUMNS)} FROM patient ORDER BY account"):
        row = list(r[1:])
        for cov in (covs.get(r[0], []) + [()] * 3)[:3]:
            row.extend(cov or [""] * len(COVERAGE_EXPORT))
        yield row
