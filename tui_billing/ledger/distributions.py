"""Distributions: a receipt applied to charges, with adjustments and transfers, as one posting.

A transfer to the patient or to another payer is a distribution with no receipt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from ..money import MAX_CENTS, format_cents
from . import checks as c
from .errors import BillingError
from .receipts import live_receipt
from .records import (
    AdjustmentRow,
    ApplicationRow,
    AuditEvent,
    ChargeState,
    DistributionLine,
    DistributionRow,
    IdBook,
    Plan,
    ReceiptState,
    Row,
    TransferRow,
)
from .vocab import MAX_DISTRIBUTION_LINES

#: No transfer on a line (None is a transfer to the patient, an int one to that payer).
NO_TRANSFER = False


@dataclass(frozen=True)
class DistributionFacts:
    """What a distribution's rules read: the receipt, every charge named, the reasons and payers named."""

    receipt: ReceiptState | None
    charges: Mapping[int, ChargeState]
    reasons: AbstractSet[str]
    payers: AbstractSet[int]


def reason_code(reason: str | None) -> str:
    """An adjustment reason as stored: trimmed, upper case."""
    return (reason or "").strip().upper()


def plan_distribution(
    receipt_id: object, lines: Sequence[DistributionLine], *, posting_date: str, user: str, now: str, ids: IdBook,
    facts: DistributionFacts,
) -> Plan:
    """Apply a receipt to charges with adjustments and transfers (``receipt_id`` None: no money).

    Over-applying a charge or the receipt is refused; nothing is planned for a line that does
    nothing, and a plan that does nothing at all is refused.
    """
    receipt = live_receipt(receipt_id, facts.receipt) if receipt_id is not None else None
    lines = list(lines)
    if not lines:
        raise BillingError("nothing to post: no lines", "lines")
    if len(lines) > MAX_DISTRIBUTION_LINES:
        raise BillingError(f"at most {MAX_DISTRIBUTION_LINES} lines in one distribution", "lines")
    total_applied = 0
    balances: dict[int, int] = {}
    payers: dict[int, int | None] = {}
    plan: list[tuple[int, int, int, str | None, int | None | bool]] = []
    for i, line in enumerate(lines):
        if type(line.charge_id) is not int:  # (a bool is not an id either)
            raise BillingError("choose a charge", f"lines[{i}].charge")
        charge = facts.charges.get(line.charge_id)
        if charge is None:
            raise BillingError(f"charge {line.charge_id} does not exist", f"lines[{i}].charge")
        if charge.reverses_id is not None:
            raise BillingError(f"charge {line.charge_id} is a reversing entry", f"lines[{i}].charge")
        # Field names are built only for a refusal: the demo's bulk load plans every payment here.
        applied = line.applied
        if type(applied) is not int or not 0 <= applied <= MAX_CENTS:
            applied = c.cents(applied, f"line {i + 1} applied amount")
        adjustment = line.adjustment
        if type(adjustment) is not int or not -MAX_CENTS <= adjustment <= MAX_CENTS:
            adjustment = c.cents(adjustment, f"line {i + 1} adjustment", allow_negative=True)
        if applied and receipt is None:
            raise BillingError("money can only be applied from a receipt", f"lines[{i}].applied")
        if receipt is not None and applied:
            if receipt.source == "patient" and charge.patient_id != receipt.patient_id:
                raise BillingError(f"charge {line.charge_id} belongs to another patient than this receipt's",
                                   f"lines[{i}].charge")
            if receipt.source == "payer" and receipt.payer_id not in (charge.billed_payer_id, charge.payer_id):
                raise BillingError(f"charge {line.charge_id} is not billed to this receipt's payer", f"lines[{i}].charge")
        reason = None
        if adjustment:
            reason = line.reason if line.reason in facts.reasons else reason_code(line.reason)
            if not reason:
                raise BillingError(f"line {i + 1}: an adjustment needs a reason", f"lines[{i}].reason")
            if reason not in facts.reasons:
                raise BillingError(f"line {i + 1}: {reason} is not an adjustment reason", f"lines[{i}].reason")
        balance = balances.get(line.charge_id, charge.balance)
        after = balance - applied - adjustment
        if after < 0:
            raise BillingError(
                f"line {i + 1}: {format_cents(applied + adjustment)} is more than the charge's balance "
                f"{format_cents(balance)}", f"lines[{i}].applied")
        balances[line.charge_id] = after
        payers.setdefault(line.charge_id, charge.payer_id)
        total_applied += applied
        target: int | None | bool = NO_TRANSFER
        if line.transfer_to_patient and line.transfer_to_payer is not None:
            raise BillingError(f"line {i + 1}: move the rest to the patient or to a payer, not both", f"lines[{i}].transfer")
        if line.transfer_to_patient:
            target = None
        elif line.transfer_to_payer is not None:
            target = line.transfer_to_payer
            if not c.is_id(target) or target not in facts.payers:
                raise BillingError(f"line {i + 1}: payer {target} does not exist", f"lines[{i}].transfer")
            if target == payers[line.charge_id]:
                raise BillingError(f"line {i + 1}: charge {line.charge_id} is already that payer's to pay",
                                   f"lines[{i}].transfer")
        if not (applied or adjustment or target is not NO_TRANSFER):
            continue
        plan.append((line.charge_id, applied, adjustment, reason, target))
    if receipt is not None and total_applied > receipt.unapplied:
        raise BillingError(
            f"{format_cents(total_applied)} is more than the receipt's unapplied {format_cents(receipt.unapplied)}",
            "applied")
    # A move to the patient of a charge the patient already owes, or of nothing left, is no move.
    # Two lines may move one charge on twice: each move is from where the one before it left the charge
    # (else both would take it from its first owner, and a void would find it moved on).
    moves: list[tuple[int, int | None, int, int | None]] = []
    owner = dict(payers)
    for cid, *_, t in plan:
        if t is not NO_TRANSFER and owner[cid] != t and balances[cid] > 0:
            assert not isinstance(t, bool)
            moves.append((cid, owner[cid], balances[cid], t))
            owner[cid] = t
    transfers = moves
    if not any(a or j for _, a, j, _, _ in plan) and not transfers:
        raise BillingError("nothing to post: every line is empty", "lines")

    rid = receipt.id if receipt is not None else None
    did = ids("distribution")
    rows: list[Row] = [DistributionRow(did, rid, posting_date, user, now)]
    applications: list[list[object]] = []
    adjustments: list[list[object]] = []
    moved: list[list[object]] = []
    for cid, applied, adjustment, reason, _ in plan:
        # Rows are written in this order and the database keeps every balance >= 0 row by row: an
        # adjustment that raises the balance goes in before the money that pays it.
        written: list[Row] = []
        if applied:
            written.append(ApplicationRow(ids("application"), did, rid, cid, applied, posting_date, user))
            applications.append([cid, applied])
        if adjustment:
            assert reason is not None
            adjusted = AdjustmentRow(ids("adjustment"), did, cid, reason, adjustment, posting_date, user)
            written.insert(0 if adjustment < 0 else len(written), adjusted)
            adjustments.append([cid, reason, adjustment])
        rows.extend(written)
    for cid, from_payer, remaining, to_payer in transfers:
        rows.append(TransferRow(ids("transfer"), did, cid, from_payer, to_payer, remaining, posting_date, user))
        move: list[object] = [cid, from_payer, remaining]
        moved.append(move + ([to_payer] if to_payer is not None else []))
    return Plan(tuple(rows), AuditEvent(now, user, "distribute", "distribution", did, {
        "receipt_id": rid, "posting_date": posting_date, "applications": applications, "adjustments": adjustments,
        "transfers": moved}))


def transfer_lines(charge_ids: Sequence[int], payer_id: int | None) -> list[DistributionLine]:
    """The lines of a transfer of charges' remaining balances: to the patient (None) or to a payer."""
    if payer_id is None:
        return [DistributionLine(cid, transfer_to_patient=True) for cid in charge_ids]
    return [DistributionLine(cid, transfer_to_payer=payer_id) for cid in charge_ids]
