"""Receipts (money received) and refunds (unapplied credit paid back out)."""

from __future__ import annotations

from dataclasses import dataclass

from ..money import format_cents
from . import checks as c
from .batches import batch_for_entry
from .errors import BillingError
from .records import (
    AuditEvent,
    BatchStatus,
    IdBook,
    Plan,
    ReceiptAdjustmentRow,
    ReceiptRow,
    ReceiptState,
    RefundRow,
)
from .vocab import METHODS, REFERENCED_METHODS


@dataclass(frozen=True)
class ReceiptFacts:
    """What a receipt's rules read from the books."""

    payer_exists: bool
    patient_exists: bool
    batch: BatchStatus | None
    #: the business day: money cannot be received after it
    today: str
    #: live receipts from the same payer (or patient) with the same check/EFT reference
    duplicates: tuple[int, ...] = ()


def _method(method: object) -> str:
    if method not in METHODS:
        raise BillingError(f"method must be one of {', '.join(METHODS)}", "method")
    assert isinstance(method, str)
    return method


def plan_receipt(
    *, amount: object, method: object, patient_id: object = None, payer_id: object = None, reference: object = "",
    received_date: object = None, batch_id: int | None = None, posting_date: str, user: str, now: str, ids: IdBook,
    facts: ReceiptFacts,
) -> Plan:
    """Money received from a patient or a payer; it waits unapplied until distributed."""
    if payer_id is None and patient_id is None:
        raise BillingError("say who paid: a patient or a payer", "source")
    if payer_id is not None and (not c.is_id(payer_id) or not facts.payer_exists):
        raise BillingError(f"payer {payer_id} does not exist", "payer")
    if patient_id is not None:
        if not c.is_id(patient_id):
            raise BillingError("choose a patient", "patient")
        if not facts.patient_exists:
            raise BillingError(f"patient {patient_id} does not exist", "patient")
    source = "payer" if payer_id is not None else "patient"
    method = _method(method)
    amount = c.cents(amount, "amount", allow_zero=False)
    if method in REFERENCED_METHODS and not (isinstance(reference, str) and reference.strip()):
        raise BillingError(f"a {method.upper() if method == 'eft' else method} needs its "
                           f"{'check number' if method == 'check' else 'trace number'} as the reference", "reference")
    reference = c.text(reference, "reference", max_len=40, required=False)
    # After today's close the posting date rolls on to the next day, but money received today
    # was still received today: the default never lands in the future.
    received = min(posting_date, facts.today) if received_date is None else c.iso_date(received_date, "received date")
    if received > facts.today:
        raise BillingError(f"received date {received} is in the future", "received_date")
    batch = batch_for_entry(batch_id, facts.batch, "receipt", posting_date)
    duplicates = facts.duplicates if method in REFERENCED_METHODS else ()
    assert patient_id is None or c.is_id(patient_id)
    assert payer_id is None or c.is_id(payer_id)
    rid = ids("receipt")
    row = ReceiptRow(rid, batch, source, patient_id, payer_id, method, reference, amount, received, posting_date,
                     user, now)
    return Plan((row,), AuditEvent(now, user, "record_receipt", "receipt", rid, {
        "source": source, "patient_id": patient_id, "payer_id": payer_id, "method": method, "reference": reference,
        "amount": amount, "received_date": received, "posting_date": posting_date, "batch_id": batch,
        "possible_duplicates": list(duplicates),
    }))


def live_receipt(receipt_id: object, state: ReceiptState | None) -> ReceiptState:
    """A receipt money can come out of: it exists, is not a reversal, was not voided."""
    if not c.is_id(receipt_id):
        raise BillingError("choose a receipt", "receipt")
    if state is None:
        raise BillingError(f"receipt {receipt_id} does not exist", "receipt")
    if state.reverses_id is not None:
        raise BillingError(f"receipt {receipt_id} is a reversing entry; it cannot be used", "receipt")
    if state.voided:
        raise BillingError(f"receipt {receipt_id} was voided", "receipt")
    return state


def plan_refund(
    receipt_id: object, amount: object, *, method: object, reference: object = "", reason: object = "",
    receipt: ReceiptState | None, posting_date: str, user: str, now: str, ids: IdBook,
) -> Plan:
    """Pay unapplied credit back out of a receipt."""
    state = live_receipt(receipt_id, receipt)
    amount = c.cents(amount, "refund amount", allow_zero=False)
    method = _method(method)
    reference = c.text(reference, "reference", max_len=40, required=method in REFERENCED_METHODS)
    reason = c.text(reason, "reason", max_len=200, required=False)
    if amount > state.unapplied:
        raise BillingError(f"refund {format_cents(amount)} is more than the receipt's unapplied "
                           f"{format_cents(state.unapplied)}", "amount")
    fid = ids("refund")
    row = RefundRow(fid, state.id, method, reference, reason, amount, posting_date, user, now)
    return Plan((row,), AuditEvent(now, user, "refund", "refund", fid, {
        "receipt_id": state.id, "amount": amount, "method": method, "reference": reference, "reason": reason}))


#: Receipt adjustment codes: an 835's PLB reasons (two characters) and credit moved by a reversal.
RECOUPED_BY_REVERSAL = "REVERSAL"


def plan_receipt_adjustment(
    receipt_id: object, amount: object, *, code: object, reference: object = "", receipt: ReceiptState | None,
    posting_date: str, user: str, now: str, ids: IdBook,
) -> Plan:
    """Add (or take out) a receipt's unapplied credit for a reason that is no charge's.

    An 835's provider-level adjustment (PLB) or a reversal's recoupment: ``amount`` is as the
    PLB gives it (positive: withheld from this payment, so there is that much more to apply;
    negative: paid on top, such as interest, which is no charge's). Credit never goes below zero.
    """
    state = live_receipt(receipt_id, receipt)
    amount = c.cents(amount, "receipt adjustment", allow_zero=False, allow_negative=True)
    code = c.text(code, "code", max_len=20)
    reference = c.text(reference, "reference", max_len=50, required=False)
    if state.unapplied + amount < 0:
        raise BillingError(f"taking {format_cents(-amount)} out of receipt {state.id} leaves less than nothing: it "
                           f"has {format_cents(state.unapplied)} unapplied", "amount")
    aid = ids("receipt_adjustment")
    row = ReceiptAdjustmentRow(aid, state.id, code, reference, amount, posting_date, user, now)
    return Plan((row,), AuditEvent(now, user, "adjust_receipt", "receipt_adjustment", aid, {
        "receipt_id": state.id, "code": code, "reference": reference, "amount": amount, "posting_date": posting_date}))
