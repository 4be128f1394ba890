"""The demo's bulk load: many planned rows at once into a throw-away file, then the indexes.

Only the store writes SQL: the demo plans its rows through the ledger and hands them here. The
load runs without the indexes and triggers (several times faster than keeping them up to date
row by row), writes the running balances the simulation followed, then rebuilds the indexes
and triggers from the migrations' own SQL; ``tui-billing check`` proves the result.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..ledger.records import TABLE_OF
from . import digests
from .db import database
from .migrations import DATED_TABLES
from .writer import INSERTS

if TYPE_CHECKING:
    from .pg_migrate import DemoMirror

#: Tables the load writes that are not postings (master data, the audit trail, running balances).
_OTHER = {
    # with its ids given: the load numbers the events itself, so a server copy made as they are
    # written (the demo into PostgreSQL) has the ids the file ends with
    "audit_event": "INSERT INTO audit_event (id, at, user, action, entity, entity_id, detail, prev_hash, hash) "
                   "VALUES (?,?,?,?,?,?,?,?,?)",
    "patient": "INSERT INTO patient (id, account, last_name, first_name, name_key, dob, sex, address, city, state, "
               "zip, phone) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "coverage": "INSERT INTO coverage (id, patient_id, payer_id, member_id, group_no, priority) VALUES (?,?,?,?,?,?)",
    "charge_balance": "INSERT INTO charge_balance (charge_id, patient_id, payer_id, dos, balance) VALUES (?,?,?,?,?)",
    "receipt_balance": "INSERT INTO receipt_balance (receipt_id, unapplied) VALUES (?,?)",
}
#: table (or "receipt_reversal", receipts that reverse others) -> its INSERT statement
STATEMENTS = {**{TABLE_OF[kind]: sql for kind, sql in INSERTS.items()}, **_OTHER}
STATEMENTS["receipt_reversal"] = STATEMENTS["receipt"]
#: a guard that refuses every UPDATE of its table (not one with a WHEN, which lets some through)
_NEVER_UPDATED = re.compile(r"(?i)CREATE TRIGGER \w+ BEFORE UPDATE ON (\w+) BEGIN SELECT RAISE\(ABORT")


class BulkLoad:
    """One bulk load into the open database (a file nobody else uses until it is renamed)."""

    def __init__(self, mirror: DemoMirror | None = None) -> None:
        conn: sqlite3.Connection = database.connection()
        self.conn = conn
        self.mirror = mirror  # the server the demo is built into, fed as the rows are written
        self._next_audit_id = 0
        # A throw-away file until the rename: durability buys nothing here, speed does.
        conn.execute("PRAGMA journal_mode = OFF")  # a failed build deletes the file: nothing to roll back into
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        conn.execute("PRAGMA temp_store = MEMORY")  # the index rebuild's sorts
        self.saved: list[tuple[str, str, str]] = []

    def begin(self) -> None:
        """Drop the indexes and triggers (kept to rebuild) and start the first transaction."""
        conn = self.conn
        conn.execute("PRAGMA foreign_keys = OFF")
        self.saved = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                                  "AND sql IS NOT NULL ORDER BY type, rowid").fetchall()
        for kind, name, _ in self.saved:
            conn.execute(f"DROP {kind.upper()} {name}")
        self._next_audit_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM audit_event").fetchone()[0]
        if self.mirror:  # only history no row of which ever changes once written can be sent as it is written
            self.mirror.stream(match.group(1) for kind, _, sql in self.saved
                               if kind == "trigger" and (match := _NEVER_UPDATED.match(sql)))
        database.execute_sql("BEGIN")

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows of one table (planned row records are tuples in their table's column order)."""
        statement = STATEMENTS[table]
        if table == "audit_event":  # numbered here (see the statement)
            first, self._next_audit_id = self._next_audit_id, self._next_audit_id + len(rows)
            rows = [(first + k, *row) for k, row in enumerate(rows)]
        self.conn.executemany(statement, rows)
        if self.mirror:
            self.mirror.offer(statement, rows)

    def commit_point(self) -> None:
        """Commit what is loaded so far and go on in a new transaction (bounds the journal)."""
        database.execute_sql("COMMIT")
        database.execute_sql("BEGIN")

    def finish(self, charge_balances: Sequence[tuple[Any, ...]], receipt_balances: Sequence[tuple[Any, ...]]) -> None:
        """Write the running balances, rebuild the indexes and triggers, and make the file durable."""
        self.insert("charge_balance", charge_balances)
        self.insert("receipt_balance", receipt_balances)
        if self.mirror:
            self.mirror.history_written()
        for _, _, sql in self.saved:  # indexes first (type order), then the triggers
            self.conn.execute(sql)
        database.execute_sql("COMMIT")
        self.conn.execute("PRAGMA foreign_keys = ON")

    def marks(self) -> dict[str, int]:
        """Each digested table's highest rowid now: taken before a day's rows go in, it bounds
        :meth:`rows_digest` to that day's rows (the tables have no posting-date index during the load)."""
        return {t: self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0]
                for t in (*DATED_TABLES, "day_close")}

    def rows_digest(self, date: str, since: dict[str, int]) -> str:
        """The day's rows digest, hashed as soon as the day is written (its pages are still in the
        cache, and the hashing overlaps the simulation instead of following the whole load)."""
        return digests.rows_digest(date, since)

    def count(self, table_and_where: str) -> int:
        found: int = self.conn.execute(f"SELECT COUNT(*) FROM {table_and_where}").fetchone()[0]
        return found

    def close(self) -> None:
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
