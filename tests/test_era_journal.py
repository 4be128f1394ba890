"""The journal export carries the ERA receipts, interest, recoupments and reversals; hledger agrees."""

from __future__ import annotations

import subprocess

import claims_support
import pytest
from click.testing import CliRunner

from tests.journal_tools import require
from tests.test_journal import check as replay
from tui_billing.cli import main
from tui_billing.store import close_database, database, run_check
from tui_billing.store import era as era_store
from tui_billing.store import operations as ops

from era_support import books_claim, fixture_for
from store_helpers import OPERATOR, TODAY

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": OPERATOR}


@pytest.fixture
def books(db, today, tmp_path):
    cp = claims_support.seed_claims_practice()
    jane, roe, acme, mcr = cp.patients[0], cp.patients[2], cp.payers[0], cp.payers[1]
    c1 = books_claim(jane, acme, ("99213", "36415"), "2026-11-02")
    c2 = books_claim(jane, acme, ("99214",), "2026-11-03")
    c6 = books_claim(jane, acme, ("99213",), "2026-11-06")
    c7 = books_claim(roe, mcr, ("99213",), "2026-11-07")
    for name, claims in (("paid", {"C1": c1}), ("reversal", {"C1": c1}), ("denial", {"C2": c2}), ("plb", {"C6": c6}),
                         ("crossover", {"C7": c7})):
        era_store.import_era(fixture_for(name, {k: (v[0], v[1]) for k, v in claims.items()}, tmp_path))
    [(second, control)] = database.execute_sql(
        "SELECT k.claim_id, l.control_number FROM claim k JOIN claim_line l ON l.claim_id = k.id "
        "JOIN claim_status s ON s.claim_id = k.id WHERE s.status = 'forwarded'").fetchall()
    era_store.import_era(fixture_for("secondary", {"C8": (second, [control])}, tmp_path))
    assert run_check().ok
    ops.close_day(None, ops.DepositCount(eft=7200 + 800 + 6750 + 8000 + 2000))
    close_database()
    return db


def export(db) -> str:
    result = CliRunner().invoke(main, ["--db", str(db), "export", "journal"], env=ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_journal_balances_and_names_interest_and_recoupments(books):
    text = export(books)
    balances, asserted = replay(text)
    assert asserted and asserted[-1][0] == TODAY
    assert balances["income:interest"] == -250  # PLB L6 2.50 earned
    assert balances["expenses:recoupments"] == 1000  # PLB WO 10.00 taken back
    assert balances["assets:forward-balances"] == 500
    assert balances["assets:clearing:reversals"] == 0  # the reversal's credit moved from one payment to the next
    assert balances["assets:deposits:eft"] == 24750


def test_hledger_agrees(books, tmp_path):
    hledger = require("hledger")
    journal = tmp_path / "books.journal"
    journal.write_text(export(books))
    for args in (["check", "assertions"], ["check", "--strict"]):
        run = subprocess.run([hledger, "-f", str(journal), *args], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    run = subprocess.run([hledger, "-f", str(journal), "bal", "-N", "--flat", "income:interest",
                          "expenses:recoupments"], capture_output=True, text=True)
    assert "$-2.50" in run.stdout and "$10.00" in run.stdout
