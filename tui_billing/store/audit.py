"""The audit trail: one event per operation, hash-chained, written in the operation's transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from .db import database

GENESIS = "0" * 64


def canonical(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, at: str, user: str, action: str, entity: str, entity_id: int | None, detail: str) -> str:
    """SHA-256 over the previous hash and every field of the event, so any edit breaks the chain."""
    payload = "\x1f".join((prev_hash, at, user, action, entity, "" if entity_id is None else str(entity_id), detail))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


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


def chain_rows(prev: str, events: Iterable[tuple[str, str, str, str, int | None, dict[str, Any]]]) -> Iterator[tuple]:
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
