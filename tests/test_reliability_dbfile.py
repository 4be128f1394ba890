"""A database file that is damaged, foreign, read-only, locked or from a newer version.

Each gets one clear line on stderr and a non-zero exit through the real CLI, never a
traceback, and the file is left byte-for-byte as it was (nothing is lost).

SQLite only: the subject is the books' file (and its -wal). A server owns its files and its crash
recovery; tests/test_pg_trust.py stops the server mid-write (`pg_ctl stop -m immediate`) instead.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import ROOT, child_env
from bench.concurrency import post_cycle, seed_practice
from tui_billing.store import BillingError, close_database, db, open_database
from tui_billing.store import operations as ops


@pytest.fixture(scope="module")
def good_db(tmp_path_factory) -> Path:
    """A small, healthy practice with a few hundred rows (enough pages to damage the middle)."""
    path = tmp_path_factory.mktemp("dbfile") / "good.db"
    setup = seed_practice(path, 2)
    for n in range(30):
        post_cycle(setup, 0, n, lambda *_: None)
    db.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    close_database()
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(path: Path, *args: str, user: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run tui-billing as a clerk would; ``user`` runs it as another OS user (when we are root)."""
    prefix = [] if user is None else ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return subprocess.run([*prefix, sys.executable, "-m", "tui_billing", "--db", str(path), *args],
                          capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=timeout)


def assert_clear_refusal(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("tui-billing: "), proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def copy_of(good: Path, tmp_path: Path, name: str = "copy.db") -> Path:
    dest = tmp_path / name
    dest.write_bytes(good.read_bytes())
    dest.chmod(0o600)
    return dest


def test_not_sqlite_at_all(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"Dear Dr Smith, please find enclosed\n" * 50)
    path.chmod(0o600)
    before = digest(path)
    for args in (("check",), ("init",)):
        assert_clear_refusal(cli(path, *args), "not a tui-billing database")
    assert digest(path) == before


def test_damaged_pages_are_reported_not_raised(good_db, tmp_path):
    path = copy_of(good_db, tmp_path)
    size = path.stat().st_size
    rng = random.Random(5)
    with open(path, "r+b") as fh:  # scribble over the middle third, as a failing disk would
        fh.seek(size // 3)
        fh.write(bytes(rng.getrandbits(8) for _ in range(size // 3)))
    before = digest(path)
    proc = cli(path, "check")
    assert_clear_refusal(proc, "damaged", "restore the last backup")
    assert digest(path) == before


def test_truncated_file(good_db, tmp_path):
    path = copy_of(good_db, tmp_path)
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    assert_clear_refusal(cli(path, "check"))


def test_sqlite_file_of_another_program(tmp_path):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE recipes (name TEXT)")
    con.commit()
    con.close()
    path.chmod(0o600)
    before = digest(path)
    assert_clear_refusal(cli(path, "init"), "not a tui-billing database")
    assert digest(path) == before


def test_database_from_a_newer_version(good_db, tmp_path):
    path = copy_of(good_db, tmp_path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    before = digest(path)
    for args in (("check",), ("init",)):
        assert_clear_refusal(cli(path, *args), "newer tui-billing")
    assert digest(path) == before


def test_world_readable_file_is_refused(good_db, tmp_path):
    path = copy_of(good_db, tmp_path)
    path.chmod(0o644)
    assert_clear_refusal(cli(path, "check"), "chmod o-rwx")


def test_missing_file_for_a_headless_command(tmp_path):
    assert_clear_refusal(cli(tmp_path / "nowhere.db", "check"), "no database at")
    assert not (tmp_path / "nowhere.db").exists()


@pytest.fixture
def shared_folder(tmp_path):
    """A folder an unprivileged clerk can reach (pytest's own tmp tree is closed to other users)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tb-ro-", dir="/tmp"))
    try:
        yield folder
    finally:
        folder.chmod(0o700)
        shutil.rmtree(folder)


def _nobody_can_run_us() -> bool:
    """Whether another OS user can run this interpreter with the project's dependencies.

    A virtual environment made inside a private (0700) directory is unreadable to them, which
    says nothing about tui-billing; those cases are skipped rather than failed.
    """
    probe = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                            "import click, peewee, tui_billing.cli"], capture_output=True, cwd=ROOT)
    return probe.returncode == 0


NOBODY_SKIP = "the test interpreter's environment is not readable by user nobody"


def _as_clerk_without_write(folder: Path, path: Path) -> int | None:
    """Make ``path`` readable but not writable for the clerk who runs the command."""
    if os.geteuid() == 0:  # root writes anything: run the clerk as nobody, in the file's group
        if not _nobody_can_run_us():
            pytest.skip(NOBODY_SKIP)
        nobody = 65534
        os.chown(folder, 0, nobody)
        os.chown(path, 0, nobody)
        folder.chmod(0o750)
        path.chmod(0o640)
        return nobody
    path.chmod(0o400)
    folder.chmod(0o500)
    return None


def test_read_only_file(good_db, shared_folder):
    path = copy_of(good_db, shared_folder)
    user = _as_clerk_without_write(shared_folder, path)
    before = digest(path)
    assert_clear_refusal(cli(path, "init", user=user), "read-only")
    assert digest(path) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the clerk as another user")
def test_unreachable_directory(good_db, tmp_path):
    """A clerk outside the billing group: the folder itself is closed to them."""
    if not _nobody_can_run_us():
        pytest.skip(NOBODY_SKIP)
    path = copy_of(good_db, tmp_path)  # under pytest's 0700 tree: nobody cannot reach it
    proc = cli(path, "check", user=65534)
    assert_clear_refusal(proc)
    assert "permission denied" in proc.stderr.lower()
    proc = cli(tmp_path / "new.db", "init", user=65534)
    assert_clear_refusal(proc)
    assert "permission denied" in proc.stderr.lower()


def test_directory_instead_of_a_file(tmp_path):
    (tmp_path / "books.db").mkdir()
    assert_clear_refusal(cli(tmp_path / "books.db", "check"))


def test_exclusively_locked_file(good_db, tmp_path):
    """Another program holding an exclusive lock: a clear message after the busy timeout."""
    path = copy_of(good_db, tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("SELECT COUNT(*) FROM charge").fetchone()
        proc = cli(path, "check")
    finally:
        holder.close()
    assert_clear_refusal(proc, "locked by another process")
    assert cli(path, "check").returncode == 0  # and all is well once the lock is gone


def test_write_lock_held_too_long_fails_the_posting_cleanly(good_db, tmp_path, monkeypatch):
    """A clerk whose save waits on a lock that never frees gets a refusal, and nothing half-saved."""
    path = copy_of(good_db, tmp_path)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setitem(db.PRAGMAS, "busy_timeout", 50)
    monkeypatch.setattr(db, "WRITE_ATTEMPTS", 3)
    open_database(path, create=False)
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        (before,) = db.database.execute_sql("SELECT COUNT(*) FROM batch").fetchone()
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(BillingError, match="another clerk's long job held the books.*nothing was saved"):
            ops.open_batch("receipt", 1, 100, operator="w9")
        holder.execute("ROLLBACK")
        (after,) = db.database.execute_sql("SELECT COUNT(*) FROM batch").fetchone()
        assert after == before
        ops.open_batch("receipt", 1, 100, operator="w9")  # and the next try goes through
    finally:
        holder.close()
        close_database()


def test_clerks_opening_an_old_database_at_once_upgrade_it_once(tmp_path, monkeypatch):
    """The morning after an upgrade every clerk starts at once: the second must not re-run a migration.

    Two threads (each its own connection) read the old schema version, then queue on the write
    lock another program holds; when it lets go, one upgrades and the other must see it done.
    """
    import threading

    from tui_billing.store import migrations

    path = tmp_path / "old.db"
    open_database(path, migrate=False)
    migrations.migrate(db.database, target=1)
    close_database()
    read_version = migrations.schema_version
    arrived = threading.Semaphore(0)

    def counting_version(database):
        version = read_version(database)
        arrived.release()
        return version

    monkeypatch.setattr(migrations, "schema_version", counting_version)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    errors: list[BaseException] = []

    def clerk() -> None:
        try:
            open_database(path, create=False)
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            close_database()

    clerks = [threading.Thread(target=clerk) for _ in range(2)]
    try:
        for t in clerks:
            t.start()
        for _ in clerks:  # both have read version 1 before either can upgrade
            assert arrived.acquire(timeout=30)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for t in clerks:
        t.join(timeout=60)
    assert errors == []
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    con.close()
