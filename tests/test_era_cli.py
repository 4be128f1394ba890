"""`tui-billing import era` (and --dry-run), `report denials` and `worklist note` as a clerk runs them."""

from __future__ import annotations

import claims_support
import pytest
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import close_database

from era_support import books_claim, fixture_for
from raw_books import Raw
from store_helpers import OPERATOR, TODAY

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": OPERATOR}


@pytest.fixture
def books(db, today, tmp_path):
    cp = claims_support.seed_claims_practice()
    number, controls, _, _ = books_claim(cp.patients[0], cp.payers[0], ("99213", "36415"), "2026-11-02")
    denied, dcontrols, _, _ = books_claim(cp.patients[0], cp.payers[0], ("99214",), "2026-11-03")
    paths = {"paid": fixture_for("paid", {"C1": (number, controls)}, tmp_path),
             "denial": fixture_for("denial", {"C2": (denied, dcontrols)}, tmp_path),
             "unbalanced": fixture_for("unbalanced", {}, tmp_path)}
    close_database()
    return db, paths


def run(db, *args, code=0):
    result = CliRunner().invoke(main, ["--db", str(db), *args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def one(db, query):
    """One value, read on a connection of its own (the CLI's process has closed the books)."""
    con = Raw(db)
    try:
        return con.execute(query).fetchone()[0]
    finally:
        con.close()


def count(db, table):
    return one(db, f"SELECT COUNT(*) FROM {table}")


def test_dry_run_then_post_then_refuse_again(books):
    db, paths = books
    out = run(db, "import", "era", str(paths["paid"]), "--dry-run").output
    assert "DRY RUN" in out and "CO-45 20.00" in out and count(db, "receipt") == 0
    out = run(db, "import", "era", str(paths["paid"])).output
    assert "lines posted automatically: 2 of 2" in out and count(db, "receipt") == 1
    again = run(db, "import", "era", str(paths["paid"]), code=1)
    assert "already posted" in again.output and count(db, "receipt") == 1


def test_an_unbalanced_file_is_one_line_and_exit_1(books):
    db, paths = books
    result = run(db, "import", "era", str(paths["unbalanced"]), code=1)
    assert "does not balance" in result.output and "C11" in result.output and "Traceback" not in result.output


def test_denials_report_and_notes(books):
    db, paths = books
    run(db, "import", "era", str(paths["denial"]))
    out = run(db, "report", "denials", "--format", "csv").output
    assert "denial" in out and "CO-16" in out and "150.00" in out
    item = one(db, "SELECT id FROM era_work_item")
    run(db, "worklist", "note", str(item), "--note", "appeal sent", "--follow-up", "2026-12-15",
        "--outcome", "appeal letter printed")
    out = run(db, "report", "denials", "--format", "csv").output
    assert "appeal sent" in out and "2026-12-15" in out and "appeal letter printed" in out
    assert "CO-16" not in run(db, "report", "denials", "--open", "--format", "csv").output
