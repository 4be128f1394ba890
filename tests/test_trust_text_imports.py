"""Issue 15: file and user text never drives the terminal or a spreadsheet; imports refuse
duplicate headers and a file imported twice."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.reports_fixtures import HOSTILE_LAST, TODAY, build
from tui_billing.cli import main

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": "importer"}
SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples"
OSC_52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # "write this to the clipboard"
RETITLE = "\x1b]0;pwned\x07"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("trusttext") / "base.db"
    with pytest.MonkeyPatch.context() as mp:
        build(path, mp)
    from tui_billing.store import close_database

    close_database()
    return path


@pytest.fixture
def books(base, tmp_path):
    path = tmp_path / "books.db"
    shutil.copy(base, path)
    return path


def tb(books, *args):
    result = CliRunner().invoke(main, ["--db", str(books), *args], env=ENV)
    from tui_billing.store import close_database

    close_database()
    return result


def count(books, table) -> int:
    con = sqlite3.connect(books)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


# --------------------------------------------------------------------------- terminal and spreadsheet


def test_tsv_neutralises_formula_cells_like_csv(books):
    result = tb(books, "report", "statement", "--patient", "EVIL1", "-f", "tsv")
    assert result.exit_code == 0, result.output
    cells = [cell for line in result.stdout.splitlines() for cell in line.split("\t")]
    assert "'" + HOSTILE_LAST in result.stdout
    assert not [c for c in cells if c.strip().startswith(("=", "+", "@"))], cells
    assert "\x1b" not in result.stdout
    # amounts stay numbers a spreadsheet can add up
    aging = tb(books, "report", "aging", "-f", "tsv").stdout
    assert not [c for line in aging.splitlines() for c in line.split("\t") if c.strip().startswith("'") and
                c.strip()[1:].replace(",", "").replace(".", "").lstrip("-").isdigit()]


def test_an_import_never_echoes_a_header_raw(books, tmp_path):
    bad = tmp_path / "fees.csv"
    bad.write_text(f"code,description,fee,{RETITLE}\n99213,Visit,125.00,x\n")
    result = tb(books, "import", "fees", str(bad))
    assert result.exit_code == 1
    assert "unknown column" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_an_import_row_error_never_echoes_a_cell_raw(books, tmp_path):
    bad = tmp_path / "fees.csv"
    bad.write_text(f"code,description,fee\n{RETITLE},Visit,125.00\n")
    result = tb(books, "import", "fees", str(bad))
    assert result.exit_code == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


async def test_distribute_screen_header_shows_a_hostile_name_inert(tmp_path, monkeypatch):
    from test_receipts_support import fresh_books, settle

    from tui_billing.app import BillingApp
    from tui_billing.store import database
    from tui_billing.store import operations as ops
    from tui_billing.store.db import close_database

    path, ids = fresh_books(tmp_path, monkeypatch)
    try:
        # a name that came in around the store's checks (a legacy row, a hand-run UPDATE)
        database.execute_sql("UPDATE patient SET last_name = ? WHERE id = ?", (f"Evil{OSC_52}", ids["cy"]))
        ops.record_receipt(amount=1000, method="cash", patient_id=ids["cy"])
        app = BillingApp(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f3")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert type(app.screen).__name__ == "DistributeScreen"
            head = str(app.screen.query_one("#rd-head").render())
            assert "Evil" in head
            assert "\x1b" not in head and "\x07" not in head
    finally:
        close_database()


# --------------------------------------------------------------------------- imports


def test_duplicate_column_headers_are_refused_with_the_line(books, tmp_path):
    dup = tmp_path / "fees.csv"
    dup.write_text("code,description,fee,Fee\n99213,Visit,125.00,1.00\n")
    before = count(books, "procedure")
    result = tb(books, "import", "fees", str(dup))
    assert result.exit_code == 1
    assert f"{dup}:1: column 'fee' appears twice (columns 3 and 4)" in result.stderr
    assert count(books, "procedure") == before


def test_the_same_file_imported_twice_is_refused_unless_allowed(books, tmp_path):
    fees = tmp_path / "fees.csv"
    shutil.copy(SAMPLES / "fees.csv", fees)
    dry = tb(books, "import", "fees", "--dry-run", str(fees))
    assert dry.exit_code == 0, dry.output
    first = tb(books, "import", "fees", str(fees))  # a dry run is not remembered
    assert first.exit_code == 0, first.output
    renamed = tmp_path / "fees-monday.csv"  # the same bytes under another name
    shutil.copy(fees, renamed)
    events = count(books, "audit_event")
    again = tb(books, "import", "fees", str(renamed))
    assert again.exit_code == 1
    assert "already imported as fees" in again.stderr and "fees.csv" in again.stderr and "importer" in again.stderr
    assert count(books, "audit_event") == events  # nothing was posted
    # the same bytes as another kind are another question (and here simply wrong columns)
    assert "already imported" not in tb(books, "import", "patients", str(fees)).stderr
    allowed = tb(books, "import", "fees", "--allow-duplicates", str(renamed))
    assert allowed.exit_code == 0, allowed.output
    con = sqlite3.connect(books)
    assert con.execute("SELECT kind, file_name, rows, operator FROM import_file ORDER BY id").fetchall() == [
        ("fees", "fees.csv", 4, "importer"), ("fees", "fees-monday.csv", 4, "importer")]
    con.close()


def test_a_refused_import_is_not_remembered(books, tmp_path):
    receipts = tmp_path / "receipts.csv"
    shutil.copy(SAMPLES / "receipts.csv", receipts)
    refused = tb(books, "import", "receipts", str(receipts))  # the sample's patients are not loaded yet
    assert refused.exit_code == 1 and "already imported" not in refused.stderr
    assert count(books, "import_file") == 0
    assert tb(books, "import", "patients", str(SAMPLES / "patients.csv")).exit_code == 0
    assert tb(books, "import", "receipts", str(receipts)).exit_code == 0
