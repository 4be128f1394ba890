"""CSV imports: the samples load, bad rows are reported by line, and a file is all or nothing."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.reports_fixtures import TODAY, build
from tui_billing.cli import main

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": "importer"}
SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("imports") / "base.db"
    with pytest.MonkeyPatch.context() as mp:
        build(path, mp)
    return path


@pytest.fixture
def books(base, tmp_path):
    path = tmp_path / "books.db"
    shutil.copy(base, path)
    return path


def run(books, *args, code=0):
    result = CliRunner().invoke(main, ["--db", str(books), "import", *args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def count(books, table, where="1"):
    return sqlite3.connect(books).execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]


def test_samples_import_in_order(books):
    run(books, "fees", str(SAMPLES / "fees.csv"))
    assert sqlite3.connect(books).execute("SELECT fee FROM procedure WHERE code='J1100'").fetchone()[0] == 450
    out = run(books, "patients", str(SAMPLES / "patients.csv")).stdout
    assert "3 patients, 3 coverages" in out
    assert count(books, "coverage", "patient_id = (SELECT id FROM patient WHERE account='P1002')") == 2
    before = count(books, "charge")
    out = run(books, "charges", str(SAMPLES / "charges.csv")).stdout
    assert "3 encounters, 5 charge lines" in out
    assert count(books, "charge") == before + 5
    con = sqlite3.connect(books)
    # the superbill's encounter grouping, payer choice and fee override are kept
    rows = con.execute("SELECT c.code, c.units, c.amount, c.payer_id, c.modifiers FROM charge c JOIN patient p "
                       "ON p.id = c.patient_id WHERE p.account='P1002' ORDER BY c.line_no").fetchall()
    assert rows[0][4] == "25" and rows[1][:3] == ("J1100", 4, 1800)
    assert len({r[0] for r in con.execute("SELECT encounter_id FROM charge c JOIN patient p ON p.id=c.patient_id "
                                          "WHERE p.account='P1002'")}) == 1
    assert con.execute("SELECT payer_id FROM charge c JOIN patient p ON p.id=c.patient_id "
                       "WHERE p.account='P1003'").fetchone()[0] is None
    run(books, "receipts", str(SAMPLES / "receipts.csv"))
    assert count(books, "receipt", "operator='importer'") == 4
    assert count(books, "audit_event", "user='importer'") >= 4 + 3 + 3 + 4  # the operations audited every row


def test_dry_run_saves_nothing(books):
    before = count(books, "procedure"), count(books, "audit_event")
    out = run(books, "fees", "--dry-run", str(SAMPLES / "fees.csv")).stdout
    assert out.startswith("would import 4 fee schedule lines")
    assert (count(books, "procedure"), count(books, "audit_event")) == before


def test_bad_rows_reported_by_line_and_nothing_saved(books, tmp_path):
    bad = tmp_path / "patients.csv"
    bad.write_text(
        "account,last_name,first_name,dob,sex,payer1,member_id1\n"
        "P2001,Good,Row,1990-01-01,F,AET,M1\n"
        "P2002,Bad,Sex,1990-01-01,Q,,\n"
        '"P2003","Multi\nLine",Name,1990-01-01,F,,\n'
        "P2004,Bad,Payer,1990-01-01,F,NOPE,M2\n"
        "P2001,Dup,Account,1990-01-01,F,,\n"
        "P2006,Future,Born,2099-01-01,F,,\n"
        "P2007,Too,Many,1990-01-01,F,,,extra\n")
    before = count(books, "patient"), count(books, "audit_event")
    result = run(books, "patients", str(bad), code=1)
    lines = result.stderr.strip().split("\n")
    assert lines[-1] == "tui-billing: 6 bad row(s) of 7: nothing was imported"
    msgs = {int(line.split(":")[1]): line.split(":", 2)[2] for line in lines[:-1]}
    assert set(msgs) == {3, 4, 6, 7, 8, 9}
    assert "sex" in msgs[3] and "control character" in msgs[4] and "NOPE" in msgs[6]
    assert "already used" in msgs[7] and "future" in msgs[8] and "more cells" in msgs[9]
    assert (count(books, "patient"), count(books, "audit_event")) == before


def test_charges_bad_rows(books, tmp_path):
    bad = tmp_path / "charges.csv"
    bad.write_text(
        "encounter,account,provider,dos,diagnoses,code,units,fee\n"
        "E1,A000,DR1,2026-03-01,J06.9,99213,1,\n"
        "E2,NOPE,DR1,2026-03-01,J06.9,99213,1,\n"
        "E3,A000,DR9,2026-03-01,J06.9,99213,1,\n"
        "E4,A000,DR1,2026-03-01,X99.99,99213,1,\n"
        "E5,A000,DR1,2099-03-01,J06.9,99213,1,\n"
        "E6,A000,DR1,2026-03-01,J06.9,99213,two,\n"
        "E7,A000,DR1,2026-03-01,J06.9,99213,1,12.345\n"
        "E1,A001,DR1,2026-03-01,J06.9,85025,1,\n")
    before = count(books, "charge")
    result = run(books, "charges", str(bad), code=1)
    lines = result.stderr.strip().split("\n")[:-1]
    assert [int(line.split(":")[1]) for line in lines] == [2, 3, 4, 5, 6, 7, 8]
    assert "differs" in lines[0] and "A001" in lines[0]
    assert count(books, "charge") == before


def test_receipts_into_a_closed_day_refused(books, tmp_path):
    f = tmp_path / "receipts.csv"
    f.write_text("account,payer,method,reference,amount\nA000,,cash,,10.00\n")
    result = run(books, "receipts", "--posting-date", "2026-01-05", str(f), code=1)
    assert "closed" in result.stderr
    run(books, "receipts", str(f))


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("code,description\n99213,x\n", "missing column(s) fee"),
    ("code,description,fee,colour\n", "unknown column(s) colour"),
])
def test_unreadable_files(books, tmp_path, content, message):
    f = tmp_path / "fees.csv"
    f.write_text(content)
    result = run(books, "fees", str(f), code=1)
    assert message in result.stderr and len(result.stderr.strip().split("\n")) == 1


def test_not_utf8(books, tmp_path):
    f = tmp_path / "fees.csv"
    f.write_bytes(b"code,description,fee\n99213,caf\xe9,1\n")
    assert "not UTF-8" in run(books, "fees", str(f), code=1).stderr


def test_one_transaction_for_the_whole_file(books, tmp_path, monkeypatch):
    """Rows join the import's transaction (one BEGIN IMMEDIATE), not one commit per row."""
    from tui_billing import imports
    from tui_billing.store import open_database
    from tui_billing.store.db import database

    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    open_database(books, create=False)
    seen = []
    real = imports.ops.set_procedure

    def spy(*a, **k):
        seen.append(database.in_transaction())
        return real(*a, **k)

    monkeypatch.setattr(imports.ops, "set_procedure", spy)
    result = imports.run_import("fees", SAMPLES / "fees.csv")
    assert result.ok and seen == [True] * 4


def test_receipts_file_imported_twice_is_refused(books, tmp_path):
    run(books, "receipts", str(SAMPLES / "receipts.csv"), code=1)  # the sample's patients are not loaded yet
    run(books, "patients", str(SAMPLES / "patients.csv"))
    run(books, "receipts", str(SAMPLES / "receipts.csv"))
    before = count(books, "receipt")
    result = run(books, "receipts", str(SAMPLES / "receipts.csv"), code=1)
    assert "already imported as receipts" in result.stderr  # the very same bytes: refused as a file
    assert count(books, "receipt") == before
    # the same checks in another file (rows in another order): each is caught by payer and reference
    head, *lines = (SAMPLES / "receipts.csv").read_text().splitlines()
    shuffled = tmp_path / "receipts-again.csv"
    shuffled.write_text("\n".join([head, *reversed(lines)]) + "\n")
    result = run(books, "receipts", str(shuffled), code=1)
    assert "imported twice" in result.stderr and f"{shuffled}:" in result.stderr
    assert count(books, "receipt") == before
    run(books, "receipts", "--allow-duplicates", str(SAMPLES / "receipts.csv"))
    assert count(books, "receipt") == before + 4


def test_summary_counts_read_as_english():
    from tui_billing.imports import ImportResult

    result = ImportResult("charges")
    assert result.summary() == "nothing"
    result.add("encounters")
    result.add("charge lines", 2)
    assert result.summary() == "1 encounter, 2 charge lines"
