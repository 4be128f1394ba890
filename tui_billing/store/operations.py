"""The posting operations: the thin shell around the ledger's planners, and the master data.

Every posting operation reads what its planner needs (as plain records), asks the planner in
:mod:`tui_billing.ledger` for the rows and the audit event, and writes them with
:mod:`.writer`, all in one ``BEGIN IMMEDIATE`` transaction (see :func:`db.write`). A refusal is
raised before anything is written, so a refused operation changes nothing. The rules live in the
planners; this module only reads and writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..ledger import batches as batch_rules
from ..ledger import checks as c
from ..ledger.charges import EncounterFacts, plan_encounter
from ..ledger.distributions import (
    DistributionFacts,
    plan_distribution,
    reason_code,
    transfer_lines,
)
from ..ledger.receipts import ReceiptFacts, plan_receipt, plan_refund
from ..ledger.records import (
    AdjustmentRow,
    ApplicationRow,
    BatchRow,
    BatchStatus,
    ChargeLine,
    ChargeNow,
    ChargeRow,
    ChargeState,
    CoverageIn,
    DistributionLine,
    DistributionParts,
    DistributionRow,
    EncounterRow,
    IdBook,
    Plan,
    ReceiptRow,
    ReceiptState,
    RefundRow,
    TransferRow,
    Voidable,
)
from ..ledger.vocab import (
    METHODS,
    PAYER_KINDS,
    PRIMARY,
    REASON_KINDS,
    SEXES,
    STANDARD_REASONS,
    VOID_KINDS,
    month_bounds_or_refuse,
)
from ..ledger.voids import VoidFacts, plan_void, void_request
from . import audit, roles
from . import validate as v
from .closes import (
    DepositCount,
    close_day,
    close_day_problems,
    close_month,
    posting_dates_in,
)
from .db import database, inserted_id, write
from .errors import BillingError
from .fees import fees_on
from .writer import write_plan

__all__ = [
    "METHODS", "PAYER_KINDS", "PRIMARY", "STANDARD_REASONS", "VOIDABLE", "BatchStatus", "BillingError", "ChargeLine",
    "CoverageIn", "DepositCount", "DistributionLine", "PostedEncounter", "PostedReceipt", "add_adjustment_reason",
    "add_patient", "add_payer", "add_provider", "batch_status", "close_batch", "close_day", "close_day_problems",
    "close_month", "distribute", "find_duplicate_receipts", "name_key", "open_batch", "post_encounter",
    "posting_dates_in", "primary_payer_id", "record_receipt", "refund", "seed_standard_reasons", "set_practice",
    "set_procedure", "transfer_to_patient", "transfer_to_payer", "void",
]

#: The kinds of entry a void reverses (the ledger's vocabulary).
VOIDABLE = VOID_KINDS


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _one(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    try:
        row: tuple[Any, ...] | None = database.execute_sql(sql, params).fetchone()
        return row
    except OverflowError:  # an id past SQLite's 64-bit range matches no row (not a crash)
        return None


def _all(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(sql, params).fetchall()
    return rows


def _insert(sql: str, params: Sequence[Any]) -> int:
    return inserted_id(database.execute_sql(sql, params))


def _exists(sql: str, key: object) -> bool:
    """Whether a row with this id exists (an id that is not an int never does)."""
    return c.is_id(key) and _one(sql, (key,)) is not None


def _max_id(table: str) -> int:
    row = _one(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    return int(row[0]) if row else 0


def _ids() -> IdBook:
    """Row ids for one operation: each table's next after its highest (the write lock is held)."""
    return IdBook(_max_id)


# --------------------------------------------------------------------------- master data


@write
def set_practice(name: str, npi: str = "", tax_id: str = "", address: str = "", phone: str = "", *,
                 operator: str | None = None) -> None:
    """Set the practice's header details (used on reports and claims)."""
    user = v.operator(operator)
    roles.require("set_practice", user)
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
    roles.require("add_provider", user)
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
    roles.require("add_payer", user)
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
    if sex not in SEXES:
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
    from .patient_keys import refresh_search_keys  # the folded keys the account search reads

    refresh_search_keys(pid)
    for cov in covs:
        _insert(
            "INSERT INTO coverage (patient_id, payer_id, member_id, group_no, priority) VALUES (?,?,?,?,?)",
            (pid, cov.payer_id, cov.member_id.strip(), cov.group_no.strip(), cov.priority),
        )
    audit.record(_now(), user, "add_patient", "patient", pid,
                 {"account": account, "last": last, "first": first, "coverages": [asdict(cov) for cov in covs]})
    return pid


@write
def set_procedure(code: str, description: str, fee: int, default_units: int = 1, *, operator: str | None = None) -> str:
    """Add or change a fee-schedule line (the office's own description, never CPT text)."""
    user = v.operator(operator)
    roles.require("set_procedure", user)
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
    roles.require("add_adjustment_reason", user)
    code = v.text(code, "reason code", max_len=12).upper()
    description = v.text(description, "description", max_len=80)
    if kind not in REASON_KINDS:
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


# --------------------------------------------------------------------------- reads (plain records)


def batch_status(batch_id: int) -> BatchStatus:
    """Control figures against what was entered (a reversal in the batch counts -1)."""
    status = _batch(batch_id)
    if status is None:
        raise BillingError(f"batch {batch_id} does not exist", "batch")
    return status


def _batch(batch_id: object) -> BatchStatus | None:
    if not c.is_id(batch_id):
        return None
    row = _one(
        "SELECT b.id, b.kind, b.posting_date, b.operator, b.control_count, b.control_total, "
        "bc.batch_id IS NOT NULL FROM batch b LEFT JOIN batch_close bc ON bc.batch_id = b.id WHERE b.id = ?",
        (batch_id,),
    )
    if not row:
        return None
    figures: tuple[Any, ...] | None
    if row[1] == "charge":
        count = _one("SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0) FROM encounter "
                     "WHERE batch_id = ?", (batch_id,))
        total = _one("SELECT COALESCE(SUM(amount), 0) FROM charge WHERE batch_id = ?", (batch_id,))
        figures = (count[0] if count else 0, total[0] if total else 0)
    else:
        figures = _one(
            "SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0), COALESCE(SUM(amount), 0) "
            "FROM receipt WHERE batch_id = ?", (batch_id,))
    assert figures is not None
    return BatchStatus(row[0], row[1], row[2], row[3], row[4], row[5], figures[0], figures[1], bool(row[6]))


def _receipt_state(receipt_id: object) -> ReceiptState | None:
    if not c.is_id(receipt_id):
        return None
    row = _one(
        "SELECT r.id, r.source, r.patient_id, r.payer_id, r.reverses_id, COALESCE(rb.unapplied, 0), "
        "EXISTS (SELECT 1 FROM receipt v WHERE v.reverses_id = r.id) "
        "FROM receipt r LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id WHERE r.id = ?",
        (receipt_id,),
    )
    return ReceiptState(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6])) if row else None


def _charge_states(charge_ids: Iterable[object]) -> dict[int, ChargeState]:
    found: dict[int, ChargeState] = {}
    for cid in charge_ids:
        if not c.is_id(cid) or cid in found:
            continue
        row = _one(
            "SELECT c.id, c.patient_id, c.payer_id, c.reverses_id, COALESCE(cb.balance, 0), cb.payer_id FROM charge c "
            "LEFT JOIN charge_balance cb ON cb.charge_id = c.id WHERE c.id = ?", (cid,))
        if row:
            found[cid] = ChargeState(*row)
    return found


def _charges_now(charge_ids: Iterable[int]) -> dict[int, ChargeNow]:
    found: dict[int, ChargeNow] = {}
    for cid in set(charge_ids):
        row = _one("SELECT balance, payer_id FROM charge_balance WHERE charge_id = ?", (cid,))
        if row:
            found[cid] = ChargeNow(row[0], row[1])
    return found


def _voidable(table: str, kind: type[Any], entry_id: int) -> Voidable | None:
    """An original row as its record, and whether a reversal of it exists."""
    fields = ", ".join(f"t.{f}" for f in kind._fields)
    row = _one(f"SELECT {fields}, EXISTS (SELECT 1 FROM {table} x WHERE x.reverses_id = t.id) FROM {table} t "
               "WHERE t.id = ?", (entry_id,))
    return Voidable(kind(*row[:-1]), bool(row[-1])) if row else None


def _distribution_parts(did: int) -> DistributionParts:
    """A posted distribution and its lines, each in id order."""
    def lines(kind: type[Any], table: str) -> tuple[Any, ...]:
        cols = ", ".join(kind._fields)
        return tuple(kind(*r) for r in _all(f"SELECT {cols} FROM {table} WHERE distribution_id = ? ORDER BY id",
                                            (did,)))

    head = _one(f"SELECT {', '.join(DistributionRow._fields)} FROM distribution WHERE id = ?", (did,))
    assert head is not None
    return DistributionParts(DistributionRow(*head), lines(ApplicationRow, "application"),
                             lines(AdjustmentRow, "adjustment"), lines(TransferRow, "transfer"))


def _touched(parts: Iterable[DistributionParts]) -> list[int]:
    touched: list[int] = []
    for p in parts:
        touched += [a.charge_id for a in p.applications]
        touched += [j.charge_id for j in p.adjustments]
        touched += [t.charge_id for t in p.transfers]
    return touched


def _write(plan: Plan) -> Plan:
    write_plan(plan)
    return plan


# --------------------------------------------------------------------------- batches


@write
def open_batch(kind: str, control_count: int, control_total: int, *, posting_date: object | None = None,
               operator: str | None = None) -> int:
    """Open a charge or receipt batch with the control figures from the paper stack or tape."""
    user = v.operator(operator)
    date = v.posting_date(posting_date)
    plan = _write(batch_rules.plan_open_batch(kind, control_count, control_total, posting_date=date, user=user,
                                              now=_now(), ids=_ids()))
    return plan.of(BatchRow)[0].id


@write
def close_batch(batch_id: int, *, operator: str | None = None) -> BatchStatus:
    """Close a batch; refused (with the difference) unless entered equals control."""
    user = v.operator(operator)
    status = batch_status(batch_id)
    roles.require("close_batch", user, batch_id=batch_id, batch_operator=status.operator)
    _write(batch_rules.plan_close_batch(status, user=user, now=_now()))
    return batch_status(batch_id)


# --------------------------------------------------------------------------- charges


@dataclass(frozen=True)
class PostedEncounter:
    encounter_id: int
    charge_ids: tuple[int, ...]
    total: int


def _day_or_none(value: object) -> str | None:
    """A date of service as ISO text for a lookup (the planner refuses a bad one)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value.strip() if isinstance(value, str) and value.strip() else None


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
    """Post one encounter: its diagnoses and up to 50 charge lines, all or nothing."""
    user = v.operator(operator)
    date = v.posting_date(posting_date)
    lines = list(lines)
    codes = {code for code in (c.procedure_code_or_none(line.code) for line in lines) if code}
    # The fee in force on the date of service (a dated change counts from its date; store/fees.py).
    fees = fees_on(codes, _day_or_none(dos) or v.today().isoformat())
    facts = EncounterFacts(
        patient_exists=_exists("SELECT 1 FROM patient WHERE id = ?", patient_id),
        provider_active=_exists("SELECT 1 FROM provider WHERE id = ? AND active", provider_id),
        payer_exists=_exists("SELECT 1 FROM payer WHERE id = ?", payer_id),
        primary_payer_id=primary_payer_id(patient_id, _day_or_none(dos)) if c.is_id(patient_id) else None,
        fees=fees, batch=_batch(batch_id), today=v.today().isoformat())
    plan = plan_encounter(
        patient_id=patient_id, provider_id=provider_id, dos=dos, diagnoses=diagnoses, lines=lines, pos=pos,
        payer_id=payer_id, batch_id=batch_id, posting_date=date, user=user, now=_now(), ids=_ids(), facts=facts)
    roles.require("batch_entry", user, **roles.batch_facts(plan.of(EncounterRow)[0].batch_id))
    _write(plan)
    charges: list[ChargeRow] = plan.of(ChargeRow)
    return PostedEncounter(plan.of(EncounterRow)[0].id, tuple(ch.id for ch in charges), sum(ch.amount for ch in charges))


# --------------------------------------------------------------------------- receipts


@dataclass(frozen=True)
class PostedReceipt:
    receipt_id: int
    #: earlier receipts from the same source with the same check/EFT reference (flag, not refusal)
    possible_duplicates: tuple[int, ...] = ()


def find_duplicate_receipts(*, payer_id: int | None, patient_id: int | None, reference: str) -> tuple[int, ...]:
    """Live receipts from the same payer (or patient) with the same reference."""
    if not reference or "\x00" in reference:  # a NUL is refused by the planner (in words, by field); no
        return ()                             # stored reference holds one, and PostgreSQL cannot be asked
    key: int | None
    if payer_id is not None:
        where, key = "r.payer_id = ?", payer_id
    else:
        where, key = "r.patient_id = ? AND r.source = 'patient'", patient_id
    rows = _all(
        f"SELECT r.id FROM receipt r WHERE {where} AND r.reference = ? AND r.reverses_id IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM receipt v WHERE v.reverses_id = r.id) ORDER BY r.id",
        (key, reference),
    )
    return tuple(r[0] for r in rows)


@write
def record_receipt(
    *, amount: int, method: str, patient_id: int | None = None, payer_id: int | None = None, reference: str = "",
    received_date: object | None = None, batch_id: int | None = None, posting_date: object | None = None,
    operator: str | None = None,
) -> PostedReceipt:
    """Record money received from a patient or a payer. It waits unapplied until distributed."""
    user = v.operator(operator)
    date = v.posting_date(posting_date)
    ref = reference.strip() if isinstance(reference, str) else ""
    payer = payer_id if c.is_id(payer_id) else None
    patient = patient_id if c.is_id(patient_id) else None
    facts = ReceiptFacts(
        payer_exists=_exists("SELECT 1 FROM payer WHERE id = ?", payer_id),
        patient_exists=_exists("SELECT 1 FROM patient WHERE id = ?", patient_id),
        batch=_batch(batch_id), today=v.today().isoformat(),
        duplicates=find_duplicate_receipts(payer_id=payer, patient_id=patient, reference=ref)
        if method in ("check", "eft") and (payer or patient) else ())
    plan = plan_receipt(
        amount=amount, method=method, patient_id=patient_id, payer_id=payer_id, reference=reference,
        received_date=received_date, batch_id=batch_id, posting_date=date, user=user, now=_now(), ids=_ids(),
        facts=facts)
    receipt: ReceiptRow = plan.of(ReceiptRow)[0]
    roles.require("batch_entry", user, **roles.batch_facts(receipt.batch_id))
    _write(plan)
    return PostedReceipt(receipt.id, tuple(plan.event.detail["possible_duplicates"]))


# --------------------------------------------------------------------------- distributions


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
    lines = list(lines)
    reasons = {code for code in (reason_code(line.reason) for line in lines if line.adjustment) if code}
    payers = {line.transfer_to_payer for line in lines if c.is_id(line.transfer_to_payer)}
    facts = DistributionFacts(
        receipt=_receipt_state(receipt_id),
        charges=_charge_states(line.charge_id for line in lines),
        reasons={r for r in reasons if _one("SELECT 1 FROM adjustment_reason WHERE code = ?", (r,))},
        payers={p for p in payers if p is not None and _one("SELECT 1 FROM payer WHERE id = ?", (p,))})
    plan = plan_distribution(receipt_id, lines, posting_date=date, user=user, now=_now(), ids=_ids(), facts=facts)
    # A write-off (an office reason) needs a supervisor; the planner has checked every amount by now.
    roles.require("adjust", user, reasons=[reason_code(line.reason) for line in lines
                                           if isinstance(line.adjustment, int) and line.adjustment > 0])
    _write(plan)
    return plan.of(DistributionRow)[0].id


def transfer_to_patient(charge_ids: Sequence[int], *, posting_date: object | None = None,
                        operator: str | None = None) -> int:
    """Move the remaining balance of charges from their payer to the patient."""
    return distribute(None, transfer_lines(charge_ids, None), posting_date=posting_date, operator=operator)


def transfer_to_payer(charge_ids: Sequence[int], payer_id: int, *, posting_date: object | None = None,
                      operator: str | None = None) -> int:
    """Move the remaining balance of charges to another payer (the next coverage, usually)."""
    return distribute(None, transfer_lines(charge_ids, payer_id), posting_date=posting_date, operator=operator)


# --------------------------------------------------------------------------- refunds


@write
def refund(receipt_id: int, amount: int, *, method: str, reference: str = "", reason: str = "",
           posting_date: object | None = None, operator: str | None = None) -> int:
    """Pay unapplied credit back out of a receipt."""
    user = v.operator(operator)
    roles.require("refund", user, amount=amount, receipt_id=receipt_id)
    date = v.posting_date(posting_date)
    plan = _write(plan_refund(receipt_id, amount, method=method, reference=reference, reason=reason,
                              receipt=_receipt_state(receipt_id), posting_date=date, user=user, now=_now(),
                              ids=_ids()))
    return plan.of(RefundRow)[0].id


# --------------------------------------------------------------------------- voids


def _void_facts(kind: str, entry_id: int) -> VoidFacts:
    """What the void planner of ``kind`` needs to read about entry ``entry_id``."""
    if kind == "encounter":
        found = _voidable("encounter", EncounterRow, entry_id)
        charges = tuple(ChargeRow(*r) for r in _all(
            f"SELECT {', '.join(ChargeRow._fields)} FROM charge WHERE encounter_id = ? ORDER BY line_no", (entry_id,)))
        busy = _one(
            "SELECT c.id FROM charge c WHERE c.encounter_id = ? AND ("
            " COALESCE((SELECT SUM(amount) FROM application a WHERE a.charge_id = c.id), 0) <> 0 OR"
            " COALESCE((SELECT SUM(amount) FROM adjustment j WHERE j.charge_id = c.id), 0) <> 0) LIMIT 1",
            (entry_id,))
        batch = _batch(found.row.batch_id) if found else None
        return VoidFacts(original=found, charges=charges, busy_charge=busy[0] if busy else None, batch=batch)
    if kind == "distribution":
        found = _voidable("distribution", DistributionRow, entry_id)
        one: tuple[DistributionParts, ...] = (_distribution_parts(entry_id),) if found else ()
        return VoidFacts(original=found, distributions=one, charges_now=_charges_now(_touched(one)))
    if kind == "refund":
        return VoidFacts(original=_voidable("refund", RefundRow, entry_id))
    receipt = _receipt_state(entry_id)
    if receipt is None or receipt.reverses_id is not None or receipt.voided:
        return VoidFacts(receipt=receipt)
    refund_row = _one("SELECT f.id FROM refund f WHERE f.receipt_id = ? AND f.reverses_id IS NULL AND NOT EXISTS "
                      "(SELECT 1 FROM refund x WHERE x.reverses_id = f.id) LIMIT 1", (entry_id,))
    live = _all("SELECT d.id FROM distribution d WHERE d.receipt_id = ? AND d.reverses_id IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM distribution x WHERE x.reverses_id = d.id) ORDER BY d.id DESC", (entry_id,))
    parts = tuple(_distribution_parts(did) for (did,) in live)
    head = _one(f"SELECT {', '.join(ReceiptRow._fields)} FROM receipt WHERE id = ?", (entry_id,))
    assert head is not None
    row = ReceiptRow(*head)
    return VoidFacts(receipt=receipt, receipt_row=row, live_refund=refund_row[0] if refund_row else None,
                     distributions=parts, charges_now=_charges_now(_touched(parts)), batch=_batch(row.batch_id))


@write
def void(kind: str, entry_id: int, reason: str, *, posting_date: object | None = None,
         operator: str | None = None) -> int:
    """Void a posted entry with a reversing entry on an open posting date. Returns the reversal's id.

    Voiding a receipt also reverses its distributions; an encounter can be voided only once no
    money or adjustment remains on its charges.
    """
    user = v.operator(operator)
    kind, entry_id, reason = void_request(kind, entry_id, reason)
    if kind == "receipt" and _one("SELECT 1 FROM receipt_adjustment WHERE receipt_id = ? LIMIT 1", (entry_id,)):
        # an 835's PLB or a reversal moved credit on it (store/era.py): its claims are voided one by one
        raise BillingError(f"receipt {entry_id} carries an 835's provider-level adjustments or a reversal's "
                           "recoupment: void its distributions (one per claim) instead", "receipt")
    roles.require("void", user, **roles.entry_facts(kind, entry_id))
    date = v.posting_date(posting_date)
    plan = _write(plan_void(kind, entry_id, reason, facts=_void_facts(kind, entry_id), posting_date=date, user=user,
                            now=_now(), ids=_ids()))
    new: int = plan.event.detail["reversal_id"]
    return new


def _month_bounds(month: str) -> tuple[str, str]:
    """Kept for callers of the old name: the ledger's month bounds, refusing a bad month."""
    return month_bounds_or_refuse(month)
