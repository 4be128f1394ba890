"""The day's figures, the closes and the close commands (store level and headless CLI)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from tui_billing.cli import main  # noqa: E402
from tui_billing.money import format_cents  # noqa: E402
from tui_billing.store import BillingError, close_database, open_database  # noqa: E402
from tui_billing.store import db as store_db  # noqa: E402
from tui_billing.store import operations as ops  # noqa: E402
from tui_billing.store.closes import close_day_as_shown, month_close_problems  # noqa: E402
from tui_billing.store.operations import DepositCount  # noqa: E402
from tui_billing.store.summary import (  # noqa: E402
    batches_for,
    day_close_record,
    day_snapshot,
    day_summary,
    period_summary,
)
from tui_billing.store.validate import current_posting_date  # noqa: E402

import balancing_support as bs  # noqa: E402

COUNTED = DepositCount(cash=5000, checks=6000, check_count=1, card=2000, eft=5000)


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", bs.NEXT)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "carol")
    path = open_database(tmp_path / "books.db")
    yield path
    close_database()


@pytest.fixture
def day(db):
    ids = bs.practice()
    return ids, bs.worked_day(ids)


def test_day_figures_balance_to_the_cent(day):
    ids, worked = day
    s = day_summary(bs.DAY)
    assert s.charges == worked.charges
    assert s.receipts_by_method == worked.receipts_by_method
    assert s.refunds == worked.refunds and s.refund_count == 1
    assert s.applications == worked.applied
    assert s.adjustments_by_reason == {"CO-45": worked.adjusted}
    assert (s.transfer_count, s.transfer_total) == (1, 10000 - 6000 - 2500)
    assert s.voids_by_kind["encounter"] == 1 and s.charge_voids == -10000
    assert s.charges_by_provider == {"DRA": [2, 10000], "DRB": [1, 15000]}
    assert s.charges_by_operator == {"alice": [1, 10000], "bob": [2, 15000]}
    assert s.receipts_by_source == {"patient": 8000, "payer": 11000}
    assert s.receipt_counts_by_method == {"cash": 1, "check": 1, "card": 1, "eft": 1}
    assert s.deposit == {"cash": 5000, "check": 6000, "card": 2000, "eft": 5000}
    # the A/R proof: opening + charges - applications - adjustments = closing = sum of open balances
    assert s.opening_ar + s.charges - s.applications - s.adjustments == s.closing_ar == s.current_ar == 12500
    assert s.opening_unapplied + s.receipts - s.applications - s.refunds == s.closing_unapplied == 8000
    assert s.balances


def test_batch_list_agrees_with_batch_status(day):
    ids, worked = day
    extra = ops.open_batch("receipt", 2, 999, posting_date=bs.DAY, operator="bob")
    ops.record_receipt(amount=500, method="cash", patient_id=ids["p2"], batch_id=extra, posting_date=bs.DAY)
    lines = batches_for(bs.DAY, bs.DAY)
    assert [b.id for b in lines] == [worked.charge_batch, worked.receipt_batch, extra]
    for b in lines:
        st = ops.batch_status(b.id)
        assert (b.entered_count, b.entered_total, b.closed) == (st.entered_count, st.entered_total, st.closed)
    assert [b.status for b in lines] == ["closed", "closed", "unbalanced"]


def test_close_stores_totals_and_refuses_later_posting(day):
    ids, worked = day
    totals = ops.close_day(bs.DAY, COUNTED)
    record = day_close_record(bs.DAY)
    assert record.totals == totals and record.counted == {"cash": 5000, "check": 6000, "card": 2000, "eft": 5000}
    assert record.counted_check_count == 1 and record.operator == "carol"
    with pytest.raises(BillingError) as err:
        ops.record_receipt(amount=100, method="cash", patient_id=ids["p2"], posting_date=bs.DAY)
    assert bs.DAY in str(err.value) and f"current open day {bs.NEXT}" in str(err.value)
    # the database's own guard refuses a hand-written insert too
    raw = sqlite3.connect(str(store_db.database.database))
    with pytest.raises(sqlite3.IntegrityError, match="closed day or month; post it on the current open posting date"):
        raw.execute("INSERT INTO batch (kind, posting_date, operator, control_count, control_total, opened_at) "
                    "VALUES ('charge', ?, 'x', 0, 0, 'now')", (bs.DAY,))
    raw.close()


def test_closing_today_moves_posting_to_the_next_open_day(db, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", bs.DAY)
    ids = bs.practice()
    bs.worked_day(ids)
    assert current_posting_date() == bs.DAY
    ops.close_day(None, COUNTED)
    assert current_posting_date() == bs.NEXT
    rid = ops.record_receipt(amount=100, method="cash", patient_id=ids["p2"]).receipt_id
    assert day_snapshot().date == bs.NEXT
    assert ops._one("SELECT posting_date FROM receipt WHERE id = ?", (rid,))[0] == bs.NEXT


def test_stale_screen_posting_names_the_closed_day(day):
    """A screen that captured the date before another clerk closed it gets a clear refusal."""
    ids, _ = day
    captured = bs.DAY
    ops.close_day(bs.DAY, COUNTED, operator="dana")
    with pytest.raises(BillingError) as err:
        ops.post_encounter(patient_id=ids["p1"], provider_id=ids["dra"], dos=bs.DAY, diagnoses=["I10"],
                           lines=[ops.ChargeLine("99213")], posting_date=captured)
    message = str(err.value)
    assert f"day {bs.DAY} was closed by dana" in message and bs.NEXT in message


def test_unbalanced_batch_refuses_close_and_says_why(db):
    ids = bs.practice()
    worked = bs.worked_day(ids, close_batches=False)
    ops.close_batch(worked.charge_batch)
    off = ops.open_batch("charge", 1, 4200, posting_date=bs.DAY, operator="bob")
    problems = ops.close_day_problems(bs.DAY, COUNTED)
    assert any(f"receipt batch {worked.receipt_batch}" in p and "still open" in p for p in problems)
    assert any(f"charge batch {off}" in p and "off by -1 / -42.00" in p for p in problems)
    with pytest.raises(BillingError, match="cannot close"):
        ops.close_day(bs.DAY, COUNTED)
    assert day_close_record(bs.DAY) is None


def test_deposit_difference_refuses_close(day):
    short = DepositCount(cash=4900, checks=6000, check_count=1, card=2000, eft=5000)
    with pytest.raises(BillingError) as err:
        ops.close_day(bs.DAY, short)
    assert "cash counted 49.00 but receipts say 50.00 (difference -1.00)" in str(err.value)
    assert day_close_record(bs.DAY) is None


def test_close_as_shown_refuses_when_the_day_moved(day):
    ids, _ = day
    shown = day_summary(bs.DAY).as_dict()
    ops.post_encounter(patient_id=ids["p1"], provider_id=ids["dra"], dos=bs.DAY, diagnoses=["I10"],
                       lines=[ops.ChargeLine("99213")], posting_date=bs.DAY)
    with pytest.raises(BillingError, match="changed while you confirmed"):
        close_day_as_shown(bs.DAY, COUNTED, shown)
    assert day_close_record(bs.DAY) is None  # rolled back whole
    close_day_as_shown(bs.DAY, COUNTED, day_summary(bs.DAY).as_dict())
    assert day_close_record(bs.DAY) is not None


def test_month_closes_only_after_its_days(day, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-01")
    assert month_close_problems("2026-11") == [f"days with postings are still open: {bs.DAY}"]
    with pytest.raises(BillingError, match="still open"):
        ops.close_month("2026-11")
    ops.close_day(bs.DAY, COUNTED)
    assert month_close_problems("2026-11") == []
    totals = ops.close_month("2026-11")
    assert totals == period_summary("2026-11-01", "2026-11-30").as_dict()
    assert totals["closing_ar"] == 12500
    assert month_close_problems("2026-11") == ["month 2026-11 is already closed"]


# --------------------------------------------------------------------------- the commands


def run(db: Path, *args: str):
    return CliRunner().invoke(main, ["--db", str(db), "close", *args])


def test_cli_close_day_refuses_then_closes(day, db):
    refused = run(db, "day", bs.DAY, "--cash", "49", "--checks", "60", "--card", "20", "--eft", "50")
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "cash counted 49.00" in refused.stderr
    assert "Traceback" not in refused.output
    done = run(db, "day", bs.DAY, "--cash", "$50.00", "--checks", "60", "--card", "20.00", "--eft", "50")
    assert done.exit_code == 0, done.output
    assert f"day {bs.DAY} closed" in done.stdout and f"postings now go to {bs.NEXT}" in done.stdout
    # the day's sealed digest, to keep outside the books (check --witness reads this line)
    witness = db.parent / "witness.txt"
    witness.write_text(done.stdout)
    assert CliRunner().invoke(main, ["--db", str(db), "check", "--quick", "--witness", str(witness)]).exit_code == 0
    again = run(db, "day", bs.DAY, "--cash", "50")
    assert again.exit_code == 1 and "was closed by" in again.stderr


def test_cli_bad_money_is_exit_2_one_line(day, db):
    bad = run(db, "day", bs.DAY, "--cash", "12.345")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("tui-billing: --cash '12.345'") and bad.stderr.count("\n") == 1


def test_cli_close_month(day, db, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-01")
    early = run(db, "month", "2026-11")
    assert early.exit_code == 1 and bs.DAY in early.stderr
    assert run(db, "day", bs.DAY, "--cash", "50", "--checks", "60", "--card", "20", "--eft", "50").exit_code == 0
    done = run(db, "month", "2026-11")
    assert done.exit_code == 0 and f"closing A/R {format_cents(12500)}" in done.stdout
    assert run(db, "month", "2026-13").exit_code == 1


def test_close_commands_never_load_textual(day, db):
    """The headless close path stays free of the TUI (fast start, works without a terminal)."""
    import subprocess

    code = ("import sys\nfrom tui_billing.cli import main\n"
            "try:\n    main(['--db', sys.argv[1], 'close', 'day', sys.argv[2], '--cash', '50', '--checks', '60',"
            " '--card', '20', '--eft', '50'])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(db), bs.DAY], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"
    close_database()
    open_database(db)
    assert day_close_record(bs.DAY) is not None
