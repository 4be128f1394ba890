"""Batch corrections: fix a batch's control figures, cancel an empty batch.

A control count or total is typed from the paper stack or the deposit tape; a typo there used
to leave a batch that could never balance, and an open batch blocks the day's close. Both
operations here keep what they change: a ``batch_correction`` row (old and new figures, who,
when, why; append-only, schema 6) and an audit event, written in one transaction with the
change. Only the two control columns of an open batch on an open day can change, and only to
the figures of the correction row written just before (a trigger checks it), so nothing but
these operations can move them.

Who may do it: a clerk their own batch; another clerk's batch needs a supervisor (store/roles.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..money import format_cents
from . import audit, roles
from . import validate as v
from .db import database, inserted_id, write
from .errors import BillingError
from .operations import BatchStatus, batch_status

__all__ = ["BatchCorrection", "cancel_empty_batch", "correct_control", "corrections"]


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class BatchCorrection:
    """One change of a batch's control figures (``kind`` is ``control`` or ``cancel``)."""

    id: int
    batch_id: int
    kind: str
    old_count: int
    old_total: int
    new_count: int
    new_total: int
    reason: str
    operator: str
    at: str


def _correctable(batch_id: object, user: str) -> BatchStatus:
    if isinstance(batch_id, bool) or not isinstance(batch_id, int):
        raise BillingError("batch must be a batch number", "batch")
    status = batch_status(batch_id)
    roles.require("correct_batch", user, batch_id=batch_id, batch_operator=status.operator)
    if status.closed:
        raise BillingError(f"batch {batch_id} is closed: its figures are final", "batch")
    closed = v.closed_reason(status.posting_date)
    if closed:
        raise BillingError(f"batch {batch_id}: {closed}", "batch")
    return status


def _reason(reason: object) -> str:
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        raise BillingError("a reason is required (what was wrong with the figures)", "reason")
    return v.text(reason, "reason", max_len=200)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 9999:
        raise BillingError("control count must be a whole number from 0 to 9999", "control_count")
    return value


def _change(status: BatchStatus, kind: str, count: int, total: int, reason: str, user: str, now: str) -> int:
    cid = inserted_id(database.execute_sql(
        "INSERT INTO batch_correction (batch_id, kind, old_count, old_total, new_count, new_total, reason, operator, at) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (status.id, kind, status.control_count, status.control_total, count, total, reason, user, now),
    ))
    database.execute_sql("UPDATE batch SET control_count = ?, control_total = ? WHERE id = ?", (count, total, status.id))
    return cid


@write
def correct_control(batch_id: int, control_count: int, control_total: int, reason: str, *,
                    operator: str | None = None) -> BatchStatus:
    """Replace an open batch's control figures (a typo from the stack or the tape), with a reason."""
    user = v.operator(operator)
    status = _correctable(batch_id, user)
    count = _count(control_count)
    total = v.cents(control_total, "control total")
    why = _reason(reason)
    if (count, total) == (status.control_count, status.control_total):
        raise BillingError(f"batch {batch_id} already has control {count} / {format_cents(total)}", "control_count")
    now = _now()
    cid = _change(status, "control", count, total, why, user, now)
    audit.record(now, user, "correct_batch_control", "batch", status.id, {
        "correction_id": cid, "old_count": status.control_count, "old_total": status.control_total,
        "new_count": count, "new_total": total, "reason": why,
    })
    return batch_status(status.id)


@write
def cancel_empty_batch(batch_id: int, reason: str, *, operator: str | None = None) -> BatchStatus:
    """Cancel a batch nothing was entered into: its control figures go to 0 / 0.00 and it closes.

    Refused when anything was ever posted in it (a voided entry counts: its reversal is there).
    """
    user = v.operator(operator)
    status = _correctable(batch_id, user)
    why = _reason(reason)
    table = "encounter" if status.kind == "charge" else "receipt"
    if database.execute_sql(f"SELECT 1 FROM {table} WHERE batch_id = ? LIMIT 1", (status.id,)).fetchone():
        raise BillingError(f"batch {batch_id} has entries: only an empty batch can be cancelled "
                           f"(correct its control figures instead)", "batch")
    now = _now()
    cid = None
    if (status.control_count, status.control_total) != (0, 0):
        cid = _change(status, "cancel", 0, 0, why, user, now)
    database.execute_sql(
        "INSERT INTO batch_close (batch_id, closed_at, operator, entered_count, entered_total) VALUES (?,?,?,0,0)",
        (status.id, now, user),
    )
    audit.record(now, user, "cancel_batch", "batch", status.id, {
        "correction_id": cid, "old_count": status.control_count, "old_total": status.control_total, "reason": why,
    })
    return batch_status(status.id)


def corrections(batch_id: int) -> list[BatchCorrection]:
    """Every correction of a batch, oldest first."""
    rows = database.execute_sql(
        "SELECT id, batch_id, kind, old_count, old_total, new_count, new_total, reason, operator, at "
        "FROM batch_correction WHERE batch_id = ? ORDER BY id", (batch_id,)).fetchall()
    return [BatchCorrection(*r) for r in rows]


def encounter_keys(batch_id: int) -> list[tuple[int, str, tuple[str, ...]]]:
    """(patient id, date of service, sorted codes) of each live encounter in a charge batch.

    Voided encounters and reversals are left out: re-keying a voided encounter is the fix, not a
    repeat. Charge entry asks before posting an encounter whose key is already here.
    """
    rows = database.execute_sql(
        "SELECT e.id, e.patient_id, e.dos, c.code FROM encounter e JOIN charge c ON c.encounter_id = e.id "
        "WHERE e.batch_id = ? AND e.reverses_id IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM encounter r WHERE r.reverses_id = e.id) ORDER BY e.id, c.code",
        (batch_id,)).fetchall()
    keys: dict[int, tuple[int, str, list[str]]] = {}
    for eid, patient_id, dos, code in rows:
        keys.setdefault(eid, (patient_id, dos, []))[2].append(code)
    return [(p, d, tuple(sorted(c))) for p, d, c in keys.values()]
