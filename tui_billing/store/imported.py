"""What was imported: each file's sha256 and kind, so the same file is not posted twice.

Both functions run inside the import's own write transaction: the record commits with the rows
it describes, or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .db import database


@dataclass(frozen=True)
class PreviousImport:
    """An earlier import of the same bytes as the same kind."""

    imported_at: str
    operator: str
    file_name: str
    rows: int


def previous_imports(sha256: str, kind: str) -> list[PreviousImport]:
    """Earlier imports of a file with this digest as this kind, oldest first."""
    rows = database.execute_sql(
        "SELECT imported_at, operator, file_name, rows FROM import_file WHERE sha256 = ? AND kind = ? ORDER BY id",
        (sha256, kind)).fetchall()
    return [PreviousImport(*r) for r in rows]


def record_import(sha256: str, kind: str, file_name: str, rows: int, operator: str) -> None:
    """Remember this import (call it inside the import's transaction)."""
    assert database.in_transaction(), "an import is recorded in the import's own transaction"
    database.execute_sql(
        "INSERT INTO import_file (sha256, kind, file_name, rows, imported_at, operator) VALUES (?,?,?,?,?,?)",
        (sha256, kind, file_name, rows, dt.datetime.now().astimezone().isoformat(timespec="seconds"), operator))
