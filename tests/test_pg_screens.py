"""The screens on PostgreSQL books, keyed as a clerk would (Textual pilot), on the session's throwaway
server (tests/pg_server.py, no mocks): a whole day (F2 an encounter and its batch closed, F3 a check
in a receipt batch distributed, F4 the day balanced and closed), the accounts screen (F7, Ctrl+N
register, E edit kept as a new version), the idle lock and the operator shown; and both live screens
refreshed by NOTIFY when another process commits.

The SQLite versions of these flows are tests/test_charge_entry.py, test_clerk_day.py,
test_receipts_screen.py, test_balancing_screen.py, test_accounts_screen.py and test_idle_lock.py;
the helpers are theirs. One app per test and few tests: pilot tests are slow (CI budget).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_accounts_screen import fill
from test_charge_entry import _build, counts, key_encounter, send, settle, type_text, with_batch
from test_idle_lock import Checker

from tui_billing import codes
from tui_billing.store import account_queries as aq
from tui_billing.store import close_database, database, run_check
from tui_billing.store.db import on_server

TODAY = "2026-11-26"
OPEN_BATCHES = "SELECT COUNT(*) FROM batch b WHERE NOT EXISTS (SELECT 1 FROM batch_close c WHERE c.batch_id = b.id)"


@pytest.fixture
def pg_books(pg_cluster, monkeypatch) -> str:
    """Charge entry's small practice (tests/test_charge_entry.py) on a fresh PostgreSQL database."""
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "clerk1")
    monkeypatch.delenv("TUI_BILLING_DB", raising=False)
    url: str = pg_cluster.fresh_books()
    _build(url)  # opens the books at url (and leaves them open)
    assert on_server()
    codes.warm_icd10()  # once per session: the diagnosis box never waits on "loading codes…"
    try:
        yield url
    finally:
        close_database()


def make_app(url: str):
    from tui_billing.app import BillingApp

    return BillingApp(db_path=Path(url))  # as `tui-billing --db postgresql://...` starts it


async def until(pilot, condition, what: str, seconds: float = 20.0) -> None:
    """Run the app until ``condition()`` holds (wall time, generous for a loaded CI box)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def scalar(statement: str, *params):
    return database.execute_sql(statement, params).fetchone()[0]


async def test_a_clerks_day_keyed_on_postgresql(pg_books):
    """F2 -> F3 -> F4 on the server: the encounter, the check that pays it, the day closed."""
    from tui_billing.screens.balancing import BalancingScreen
    from tui_billing.screens.balancing_dialogs import CloseConfirm
    from tui_billing.screens.charge_entry import ChargeEntryScreen
    from tui_billing.screens.receipts import ReceiptsScreen

    with_batch(1, 12000)
    app = make_app(pg_books)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        dbname = pg_books.split("///")[1].split("?")[0]  # the header names the server's database
        assert app.operator == "clerk1" and app.sub_title == f"posting {TODAY} · clerk1 · pg:{dbname}"
        # F2: one encounter keyed as one burst, saved; the batch balances and closes
        entry = app.screen
        assert isinstance(entry, ChargeEntryScreen)
        await key_encounter(pilot)
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert entry.saves == 1 and counts() == (1, 1)
        await send(pilot, "f9")  # closes the balanced batch, then offers the next one: not now
        await settle(pilot)
        await send(pilot, "escape")
        await settle(pilot)
        assert scalar(OPEN_BATCHES + " AND kind = 'charge'") == 0
        # F3: a receipt batch, Blue Cross's check in it, distributed to the charge, the batch closed
        await pilot.press("f3")
        await settle(pilot)
        queue = app.screen
        assert isinstance(queue, ReceiptsScreen)
        await pilot.press("b")
        await settle(pilot)
        await type_text(pilot, "1")
        await send(pilot, "enter")
        await type_text(pilot, "120")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert queue.batch_id is not None
        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "bcbs")
        await settle(pilot)
        await send(pilot, "enter")
        for text in ("check", "501", "120"):
            await type_text(pilot, text)
            await send(pilot, "enter")
        await send(pilot, "enter", "ctrl+s")
        await settle(pilot)
        assert "posted" in str(app.screen.query_one("#form-status").render())
        await send(pilot, "escape")
        await settle(pilot)
        await until(pilot, lambda: len(queue.rows) == 1, "the check in the queue")
        assert queue.rows[0].amount == 12000 and queue.rows[0].unapplied == 12000
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a", "ctrl+s")  # auto-apply: oldest first, all 120.00 to the one charge
        await settle(pilot)
        assert app.screen is queue
        await until(pilot, lambda: queue.rows == [], "the check leaving the queue (all applied)")
        assert scalar("SELECT SUM(balance) FROM charge_balance") == 0
        await pilot.press("c")
        await settle(pilot)
        await until(pilot, lambda: scalar(OPEN_BATCHES) == 0,
                    "the receipt batch closed")
        # F4: the day's figures from the server; the check counted; F9 closes the day
        await pilot.press("f4")
        bal = app.screen
        assert isinstance(bal, BalancingScreen)
        await until(pilot, lambda: bal.snapshot is not None and bal.snapshot.summary.receipts == 12000,
                    "the day's figures")
        summary = bal.snapshot.summary
        assert summary.balances and summary.charges == 12000
        bal.query_one("#dep-cash").focus()
        for value in ("0", "120", "1", "0", "0"):  # cash, check tape, checks #, card, eft
            await pilot.press(*value, "enter")
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the close confirmation")
        assert app.screen.problems == [], app.screen.problems
        await pilot.press("y")
        await until(pilot, lambda: bal.snapshot.closed is not None, "the day closed")
        assert app.posting_date == "2026-11-27" and "2026-11-27" in app.sub_title
        assert "CLOSED" in str(bal.query_one("#bal-state").render())
    assert scalar("SELECT COUNT(*) FROM day_close WHERE posting_date = ?", TODAY) == 1
    report = run_check(integrity=False)
    assert report.ok, report.problems


async def test_accounts_and_the_idle_lock_on_postgresql(pg_books, monkeypatch):
    """F7: Ctrl+N registers a patient, E changes the address as a new version; the idle lock hides the
    screen and the clerk's own password opens it, the form as it was."""
    from tui_billing.screens import lock
    from tui_billing.screens.accounts import AccountScreen

    with_batch(1, 12000)
    checker = Checker()
    app = make_app(pg_books)
    app.lock_checker = checker
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        s = app.screen
        assert isinstance(s, AccountScreen)
        await send(pilot, "ctrl+n")
        assert app.screen.title_text == "Register a new patient"
        await fill(pilot, {"last_name": "García-López", "first_name": "María", "dob": "03/04/1985", "sex": "F",
                           "address": "12 Elm St", "city": "Albany", "state": "NY", "zip": "12203"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        await until(pilot, lambda: s.data is not None and s.data.current.last_name == "García-López", "the new account")
        pid = s.patient_id
        monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-27")  # the change a day later: both versions dated
        await send(pilot, "e")
        await fill(pilot, {"address": "9 Oak Ave", "city": "Troy", "zip": "12180"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        await until(pilot, lambda: "9 Oak Ave" in str(s.query_one("#acct-demo").render()), "the new address")
        versions = [v.data.get("address") for v in aq.history("patient", pid)]
        assert versions == ["12 Elm St", "9 Oak Ave"], versions  # the old version kept
        # the idle lock, over the account screen
        app.idle_lock.tick(now=time.monotonic() + lock.DEFAULT_IDLE_MINUTES * 60 + 1)
        await settle(pilot)
        assert isinstance(app.screen, lock.LockScreen)
        await type_text(pilot, "s3cret")
        await send(pilot, "enter")
        await settle(pilot)
        assert not app.idle_lock.locked and app.screen is s
        assert checker.asked and checker.asked[-1][1] == "s3cret"
    report = run_check(integrity=False)
    assert report.ok, report.problems


async def test_both_live_screens_refresh_when_another_process_commits(pg_books):
    """The receipts queue and the balancing figures follow another clerk's process, told by NOTIFY; so
    does the app's posting date when that clerk closes the day (no restart to post on the next day)."""
    from tui_billing.screens.balancing import BalancingScreen
    from tui_billing.screens.receipts import ReceiptsScreen

    patient = scalar("SELECT id FROM patient WHERE account = 'A1003'")

    def other_clerk(*argv: str) -> None:
        done = subprocess.run([sys.executable, "-m", "tui_billing", "--db", pg_books, *argv],
                              capture_output=True, text=True, env=dict(os.environ, TUI_BILLING_OPERATOR="maria"),
                              timeout=60)
        assert done.returncode == 0, done.stderr

    def receipt(amount: str) -> None:
        csv = Path(os.environ.get("TMPDIR", "/tmp")) / f"other-clerk-{os.getpid()}-{amount}.csv"
        csv.write_text(f"account,amount,method\nA1003,{amount},cash\n")
        try:
            other_clerk("import", "receipts", str(csv))
        finally:
            csv.unlink()

    app = make_app(pg_books)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "escape")  # no charge batch today: not now
        await pilot.press("f3")
        queue = app.screen
        assert isinstance(queue, ReceiptsScreen)
        await until(pilot, app.watching.is_set, "the app listening")
        await settle(pilot)
        assert queue.rows == []
        receipt("42.00")
        await until(pilot, lambda: [r.amount for r in queue.rows] == [4200], "the other clerk's receipt in the queue")
        await pilot.press("f4")
        bal = app.screen
        assert isinstance(bal, BalancingScreen)
        await until(pilot, lambda: bal.snapshot is not None and bal.snapshot.summary.receipts == 4200, "the figures")
        receipt("8.00")
        await until(pilot, lambda: bal.snapshot.summary.receipts == 5000, "the figures after the other clerk's receipt")
        await pilot.press("f3")  # hidden meanwhile, the queue followed too
        await until(pilot, lambda: sorted(r.amount for r in queue.rows) == [800, 4200], "the queue caught up")
        assert app.posting_date == TODAY
        other_clerk("close", "day", "--cash", "50.00")
        await until(pilot, lambda: app.posting_date == "2026-11-27", "the posting date after the other's close")
        assert "posting 2026-11-27" in app.sub_title
    assert patient and scalar("SELECT COUNT(*) FROM day_close") == 1
