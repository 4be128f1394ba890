"""bench/era_bench.py --db: the ERA it writes for real books posts wholly, its floor writes every row the
post wrote, and its wrong-line check catches money put on another line (it is what the README quotes)."""

from __future__ import annotations

import sqlite3

import pytest

from bench import era_bench
from tui_billing import demo


@pytest.fixture
def demo_books(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-26")
    path = tmp_path / "demo.db"
    demo.build_demo(path, charges=3000, patients=300, days=60, seed=3, progress=False)
    return path


def test_db_mode_answers_one_payers_open_claims_and_posts_them_all(demo_books):
    result = era_bench.measure_db(demo_books, 30, 1)
    assert result["claims in the ERA"] == 30
    lines = result["lines"]
    assert isinstance(lines, int) and lines >= 30
    assert result["auto-posted"] == f"lines posted automatically: {lines} of {lines}"
    checks = result["lines checked against the file"]
    assert isinstance(checks, dict) and checks["wrong"] == 0 and checks["untouched"] == 0 and checks["checked"] > 0
    floors = result["floors"]
    assert isinstance(floors, list) and floors[0] > 0
    with sqlite3.connect(demo_books) as con:  # the books given are never written
        assert con.execute("SELECT COUNT(*) FROM remittance").fetchone() == (0,)
    con.close()


def test_wrong_line_check_counts_money_on_another_line(demo_books, tmp_path):
    books, run = tmp_path / "books.db", tmp_path / "run.db"
    era_bench._copy(demo_books, books)
    era, expected, _ = era_bench.make_demo_era(books, tmp_path, 20)
    era_bench._copy(books, run)
    era_bench._run(["--db", str(run), "import", "era", str(era)])
    assert era_bench.wrong_lines(run, books, expected)["wrong"] == 0
    paid = [charge for charge, (amount, _) in expected.items() if amount]
    a = paid[0]
    b = next(charge for charge in paid if expected[charge] != expected[a])
    swapped = {**expected, a: expected[b], b: expected[a]}
    assert era_bench.wrong_lines(run, books, swapped)["wrong"] == 2
    rows = era_bench._posted_rows(run, books)
    assert rows["audit_event"][1] and rows["remittance_claim"][1] and rows["receipt"][1]
