"""SQLite's SQL, as the store writes it, turned into PostgreSQL's: one small, tested translator.

The store's statements are written once, in SQLite's dialect (``?`` and ``:name`` placeholders, a
column called ``user``, ``LIKE`` that ignores case, ``INSERT OR IGNORE``). On PostgreSQL each one is
rewritten here (once per distinct text: the result is cached) instead of keeping two copies of
every query. The schema comes the same way: each ``CREATE TABLE`` / ``CREATE INDEX`` the SQLite
migrations leave behind is translated by :func:`table_ddl` and :func:`index_ddl`; triggers are not
translated (SQLite's and PL/pgSQL's differ too much to do it safely) but written once per backend
(see :mod:`tui_billing.store.pg_guards`).

Pure text work: no database, no driver is imported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

#: SQLite's NOCASE as PostgreSQL has it: an ICU collation that ignores case (a nondeterministic one, so
#: `=` and UNIQUE ignore case too). PostgreSQL 15 refuses LIKE on such a column: :func:`translate`
#: compares with a deterministic collation there (``account COLLATE "C" ILIKE ?``).
NOCASE_COLLATION = ("CREATE COLLATION IF NOT EXISTS tb_nocase (provider = icu, locale = 'und-u-ks-level2', "
                    "deterministic = false)")
#: the columns declared NOCASE (patient.account, provider.code, payer.code); ``code`` of other tables
#: gets the same explicit collation under LIKE, which changes nothing for them
NOCASE_COLUMNS = frozenset({"account", "code"})

#: Words that PostgreSQL reserves and the schema uses as column names: always quoted there.
RESERVED_COLUMNS = frozenset({"user"})

_TOKEN = re.compile(
    r"""
    (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<comment>--[^\n]*)
  | (?P<numbered>\?\d+)
  | (?P<qmark>\?)
  | (?P<named>(?<!:):[A-Za-z_][A-Za-z0-9_]*)
  | (?P<percent>%)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Query:
    """A statement in PostgreSQL's dialect and how its parameters are passed.

    ``style``: ``"positional"`` (``%s``: pass the parameters as given), ``"numbered"`` (SQLite's
    ``?1``: pass :meth:`params` a sequence and get a mapping), ``"named"`` (``:name``: a mapping).
    ``insert_table``: the table of an ``INSERT`` (its new row's id is read with ``RETURNING``).
    """

    sql: str
    style: str
    insert_table: str | None = None

    def params(self, given: object) -> object:
        if self.style == "numbered" and isinstance(given, (list, tuple)):
            return {f"p{i}": value for i, value in enumerate(given, 1)}
        return given


_INSERT = re.compile(r"^\s*INSERT\s+(?:OR\s+(?P<conflict>IGNORE|REPLACE|ABORT|FAIL|ROLLBACK)\s+)?INTO\s+"
                     r"(?P<table>[A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


#: what may follow a subquery in FROM when it has no alias (PostgreSQL 15 needs one)
_AFTER_UNALIASED = frozenset({"where", "group", "order", "limit", "join", "left", "inner", "cross", "union", "on",
                              "having", "window", "natural", "full", "right", "except", "intersect"})
_IS_OPERANDS = frozenset({"null", "not", "distinct", "true", "false"})
#: 0/1 INTEGER flags that SQLite's SQL tests bare (``WHERE active``): PostgreSQL wants a boolean there
FLAG_COLUMNS = frozenset({"active", "assignment", "signature_on_file"})
_BEFORE_PREDICATE = frozenset({"where", "and", "or", "not", "when", "("})
_AFTER_PREDICATE = frozenset({"and", "or", "order", ")", "", "then", "group", "limit", "union"})


def _tokens(sql: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(sql)]


def _next_index(tokens: list[tuple[str, str]], i: int) -> int:
    """The index of the next token after ``i`` that is not white space (len(tokens) at the end)."""
    for j in range(i + 1, len(tokens)):
        kind, text = tokens[j]
        if not text.isspace() and kind != "comment":
            return j
    return len(tokens)


def _next_word(tokens: list[tuple[str, str]], i: int) -> tuple[str, str]:
    """The next token after ``i`` that is not white space: (kind, lower-cased text), or ('', '') at the end."""
    j = _next_index(tokens, i)
    return (tokens[j][0], tokens[j][1].lower()) if j < len(tokens) else ("", "")


#: SQLite's PRAGMAs that the store reads, as PostgreSQL queries (store/pg_admin.py makes the tables)
_PRAGMAS = {
    "user_version": "SELECT version FROM tb_schema WHERE id = 1",
}
_PRAGMA = re.compile(r"^\s*PRAGMA\s+(\w+)\s*(?:\(\s*(\w+)\s*\)|=\s*(\d+))?\s*;?\s*$", re.IGNORECASE)


def _pragma(sql: str) -> Query | None:
    match = _PRAGMA.match(sql)
    if not match:
        return None
    name, argument = match.group(1).lower(), match.group(2)
    if name == "busy_timeout" and match.group(3) is not None:  # how long a writer waits for the write lock
        return Query(f"SET lock_timeout = {max(int(match.group(3)), 1)}", "positional")
    if name in _PRAGMAS:
        return Query(_PRAGMAS[name], "positional")
    if name == "table_info" and argument:  # (cid, name, type, notnull, default, pk) as SQLite lists them
        return Query("SELECT a.attnum - 1, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull::int, "
                     f"NULL, 0 FROM pg_attribute a WHERE a.attrelid = to_regclass('{argument.lower()}') AND a.attnum > 0 "
                     "AND NOT a.attisdropped ORDER BY a.attnum", "positional")
    raise ValueError(f"PRAGMA {name} has no PostgreSQL form (keep it in the SQLite path)")


@lru_cache(maxsize=4096)
def translate(sql: str) -> Query:
    """One SQLite statement as PostgreSQL runs it (see the module's docstring for what changes).

    Also: ``a IS NOT b`` / ``a IS b`` between values become ``IS [NOT] DISTINCT FROM`` (PostgreSQL's
    ``IS`` takes only NULL, TRUE and FALSE), and a subquery in FROM without an alias gets one."""
    pragma = _pragma(sql)
    if pragma is not None:
        return pragma
    tokens = _tokens(sql)
    out: list[str] = []
    style = "positional"
    opened: list[bool] = []  # for each open parenthesis: is it a subquery in FROM / JOIN?
    previous = ""
    sub = 0
    skip = -1
    dropped: set[int] = set()
    # SQLite numbers a bare ? after ?N as the highest number so far + 1: once any ?N appears, all are numbered
    numbered = any(kind == "numbered" for kind, _ in tokens)
    highest = 0
    for i, (kind, text) in enumerate(tokens):
        if kind == "qmark" and not numbered:
            out.append("%s")
        elif kind in ("numbered", "qmark"):
            style = "numbered"
            number = int(text[1:]) if kind == "numbered" else highest + 1
            highest = max(highest, number)
            out.append(f"%(p{number})s")
        elif kind == "named":
            style = "named"
            out.append(f"%({text[1:]})s")
        elif kind == "percent":
            out.append("%%")
        elif kind == "string":
            out.append(text.replace("%", "%%"))
        elif kind == "word":
            lower = text.lower()
            following = _next_word(tokens, i)[1]
            if lower in RESERVED_COLUMNS:
                out.append(f'"{lower}"')
            elif lower in FLAG_COLUMNS and previous in _BEFORE_PREDICATE and following in _AFTER_PREDICATE:
                out.append(f"({text} <> 0)")
            elif lower == "rowid":
                out.append("ctid")  # used on append-only tables only: their physical order is their insertion order
            elif lower == "like":
                if previous in NOCASE_COLUMNS:
                    out.append('COLLATE "C" ')
                out.append("ILIKE")  # SQLite's LIKE ignores the case of ASCII letters
            elif lower == "is" and following not in _IS_OPERANDS:
                out.append("IS NOT DISTINCT FROM")
            elif lower == "is" and following == "not" and _next_word(tokens, _next_index(tokens, i))[1] not in _IS_OPERANDS:
                out.append("IS DISTINCT FROM")
                skip = _next_index(tokens, i)  # the NOT
            elif i == skip or i in dropped:
                out.append("")
            elif lower == "indexed" and following == "by":  # SQLite's index hint: PostgreSQL's planner chooses
                by = _next_index(tokens, i)
                dropped.update((by, _next_index(tokens, by)))
            else:
                out.append(text)
        elif text == "(":
            opened.append(previous in ("from", "join") and _next_word(tokens, i)[1] in ("select", "with"))
            out.append(text)
        elif text == ")":
            out.append(text)
            if opened and opened.pop():
                follow_kind, follow = _next_word(tokens, i)
                if follow_kind != "word" or follow in _AFTER_UNALIASED:
                    sub += 1
                    out.append(f" AS _sub{sub}")
        else:
            out.append(text)
        if not text.isspace() and kind != "comment":
            previous = text.lower() if kind == "word" else text
    text = "".join(out)
    insert = _INSERT.match(text)
    table = None
    if insert:
        table = insert.group("table")
        conflict = (insert.group("conflict") or "").upper()
        if conflict:
            if conflict != "IGNORE":
                raise ValueError(f"INSERT OR {conflict} has no PostgreSQL form here: {sql[:80]}")
            text = re.sub(r"(?i)^\s*INSERT\s+OR\s+IGNORE\s+INTO", "INSERT INTO", text)
            text = text.rstrip().rstrip(";") + " ON CONFLICT DO NOTHING"
    return Query(text, style, table)


# --------------------------------------------------------------------------- DDL


_COLUMN_TYPES = {"INTEGER": "BIGINT", "TEXT": "TEXT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}


def _split_top_level(body: str) -> list[str]:
    """The comma-separated parts of a table body (commas inside parentheses and strings kept)."""
    parts, depth, buf, quote = [], 0, "", ""
    for ch in body:
        if quote:
            buf += ch
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(buf.strip())
            buf = ""
            continue
        buf += ch
    if buf.strip():
        parts.append(buf.strip())
    return parts


@dataclass(frozen=True)
class Table:
    """A translated table: its CREATE statement, the indexes its NOCASE keys need, and whether it
    has SQLite's ``id INTEGER PRIMARY KEY`` (a rowid: PostgreSQL fills it with max + 1, as SQLite does)."""

    name: str
    create: str
    extra: tuple[str, ...]
    rowid: bool
    columns: tuple[str, ...]


_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:\"?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\"?)\s*\((?P<body>.*)\)"
                           r"(?P<tail>[^)]*)$", re.IGNORECASE | re.DOTALL)


def quote_column(name: str) -> str:
    return f'"{name}"' if name.lower() in RESERVED_COLUMNS else name


def table_ddl(sqlite_sql: str) -> Table:
    """A SQLite ``CREATE TABLE`` as PostgreSQL's.

    INTEGER becomes BIGINT (cents and ids need 64 bits, as in SQLite); ``COLLATE NOCASE`` keys keep
    their case-blind uniqueness as a unique index on ``lower(column)``; ``WITHOUT ROWID`` goes
    (PostgreSQL has no rowid). CHECKs, defaults and foreign keys are kept as written.
    """
    match = _CREATE_TABLE.match(sqlite_sql.strip().rstrip(";"))
    if not match:
        raise ValueError(f"not a CREATE TABLE: {sqlite_sql[:60]}")
    name = match.group("name")
    extra: list[str] = []
    columns: list[str] = []
    parts: list[str] = []
    rowid = False
    for part in _split_top_level(match.group("body")):
        head = part.split(None, 1)[0].upper()
        if head in ("CHECK", "UNIQUE", "PRIMARY", "FOREIGN", "CONSTRAINT"):
            parts.append(_expression(part))
            continue
        column, _, rest = part.partition(" ")
        column = column.strip('"')
        columns.append(column)
        words = rest.strip()
        type_match = re.match(r"([A-Za-z]+)", words)
        sql_type = type_match.group(1).upper() if type_match else ""
        rest_after_type = words[len(sql_type):] if type_match else words
        if sql_type == "INTEGER" and re.match(r"\s*PRIMARY\s+KEY\b(?!.*\bCHECK\b)", rest_after_type, re.IGNORECASE) \
                and column == "id":
            rowid = True
        # SQLite's NOCASE: a case-blind collation (equality, UNIQUE and ORDER BY ignore case), see NOCASE_COLLATION
        rest_after_type = re.sub(r"(?i)\bCOLLATE\s+NOCASE\b", "COLLATE tb_nocase", rest_after_type)
        # named, so PostgreSQL's own name for it (table_column_key) cannot collide with an index of ours
        rest_after_type = re.sub(r"(?i)\bUNIQUE\b", f"CONSTRAINT {name}_{column}_unique UNIQUE", rest_after_type, count=1)
        pg_type = _COLUMN_TYPES.get(sql_type, sql_type)
        parts.append(f"{quote_column(column)} {pg_type}{_expression(rest_after_type)}".rstrip())
    tail = re.sub(r"(?i)\bWITHOUT\s+ROWID\b", "", match.group("tail")).strip()
    if tail:
        raise ValueError(f"table option {tail!r} of {name} has no PostgreSQL form here")
    body = ",\n    ".join(parts)
    return Table(name, f"CREATE TABLE {name} (\n    {body}\n)", tuple(extra), rowid, tuple(columns))


def _expression(text: str) -> str:
    """CHECK / DEFAULT expressions: quoted reserved columns, SQLite's functions spelled as PostgreSQL's."""
    out = []
    for match in _TOKEN.finditer(text):
        kind, token = match.lastgroup, match.group()
        if kind == "word" and token.lower() in RESERVED_COLUMNS:
            out.append(f'"{token.lower()}"')
        else:
            out.append(token)
    return "".join(out)


_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(?P<unique>UNIQUE\s+)?INDEX\s+(?P<name>\w+)\s+ON\s+(?P<table>\w+)\s*"
                           r"\((?P<columns>[^)]*)\)(?P<where>.*)$", re.IGNORECASE | re.DOTALL)


def index_ddl(sqlite_sql: str) -> str:
    """A SQLite ``CREATE INDEX`` (partial ones too) as PostgreSQL's."""
    match = _CREATE_INDEX.match(sqlite_sql.strip().rstrip(";"))
    if not match:
        raise ValueError(f"not a CREATE INDEX: {sqlite_sql[:60]}")
    columns = ", ".join(quote_column(c.strip()) for c in match.group("columns").split(","))
    where = _expression(match.group("where").strip())
    unique = "UNIQUE " if match.group("unique") else ""
    return f"CREATE {unique}INDEX {match.group('name')} ON {match.group('table')} ({columns}){' ' + where if where else ''}"
