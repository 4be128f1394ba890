"""The PostgreSQL connection: ``--db postgresql://...`` (psycopg 3 under Peewee).

Only this module, :mod:`pg_dialect`, :mod:`pg_schema` and :mod:`pg_admin` know PostgreSQL; the
operations, checks and reports run unchanged, their SQL translated statement by statement
(:func:`pg_dialect.translate`). What differs from SQLite, and how it is kept the same:

* One writer at a time (the audit chain needs it): every write transaction starts by updating
  the one row of ``tb_books_version`` (:func:`begin_write`), which it then holds locked until it
  commits. The next writer waits there, and once it has the row (READ COMMITTED) every statement
  it runs sees what the one before committed: SQLite's ``BEGIN IMMEDIATE``.
* The counter in that row is the books' data version (SQLite's ``PRAGMA data_version``); each
  write also sends ``NOTIFY tb_books`` with it, which :func:`listen` hears (live refresh).
* A read snapshot (:func:`tui_billing.store.db.read_snapshot`) is a REPEATABLE READ transaction.
* ``SUM`` of a BIGINT is NUMERIC in PostgreSQL: it is read back as a Python int (a non-integral
  value as a float, as SQLite gives it), so money stays int cents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from peewee import PostgresqlDatabase

from . import pg_dialect
from .errors import BillingError

#: the channel every write notifies (payload: the new data version)
CHANNEL = "tb_books"

_ID_RETURNING = " RETURNING id"


def is_server_url(given: object) -> bool:
    text = str(given or "")
    return text.startswith(("postgresql://", "postgres://"))


def _numeric_loader() -> type:
    from psycopg.types.numeric import NumericLoader

    class CentsLoader(NumericLoader):
        """NUMERIC (a SUM of cents) as an int when it is whole, else as a float (what SQLite returns)."""

        def load(self, data: Any) -> Any:  # psycopg types it Decimal; SQLite's callers expect int
            value: Decimal = super().load(data)
            return int(value) if value == value.to_integral_value() else float(value)

    return CentsLoader


@lru_cache(maxsize=1)
def rowid_tables() -> frozenset[str]:
    """Tables with SQLite's ``id INTEGER PRIMARY KEY``: their INSERTs return the new id."""
    from .migrations import SCHEMA_VERSION
    from .pg_schema import sqlite_schema

    return frozenset(o.name for o in sqlite_schema(SCHEMA_VERSION)
                     if o.type == "table" and pg_dialect.table_ddl(o.sql).rowid)


class _Cursor:
    """A psycopg cursor with sqlite3's ``lastrowid`` (the id an INSERT wrote)."""

    __slots__ = ("_cursor", "lastrowid")

    def __init__(self, cursor: Any, lastrowid: int | None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        rows: list[Any] = self._cursor.fetchall()
        return rows

    def fetchmany(self, size: int = 1) -> list[Any]:
        rows: list[Any] = self._cursor.fetchmany(size)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    @property
    def rowcount(self) -> int:
        count: int = self._cursor.rowcount
        return count

    @property
    def description(self) -> Any:
        return self._cursor.description

    def close(self) -> None:
        self._cursor.close()


class PgDatabase(PostgresqlDatabase):
    """Peewee's PostgreSQL database, taking the store's SQLite-dialect statements."""

    lock_timeout_ms = 5000

    def _connect(self) -> Any:
        conn = super()._connect()  # type: ignore[misc]  # Peewee's stubs leave out the private hooks
        conn.adapters.register_loader("numeric", _numeric_loader())
        # a writer waits this long for another's write lock, then the store's write() retries (SQLite's busy timeout)
        conn.execute(f"SET lock_timeout = {int(self.lock_timeout_ms)}")
        # an acknowledged posting is on the server's disk, whatever the server's default: with
        # synchronous_commit=off a server crash loses the last commits the clerk was told were saved
        conn.execute("SET synchronous_commit = on")
        return conn

    def begin(self, lock_type: str | None = None, isolation_level: Any = None) -> None:  # type: ignore[override]
        # SQLite's DEFERRED read transaction (a report's snapshot) is REPEATABLE READ here; the
        # write lock is taken by the store's write() (begin_write), not by BEGIN
        statement = "BEGIN ISOLATION LEVEL REPEATABLE READ" if lock_type == "DEFERRED" else "BEGIN"
        self.cursor().execute(statement)  # type: ignore[no-untyped-call]

    def execute(self, query: Any, **context_options: Any) -> Any:
        # Peewee's own query builder already speaks PostgreSQL: no translation
        ctx = self.get_sql_context(**context_options)
        sql, params = ctx.sql(query).query()  # type: ignore[no-untyped-call]
        _refuse_nul(params)
        return self._execute_cursor(sql, params)  # type: ignore[attr-defined]

    def execute_sql(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> _Cursor:
        query = pg_dialect.translate(sql)
        _refuse_nul(params)
        text = query.sql
        returning = (query.insert_table in rowid_tables() and "RETURNING" not in text.upper()
                     and "ON CONFLICT" not in text.upper())
        if returning:
            text += _ID_RETURNING
        cursor = self._execute_cursor(text, query.params(params if params is not None else ()))  # type: ignore[attr-defined]
        lastrowid = None
        if returning:
            row = cursor.fetchone()
            lastrowid = row[0] if row else None
        return _Cursor(cursor, lastrowid)


def _refuse_nul(params: object) -> None:
    """PostgreSQL text cannot hold a NUL character (SQLite's can): refuse it in words before the server
    fails the statement (and with it the whole transaction) with a driver error. A caller that refuses
    one line of an import (a savepoint) reports it on that line."""
    values = params.values() if isinstance(params, dict) else params if isinstance(params, (list, tuple)) else ()
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise BillingError(f"text with a NUL character (0x00) cannot be kept in the books: {value[:40]!r}")


def open_url(url: str, lock_timeout_ms: int) -> PgDatabase:
    """A connected database for ``url`` (``postgresql:///books?host=/run/postgresql``); a writer waits up to
    ``lock_timeout_ms`` for another's write lock before the store's write() backs off and tries again."""
    database = PgDatabase(url, prefer_psycopg3=True, autoconnect=True)
    database.lock_timeout_ms = lock_timeout_ms
    database.connect()
    return database


def begin_write(database: PgDatabase) -> None:
    """First statement of every write transaction: wait for, and hold, the books' write lock."""
    row = database.execute_sql("UPDATE tb_books_version SET n = n + 1 WHERE id = 1 RETURNING n").fetchone()
    database.execute_sql(f"SELECT pg_notify('{CHANNEL}', ?)", (str(row[0]),))


def data_version(database: PgDatabase) -> int:
    row = database.execute_sql("SELECT n FROM tb_books_version WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


class Listener:
    """A connection of its own that hears every write's NOTIFY (the TUI's live refresh on PostgreSQL)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True when another write committed within ``timeout`` seconds (every pending notice is read)."""
        heard = False
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            heard = True
        if heard:
            for _ in self._conn.notifies(timeout=0.001):  # several writes: one refresh
                pass
        return heard

    def close(self) -> None:
        self._conn.close()
