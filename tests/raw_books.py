"""A second, raw connection to the open test books (another clerk's process, or someone with a
database client), for either backend: SQLite's file or the PostgreSQL test server.

Statements are written in the store's SQLite dialect and translated for PostgreSQL by the store's
own translator (tui_billing/store/pg_dialect.py). Errors from either driver are caught with
:data:`INTEGRITY` / :data:`OPERATIONAL`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from tui_billing.store import pg_dialect, pg_schema

INTEGRITY = (sqlite3.IntegrityError, psycopg.IntegrityError)
OPERATIONAL = (sqlite3.OperationalError, psycopg.OperationalError)
#: what a guard's refusal raises on either backend (a trigger's RAISE, a constraint)
REFUSED = (sqlite3.DatabaseError, psycopg.Error)
#: what each backend says when a CHECK constraint refuses a row
CHECK_FAILED = r"CHECK constraint|violates check constraint"


def is_server(db: object) -> bool:
    return str(db).startswith("postgresql://")


class Raw:
    """A plain DB-API connection to ``db`` (a path, or a PostgreSQL URL); not autocommit."""

    def __init__(self, db: Path | str, *, autocommit: bool = False, **sqlite_options: Any) -> None:
        """``autocommit``: each statement on its own, as a database client's prompt runs them."""
        self.server = is_server(db)
        if autocommit and not self.server:
            sqlite_options["isolation_level"] = None
        self.conn: Any = (psycopg.connect(str(db), autocommit=autocommit) if self.server
                          else sqlite3.connect(db, **sqlite_options))

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if not self.server:
            return self.conn.execute(sql, params)
        words = sql.split()
        if words[:2] == ["DROP", "TRIGGER"] and len(words) == 3:  # PostgreSQL names the table too
            table = pg_schema.expected_triggers()[words[2]][0]
            sql = f"DROP TRIGGER {words[2]} ON {table}"
        query = pg_dialect.translate(sql)
        return self.conn.execute(query.sql, query.params(params))

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    def begin_write(self) -> None:
        """Take the books' write lock as the program's own writes do (SQLite: BEGIN IMMEDIATE)."""
        if self.server:
            self.conn.execute("UPDATE tb_books_version SET n = n + 1 WHERE id = 1")
        else:
            self.conn.execute("BEGIN IMMEDIATE")
