"""Day digests: each close seals its day's rows into a hash chain, and sends the seal outside.

Every day close stores (``day_digest``, schema 8) the SHA-256 of that day's rows (every dated
table, the encounters' diagnoses, the batches' closes, the day's close row) together with the
audit event of the close and the digest of the close before it. `check` recomputes the whole
chain; a later close refuses while it is broken. Someone with write access to the file can
still rewrite rows *and* recompute every digest with this public recipe, so each close also
sends its digest outside the database, where a clerk cannot rewrite it: to syslog (the
``syslog`` module; journald keeps it) and onto the day sheet. ``tui-billing check --witness
FILE`` proves the books against such lines: FILE is any text holding lines like::

    tui-billing day-digest book=3f2a9c0d1e7b date=2026-11-16 digest=<64 hex digits>

as syslog, ``journalctl -t tui-billing`` or a printed day sheet has them (prefixes and other
lines are ignored; for a date seen more than once, the last line counts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from . import identity
from .migrations import DATED_TABLES

if TYPE_CHECKING:
    import sqlite3

    from .db import Execute


def _execute(query: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
    """The store's connection (imported late: the day sheet reads a sealed line without loading Peewee)."""
    from .db import database

    return database.execute_sql(query, params)

GENESIS = "0" * 64
LINE = re.compile(r"tui-billing day-digest book=([0-9a-f]{12}) date=(\d{4}-\d\d-\d\d) digest=([0-9a-f]{64})")


def _rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = _execute(sql, params).fetchall()
    return rows


@lru_cache(maxsize=1)
def _column_names() -> dict[str, tuple[str, ...]]:
    """Each digested table's columns as of schema 8, frozen so a later added column cannot change old digests."""
    import sqlite3

    from .migrations import MIGRATIONS, V8, _split_sql

    con = sqlite3.connect(":memory:")
    try:
        for script in MIGRATIONS[:MIGRATIONS.index(V8) + 1]:
            for statement in _split_sql(script):
                con.execute(statement)
        return {t: tuple(f"x.{r[1]}" for r in con.execute(f"PRAGMA table_info({t})"))
                for t in (*DATED_TABLES, "encounter_diagnosis", "batch_close", "day_close")}
    finally:
        con.close()


@lru_cache(maxsize=1)
def _columns() -> dict[str, str]:
    """Each row as SQLite's own JSON array (built in C: ~20x faster than json.dumps per row)."""
    return {t: "json_array(" + ", ".join(names) + ")" for t, names in _column_names().items()}


def _server_columns() -> dict[str, str]:
    """On PostgreSQL the columns themselves: the JSON is made in Python, byte for byte SQLite's
    (compact, non-ASCII kept), so books moved across keep their digests."""
    return {t: ", ".join(names) for t, names in _column_names().items()}


def _json_line(row: tuple[Any, ...]) -> str:
    import json

    return json.dumps(list(row), separators=(",", ":"), ensure_ascii=False)


def rows_digest(date: str, since: Mapping[str, int] | None = None) -> str:
    """SHA-256 over every row of one posting date, in a fixed order.

    ``since`` (the demo's bulk load, whose tables have no indexes yet): table -> the highest rowid
    before the day's rows went in, so each query reads only that day's fresh rows (``batch``
    and ``encounter`` bound the close and diagnosis joins). Every row of the date must be above
    its bound; ``check`` recomputes each day without bounds.
    """
    from .db import on_server

    server = on_server()
    cols = _server_columns() if server else _columns()
    h = hashlib.sha256(f"tui-billing day {date}\n".encode())
    bound = since or {}

    def after(alias: str, table: str) -> tuple[str, tuple[int, ...]]:
        return (f" AND {alias}.rowid > ?", (bound[table],)) if table in bound else ("", ())

    queries = []
    for t in DATED_TABLES:
        extra, args = after("x", t)
        queries.append((t, f"SELECT {cols[t]} FROM {t} x WHERE x.posting_date = ?{extra} ORDER BY x.rowid", args))
    extra, args = after("e", "encounter")
    queries.append(("encounter_diagnosis", f"SELECT {cols['encounter_diagnosis']} FROM encounter_diagnosis x JOIN "
                    f"encounter e ON e.id = x.encounter_id WHERE e.posting_date = ?{extra} "
                    "ORDER BY x.encounter_id, x.seq", args))
    extra, args = after("b", "batch")
    queries.append(("batch_close", f"SELECT {cols['batch_close']} FROM batch_close x JOIN batch b ON b.id = x.batch_id "
                    f"WHERE b.posting_date = ?{extra} ORDER BY x.batch_id", args))
    extra, args = after("x", "day_close")
    queries.append(("day_close", f"SELECT {cols['day_close']} FROM day_close x WHERE x.posting_date = ?{extra}", args))
    for table, sql, args in queries:
        h.update(f"{table}\n".encode())
        rows = _execute(sql, (date, *args)).fetchall()
        if rows:  # each row's JSON and a newline: one update (the same bytes as one per row, far fewer calls)
            h.update(("\n".join([_json_line(r) for r in rows] if server else [r[0] for r in rows]) + "\n").encode())
    return h.hexdigest()


def chain_digest(prev: str, date: str, rows: str, audit_id: int, audit_hash: str) -> str:
    return hashlib.sha256("\x1f".join((prev, date, rows, str(audit_id), audit_hash)).encode()).hexdigest()


def _close_event(date: str) -> tuple[int, str] | None:
    """The audit event of the day's close (found through the entity index)."""
    for event_id, digest, detail in _rows(
            "SELECT id, hash, detail FROM audit_event WHERE entity = 'day_close' AND entity_id IS NULL "
            "AND action = 'close_day' ORDER BY id DESC"):
        if json.loads(detail).get("posting_date") == date:
            return event_id, digest
    return None


def book_id(execute: Execute | None = None) -> str:
    """Names the books in witness lines: the start of their first audit event's hash."""
    row = (execute or _execute)("SELECT hash FROM audit_event ORDER BY id LIMIT 1", ()).fetchone()
    return (row[0] if row else GENESIS)[:12]


def witness_line(date: str, digest: str, execute: Execute | None = None) -> str:
    return f"tui-billing day-digest book={book_id(execute)} date={date} digest={digest}"


def sealed_line(date: str, execute: Execute) -> str | None:
    """The witness line of a sealed day, for the day sheet (``execute``: the report's connection)."""
    row = execute("SELECT digest FROM day_digest WHERE posting_date = ?", (date,)).fetchone()
    return witness_line(date, row[0], execute) if row else None


def seal_day(date: str, user: str, *, send: bool = True, rows: str | None = None,
             event: tuple[int, str] | None = None) -> str:
    """Store the day's digest, chained to the last one, with its audit event; send it outside. In the close's transaction.

    ``rows``: the day's :func:`rows_digest` when already computed (the demo's load hashes each day as it writes it);
    ``event``: its close event, when already found."""
    prev_row = _execute("SELECT digest FROM day_digest ORDER BY rowid DESC LIMIT 1").fetchone()
    prev = prev_row[0] if prev_row else GENESIS
    if event is None:
        event = _close_event(date)
    if event is None:
        raise RuntimeError(f"day {date} has no close event to seal")  # the close writes it first
    if rows is None:
        rows = rows_digest(date)
    digest = chain_digest(prev, date, rows, event[0], event[1])
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _execute("INSERT INTO day_digest (posting_date, prev_digest, rows_digest, audit_id, audit_hash, digest, "
                         "sealed_at) VALUES (?,?,?,?,?,?,?)", (date, prev, rows, event[0], event[1], digest, now))
    from . import audit

    audit.record(now, user, "seal_day", "day_digest", None, {"posting_date": date, "digest": digest})
    if send:
        send_outside(witness_line(date, digest))
    return digest


def seal_unsealed(user: str, rows: Mapping[str, str] | None = None) -> int:
    """Seal every closed day without a digest, in date order (the demo's bulk load). Sends nothing.

    ``rows``: date -> its :func:`rows_digest`, for the days already hashed (the others are read)."""
    dates = [r[0] for r in _rows("SELECT posting_date FROM day_close WHERE posting_date NOT IN "
                                 "(SELECT posting_date FROM day_digest) ORDER BY posting_date")]
    # each day's close event in one pass (the newest per day, as _close_event finds it), not one scan a day
    events: dict[str, tuple[int, str]] = {}
    if dates:
        for event_id, digest, detail in _rows("SELECT id, hash, detail FROM audit_event WHERE entity = 'day_close' "
                                              "AND entity_id IS NULL AND action = 'close_day' ORDER BY id"):
            events[json.loads(detail).get("posting_date")] = (event_id, digest)
    for date in dates:
        seal_day(date, user, send=False, rows=(rows or {}).get(date), event=events.get(date))
    return len(dates)


#: Where sealed digests go besides the books (tests replace it to watch).
def send_outside(line: str) -> None:
    """Syslog (user facility, ident tui-billing): a clerk can read it but not rewrite it."""
    if identity.honours_hooks():
        return  # a test book's or the demo's digests are no office's evidence: keep them out of the log
    import syslog

    syslog.openlog("tui-billing", 0, syslog.LOG_USER)
    syslog.syslog(syslog.LOG_NOTICE, line)


def day_digest(date: str) -> str | None:
    row = _execute("SELECT digest FROM day_digest WHERE posting_date = ?", (date,)).fetchone()
    return row[0] if row else None


# --------------------------------------------------------------------------- proofs


#: A day close re-hashes the rows of the closed days this far back (every link of the chain, every
#: sealed close event and every guard are checked whatever their age); `check` re-hashes every
#: closed day. Measured on the 20,000-charge demo (249 closed days): all days 0.5 s, a close's
#: checks 0.07 s; the 1,000,000-charge demo has ~50x the rows a day, so a week is what a close
#: can afford and a month would not be.
CLOSE_RECHECK_DAYS = 7


#: ...and then older days, newest first, for as long as this many seconds allow (all of them on a
#: small practice's books).
CLOSE_BUDGET_S = 0.5


def _older_rows(before: str, budget: float) -> list[str]:
    import time

    started = time.monotonic()
    for date, rows_d in _rows("SELECT posting_date, rows_digest FROM day_digest WHERE posting_date < ? "
                              "ORDER BY posting_date DESC", (before,)):
        if time.monotonic() - started > budget:
            break
        if rows_digest(date) != rows_d:
            return [f"day {date} was closed, but its rows (or its close) changed since: rows were rewritten"]
    return []


def problems(limit: int = 10, *, rows_since: str = "") -> list[str]:
    """Recompute the chain (every link; the rows of days from ``rows_since``, default all) and tie it
    to the closes and the audit trail."""
    from . import audit

    out: list[str] = []
    prev = GENESIS
    first_sealed = None
    for date, prev_digest, rows_d, audit_id, audit_hash, digest, sealed_at in _rows(
            "SELECT posting_date, prev_digest, rows_digest, audit_id, audit_hash, digest, sealed_at "
            "FROM day_digest ORDER BY rowid"):
        first_sealed = first_sealed or sealed_at
        if prev_digest != prev:
            out.append(f"day {date}: its digest does not follow the close before it (a sealed day was removed or reordered)")
        if chain_digest(prev_digest, date, rows_d, audit_id, audit_hash) != digest:
            out.append(f"day {date}: its stored digest was altered")
        if date >= rows_since and rows_digest(date) != rows_d:
            out.append(f"day {date} was closed, but its rows (or its close) changed since: rows were rewritten")
        event = _execute("SELECT at, user, action, entity, entity_id, detail, prev_hash, hash "
                                     "FROM audit_event WHERE id = ?", (audit_id,)).fetchone()
        if event is None or event[7] != audit_hash or audit.event_hash(event[6], *event[:6]) != audit_hash:
            out.append(f"day {date}: the audit trail up to its close changed since it was sealed "
                       "(events were rewritten and re-hashed)")
        prev = digest
        if len(out) >= limit:
            return out[:limit]
    if first_sealed is not None:
        for (date,) in _rows("SELECT posting_date FROM day_close WHERE closed_at >= ? AND posting_date NOT IN "
                             "(SELECT posting_date FROM day_digest) LIMIT ?", (first_sealed, limit)):
            out.append(f"day {date} is closed but has no digest (its seal was removed)")
    sealed = {d: g for d, g in _rows("SELECT posting_date, digest FROM day_digest")}
    closed = {r[0] for r in _rows("SELECT posting_date FROM day_close")}
    months = {r[0] for r in _rows("SELECT month FROM month_close")}
    for detail, action in _rows("SELECT detail, action FROM audit_event WHERE entity IN ('day_close', 'day_digest', "
                                "'month_close') AND entity_id IS NULL AND action IN ('close_day', 'seal_day', "
                                "'close_month')"):
        d = json.loads(detail)
        date = d.get("posting_date")
        if action == "close_day" and date not in closed:
            out.append(f"day {date}: the audit trail records its close but the close row is gone (reopened by hand?)")
        elif action == "close_month" and d.get("month") not in months:
            out.append(f"month {d.get('month')}: the audit trail records its close but the close row is gone "
                       "(reopened by hand?)")
        elif action == "seal_day" and sealed.get(date) != d.get("digest"):
            out.append(f"day {date}: the audit trail records digest {str(d.get('digest'))[:12]}… but the books hold "
                       f"{str(sealed.get(date))[:12]}…")
        if len(out) >= limit:
            break
    return out[:limit]


def close_blockers(date: str) -> list[str]:
    """What refuses the next day close: a guard that is not ours, or a broken digest chain."""
    from .schema_check import guard_problems

    since = (dt.date.fromisoformat(date) - dt.timedelta(days=CLOSE_RECHECK_DAYS)).isoformat()
    found = guard_problems(_execute, limit=5) + problems(5, rows_since=since) + _older_rows(since, CLOSE_BUDGET_S)
    return [f"the books fail `tui-billing check` ({p})" for p in found]


def witness_problems(text: str, limit: int = 10) -> tuple[list[str], int]:
    """Compare the books' digests with witness lines; returns (problems, days witnessed)."""
    book = book_id()
    seen: dict[str, str] = {}
    other_books = 0
    for match in LINE.finditer(text):
        if match.group(1) != book:
            other_books += 1
            continue
        seen[match.group(2)] = match.group(3)
    if not seen:
        why = f" (it has {other_books} of other books, or these books' first events were rewritten)" if other_books else ""
        return [f"the witness file holds no digest of these books (book={book}){why}"], 0
    out = []
    for date in sorted(seen):
        have = day_digest(date)
        if have is None:
            out.append(f"day {date} was sealed with digest {seen[date][:12]}… (witness) but the books have no digest "
                       "for it: the close was removed")
        elif have != seen[date]:
            out.append(f"day {date}: the books' digest {have[:12]}… differs from the one sent out at its close "
                       f"{seen[date][:12]}…: history was rewritten and re-hashed")
        if len(out) >= limit:
            break
    return out, len(seen)
