"""The PostgreSQL schema, derived from the same migration list as SQLite's.

There is one list of migrations (:data:`tui_billing.store.migrations.MIGRATIONS`). For PostgreSQL
each version's schema is read from a scratch in-memory SQLite database migrated to that version,
and what changed from the version before becomes PostgreSQL DDL (:func:`upgrade_statements`):

* a new table: its ``CREATE TABLE`` translated (:func:`pg_dialect.table_ddl`);
* a new column of a table: ``ALTER TABLE ... ADD COLUMN``;
* a new or changed index: created (a dropped one dropped);
* a new or changed trigger: the SQLite trigger's body translated into a PL/pgSQL function
  (:func:`trigger_ddl`): a guard's ``WHEN`` becomes an ``IF``, ``RAISE(ABORT, msg)`` a ``RAISE
  EXCEPTION``, the running-balance statements are kept as they are. The functions are
  ``SECURITY DEFINER`` (owned by the schema's owner), so a clerk posting an entry keeps its
  running balances without any right to change them directly.

So a migration that adds tables, columns, indexes and guard triggers reaches PostgreSQL with no
extra work. What the translator cannot carry (a table rebuilt with new constraints, a data fix,
a trigger whose body is not SQL the two share) needs a hand-written step in :data:`PG_STEPS`
for that version, and :func:`upgrade_statements` refuses to guess: the test
``test_pg_schema.py`` builds every version and fails naming what is missing.

The first version PostgreSQL books exist at is :data:`FIRST_PG_VERSION` (earlier SQLite-only
history is never replayed on PostgreSQL: a new server database starts at the current schema).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from . import pg_dialect

#: PostgreSQL books start at this schema version (the whole SQLite schema as it stood then).
FIRST_PG_VERSION = 11

#: version -> hand-written PostgreSQL statements run after the derived ones (none needed yet).
PG_STEPS: dict[int, tuple[str, ...]] = {}

#: SQLite triggers PostgreSQL does not need, and why. ``INSERT OR REPLACE`` (which deletes the
#: colliding row without firing DELETE triggers) does not exist on PostgreSQL: its ``ON CONFLICT
#: DO UPDATE`` is an UPDATE, which the UPDATE guards refuse.
NOT_NEEDED = re.compile(r"_no_replace_")


@dataclass(frozen=True)
class SchemaObject:
    type: str
    name: str
    table: str
    sql: str


@cache
def sqlite_schema(version: int) -> tuple[SchemaObject, ...]:
    """Every table, index and trigger of a fresh SQLite database at ``version``, in creation order."""
    from .migrations import MIGRATIONS, _register_functions, _split_sql

    con = sqlite3.connect(":memory:")
    try:
        _register_functions(con)
        for script in MIGRATIONS[:version]:
            for statement in _split_sql(script):
                con.execute(statement)
        return tuple(SchemaObject(*row) for row in con.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"))
    finally:
        con.close()


# --------------------------------------------------------------------------- compatibility functions

#: SQLite functions the store's SQL calls that PostgreSQL lacks (or spells differently).
COMPAT_FUNCTIONS = (
    # SQLite's printf('%012d', n) in the reports' ordering keys
    """CREATE OR REPLACE FUNCTION printf(fmt text, n bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE WHEN fmt ~ '^%0[0-9]+d$' THEN lpad(n::text, substring(fmt from 3 for length(fmt) - 3)::int, '0')
                    WHEN fmt = '%d' THEN n::text END $$""",
    # SQLite's two-argument MAX/MIN are scalar: PostgreSQL's GREATEST/LEAST
    "CREATE OR REPLACE FUNCTION max(a anycompatible, b anycompatible) RETURNS anycompatible "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE GREATEST(a, b) END $$",
    "CREATE OR REPLACE FUNCTION min(a anycompatible, b anycompatible) RETURNS anycompatible "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE LEAST(a, b) END $$",
    "CREATE OR REPLACE FUNCTION ifnull(a anycompatible, b anycompatible) RETURNS anycompatible "
    "LANGUAGE sql IMMUTABLE AS $$ SELECT COALESCE(a, b) $$",
    # SQLite's booleans are 0/1, so SUM(x IS NOT NULL) counts: the same aggregate over PostgreSQL's booleans
    "CREATE OR REPLACE FUNCTION tb_sum_flag(total bigint, flag boolean) RETURNS bigint LANGUAGE sql IMMUTABLE AS "
    "$$ SELECT COALESCE(total, 0) + CASE WHEN flag THEN 1 ELSE 0 END $$",
    "CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = tb_sum_flag, STYPE = bigint)",
    "CREATE OR REPLACE FUNCTION instr(a text, b text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT strpos(a, b) $$",
    # a SQLite integer is 64 bits: length() of one is its text's length
    "CREATE OR REPLACE FUNCTION length(n bigint) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT length(n::text) $$",
)

#: the rowid rule: an INSERT that gives no id gets the highest + 1, as SQLite's INTEGER PRIMARY KEY does
#: (writes are serialised, so two never race for the same id)
ROWID_FUNCTION = """CREATE OR REPLACE FUNCTION tb_next_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        EXECUTE format('SELECT COALESCE(MAX(id), 0) + 1 FROM %I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO NEW.id;
    END IF;
    RETURN NEW;
END $$"""

#: TRUNCATE skips row triggers: on a history table it is refused outright.
NO_TRUNCATE_FUNCTION = """CREATE OR REPLACE FUNCTION tb_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'posted history is never changed: % cannot be truncated', TG_TABLE_NAME;
END $$"""

#: On a server a clerk may hold a database client of their own, and the hash chain is public arithmetic:
#: an event in another user's name (a forged approval) would chain and verify. The login (peer
#: authentication: the OS user, not spoofable) is the only name a clerk may write, unless the books are
#: test books (their operator is the test's) or the writer is the owner (`migrate --to` copies history).
OWN_NAME_FUNCTION = """CREATE OR REPLACE FUNCTION tb_audit_own_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."user" IS DISTINCT FROM session_user::text AND NOT EXISTS (SELECT 1 FROM test_book)
            AND NOT pg_has_role(session_user, (SELECT tableowner FROM pg_tables
                                              WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME), 'MEMBER') THEN
        RAISE EXCEPTION 'audit events are written in your own name (%), not %', session_user, NEW."user";
    END IF;
    RETURN NEW;
END $$"""
OWN_NAME_STATEMENTS = (OWN_NAME_FUNCTION, "CREATE TRIGGER audit_event_own_name BEFORE INSERT ON audit_event "
                                          "FOR EACH ROW EXECUTE FUNCTION tb_audit_own_name()")

#: The schema's version (PRAGMA user_version's place) and the row every write locks first.
META_TABLES = (
    "CREATE TABLE tb_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
)


# --------------------------------------------------------------------------- triggers


_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(?P<name>\w+)\s+(?P<timing>BEFORE|AFTER)\s+(?P<event>INSERT|DELETE|UPDATE(?:\s+OF\s+[\w\s,]+?)?)"
    r"\s+ON\s+(?P<table>\w+)\s*(?:FOR\s+EACH\s+ROW\s*)?(?:WHEN\s+(?P<when>.*?))?\s*BEGIN\b(?P<body>.*)\bEND\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_RAISE = re.compile(r"SELECT\s+RAISE\s*\(\s*ABORT\s*,\s*'(?P<message>(?:[^']|'')*)'\s*\)", re.IGNORECASE)


def _is_operators(expression: str) -> str:
    """SQLite's ``a IS NOT b`` / ``a IS b`` compare any values; PostgreSQL's only NULL: use DISTINCT FROM."""
    expression = re.sub(r"(?i)\bIS\s+NOT\s+(?!NULL\b)", "IS DISTINCT FROM ", expression)
    return re.sub(r"(?i)\bIS\s+(?!NOT\b|NULL\b|DISTINCT\b)", "IS NOT DISTINCT FROM ", expression)


def _plpgsql(expression: str) -> str:
    quoted = pg_dialect._expression(expression)
    return _is_operators(quoted)


def trigger_ddl(sqlite_sql: str) -> tuple[str, ...]:
    """A SQLite trigger as a PL/pgSQL function and the trigger that runs it (see the module's docstring)."""
    match = _TRIGGER.match(sqlite_sql.strip())
    if not match:
        raise ValueError(f"trigger not in a form the translator knows: {sqlite_sql[:80]}")
    name, table = match.group("name"), match.group("table")
    timing, event = match.group("timing").upper(), " ".join(match.group("event").split())
    event = re.sub(r"(?i)^(INSERT|DELETE|UPDATE OF|UPDATE)", lambda m: m.group(1).upper(), event)
    body = match.group("body").strip()
    statements = []
    from .migrations import _split_sql

    for statement in _split_sql(body):
        raise_match = _RAISE.fullmatch(statement.strip().rstrip(";").strip())
        if raise_match:
            message = raise_match.group("message")
            statements.append(f"RAISE EXCEPTION USING MESSAGE = '{message}', ERRCODE = 'integrity_constraint_violation';")
        else:
            statements.append(_plpgsql(statement.strip().rstrip(";")) + ";")
    inner = "\n        ".join(statements)
    when = match.group("when")
    if when:
        inner = f"IF {_plpgsql(when.strip())} THEN\n        {inner}\n    END IF;"
    result = "OLD" if event == "DELETE" else "NEW"
    if timing == "AFTER":
        result = "NULL"
    function = (f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER "
                f"SET search_path FROM CURRENT AS $$\nBEGIN\n    {inner}\n    RETURN {result};\nEND $$")
    # PostgreSQL's UPDATE OF takes columns as SQLite's does; a reserved column name is quoted
    event_sql = re.sub(r"(?i)^UPDATE OF (.*)$", lambda m: "UPDATE OF " + ", ".join(
        pg_dialect.quote_column(c.strip()) for c in m.group(1).split(",")), event)
    trigger = f"CREATE TRIGGER {name} {timing} {event_sql} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()"
    return function, trigger


def _drop_trigger(obj: SchemaObject) -> tuple[str, ...]:
    return (f"DROP TRIGGER IF EXISTS {obj.name} ON {obj.table}", f"DROP FUNCTION IF EXISTS {obj.name}_fn()")


# --------------------------------------------------------------------------- whole versions


def _column_ddl(table_sql: str, column: str) -> str:
    """One column's PostgreSQL definition, taken from its translated table."""
    table = pg_dialect.table_ddl(table_sql)
    for line in table.create.splitlines():
        stripped = line.strip().rstrip(",")
        if stripped.split(" ", 1)[0].strip('"') == column:
            return stripped
    raise ValueError(f"column {column} not found in {table.name}")


def _table_statements(obj: SchemaObject) -> list[str]:
    table = pg_dialect.table_ddl(obj.sql)
    out = [table.create, *table.extra]
    if table.rowid:
        out.append(f"CREATE TRIGGER {table.name}_0rowid BEFORE INSERT ON {table.name} FOR EACH ROW "
                   "EXECUTE FUNCTION tb_next_id()")
    return out


def _history_statements(table: str) -> list[str]:
    return [f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
            "EXECUTE FUNCTION tb_no_truncate()"]


def _guarded_tables(objects: tuple[SchemaObject, ...]) -> set[str]:
    """Tables whose rows SQLite refuses to delete (history): they refuse TRUNCATE on PostgreSQL."""
    return {o.table for o in objects if o.type == "trigger" and o.name.endswith("_no_delete")}


def create_statements(version: int) -> list[str]:
    """Everything a new PostgreSQL database at ``version`` needs, in order."""
    if version < FIRST_PG_VERSION:
        raise ValueError(f"PostgreSQL books start at schema {FIRST_PG_VERSION}")
    objects = sqlite_schema(version)
    out: list[str] = [pg_dialect.NOCASE_COLLATION, *META_TABLES, *COMPAT_FUNCTIONS, ROWID_FUNCTION, NO_TRUNCATE_FUNCTION]
    for obj in objects:
        if obj.type == "table":
            out.extend(_table_statements(obj))
    for obj in objects:
        if obj.type == "index":
            out.append(pg_dialect.index_ddl(obj.sql))
    for obj in objects:
        if obj.type == "trigger" and not NOT_NEEDED.search(obj.name):
            out.extend(trigger_ddl(obj.sql))
    for table in sorted(_guarded_tables(objects)):
        out.extend(_history_statements(table))
    out.extend(OWN_NAME_STATEMENTS)
    for step in range(FIRST_PG_VERSION + 1, version + 1):
        out.extend(PG_STEPS.get(step, ()))
    return out


def upgrade_statements(version: int) -> list[str]:
    """PostgreSQL DDL taking a database from ``version - 1`` to ``version`` (see the module's docstring)."""
    before = {(o.type, o.name): o for o in sqlite_schema(version - 1)}
    after = {(o.type, o.name): o for o in sqlite_schema(version)}
    out: list[str] = []
    for key, obj in after.items():
        old = before.get(key)
        if obj.type != "table" or (old is not None and old.sql == obj.sql):
            continue
        if old is None:
            out.extend(_table_statements(obj))
            continue
        old_columns = pg_dialect.table_ddl(old.sql).columns
        new_table = pg_dialect.table_ddl(obj.sql)
        added = [c for c in new_table.columns if c not in old_columns]
        if list(new_table.columns[: len(old_columns)]) != list(old_columns) or not added:
            if version in PG_STEPS:
                continue
            raise ValueError(f"schema {version} rebuilds table {obj.name}: write its PostgreSQL step in PG_STEPS")
        for column in added:
            out.append(f"ALTER TABLE {obj.name} ADD COLUMN {_column_ddl(obj.sql, column)}")
    for key, obj in before.items():
        if key not in after and obj.type == "table":
            out.append(f"DROP TABLE {obj.name}")
        elif obj.type in ("index", "trigger") and (key not in after or after[key].sql != obj.sql):
            out.extend(_drop_trigger(obj) if obj.type == "trigger" else (f"DROP INDEX IF EXISTS {obj.name}",))
    for key, obj in after.items():
        old = before.get(key)
        if obj.type == "index" and (old is None or old.sql != obj.sql):
            out.append(pg_dialect.index_ddl(obj.sql))
    for key, obj in after.items():
        old = before.get(key)
        if obj.type == "trigger" and (old is None or old.sql != obj.sql) and not NOT_NEEDED.search(obj.name):
            out.extend(trigger_ddl(obj.sql))
    newly_guarded = _guarded_tables(sqlite_schema(version)) - _guarded_tables(sqlite_schema(version - 1))
    for table in sorted(newly_guarded):
        out.extend(_history_statements(table))
    out.extend(PG_STEPS.get(version, ()))
    return out


# --------------------------------------------------------------------------- the schema check


_CREATE_TRIGGER = re.compile(r"^CREATE TRIGGER (\w+) .* ON (\w+) .*EXECUTE FUNCTION (\w+)\(\)$", re.DOTALL)
_FUNCTION_BODY = re.compile(r"^CREATE OR REPLACE FUNCTION (\w+)\(\).*?AS \$\$(.*)\$\$$", re.DOTALL)


@lru_cache(maxsize=1)
def expected_triggers() -> dict[str, tuple[str, str]]:
    """trigger name -> (its table, its function's source) in a fresh database of this version."""
    from .migrations import SCHEMA_VERSION

    statements = create_statements(SCHEMA_VERSION)
    bodies = {m.group(1): m.group(2) for m in map(_FUNCTION_BODY.match, statements) if m}
    bodies["tb_next_id"] = _FUNCTION_BODY.match(ROWID_FUNCTION).group(2)  # type: ignore[union-attr]
    bodies["tb_no_truncate"] = _FUNCTION_BODY.match(NO_TRUNCATE_FUNCTION).group(2)  # type: ignore[union-attr]
    out = {}
    for statement in statements:
        match = _CREATE_TRIGGER.match(statement)
        if match:
            out[match.group(1)] = (match.group(2), bodies[match.group(3)])
    return out


def problems(execute: Callable[[str, Sequence[Any]], Any], limit: int = 10) -> list[str]:
    """PostgreSQL's side of ``migrations.schema_problems``: every guard trigger there, enabled, running
    the function source this version wrote, and no trigger this version does not have."""
    have = {name: (table, source, enabled) for name, table, source, enabled in execute(
        "SELECT t.tgname, c.relname, p.prosrc, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT t.tgisinternal AND n.nspname = current_schema()", ()).fetchall()}
    want = expected_triggers()
    out = []
    missing = sorted(n for n in want if n not in have)
    if missing:
        out.append(f"history guards are missing (someone dropped triggers): {', '.join(missing[:limit])}")
    changed = sorted(n for n in want if n in have and (have[n][0], have[n][1]) != want[n])
    if changed:
        out.append(f"these triggers were replaced by ones that run other code (a guard that no longer guards?): "
                   f"{', '.join(changed[:limit])}")
    disabled = sorted(n for n in want if n in have and have[n][2] == "D")
    if disabled:
        out.append(f"these guards are switched off (ALTER TABLE ... DISABLE TRIGGER): {', '.join(disabled[:limit])}")
    extra = sorted(n for n in have if n not in want)
    if extra:
        out.append(f"triggers this schema version does not have were added: {', '.join(extra[:limit])}")
    return out
