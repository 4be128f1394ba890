"""The balancing screen driven as a clerk would: keys in, figures and closes out (Textual pilot)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dataclasses import replace  # noqa: E402

from tui_billing.app import BillingApp  # noqa: E402
from tui_billing.money import format_cents  # noqa: E402
from tui_billing.screens.balancing import BalancingScreen, render_proof  # noqa: E402
from tui_billing.screens.balancing_dialogs import CloseConfirm  # noqa: E402
from tui_billing.store import BillingError, close_database, database, open_database  # noqa: E402
from tui_billing.store import operations as ops  # noqa: E402
from tui_billing.store.summary import day_close_record, day_snapshot, day_summary  # noqa: E402

import balancing_support as bs  # noqa: E402


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", bs.NEXT)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "carol")
    path = open_database(tmp_path / "books.db")
    yield path
    close_database()


async def until(pilot, condition, what: str, seconds: float = 15.0) -> None:
    """Let the app run until ``condition()`` holds (bounded by wall time, generous for a loaded CI box)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def open_balancing(pilot, date: str) -> BalancingScreen:
    await pilot.press("f4")
    screen = pilot.app.screen
    assert isinstance(screen, BalancingScreen)
    await until(pilot, lambda: screen.snapshot is not None, "the first load")
    screen.query_one("#bal-date").focus()
    screen.query_one("#bal-date").value = ""
    await pilot.press(*date, "enter")
    await until(pilot, lambda: screen.snapshot.date == date, f"figures for {date}")
    return screen


async def type_deposit(pilot, screen, cash="50", checks="60", count="1", card="20", eft="50") -> None:
    screen.query_one("#dep-cash").focus()
    for value in (cash, checks, count, card, eft):
        await pilot.press(*value, "enter")


def shown(screen: BalancingScreen) -> str:
    return str(screen.query_one("#bal-left").render()) + str(screen.query_one("#bal-right").render())


async def test_day_balances_closes_and_refuses_later_posting(db):
    ids = bs.practice()
    bs.worked_day(ids)
    app = BillingApp(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_balancing(pilot, bs.DAY)
        s = screen.snapshot.summary
        assert s.balances and s.closing_ar == s.current_ar == 12500
        text = shown(screen)
        for figure in ("250.00", "-100.00", "190.00", "25.00", "125.00", "CO-45", "DRB", "bob"):
            assert figure in text
        await type_deposit(pilot, screen, cash="49")
        assert "short" in str(screen.differences["cash"])
        assert "0.00 ✓" in str(screen.differences["eft"])
        screen.query_one("#dep-cash").value = "50.00"
        await pilot.pause()
        assert "0.00 ✓" in str(screen.differences["cash"])
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the confirmation")
        dialog = app.screen
        assert dialog.problems == []
        assert any("250.00" in line for line in dialog.lines) and any("Counted" in line for line in dialog.lines)
        # A close cannot be undone: Enter means No, and the clerk is back where they were.
        focused = screen.focused
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, CloseConfirm), "the refusal")
        assert screen.snapshot.closed is None and screen.focused is focused
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the confirmation again")
        await pilot.press("y")
        await until(pilot, lambda: screen.snapshot.closed is not None, "the close")
        assert day_close_record(bs.DAY).counted_cash == 5000
        assert screen.query_one("#dep-cash").disabled
        assert [screen.query_one(f"#dep-{k}").value for k in ("cash", "checks", "count", "card", "eft")] == [
            "50.00", "60.00", "1", "20.00", "50.00"]  # what it was closed with
        assert "CLOSED WITH" in shown(screen)
        assert "CLOSED" in str(screen.query_one("#bal-state").render())
    with pytest.raises(BillingError) as err:
        ops.record_receipt(amount=100, method="cash", patient_id=ids["p2"], posting_date=bs.DAY)
    assert bs.DAY in str(err.value) and bs.NEXT in str(err.value)


async def test_unbalanced_batch_and_deposit_difference_refuse_close(db):
    ids = bs.practice()
    bs.worked_day(ids)
    off = ops.open_batch("receipt", 2, 1000, posting_date=bs.DAY, operator="bob")
    ops.record_receipt(amount=700, method="cash", patient_id=ids["p2"], batch_id=off, posting_date=bs.DAY)
    app = BillingApp(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_balancing(pilot, bs.DAY)
        assert [b.status for b in screen.snapshot.batches][-1] == "unbalanced"
        assert "batch off" in str(screen.query_one("#bal-state").render())
        await type_deposit(pilot, screen, card="19")
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the refusal")
        problems = app.screen.problems
        assert any(f"receipt batch {off}" in p and "off by -1 / -3.00" in p for p in problems)
        assert any("card counted 19.00" in p for p in problems)
        assert any("cash counted 50.00 but receipts say 57.00" in p for p in problems)
        await pilot.press("enter")  # nothing to confirm: just goes back
        await until(pilot, lambda: app.screen is screen, "the dashboard again")
        assert day_close_record(bs.DAY) is None


async def test_month_closes_only_after_its_days(db, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-01")
    ids = bs.practice()
    bs.worked_day(ids)
    app = BillingApp(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_balancing(pilot, bs.DAY)
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the month refusal")
        assert app.screen.problems == [f"days with postings are still open: {bs.DAY}"]
        await pilot.press("escape")
        await type_deposit(pilot, screen)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the day confirmation")
        await pilot.press("y")
        await until(pilot, lambda: screen.snapshot.closed is not None, "the day close")
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, CloseConfirm), "the month confirmation")
        assert app.screen.problems == []
        await pilot.press("y")
        await until(pilot, lambda: screen.snapshot.month_closed is not None, "the month close")
        assert screen.snapshot.month_closed.totals["closing_ar"] == 12500


async def test_figures_refresh_when_another_clerk_posts(db):
    ids = bs.practice()
    app = BillingApp(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_balancing(pilot, bs.NEXT)
        assert screen.snapshot.summary.receipts == 0
        screen.query_one("#dep-cash").focus()
        await pilot.press("1", "2")

        def other_clerk() -> None:  # another connection, as another SSH session would have
            ops.record_receipt(amount=1234, method="cash", patient_id=ids["p2"], operator="dana")
            database.close()

        clerk = threading.Thread(target=other_clerk)
        clerk.start()
        clerk.join()
        await until(pilot, lambda: screen.snapshot.summary.receipts == 1234, "the live refresh")
        assert "+12.00 over" not in str(screen.differences["cash"])
        assert "-0.34 short" in str(screen.differences["cash"])
        assert screen.query_one("#dep-cash").value == "12"  # typing survived the refresh


async def test_dashboard_figures_equal_the_shared_summary(db):
    """What the screen shows is exactly store.summary's figures (the day sheet's source)."""
    ids = bs.practice()
    bs.worked_day(ids)
    app = BillingApp(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_balancing(pilot, bs.DAY)
        s = day_summary(bs.DAY)
        assert screen.snapshot.summary.as_dict() == s.as_dict()
        text = shown(screen)
        for value in (s.charges, s.receipts, s.applications, s.adjustments, s.refunds, s.closing_ar,
                      s.closing_unapplied, *s.receipts_by_method.values()):
            assert format_cents(value) in text


def test_a_proof_error_is_shown_with_both_figures(db):
    """It must never happen, but if the books disagree the screen says so."""
    bs.worked_day(bs.practice())
    snap = day_snapshot(bs.DAY)
    broken = snap._replace(summary=replace(snap.summary, current_ar=13000, proof_errors=(
        "closing A/R 125.00 differs from the sum of open charge balances 130.00",)))
    text = str(render_proof(broken))
    assert "A/R PROOF ERROR" in text and "125.00" in text and "130.00" in text and "✗" in text


async def test_dashboard_equals_the_summary_on_the_demo_database(tmp_path, monkeypatch):
    """On the demo practice, the screen shows exactly store.summary's figures (the day sheet's source),
    for the open current day and for a closed day."""
    demo = pytest.importorskip("tui_billing.demo")
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-25")
    path = tmp_path / "demo.db"
    demo.build_demo(path, charges=3000, patients=300, days=15, seed=3, progress=False)
    open_database(path)
    try:
        closed_day = database.execute_sql("SELECT MAX(posting_date) FROM day_close").fetchone()[0]
        app = BillingApp(db_path=path)
        async with app.run_test(size=(80, 24)) as pilot:
            for date in (closed_day, "2026-11-25"):
                screen = await open_balancing(pilot, date)
                s = day_summary(date)
                assert screen.snapshot.summary.as_dict() == s.as_dict()
                assert s.balances
                text = shown(screen)
                for value in (s.charges, s.receipts, s.applications, s.adjustments, s.closing_ar, s.closing_unapplied):
                    assert format_cents(value) in text
                if screen.snapshot.closed:
                    stored = screen.snapshot.closed.totals
                    assert (stored["charges"], stored["closing_ar"]) == (s.charges, s.closing_ar)
    finally:
        close_database()


def test_large_amounts_are_never_cut(db):
    bs.worked_day(bs.practice())
    snap = day_snapshot(bs.DAY)
    big = snap._replace(summary=replace(snap.summary, opening_ar=1_020_955_132, closing_ar=9_999_999_999))
    text = str(render_proof(big))
    assert "10,209,551.32" in text and "99,999,999.99" in text


async def test_dashboard_equals_the_day_sheet_report(db):
    """The day sheet report (built on the same store.summary) prints the figures the dashboard shows."""
    queries = pytest.importorskip("tui_billing.reports.queries")
    if not hasattr(queries, "daysheet"):
        pytest.skip("the day sheet report is not on this branch yet")
    bs.worked_day(bs.practice())
    report = queries.daysheet(bs.DAY)
    sections = {sec.key or sec.title: sec for sec in report.sections}
    app = BillingApp(db_path=db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_balancing(pilot, bs.DAY)
        s = screen.snapshot.summary
    totals = {row[0].strip(): row[1:] for row in sections["totals"].rows}
    assert int(totals["receipts"][1]) == s.receipts and totals["receipts"][0] == s.receipt_count
    assert int(totals["applied to charges"][1]) == s.applications
    assert int(totals["adjustments"][1]) == s.adjustments
    assert int(totals["refunds"][1]) == s.refunds
    assert [int(x) for x in sections["deposit"].total[1:]] == [s.receipts, s.refunds, sum(s.deposit.values())]
    deposit = {row[0]: int(row[3]) for row in sections["deposit"].rows}
    assert deposit == s.deposit
    roll = {row[0]: row[1:] for row in sections["roll_forward"].rows}
    assert [int(x) for x in roll["opening"]] == [s.opening_ar, s.opening_unapplied]
    assert [int(x) for x in roll["closing"]] == [s.closing_ar, s.closing_unapplied]
    assert int(roll["+ charges"][0]) == s.charges
