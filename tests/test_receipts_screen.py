"""The receipts queue worked by keys alone, as a clerk would, at 80x24; `check` after each."""

from __future__ import annotations

import time

import pytest
from test_receipts_support import fresh_books, settle

from tui_billing.app import BillingApp
from tui_billing.store import database, run_check
from tui_billing.store import operations as ops
from tui_billing.store.db import close_database


@pytest.fixture
def books(tmp_path, monkeypatch):
    path, ids = fresh_books(tmp_path, monkeypatch)
    yield path, ids
    close_database()


def scalar(sql: str, *params):
    return database.execute_sql(sql, params).fetchone()[0]


def assert_books_ok() -> None:
    """`tui-billing check` on the same file passes (the command itself, in process)."""
    from click.testing import CliRunner

    from tui_billing.cli import main

    path = database.database
    result = CliRunner().invoke(main, ["--db", path, "check", "--quick"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")
    report = run_check(integrity=False)
    assert report.ok, report.problems


async def open_queue(pilot):
    await pilot.press("f3")
    await settle(pilot)
    return pilot.app.screen


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[("full_stop" if ch == "." else "minus" if ch == "-" else ch) for ch in text])


async def new_receipt(pilot, source: str, method: str, reference: str, amount: str) -> None:
    """One receipt keyed into the open New receipt form (sticky fields are typed over)."""
    await type_text(pilot, source)
    await settle(pilot)
    await pilot.press("enter")
    await type_text(pilot, method)
    await pilot.press("enter")
    await type_text(pilot, reference)
    await pilot.press("enter")
    await type_text(pilot, amount)
    await pilot.press("enter", "enter", "ctrl+s")
    await settle(pilot)


async def test_new_receipts_of_each_method_in_a_batch(books):
    path, ids = books
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        await pilot.press("b")
        await settle(pilot)
        await type_text(pilot, "4")
        await pilot.press("enter")
        await type_text(pilot, "425")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert queue.batch_id is not None
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        # Short keying, as a clerk would: an account or payer prefix, the method by word or digit.
        await new_receipt(pilot, "c3", "cash", "", "50")
        await new_receipt(pilot, "ac", "2", "5001", "250.00")
        await new_receipt(pilot, "alv", "car", "", "25")
        await new_receipt(pilot, "bl", "4", "T9", "100")
        assert app.screen is form  # the form stays for the next receipt of the stack
        assert app.focused.id == "i-from"
        assert "4 of 4, 425.00 of 425.00 · balanced" in str(form.query_one("#receipt-title").render())
        assert form.field("method").value == "eft"  # the sticky "4" shows as the method it was read as
        await pilot.press("escape")  # nothing typed: Esc leaves at once
        await settle(pilot)
        assert app.screen is queue
        rows = database.execute_sql(
            "SELECT method, source, reference, amount, batch_id FROM receipt ORDER BY id").fetchall()
        assert rows == [("cash", "patient", "", 5000, queue.batch_id), ("check", "payer", "5001", 25000, queue.batch_id),
                        ("card", "patient", "", 2500, queue.batch_id), ("eft", "payer", "T9", 10000, queue.batch_id)]
        assert len(queue.rows) == 4
        assert ops.batch_status(queue.batch_id).balanced
        assert "balanced" in str(queue.query_one("#rq-batch").render())

        # A check without its number is refused inline; a repeated check number is flagged first.
        await pilot.press("n")
        await settle(pilot)
        await type_text(pilot, "ACME")
        await settle(pilot)
        await pilot.press("enter", "c", "h", "enter", "enter", "1", "0", "ctrl+s")
        await settle(pilot)
        dialog = app.screen
        assert "needs its check number" in str(dialog.query_one("#f-reference .rf-error").render())
        assert app.focused.id == "i-reference"  # the cursor goes to what is wrong
        await pilot.press("5", "0", "0", "1", "ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        assert "Possible duplicate" in str(dialog.query_one("#f-reference .rf-error").render())
        assert scalar("SELECT COUNT(*) FROM receipt") == 4
        await pilot.press("ctrl+s")  # posting it anyway is the clerk's call
        await settle(pilot)
        assert "posted" in str(dialog.query_one("#form-status").render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is queue
        assert scalar("SELECT COUNT(*) FROM receipt WHERE reference = '5001'") == 2
    assert_books_ok()


async def test_auto_apply_pays_oldest_first_and_leaves_the_queue(books):
    path, ids = books
    rid = ops.record_receipt(amount=25000, method="check", payer_id=ids["acme"], reference="777").receipt_id
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        assert [r.receipt_id for r in queue.rows] == [rid]
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert len(screen.rows) == 6
        await pilot.press("a")
        await settle(pilot)
        assert "Left to distribute 0.00" in str(screen.query_one("#rd-left").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue
        applied = database.execute_sql("SELECT charge_id, amount FROM application ORDER BY charge_id").fetchall()
        assert applied == [(ids["acme0"], 10000), (ids["acme1"], 10000), (ids["acme2"], 5000)]
        assert queue.rows == []
    assert_books_ok()


async def test_manual_split_with_contractual_adjustment_transfer_and_credit(books):
    path, ids = books
    rid = ops.record_receipt(amount=15000, method="check", payer_id=ids["acme"], reference="888").receipt_id
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        # Line 1: 80.00 paid, 20.00 CO-45 written off.
        await pilot.press("enter")
        await type_text(pilot, "80")
        await pilot.press("enter")
        await type_text(pilot, "20")
        await pilot.press("enter")
        await type_text(pilot, "co-45")
        await pilot.press("enter", "enter")
        await settle(pilot)
        assert "Left to distribute 70.00" in str(screen.query_one("#rd-left").render())
        # Line 2: 50.00 paid, the rest moves to the patient.
        await pilot.press("enter")
        await type_text(pilot, "50")
        await pilot.press("enter", "enter", "enter", "y", "enter")
        await settle(pilot)
        assert "Left to distribute 20.00" in str(screen.query_one("#rd-left").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue
        assert [(r.receipt_id, r.unapplied) for r in queue.rows] == [(rid, 2000)]  # 20.00 stays as credit
    bal = dict(database.execute_sql("SELECT charge_id, balance FROM charge_balance").fetchall())
    assert bal[ids["acme0"]] == 0 and bal[ids["acme1"]] == 5000
    assert scalar("SELECT reason_code FROM adjustment") == "CO-45"
    assert scalar("SELECT payer_id IS NULL FROM charge_balance WHERE charge_id = ?", ids["acme1"]) == 1
    assert scalar("SELECT amount FROM transfer") == 5000
    assert_books_ok()


async def test_over_application_is_refused_inline(books):
    path, ids = books
    ops.record_receipt(amount=5000, method="check", payer_id=ids["acme"], reference="999")
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        await pilot.press("enter")
        await type_text(pilot, "150")  # more than the line's 100.00 balance
        await pilot.press("enter")
        await settle(pilot)
        assert "more than the balance 100.00" in str(screen.query_one("#rd-error").render())
        assert app.focused.id == "rd-applied"
        await pilot.press(*["backspace"] * 3)
        await type_text(pilot, "60")  # within the line but more than the receipt's 50.00
        await pilot.press("enter")
        await settle(pilot)
        assert "more than the receipt has left" in str(screen.query_one("#rd-error").render())
        assert app.focused.id == "rd-applied"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is screen
        assert scalar("SELECT COUNT(*) FROM distribution") == 0
        await pilot.press(*["backspace"] * 2)
        await type_text(pilot, "50")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert scalar("SELECT SUM(amount) FROM application") == 5000
    assert_books_ok()


async def test_refund_from_unapplied_credit(books):
    path, ids = books
    rid = ops.record_receipt(amount=5000, method="cash", patient_id=ids["cy"]).receipt_id
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("backspace", "backspace", "backspace", "backspace", "backspace")
        await type_text(pilot, "80")  # more than the 50.00 credit
        await pilot.press("enter")
        await type_text(pilot, "check")
        await pilot.press("ctrl+s")
        await settle(pilot)
        # one Ctrl+S says both: the amount and the missing check number
        assert "more than the receipt's credit 50.00" in str(app.screen.query_one("#f-amount .rf-error").render())
        assert "the refund check's number" in str(app.screen.query_one("#f-reference .rf-error").render())
        assert app.focused.id == "i-amount"
        await pilot.press("backspace", "backspace")
        await type_text(pilot, "50")
        await pilot.press("enter", "enter")
        assert app.focused.id == "i-reference"
        await type_text(pilot, "3001")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue
        assert queue.rows == []
    assert database.execute_sql("SELECT receipt_id, amount, method FROM refund").fetchall() == [(rid, 5000, "check")]
    assert_books_ok()


async def test_void_a_distribution_then_the_receipt(books):
    path, ids = books
    rid = ops.record_receipt(amount=15000, method="check", payer_id=ids["acme"], reference="4242").receipt_id
    did = ops.distribute(rid, [ops.DistributionLine(ids["acme0"], applied=10000)])
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        await pilot.press("ctrl+d")
        await settle(pilot)
        dialog = app.screen
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "say why" in str(dialog.query_one("#f-reason .rf-error").render())
        await pilot.press("down")  # from "the whole receipt" to its distribution
        await type_text(pilot, "wrong line")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is queue
        assert scalar("SELECT COUNT(*) FROM distribution WHERE reverses_id = ?", did) == 1
        assert [(r.receipt_id, r.unapplied) for r in queue.rows] == [(rid, 15000)]
        await pilot.press("ctrl+d")
        await settle(pilot)
        await type_text(pilot, "bounced")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert queue.rows == []
        await pilot.press("u")  # every receipt: the voided one says so in words, not by strike-through alone
        await settle(pilot)
        table = queue.query_one("#rq-table")
        shown = [str(table.get_row_at(i)[-1]).strip() for i in range(table.row_count)]
        assert "voided" in shown
    assert scalar("SELECT COUNT(*) FROM receipt WHERE reverses_id = ?", rid) == 1
    assert scalar("SELECT balance FROM charge_balance WHERE charge_id = ?", ids["acme0"]) == 10000
    assert_books_ok()


async def test_queue_filters_and_refreshes_when_another_clerk_posts(books):
    path, ids = books
    ops.record_receipt(amount=5000, method="cash", patient_id=ids["cy"])
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        assert [r.amount for r in queue.rows] == [5000]
        # Another clerk's connection posts a receipt: the queue picks it up without a keypress.
        ops.record_receipt(amount=12345, method="check", payer_id=ids["acme"], reference="X1", operator="maria")
        deadline = time.monotonic() + 15  # the live refresh's poll, then the reload (generous for a loaded box)
        while [r.amount for r in queue.rows] != [5000, 12345] and time.monotonic() < deadline:
            await pilot.pause(0.02)
        await settle(pilot)
        assert [r.amount for r in queue.rows] == [5000, 12345]
        assert "unapplied 173.45" in str(queue.query_one("#rq-totals").render())
        await pilot.press("slash")
        await type_text(pilot, "acme")
        await settle(pilot)
        queue._apply_filter()  # the debounce timer's job, done now
        await settle(pilot)
        assert [r.amount for r in queue.rows] == [12345]
        await pilot.press("tab", "tab", "tab")  # Tab walks the filters (Enter on a filled one searches)
        assert app.focused.id == "rq-operator"
        await type_text(pilot, "maria")
        queue._apply_filter()
        await settle(pilot)
        assert [r.operator for r in queue.rows] == ["maria"]


async def test_filter_then_enter_typed_ahead_opens_a_row_of_the_new_list(books):
    """'/ acme Enter Enter' in one burst: the second Enter waits for the filtered list, so it opens
    Acme's receipt, never the row that was on top before the filter (another payer's)."""
    from test_charge_entry import send

    path, ids = books
    cash = ops.record_receipt(amount=5000, method="cash", patient_id=ids["cy"]).receipt_id
    acme = ops.record_receipt(amount=12345, method="check", payer_id=ids["acme"], reference="X1").receipt_id
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        assert [r.receipt_id for r in queue.rows] == [cash, acme]  # Cy's cash receipt on top
        await send(pilot, "slash", *"acme", "enter", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "DistributeScreen"
        assert app.screen.receipt.receipt_id == acme


async def test_enter_on_an_empty_filter_moves_to_the_next(books):
    path, _ = books
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("slash", "enter")
        assert app.focused.id == "rq-patient"
        await pilot.press("enter", "enter", "enter")  # the last filter goes to the list
        assert app.focused.id == "rq-table"


async def test_patient_payment_distributes_to_the_patients_own_charges(books):
    path, ids = books
    ops.record_receipt(amount=30000, method="card", patient_id=ids["cy"])
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert {c.patient_id for c in screen.rows} == {ids["cy"]}
        await pilot.press("a", "ctrl+s")
        await settle(pilot)
        assert [(r.unapplied) for r in queue.rows] == [5000]  # 250.00 of charges paid, 50.00 credit
    assert scalar("SELECT SUM(balance) FROM charge_balance WHERE patient_id = ?", ids["cy"]) == 0
    assert_books_ok()


async def test_open_charge_list_pages_in_as_the_cursor_moves(books, monkeypatch):
    """The list holds only the pages scrolled through (a payer can have thousands of open lines)."""
    from tui_billing.store import receipts_queries as q

    path, ids = books
    monkeypatch.setattr(q, "PAGE", 2)
    ops.record_receipt(amount=100, method="check", payer_id=ids["acme"], reference="P1")
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        table = screen.query_one("#rd-table")
        # The first page, and at most one more read ahead of the cursor.
        assert len(screen.rows) in (2, 4) and table.row_count == len(screen.rows) and screen.more
        seen = [len(screen.rows)]
        for _ in range(6):
            await pilot.press("down")
            await settle(pilot)
            seen.append(table.row_count)
        assert seen[-1] == 6 and not screen.more
        assert [c.charge_id for c in screen.rows] == [ids[f"acme{i}"] for i in range(6)]
        assert seen == sorted(seen) and seen[0] < 6  # grew a page at a time


async def test_distribute_filters_keep_what_was_typed_on_other_lines(books):
    path, ids = books
    ops.record_receipt(amount=30000, method="check", payer_id=ids["acme"], reference="F1")
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_queue(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        await pilot.press("enter")
        await type_text(pilot, "40")
        await pilot.press("enter", "enter", "enter", "enter")  # keep: 40.00 on Ana's oldest line
        await pilot.press("slash")
        await type_text(pilot, "b2")  # Bob's lines only
        screen._apply_filter()  # the pause timer's job, done now
        await settle(pilot)
        assert {c.account for c in screen.rows} == {"B200"}
        await pilot.press("enter")  # a filled filter searches and goes straight back to the list
        assert app.focused.id == "rd-table"
        await pilot.press("a")  # auto-apply within the filter: what is left goes to Bob's lines
        await settle(pilot)
        assert "Left to distribute 0.00" in str(screen.query_one("#rd-left").render())
        await pilot.press("slash", "backspace", "backspace")
        await pilot.press("tab")
        await type_text(pilot, "2099")  # a DOS year with nothing in it
        screen._apply_filter()
        await settle(pilot)
        assert screen.rows == [] and "no open charges" in str(screen.query_one("#rd-count").render())
        await pilot.press("ctrl+s")
        await settle(pilot)
    applied = dict(database.execute_sql("SELECT charge_id, amount FROM application").fetchall())
    assert applied[ids["acme0"]] == 4000  # the line typed before filtering was kept and posted
    assert sum(applied.values()) == 30000
    bob = {ids["acme1"], ids["acme3"], ids["acme5"]}
    assert set(applied) - {ids["acme0"]} <= bob
    assert_books_ok()


async def test_batch_dialog_reports_every_bad_field_at_once(books):
    path, _ = books
    app = BillingApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = await open_queue(pilot)
        await pilot.press("b")
        await settle(pilot)
        dialog = app.screen
        await type_text(pilot, "x2")
        await pilot.press("enter")
        await type_text(pilot, "12.3.4")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog and queue.batch_id is None  # nothing opened
        said = str(dialog.query_one("#dialog-error").render())
        assert "control count: 'x2' is not a whole number" in said
        assert "control total: '12.3.4'" in said  # the total's reason too
        assert app.focused.id == "control-count"  # the cursor on the first thing to fix
