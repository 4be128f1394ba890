"""SQLite books moved to a server in one transaction: `tui-billing migrate --to postgresql://...`, and the
demo built into a server.

The target must be books made by ``tui-billing pg setup`` at the same schema version and still
empty (no audit event). Every table is copied row for row, ids kept, with PostgreSQL's COPY; the
guards and running-balance triggers are switched off for the copy (inside the transaction: no
other session ever sees them off, and a failure leaves the target as it was) because the rows
are history already checked by SQLite's own guards, and the running balances are copied, not
re-derived. Afterwards ``check`` on both sides and every report agree (tests/test_pg.py).

:class:`ServerLoad` is that one transaction. ``migrate`` fills it from a finished file
(:func:`copy_books`); the demo (:class:`DemoMirror`) fills it *while* its file is being built: a
child process receives the append-only history the bulk load writes, day by day, as it is
written, so the server's COPY runs beside the build instead of after it, and copies the rest
from the finished file at the end.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import BillingError

#: PostgreSQL's own bookkeeping tables (store/pg_admin.py): not in the SQLite file
_SERVER_ONLY = ("tb_schema", "tb_books_version")


class ServerLoad:
    """One bulk load into empty server books at ``url``, in one transaction (nothing is seen until
    :meth:`finish` commits; :meth:`abort`, or a failure, leaves the books as they were)."""

    def __init__(self, url: str) -> None:
        import psycopg

        from . import pg_admin, pg_schema
        from .migrations import SCHEMA_VERSION

        try:
            self.conn = psycopg.connect(url, autocommit=True)  # the one transaction below is the whole load
        except psycopg.Error as exc:
            raise BillingError(f"cannot connect to {url}: {str(exc).strip()}") from exc
        self.url = url
        try:
            if pg_admin.schema_version(self.conn) != SCHEMA_VERSION:
                raise BillingError(f"{url} has no books at schema {SCHEMA_VERSION}: run `tui-billing pg setup` there first")
            if self.conn.execute("SELECT 1 FROM audit_event LIMIT 1").fetchone():
                raise BillingError(f"{url} already holds books (it has audit events): migrate only into new, empty books")
            self.tables = [o.name for o in pg_schema.sqlite_schema(SCHEMA_VERSION) if o.type == "table"]
            self._transaction = self.conn.transaction()
            self._transaction.__enter__()
            self._prepare()
        except BaseException:
            self.conn.close()
            raise

    def _prepare(self) -> None:
        conn = self.conn
        conn.execute("UPDATE tb_books_version SET n = n + 1 WHERE id = 1")  # the write lock, as every write
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        # Foreign keys checked row by row and indexes grown row by row made the move ~10x slower
        # than the copy itself: they are taken off and put back (the same definitions) after it,
        # each foreign key then proved by one join over the whole table. All inside the one
        # transaction: nobody ever sees the books without them.
        #: what is taken off, to put back: (table, name, definition, the table a foreign key points at)
        self.foreign_keys: list[tuple[str, str, str, str]] = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), confrelid::regclass::text "
            "FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace").fetchall()
        self.keys: list[tuple[str, str, str]] = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype IN ('p', 'u') AND connamespace = current_schema()::regnamespace "
            "AND conrelid::regclass::text <> ALL(%s)", (list(_SERVER_ONLY),)).fetchall()
        self.indexes: list[tuple[str, str, str]] = conn.execute(
            "SELECT c.relname::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = current_schema()::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)").fetchall()
        for table, name, _, _ in self.foreign_keys:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for table, name, _ in self.keys:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for _, name, _ in self.indexes:
            conn.execute(f"DROP INDEX {name}")
        for table in self.tables:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        # e.g. a marker `pg setup` left: the file's rows win (emptied in this transaction, the tables
        # can be filled without WAL where the server runs wal_level=minimal)
        conn.execute(f"TRUNCATE {', '.join(self.tables)}")

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """COPY ``rows`` (values in ``columns`` order) into ``table``; returns how many."""
        from .pg_dialect import quote_column

        count = 0
        names = ", ".join(quote_column(c) for c in columns)
        with self.conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def copy_table(self, src: sqlite3.Connection, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        """Rows of ``table`` in the SQLite file (those matching ``where``) into the same table here."""
        columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        # id order: a reversal (reverses_id) and every foreign key points at a row already there
        order = "id" if "id" in columns else "rowid"
        try:
            src.execute(f"SELECT {order} FROM {table} LIMIT 0")
        except sqlite3.OperationalError:  # a WITHOUT ROWID table: its key's order
            order = ", ".join(r[1] for r in sorted(src.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5])
        rows = src.execute(f"SELECT {', '.join(columns)} FROM {table} {where} ORDER BY {order}", params)
        return self.copy_rows(table, columns, rows)

    def restore(self, tables: set[str] | None = None) -> None:
        """Put back the keys and indexes of ``tables`` (all when None) and the foreign keys among them,
        each proved by one join; the rest stay off. Their later rows keep the indexes up to date."""
        conn = self.conn
        if tables is None:
            tables = set(self.tables)
        for table, name, definition in [k for k in self.keys if k[0] in tables]:
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            self.keys.remove((table, name, definition))
        for index in [i for i in self.indexes if i[0] in tables]:
            conn.execute(index[2])
            self.indexes.remove(index)
        for key in [k for k in self.foreign_keys if k[0] in tables and k[3] in tables]:
            conn.execute(f"ALTER TABLE {key[0]} ADD CONSTRAINT {key[1]} {key[2]}")
            self.foreign_keys.remove(key)

    def finish(self) -> None:
        """Put the keys, indexes, foreign keys (each proved) and triggers back, and commit."""
        conn = self.conn
        self.restore()
        for table in self.tables:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.execute("ANALYZE")  # the planner's statistics for the new rows, before the first report
        self._transaction.__exit__(None, None, None)
        self.conn.close()

    def abort(self, exc: BaseException | None = None) -> None:
        """Roll the whole load back (nothing reaches the books)."""
        if not self.conn.closed:
            try:
                self._transaction.__exit__(type(exc) if exc else RuntimeError, exc, None)
            except Exception:  # the rollback's own error must not hide the one that caused it
                pass
            self.conn.close()


def _open_source(source: Path) -> sqlite3.Connection:
    from .migrations import SCHEMA_VERSION

    src = sqlite3.connect(f"{Path(source).resolve().as_uri()}?mode=ro", uri=True)
    version = src.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        src.close()
        raise BillingError(f"{source} is at schema {version}; open it with this tui-billing first (it upgrades)")
    return src


def copy_books(source: Path, url: str) -> dict[str, int]:
    """Copy every row of the SQLite books at ``source`` into the empty server books at ``url``.
    Returns rows copied per table."""
    import psycopg

    src = _open_source(source)
    try:
        load = ServerLoad(url)
        try:
            counts = {table: load.copy_table(src, table) for table in load.tables}
            load.finish()
        except BaseException as exc:
            load.abort(exc)
            if isinstance(exc, psycopg.Error):
                raise BillingError(f"the move to {url} failed and nothing was kept there: {str(exc).strip()}") from exc
            raise
        return counts
    finally:
        src.close()


# --------------------------------------------------------------------------- the demo, built beside the server


_INSERT = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)")


class DemoMirror:
    """The server side of ``demo --db postgresql://``: a child process holding a :class:`ServerLoad`.

    The demo's bulk load hands it (:meth:`send`) each batch of rows it writes to a history table
    that is append-only (its rows never change once written, so a copy taken as they are written
    is the final one) and whose rows carry their ids. :meth:`finish` then copies, from the finished
    file, every other table whole and the rows of those tables that were not sent (written before
    or after the bulk load), proves the counts agree, and commits. Start it before the demo opens
    its file: the child is forked, and a SQLite connection must never cross a fork.
    """

    def __init__(self, url: str) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self._queue = ctx.Queue(maxsize=16)  # a few days of rows ahead; the build waits when the server lags
        self._parent, child = ctx.Pipe()
        self._child = ctx.Process(target=_mirror_main, args=(url, self._queue, child), name="demo-server-load",
                                  daemon=True)
        self._child.start()
        child.close()
        self._streams: set[str] = set()

    def wants(self, statement: str) -> tuple[str, list[str]] | None:
        """(the table, its columns) when rows written by ``statement`` are to be sent, else None."""
        match = _INSERT.match(statement)
        if not match:
            return None
        table, columns = match.group(1), [c.strip() for c in match.group(2).split(",")]
        return (table, columns) if table in self._streams and columns[0] == "id" else None

    def stream(self, tables: Iterable[str]) -> None:
        """The append-only tables whose bulk-loaded rows are sent as they are written."""
        self._streams = set(tables)

    def send(self, table: str, columns: list[str], rows: Sequence[Sequence[Any]]) -> None:
        self._put(("rows", table, columns, rows))

    def history_written(self) -> None:
        """The bulk load has sent all it will: the server builds those tables' keys and indexes now,
        beside the rest of the build (the demo's accounts and claims), instead of after it."""
        self._put(("history", "", [], []))

    def finish(self, source: Path) -> dict[str, int]:
        """Copy the rest from the finished file at ``source`` and commit; returns rows per table."""
        self._put(("finish", str(source), [], []))
        return self._result()

    def _put(self, message: tuple[str, str, list[str], Sequence[Sequence[Any]]]) -> None:
        from queue import Full

        while True:
            self._check()
            try:
                self._queue.put(message, timeout=1)
                return
            except Full:  # the server is behind: wait, as long as the child is there
                continue

    def abort(self) -> None:
        """Roll the server's load back (the child ends; nothing reaches the books)."""
        if self._child.is_alive():
            self._child.terminate()  # its connection closes with it: the server rolls the transaction back
        self._child.join()

    def _check(self) -> None:
        if not self._child.is_alive() or self._parent.poll():
            self._result()  # raises the child's error
            raise BillingError("the server load ended early")

    def _result(self) -> dict[str, int]:
        while not self._parent.poll(1):
            if not self._child.is_alive():
                raise BillingError(f"the server load process died (exit code {self._child.exitcode})")
        kind, payload = self._parent.recv()
        self._child.join()
        if kind == "error":
            raise BillingError(payload)
        counts: dict[str, int] = payload
        return counts


def _mirror_main(url: str, queue: Any, reply: Any) -> None:
    """Child process: the server load, fed by the demo as it builds, finished from its file."""
    import traceback

    import psycopg

    load = None
    try:
        load = ServerLoad(url)
        sent: dict[str, tuple[int, int, int]] = {}  # table -> (lowest id, highest id, rows)
        while True:
            kind, table, columns, rows = queue.get()
            if kind == "finish":
                break
            if kind == "history":
                load.restore(set(sent))
                continue
            if rows:
                count = load.copy_rows(table, columns, rows)
                low, high, total = sent.get(table, (rows[0][0], rows[0][0], 0))
                sent[table] = (min(low, min(r[0] for r in rows)), max(high, max(r[0] for r in rows)), total + count)
        counts = _copy_rest(load, Path(table), sent)  # a finish names the finished file
        load.finish()
        reply.send(("done", counts))
    except BaseException as exc:
        if load is not None:
            load.abort(exc)
        message = (f"the demo's move to {url} failed and nothing was kept there: {str(exc).strip()}"
                   if isinstance(exc, (psycopg.Error, BillingError)) else traceback.format_exc())
        reply.send(("error", message))


def _copy_rest(load: ServerLoad, source: Path, sent: dict[str, tuple[int, int, int]]) -> dict[str, int]:
    """Every table's rows that were not sent, from the finished file; proves each sent range is whole."""
    src = _open_source(source)
    try:
        counts = {}
        for table in load.tables:
            if table not in sent:
                counts[table] = load.copy_table(src, table)
                continue
            low, high, total = sent[table]
            in_range = src.execute(f"SELECT COUNT(*) FROM {table} WHERE id BETWEEN ? AND ?", (low, high)).fetchone()[0]
            if in_range != total:
                raise BillingError(f"{table}: {total} rows were sent for ids {low}-{high}, the file has {in_range}")
            counts[table] = total + load.copy_table(src, table, "WHERE id < ? OR id > ?", (low, high))
        return counts
    finally:
        src.close()
