"""The audit trail: one event per operation, hash-chained, written in the operation's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..ledger.audit import GENESIS, canonical, event_hash
from ..ledger.records import AuditEvent
from .db import database

__all__ = ["GENESIS", "canonical", "chain_rows", "event_hash", "last_hash", "record", "record_event",
           "verify_chain"]


def last_hash() -> str:
    row = database.execute_sql("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
    return row[0] if row else GENESIS


def record(at: str, user: str, action: str, entity: str, entity_id: int | None, detail: dict[str, Any]) -> str:
    """Append one event. Must run inside the operation's write transaction (which serialises it)."""
    assert database.in_transaction(), "audit events are written in the operation's own transaction"
    text = canonical(detail)
    prev = last_hash()
    digest = event_hash(prev, at, user, action, entity, entity_id, text)
    database.execute_sql(
        "INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        (at, user, action, entity, entity_id, text, prev, digest),
    )
    return digest


def record_event(event: AuditEvent) -> str:
    """Append a planned event (see :func:`record`)."""
    return record(event.at, event.user, event.action, event.entity, event.entity_id, dict(event.detail))


def chain_rows(prev: str, events: Iterable[tuple[str, str, str, str, int | None, dict[str, Any]]]) -> Iterator[tuple[Any, ...]]:
    """Rows for a bulk load (the demo): each event chained to the one before."""
    for at, user, action, entity, entity_id, detail in events:
        text = canonical(detail)
        digest = event_hash(prev, at, user, action, entity, entity_id, text)
        yield (at, user, action, entity, entity_id, text, prev, digest)
        prev = digest


def verify_chain(limit_problems: int = 5) -> list[str]:
    """Walk the whole chain; return a description of every break found (up to a limit)."""
    problems: list[str] = []
    prev = GENESIS
    cursor = database.execute_sql(
        "SELECT id, at, user, action, entity, entity_id, detail, prev_hash, hash FROM audit_event ORDER BY id"
    )
    for event_id, at, user, action, entity, entity_id, detail, prev_hash, digest in cursor:
        if prev_hash != prev:
            problems.append(f"audit event {event_id} does not follow the event before it (chain broken)")
        elif event_hash(prev_hash, at, user, action, entity, entity_id, detail) != digest:
            problems.append(f"audit event {event_id} ({action} {entity} {entity_id}) was altered after it was written")
        if len(problems) >= limit_problems:
            break
        prev = digest
    return problems
