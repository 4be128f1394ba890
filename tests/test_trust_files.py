"""Files with patient data (issue 15): private whatever the umask, whole or absent; backup and restore.

Every command runs as its own process (the umask is a process's), as a clerk runs it.

SQLite books: the output files come from the same code on either backend; backup and restore of
server books are pg_dump's and pg_restore's (tests/test_pg_trust.py: the commands say so).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.reports_fixtures import TODAY, build
from tui_billing import files
from tui_billing.store.errors import BillingError

ROOT = Path(__file__).resolve().parent.parent


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BILLING_")}
    out.update(TUI_BILLING_TODAY=TODAY, TUI_BILLING_OPERATOR="alice", PYTHONPATH=str(ROOT))
    return out


def tb(*args: str, umask: int | None = 0o000, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `tui-billing ARGS` in a fresh process with ``umask`` (000: the widest there is)."""
    return subprocess.run([sys.executable, "-m", "tui_billing", *args], capture_output=True, text=True, env=env(),
                          cwd=cwd, timeout=timeout, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("trustfiles") / "books.db"
    with pytest.MonkeyPatch.context() as mp:
        build(path, mp)
    from tui_billing.store import close_database

    close_database()
    return path


OUTPUTS = {
    "daysheet -o": ["report", "daysheet", "--date", "2026-03-19", "-o"],
    "statement --all -o": ["report", "statement", "--all", "-o"],
    "aging csv -o": ["report", "aging", "-f", "csv", "-o"],
    "export journal -o": ["export", "journal", "-o"],
    "backup": ["backup"],
}


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_every_output_is_0600_under_umask_000(books, tmp_path, name):
    out = tmp_path / "out.file"
    proc = tb("--db", str(books), *OUTPUTS[name], str(out))
    assert proc.returncode == 0, proc.stderr
    assert mode(out) == 0o600, oct(mode(out))
    assert out.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["out.file"]  # no temporary left behind


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_outputs_in_a_setgid_directory_are_0660_and_replace_a_wider_file(books, tmp_path, name):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2770)
    out = shared / "out.file"
    if name != "backup":  # an old world-readable report under the same name is replaced, not kept wide
        out.write_text("old")
        out.chmod(0o644)
    proc = tb("--db", str(books), *OUTPUTS[name], str(out), umask=0o022)
    assert proc.returncode == 0, proc.stderr
    assert mode(out) == 0o660, oct(mode(out))


def test_output_to_a_device_is_written_in_place(books):
    """`-o /dev/null` writes to the device; it is never replaced by a regular file (we run as root in CI)."""
    before = os.stat("/dev/null")
    proc = tb("--db", str(books), "report", "daysheet", "-o", "/dev/null")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and os.stat("/dev/null").st_rdev == before.st_rdev


def test_atomic_output_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("yesterday's report\n")
    with pytest.raises(RuntimeError):
        with files.atomic_output(target) as fh:
            fh.write("half of today's")
            raise RuntimeError("the query failed")
    assert target.read_text() == "yesterday's report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_atomic_output_refuses_an_existing_file_when_asked_not_to_replace(tmp_path):
    target = tmp_path / "copy.db"
    target.write_text("keep")
    with pytest.raises(BillingError, match="already exists"):
        with files.atomic_output(target, replace=False) as fh:
            fh.write("new")
    assert target.read_text() == "keep"


# --------------------------------------------------------------------------- backup


def _damage(src: Path, dest: Path) -> Path:
    """A copy of the books with a page of garbage in its middle (the header still says SQLite)."""
    con = sqlite3.connect(src)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(src.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle:middle + page] = b"\xff" * page
    dest.write_bytes(bytes(data))
    dest.chmod(0o600)
    return dest


def test_backup_of_a_damaged_database_is_one_line_and_no_copy(books, tmp_path):
    damaged = _damage(books, tmp_path / "damaged.db")
    dest = tmp_path / "copy.db"
    proc = tb("--db", str(damaged), "backup", str(dest))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("tui-billing: ") and "no backup was written" in proc.stderr
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.db"]


# --------------------------------------------------------------------------- restore


def _charges(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM charge").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def live(books, tmp_path) -> Path:
    """A working copy of the books in its own directory (made with SQLite's backup, WAL like the real ones)."""
    folder = tmp_path / "office"
    folder.mkdir()
    path = folder / "billing.db"
    proc = tb("--db", str(books), "backup", str(path))
    assert proc.returncode == 0, proc.stderr
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    return path


def test_restore_puts_the_backup_in_place_and_keeps_the_old_file_with_what_its_wal_held(live, tmp_path):
    backup = tmp_path / "monday.db"
    assert tb("--db", str(live), "backup", str(backup)).returncode == 0
    # after the backup a clerk posts more, and the WAL still holds it when the restore runs
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sqlite3
        con = sqlite3.connect({str(live)!r})
        con.execute("PRAGMA wal_autocheckpoint = 0")
        con.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        con.execute("INSERT INTO scratch VALUES (42)")
        con.commit()
        import os; os._exit(0)  # no checkpoint at close: the row stays in the -wal file
    """)], env=env())
    assert holder.wait(timeout=60) == 0
    assert Path(f"{live}-wal").exists() and Path(f"{live}-wal").stat().st_size > 0
    proc = tb("--db", str(live), "restore", str(backup))
    assert proc.returncode == 0, proc.stderr
    assert mode(live) == 0o600
    kept = sorted(p.name for p in live.parent.iterdir() if "before-restore" in p.name)
    # the old WAL was folded into the old file before it moved aside: one whole file, kept
    assert len(kept) == 1 and kept[0].startswith("billing.db.before-restore-"), kept
    assert sorted(p.name for p in live.parent.iterdir()) == ["billing.db", kept[0]]
    aside = live.parent / kept[0]
    assert mode(aside) == 0o600
    con = sqlite3.connect(aside)  # the old file still has the late row that was only in its -wal
    assert con.execute("SELECT x FROM scratch").fetchall() == [(42,)]
    con.close()
    con = sqlite3.connect(live)  # the restored books do not: no stale -wal was replayed into them
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'scratch'").fetchone()[0] == 0
    con.close()
    assert tb("--db", str(live), "check").returncode == 0


def test_restore_refuses_while_someone_has_the_books_open(live, tmp_path):
    backup = tmp_path / "monday.db"
    assert tb("--db", str(live), "backup", str(backup)).returncode == 0
    # a clerk's session: the store's own open, idle between keystrokes
    clerk = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from tui_billing.store import open_database
        open_database({str(live)!r})
        from tui_billing.store.db import database
        database.execute_sql("SELECT count(*) FROM charge").fetchone()
        print("open", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env())
    try:
        assert clerk.stdout.readline().strip() == "open"
        before = sorted(p.name for p in live.parent.iterdir())
        proc = tb("--db", str(live), "restore", str(backup))
        assert proc.returncode == 1
        assert "someone has the books" in proc.stderr and "nothing was changed" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert sorted(p.name for p in live.parent.iterdir()) == before
    finally:
        clerk.stdin.write("\n")
        clerk.stdin.close()
        clerk.wait(timeout=60)
    assert tb("--db", str(live), "restore", str(backup)).returncode == 0


@pytest.mark.parametrize("problem", ["damaged", "not ours", "not sqlite", "missing"])
def test_restore_refuses_a_bad_backup_and_changes_nothing(live, books, tmp_path, problem):
    bad = tmp_path / "bad.db"
    if problem == "damaged":
        _damage(books, bad)
    elif problem == "not ours":
        con = sqlite3.connect(bad)
        con.execute("CREATE TABLE notes (x)")
        con.close()
    elif problem == "not sqlite":
        bad.write_text("not a database\n")
    before = {p.name: p.read_bytes() for p in live.parent.iterdir()}
    proc = tb("--db", str(live), "restore", str(bad))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert {p.name: p.read_bytes() for p in live.parent.iterdir()} == before


def test_restore_into_a_setgid_office_directory_is_0660(live, tmp_path):
    backup = tmp_path / "monday.db"
    assert tb("--db", str(live), "backup", str(backup)).returncode == 0
    live.parent.chmod(0o2770)
    proc = tb("--db", str(live), "restore", str(backup), umask=0o077)
    assert proc.returncode == 0, proc.stderr
    assert mode(live) == 0o660
    assert _charges(live) == _charges(backup)
