"""Two clerks' processes distribute the same receipt at the same moment: only one can apply it."""

from __future__ import annotations

import multiprocessing as mp

from test_receipts_support import fresh_books, settle

from tui_billing.store import database, run_check
from tui_billing.store import operations as ops
from tui_billing.store.db import close_database


def _clerk(path: str, receipt_id: int, charge_ids: list[int], amount_each: int, barrier, results) -> None:
    """One clerk's process: open the books, wait for the other, then post the whole receipt."""
    from tui_billing.store import BillingError, DistributionLine, distribute, open_database

    open_database(path)
    lines = [DistributionLine(cid, applied=amount_each) for cid in charge_ids]
    barrier.wait(timeout=30)
    try:
        did = distribute(receipt_id, lines, operator=f"clerk{charge_ids[0]}")
        results.put(("posted", did))
    except BillingError as exc:
        results.put(("refused", str(exc)))


def test_two_processes_cannot_apply_one_receipt_twice(tmp_path, monkeypatch):
    path, ids = fresh_books(tmp_path, monkeypatch)
    rid = ops.record_receipt(amount=20000, method="check", payer_id=ids["acme"], reference="RACE").receipt_id
    close_database()

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    # Each clerk applies the receipt's full 200.00, to different charges of the same payer.
    procs = [ctx.Process(target=_clerk, args=(str(path), rid, [ids["acme0"], ids["acme1"]], 10000, barrier, results)),
             ctx.Process(target=_clerk, args=(str(path), rid, [ids["acme2"], ids["acme3"]], 10000, barrier, results))]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["posted", "refused"], outcomes
    refusal = next(msg for kind, msg in outcomes if kind == "refused")
    assert "more than the receipt's unapplied 0.00" in refusal

    from tui_billing.store import open_database

    open_database(path)
    try:
        assert database.execute_sql("SELECT unapplied FROM receipt_balance WHERE receipt_id = ?", (rid,)).fetchone()[0] == 0
        assert database.execute_sql("SELECT SUM(amount) FROM application WHERE receipt_id = ?", (rid,)).fetchone()[0] == 20000
        assert database.execute_sql("SELECT COUNT(*) FROM distribution").fetchone()[0] == 1
        report = run_check(integrity=False)
        assert report.ok, report.problems
    finally:
        close_database()


async def test_screen_says_when_another_clerk_got_there_first(tmp_path, monkeypatch):
    """The distribute screen is open; meanwhile another clerk applies the receipt: Ctrl+S is refused clearly."""
    from tui_billing.app import BillingApp

    path, ids = fresh_books(tmp_path, monkeypatch)
    rid = ops.record_receipt(amount=10000, method="check", payer_id=ids["acme"], reference="R2").receipt_id
    app = BillingApp(path)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f3")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            screen = app.screen
            await pilot.press("a")
            await settle(pilot)
            ops.distribute(rid, [ops.DistributionLine(ids["acme5"], applied=10000)], operator="other-clerk")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is screen
            shown = str(screen.query_one("#rd-error").render())
            assert "Another clerk has just distributed" in shown and "0.00 is left" in shown
        assert database.execute_sql("SELECT COUNT(*) FROM distribution").fetchone()[0] == 1
    finally:
        close_database()
