"""Encounters: an encounter's diagnoses and its charge lines, posted all or nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..money import MAX_CENTS, format_cents
from . import checks as c
from .batches import batch_for_entry
from .errors import BillingError
from .records import (
    AuditEvent,
    BatchStatus,
    ChargeLine,
    ChargeRow,
    DiagnosisRow,
    EncounterRow,
    IdBook,
    Plan,
    Row,
)
from .vocab import MAX_DIAGNOSES, MAX_LINES, MAX_MODIFIERS, MAX_POINTERS, PRIMARY


@dataclass(frozen=True)
class EncounterFacts:
    """What an encounter's rules read from the books."""

    patient_exists: bool
    provider_active: bool
    #: the payer named exists (ignored for the patient or the primary coverage)
    payer_exists: bool
    #: the patient's primary coverage's payer (None: no coverage, the patient pays)
    primary_payer_id: int | None
    #: fee schedule: code -> fee per unit, for the codes keyed
    fees: Mapping[str, int]
    batch: BatchStatus | None
    #: the business day (a date of service cannot be after it)
    today: str


def plan_encounter(
    *, patient_id: object, provider_id: object, dos: object, diagnoses: Sequence[str], lines: Sequence[ChargeLine],
    pos: object = "11", payer_id: object = PRIMARY, batch_id: int | None = None, posting_date: str, user: str,
    now: str, ids: IdBook, facts: EncounterFacts,
) -> Plan:
    """The rows of one encounter (up to 50 charge lines and 12 diagnoses) and its audit event."""
    if not c.is_id(patient_id):
        raise BillingError("choose a patient", "patient")
    if not facts.patient_exists:
        raise BillingError(f"patient {patient_id} does not exist", "patient")
    if not c.is_id(provider_id) or not facts.provider_active:
        raise BillingError(f"provider {provider_id} does not exist or is inactive", "provider")
    payer: int | None
    if payer_id == PRIMARY:
        payer = facts.primary_payer_id
    elif payer_id is None:
        payer = None
    elif c.is_id(payer_id) and facts.payer_exists:
        payer = payer_id
    else:
        raise BillingError(f"payer {payer_id} does not exist", "payer")
    service = c.service_date(dos, facts.today)
    place = c.known("pos", pos) or c.pos(pos)
    batch = batch_for_entry(batch_id, facts.batch, "charge", posting_date)

    diagnoses = diagnoses if type(diagnoses) is list else list(diagnoses)
    if not diagnoses:
        raise BillingError("at least one diagnosis is required", "diagnoses[0]")
    if len(diagnoses) > MAX_DIAGNOSES:
        raise BillingError(f"at most {MAX_DIAGNOSES} diagnoses per encounter", f"diagnoses[{MAX_DIAGNOSES}]")
    dx_codes: list[str] = []
    for i, code in enumerate(diagnoses):
        dx = c.known("icd10", code) or c.icd10(code, f"diagnoses[{i}]")
        if dx.code in dx_codes:
            raise BillingError(f"diagnosis {dx.dotted} is listed twice", f"diagnoses[{i}]")
        dx_codes.append(dx.code)

    lines = lines if type(lines) is list else list(lines)
    if not lines:
        raise BillingError("at least one service line is required", "lines[0]")
    if len(lines) > MAX_LINES:
        raise BillingError(f"at most {MAX_LINES} service lines per encounter", f"lines[{MAX_LINES}]")
    prepared: list[tuple[str, str, str, int, int, int]] = []
    # Field names are built only for a refusal: the demo's bulk load plans a million lines here.
    for i, line in enumerate(lines):
        code = c.known("procedure", line.code) or c.procedure_code(line.code, f"lines[{i}].code")
        scheduled = facts.fees.get(code)
        if scheduled is None:
            raise BillingError(f"{code} is not in the office's fee schedule", f"lines[{i}].code")
        units = line.units
        if type(units) is not int or not 1 <= units <= 999:
            units = c.positive_int(units, f"lines[{i}].units")
        fee = line.fee
        if fee is None:
            fee = scheduled
        elif type(fee) is not int or not 0 <= fee <= MAX_CENTS:
            fee = c.cents(fee, f"lines[{i}].fee")
        amount = fee * units
        if amount > MAX_CENTS:
            raise BillingError(f"line {i + 1} amount {format_cents(amount)} is over the ceiling", f"lines[{i}].fee")
        mods = ""
        if line.modifiers:
            if len(line.modifiers) > MAX_MODIFIERS:
                raise BillingError(f"at most {MAX_MODIFIERS} modifiers per line", f"lines[{i}].modifiers")
            mods = ",".join(c.known("modifier", m) or c.modifier(m, f"lines[{i}].modifiers")
                            for m in line.modifiers)
        pointers = line.dx_pointers if type(line.dx_pointers) is tuple else tuple(line.dx_pointers)
        if not pointers or len(pointers) > MAX_POINTERS:
            raise BillingError(f"each line needs 1 to {MAX_POINTERS} diagnosis pointers", f"lines[{i}].dx_pointers")
        for p in pointers:
            if type(p) is not int or not 1 <= p <= len(dx_codes):
                raise BillingError(f"diagnosis pointer {p} does not point at one of the {len(dx_codes)} diagnoses",
                                   f"lines[{i}].dx_pointers")
        prepared.append((code, mods, ",".join(map(str, pointers)), units, fee, amount))

    assert c.is_id(patient_id) and c.is_id(provider_id)  # checked above; tells the type checker
    eid = ids("encounter")
    rows: list[Row] = [EncounterRow(eid, patient_id, provider_id, payer, service, place, batch, posting_date, user, now)]
    rows += [DiagnosisRow(eid, seq, code) for seq, code in enumerate(dx_codes, start=1)]
    rows += [ChargeRow(ids("charge"), eid, n, patient_id, provider_id, payer, service, place, code, mods, pointers,
                       units, fee, amount, batch, posting_date, user)
             for n, (code, mods, pointers, units, fee, amount) in enumerate(prepared, start=1)]
    total = sum(p[5] for p in prepared)
    return Plan(tuple(rows), AuditEvent(now, user, "post_encounter", "encounter", eid, {
        "patient_id": patient_id, "provider_id": provider_id, "payer_id": payer, "dos": service, "pos": place,
        "posting_date": posting_date, "batch_id": batch, "diagnoses": dx_codes,
        "lines": [{"code": code, "modifiers": mods, "dx": pointers, "units": units, "fee": fee, "amount": amount}
                  for code, mods, pointers, units, fee, amount in prepared],
        "total": total,
    }))
