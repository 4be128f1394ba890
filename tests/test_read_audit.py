"""Issue 15: reads of patient data (statements, patient receipts, exports) leave an audit event each.

On both backends (tests/conftest.py BOTH_BACKENDS): a file, and books on a PostgreSQL server.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner

from bench.concurrency import is_server, read_books
from tui_billing.cli import main
from tui_billing.store import close_database
from tui_billing.store import operations as ops


@pytest.fixture
def books(practice, db):
    ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0], dos="2026-11-16",
                       diagnoses=["J06.9"], lines=[ops.ChargeLine("99213")])
    rid = ops.record_receipt(amount=2000, method="cash", patient_id=practice.patients[0]).receipt_id
    close_database()
    return db, rid


def reads(db) -> list[tuple]:
    with read_books(str(db)) as con:
        return con.execute("SELECT user, action, detail FROM audit_event WHERE entity = 'read' ORDER BY id").fetchall()


@contextlib.contextmanager
def another_writer_holds_the_books(db) -> Iterator[None]:
    """Another process's write transaction, open: SQLite's write lock, or the server books' lock row."""
    if is_server(str(db)):
        with psycopg.connect(str(db)) as holder:
            holder.execute("UPDATE tb_books_version SET n = n WHERE id = 1")
            yield
            holder.rollback()
        return
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def run(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def test_each_patient_data_read_is_audited(books):
    db, rid = books
    assert run(db, "report", "statement", "--patient", "A001").exit_code == 0
    assert run(db, "report", "receipt", str(rid)).exit_code == 0
    assert run(db, "export", "journal").exit_code == 0
    assert run(db, "report", "daysheet").exit_code == 0  # the office's own figures: not a patient read
    got = reads(db)
    assert [(u, a) for u, a, _ in got] == [("tester", "read_statement"), ("tester", "read_receipt"),
                                           ("tester", "read_export")]
    assert '"account":"A001"' in got[0][2]
    assert run(db, "check", "--quick").exit_code == 0  # the chain still verifies


def test_a_read_that_cannot_be_recorded_is_refused(books, monkeypatch):
    """Another writer holds the books past the wait (as a full disk or a read-only file would fail it too)."""
    from tui_billing.store import db as store_db

    db, _ = books
    monkeypatch.setitem(store_db.PRAGMAS, "busy_timeout", 100)
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(store_db, "WRITE_ATTEMPTS", 2)  # the server's lock wait is retried whole: keep it short
    with another_writer_holds_the_books(db):
        result = run(db, "report", "statement", "--patient", "A001")
    assert result.exit_code == 1 and "cannot be recorded in the audit trail" in result.stderr
    assert "Doe" not in result.stdout
    assert reads(db) == []


@pytest.mark.sqlite_only  # SQLite cancelling its own transaction on a report's plain sqlite3 connection; on
# PostgreSQL the read's event goes through the store's write(), which retries a busy write whole
def test_a_passing_failure_of_the_audit_write_is_tried_once_more(books, monkeypatch):
    """SQLite may cancel a whole short transaction itself (busy, I/O); the read is audited on a second try."""
    from tui_billing.store import access

    db, _ = books
    real, tries = access._append_read_event, []

    def cancelled_once(con, *args):
        tries.append(1)
        if len(tries) == 1:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")  # as SQLite does on its own for SQLITE_IOERR mid-statement
            raise sqlite3.OperationalError("disk I/O error")
        return real(con, *args)

    monkeypatch.setattr(access, "_append_read_event", cancelled_once)
    result = run(db, "report", "statement", "--patient", "A001")
    assert result.exit_code == 0, result.output
    assert len(tries) == 2 and [a for _, a, _ in reads(db)] == ["read_statement"]
    assert run(db, "check", "--quick").exit_code == 0
