"""Master data writes: patients, coverages, notes, payers, providers, the practice and fees.

Every change is one ``BEGIN IMMEDIATE`` transaction (:func:`db.write`) that validates all of
its input first, then writes the entity's current row, a new ``master_version`` row (the whole
record as it now reads, with who and when) and an audit event. Nothing is overwritten without
its earlier state kept: "what did this record say on date D" is
:func:`account_queries.record_as_of`. A refusal raises :class:`BillingError` naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from ..ledger.vocab import PAYER_KINDS
from . import audit, roles
from . import validate as v
from .db import database, inserted_id, write
from .errors import BillingError
from .patient_keys import refresh_search_keys
from .search_keys import account_key, name_search_key, phone_key

__all__ = [
    "CoverageDetails", "DuplicatePatient", "PatientIn", "PayerIn", "PracticeIn", "ProviderIn",
    "RELATIONSHIPS", "STATES", "add_coverage", "add_note", "claim_sex", "clerk_date", "end_coverage", "fill_search_keys",
    "refresh_search_keys", "register_patient", "reorder_coverages", "save_payer", "save_practice",
    "save_provider", "save_reason", "set_fee", "set_reason_active", "update_coverage", "update_patient",
]

#: USPS state, district, territory and military codes.
STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
    "ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM AA AE AP".split()
)
RELATIONSHIPS = ("self", "spouse", "child", "other")
GUARANTOR_RELATIONSHIPS = ("self", "spouse", "parent", "other")
#: X12 claim filing indicator codes (loop 2000B SBR09) an office meets.
FILING_CODES = ("11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM",
                "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
_PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|post\s+office\s+box|pob)\b", re.IGNORECASE)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _one(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    try:
        row: tuple[Any, ...] | None = database.execute_sql(sql, params).fetchone()
        return row
    except OverflowError:
        return None


def _value(sql: str, params: Sequence[Any] = ()) -> Any:
    """The one value of a query that always yields a row (an aggregate, or a row this transaction wrote)."""
    row = _one(sql, params)
    assert row is not None, "the query always yields a row"
    return row[0]


def _insert(sql: str, params: Sequence[Any]) -> int:
    return inserted_id(database.execute_sql(sql, params))


# --------------------------------------------------------------------------- field checks


def text(value: object, field_name: str, *, max_len: int = 60, required: bool = False) -> str:
    """User text for names and addresses: no control, bidi or zero-width characters."""
    out = v.text(value, field_name, max_len=max_len, required=required)
    for ch in out:
        if ch in _ZERO_WIDTH:
            raise BillingError(f"{field_name} contains an invisible character (U+{ord(ch):04X}); retype it",
                               field_name)
    return out


def name(value: object, field_name: str, *, required: bool = True) -> str:
    out = text(value, field_name, max_len=60, required=required)
    if "," in out:
        raise BillingError(f"{field_name} cannot contain a comma (it separates last,first in lookups)", field_name)
    return out


def zip_code(value: object, field_name: str = "zip", *, required: bool = False) -> str:
    """``12345`` or ``12345-6789`` (nine digits typed together are split)."""
    raw = text(value, field_name, max_len=12, required=required)
    if not raw:
        return ""
    digits = raw.replace("-", "").replace(" ", "")
    if digits.isascii() and digits.isdigit() and len(digits) in (5, 9) and raw.count("-") <= 1:
        return digits if len(digits) == 5 else f"{digits[:5]}-{digits[5:]}"
    raise BillingError(f"{field_name} must be 5 digits or ZIP+4 like 12345-6789", field_name)


def state_code(value: object, field_name: str = "state", *, required: bool = False) -> str:
    raw = text(value, field_name, max_len=2, required=required).upper()
    if raw and raw not in STATES:
        raise BillingError(f"{field_name} {raw} is not a US state code (two letters, like NY)", field_name)
    return raw


def phone(value: object, field_name: str = "phone") -> str:
    """A 10-digit US number, stored as ``555-123-4567``."""
    raw = text(value, field_name, max_len=30)
    if not raw:
        return ""
    if any(not (ch.isdigit() or ch in " ()-.+") for ch in raw):
        raise BillingError(f"{field_name} must be a 10-digit phone number like 555-123-4567", field_name)
    digits = phone_key(raw)
    if len(digits) != 10 or not digits.isascii():
        raise BillingError(f"{field_name} must be a 10-digit phone number like 555-123-4567", field_name)
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


_CLERK_DATE = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),  # 1980-01-02
    re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$"),  # 01/02/1980, 1-2-1980
    re.compile(r"^(\d{2})(\d{2})(\d{4})$"),  # 01021980
)


def clerk_date(value: object) -> dt.date | None:
    """A date as a clerk types it (01/02/1980, 1980-01-02, 01021980); None if it is not one."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        return None
    raw = value.strip()
    for n, pattern in enumerate(_CLERK_DATE):
        m = pattern.match(raw)
        if not m:
            continue
        a, b, c = (int(g) for g in m.groups())
        y, mo, d = (a, b, c) if n == 0 else (c, a, b)
        try:
            return dt.date(y, mo, d)
        except ValueError:
            return None
    return None


def date_field(value: object, field_name: str, *, required: bool = True) -> str:
    if value in (None, "") and not required:
        return ""
    d = clerk_date(value)
    if d is None:
        raise BillingError(f"{field_name} must be a date like 01/02/1980 or 1980-01-02", field_name)
    if d.year < 1900:
        raise BillingError(f"{field_name} {d.isoformat()} is before 1900", field_name)
    return d.isoformat()


def birth_date(value: object, field_name: str = "dob", *, required: bool = True) -> str:
    out = date_field(value, field_name, required=required)
    if out and out > v.today().isoformat():
        raise BillingError(f"date of birth {out} is in the future", field_name)
    return out


def sex(value: object, field_name: str = "sex", *, required: bool = True) -> str:
    raw = (value or "").strip().upper() if isinstance(value, str) else ""
    if not raw and not required:
        return ""
    if raw not in ("F", "M", "U", "X"):
        raise BillingError(f"{field_name} must be F, M, U (unknown) or X", field_name)
    return raw


def claim_sex(value: str) -> str:
    """Sex as an 837P sends it: F, M or U (X has no X12 code in 005010 and goes as U)."""
    return value if value in ("F", "M") else "U"


def street(value: object, field_name: str, *, required: bool = False, po_box_ok: bool = True) -> str:
    out = text(value, field_name, max_len=55, required=required)
    if out and not po_box_ok and _PO_BOX.search(out):
        raise BillingError(f"{field_name} must be a street address, not a PO box (claims refuse one)", field_name)
    return out


def npi_field(value: object, field_name: str = "npi", *, required: bool = True) -> str:
    raw = (value or "").strip() if isinstance(value, str) else value
    if not raw and not required:
        return ""
    return v.npi(raw, field_name)


def taxonomy(value: object, field_name: str = "taxonomy") -> str:
    raw = text(value, field_name, max_len=10).upper()
    if raw and not re.fullmatch(r"[0-9]{3}[0-9A-Z]{6}X", raw):
        raise BillingError(f"{field_name} must be a 10-character taxonomy code like 207Q00000X", field_name)
    return raw


# --------------------------------------------------------------------------- versions


_SNAPSHOT_COLUMNS = {
    "patient": ("account", "last_name", "first_name", "middle_name", "dob", "sex", "address", "address2", "city",
                "state", "zip", "phone", "guarantor_relationship", "guarantor_last", "guarantor_first",
                "guarantor_address", "guarantor_city", "guarantor_state", "guarantor_zip", "guarantor_phone"),
    "coverage": ("patient_id", "payer_id", "member_id", "group_no", "priority", "relationship", "subscriber_last",
                 "subscriber_first", "subscriber_dob", "subscriber_sex", "subscriber_address", "subscriber_city",
                 "subscriber_state", "subscriber_zip", "effective", "end_date", "assignment", "signature_on_file"),
    "payer": ("code", "name", "kind", "edi_payer_id", "filing_code", "address", "city", "state", "zip", "receiver",
              "timely_filing_days"),
    "provider": ("code", "name", "last_name", "first_name", "npi", "taxonomy", "active"),
    "practice": ("name", "npi", "tax_id", "taxonomy", "street", "city", "state", "zip", "phone", "pay_to_street",
                 "pay_to_city", "pay_to_state", "pay_to_zip", "submitter_id"),
}


def snapshot(entity: str, entity_id: int) -> dict[str, Any] | None:
    """The entity's current row as a dict of its versioned columns."""
    cols = _SNAPSHOT_COLUMNS[entity]
    row = _one(f"SELECT {', '.join(cols)} FROM {entity} WHERE id = ?", (entity_id,))
    return dict(zip(cols, row, strict=False)) if row else None


def _record_version(entity: str, entity_id: int, user: str, now: str, *,
                    before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append the entity's state as it now reads. A record kept from before versions existed
    (imported, or an older file) first gets its earlier state as version 1 (dated '': always)."""
    last = _value("SELECT MAX(version) FROM master_version WHERE entity = ? AND entity_id = ?", (entity, entity_id))
    if last is None and before is not None:
        database.execute_sql(
            "INSERT INTO master_version (entity, entity_id, version, on_date, at, operator, data) "
            "VALUES (?,?,?,?,?,?,?)", (entity, entity_id, 1, "", "", "", audit.canonical(before)))
        last = 1
    data = snapshot(entity, entity_id)
    assert data is not None, "the entity's row was written in this transaction"
    database.execute_sql(
        "INSERT INTO master_version (entity, entity_id, version, on_date, at, operator, data) VALUES (?,?,?,?,?,?,?)",
        (entity, entity_id, (last or 0) + 1, v.today().isoformat(), now, user, audit.canonical(data)),
    )
    return data


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), after[k]] for k in after if before.get(k) != after[k]}


# --------------------------------------------------------------------------- patients


@dataclass(frozen=True)
class PatientIn:
    """A patient's demographics as typed (dates in any form :func:`clerk_date` reads)."""

    last_name: str
    first_name: str
    dob: object
    sex: str
    middle_name: str = ""
    address: str = ""
    address2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    phone: str = ""
    guarantor_relationship: str = "self"
    guarantor_last: str = ""
    guarantor_first: str = ""
    guarantor_address: str = ""
    guarantor_city: str = ""
    guarantor_state: str = ""
    guarantor_zip: str = ""
    guarantor_phone: str = ""


class DuplicatePatient(BillingError):
    """A patient with the same name and date of birth is already registered."""

    def __init__(self, accounts: list[str]) -> None:
        super().__init__(f"already registered with this name and date of birth: {', '.join(accounts)} "
                         "(open that account, or register anyway if it is another person)", "last_name")
        self.accounts = accounts


def _patient_row(p: PatientIn) -> dict[str, str]:
    """Every demographic field checked; the first bad one is refused by name."""
    row = {
        "last_name": name(p.last_name, "last_name"),
        "first_name": name(p.first_name, "first_name"),
        "middle_name": name(p.middle_name, "middle_name", required=False),
        "dob": birth_date(p.dob, "dob"),
        "sex": sex(p.sex, "sex"),
        "address": street(p.address, "address"),
        "address2": street(p.address2, "address2"),
        "city": text(p.city, "city", max_len=30),
        "state": state_code(p.state, "state"),
        "zip": zip_code(p.zip, "zip"),
        "phone": phone(p.phone, "phone"),
        "guarantor_relationship": (p.guarantor_relationship or "self").strip().lower(),
        "guarantor_last": name(p.guarantor_last, "guarantor_last", required=False),
        "guarantor_first": name(p.guarantor_first, "guarantor_first", required=False),
        "guarantor_address": street(p.guarantor_address, "guarantor_address"),
        "guarantor_city": text(p.guarantor_city, "guarantor_city", max_len=30),
        "guarantor_state": state_code(p.guarantor_state, "guarantor_state"),
        "guarantor_zip": zip_code(p.guarantor_zip, "guarantor_zip"),
        "guarantor_phone": phone(p.guarantor_phone, "guarantor_phone"),
    }
    if row["guarantor_relationship"] not in GUARANTOR_RELATIONSHIPS:
        raise BillingError(f"guarantor must be one of {', '.join(GUARANTOR_RELATIONSHIPS)}", "guarantor_relationship")
    if row["guarantor_relationship"] != "self" and not (row["guarantor_last"] and row["guarantor_first"]):
        raise BillingError("a guarantor other than the patient needs a last and first name", "guarantor_last")
    return row


def _keys(row: dict[str, str], account: str) -> dict[str, str]:
    return {"search_key": name_search_key(row["last_name"], row["first_name"]),
            "phone_key": phone_key(row["phone"]), "account_key": account_key(account)}


def duplicates(last: str, first: str, dob: str) -> list[str]:
    """Accounts of patients with the same folded name and date of birth."""
    rows = database.execute_sql("SELECT account FROM patient WHERE search_key = ? AND dob = ? ORDER BY account",
                                (name_search_key(last, first), dob)).fetchall()
    return [r[0] for r in rows]


def _next_account() -> str:
    n = (_value("SELECT MAX(id) FROM patient") or 0) + 1
    while _one("SELECT 1 FROM patient WHERE account = ?", (f"A{n:06d}",)):
        n += 1
    return f"A{n:06d}"


@write
def register_patient(patient: PatientIn, coverages: Iterable[CoverageDetails] = (), *, account: str | None = None,
                     allow_duplicate: bool = False, operator: str | None = None) -> int:
    """Register a new patient (and coverages) in one transaction. Returns the patient id.

    Refuses a second patient with the same name and date of birth unless ``allow_duplicate``
    (twins' parents do name children alike; the clerk decides, having been shown the match).
    """
    user = v.operator(operator)
    row = _patient_row(patient)
    covs = list(coverages)
    acct = _next_account() if not account else text(account, "account", max_len=20, required=True).upper()
    if _one("SELECT 1 FROM patient WHERE account = ?", (acct,)):
        raise BillingError(f"account {acct} is already used", "account")
    if not allow_duplicate:
        same = duplicates(row["last_name"], row["first_name"], row["dob"])
        if same:
            raise DuplicatePatient(same)
    keys = _keys(row, acct)
    cols = {"account": acct, **row, "name_key": f"{row['last_name'].lower()},{row['first_name'].lower()}", **keys}
    pid = _insert(f"INSERT INTO patient ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", tuple(cols.values()))
    now = _now()
    _record_version("patient", pid, user, now)
    audit.record(now, user, "register_patient", "patient", pid, {"account": acct, **row})
    for i, cov in enumerate(covs):
        _add_coverage(pid, cov, user, now, field_prefix=f"coverages[{i}].")
    return pid


@write
def update_patient(patient_id: int, *, operator: str | None = None, **changes: Any) -> dict[str, list[Any]]:
    """Change demographics; returns {field: [old, new]} of what changed (nothing: no version)."""
    user = v.operator(operator)
    before = snapshot("patient", patient_id) if isinstance(patient_id, int) else None
    if before is None:
        raise BillingError(f"patient {patient_id} does not exist", "patient")
    allowed = {f.name for f in fields(PatientIn)}
    unknown = set(changes) - allowed
    if unknown:
        raise BillingError(f"unknown field {sorted(unknown)[0]}", sorted(unknown)[0])
    current = PatientIn(**{k: before[k] for k in allowed})
    row = _patient_row(replace(current, **changes))
    diff = _changed(before, row)
    if not diff:
        return {}
    assignments = {**row, "name_key": f"{row['last_name'].lower()},{row['first_name'].lower()}",
                   **_keys(row, before["account"])}
    database.execute_sql(f"UPDATE patient SET {', '.join(f'{k} = ?' for k in assignments)} WHERE id = ?",
                         (*assignments.values(), patient_id))
    now = _now()
    _record_version("patient", patient_id, user, now, before=before)
    audit.record(now, user, "update_patient", "patient", patient_id, {"changed": diff})
    _move_household(patient_id, before, row, user)
    return diff


_HOME = ("address", "city", "state", "zip")


def _move_household(patient_id: int, before: dict[str, Any], after: dict[str, Any], user: str) -> None:
    """A subscriber (spouse, parent) recorded at the patient's old address lives there: when that
    address is corrected or changes, their coverage's address follows, as a new version of it in
    the same transaction. A subscriber elsewhere is left alone."""
    if not before["address"] or not after["address"] or all(before[k] == after[k] for k in _HOME):
        return  # a blanked address is no move: the subscriber keeps theirs
    for (cid,) in database.execute_sql("SELECT id FROM coverage WHERE patient_id = ? AND relationship <> 'self'",
                                       (patient_id,)).fetchall():
        cov = _coverage(cid)
        if all(cov[f"subscriber_{k}"] == before[k] for k in _HOME):
            _update_coverage(cid, user, {f"subscriber_{k}": after[k] for k in _HOME})


def _existing_patient(patient_id: object) -> None:
    if not isinstance(patient_id, int) or not _one("SELECT 1 FROM patient WHERE id = ?", (patient_id,)):
        raise BillingError(f"patient {patient_id} does not exist", "patient")


@write
def add_note(patient_id: int, note: str, *, operator: str | None = None) -> int:
    """A dated account note by the operator (the collection trail); notes are never edited."""
    user = v.operator(operator)
    _existing_patient(patient_id)
    body = text(note, "note", max_len=500, required=True)
    now = _now()
    nid = _insert("INSERT INTO account_note (patient_id, on_date, at, operator, text) VALUES (?,?,?,?,?)",
                  (patient_id, v.today().isoformat(), now, user, body))
    audit.record(now, user, "add_note", "account_note", nid, {"patient_id": patient_id, "text": body})
    return nid


# --------------------------------------------------------------------------- coverages


@dataclass(frozen=True)
class CoverageDetails:
    """A coverage as a claim needs it. Subscriber fields are for a subscriber other than the patient."""

    payer_id: int
    member_id: str
    priority: int = 1
    group_no: str = ""
    relationship: str = "self"
    subscriber_last: str = ""
    subscriber_first: str = ""
    subscriber_dob: object = ""
    subscriber_sex: str = ""
    subscriber_address: str = ""
    subscriber_city: str = ""
    subscriber_state: str = ""
    subscriber_zip: str = ""
    effective: object = None  # None: from today; "" : since before records were kept (imports)
    end_date: object = ""
    assignment: bool = True
    signature_on_file: bool = True


def _coverage_row(cov: CoverageDetails, prefix: str) -> dict[str, Any]:
    def f(n: str) -> str:  # the field name a form shows the message beside
        return prefix + n

    if isinstance(cov.payer_id, bool) or not isinstance(cov.payer_id, int):
        raise BillingError("choose a payer", f("payer_id"))
    payer = _one("SELECT kind FROM payer WHERE id = ?", (cov.payer_id,))
    if not payer:
        raise BillingError(f"payer {cov.payer_id} does not exist", f("payer_id"))
    if cov.priority not in (1, 2, 3) or isinstance(cov.priority, bool):
        raise BillingError("priority must be 1 (primary), 2 or 3", f("priority"))
    member = text(cov.member_id, f("member_id"), max_len=30)
    if not member and payer[0] != "self-pay":
        raise BillingError("member id is required for an insured coverage (it is on the card)", f("member_id"))
    if member and not re.fullmatch(r"[A-Za-z0-9 -]+", member):
        raise BillingError("member id may hold letters, digits, spaces and dashes only", f("member_id"))
    rel = (cov.relationship or "").strip().lower()
    if rel not in RELATIONSHIPS:
        raise BillingError(f"relationship must be one of {', '.join(RELATIONSHIPS)}", f("relationship"))
    row: dict[str, Any] = {
        "payer_id": cov.payer_id, "member_id": member, "priority": cov.priority,
        "group_no": text(cov.group_no, f("group_no"), max_len=30), "relationship": rel,
        "subscriber_last": name(cov.subscriber_last, f("subscriber_last"), required=rel != "self"),
        "subscriber_first": name(cov.subscriber_first, f("subscriber_first"), required=rel != "self"),
        "subscriber_dob": birth_date(cov.subscriber_dob, f("subscriber_dob"), required=rel != "self"),
        "subscriber_sex": sex(cov.subscriber_sex, f("subscriber_sex"), required=rel != "self"),
        "subscriber_address": street(cov.subscriber_address, f("subscriber_address")),
        "subscriber_city": text(cov.subscriber_city, f("subscriber_city"), max_len=30),
        "subscriber_state": state_code(cov.subscriber_state, f("subscriber_state")),
        "subscriber_zip": zip_code(cov.subscriber_zip, f("subscriber_zip")),
        "effective": (v.today().isoformat() if cov.effective is None
                      else date_field(cov.effective, f("effective"), required=False)),
        "end_date": date_field(cov.end_date, f("end_date"), required=False),
        "assignment": 1 if cov.assignment else 0,
        "signature_on_file": 1 if cov.signature_on_file else 0,
    }
    if rel == "self":  # the patient is the subscriber: nothing of another person's is kept
        for k in list(row):
            if k.startswith("subscriber_"):
                row[k] = ""
    if row["end_date"] and row["end_date"] < row["effective"]:
        raise BillingError(f"end date {row['end_date']} is before the effective date {row['effective']}", f("end_date"))
    return row


def _overlap(patient_id: int, row: dict[str, Any], prefix: str, skip_id: int | None = None) -> None:
    """Refuse a coverage whose dates overlap another of the patient's with the same priority."""
    end = row["end_date"] or "9999-12-31"
    clash = _one(
        "SELECT c.id, y.name, c.effective, c.end_date FROM coverage c JOIN payer y ON y.id = c.payer_id "
        "WHERE c.patient_id = ? AND c.priority = ? AND c.id IS NOT ? "
        "AND (c.end_date = '' OR c.end_date >= ?) AND c.effective <= ? ORDER BY c.id LIMIT 1",
        (patient_id, row["priority"], skip_id, row["effective"], end),
    )
    if clash:
        span = f"from {clash[2] or 'the start'}" + (f" to {clash[3]}" if clash[3] else " with no end date")
        raise BillingError(f"priority {row['priority']} is already held by {clash[1]} {span}: "
                           "end that coverage first, or use another priority", prefix + "priority")


def _add_coverage(patient_id: int, cov: CoverageDetails, user: str, now: str, field_prefix: str = "") -> int:
    row = _coverage_row(cov, field_prefix)
    _overlap(patient_id, row, field_prefix)
    cols = {"patient_id": patient_id, **row}
    cid = _insert(f"INSERT INTO coverage ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                  tuple(cols.values()))
    _record_version("coverage", cid, user, now)
    audit.record(now, user, "add_coverage", "coverage", cid, cols)
    return cid


@write
def add_coverage(patient_id: int, coverage: CoverageDetails, *, operator: str | None = None) -> int:
    user = v.operator(operator)
    _existing_patient(patient_id)
    return _add_coverage(patient_id, coverage, user, _now())


def _coverage(coverage_id: object) -> dict[str, Any]:
    before = snapshot("coverage", coverage_id) if isinstance(coverage_id, int) else None
    if before is None:
        raise BillingError(f"coverage {coverage_id} does not exist", "coverage")
    return before


@write
def update_coverage(coverage_id: int, *, operator: str | None = None, **changes: Any) -> dict[str, list[Any]]:
    """Correct a coverage (a mistyped member id, say); returns what changed."""
    return _update_coverage(coverage_id, v.operator(operator), changes)


def _update_coverage(coverage_id: int, user: str, changes: dict[str, Any]) -> dict[str, list[Any]]:
    before = _coverage(coverage_id)
    allowed = {f.name for f in fields(CoverageDetails)}
    unknown = set(changes) - allowed
    if unknown:
        raise BillingError(f"unknown field {sorted(unknown)[0]}", sorted(unknown)[0])
    current = CoverageDetails(**{k: before[k] for k in allowed})
    row = _coverage_row(replace(current, **changes), "")
    _overlap(before["patient_id"], row, "", skip_id=coverage_id)
    diff = _changed(before, row)
    if not diff:
        return {}
    database.execute_sql(f"UPDATE coverage SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                         (*row.values(), coverage_id))
    now = _now()
    _record_version("coverage", coverage_id, user, now, before=before)
    audit.record(now, user, "update_coverage", "coverage", coverage_id, {"changed": diff})
    return diff


def end_coverage(coverage_id: int, end_date: object, *, operator: str | None = None) -> dict[str, list[Any]]:
    """End a coverage on a date (the plan terminated); it stays on the account as history."""
    return update_coverage(coverage_id, end_date=end_date, operator=operator)


@write
def reorder_coverages(patient_id: int, coverage_ids: Sequence[int], *, operator: str | None = None) -> None:
    """Give the listed coverages priorities 1, 2, 3 in that order (all in one transaction)."""
    user = v.operator(operator)
    ids = list(coverage_ids)
    if not 1 <= len(ids) <= 3 or len(set(ids)) != len(ids):
        raise BillingError("list one to three different coverages in their new order", "coverages")
    befores = []
    for cid in ids:
        before = _coverage(cid)
        if before["patient_id"] != patient_id:
            raise BillingError(f"coverage {cid} is not this patient's", "coverages")
        befores.append(before)
    # Park them outside 1-3 is impossible (CHECK); the overlap rule is checked on the final order.
    now = _now()
    for n, cid in enumerate(ids, start=1):
        database.execute_sql("UPDATE coverage SET priority = ? WHERE id = ?", (n, cid))
    for n, (cid, before) in enumerate(zip(ids, befores, strict=False), start=1):
        row = {**before, "priority": n}
        _overlap(patient_id, row, "", skip_id=cid)
        if before["priority"] != n:
            _record_version("coverage", cid, user, now, before=before)
    audit.record(now, user, "reorder_coverages", "patient", patient_id, {"order": ids})


# --------------------------------------------------------------------------- payers, providers, practice


@dataclass(frozen=True)
class PayerIn:
    code: str
    name: str
    kind: str
    edi_payer_id: str = ""
    filing_code: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    receiver: str = ""
    timely_filing_days: int = 365


_DEFAULT_FILING = {"medicare": "MB", "medicaid": "MC", "commercial": "CI"}


def _payer_row(p: PayerIn) -> dict[str, Any]:
    kind = (p.kind or "").strip().lower()
    if kind not in PAYER_KINDS:
        raise BillingError(f"payer kind must be one of {', '.join(PAYER_KINDS)}", "kind")
    filing = (p.filing_code or _DEFAULT_FILING.get(kind, "ZZ")).strip().upper()
    if filing not in FILING_CODES:
        raise BillingError(f"claim filing indicator {filing} is not an X12 code (CI, MB, MC, BL, HM, ...)",
                           "filing_code")
    edi = text(p.edi_payer_id, "edi_payer_id", max_len=20).upper()
    if edi and not re.fullmatch(r"[A-Z0-9]{2,20}", edi):
        raise BillingError("EDI payer id holds letters and digits only", "edi_payer_id")
    days = p.timely_filing_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise BillingError("timely filing must be a number of days from 1 to 3650", "timely_filing_days")
    return {
        "code": text(p.code, "code", max_len=12, required=True).upper(),
        "name": text(p.name, "name", max_len=60, required=True), "kind": kind, "edi_payer_id": edi,
        "filing_code": filing, "address": street(p.address, "address"),
        "city": text(p.city, "city", max_len=30), "state": state_code(p.state), "zip": zip_code(p.zip),
        "receiver": text(p.receiver, "receiver", max_len=30), "timely_filing_days": days,
    }


@write
def save_payer(payer: PayerIn, payer_id: int | None = None, *, operator: str | None = None) -> int:
    """Add a payer (``payer_id`` None) or change one; returns its id."""
    user = v.operator(operator)
    roles.require("add_payer", user)
    return _save_coded("payer", _payer_row(payer), payer_id, user)


def _save_coded(entity: str, row: dict[str, Any], record_id: int | None, user: str) -> int:
    """Add (``record_id`` None) or change a payer or provider row, versioned and audited; its id."""
    clash = _one(f"SELECT id FROM {entity} WHERE code = ?", (row["code"],))
    if clash and clash[0] != record_id:
        raise BillingError(f"{entity} code {row['code']} is already used", "code")
    now = _now()
    if record_id is None:
        new_id = _insert(f"INSERT INTO {entity} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                         tuple(row.values()))
        _record_version(entity, new_id, user, now)
        audit.record(now, user, f"add_{entity}", entity, new_id, row)
        return new_id
    before = snapshot(entity, record_id) if isinstance(record_id, int) else None
    if before is None:
        raise BillingError(f"{entity} {record_id} does not exist", entity)
    diff = _changed(before, row)
    if diff:
        database.execute_sql(f"UPDATE {entity} SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                             (*row.values(), record_id))
        _record_version(entity, record_id, user, now, before=before)
        audit.record(now, user, f"update_{entity}", entity, record_id, {"changed": diff})
    return record_id


@dataclass(frozen=True)
class ProviderIn:
    code: str
    last_name: str
    first_name: str
    npi: str
    taxonomy: str = ""
    active: bool = True


@write
def save_provider(provider: ProviderIn, provider_id: int | None = None, *, operator: str | None = None) -> int:
    user = v.operator(operator)
    roles.require("add_provider", user)  # master data: a supervisor's
    row = {
        "code": text(provider.code, "code", max_len=10, required=True).upper(),
        "last_name": name(provider.last_name, "last_name"), "first_name": name(provider.first_name, "first_name"),
        "npi": npi_field(provider.npi), "taxonomy": taxonomy(provider.taxonomy),
        "active": 1 if provider.active else 0,
    }
    row["name"] = f"{row['first_name']} {row['last_name']}"
    return _save_coded("provider", row, provider_id, user)


@dataclass(frozen=True)
class PracticeIn:
    name: str
    npi: str
    tax_id: str
    street: str
    city: str
    state: str
    zip: str
    phone: str = ""
    taxonomy: str = ""
    pay_to_street: str = ""
    pay_to_city: str = ""
    pay_to_state: str = ""
    pay_to_zip: str = ""
    submitter_id: str = ""


@write
def save_practice(practice: PracticeIn, *, operator: str | None = None) -> dict[str, list[Any]]:
    """The billing provider as claims print it: a street address (no PO box) with ZIP+4."""
    user = v.operator(operator)
    roles.require("set_practice", user)  # master data: a supervisor's
    ein = "".join(ch for ch in (practice.tax_id or "") if ch.isdigit())
    if len(ein) != 9 or not (practice.tax_id or "").replace("-", "").strip().isdigit():
        raise BillingError("EIN must be 9 digits, like 12-3456789", "tax_id")
    row = {
        "name": text(practice.name, "name", max_len=60, required=True), "npi": npi_field(practice.npi),
        "tax_id": f"{ein[:2]}-{ein[2:]}", "taxonomy": taxonomy(practice.taxonomy),
        "street": street(practice.street, "street", required=True, po_box_ok=False),
        "city": text(practice.city, "city", max_len=30, required=True),
        "state": state_code(practice.state, required=True),
        "zip": zip_code(practice.zip, required=True), "phone": phone(practice.phone),
        "pay_to_street": street(practice.pay_to_street, "pay_to_street"),
        "pay_to_city": text(practice.pay_to_city, "pay_to_city", max_len=30),
        "pay_to_state": state_code(practice.pay_to_state, "pay_to_state"),
        "pay_to_zip": zip_code(practice.pay_to_zip, "pay_to_zip"),
        "submitter_id": text(practice.submitter_id, "submitter_id", max_len=20),
    }
    if len(row["zip"]) != 10:
        raise BillingError("the billing address needs a ZIP+4 (12345-6789): claims require it", "zip")
    before = snapshot("practice", 1)
    address = f"{row['street']}, {row['city']}, {row['state']} {row['zip']}"
    if before is None:
        database.execute_sql(f"INSERT INTO practice (id, address, {', '.join(row)}) VALUES (1, ?, "
                             f"{', '.join('?' * len(row))})", (address, *row.values()))
    else:
        database.execute_sql(f"UPDATE practice SET address = ?, {', '.join(f'{k} = ?' for k in row)} WHERE id = 1",
                             (address, *row.values()))
    diff = _changed(before or {}, row)
    now = _now()
    if diff:
        _record_version("practice", 1, user, now, before=before)
        audit.record(now, user, "save_practice", "practice", 1, {"changed": diff})
    return diff


# --------------------------------------------------------------------------- fees and reasons


@write
def set_fee(code: str, fee: int, effective: object = None, *, description: str | None = None,
            payer_id: int | None = None, default_units: int | None = None, operator: str | None = None) -> str:
    """The office's fee for a code from a date onward (``payer_id``: that payer's allowed amount).

    A code not yet on the schedule needs the office's own description (never CPT text). The
    schedule's current fee (what charge entry fills in) follows a change dated today or earlier.
    """
    user = v.operator(operator)
    roles.require("set_procedure", user)  # master data: a supervisor's
    code = v.procedure_code(code, "code")
    amount = v.cents(fee, "fee")
    day = date_field(effective, "effective", required=False) or v.today().isoformat()
    existing = _one("SELECT description, fee, default_units FROM procedure WHERE code = ?", (code,))
    desc = text(description, "description", max_len=80, required=existing is None) if description is not None else None
    if existing is None and not desc:
        raise BillingError(f"{code} is new to the schedule: give the office's own description", "description")
    units = v.positive_int(default_units, "default units") if default_units is not None else None
    if payer_id is not None and (not isinstance(payer_id, int) or not _one("SELECT 1 FROM payer WHERE id = ?",
                                                                            (payer_id,))):
        raise BillingError(f"payer {payer_id} does not exist", "payer_id")
    now = _now()
    if existing is None:
        database.execute_sql("INSERT INTO procedure (code, description, fee, default_units) VALUES (?,?,?,?)",
                             (code, desc, amount if payer_id is None else 0, units or 1))
    elif desc or units:
        database.execute_sql("UPDATE procedure SET description = ?, default_units = ? WHERE code = ?",
                             (desc or existing[0], units or existing[2], code))
    if existing is not None and payer_id is None and not _one(
            "SELECT 1 FROM fee_schedule WHERE code = ? AND payer_id IS NULL", (code,)):
        # the fee in force before dated fees were kept, so earlier dates still read it
        database.execute_sql("INSERT INTO fee_schedule (code, payer_id, effective, amount, at, operator) "
                             "VALUES (?,?,?,?,?,?)", (code, None, "", existing[1], "", ""))
    database.execute_sql("INSERT INTO fee_schedule (code, payer_id, effective, amount, at, operator) VALUES (?,?,?,?,?,?)",
                         (code, payer_id, day, amount, now, user))
    if payer_id is None and day <= v.today().isoformat():
        # the row inserted just above is in force today at the latest
        current = _value("SELECT amount FROM fee_schedule WHERE code = ? AND payer_id IS NULL AND effective <= ? "
                         "ORDER BY effective DESC, id DESC LIMIT 1", (code, v.today().isoformat()))
        database.execute_sql("UPDATE procedure SET fee = ? WHERE code = ?", (current, code))
    audit.record(now, user, "set_fee", "procedure", None, {"code": code, "fee": amount, "effective": day,
                                                            "payer_id": payer_id, "description": desc})
    return code


@write
def set_reason_active(code: str, active: bool, *, operator: str | None = None) -> None:
    """Retire an adjustment reason from the pick lists (or bring it back); posted rows keep it."""
    user = v.operator(operator)
    roles.require("add_adjustment_reason", user)  # master data: a supervisor's
    if not _one("SELECT 1 FROM adjustment_reason WHERE code = ?", (code,)):
        raise BillingError(f"adjustment reason {code} does not exist", "code")
    database.execute_sql("UPDATE adjustment_reason SET active = ? WHERE code = ?", (1 if active else 0, code))
    audit.record(_now(), user, "set_reason_active", "adjustment_reason", None, {"code": code, "active": bool(active)})


@write
def save_reason(code: str, description: str = "", kind: str = "office", active: bool = True, *,
                operator: str | None = None) -> str:
    """Add an adjustment reason (when new) and set whether the pick lists offer it."""
    from .operations import add_adjustment_reason

    code = text(code, "code", max_len=12, required=True).upper()
    if not _one("SELECT 1 FROM adjustment_reason WHERE code = ?", (code,)):
        add_adjustment_reason(code, description, (kind or "office").strip().lower(), operator=operator)
    set_reason_active(code, active, operator=operator)
    return code


@write
def fill_search_keys() -> int:
    """Fill the search keys a bulk load left empty (the demo calls this); returns how many."""
    return refresh_search_keys()
