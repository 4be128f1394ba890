"""Voids: a posted entry is reversed by new rows on an open posting date, never edited or deleted.

One planner per void kind; :func:`plan_void` is the registry the store's ``void`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..money import format_cents
from . import checks as c
from .batches import reversal_batch
from .errors import BillingError
from .receipts import live_receipt
from .records import (
    AdjustmentRow,
    ApplicationRow,
    AuditEvent,
    BatchStatus,
    ChargeNow,
    ChargeRow,
    DistributionParts,
    DistributionRow,
    EncounterRow,
    IdBook,
    Plan,
    ReceiptRow,
    ReceiptState,
    RefundRow,
    Row,
    TransferRow,
    Voidable,
)
from .vocab import VOID_KINDS


def voidable_row(table: str, entry_id: int, found: Voidable | None) -> object:
    """The original row a void names, once it is known to exist, be no reversal, and not be voided yet."""
    if found is None:
        raise BillingError(f"{table} {entry_id} does not exist", "id")
    if found.row.reverses_id is not None:
        raise BillingError(f"{table} {entry_id} is itself a reversal", "id")
    if found.voided:
        raise BillingError(f"{table} {entry_id} was already voided", "id")
    return found.row


@dataclass(frozen=True)
class VoidFacts:
    """What a void's rules read from the books. Each kind uses its own part."""

    #: the original entry (encounter, distribution or refund) and whether it was voided
    original: Voidable | None = None
    #: encounter: its charge rows in line order; a charge of it that has money or adjustments on it
    charges: tuple[ChargeRow, ...] = ()
    busy_charge: int | None = None
    #: the original's batch (a reversal joins it while it is open that day)
    batch: BatchStatus | None = None
    #: distributions to reverse (a receipt's live ones, newest first), with their lines
    distributions: tuple[DistributionParts, ...] = ()
    #: the current balance and owner of every charge those distributions touch
    charges_now: Mapping[int, ChargeNow] = field(default_factory=dict)
    #: receipt: its live state, its row, and a live refund paid out of it
    receipt: ReceiptState | None = None
    receipt_row: ReceiptRow | None = None
    live_refund: int | None = None


class _Reversal:
    """Rows of one void, planned in insert order, with the charges' running state."""

    def __init__(self, ids: IdBook, date: str, user: str, now: str, reason: str,
                 charges_now: Mapping[int, ChargeNow]) -> None:
        self.ids, self.date, self.user, self.now, self.reason = ids, date, user, now, reason
        self.rows: list[Row] = []
        self.charges = dict(charges_now)

    def distribution(self, parts: DistributionParts) -> int:
        """Reverse one distribution: transfers newest first, then applications, then adjustments.

        Applications go back before adjustments: a negative adjustment (one that raised the
        balance) can only be taken back out of a balance its applications have been put back into.
        """
        d = parts.row
        new = self.ids("distribution")
        self.rows.append(DistributionRow(new, d.receipt_id, self.date, self.user, self.now, d.id, self.reason))
        for t in sorted(parts.transfers, key=lambda t: t.id, reverse=True):
            now = self.charges[t.charge_id]
            if now.payer_id != t.to_payer_id:
                raise BillingError(f"charge {t.charge_id} has been moved on since this distribution; void the later "
                                   "one first", "id")
            self.rows.append(TransferRow(self.ids("transfer"), new, t.charge_id, t.to_payer_id, t.from_payer_id,
                                         t.amount, self.date, self.user, t.id))
            self.charges[t.charge_id] = now._replace(payer_id=t.from_payer_id)
        for p in parts.applications:
            self.rows.append(ApplicationRow(self.ids("application"), new, p.receipt_id, p.charge_id, -p.amount,
                                            self.date, self.user, p.id))
            now = self.charges[p.charge_id]
            self.charges[p.charge_id] = now._replace(balance=now.balance + p.amount)
        for a in parts.adjustments:
            now = self.charges[a.charge_id]
            if a.amount < 0 and now.balance < -a.amount:
                raise BillingError(f"charge {a.charge_id} no longer has the {format_cents(-a.amount)} this adjustment "
                                   "added; void the later payments first", "id")
            self.rows.append(AdjustmentRow(self.ids("adjustment"), new, a.charge_id, a.reason_code, -a.amount,
                                           self.date, self.user, a.id))
            self.charges[a.charge_id] = now._replace(balance=now.balance + a.amount)
        return new


def _event(kind: str, entry_id: int, new: int, reason: str, date: str, user: str, now: str,
           **more: object) -> AuditEvent:
    return AuditEvent(now, user, f"void_{kind}", kind, entry_id,
                      {"reversal_id": new, "reason": reason, "posting_date": date, **more})


def plan_void_distribution(entry_id: int, reason: str, *, facts: VoidFacts, posting_date: str, user: str, now: str,
                           ids: IdBook) -> Plan:
    voidable_row("distribution", entry_id, facts.original)
    assert len(facts.distributions) == 1
    r = _Reversal(ids, posting_date, user, now, reason, facts.charges_now)
    new = r.distribution(facts.distributions[0])
    return Plan(tuple(r.rows), _event("distribution", entry_id, new, reason, posting_date, user, now))


def plan_void_encounter(entry_id: int, reason: str, *, facts: VoidFacts, posting_date: str, user: str, now: str,
                        ids: IdBook) -> Plan:
    enc = voidable_row("encounter", entry_id, facts.original)
    assert isinstance(enc, EncounterRow)
    if facts.busy_charge is not None:
        raise BillingError(f"charge {facts.busy_charge} of encounter {entry_id} has payments or adjustments: void "
                           "those distributions first", "id")
    batch = reversal_batch(facts.batch, posting_date)
    new = ids("encounter")
    rows: list[Row] = [enc._replace(id=new, batch_id=batch, posting_date=posting_date, operator=user, created_at=now,
                                    reverses_id=entry_id, void_reason=reason)]
    rows += [ch._replace(id=ids("charge"), encounter_id=new, amount=-ch.amount, batch_id=batch,
                         posting_date=posting_date, operator=user, reverses_id=ch.id)
             for ch in sorted(facts.charges, key=lambda ch: ch.line_no)]
    return Plan(tuple(rows), _event("encounter", entry_id, new, reason, posting_date, user, now))


def plan_void_refund(entry_id: int, reason: str, *, facts: VoidFacts, posting_date: str, user: str, now: str,
                     ids: IdBook) -> Plan:
    ref = voidable_row("refund", entry_id, facts.original)
    assert isinstance(ref, RefundRow)
    new = ids("refund")
    row = RefundRow(new, ref.receipt_id, ref.method, ref.reference, "", -ref.amount, posting_date, user, now,
                    entry_id, reason)
    return Plan((row,), _event("refund", entry_id, new, reason, posting_date, user, now))


def plan_void_receipt(entry_id: int, reason: str, *, facts: VoidFacts, posting_date: str, user: str, now: str,
                      ids: IdBook) -> Plan:
    """Reverse a receipt and every live distribution of it (newest first); a live refund must go first."""
    live_receipt(entry_id, facts.receipt)
    if facts.live_refund is not None:
        raise BillingError(f"refund {facts.live_refund} paid money out of receipt {entry_id}: void the refund first",
                           "id")
    r = _Reversal(ids, posting_date, user, now, reason, facts.charges_now)
    undone = [r.distribution(parts) for parts in facts.distributions]
    orig = facts.receipt_row
    assert orig is not None
    new = ids("receipt")
    r.rows.append(orig._replace(id=new, batch_id=reversal_batch(facts.batch, posting_date), amount=-orig.amount,
                                posting_date=posting_date, operator=user, created_at=now, reverses_id=entry_id,
                                void_reason=reason))
    return Plan(tuple(r.rows), _event("receipt", entry_id, new, reason, posting_date, user, now,
                                      distribution_reversals=undone))


#: void kind -> its planner (the registry ``void`` dispatches on)
VOID_PLANNERS = {
    "encounter": plan_void_encounter,
    "receipt": plan_void_receipt,
    "distribution": plan_void_distribution,
    "refund": plan_void_refund,
}
assert tuple(VOID_PLANNERS) == VOID_KINDS


def void_request(kind: object, entry_id: object, reason: object) -> tuple[str, int, str]:
    """The checks every void makes before anything is read: the kind, the entry, the reason."""
    if kind not in VOID_KINDS:
        raise BillingError(f"can void one of: {', '.join(VOID_KINDS)}", "kind")
    assert isinstance(kind, str)
    if not c.is_id(entry_id):
        raise BillingError(f"choose the {kind} to void", "id")
    return kind, entry_id, c.text(reason, "void reason", max_len=200)


def plan_void(kind: str, entry_id: int, reason: str, *, facts: VoidFacts, posting_date: str, user: str, now: str,
              ids: IdBook) -> Plan:
    """Plan the reversal of one posted entry through the kind's planner."""
    return VOID_PLANNERS[kind](entry_id, reason, facts=facts, posting_date=posting_date, user=user, now=now, ids=ids)


