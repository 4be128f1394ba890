"""The remittances screen: the plan of an 835 first, Ctrl+S posts exactly that file, the queue shows."""

from __future__ import annotations

import claims_support
from test_receipts_support import settle

from tui_billing.app import BillingApp
from tui_billing.store import database

from era_support import books_claim, fixture_for


def scalar(sql, *params):
    return database.execute_sql(sql, params).fetchone()[0]


async def test_plan_then_post_then_refused_again(db, today, tmp_path):
    cp = claims_support.seed_claims_practice()
    number, controls, _, _ = books_claim(cp.patients[0], cp.payers[0], ("99213", "36415"), "2026-11-02")
    denied, dcontrols, _, _ = books_claim(cp.patients[0], cp.payers[0], ("99214",), "2026-11-03")
    paid = fixture_for("paid", {"C1": (number, controls)}, tmp_path)
    denial = fixture_for("denial", {"C2": (denied, dcontrols)}, tmp_path)
    app = BillingApp(db_path=db)
    async with app.run_test(size=(120, 40)) as pilot:
        app.switch_mode("remittances")
        await settle(pilot)
        screen = app.screen
        plan = screen.query_one("#era-plan")
        await pilot.press("ctrl+s")  # nothing planned yet: nothing posted
        await settle(pilot)
        assert scalar("SELECT COUNT(*) FROM receipt") == 0
        field = screen.query_one("#era-path")
        field.value = str(paid)
        await pilot.press("enter")
        await settle(pilot)
        shown = str(plan.render())
        assert "DRY RUN" in shown and "applied 64.00, adjusted CO-45 20.00" in shown
        assert scalar("SELECT COUNT(*) FROM receipt") == 0
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert scalar("SELECT amount FROM receipt") == 7200
        field.value = str(denial)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        table = screen.query_one("#era-queue")
        assert table.row_count == 1 and "CO-16" in str(table.get_row_at(0))
        field.value = str(paid)  # the same file again: refused, said in the panel
        await pilot.press("enter")
        await settle(pilot)
        assert "already posted" in str(plan.render())
