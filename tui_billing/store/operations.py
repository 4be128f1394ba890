"""The posting operations: the only code that writes to the books.

Every operation takes plain values and returns plain values. Each one is a single
``BEGIN IMMEDIATE`` transaction (see :func:`db.write`): it validates everything first, then
writes its rows and its audit event together, so a refused operation changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

from ..money import MAX_CENTS, format_cents
from . import audit
from . import validate as v
from .db import database, write
from .errors import BillingError

PAYER_KINDS = ("commercial", "medicare", "medicaid", "self-pay", "other")
METHODS = ("cash", "check", "card", "eft")
#: Sentinel for "bill the patient's primary coverage" (None means the patient pays).
PRIMARY = "primary"

#: Reasons every office starts with: common CARC codes and the usual office write-offs.
STANDARD_REASONS: tuple[tuple[str, str, str], ...] = (
    ("CO-45", "Contractual: charge exceeds the allowed amount", "carc"),
    ("CO-97", "Contractual: included in another service's payment", "carc"),
    ("CO-253", "Contractual: sequestration reduction", "carc"),
    ("PR-1", "Patient responsibility: deductible", "carc"),
    ("PR-2", "Patient responsibility: coinsurance", "carc"),
    ("PR-3", "Patient responsibility: copay", "carc"),
    ("OA-23", "Other: prior payer's adjudication", "carc"),
    ("SMALL", "Small balance write-off", "office"),
    ("COURTESY", "Professional courtesy", "office"),
    ("BADDEBT", "Bad debt write-off", "office"),
    ("CORR", "Correction (increase or decrease)", "office"),
)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _one(sql: str, params: Sequence[Any] = ()) -> tuple | None:
    try:
        return database.execute_sql(sql, params).fetchone()
    except OverflowError:  # an id past SQLite's 64-bit range matches no row (not a crash)
        return None


def _insert(sql: str, params: Sequence[Any]) -> int:
    return database.execute_sql(sql, params).lastrowid


# --------------------------------------------------------------------------- master data


@write
def set_practice(name: str, npi: str = "", tax_id: str = "", address: str = "", phone: str = "", *, operator: str | None = None) -> None:
    """Set the practice's header details (used on reports and claims)."""
    user = v.operator(operator)
    row = {
        "name": v.text(name, "practice name"),
        "npi": v.npi(npi) if npi else "",
        "tax_id": v.text(tax_id, "tax id", max_len=20, required=False),
        "address": v.text(address, "address", required=False),
        "phone": v.text(phone, "phone", max_len=30, required=False),
    }
    database.execute_sql(
        "INSERT INTO practice (id, name, npi, tax_id, address, phone) VALUES (1, ?,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, npi=excluded.npi, tax_id=excluded.tax_id, "
        "address=excluded.address, phone=excluded.phone",
        tuple(row.values()),
    )
    audit.record(_now(), user, "set_practice", "practice", 1, row)


@write
def add_provider(code: str, name: str, npi: str, *, operator: str | None = None) -> int:
    user = v.operator(operator)
    code = v.text(code, "provider code", max_len=10).upper()
    name = v.text(name, "provider name", max_len=100)
    npi = v.npi(npi)
    if _one("SELECT 1 FROM provider WHERE code = ?", (code,)):
        raise BillingError(f"provider code {code} is already used", "code")
    pid = _insert("INSERT INTO provider (code, name, npi) VALUES (?,?,?)", (code, name, npi))
    audit.record(_now(), user, "add_provider", "provider", pid, {"code": code, "name": name, "npi": npi})
    return pid


@write
def add_payer(code: str, name: str, kind: str, edi_payer_id: str = "", *, operator: str | None = None) -> int:
    user = v.operator(operator)
    code = v.text(code, "payer code", max_len=12).upper()
    name = v.text(name, "payer name", max_len=100)
    if kind not in PAYER_KINDS:
        raise BillingError(f"payer kind must be one of {', '.join(PAYER_KINDS)}", "kind")
    edi = v.text(edi_payer_id, "EDI payer id", max_len=20, required=False)
    if _one("SELECT 1 FROM payer WHERE code = ?", (code,)):
        raise BillingError(f"payer code {code} is already used", "code")
    pid = _insert("INSERT INTO payer (code, name, edi_payer_id, kind) VALUES (?,?,?,?)", (code, name, edi, kind))
    audit.record(_now(), user, "add_payer", "payer", pid, {"code": code, "name": name, "kind": kind, "edi": edi})
    return pid


@dataclass(frozen=True)
class CoverageIn:
    """A patient's insurance: payer, member id, group, and priority 1 (primary) to 3."""

    payer_id: int
    member_id: str
    priority: int = 1
    group_no: str = ""


def name_key(last: str, first: str) -> str:
    """The lookup key for ``last,first`` prefix search (case-insensitive)."""
    return f"{last.strip().lower()},{first.strip().lower()}"


@write
def add_patient(
    account: str, last_name: str, first_name: str, dob: object, sex: str,
    *, address: str = "", city: str = "", state: str = "", zip: str = "", phone: str = "",
    coverages: Iterable[CoverageIn] = (), operator: str | None = None,
) -> int:
    """Register a patient with up to three coverages. Returns the patient id."""
    user = v.operator(operator)
    account = v.text(account, "account", max_len=20).upper()
    last = v.text(last_name, "last name", max_len=60)
    first = v.text(first_name, "first name", max_len=60)
    if "," in last or "," in first:
        raise BillingError("names cannot contain a comma (it separates last,first in lookups)", "last_name")
    birth = v.iso_date(dob, "date of birth")
    if birth > v.today().isoformat():
        raise BillingError(f"date of birth {birth} is in the future", "dob")
    sex = (sex or "").strip().upper()
    if sex not in ("F", "M", "X", "U"):
        raise BillingError("sex must be F, M, X or U", "sex")
    fields = {
        "address": v.text(address, "address", required=False),
        "city": v.text(city, "city", max_len=60, required=False),
        "state": v.text(state, "state", max_len=2, required=False).upper(),
        "zip": v.text(zip, "zip", max_len=10, required=False),
        "phone": v.text(phone, "phone", max_len=30, required=False),
    }
    covs = list(coverages)
    seen = set()
    for i, cov in enumerate(covs):
        if cov.priority not in (1, 2, 3) or cov.priority in seen:
            raise BillingError("coverage priorities must be 1, 2 or 3, each used once", f"coverages[{i}]")
        seen.add(cov.priority)
        if not _one("SELECT 1 FROM payer WHERE id = ?", (cov.payer_id,)):
            raise BillingError(f"payer {cov.payer_id} does not exist", f"coverages[{i}]")
        v.text(cov.member_id, "member id", max_len=30)
        v.text(cov.group_no, "group number", max_len=30, required=False)
    if _one("SELECT 1 FROM patient WHERE account = ?", (account,)):
        raise BillingError(f"account {account} is already used", "account")
    pid = _insert(
        "INSERT INTO patient (account, last_name, first_name, name_key, dob, sex, address, city, state, zip, phone) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (account, last, first, name_key(last, first), birth, sex, *fields.values()),
    )
    from .accounts import refresh_search_keys  # the folded keys the account search reads

    refresh_search_keys(pid)
    for cov in covs:
        _insert(
            "INSERT INTO coverage (patient_id, payer_id, member_id, group_no, priority) VALUES (?,?,?,?,?)",
            (pid, cov.payer_id, cov.member_id.strip(), cov.group_no.strip(), cov.priority),
        )
    audit.record(_now(), user, "add_patient", "patient", pid,
                 {"account": account, "last": last, "first": first, "coverages": [asdict(c) for c in covs]})
    return pid


@write
def set_procedure(code: str, description: str, fee: int, default_units: int = 1, *, operator: str | None = None) -> str:
    """Add or change a fee-schedule line (the office's own description, never CPT text)."""
    user = v.operator(operator)
    code = v.procedure_code(code, "code")
    description = v.text(description, "description", max_len=80)
    fee = v.cents(fee, "fee")
    units = v.positive_int(default_units, "default units")
    database.execute_sql(
        "INSERT INTO procedure (code, description, fee, default_units) VALUES (?,?,?,?) "
        "ON CONFLICT(code) DO UPDATE SET description=excluded.description, fee=excluded.fee, "
        "default_units=excluded.default_units",
        (code, description, fee, units),
    )
    audit.record(_now(), user, "set_procedure", "procedure", None,
                 {"code": code, "description": description, "fee": fee, "units": units})
    return code


@write
def add_adjustment_reason(code: str, description: str, kind: str = "office", *, operator: str | None = None) -> str:
    user = v.operator(operator)
    code = v.text(code, "reason code", max_len=12).upper()
    description = v.text(description, "description", max_len=80)
    if kind not in ("carc", "office"):
        raise BillingError("reason kind must be carc or office", "kind")
    if _one("SELECT 1 FROM adjustment_reason WHERE code = ?", (code,)):
        raise BillingError(f"reason {code} already exists", "code")
    database.execute_sql("INSERT INTO adjustment_reason (code, description, kind) VALUES (?,?,?)", (code, description, kind))
    audit.record(_now(), user, "add_adjustment_reason", "adjustment_reason", None,
                 {"code": code, "description": description, "kind": kind})
    return code


@write
def seed_standard_reasons(*, operator: str | None = None) -> int:
    """Add the standard adjustment reasons that are missing. Returns how many were added."""
    added = 0
    for code, description, kind in STANDARD_REASONS:
        if not _one("SELECT 1 FROM adjustment_reason WHERE code = ?", (code,)):
            add_adjustment_reason(code, description, kind, operator=operator)
            added += 1
    return added


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class BatchStatus:
    """A batch's control figures against what was entered, and whether it is closed."""

    id: int
    kind: str
    posting_date: str
    operator: str
    control_count: int
    control_total: int
    entered_count: int
    entered_total: int
    closed: bool

    @property
    def count_difference(self) -> int:
        return self.entered_count - self.control_count

    @property
    def total_difference(self) -> int:
        return self.entered_total - self.control_total

    @property
    def balanced(self) -> bool:
        return self.count_difference == 0 and self.total_difference == 0

    @property
    def status(self) -> str:
        """``closed``, ``open`` or ``unbalanced`` (open and off its control figures)."""
        if self.closed:
            return "closed"
        return "open" if self.balanced else "unbalanced"


def batch_status(batch_id: int) -> BatchStatus:
    """Control figures against what was entered (a reversal in the batch counts -1)."""
    row = _one(
        "SELECT b.id, b.kind, b.posting_date, b.operator, b.control_count, b.control_total, "
        "bc.batch_id IS NOT NULL FROM batch b LEFT JOIN batch_close bc ON bc.batch_id = b.id WHERE b.id = ?",
        (batch_id,),
    )
    if not row:
        raise BillingError(f"batch {batch_id} does not exist", "batch")
    if row[1] == "charge":
        count = _one(
            "SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0) FROM encounter WHERE batch_id = ?",
            (batch_id,),
        )[0]
        total = _one("SELECT COALESCE(SUM(amount), 0) FROM charge WHERE batch_id = ?", (batch_id,))[0]
    else:
        count, total = _one(
            "SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0), COALESCE(SUM(amount), 0) "
            "FROM receipt WHERE batch_id = ?",
            (batch_id,),
        )
    return BatchStatus(row[0], row[1], row[2], row[3], row[4], row[5], count, total, bool(row[6]))


@write
def open_batch(kind: str, control_count: int, control_total: int, *, posting_date: object | None = None,
               operator: str | None = None) -> int:
    """Open a charge or receipt batch with the control figures from the paper stack or tape."""
    user = v.operator(operator)
    if kind not in ("charge", "receipt"):
        raise BillingError("batch kind must be charge or receipt", "kind")
    date = v.posting_date(posting_date)
    if isinstance(control_count, bool) or not isinstance(control_count, int) or control_count < 0 or control_count > 9999:
        raise BillingError("control count must be a whole number from 0 to 9999", "control_count")
    total = v.cents(control_total, "control total")
    bid = _insert(
        "INSERT INTO batch (kind, posting_date, operator, control_count, control_total, opened_at) VALUES (?,?,?,?,?,?)",
        (kind, date, user, control_count, total, _now()),
    )
    audit.record(_now(), user, "open_batch", "batch", bid,
                 {"kind": kind, "posting_date": date, "control_count": control_count, "control_total": total})
    return bid


@write
def close_batch(batch_id: int, *, operator: str | None = None) -> BatchStatus:
    """Close a batch; refused (with the difference) unless entered equals control."""
    user = v.operator(operator)
    status = batch_status(batch_id)
    if status.closed:
        raise BillingError(f"batch {batch_id} is already closed", "batch")
    if not status.balanced:
        raise BillingError(
            f"batch {batch_id} does not balance: entered {status.entered_count} / {format_cents(status.entered_total)}, "
            f"control {status.control_count} / {format_cents(status.control_total)} "
            f"(difference {status.count_difference:+d} / {format_cents(status.total_difference)})",
            "batch",
        )
    database.execute_sql(
        "INSERT INTO batch_close (batch_id, closed_at, operator, entered_count, entered_total) VALUES (?,?,?,?,?)",
        (batch_id, _now(), user, status.entered_count, status.entered_total),
    )
    audit.record(_now(), user, "close_batch", "batch", batch_id,
                 {"entered_count": status.entered_count, "entered_total": status.entered_total})
    return batch_status(batch_id)


def _open_batch_for(batch_id: int | None, kind: str, date: str) -> int | None:
    if batch_id is None:
        return None
    status = batch_status(batch_id)
    if status.kind != kind:
        raise BillingError(f"batch {batch_id} is a {status.kind} batch, not a {kind} batch", "batch")
    if status.closed:
        raise BillingError(f"batch {batch_id} is closed: open a new batch", "batch")
    if status.posting_date != date:
        raise BillingError(f"batch {batch_id} is for posting date {status.posting_date}, not {date}", "batch")
    return batch_id


# --------------------------------------------------------------------------- charges


@dataclass(frozen=True)
class ChargeLine:
    """One service line as keyed: fee is per unit (None takes the fee schedule's)."""

    code: str
    units: int = 1
    fee: int | None = None
    modifiers: tuple[str, ...] = ()
    dx_pointers: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class PostedEncounter:
    encounter_id: int
    charge_ids: tuple[int, ...]
    total: int


def _patient(patient_id: object, field: str = "patient") -> tuple:
    if isinstance(patient_id, bool) or not isinstance(patient_id, int):
        raise BillingError("choose a patient", field)
    row = _one("SELECT id, account, last_name, first_name FROM patient WHERE id = ?", (patient_id,))
    if not row:
        raise BillingError(f"patient {patient_id} does not exist", field)
    return row


def primary_payer_id(patient_id: int, on: str | None = None) -> int | None:
    """The payer of the first coverage in force on ``on`` (default today); ended plans are skipped."""
    day = on or v.today().isoformat()
    row = _one("SELECT payer_id FROM coverage WHERE patient_id = ? AND effective <= ? "
               "AND (end_date = '' OR end_date >= ?) ORDER BY priority, id LIMIT 1", (patient_id, day, day))
    return row[0] if row else None


@write
def post_encounter(
    *, patient_id: int, provider_id: int, dos: object, diagnoses: Sequence[str], lines: Sequence[ChargeLine],
    pos: str = "11", payer_id: int | None | str = PRIMARY, batch_id: int | None = None,
    posting_date: object | None = None, operator: str | None = None,
) -> PostedEncounter:
    """Post one encounter: its diagnoses and up to 6 charge lines, all or nothing."""
    user = v.operator(operator)
    _patient(patient_id)
    if isinstance(provider_id, bool) or not isinstance(provider_id, int) or not _one(
        "SELECT 1 FROM provider WHERE id = ? AND active", (provider_id,)
    ):
        raise BillingError(f"provider {provider_id} does not exist or is inactive", "provider")
    if payer_id == PRIMARY:
        payer_id = primary_payer_id(patient_id)
    elif payer_id is not None and (isinstance(payer_id, bool) or not isinstance(payer_id, int) or not _one(
        "SELECT 1 FROM payer WHERE id = ?", (payer_id,)
    )):
        raise BillingError(f"payer {payer_id} does not exist", "payer")
    service = v.service_date(dos)
    place = v.pos(pos)
    date = v.posting_date(posting_date)
    batch = _open_batch_for(batch_id, "charge", date)

    diagnoses = list(diagnoses)
    if not diagnoses:
        raise BillingError("at least one diagnosis is required", "diagnoses[0]")
    if len(diagnoses) > 12:
        raise BillingError("at most 12 diagnoses per encounter", "diagnoses[12]")
    dx_codes = []
    for i, code in enumerate(diagnoses):
        dx = v.icd10(code, f"diagnoses[{i}]")
        if dx.code in dx_codes:
            raise BillingError(f"diagnosis {dx.dotted} is listed twice", f"diagnoses[{i}]")
        dx_codes.append(dx.code)

    lines = list(lines)
    if not lines:
        raise BillingError("at least one service line is required", "lines[0]")
    if len(lines) > 6:
        raise BillingError("at most 6 service lines per encounter", "lines[6]")
    prepared = []
    for i, line in enumerate(lines):
        code = v.procedure_code(line.code, f"lines[{i}].code")
        sched = _one("SELECT fee FROM procedure WHERE code = ?", (code,))
        if not sched:
            raise BillingError(f"{code} is not in the office's fee schedule", f"lines[{i}].code")
        units = v.positive_int(line.units, f"lines[{i}].units")
        fee = sched[0] if line.fee is None else v.cents(line.fee, f"lines[{i}].fee")
        amount = fee * units
        if amount > MAX_CENTS:
            raise BillingError(f"line {i + 1} amount {format_cents(amount)} is over the ceiling", f"lines[{i}].fee")
        mods = list(line.modifiers)
        if len(mods) > 4:
            raise BillingError("at most 4 modifiers per line", f"lines[{i}].modifiers")
        mods = [v.modifier(m, f"lines[{i}].modifiers") for m in mods]
        pointers = list(line.dx_pointers)
        if not pointers or len(pointers) > 4:
            raise BillingError("each line needs 1 to 4 diagnosis pointers", f"lines[{i}].dx_pointers")
        for p in pointers:
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= len(dx_codes):
                raise BillingError(f"diagnosis pointer {p} does not point at one of the {len(dx_codes)} diagnoses",
                                   f"lines[{i}].dx_pointers")
        prepared.append((code, ",".join(mods), ",".join(map(str, pointers)), units, fee, amount))

    now = _now()
    enc = _insert(
        "INSERT INTO encounter (patient_id, provider_id, payer_id, dos, pos, batch_id, posting_date, operator, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (patient_id, provider_id, payer_id, service, place, batch, date, user, now),
    )
    for seq, code in enumerate(dx_codes, start=1):
        database.execute_sql("INSERT INTO encounter_diagnosis (encounter_id, seq, code) VALUES (?,?,?)", (enc, seq, code))
    ids = []
    for n, (code, mods, pointers, units, fee, amount) in enumerate(prepared, start=1):
        ids.append(_insert(
            "INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, modifiers, "
            "dx_pointers, units, fee, amount, batch_id, posting_date, operator) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (enc, n, patient_id, provider_id, payer_id, service, place, code, mods, pointers, units, fee, amount,
             batch, date, user),
        ))
    total = sum(p[5] for p in prepared)
    audit.record(now, user, "post_encounter", "encounter", enc, {
        "patient_id": patient_id, "provider_id": provider_id, "payer_id": payer_id, "dos": service, "pos": place,
        "posting_date": date, "batch_id": batch, "diagnoses": dx_codes,
        "lines": [dict(zip(("code", "modifiers", "dx", "units", "fee", "amount"), p)) for p in prepared],
        "total": total,
    })
    return PostedEncounter(enc, tuple(ids), total)


# --------------------------------------------------------------------------- receipts


@dataclass(frozen=True)
class PostedReceipt:
    receipt_id: int
    #: earlier receipts from the same source with the same check/EFT reference (flag, not refusal)
    possible_duplicates: tuple[int, ...] = ()


def find_duplicate_receipts(*, payer_id: int | None, patient_id: int | None, reference: str) -> tuple[int, ...]:
    """Live receipts from the same payer (or patient) with the same reference."""
    if not reference:
        return ()
    if payer_id is not None:
        sql, key = "r.payer_id = ?", payer_id
    else:
        sql, key = "r.patient_id = ? AND r.source = 'patient'", patient_id
    rows = database.execute_sql(
        f"SELECT r.id FROM receipt r WHERE {sql} AND r.reference = ? AND r.reverses_id IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM receipt v WHERE v.reverses_id = r.id) ORDER BY r.id",
        (key, reference),
    ).fetchall()
    return tuple(r[0] for r in rows)


@write
def record_receipt(
    *, amount: int, method: str, patient_id: int | None = None, payer_id: int | None = None, reference: str = "",
    received_date: object | None = None, batch_id: int | None = None, posting_date: object | None = None,
    operator: str | None = None,
) -> PostedReceipt:
    """Record money received from a patient or a payer. It waits unapplied until distributed."""
    user = v.operator(operator)
    if payer_id is None and patient_id is None:
        raise BillingError("say who paid: a patient or a payer", "source")
    if payer_id is not None:
        if isinstance(payer_id, bool) or not isinstance(payer_id, int) or not _one("SELECT 1 FROM payer WHERE id = ?", (payer_id,)):
            raise BillingError(f"payer {payer_id} does not exist", "payer")
    if patient_id is not None:
        _patient(patient_id)
    source = "payer" if payer_id is not None else "patient"
    if method not in METHODS:
        raise BillingError(f"method must be one of {', '.join(METHODS)}", "method")
    amount = v.cents(amount, "amount", allow_zero=False)
    if method in ("check", "eft") and not (reference or "").strip():
        raise BillingError(f"a {method.upper() if method == 'eft' else method} needs its "
                           f"{'check number' if method == 'check' else 'trace number'} as the reference", "reference")
    reference = v.text(reference, "reference", max_len=40, required=False)
    date = v.posting_date(posting_date)
    # After today's close the posting date rolls on to the next day, but money received today
    # was still received today: the default never lands in the future.
    if received_date is None:
        received = min(date, v.today().isoformat())
    else:
        received = v.iso_date(received_date, "received date")
    if received > v.today().isoformat():
        raise BillingError(f"received date {received} is in the future", "received_date")
    batch = _open_batch_for(batch_id, "receipt", date)
    duplicates = find_duplicate_receipts(payer_id=payer_id, patient_id=patient_id, reference=reference) \
        if method in ("check", "eft") else ()
    rid = _insert(
        "INSERT INTO receipt (batch_id, source, patient_id, payer_id, method, reference, amount, received_date, "
        "posting_date, operator, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (batch, source, patient_id, payer_id, method, reference, amount, received, date, user, _now()),
    )
    audit.record(_now(), user, "record_receipt", "receipt", rid, {
        "source": source, "patient_id": patient_id, "payer_id": payer_id, "method": method, "reference": reference,
        "amount": amount, "received_date": received, "posting_date": date, "batch_id": batch,
        "possible_duplicates": list(duplicates),
    })
    return PostedReceipt(rid, duplicates)


@dataclass(frozen=True)
class DistributionLine:
    """What to do to one charge: apply money, adjust (with a reason), move the rest on.

    The rest moves to the patient (``transfer_to_patient``) or to another payer such as the
    secondary coverage (``transfer_to_payer``); never both.
    """

    charge_id: int
    applied: int = 0
    adjustment: int = 0
    reason: str | None = None
    transfer_to_patient: bool = False
    transfer_to_payer: int | None = None


def _live_receipt(receipt_id: object) -> tuple:
    if isinstance(receipt_id, bool) or not isinstance(receipt_id, int):
        raise BillingError("choose a receipt", "receipt")
    row = _one(
        "SELECT r.id, r.source, r.patient_id, r.payer_id, r.reverses_id, rb.unapplied, "
        "EXISTS (SELECT 1 FROM receipt v WHERE v.reverses_id = r.id) "
        "FROM receipt r LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id WHERE r.id = ?",
        (receipt_id,),
    )
    if not row:
        raise BillingError(f"receipt {receipt_id} does not exist", "receipt")
    if row[4] is not None:
        raise BillingError(f"receipt {receipt_id} is a reversing entry; it cannot be used", "receipt")
    if row[6]:
        raise BillingError(f"receipt {receipt_id} was voided", "receipt")
    return row


@write
def distribute(
    receipt_id: int | None, lines: Sequence[DistributionLine], *, posting_date: object | None = None,
    operator: str | None = None,
) -> int:
    """Apply a receipt to charges, with adjustments and transfers, as one posted distribution.

    ``receipt_id`` may be None for adjustments and transfers alone (a write-off, a move to the
    patient). Over-applying a charge or the receipt is refused. Returns the distribution id.
    """
    user = v.operator(operator)
    date = v.posting_date(posting_date)
    receipt = _live_receipt(receipt_id) if receipt_id is not None else None
    lines = list(lines)
    if not lines:
        raise BillingError("nothing to post: no lines", "lines")
    if len(lines) > 5000:
        raise BillingError("at most 5000 lines in one distribution", "lines")
    total_applied = 0
    balances: dict[int, int] = {}
    payers: dict[int, int | None] = {}
    plan: list[tuple[int, int, int, str | None, bool]] = []
    for i, line in enumerate(lines):
        f = f"lines[{i}]"
        if isinstance(line.charge_id, bool) or not isinstance(line.charge_id, int):
            raise BillingError("choose a charge", f + ".charge")
        row = _one(
            "SELECT c.patient_id, c.payer_id, c.reverses_id, cb.balance, cb.payer_id FROM charge c "
            "LEFT JOIN charge_balance cb ON cb.charge_id = c.id WHERE c.id = ?",
            (line.charge_id,),
        )
        if not row:
            raise BillingError(f"charge {line.charge_id} does not exist", f + ".charge")
        if row[2] is not None:
            raise BillingError(f"charge {line.charge_id} is a reversing entry", f + ".charge")
        applied = v.cents(line.applied, f"line {i + 1} applied amount")
        adjustment = v.cents(line.adjustment, f"line {i + 1} adjustment", allow_negative=True)
        if applied and receipt is None:
            raise BillingError("money can only be applied from a receipt", f + ".applied")
        if receipt is not None and applied:
            if receipt[1] == "patient" and row[0] != receipt[2]:
                raise BillingError(f"charge {line.charge_id} belongs to another patient than this receipt's",
                                   f + ".charge")
            if receipt[1] == "payer" and receipt[3] not in (row[1], row[4]):
                raise BillingError(f"charge {line.charge_id} is not billed to this receipt's payer", f + ".charge")
        reason = None
        if adjustment:
            reason = (line.reason or "").strip().upper()
            if not reason:
                raise BillingError(f"line {i + 1}: an adjustment needs a reason", f + ".reason")
            if not _one("SELECT 1 FROM adjustment_reason WHERE code = ?", (reason,)):
                raise BillingError(f"line {i + 1}: {reason} is not an adjustment reason", f + ".reason")
        balance = balances.get(line.charge_id, row[3])
        after = balance - applied - adjustment
        if after < 0:
            raise BillingError(
                f"line {i + 1}: {format_cents(applied + adjustment)} is more than the charge's balance "
                f"{format_cents(balance)}", f + ".applied")
        balances[line.charge_id] = after
        payers.setdefault(line.charge_id, row[4])
        total_applied += applied
        target: int | None | bool = False  # False: no transfer; None: to the patient; id: to that payer
        if line.transfer_to_patient and line.transfer_to_payer is not None:
            raise BillingError(f"line {i + 1}: move the rest to the patient or to a payer, not both", f + ".transfer")
        if line.transfer_to_patient:
            target = None
        elif line.transfer_to_payer is not None:
            target = line.transfer_to_payer
            if isinstance(target, bool) or not isinstance(target, int) or not _one(
                    "SELECT 1 FROM payer WHERE id = ?", (target,)):
                raise BillingError(f"line {i + 1}: payer {target} does not exist", f + ".transfer")
            if target == payers[line.charge_id]:
                raise BillingError(f"line {i + 1}: charge {line.charge_id} is already that payer's to pay",
                                   f + ".transfer")
        if not (applied or adjustment or target is not False):
            continue
        plan.append((line.charge_id, applied, adjustment, reason, target))
    if receipt is not None and total_applied > receipt[5]:
        raise BillingError(
            f"{format_cents(total_applied)} is more than the receipt's unapplied {format_cents(receipt[5])}", "applied")
    # A move to the patient of a charge the patient already owes, or of nothing left, is no move.
    transfers = [(cid, payers[cid], balances[cid], t) for cid, *_, t in plan
                 if t is not False and payers[cid] != t and balances[cid] > 0]
    transfers = list(dict.fromkeys(transfers))
    if not any(a or j for _, a, j, _, _ in plan) and not transfers:
        raise BillingError("nothing to post: every line is empty", "lines")
    now = _now()
    did = _insert("INSERT INTO distribution (receipt_id, posting_date, operator, created_at) VALUES (?,?,?,?)",
                  (receipt_id, date, user, now))
    detail: dict[str, list] = {"applications": [], "adjustments": [], "transfers": []}
    for cid, applied, adjustment, reason, _ in plan:
        if applied:
            _insert("INSERT INTO application (distribution_id, receipt_id, charge_id, amount, posting_date, operator) "
                    "VALUES (?,?,?,?,?,?)", (did, receipt_id, cid, applied, date, user))
            detail["applications"].append([cid, applied])
        if adjustment:
            _insert("INSERT INTO adjustment (distribution_id, charge_id, reason_code, amount, posting_date, operator) "
                    "VALUES (?,?,?,?,?,?)", (did, cid, reason, adjustment, date, user))
            detail["adjustments"].append([cid, reason, adjustment])
    for cid, from_payer, remaining, to_payer in transfers:
        _insert("INSERT INTO transfer (distribution_id, charge_id, from_payer_id, to_payer_id, amount, posting_date, "
                "operator) VALUES (?,?,?,?,?,?,?)", (did, cid, from_payer, to_payer, remaining, date, user))
        detail["transfers"].append([cid, from_payer, remaining] + ([to_payer] if to_payer is not None else []))
    audit.record(now, user, "distribute", "distribution", did, {"receipt_id": receipt_id, "posting_date": date, **detail})
    return did


def transfer_to_patient(charge_ids: Sequence[int], *, posting_date: object | None = None,
                        operator: str | None = None) -> int:
    """Move the remaining balance of charges from their payer to the patient."""
    return distribute(None, [DistributionLine(cid, transfer_to_patient=True) for cid in charge_ids],
                      posting_date=posting_date, operator=operator)


def transfer_to_payer(charge_ids: Sequence[int], payer_id: int, *, posting_date: object | None = None,
                      operator: str | None = None) -> int:
    """Move the remaining balance of charges to another payer (the next coverage, usually)."""
    return distribute(None, [DistributionLine(cid, transfer_to_payer=payer_id) for cid in charge_ids],
                      posting_date=posting_date, operator=operator)


@write
def refund(receipt_id: int, amount: int, *, method: str, reference: str = "", reason: str = "",
           posting_date: object | None = None, operator: str | None = None) -> int:
    """Pay unapplied credit back out of a receipt."""
    user = v.operator(operator)
    receipt = _live_receipt(receipt_id)
    amount = v.cents(amount, "refund amount", allow_zero=False)
    if method not in METHODS:
        raise BillingError(f"method must be one of {', '.join(METHODS)}", "method")
    reference = v.text(reference, "reference", max_len=40, required=method in ("check", "eft"))
    reason = v.text(reason, "reason", max_len=200, required=False)
    date = v.posting_date(posting_date)
    if amount > receipt[5]:
        raise BillingError(f"refund {format_cents(amount)} is more than the receipt's unapplied "
                           f"{format_cents(receipt[5])}", "amount")
    fid = _insert("INSERT INTO refund (receipt_id, method, reference, reason, amount, posting_date, operator, created_at) "
                  "VALUES (?,?,?,?,?,?,?,?)", (receipt_id, method, reference, reason, amount, date, user, _now()))
    audit.record(_now(), user, "refund", "refund", fid,
                 {"receipt_id": receipt_id, "amount": amount, "method": method, "reference": reference, "reason": reason})
    return fid


# --------------------------------------------------------------------------- voids

VOIDABLE = ("encounter", "receipt", "distribution", "refund")


def _reversal_batch(batch_id: int | None, date: str) -> int | None:
    """A reversal joins its original's batch only while that batch is still open that day."""
    if batch_id is None:
        return None
    status = batch_status(batch_id)
    return batch_id if not status.closed and status.posting_date == date else None


def _voidable(table: str, entry_id: int, columns: str) -> tuple:
    """The columns of an original row that has not been voided yet (else a clear refusal)."""
    row = _one(f"SELECT {columns}, t.reverses_id, EXISTS (SELECT 1 FROM {table} x WHERE x.reverses_id = t.id) "
               f"FROM {table} t WHERE t.id = ?", (entry_id,))
    if not row:
        raise BillingError(f"{table} {entry_id} does not exist", "id")
    if row[-2] is not None:
        raise BillingError(f"{table} {entry_id} is itself a reversal", "id")
    if row[-1]:
        raise BillingError(f"{table} {entry_id} was already voided", "id")
    return row[:-2]


def _void_distribution(did: int, reason: str, date: str, user: str, now: str) -> int:
    row = _voidable("distribution", did, "t.receipt_id")
    new = _insert("INSERT INTO distribution (receipt_id, posting_date, operator, created_at, reverses_id, void_reason) "
                  "VALUES (?,?,?,?,?,?)", (row[0], date, user, now, did, reason))
    for tid, cid, from_payer, to_payer, amount in database.execute_sql(
        "SELECT id, charge_id, from_payer_id, to_payer_id, amount FROM transfer WHERE distribution_id = ? ORDER BY id DESC",
        (did,),
    ).fetchall():
        current = _one("SELECT payer_id FROM charge_balance WHERE charge_id = ?", (cid,))[0]
        if current != to_payer:
            raise BillingError(f"charge {cid} has been moved on since this distribution; void the later one first", "id")
        _insert("INSERT INTO transfer (distribution_id, charge_id, from_payer_id, to_payer_id, amount, posting_date, "
                "operator, reverses_id) VALUES (?,?,?,?,?,?,?,?)", (new, cid, to_payer, from_payer, amount, date, user, tid))
    for aid, cid, amount in database.execute_sql(
        "SELECT id, charge_id, amount FROM adjustment WHERE distribution_id = ?", (did,)
    ).fetchall():
        if amount < 0:
            balance = _one("SELECT balance FROM charge_balance WHERE charge_id = ?", (cid,))[0]
            if balance < -amount:
                raise BillingError(f"charge {cid} no longer has the {format_cents(-amount)} this adjustment added; "
                                   "void the later payments first", "id")
        _insert("INSERT INTO adjustment (distribution_id, charge_id, reason_code, amount, posting_date, operator, "
                "reverses_id) SELECT ?, charge_id, reason_code, -amount, ?, ?, id FROM adjustment WHERE id = ?",
                (new, date, user, aid))
    database.execute_sql(
        "INSERT INTO application (distribution_id, receipt_id, charge_id, amount, posting_date, operator, reverses_id) "
        "SELECT ?, receipt_id, charge_id, -amount, ?, ?, id FROM application WHERE distribution_id = ?",
        (new, date, user, did))
    return new


def _void_encounter(eid: int, reason: str, date: str, user: str, now: str) -> int:
    row = _voidable("encounter", eid, "t.patient_id, t.provider_id, t.payer_id, t.dos, t.pos, t.batch_id")
    busy = _one(
        "SELECT c.id FROM charge c WHERE c.encounter_id = ? AND ("
        " COALESCE((SELECT SUM(amount) FROM application a WHERE a.charge_id = c.id), 0) <> 0 OR"
        " COALESCE((SELECT SUM(amount) FROM adjustment j WHERE j.charge_id = c.id), 0) <> 0) LIMIT 1", (eid,))
    if busy:
        raise BillingError(f"charge {busy[0]} of encounter {eid} has payments or adjustments: void those "
                           "distributions first", "id")
    batch = _reversal_batch(row[5], date)
    new = _insert("INSERT INTO encounter (patient_id, provider_id, payer_id, dos, pos, batch_id, posting_date, operator, "
                  "created_at, reverses_id, void_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                  (*row[:5], batch, date, user, now, eid, reason))
    database.execute_sql(
        "INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, modifiers, "
        "dx_pointers, units, fee, amount, batch_id, posting_date, operator, reverses_id) "
        "SELECT ?, line_no, patient_id, provider_id, payer_id, dos, pos, code, modifiers, dx_pointers, units, fee, "
        "-amount, ?, ?, ?, id FROM charge WHERE encounter_id = ? ORDER BY line_no",
        (new, batch, date, user, eid))
    return new


def _void_refund(fid: int, reason: str, date: str, user: str, now: str) -> int:
    row = _voidable("refund", fid, "t.receipt_id, t.method, t.reference, t.amount")
    return _insert("INSERT INTO refund (receipt_id, method, reference, reason, amount, posting_date, operator, created_at, "
                   "reverses_id, void_reason) VALUES (?,?,?,'',?,?,?,?,?,?)",
                   (row[0], row[1], row[2], -row[3], date, user, now, fid, reason))


def _void_receipt(rid: int, reason: str, date: str, user: str, now: str, undone: list[int]) -> int:
    """Reverse receipt ``rid`` and every live distribution of it (their reversals' ids go in ``undone``)."""
    _live_receipt(rid)
    refund_row = _one("SELECT f.id FROM refund f WHERE f.receipt_id = ? AND f.reverses_id IS NULL AND NOT EXISTS "
                      "(SELECT 1 FROM refund x WHERE x.reverses_id = f.id) LIMIT 1", (rid,))
    if refund_row:
        raise BillingError(f"refund {refund_row[0]} paid money out of receipt {rid}: void the refund first", "id")
    for (did,) in database.execute_sql(
        "SELECT d.id FROM distribution d WHERE d.receipt_id = ? AND d.reverses_id IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM distribution x WHERE x.reverses_id = d.id) ORDER BY d.id DESC", (rid,)
    ).fetchall():
        undone.append(_void_distribution(did, reason, date, user, now))
    row = _one("SELECT batch_id, source, patient_id, payer_id, method, reference, amount, received_date "
               "FROM receipt WHERE id = ?", (rid,))
    batch = _reversal_batch(row[0], date)
    return _insert("INSERT INTO receipt (batch_id, source, patient_id, payer_id, method, reference, amount, "
                   "received_date, posting_date, operator, created_at, reverses_id, void_reason) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (batch, row[1], row[2], row[3], row[4], row[5], -row[6], row[7], date, user, now, rid, reason))


@write
def void(kind: str, entry_id: int, reason: str, *, posting_date: object | None = None,
         operator: str | None = None) -> int:
    """Void a posted entry with a reversing entry on an open posting date. Returns the reversal's id.

    Voiding a receipt also reverses its distributions; an encounter can be voided only once no
    money or adjustment remains on its charges.
    """
    user = v.operator(operator)
    if kind not in VOIDABLE:
        raise BillingError(f"can void one of: {', '.join(VOIDABLE)}", "kind")
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise BillingError(f"choose the {kind} to void", "id")
    reason = v.text(reason, "void reason", max_len=200)
    date = v.posting_date(posting_date)
    now = _now()
    detail: dict[str, object] = {"reason": reason, "posting_date": date}
    if kind == "receipt":  # its distributions are reversed with it: the event names each reversal
        undone: list[int] = []
        new = _void_receipt(entry_id, reason, date, user, now, undone)
        detail["distribution_reversals"] = undone
    else:
        handler = {"encounter": _void_encounter, "distribution": _void_distribution, "refund": _void_refund}[kind]
        new = handler(entry_id, reason, date, user, now)
    audit.record(now, user, f"void_{kind}", kind, entry_id, {"reversal_id": new, **detail})
    return new


# --------------------------------------------------------------------------- closes


@dataclass(frozen=True)
class DepositCount:
    """What the clerk counted: cash, the check tape (total and count), the card batch, the EFTs."""

    cash: int = 0
    checks: int = 0
    check_count: int = 0
    card: int = 0
    eft: int = 0


def close_day_problems(date: str, counted: DepositCount | None) -> list[str]:
    """Every reason the day cannot close (empty when it can)."""
    from .summary import day_summary

    problems = []
    for b in database.execute_sql(
        "SELECT b.id FROM batch b WHERE b.posting_date = ? AND NOT EXISTS "
        "(SELECT 1 FROM batch_close c WHERE c.batch_id = b.id) ORDER BY b.id", (date,)
    ).fetchall():
        status = batch_status(b[0])
        extra = "" if status.balanced else (
            f", off by {status.count_difference:+d} / {format_cents(status.total_difference)}")
        problems.append(f"{status.kind} batch {status.id} ({status.operator}) is still open{extra}")
    summary = day_summary(date)
    if counted is not None:
        deposit = summary.deposit
        for method, label, got in (("cash", "cash", counted.cash), ("check", "checks", counted.checks),
                                   ("card", "card", counted.card), ("eft", "EFT", counted.eft)):
            want = deposit.get(method, 0)
            if got != want:
                problems.append(f"{label} counted {format_cents(got)} but receipts say {format_cents(want)} "
                                f"(difference {format_cents(got - want)})")
        if counted.check_count != summary.check_count:
            problems.append(f"{counted.check_count} checks counted but {summary.check_count} check receipts posted")
    if not summary.balances:
        problems.append("the A/R proof does not balance: " + "; ".join(summary.proof_errors))
    # A row typed into the day by hand (not posted by the program) must not be frozen by the close.
    from .check_audit import unaccounted

    problems.extend(unaccounted([date], limit=5))
    return problems


@write
def close_day(date: object | None = None, counted: DepositCount | None = None, *, operator: str | None = None) -> dict:
    """Lock a posting date. Refused while a batch is open or unbalanced or the deposit differs."""
    from .summary import day_summary

    user = v.operator(operator)
    when = v.posting_date(date, closing=True)
    if when > v.today().isoformat():
        raise BillingError(f"{when} has not happened yet; it cannot be closed", "date")
    counted = counted or DepositCount()
    # The deposit is receipts less refunds (and less voids of earlier days' receipts), so a day
    # that paid out more than it took in by some method has a negative figure to match.
    for name in ("cash", "checks", "card", "eft"):
        v.cents(getattr(counted, name), f"counted {name}", allow_negative=True)
    if isinstance(counted.check_count, bool) or not isinstance(counted.check_count, int) \
            or abs(counted.check_count) > 9999:
        raise BillingError("check count must be a whole number of checks", "check_count")
    problems = close_day_problems(when, counted)
    if problems:
        raise BillingError(f"day {when} cannot close: " + "; ".join(problems), "date")
    totals = day_summary(when).as_dict()
    database.execute_sql(
        "INSERT INTO day_close (posting_date, closed_at, operator, totals, counted_cash, counted_checks, "
        "counted_check_count, counted_card, counted_eft) VALUES (?,?,?,?,?,?,?,?,?)",
        (when, _now(), user, json.dumps(totals, sort_keys=True), counted.cash, counted.checks,
         counted.check_count, counted.card, counted.eft))
    audit.record(_now(), user, "close_day", "day_close", None,
                 {"posting_date": when, "totals": totals, "counted": asdict(counted)})
    return totals


def _month_bounds(month: str) -> tuple[str, str]:
    try:
        first = dt.date.fromisoformat(month + "-01")
    except ValueError:
        raise BillingError(f"month must look like 2026-11 (got {month!r})", "month") from None
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (nxt - dt.timedelta(days=1)).isoformat()


def posting_dates_in(start: str, end: str) -> list[str]:
    """Every posting date in a range that has any posted row."""
    parts = " UNION ".join(f"SELECT DISTINCT posting_date FROM {t} WHERE posting_date BETWEEN ?1 AND ?2"
                           for t in ("batch", "charge", "receipt", "distribution", "refund"))
    return [r[0] for r in database.execute_sql(f"SELECT posting_date FROM ({parts}) ORDER BY 1", (start, end))]


@write
def close_month(month: str, *, operator: str | None = None) -> dict:
    """Lock a month once every day of it with postings is closed. Stores its roll-forward."""
    from .summary import period_summary

    user = v.operator(operator)
    month = (month or "").strip()
    first, last = _month_bounds(month)
    if last >= v.today().isoformat():
        raise BillingError(f"month {month} is not over until {last} has passed", "month")
    if _one("SELECT 1 FROM month_close WHERE month = ?", (month,)):
        raise BillingError(f"month {month} is already closed", "month")
    open_days = [d for d in posting_dates_in(first, last)
                 if not _one("SELECT 1 FROM day_close WHERE posting_date = ?", (d,))]
    if open_days:
        shown = ", ".join(open_days[:5]) + (f" and {len(open_days) - 5} more" if len(open_days) > 5 else "")
        raise BillingError(f"month {month} cannot close: days with postings are still open: {shown}", "month")
    totals = period_summary(first, last).as_dict()
    database.execute_sql("INSERT INTO month_close (month, closed_at, operator, totals) VALUES (?,?,?,?)",
                         (month, _now(), user, json.dumps(totals, sort_keys=True)))
    audit.record(_now(), user, "close_month", "month_close", None, {"month": month, "totals": totals})
    return totals
