"""Batches: open one with its control figures, close it when what was entered matches them."""

from __future__ import annotations

from ..money import format_cents
from . import checks as c
from .errors import BillingError
from .records import AuditEvent, BatchCloseRow, BatchRow, BatchStatus, IdBook, Plan
from .vocab import BATCH_KINDS, MAX_CONTROL_COUNT


def plan_open_batch(kind: str, control_count: object, control_total: object, *, posting_date: str, user: str,
                    now: str, ids: IdBook) -> Plan:
    """Open a charge or receipt batch with the control figures from the paper stack or tape."""
    if kind not in BATCH_KINDS:
        raise BillingError("batch kind must be charge or receipt", "kind")
    if not c.is_id(control_count) or control_count < 0 or control_count > MAX_CONTROL_COUNT:
        raise BillingError(f"control count must be a whole number from 0 to {MAX_CONTROL_COUNT}", "control_count")
    total = c.cents(control_total, "control total")
    bid = ids("batch")
    row = BatchRow(bid, kind, posting_date, user, control_count, total, now)
    return Plan((row,), AuditEvent(now, user, "open_batch", "batch", bid, {
        "kind": kind, "posting_date": posting_date, "control_count": control_count, "control_total": total}))


def close_batch_refusal(batch_id: int, status: BatchStatus) -> BillingError | None:
    """Why a batch cannot close (None when it can)."""
    if status.closed:
        return BillingError(f"batch {batch_id} is already closed", "batch")
    if not status.balanced:
        return BillingError(
            f"batch {batch_id} does not balance: entered {status.entered_count} / {format_cents(status.entered_total)}, "
            f"control {status.control_count} / {format_cents(status.control_total)} "
            f"(difference {status.count_difference:+d} / {format_cents(status.total_difference)})",
            "batch",
        )
    return None


def plan_close_batch(status: BatchStatus, *, user: str, now: str) -> Plan:
    """Close a batch; refused (with the difference) unless entered equals control."""
    refusal = close_batch_refusal(status.id, status)
    if refusal:
        raise refusal
    row = BatchCloseRow(status.id, now, user, status.entered_count, status.entered_total)
    return Plan((row,), AuditEvent(now, user, "close_batch", "batch", status.id,
                                   {"entered_count": status.entered_count, "entered_total": status.entered_total}))


def batch_for_entry(batch_id: int | None, status: BatchStatus | None, kind: str, date: str) -> int | None:
    """The batch an entry joins: it must exist, be of its kind, open, and for its posting date."""
    if batch_id is None:
        return None
    if status is None:
        raise BillingError(f"batch {batch_id} does not exist", "batch")
    if status.kind != kind:
        raise BillingError(f"batch {batch_id} is a {status.kind} batch, not a {kind} batch", "batch")
    if status.closed:
        raise BillingError(f"batch {batch_id} is closed: open a new batch", "batch")
    if status.posting_date != date:
        raise BillingError(f"batch {batch_id} is for posting date {status.posting_date}, not {date}", "batch")
    return batch_id


def reversal_batch(status: BatchStatus | None, date: str) -> int | None:
    """A reversal joins its original's batch only while that batch is still open that day."""
    if status is None:
        return None
    return status.id if not status.closed and status.posting_date == date else None
