"""`tui-billing migrate --to postgresql://...`: an office's SQLite books moved to a server, in one transaction.

The target must be books made by ``tui-billing pg setup`` at the same schema version and still
empty (no audit event). Every table is copied row for row, ids kept, with PostgreSQL's COPY; the
guards and running-balance triggers are switched off for the copy (inside the transaction: no
other session ever sees them off, and a failure leaves the target as it was) because the rows
are history already checked by SQLite's own guards, and the running balances are copied, not
re-derived. Afterwards ``check`` on both sides and every report agree (tests/test_pg.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import BillingError

#: PostgreSQL's own bookkeeping tables (store/pg_admin.py): not in the SQLite file
_SERVER_ONLY = ("tb_schema", "tb_books_version")


def copy_books(source: Path, url: str) -> dict[str, int]:
    """Copy every row of the SQLite books at ``source`` into the empty server books at ``url``.
    Returns rows copied per table."""
    import psycopg

    from . import pg_admin, pg_schema
    from .migrations import SCHEMA_VERSION

    src = sqlite3.connect(f"{Path(source).resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = src.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise BillingError(f"{source} is at schema {version}; open it with this tui-billing first (it upgrades)")
        try:
            conn = psycopg.connect(url, autocommit=True)  # the one transaction below is the whole move
        except psycopg.Error as exc:
            raise BillingError(f"cannot connect to {url}: {str(exc).strip()}") from exc
        try:
            if pg_admin.schema_version(conn) != SCHEMA_VERSION:
                raise BillingError(f"{url} has no books at schema {SCHEMA_VERSION}: run `tui-billing pg setup` there first")
            if conn.execute("SELECT 1 FROM audit_event LIMIT 1").fetchone():
                raise BillingError(f"{url} already holds books (it has audit events): migrate only into new, empty books")
            tables = [o.name for o in pg_schema.sqlite_schema(SCHEMA_VERSION) if o.type == "table"]
            counts: dict[str, int] = {}
            with conn.transaction():
                conn.execute("UPDATE tb_books_version SET n = n + 1 WHERE id = 1")  # the write lock, as every write
                conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
                # Foreign keys checked row by row and indexes grown row by row made the move ~10x slower
                # than the copy itself: they are taken off and put back (the same definitions) after it,
                # each foreign key then proved by one join over the whole table. All inside the one
                # transaction: nobody ever sees the books without them.
                foreign_keys = conn.execute(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace").fetchall()
                keys = conn.execute(
                    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype IN ('p', 'u') AND connamespace = current_schema()::regnamespace "
                    "AND conrelid::regclass::text <> ALL(%s)", (list(_SERVER_ONLY),)).fetchall()
                indexes = conn.execute(
                    "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indrelid WHERE c.relnamespace = current_schema()::regnamespace "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)").fetchall()
                for table, name, _ in foreign_keys:
                    conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
                for table, name, _ in keys:
                    conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
                for name, _ in indexes:
                    conn.execute(f"DROP INDEX {name}")
                for table in tables:
                    conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
                # e.g. a marker `pg setup` left: the file's rows win (emptied in this transaction, the tables
                # can be filled without WAL where the server runs wal_level=minimal)
                conn.execute(f"TRUNCATE {', '.join(tables)}")
                for table in tables:
                    counts[table] = _copy_table(src, conn, table)
                for table, name, definition in keys:
                    conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
                for _, definition in indexes:
                    conn.execute(definition)
                for table, name, definition in foreign_keys:
                    conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
                for table in tables:
                    conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
                conn.execute("ANALYZE")  # the planner's statistics for the new rows, before the first report
            return counts
        except psycopg.Error as exc:
            raise BillingError(f"the move to {url} failed and nothing was kept there: {str(exc).strip()}") from exc
        finally:
            conn.close()
    finally:
        src.close()


def _copy_table(src: sqlite3.Connection, conn: object, table: str) -> int:
    from .pg_dialect import quote_column

    columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(quote_column(c) for c in columns)
    rows = 0
    # id order: a reversal (reverses_id) and every foreign key points at a row already there
    order = "id" if "id" in columns else "rowid"
    try:
        src.execute(f"SELECT {order} FROM {table} LIMIT 0")
    except sqlite3.OperationalError:  # a WITHOUT ROWID table: its key's order
        order = ", ".join(r[1] for r in sorted(src.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5])
    with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in src.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"):
            copy.write_row(row)
            rows += 1
    return rows
