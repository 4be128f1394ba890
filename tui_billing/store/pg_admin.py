"""Setting up and upgrading PostgreSQL books, and the database roles that the server enforces.

Roles (see the README's PostgreSQL section):

* the **owner** role owns every table, trigger and function; only ``tui-billing pg setup`` and
  schema upgrades use it. Nobody posts as the owner.
* group roles ``tb_clerk``, ``tb_supervisor`` and ``tb_admin`` (the app's roles) may read every
  table, insert rows, and update only the current-state master data (patients, coverages, payers,
  providers, the practice, fees, reasons, a batch's control figures, which a trigger limits) and
  the write-lock row. None may update or delete posted history, alter, drop or truncate anything:
  the server refuses it, whatever program the clerk runs. The guards' trigger functions run as
  the owner (SECURITY DEFINER), so a posting keeps its running balances without clerks holding
  any right to change them.
* each clerk logs in as a role of their own OS user name (peer authentication over the local
  socket: the server asks the kernel who is connecting, so the name cannot be spoofed), a member
  of one group role.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import pg_schema
from .errors import DatabaseFileError

if TYPE_CHECKING:
    from psycopg import Connection

GROUP_ROLES = {"clerk": "tb_clerk", "supervisor": "tb_supervisor", "admin": "tb_admin"}
#: The app's rules (store/roles.py) as table rights, so the server holds the line too: tables whose
#: rows only a supervisor (or admin) writes, and those only an admin writes. Nobody but the owner
#: writes the test-book marker or the schema's own tables.
SUPERVISOR_TABLES = ("day_close", "month_close", "day_digest", "practice", "provider", "payer", "procedure",
                     "adjustment_reason", "fee_schedule")
ADMIN_TABLES = ("role_grant",)
OWNER_TABLES = ("tb_schema", "tb_books_version", "test_book")
#: current-state tables the operations update (everything else is only ever inserted into)
UPDATABLE = ("patient", "coverage", "payer", "provider", "practice", "procedure", "adjustment_reason", "batch",
             "tb_books_version")

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise DatabaseFileError(f"{name!r} is not a role name this program makes (lower-case letters, digits, _)")
    return name


def _connect(url: str) -> Connection[Any]:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise DatabaseFileError(f"cannot connect to {url}: {str(exc).strip()}") from exc


def schema_version(conn: Connection[Any]) -> int | None:
    """The books' schema version, or None when the database has no tui-billing schema."""
    found = conn.execute("SELECT to_regclass('tb_schema') IS NOT NULL").fetchone()
    if not found or not found[0]:
        return None
    row = conn.execute("SELECT version FROM tb_schema WHERE id = 1").fetchone()
    return int(row[0]) if row else None


def setup(url: str, *, owner: str) -> int:
    """Create (or upgrade) the books' schema in the database at ``url``, owned by ``owner``, with the
    group roles and their rights. ``url`` logs in as a role that may ``SET ROLE owner`` (the owner
    itself or a superuser). Returns the schema version reached. Idempotent."""
    from .migrations import SCHEMA_VERSION

    conn = _connect(url)
    try:
        row = conn.execute("SELECT datcollate, datlocprovider FROM pg_database "
                           "WHERE datname = current_database()").fetchone()
        if row and (row[0] not in ("C", "POSIX", "C.UTF-8", "C.utf8") or row[1] == "i"):  # i: an ICU collation
            # SQLite compares text byte by byte: under another collation lists and reports would sort
            # differently on the two backends (and a moved office's reports would not agree)
            raise DatabaseFileError(f"the database sorts text by {'ICU' if row[1] == 'i' else row[0]}; tui-billing needs "
                                    "byte order: create it "
                                    "with `createdb --locale=C.UTF-8 --template=template0 ...`")
        with conn.transaction():
            _ensure_group_roles(conn)
            conn.execute(f"SET LOCAL ROLE {_ident(owner)}")
            version = schema_version(conn)
            if version is None:
                for statement in pg_schema.create_statements(SCHEMA_VERSION):
                    conn.execute(statement)
                conn.execute("CREATE TABLE tb_books_version (id INTEGER PRIMARY KEY CHECK (id = 1), "
                             "n BIGINT NOT NULL)")
                conn.execute("INSERT INTO tb_books_version VALUES (1, 0)")
                # what identity.py and the tests ask SQLite's catalogue: which tables exist
                conn.execute("CREATE VIEW sqlite_master AS SELECT 'table'::text AS type, c.relname::text AS name, "
                             "c.relname::text AS tbl_name, NULL::text AS sql FROM pg_class c "
                             "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'")
                conn.execute("INSERT INTO tb_schema VALUES (1, %s)", (SCHEMA_VERSION,))
            else:
                _upgrade(conn, version, SCHEMA_VERSION)
                if not conn.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'audit_event_own_name'").fetchone():
                    for statement in pg_schema.OWN_NAME_STATEMENTS:  # books set up before the guard existed
                        conn.execute(statement)
            _grant(conn)
            return SCHEMA_VERSION
    finally:
        conn.close()


def _upgrade(conn: Connection[Any], version: int, target: int) -> None:
    if version > target:
        raise DatabaseFileError(f"these books were made by a newer tui-billing (schema {version}; this program knows "
                                f"up to {target}): upgrade tui-billing before opening them")
    for step in range(version + 1, target + 1):
        for statement in pg_schema.upgrade_statements(step):
            conn.execute(statement)
        conn.execute("UPDATE tb_schema SET version = %s WHERE id = 1", (step,))


def _ensure_group_roles(conn: Connection[Any]) -> None:
    for role in GROUP_ROLES.values():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(f"CREATE ROLE {role} NOLOGIN")


def _grant(conn: Connection[Any]) -> None:
    groups = ", ".join(GROUP_ROLES.values())
    conn.execute(f"GRANT USAGE ON SCHEMA public TO {groups}")
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").fetchall()]
    for table in tables:
        conn.execute(f"REVOKE ALL ON {table} FROM PUBLIC, {groups}")
        conn.execute(f"GRANT SELECT ON {table} TO {groups}")
        writers = ("tb_admin",) if table in ADMIN_TABLES else ("tb_supervisor", "tb_admin") \
            if table in SUPERVISOR_TABLES else () if table in OWNER_TABLES else tuple(GROUP_ROLES.values())
        if writers:
            conn.execute(f"GRANT INSERT ON {table} TO {', '.join(writers)}")
            if table in UPDATABLE:
                conn.execute(f"GRANT UPDATE ON {table} TO {', '.join(writers)}")
    # every writer takes the write lock by updating its one row (store/pg.py), whatever it writes
    conn.execute(f"GRANT UPDATE ON tb_books_version TO {groups}")
    conn.execute(f"GRANT SELECT ON sqlite_master TO {groups}")


def add_login(url: str, name: str, role: str) -> None:
    """Make (or move) the login role of OS user ``name`` a member of the app role ``role``'s group."""
    if role not in GROUP_ROLES:
        raise DatabaseFileError(f"role must be one of {', '.join(GROUP_ROLES)}")
    conn = _connect(url)
    try:
        with conn.transaction():
            _ensure_group_roles(conn)
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(f"CREATE ROLE {_ident(name)} LOGIN")
            for other in GROUP_ROLES.values():
                conn.execute(f"REVOKE {other} FROM {_ident(name)}")
            conn.execute(f"GRANT {GROUP_ROLES[role]} TO {_ident(name)}")
    finally:
        conn.close()
