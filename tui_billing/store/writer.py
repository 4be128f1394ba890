"""Writes planned rows: the one place a posting's rows become SQL.

Every row record of :mod:`tui_billing.ledger.records` names its table and carries its columns
in order, so one INSERT statement per record type serves the operations (a plan at a time, in
the caller's transaction) and the demo's bulk load (many rows per statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..ledger.records import TABLE_OF, Plan, Row
from . import audit
from .db import database, executemany


def insert_sql(kind: type[Any]) -> str:
    """``INSERT INTO table (columns...) VALUES (?...)`` for a row record type."""
    fields: tuple[str, ...] = kind._fields
    return f"INSERT INTO {TABLE_OF[kind]} ({', '.join(fields)}) VALUES ({','.join('?' * len(fields))})"


#: row record type -> its INSERT statement
INSERTS: dict[type, str] = {kind: insert_sql(kind) for kind in TABLE_OF}


def insert_rows(rows: Iterable[Row]) -> None:
    """Insert planned rows in order (inside the caller's write transaction)."""
    for row in rows:
        database.execute_sql(INSERTS[type(row)], row)


def write_plan(plan: Plan) -> str:
    """Write a plan's rows and then its audit event; returns the event's hash."""
    insert_rows(plan.rows)
    return audit.record_event(plan.event)


def bulk_insert(kind: type[Any], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert many rows of one record type at once, in the caller's transaction (an 835's postings)."""
    executemany(INSERTS[kind], rows)
