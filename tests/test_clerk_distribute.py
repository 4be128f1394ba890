"""Distribution (issue 16): each line says who owes it now, patient money on an insurer's line asks
first, and the adjustment reason is sticky from line to line."""

from __future__ import annotations

import pytest
from test_receipts_support import fresh_books, settle

from tui_billing.app import BillingApp
from tui_billing.store import database
from tui_billing.store import operations as ops
from tui_billing.store.db import close_database


@pytest.fixture
def books(tmp_path, monkeypatch):
    path, ids = fresh_books(tmp_path, monkeypatch)
    yield path, ids
    close_database()


async def _distribute(pilot):
    await pilot.press("f3")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    return pilot.app.screen


async def test_patient_money_on_an_insurer_line_asks_first(books):
    path, ids = books
    ops.record_receipt(amount=5000, method="cash", patient_id=ids["ana"])
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _distribute(pilot)
        assert type(screen).__name__ == "DistributeScreen"
        first = screen.rows[0]
        assert first.payer_id == ids["acme"]
        assert "ACME" in str(screen.query_one("#rd-table").get_row_at(0)[2])  # who owes it now
        await pilot.press("enter", "5", "0", "enter", "enter", "enter", "enter")
        await settle(pilot)
        dialog = app.screen
        assert type(dialog).__name__ == "ConfirmDialog" and "owed by ACME" in dialog.question
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is screen and screen.edits == {} and app.focused.id == "rd-applied"
        await pilot.press("enter", "enter", "enter", "enter", "y")
        await settle(pilot)
        assert screen.edits[first.charge_id].applied == 5000


async def test_the_adjustment_reason_is_sticky(books):
    path, ids = books
    ops.record_receipt(amount=16000, method="check", payer_id=ids["acme"], reference="42")
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _distribute(pilot)
        await pilot.press("enter", "8", "0", "enter", "2", "0", "enter", "c", "o", "minus", "4", "5", "enter", "enter")
        await settle(pilot)
        await pilot.press("enter")  # the next line
        await settle(pilot)
        assert screen.query_one("#rd-reason").value == "CO-45"
        await pilot.press("8", "0", "enter", "2", "0", "enter", "enter", "enter")  # reason not typed again
        await settle(pilot)
        assert [e.reason for e in screen.edits.values()] == ["CO-45", "CO-45"]
        await pilot.press("ctrl+s")
        await settle(pilot)
    assert database.execute_sql("SELECT COUNT(*) FROM adjustment WHERE reason_code = 'CO-45'").fetchone()[0] == 2


async def test_the_receipts_queue_can_be_ordered_newest_first(books):
    from tui_billing.store import receipts_queries as q

    path, ids = books
    for n, day in enumerate(("2026-11-02", "2026-11-09", "2026-11-05")):
        ops.record_receipt(amount=1000 + n, method="check", payer_id=ids["acme"], reference=f"R{n}", received_date=day)
    oldest = [r.received_date for r in q.queue_page(q.QueueFilter())]
    assert oldest == sorted(oldest)
    newest = q.queue_page(q.QueueFilter(newest_first=True), limit=2)
    assert [r.received_date for r in newest] == sorted(oldest, reverse=True)[:2]
    more = q.queue_page(q.QueueFilter(newest_first=True), after=q.queue_keyset(newest[-1], q.QueueFilter()))
    assert [r.received_date for r in newest + more] == sorted(oldest, reverse=True)
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        queue = app.screen
        assert [r.received_date for r in queue.rows] == sorted(oldest)
        await pilot.press("o")
        await settle(pilot)
        assert [r.received_date for r in queue.rows] == sorted(oldest, reverse=True)


async def test_type_ahead_never_lands_on_a_line_the_cursor_left(books):
    """Lines keyed as one burst (as over SSH): each Enter that keeps a line lets the next key act
    only once the cursor is on the next line, so the second line is never lost or mixed up."""
    from test_charge_entry import send

    path, ids = books
    ops.record_receipt(amount=20000, method="check", payer_id=ids["acme"], reference="77")
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _distribute(pilot)
        first, second, third = screen.rows[:3]
        await send(pilot, "enter", "8", "0", "enter", "enter", "enter", "enter",
                   "enter", "5", "0", "enter", "enter", "enter", "enter",
                   "enter", "2", "0", "enter", "enter", "enter", "enter")
        await settle(pilot)
        assert {cid: e.applied for cid, e in screen.edits.items()} == {
            first.charge_id: 8000, second.charge_id: 5000, third.charge_id: 2000}
