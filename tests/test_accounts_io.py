"""Patients and fees with the accounts' columns: import, export (0600, reads back), headless."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat

import pytest
from click.testing import CliRunner

from tests.reports_fixtures import TODAY, build
from tui_billing.cli import main

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": "importer"}
HEADER = ("account,last_name,first_name,dob,sex,address,city,state,zip,phone,guarantor_relationship,guarantor_last,"
          "guarantor_first,payer1,member_id1,group_no1,relationship1,subscriber_last1,subscriber_first1,"
          "subscriber_dob1,subscriber_sex1,effective1,end_date1\n")


@pytest.fixture
def books(tmp_path_factory, tmp_path):
    path = tmp_path / "books.db"
    with pytest.MonkeyPatch.context() as mp:
        build(path, mp)
    return path


def invoke(books, *args, code=0):
    result = CliRunner().invoke(main, ["--db", str(books), *args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def payer_code(books) -> str:
    return sqlite3.connect(books).execute("SELECT code FROM payer ORDER BY id LIMIT 1").fetchone()[0]


def test_import_dependent_and_export_reads_back(books, tmp_path):
    code = payer_code(books)
    src = tmp_path / "p.csv"
    src.write_text(HEADER + f"K77,Núñez,Ana,2015-04-05,F,1 Elm St,Albany,NY,122031234,518-555-0111,parent,Núñez,"
                            f"Luis,{code},XJ9,G1,child,Núñez,Luis,1980-01-01,M,2024-01-01,\n", encoding="utf-8")
    out = invoke(books, "import", "patients", str(src)).output
    assert "1 patient, 1 coverage" in out
    con = sqlite3.connect(books)
    assert con.execute("SELECT zip, search_key, guarantor_first FROM patient WHERE account = 'K77'").fetchone() == (
        "12203-1234", "nunez,ana", "Luis")
    assert con.execute("SELECT relationship, subscriber_first, effective FROM coverage c JOIN patient p "
                       "ON p.id = c.patient_id WHERE p.account = 'K77'").fetchone() == ("child", "Luis", "2024-01-01")
    dest = tmp_path / "out.csv"
    invoke(books, "export", "patients", "--output", str(dest))
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(dest.read_text(encoding="utf-8"))))
    mine = next(r for r in rows if r["account"] == "K77")
    assert mine["relationship1"] == "child" and mine["subscriber_last1"] == "Núñez" and mine["zip"] == "12203-1234"
    # the export reads back into an empty practice with the same payers
    again = tmp_path / "again.db"
    with pytest.MonkeyPatch.context() as mp:
        build(again, mp)
    sqlite3.connect(again).execute("DELETE FROM coverage").connection.commit()
    kept = tmp_path / "mine.csv"
    with open(kept, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(mine))
        w.writeheader()
        w.writerow(mine)
    assert "1 patient, 1 coverage" in invoke(again, "import", "patients", str(kept)).output


def test_import_refuses_bad_new_columns(books, tmp_path):
    code = payer_code(books)
    src = tmp_path / "p.csv"
    src.write_text(HEADER + f"K78,Doe,Al,1990-01-01,M,,,ZZ,,,,,,{code},X1,,spouse,,,,,,\n", encoding="utf-8")
    result = invoke(books, "import", "patients", str(src), code=1)
    assert "state" in result.output
    assert sqlite3.connect(books).execute("SELECT COUNT(*) FROM patient WHERE account = 'K78'").fetchone()[0] == 0


def test_fee_import_from_a_date_and_allowed(books, tmp_path):
    code = payer_code(books)
    src = tmp_path / "f.csv"
    src.write_text(f"code,description,fee,units,effective,payer\n99213,Visit est low,130.00,1,2099-01-01,\n"
                   f"99213,,88.00,1,,{code}\n", encoding="utf-8")
    invoke(books, "import", "fees", str(src))
    con = sqlite3.connect(books)
    assert con.execute("SELECT COUNT(*) FROM fee_schedule WHERE code = '99213' AND effective = '2099-01-01'"
                       ).fetchone()[0] == 1
    assert con.execute("SELECT amount FROM fee_schedule WHERE code = '99213' AND payer_id IS NOT NULL").fetchone()[0] \
        == 8800


def test_account_store_modules_import_without_textual(tmp_path):
    from test_headless_imports import _run

    out = _run("""
        import tui_billing.store.accounts, tui_billing.store.account_queries, tui_billing.store.account_demo
        import tui_billing.account_io, tui_billing.store.search_keys
        from tui_billing.store import open_database
        open_database("books.db")
        from tui_billing.store.account_queries import search_patients
        assert search_patients("smith").hits == ()
    """, tmp_path)
    assert out == {"textual": [], "store": True}
