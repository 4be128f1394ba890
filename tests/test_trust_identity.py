"""Issue 15, identity: the operator is the process's real uid, and the test hooks (TUI_BILLING_TODAY,
TUI_BILLING_OPERATOR) are honoured only by test books (the demo's or a test's), never an office's.

SQLite books (the file, opened with sqlite3 by hand); on a server the operator is the peer login and
the same attacker is in tests/test_pg_trust.py.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import sqlite3

import pytest
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import BillingError, close_database, identity, open_database, run_check
from tui_billing.store import operations as ops
from tui_billing.store.validate import today

ME = pwd.getpwuid(os.getuid()).pw_name
A_YEAR_ON = (dt.date.today() + dt.timedelta(days=365)).isoformat()


@pytest.fixture
def office(tmp_path, office_books, monkeypatch):
    """An office's books, opened with every variable an attacker would set."""
    for name in ("LOGNAME", "USER", "TUI_BILLING_OPERATOR"):
        monkeypatch.setenv(name, "bob")
    monkeypatch.setenv("TUI_BILLING_TODAY", A_YEAR_ON)
    path = open_database(tmp_path / "office.db")
    try:
        yield path
    finally:
        close_database()


def test_environment_cannot_say_who_posted(office):
    pid = ops.add_patient("Z1", "Zed", "Zoe", "1990-01-01", "F")
    users = {r[0] for r in sqlite3.connect(office).execute("SELECT user FROM audit_event")}
    assert users == {ME} and "bob" not in users
    assert identity.operator_name("bob") == ME  # not even an argument from code
    assert pid


def test_a_pinned_day_is_the_clock_in_an_office(office):
    assert not identity.honours_hooks()
    assert today() == dt.date.today()
    ops.seed_standard_reasons()
    with pytest.raises(BillingError, match="in the future"):
        ops.open_batch("charge", 0, 0, posting_date=A_YEAR_ON)
    with pytest.raises(BillingError):
        ops.close_day(A_YEAR_ON)


def test_office_books_cannot_be_made_test_books(office):
    ops.seed_standard_reasons()
    with pytest.raises(Exception, match="only a new, empty book"):
        identity.mark_test_book("sneaky")
    con = sqlite3.connect(office, isolation_level=None)
    with pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO test_book VALUES (1, 'm', '2000-01-01', 'x')")
    # dropped guard, hand-made marker, guard recreated: not honoured, and check names it
    guard = con.execute("SELECT sql FROM sqlite_master WHERE name = 'test_book_only_new'").fetchone()[0]
    con.execute("DROP TRIGGER test_book_only_new")
    con.execute("INSERT INTO test_book VALUES (1, 'm', '2000-01-01', 'x')")
    con.execute(guard)
    con.close()
    close_database()
    open_database(office)
    assert not identity.honours_hooks() and today() == dt.date.today()
    assert any("carry the test-book marker" in p for p in run_check(integrity=False).problems)


def test_test_books_honour_the_hooks_and_check_says_so(db, monkeypatch):
    assert identity.honours_hooks()
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-16")
    assert today().isoformat() == "2026-11-16"
    report = run_check(integrity=False)
    assert report.ok and any("TEST books" in n for n in report.notices)
    result = CliRunner().invoke(main, ["--db", str(db), "check", "--quick"])
    assert result.exit_code == 0 and "note: these are TEST books" in result.stdout


def test_demo_books_are_test_books(tmp_path, office_books, monkeypatch):
    from tui_billing.demo import build_demo

    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-16")
    path = tmp_path / "demo.db"
    build_demo(path, charges=300, patients=50, days=5, progress=False)
    open_database(path)
    try:
        assert identity.honours_hooks()
        report = run_check(integrity=False)
        assert report.ok, report.problems
        assert any("TEST books (demo" in n for n in report.notices)
    finally:
        close_database()


def test_init_makes_an_office_book_whose_user_is_admin(tmp_path, office_books, monkeypatch):
    monkeypatch.setenv("LOGNAME", "bob")
    db = tmp_path / "init.db"
    result = CliRunner().invoke(main, ["--db", str(db), "init"])
    assert result.exit_code == 0, result.output
    assert f"{ME} is the admin of these books" in result.stdout
    listed = CliRunner().invoke(main, ["--db", str(db), "users", "list"])
    assert listed.exit_code == 0 and listed.stdout.split()[:2] == [ME, "admin"]
    checked = CliRunner().invoke(main, ["--db", str(db), "check", "--quick"])
    assert checked.exit_code == 0 and "TEST" not in checked.stdout
