"""The foundation's headless commands: init, check, backup, and where the database is found.

A user's mistake gets one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import close_database, migrations

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(today, tmp_path, monkeypatch):
    """Invoke the click group in-process; the store's global database is closed afterwards."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    runner = CliRunner()

    def invoke(*args: str, env: dict | None = None):
        try:
            return runner.invoke(main, list(args), env=env, catch_exceptions=True)
        finally:
            close_database()

    return invoke


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_then_check_ok(cli, tmp_path):
    db = tmp_path / "books" / "billing.db"
    result = cli("--db", str(db), "init", "--practice", "Test Practice")
    assert result.exit_code == 0, result.output
    assert f"database ready at {db} (11 adjustment reasons added)" in result.stdout
    assert _mode(db) == 0o600
    again = cli("--db", str(db), "init")
    assert again.exit_code == 0 and "(0 adjustment reasons added)" in again.stdout
    check = cli("--db", str(db), "check")
    assert check.exit_code == 0, check.output
    assert check.stdout.startswith("ok: ") and "audit_events 12"  # 11 reasons + the practice in check.stdout
    assert check.stderr == ""


def _tamper(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER audit_event_no_update")
    conn.execute("UPDATE audit_event SET user = 'mallory' WHERE id = 2")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("quick", [False, True])
def test_check_tampered_database_exits_1_with_problems(cli, tmp_path, quick):
    db = tmp_path / "billing.db"
    assert cli("--db", str(db), "init").exit_code == 0
    _tamper(db)
    result = cli("--db", str(db), "check", *(["--quick"] if quick else []))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert any("audit_event_no_update" in line for line in lines)
    assert any("audit event 2" in line and "altered" in line for line in lines)
    assert all(line.startswith(("problem: ", "note: ", "tui-billing: ")) for line in lines)
    assert lines[-1] == f"tui-billing: {sum(line.startswith('problem: ') for line in lines)} problem(s) found"


def test_check_missing_database_does_not_create_it(cli, tmp_path):
    db = tmp_path / "nothing.db"
    result = cli("--db", str(db), "check")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"tui-billing: no database at {db}: create one with `tui-billing init --db {db}`"
    assert not db.exists()


def test_backup_is_0600_verified_and_refuses_existing_dest(cli, tmp_path):
    db = tmp_path / "billing.db"
    assert cli("--db", str(db), "init", "--practice", "Test Practice").exit_code == 0
    dest = tmp_path / "backups" / "copy.db"
    dest.parent.mkdir()
    os.umask(old := os.umask(0))  # whatever the umask, the copy is private
    try:
        result = cli("--db", str(db), "backup", str(dest))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert "backed up" in result.stdout and str(dest) in result.stdout
    assert _mode(dest) == 0o600
    with sqlite3.connect(dest) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT name FROM practice").fetchone()[0] == "Test Practice"
    conn.close()
    assert not Path(str(dest) + "-wal").exists()
    # The copy is a working database that checks clean.
    assert cli("--db", str(dest), "check").exit_code == 0

    before = dest.read_bytes()
    refused = cli("--db", str(db), "backup", str(dest))
    assert refused.exit_code == 1
    assert refused.stderr.strip() == f"tui-billing: {dest} already exists: choose another name or pass --force"
    assert dest.read_bytes() == before

    assert cli("--db", str(db), "init", "--practice", "Renamed Practice").exit_code == 0
    forced = cli("--db", str(db), "backup", "--force", str(dest))
    assert forced.exit_code == 0, forced.output
    with sqlite3.connect(dest) as conn:
        assert conn.execute("SELECT name FROM practice").fetchone()[0] == "Renamed Practice"
    conn.close()
    assert _mode(dest) == 0o600


def test_db_option_beats_environment(cli, tmp_path):
    from_env, from_opt = tmp_path / "env.db", tmp_path / "opt.db"
    result = cli("--db", str(from_opt), "init", env={"TUI_BILLING_DB": str(from_env)})
    assert result.exit_code == 0, result.output
    assert from_opt.exists() and not from_env.exists()
    result = cli("init", env={"TUI_BILLING_DB": str(from_env)})
    assert result.exit_code == 0, result.output
    assert from_env.exists()
    assert f"database ready at {from_env}" in result.stdout


def test_sqlite_url_form(cli, tmp_path):
    db = tmp_path / "url.db"
    result = cli("--db", f"sqlite:///{db}", "init")
    assert result.exit_code == 0, result.output
    assert db.exists()


def test_default_location_is_user_data_dir(cli, tmp_path):
    result = cli("init", env={"TUI_BILLING_DB": None})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "xdg" / "tui-billing" / "billing.db").exists()


def _bad_paths(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    os.chmod(notes, 0o600)
    shared = tmp_path / "shared.db"
    sqlite3.connect(shared).close()
    os.chmod(shared, 0o644)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 2000)
    os.chmod(damaged, 0o600)
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    os.chmod(newer, 0o600)
    return {
        "missing": (["--db", str(tmp_path / "missing.db"), "check"], "no database at"),
        "not sqlite": (["--db", str(notes), "check"], "not a tui-billing database"),
        "world readable": (["--db", str(shared), "check"], "chmod o-rwx"),
        "damaged": (["--db", str(damaged), "check"], "damaged or not a database"),
        "newer schema": (["--db", str(newer), "check"], "newer tui-billing"),
        # a server that cannot be reached: the driver's reason, in one line
        "postgres url": (["--db", "postgresql://office/billing", "check"], "cannot open the books at postgresql://office/billing"),
        "directory": (["--db", str(tmp_path), "init"], "is a directory"),
        "under a file": (["--db", str(notes / "billing.db"), "init"], f"cannot create {notes / 'billing.db'}"),
        "backup dest under a file": (["--db", str(tmp_path / "ok.db"), "init", "&&", "backup", str(notes / "x.db")],
                                     "cannot create"),
    }


BAD_IDS = ["missing", "not sqlite", "world readable", "damaged", "newer schema", "postgres url", "directory",
           "under a file", "backup dest under a file"]


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_database_path_one_line_no_traceback(tmp_path, case):
    """A real process, as a clerk runs it: one line on stderr, exit 1, nothing on stdout."""
    args, expect = _bad_paths(tmp_path)[case]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BILLING_")}
    env.update(TUI_BILLING_TODAY="2026-11-16", PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path / "xdg"))
    if "&&" in args:
        first = args[: args.index("&&")]
        subprocess.run([sys.executable, "-m", "tui_billing", *first], env=env, check=True, capture_output=True)
        args = first[:2] + args[args.index("&&") + 1:]
    proc = subprocess.run([sys.executable, "-m", "tui_billing", *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("tui-billing: ") and expect in lines[0], lines[0]
