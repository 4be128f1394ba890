"""The demo generator: a small practice builds fast, passes `check`, has something on every screen,
and is the same for the same seed."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from tui_billing import codes, demo
from tui_billing.cli import main
from tui_billing.demo import build_demo
from tui_billing.ledger.vocab import month_bounds as _month_bounds
from tui_billing.store import audit, database, day_summary, open_database, period_summary, run_check
from tui_billing.store.db import close_database
from tui_billing.store.errors import BillingError

TODAY = "2026-11-26"  # a Thursday
CHARGES = 3000


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch):
    """Each test pins the day for itself (a module-wide pin leaked into the tests after it)."""
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUI_BILLING_TODAY", TODAY)
        stats = build_demo(path, charges=CHARGES, patients=400, days=70, seed=7, force=False, progress=False)
    return path, stats


@pytest.fixture
def demo_db(built):
    """The module's demo, opened for this test (other tests build and open their own files)."""
    open_database(built[0])
    yield built
    close_database()


def rows(sql: str, params: tuple = ()) -> list[tuple]:
    return database.execute_sql(sql, params).fetchall()


def one(sql: str, params: tuple = ()):
    return database.execute_sql(sql, params).fetchone()[0]


def test_check_passes_and_counts_match(demo_db):
    path, stats = demo_db
    report = run_check()
    assert report.problems == []
    assert stats["charges"] == CHARGES == one("SELECT COUNT(*) FROM charge WHERE reverses_id IS NULL")
    assert stats["patients"] == 400 == one("SELECT COUNT(*) FROM patient")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(path.parent.glob("*.building-*"))


def test_past_days_and_months_closed_with_their_own_figures(demo_db):
    dates = [r[0] for r in rows("SELECT DISTINCT posting_date FROM charge ORDER BY 1")]
    assert dates[-1] == TODAY and len(dates) == 70
    closes = dict(rows("SELECT posting_date, totals FROM day_close"))
    assert sorted(closes) == dates[:-1], "every past day closed, today open"
    for date in dates[:-1]:
        stored = json.loads(closes[date])
        now = day_summary(date).as_dict()
        # Closed at the end of its own day, when nothing was posted after it: the current figures
        # were the closing ones. Today they are None (later days have postings).
        assert (stored.pop("current_ar"), stored.pop("current_unapplied")) == (stored["closing_ar"],
                                                                                 stored["closing_unapplied"])
        assert now.pop("current_ar") is None and now.pop("current_unapplied") is None
        assert stored == now, date
    counted = rows("SELECT posting_date, counted_cash, counted_checks, counted_check_count, counted_card, "
                   "counted_eft FROM day_close")
    for date, cash, checks, check_count, card, eft in counted:
        s = day_summary(date)
        assert (cash, checks, card, eft) == tuple(s.deposit[m] for m in ("cash", "check", "card", "eft"))
        assert check_count == s.check_count >= 0
    months = dict(rows("SELECT month, totals FROM month_close"))
    assert sorted(months) == sorted({d[:7] for d in dates if d[:7] < TODAY[:7]})
    for month, text in months.items():
        stored = json.loads(text)
        now = period_summary(*_month_bounds(month)).as_dict()
        for key in ("current_ar", "current_unapplied"):
            stored.pop(key), now.pop(key)
        assert stored == now, month


def test_today_has_work_for_every_screen(demo_db):
    open_batches = rows("SELECT b.kind, COUNT(*) FROM batch b LEFT JOIN batch_close c ON c.batch_id = b.id "
                        "WHERE c.batch_id IS NULL GROUP BY b.kind")
    assert {kind for kind, _ in open_batches} == {"charge", "receipt"}
    assert one("SELECT MIN(posting_date) FROM batch b WHERE NOT EXISTS "
               "(SELECT 1 FROM batch_close c WHERE c.batch_id = b.id)") == TODAY
    assert one("SELECT COUNT(*) FROM receipt_balance WHERE unapplied > 0") > 0
    assert one("SELECT COUNT(*) FROM receipt r JOIN receipt_balance rb ON rb.receipt_id = r.id "
               "WHERE r.posting_date = ? AND rb.unapplied = r.amount AND r.source = 'payer'", (TODAY,)) > 0
    assert one("SELECT COUNT(*) FROM charge_balance WHERE balance > 0 AND payer_id IS NULL") > 0
    assert one("SELECT COUNT(*) FROM charge_balance WHERE balance > 0 AND payer_id IS NOT NULL") > 0
    assert one("SELECT COUNT(*) FROM charge WHERE posting_date = ?", (TODAY,)) > 0


def test_history_has_the_whole_range_of_postings(demo_db):
    for table in ("encounter", "receipt", "distribution", "charge", "application", "adjustment", "transfer"):
        assert one(f"SELECT COUNT(*) FROM {table} WHERE reverses_id IS NOT NULL") > 0, f"no voided {table}"
    assert one("SELECT COUNT(*) FROM refund") > 0
    reasons = {r[0] for r in rows("SELECT DISTINCT reason_code FROM adjustment")}
    assert {"CO-45", "CO-97", "SMALL"} <= reasons
    methods = {r[0] for r in rows("SELECT DISTINCT method FROM receipt")}
    assert methods == {"cash", "check", "card", "eft"}
    assert one("SELECT COUNT(*) FROM charge WHERE dos > posting_date") == 0


def test_master_data_is_valid(demo_db):
    for (npi,) in rows("SELECT npi FROM provider UNION ALL SELECT npi FROM practice"):
        assert codes.validate_npi(npi) == npi
    fee_codes = {r[0] for r in rows("SELECT code FROM procedure")}
    assert len(fee_codes) >= 40
    assert {r[0] for r in rows("SELECT DISTINCT code FROM charge")} <= fee_codes
    for (code,) in rows("SELECT DISTINCT code FROM encounter_diagnosis"):
        assert codes.validate_icd10(code).code == code
    kinds = {r[0] for r in rows("SELECT DISTINCT kind FROM payer")}
    assert {"medicare", "medicaid", "commercial", "self-pay"} <= kinds
    names = {r[0] for r in rows("SELECT last_name FROM patient")}
    assert "[bold]O'Brien [/]" in names  # markup-looking names are data, for the screens to show as text


def test_audit_events_are_canonical_and_one_per_operation(demo_db):
    for (detail,) in rows("SELECT detail FROM audit_event"):
        assert audit.canonical(json.loads(detail)) == detail
    assert one("SELECT COUNT(*) FROM audit_event WHERE action = 'post_encounter'") == one(
        "SELECT COUNT(*) FROM encounter WHERE reverses_id IS NULL")
    assert one("SELECT COUNT(*) FROM audit_event WHERE action = 'distribute'") == one(
        "SELECT COUNT(*) FROM distribution WHERE reverses_id IS NULL")
    assert one("SELECT COUNT(*) FROM audit_event WHERE action = 'close_day'") == one("SELECT COUNT(*) FROM day_close")


def test_same_seed_same_rows_other_seed_other_rows(tmp_path, monkeypatch):
    def build(name: str, seed: int) -> tuple[list, ...]:
        path = tmp_path / name
        build_demo(path, charges=800, patients=100, days=15, seed=seed, progress=False)
        open_database(path)
        try:
            assert run_check(integrity=False).ok
            return tuple(rows(f"SELECT * FROM {t} ORDER BY 1") for t in (
                "charge", "receipt", "application", "adjustment", "transfer", "day_close", "patient"))
        finally:
            close_database()

    first, other = build("a.db", 3), build("c.db", 4)
    # The second build of seed 3 runs the simulation in a child process, as big builds do.
    monkeypatch.setattr(demo, "PIPELINE_MIN_CHARGES", 0)
    again = build("b.db", 3)
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]


def test_refuses_an_existing_database_unless_forced(tmp_path):
    path = tmp_path / "office.db"
    path.write_bytes(b"SQLite format 3\x00 pretend office data")
    with pytest.raises(BillingError, match="--force"):
        build_demo(path, charges=50, patients=20, days=3, progress=False)
    assert path.read_bytes().startswith(b"SQLite format 3\x00 pretend")
    result = CliRunner().invoke(main, ["--db", str(path), "demo", "--charges", "50", "--patients", "20",
                                       "--days", "3"])
    assert result.exit_code == 1 and "--force" in result.output
    result = CliRunner().invoke(main, ["--db", str(path), "demo", "--charges", "50", "--patients", "20",
                                       "--days", "3", "--force"])
    assert result.exit_code == 0, result.output
    assert "charges 50" in result.output
    open_database(path)
    try:
        assert run_check().ok
    finally:
        close_database()


def test_check_finds_a_running_balance_that_drifted(built, tmp_path):
    """The demo's balances are written from the simulation; check must still catch a wrong one."""
    import shutil

    copy = tmp_path / "drift.db"
    shutil.copy(built[0], copy)
    open_database(copy)
    try:
        cid = one("SELECT charge_id FROM charge_balance WHERE balance > 100 ORDER BY charge_id LIMIT 1")
        database.execute_sql("UPDATE charge_balance SET balance = balance - 100 WHERE charge_id = ?", (cid,))
        rid = one("SELECT receipt_id FROM receipt_balance WHERE unapplied > 0 ORDER BY receipt_id LIMIT 1")
        database.execute_sql("UPDATE receipt_balance SET unapplied = unapplied + 1 WHERE receipt_id = ?", (rid,))
        problems = run_check(integrity=True).problems
    finally:
        close_database()
    assert any(p.startswith(f"charge {cid}: running balance") for p in problems), problems
    assert any(p.startswith(f"receipt {rid}: unapplied") for p in problems), problems


def test_days_hashed_during_the_load_match_the_books_read_whole(demo_db):
    """The load hashes each closed day from its fresh rows (bounded by rowid: no indexes yet);
    the finished books, read in full as `check` reads them, give every day the same digest."""
    from tui_billing.store import digests

    sealed = rows("SELECT posting_date, rows_digest FROM day_digest ORDER BY posting_date")
    assert [d for d, _ in sealed] == [r[0] for r in rows("SELECT posting_date FROM day_close ORDER BY 1")]
    assert all(digests.rows_digest(date) == digest for date, digest in sealed)
    assert digests.problems() == []
