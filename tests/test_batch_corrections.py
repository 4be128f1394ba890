"""Batch corrections (store/batches.py): a typo in a batch's control figures no longer blocks the
day. Correcting the figures and cancelling an empty batch are audited, kept as append-only rows,
and the batch row's other columns (and a closed batch) still refuse every change."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tui_billing.store import (  # noqa: E402
    BillingError,
    batches,  # noqa: E402
    close_database,
    open_database,
)
from tui_billing.store import operations as ops  # noqa: E402
from tui_billing.store.db import database  # noqa: E402

from store_helpers import audit_chain_problems, seed_practice  # noqa: E402

DAY = "2026-11-26"


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", DAY)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "carol")
    path = open_database(tmp_path / "books.db")
    yield path
    close_database()


def _encounter(p, batch_id: int) -> None:
    ops.post_encounter(patient_id=p.patients[0], provider_id=p.providers[0], dos=DAY, diagnoses=["I10"],
                       lines=[ops.ChargeLine("99213")], batch_id=batch_id)


def test_a_typo_in_the_control_total_is_corrected_and_the_batch_closes(db):
    p = seed_practice()
    bid = ops.open_batch("charge", 1, 1000000)  # 10,000.00 typed for 100.00
    _encounter(p, bid)
    with pytest.raises(BillingError):
        ops.close_batch(bid)
    status = batches.correct_control(bid, 1, 10000, "typed 10000.00 for 100.00")
    assert status.balanced and (status.control_count, status.control_total) == (1, 10000)
    assert ops.close_batch(bid).closed
    [c] = batches.corrections(bid)
    assert (c.kind, c.old_count, c.old_total, c.new_count, c.new_total, c.operator) == \
        ("control", 1, 1000000, 1, 10000, "carol")
    events = database.execute_sql(
        "SELECT action, detail FROM audit_event WHERE entity = 'batch' AND entity_id = ? ORDER BY id", (bid,)).fetchall()
    assert [e[0] for e in events] == ["open_batch", "correct_batch_control", "close_batch"]
    assert '"reason":"typed 10000.00 for 100.00"' in events[1][1]
    assert audit_chain_problems() == []
    assert ops.close_day_problems(DAY, None)[:1] != [f"charge batch {bid} (carol) is still open"]


def test_an_empty_batch_is_cancelled_and_no_longer_blocks_the_day(db):
    seed_practice()
    bid = ops.open_batch("receipt", 3, 45000)
    assert any(f"batch {bid}" in m for m in ops.close_day_problems(DAY, None))
    status = batches.cancel_empty_batch(bid, "opened by mistake")
    assert status.closed and (status.control_count, status.control_total, status.entered_count) == (0, 0, 0)
    assert not any(f"batch {bid}" in m for m in ops.close_day_problems(DAY, None))
    actions = [r[0] for r in database.execute_sql(
        "SELECT action FROM audit_event WHERE entity = 'batch' AND entity_id = ?", (bid,))]
    assert actions == ["open_batch", "cancel_batch"]
    assert [c.kind for c in batches.corrections(bid)] == ["cancel"]


def test_refusals_name_the_field_and_change_nothing(db):
    p = seed_practice()
    bid = ops.open_batch("charge", 2, 20000)
    _encounter(p, bid)
    before = database.execute_sql("SELECT COUNT(*) FROM audit_event").fetchone()[0]
    cases = [
        (lambda: batches.cancel_empty_batch(bid, "oops"), "batch", "has entries"),
        (lambda: batches.correct_control(bid, 1, 10000, "  "), "reason", "reason is required"),
        (lambda: batches.correct_control(bid, -1, 10000, "x"), "control_count", "0 to 9999"),
        (lambda: batches.correct_control(bid, 2, 20000, "x"), "control_count", "already has"),
        (lambda: batches.correct_control(99, 1, 100, "x"), "batch", "does not exist"),
        (lambda: batches.correct_control(bid, 1, -5, "x"), "control total", ""),
    ]
    for call, field, words in cases:
        with pytest.raises(BillingError) as err:
            call()
        assert err.value.field == field and words in err.value.message
    assert database.execute_sql("SELECT COUNT(*) FROM audit_event").fetchone()[0] == before
    batches.correct_control(bid, 1, 10000, "one encounter, not two")
    ops.close_batch(bid)
    with pytest.raises(BillingError, match="closed"):
        batches.correct_control(bid, 1, 10001, "x")


def test_the_batch_row_still_refuses_any_other_change(db):
    seed_practice()
    bid = ops.open_batch("charge", 1, 100)
    conn = database.connection()
    for sql in ("UPDATE batch SET control_total = 5 WHERE id = ?",  # no correction row behind it
                "UPDATE batch SET operator = 'mallory' WHERE id = ?",
                "DELETE FROM batch WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="posted history"):
            conn.execute(sql, (bid,))
    batches.correct_control(bid, 1, 200, "typo")
    with pytest.raises(sqlite3.IntegrityError, match="posted history"):
        conn.execute("UPDATE batch_correction SET new_total = 5")
    with pytest.raises(sqlite3.IntegrityError, match="posted history"):  # the correction row, replayed
        conn.execute("UPDATE batch SET control_total = 200, posting_date = '2026-11-25' WHERE id = ?", (bid,))
