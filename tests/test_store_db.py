"""The database file: migrations, permissions, refusals, history triggers, the write retry, tampering."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from tui_billing.store import (
    BillingError,
    DatabaseFileError,
    close_database,
    database,
    migrations,
    open_database,
    run_check,
)
from tui_billing.store import db as store_db
from tui_billing.store import operations as ops
from tui_billing.store.operations import ChargeLine, DistributionLine

import store_helpers
from raw_books import CHECK_FAILED, INTEGRITY, Raw


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------- migrations


V1_ROWS = """
INSERT INTO provider (id, code, name, npi) VALUES (1, 'SMI', 'Smith', '1234567893');
INSERT INTO payer (id, code, name, kind) VALUES (1, 'ACME', 'Acme', 'commercial'), (2, 'MCR', 'Medicare', 'medicare');
INSERT INTO patient (id, account, last_name, first_name, name_key, dob, sex)
    VALUES (1, 'A1', 'Doe', 'Jane', 'doe,jane', '1980-01-01', 'F');
INSERT INTO encounter (id, patient_id, provider_id, payer_id, dos, pos, posting_date, operator, created_at)
  VALUES (1, 1, 1, 1, '2026-11-02', '11', '2026-11-02', 'old', '2026-11-02T09:00:00');
INSERT INTO charge (id, encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, units, fee, amount,
    posting_date, operator)
  VALUES (1, 1, 1, 1, 1, 1, '2026-11-02', '11', '99213', 1, 10000, 10000, '2026-11-02', 'old'),
         (2, 1, 2, 1, 1, 1, '2026-11-02', '11', '36415', 1, 1500, 1500, '2026-11-02', 'old');
INSERT INTO receipt (id, source, payer_id, method, reference, amount, received_date, posting_date, operator, created_at)
  VALUES (1, 'payer', 1, 'check', '555', 9000, '2026-11-03', '2026-11-03', 'old', '2026-11-03T09:00:00');
INSERT INTO adjustment_reason (code, description, kind) VALUES ('CO-45', 'Contractual', 'carc');
INSERT INTO distribution (id, receipt_id, posting_date, operator, created_at)
    VALUES (1, 1, '2026-11-03', 'old', '2026-11-03T09:01:00');
INSERT INTO application (id, distribution_id, receipt_id, charge_id, amount, posting_date, operator)
  VALUES (1, 1, 1, 1, 7000, '2026-11-03', 'old'), (2, 1, 1, 2, 1000, '2026-11-03', 'old');
INSERT INTO adjustment (id, distribution_id, charge_id, reason_code, amount, posting_date, operator)
  VALUES (1, 1, 1, 'CO-45', 2000, '2026-11-03', 'old');
INSERT INTO transfer (id, distribution_id, charge_id, from_payer_id, to_payer_id, amount, posting_date, operator)
  VALUES (1, 1, 1, 1, NULL, 1000, '2026-11-03', 'old'), (2, 1, 2, 1, 2, 500, '2026-11-03', 'old');
"""


def test_version_1_database_upgrades_with_right_balances(tmp_path, today):
    path = tmp_path / "old.db"
    open_database(path, migrate=False)
    assert migrations.migrate(database, target=1) == 1
    conn = database.connection()
    for statement in migrations._split_sql(V1_ROWS):
        conn.execute(statement)
    conn.commit()
    assert migrations.schema_version(database) == 1
    assert not database.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'charge_balance'").fetchone()
    close_database()

    open_database(path)
    try:
        assert migrations.schema_version(database) == migrations.SCHEMA_VERSION
        balances = dict(database.execute_sql("SELECT charge_id, balance FROM charge_balance").fetchall())
        payers = dict(database.execute_sql("SELECT charge_id, payer_id FROM charge_balance").fetchall())
        unapplied = dict(database.execute_sql("SELECT receipt_id, unapplied FROM receipt_balance").fetchall())
        assert balances == {1: 10000 - 7000 - 2000, 2: 1500 - 1000}
        assert payers == {1: None, 2: 2}  # moved to the patient, and to Medicare
        assert unapplied == {1: 9000 - 8000}
        assert store_helpers.invariant_problems() == []
        report = run_check()
        # The fixture's rows were typed in as SQL, not posted: on their open days check names them.
        assert report.problems == [f"{what}: no audit event records it (entered outside the program?)"
                                   for what in ("encounter 1", "receipt 1", "distribution 1")]
        # And the upgraded book keeps posting: the running balances follow new rows.
        ops.seed_standard_reasons()
        ops.distribute(1, [DistributionLine(2, 500)])
        assert database.execute_sql("SELECT balance FROM charge_balance WHERE charge_id = 2").fetchone()[0] == 0
        assert run_check().problems == report.problems  # the new posting is accounted for
    finally:
        close_database()


V1_REVERSALS = """
INSERT INTO encounter (id, patient_id, provider_id, payer_id, dos, pos, posting_date, operator, created_at, reverses_id)
  VALUES (2, 1, 1, 1, '2026-11-02', '11', '2026-11-02', 'old', 'x', NULL),
         (3, 1, 1, 1, '2026-11-02', '11', '2026-11-04', 'old', 'x', 2);
INSERT INTO charge (id, encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, units, fee, amount,
    posting_date, operator, reverses_id)
  VALUES (3, 2, 1, 1, 1, 1, '2026-11-02', '11', '99213', 1, 4000, 4000, '2026-11-02', 'old', NULL),
         (4, 3, 1, 1, 1, 1, '2026-11-02', '11', '99213', 1, 4000, -4000, '2026-11-04', 'old', 3);
INSERT INTO receipt (id, source, patient_id, method, amount, received_date, posting_date, operator, created_at, reverses_id)
  VALUES (2, 'patient', 1, 'cash', 3000, '2026-11-03', '2026-11-03', 'old', 'x', NULL),
         (3, 'patient', 1, 'cash', -3000, '2026-11-03', '2026-11-04', 'old', 'x', 2),
         (4, 'patient', 1, 'card', 2500, '2026-11-04', '2026-11-04', 'old', 'x', NULL);
INSERT INTO refund (id, receipt_id, method, amount, posting_date, operator, created_at)
    VALUES (1, 4, 'card', 1000, '2026-11-04', 'old', 'x');
INSERT INTO distribution (id, receipt_id, posting_date, operator, created_at, reverses_id)
  VALUES (2, NULL, '2026-11-04', 'old', 'x', 1);
INSERT INTO application (id, distribution_id, receipt_id, charge_id, amount, posting_date, operator, reverses_id)
  VALUES (3, 2, 1, 1, -7000, '2026-11-04', 'old', 1);
INSERT INTO transfer (id, distribution_id, charge_id, from_payer_id, to_payer_id, amount, posting_date, operator, reverses_id)
  VALUES (3, 2, 2, 2, 1, 500, '2026-11-04', 'old', 2);
"""


def test_version_1_reversals_upgrade(tmp_path, today):
    """Voided encounters, receipts, applications and transfers made under V1 backfill correctly."""
    path = tmp_path / "old.db"
    open_database(path, migrate=False)
    migrations.migrate(database, target=1)
    conn = database.connection()
    for statement in migrations._split_sql(V1_ROWS + V1_REVERSALS):
        conn.execute(statement)
    conn.commit()
    close_database()
    open_database(path)
    try:
        balances = dict(database.execute_sql("SELECT charge_id, balance FROM charge_balance").fetchall())
        payers = dict(database.execute_sql("SELECT charge_id, payer_id FROM charge_balance").fetchall())
        unapplied = dict(database.execute_sql("SELECT receipt_id, unapplied FROM receipt_balance").fetchall())
        assert balances == {1: 10000 - 2000, 2: 500, 3: 0}
        assert payers == {1: None, 2: 1, 3: 1}  # the transfer to Medicare was undone
        assert unapplied == {1: 9000 - 1000, 2: 0, 4: 1500}
        assert store_helpers.invariant_problems() == []
        problems = run_check().problems  # only that the fixture's SQL rows have no audit events
        assert problems and all(p.endswith("no audit event records it (entered outside the program?)")
                                for p in problems), problems
    finally:
        close_database()


def test_newer_schema_refused(tmp_path, today):
    path = open_database(tmp_path / "new.db")
    close_database()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    with pytest.raises(DatabaseFileError, match=r"newer tui-billing .*upgrade tui-billing"):
        open_database(path)
    assert database.is_closed()


def test_foreign_sqlite_file_refused(tmp_path, today):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (x)")
    os.chmod(path, 0o600)
    with pytest.raises(DatabaseFileError, match=r"not a tui-billing database \(it has other tables\)"):
        open_database(path)


@pytest.mark.parametrize("content", [b"hello, I am a spreadsheet\n", b"\x00" * 4096, b"PK\x03\x04zipzipzip"])
def test_non_sqlite_file_refused(tmp_path, today, content):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(DatabaseFileError, match=r"is not a tui-billing database \(not an SQLite file\)"):
        open_database(path)
    assert path.read_bytes() == content, "a refused file is never written to"


def test_damaged_sqlite_file_refused(tmp_path, today):
    path = tmp_path / "damaged.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    os.chmod(path, 0o600)
    with pytest.raises(DatabaseFileError, match=r"damaged or not a database|cannot use"):
        open_database(path)


def test_opening_the_books_again_keeps_this_process_s_locks_on_them(tmp_path, today):
    """Closing any descriptor of a database file drops every POSIX lock the process holds on it
    (SQLite's "How To Corrupt", 2.2). The header check read the file with open()/close(): books
    opened again in a process that had them open (a report run in-process, as test_reports does)
    lost their locks, so the next process to close the books took itself for the last one and
    deleted the -wal under the open connection. That connection then read the pages a newer
    connection wrote to the new -wal at their places in the deleted one (without the fix this
    test fails there with "file is not a database"): CI's "disk I/O error" and "malformed" books."""
    import subprocess
    import sys

    path = open_database(tmp_path / "books.db")
    store_helpers.seed_practice()  # a -wal of some size, which the held connection opens
    held = sqlite3.connect(path)  # another connection of this process: a worker's, a report's
    try:
        assert held.execute("SELECT name FROM practice").fetchone() == ("Test Family Practice",)
        store_db.open_reader(path)  # a report in this process
        open_database(path)  # and the store again
        other = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                 "print(c.execute('SELECT name FROM practice').fetchone()[0]); c.close()")
        done = subprocess.run([sys.executable, "-c", other, str(path)], capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "Test Family Practice", done.stderr
        assert Path(f"{path}-wal").exists(), "another process's close took the books for unused and removed the -wal"
        open_database(path)  # a new connection: it opens the -wal by its name
        for n in range(5):
            ops.set_practice(f"After {n}")
        assert held.execute("SELECT name FROM practice").fetchone() == ("After 4",)
        close_database()
    finally:
        held.close()  # the last connection of this process: it checkpoints
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert check.execute("SELECT name FROM practice").fetchone() == ("After 4",)
    finally:
        check.close()


def test_missing_file_without_create(tmp_path, today):
    with pytest.raises(DatabaseFileError, match=r"no database at .*tui-billing init --db"):
        open_database(tmp_path / "absent.db", create=False)
    assert not (tmp_path / "absent.db").exists()


# --------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_new_file_is_0600(tmp_path, today, umask):
    old = os.umask(umask)
    try:
        path = open_database(tmp_path / "private.db")
        ops.seed_standard_reasons()
        # SQLite's WAL and shared-memory files hold patient data too.
        sidecars = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        assert all(p.exists() and _mode(p) == 0o600 for p in sidecars), [(p, oct(_mode(p))) for p in sidecars]
    finally:
        os.umask(old)
        close_database()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_setgid_directory_gives_0660(tmp_path, today, umask):
    shared = tmp_path / "office"
    shared.mkdir()
    os.chmod(shared, 0o2770)
    if not shared.stat().st_mode & stat.S_ISGID:
        pytest.skip("this filesystem does not keep the setgid bit")
    old = os.umask(umask)
    try:
        path = open_database(shared / "billing.db")
    finally:
        os.umask(old)
        close_database()
    assert _mode(path) == 0o660


@pytest.mark.parametrize("mode", [0o644, 0o606, 0o604, 0o666])
def test_world_accessible_file_refused(tmp_path, today, mode):
    path = open_database(tmp_path / "open.db")
    close_database()
    os.chmod(path, mode)
    with pytest.raises(DatabaseFileError) as caught:
        open_database(path)
    assert f"chmod o-rwx {path}" in str(caught.value)
    assert database.is_closed()


# --------------------------------------------------------------------------- history triggers


@pytest.fixture
def posted(practice, monkeypatch):
    """A closed yesterday with a charge and a receipt, and today's own postings."""
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-13")
    enc = ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0], dos="2026-11-13",
                             diagnoses=["I10"], lines=[ChargeLine("99213")])
    ops.record_receipt(amount=2000, method="cash", patient_id=practice.patients[0])
    ops.close_day("2026-11-13", ops.DepositCount(cash=2000))
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-16")
    return enc


@pytest.mark.parametrize("sql", [
    "UPDATE charge SET amount = 1",
    "UPDATE receipt SET amount = 1",
    "UPDATE audit_event SET user = 'mallory'",
    "UPDATE day_close SET counted_cash = 0",
    "UPDATE encounter SET dos = '2026-01-01'",
    "DELETE FROM charge",
    "DELETE FROM receipt",
    "DELETE FROM audit_event",
    "DELETE FROM day_close",
    "DELETE FROM encounter_diagnosis",
])
def test_history_triggers_refuse_update_and_delete(posted, db, dump, sql):
    before = dump()
    conn = Raw(db)
    try:
        with pytest.raises(INTEGRITY, match=r"posted history is never changed"):
            conn.execute(sql)
        conn.rollback()
    finally:
        conn.close()
    assert dump() == before


@pytest.mark.parametrize("sql", [
    "INSERT INTO receipt (source, patient_id, method, amount, received_date, posting_date, operator, created_at) "
    "VALUES ('patient', 1, 'cash', 100, '2026-11-13', '2026-11-13', 'x', 'now')",
    "INSERT INTO batch (kind, posting_date, operator, control_count, control_total, opened_at) "
    "VALUES ('charge', '2026-11-13', 'x', 0, 0, 'now')",
])
def test_closed_day_insert_refused_by_trigger(posted, db, dump, sql):
    before = dump()
    conn = Raw(db)
    try:
        with pytest.raises(INTEGRITY, match=r"posting date is closed"):
            conn.execute(sql)
        conn.rollback()
    finally:
        conn.close()
    assert dump() == before


def test_running_balance_cannot_go_negative_by_hand(posted, db):
    conn = Raw(db)
    try:
        with pytest.raises(INTEGRITY, match=CHECK_FAILED):
            conn.execute("INSERT INTO distribution (receipt_id, posting_date, operator, created_at) "
                         "VALUES (NULL, '2026-11-16', 'x', 'now')")
            conn.execute("INSERT INTO adjustment (distribution_id, charge_id, reason_code, amount, posting_date, operator) "
                         "VALUES ((SELECT MAX(id) FROM distribution), 1, 'CO-45', 999999, '2026-11-16', 'x')")
    finally:
        conn.rollback()
        conn.close()
    assert run_check().ok


# --------------------------------------------------------------------------- concurrency


class LockHolder:
    """A second, real SQLite connection (another clerk) that holds the write lock until told."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.locked = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            conn = Raw(self.path, isolation_level=None, timeout=5)
            conn.begin_write()
            conn.execute("INSERT INTO adjustment_reason (code, description, kind) VALUES ('OTHER', 'other clerk', 'office')")
            self.locked.set()
            self.release.wait(10)
            conn.commit()
            conn.close()
        except BaseException as exc:  # reported to the test
            self.error = exc
            self.locked.set()
        finally:
            self.done.set()

    def __enter__(self) -> LockHolder:
        self.thread.start()
        assert self.locked.wait(10)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(10)


def test_write_retries_whole_when_another_writer_holds_the_lock(practice, db, monkeypatch):
    """First attempt hits SQLITE_BUSY at once (busy timeout 0), the retry runs after the other clerk commits."""
    database.execute_sql("PRAGMA busy_timeout = 0")
    events_before = database.execute_sql("SELECT COUNT(*) FROM audit_event").fetchone()[0]
    sleeps: list[float] = []
    with LockHolder(db) as holder:
        def fake_sleep(seconds: float) -> None:
            # The retry backs off: let the other clerk commit now (deterministic, no timing).
            sleeps.append(seconds)
            holder.release.set()
            assert holder.done.wait(10)

        monkeypatch.setattr(store_db.time, "sleep", fake_sleep)
        posted = ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0],
                                    dos="2026-11-16", diagnoses=["I10"], lines=[ChargeLine("99213")])
    assert holder.error is None
    assert len(sleeps) == 1
    # Both clerks' work is in, ours exactly once.
    assert database.execute_sql("SELECT COUNT(*) FROM encounter").fetchone()[0] == 1
    assert database.execute_sql("SELECT COUNT(*) FROM audit_event").fetchone()[0] == events_before + 1
    assert database.execute_sql("SELECT 1 FROM adjustment_reason WHERE code = 'OTHER'").fetchone()
    assert posted.total == 10000
    assert run_check().ok


def test_write_waits_for_a_brief_lock_within_the_busy_timeout(practice, db):
    """With the normal busy timeout a short lock is simply waited out."""
    with LockHolder(db) as holder:
        timer = threading.Timer(0.2, holder.release.set)
        timer.start()
        rid = ops.record_receipt(amount=100, method="cash", patient_id=practice.patients[0]).receipt_id
        timer.cancel()
    assert holder.error is None
    assert database.execute_sql("SELECT amount FROM receipt WHERE id = ?", (rid,)).fetchone()[0] == 100


def test_write_gives_up_clearly_when_the_lock_is_never_released(practice, db, dump, monkeypatch):
    database.execute_sql("PRAGMA busy_timeout = 0")
    monkeypatch.setattr(store_db.time, "sleep", lambda s: None)
    before = dump()
    heard: list[float] = []
    store_db.on_busy_wait(heard.append)
    try:
        with LockHolder(db):
            with pytest.raises(BillingError, match=r"another clerk's long job held the books .*try again \(nothing was saved\)"):
                ops.record_receipt(amount=100, method="cash", patient_id=practice.patients[0])
    finally:
        store_db.on_busy_wait(None)
    # the screen heard each wait before the retry (not after the last attempt, which raised)
    assert len(heard) == store_db.WRITE_ATTEMPTS - 1 and heard == sorted(heard)
    # The other clerk's row arrived; ours did not.
    assert database.execute_sql("SELECT COUNT(*) FROM receipt").fetchone()[0] == 0
    assert dump() != before


# --------------------------------------------------------------------------- tampering


def test_audit_tamper_detected_and_dropped_trigger_reported(posted, db):
    assert run_check().ok
    conn = Raw(db)
    conn.execute("DROP TRIGGER audit_event_no_update")
    conn.execute("UPDATE audit_event SET detail = replace(detail, '10000', '1000') WHERE action = 'post_encounter'")
    conn.commit()
    conn.close()
    report = run_check(integrity=False)
    assert not report.ok
    text = "\n".join(report.problems)
    assert "audit_event_no_update" in text and "dropped triggers" in text
    assert "was altered after it was written" in text


def test_tampered_money_row_detected(posted, db):
    conn = Raw(db)
    conn.execute("DROP TRIGGER charge_no_update")
    conn.execute("UPDATE charge SET amount = amount + 1")
    conn.commit()
    conn.close()
    report = run_check()
    text = "\n".join(report.problems)
    assert "charge_no_update" in text
    assert "running balance" in text


def test_read_snapshot_sees_one_state_while_another_clerk_posts(practice):
    # a report's queries all see the books as they were when it started reading
    count = "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM receipt"
    ops.record_receipt(amount=1000, method="cash", patient_id=practice.patients[0])
    before = store_db.database.execute_sql(count).fetchone()
    with store_db.read_snapshot():
        assert store_db.database.execute_sql(count).fetchone() == before

        def other_clerk():  # another thread: its own connection, like another process
            ops.record_receipt(amount=2500, method="cash", patient_id=practice.patients[1])
            store_db.database.close()

        t = threading.Thread(target=other_clerk)
        t.start()
        t.join()
        assert store_db.database.execute_sql(count).fetchone() == before
        with pytest.raises(RuntimeError, match="inside read_snapshot"):
            ops.record_receipt(amount=100, method="cash", patient_id=practice.patients[0])
    assert store_db.database.execute_sql(count).fetchone() == (before[0] + 1, before[1] + 2500)


def test_report_connection_snapshot_and_no_writes_inside(practice):
    # the reports' plain connection: one snapshot while another clerk posts, and no write inside
    store_db.open_reader(store_db.database.database)
    count = "SELECT COUNT(*) FROM receipt"
    try:
        with store_db.read_snapshot():
            before = store_db.sql(count).fetchone()[0]

            def other_clerk():
                ops.record_receipt(amount=2500, method="cash", patient_id=practice.patients[1])
                store_db.database.close()

            t = threading.Thread(target=other_clerk)
            t.start()
            t.join()
            assert store_db.sql(count).fetchone()[0] == before
            with pytest.raises(RuntimeError, match="inside read_snapshot"):
                ops.record_receipt(amount=100, method="cash", patient_id=practice.patients[0])
        assert store_db.sql(count).fetchone()[0] == before + 1
    finally:
        store_db.close_reader()
    assert store_db._reader is None


def test_every_public_store_name_resolves():
    # tui_billing.store loads its names on first use: a misspelt entry would fail only when used
    import tui_billing.store as store

    for name in store.__all__:
        assert getattr(store, name) is not None, name
