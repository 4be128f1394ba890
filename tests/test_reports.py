"""Headless reports through the CLI, checked against totals computed here independently."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal

import pytest
from click.testing import CliRunner

from tests.reports_fixtures import DAYS, HOSTILE_FIRST, HOSTILE_LAST, OPEN_DAYS, TODAY, build
from tui_billing.cli import main

from raw_books import Raw, is_server

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": "alice"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def built(request, tmp_path_factory):
    """The practice's books, in a file and (the same operations) on the PostgreSQL test server: every
    report below must print the same on both."""
    if request.param == "postgresql":
        path = request.getfixturevalue("pg_cluster").new_database()  # its own: other tests empty the shared one
    else:
        path = tmp_path_factory.mktemp("books") / "books.db"
    with pytest.MonkeyPatch.context() as mp:
        ids = build(path, mp)
    return path, ids


@pytest.fixture
def books(built, tmp_path):
    """Each test reads its own copy of the file (SQLite's backup API, WAL included): what one test
    leaves open or half-written cannot reach the next. The server's books are shared (read only)."""
    path, ids = built
    if is_server(path):
        return path, ids
    copy = tmp_path / "books.db"
    src, dst = sqlite3.connect(path), sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    copy.chmod(0o600)
    return copy, ids


def run(books, *args, code=0):
    path, _ = books
    result = CliRunner().invoke(main, ["--db", str(path), *args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


def as_json(books, *args):
    return json.loads(run(books, *args, "-f", "json").stdout)


def section(doc, key):
    return next(s for s in doc["sections"] if s["key"] == key)


def raw(books):
    return Raw(books[0])


def cents(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value(), text
    return int(value)


# --------------------------------------------------------------------------- independent figures


def naive_aging(con, as_of: str, basis: str = "service", by_patient: bool = False):
    """Every charge's balance and owner as of a date, from the posted rows one by one."""
    out = defaultdict(lambda: [0] * 6)
    for cid, patient, payer, dos, posted, amount in con.execute(
            "SELECT id, patient_id, payer_id, dos, posting_date, amount FROM charge WHERE reverses_id IS NULL"):
        if posted > as_of:
            continue
        bal = amount
        bal += con.execute("SELECT COALESCE(SUM(amount),0) FROM charge WHERE reverses_id=? AND posting_date<=?",
                           (cid, as_of)).fetchone()[0]
        bal -= con.execute("SELECT COALESCE(SUM(amount),0) FROM application WHERE charge_id=? AND posting_date<=?",
                           (cid, as_of)).fetchone()[0]
        bal -= con.execute("SELECT COALESCE(SUM(amount),0) FROM adjustment WHERE charge_id=? AND posting_date<=?",
                           (cid, as_of)).fetchone()[0]
        moved = con.execute("SELECT to_payer_id FROM transfer WHERE charge_id=? AND posting_date<=? "
                            "ORDER BY posting_date DESC, id DESC LIMIT 1", (cid, as_of)).fetchone()
        owner = moved[0] if moved else payer
        if not bal:
            continue
        start = dos if basis == "service" else posted
        age = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(start)).days
        bucket = 0 if age <= 30 else 1 if age <= 60 else 2 if age <= 90 else 3 if age <= 120 else 4
        key = (patient, owner) if by_patient else owner
        out[key][bucket] += bal
        out[key][5] += bal
    return out


# --------------------------------------------------------------------------- day sheet


@pytest.mark.parametrize("date", [DAYS[1], DAYS[2], DAYS[-1]])
def test_daysheet_lists_every_entry_and_matches_summary(books, date):
    doc = as_json(books, "report", "daysheet", "--date", date)
    con = raw(books)
    entries = section(doc, "entries")["rows"]
    for table, kind in (("charge", "charge"), ("receipt", "receipt"), ("application", "application"),
                        ("adjustment", "adjustment"), ("transfer", "transfer"), ("refund", "refund")):
        n, total = con.execute(f"SELECT COUNT(*), COALESCE(SUM(amount),0) FROM {table} WHERE posting_date=?",
                               (date,)).fetchone()
        mine = [e for e in entries if e["kind"].removeprefix("void ") == kind]
        assert len(mine) == n, kind
        if kind != "transfer":
            assert sum(cents(e["amount"]) for e in mine) == total, kind
    assert all(e["operator"] for e in entries)
    # the totals are the balancing screen's: store/summary.py day_summary
    from tui_billing.store import day_summary, open_database

    open_database(books[0], create=False)
    s = day_summary(date)
    roll = {r["line"]: r for r in section(doc, "roll_forward")["rows"]}
    assert cents(roll["opening"]["A/R"]) == s.opening_ar
    assert cents(roll["closing"]["A/R"]) == s.closing_ar
    assert cents(roll["closing"]["unapplied credit"]) == s.closing_unapplied
    dep = {r["method"]: cents(r["deposit"]) for r in section(doc, "deposit")["rows"]}
    assert dep == s.deposit
    # and independently: closing A/R = what the naive aging says was open at the end of the day
    assert s.closing_ar == sum(v[5] for v in naive_aging(con, date).values())


def test_daysheet_by_operator_and_provider(books):
    doc = as_json(books, "report", "daysheet", "--date", DAYS[1], "--by", "operator")
    groups = [s for s in doc["sections"] if s["key"].startswith("entries:")]
    assert {s["key"] for s in groups} == {"entries:bob"}
    doc = as_json(books, "report", "daysheet", "--date", DAYS[1], "--by", "provider")
    keys = {s["key"] for s in doc["sections"] if s["key"].startswith("entries:")}
    assert {"entries:DR1", "entries:DR2", "entries:(none)"} <= keys
    all_rows = sum(len(s["rows"]) for s in doc["sections"] if s["key"].startswith("entries:"))
    assert all_rows == len(section(as_json(books, "report", "daysheet", "--date", DAYS[1]), "entries")["rows"])


# --------------------------------------------------------------------------- deposit


def test_deposit_slip(books):
    date = DAYS[1]
    doc = as_json(books, "report", "deposit", "--date", date)
    con = raw(books)
    for method in ("cash", "check", "card", "eft"):
        rec = con.execute("SELECT COALESCE(SUM(amount),0) FROM receipt WHERE posting_date=? AND method=?",
                          (date, method)).fetchone()[0]
        ref = con.execute("SELECT COALESCE(SUM(amount),0) FROM refund WHERE posting_date=? AND method=?",
                          (date, method)).fetchone()[0]
        totals = {r["method"]: r for r in section(doc, "totals")["rows"]}
        assert cents(totals[method]["deposit"]) == rec - ref
        counted = con.execute(f"SELECT counted_{'checks' if method == 'check' else method} FROM day_close "
                              "WHERE posting_date=?", (date,)).fetchone()[0]
        assert cents(totals[method]["counted"]) == counted
    checks = section(doc, "method:check")["rows"]
    assert {r["reference"] for r in checks} >= {"101"}
    # an open day has no counted figures
    doc = as_json(books, "report", "deposit", "--date", OPEN_DAYS[0])
    assert all(r["counted"] is None for r in section(doc, "totals")["rows"])


# --------------------------------------------------------------------------- aging


@pytest.mark.parametrize("as_of", [DAYS[0], DAYS[2], "2026-02-10", DAYS[4], TODAY])
@pytest.mark.parametrize("basis", ["service", "posting"])
def test_aging_as_of_is_exact(books, as_of, basis):
    doc = as_json(books, "report", "aging", "--as-of", as_of, "--basis", basis)
    con = raw(books)
    want = naive_aging(con, as_of, basis)
    codes = dict(con.execute("SELECT code, id FROM payer"))
    got = {}
    for row in section(doc, "aging")["rows"]:
        key = None if row["responsible"] == "PATIENT" else codes[row["responsible"]]
        got[key] = [cents(row[b]) for b in ("0-30", "31-60", "61-90", "91-120", "121+", "total")]
    assert got == {k: v for k, v in want.items() if any(v)}
    total = section(doc, "aging")["total"]
    assert cents(total["total"]) == sum(v[5] for v in want.values())


@pytest.mark.parametrize("as_of", [DAYS[1], DAYS[3], TODAY])
def test_aging_by_patient_is_exact(books, as_of):
    doc = as_json(books, "report", "aging", "--as-of", as_of, "--by", "patient")
    con = raw(books)
    accounts = dict(con.execute("SELECT account, id FROM patient"))
    codes = dict(con.execute("SELECT code, id FROM payer"))
    got = {}
    for row in section(doc, "aging")["rows"]:
        owner = None if row["responsible"] == "patient" else codes[row["responsible"]]
        got[(accounts[row["account"]], owner)] = [cents(row[b]) for b in ("0-30", "31-60", "61-90", "91-120",
                                                                          "121+", "total")]
    want = naive_aging(con, as_of, by_patient=True)
    assert got == {k: v for k, v in want.items() if v[5]}


def test_aging_by_patient_matches_by_payer(books):
    by_payer = as_json(books, "report", "aging", "--as-of", DAYS[3])
    by_patient = as_json(books, "report", "aging", "--as-of", DAYS[3], "--by", "patient")
    assert section(by_payer, "aging")["total"]["total"] == section(by_patient, "aging")["total"]["total"]
    split = {r["responsible"]: r["total"] for r in section(by_patient, "responsibility")["rows"]}
    patient_row = [r for r in section(by_payer, "aging")["rows"] if r["responsible"] == "PATIENT"]
    assert split["patient"] == (patient_row[0]["total"] if patient_row else "0.00")


def test_last_months_aging_reprints_exactly_after_more_posting(books, tmp_path, request):
    """Posting today must not change an aging as of an earlier date."""
    import shutil

    if is_server(books[0]):
        copy = request.getfixturevalue("pg_cluster").copy_database(books[0])
    else:
        copy = tmp_path / "copy.db"
        shutil.copy(books[0], copy)
    before = CliRunner().invoke(main, ["--db", str(copy), "report", "aging", "--as-of", DAYS[3], "-f", "csv"], env=ENV)
    from tui_billing.store import open_database
    from tui_billing.store import operations as ops

    with pytest.MonkeyPatch.context() as mp:
        for k, v in ENV.items():
            mp.setenv(k, v)
        open_database(copy, create=False)
        con = Raw(copy)
        cid = con.execute("SELECT charge_id FROM charge_balance WHERE payer_id IS NOT NULL AND balance > 0 "
                          "ORDER BY charge_id LIMIT 1").fetchone()[0]
        ops.transfer_to_patient([cid])
        rid = ops.record_receipt(amount=500, method="cash", patient_id=1).receipt_id
        own = con.execute("SELECT charge_id FROM charge_balance WHERE patient_id = 1 AND balance > 0").fetchone()[0]
        ops.distribute(rid, [ops.DistributionLine(own, applied=500)])
    after = CliRunner().invoke(main, ["--db", str(copy), "report", "aging", "--as-of", DAYS[3], "-f", "csv"], env=ENV)
    now = CliRunner().invoke(main, ["--db", str(copy), "report", "aging", "-f", "csv"], env=ENV)
    assert before.stdout == after.stdout
    assert now.stdout != before.stdout


# --------------------------------------------------------------------------- month, unapplied, audit, statements


def test_month_report(books):
    doc = as_json(books, "report", "month", "--month", "2026-02")
    con = raw(books)
    p = ("2026-02-01", "2026-02-28")
    charges = con.execute("SELECT SUM(amount) FROM charge WHERE posting_date BETWEEN ? AND ?", p).fetchone()[0]
    applied = con.execute("SELECT SUM(amount) FROM application WHERE posting_date BETWEEN ? AND ?", p).fetchone()[0]
    adjusted = con.execute("SELECT SUM(amount) FROM adjustment WHERE posting_date BETWEEN ? AND ?", p).fetchone()[0]
    for key in ("by_provider", "by_payer", "by_code"):
        t = section(doc, key)["total"]
        assert (cents(t["charges"]), cents(t["applied"]), cents(t["adjustments"])) == (charges, applied, adjusted)
    by_prov = {r["provider"]: cents(r["charges"]) for r in section(doc, "by_provider")["rows"]}
    for code, amount in con.execute("SELECT pr.code, SUM(c.amount) FROM charge c JOIN provider pr ON pr.id = "
                                    "c.provider_id WHERE c.posting_date BETWEEN ? AND ? GROUP BY pr.code", p):
        assert by_prov[code] == amount
    receipts = con.execute("SELECT SUM(amount) FROM receipt WHERE posting_date BETWEEN ? AND ?", p).fetchone()[0]
    assert cents(section(doc, "receipts_by_payer")["total"]["receipts"]) == receipts
    roll = {r["line"]: r for r in section(doc, "roll_forward")["rows"]}
    assert cents(roll["closing"]["A/R"]) == sum(v[5] for v in naive_aging(con, "2026-02-28").values())


def test_unapplied(books):
    doc = as_json(books, "report", "unapplied")
    con = raw(books)
    want = 0
    for rid, amount in con.execute("SELECT id, amount FROM receipt WHERE reverses_id IS NULL"):
        want += amount
        want += con.execute("SELECT COALESCE(SUM(amount),0) FROM receipt WHERE reverses_id=?", (rid,)).fetchone()[0]
        want -= con.execute("SELECT COALESCE(SUM(amount),0) FROM application WHERE receipt_id=?", (rid,)).fetchone()[0]
        want -= con.execute("SELECT COALESCE(SUM(amount),0) FROM refund WHERE receipt_id=?", (rid,)).fetchone()[0]
    assert cents(section(doc, "unapplied")["total"]["unapplied"]) == want


def test_audit_filters(books):
    con = raw(books)
    doc = as_json(books, "report", "audit", "--user", "bob")
    rows = section(doc, "events")["rows"]
    assert rows and {r["user"] for r in rows} == {"bob"}
    assert len(rows) == con.execute("SELECT COUNT(*) FROM audit_event WHERE user='bob'").fetchone()[0]
    # the events' own (wall-clock) days, not today's: the books may have been built before midnight
    first, last = (at[:10] for at in con.execute("SELECT MIN(at), MAX(at) FROM audit_event").fetchone())
    doc = as_json(books, "report", "audit", "--from", first, "--to", last)
    assert len(section(doc, "events")["rows"]) == con.execute("SELECT COUNT(*) FROM audit_event").fetchone()[0]
    doc = as_json(books, "report", "audit", "--from", first, "--to", first)
    assert len(section(doc, "events")["rows"]) == con.execute(
        "SELECT COUNT(*) FROM audit_event WHERE substr(at, 1, 10) = ?", (first,)).fetchone()[0]
    doc = as_json(books, "report", "audit", "--to", "2000-01-01")
    assert section(doc, "events")["rows"] == []


def test_statement_one_and_all(books):
    con = raw(books)
    doc = as_json(books, "report", "statement", "--patient", "a000")  # accounts are case-insensitive
    due = section(doc, "due:A000")
    pid = 1
    own = con.execute("SELECT SUM(balance) FROM charge_balance WHERE patient_id=? AND payer_id IS NULL",
                      (pid,)).fetchone()[0]
    credit = con.execute("SELECT COALESCE(SUM(rb.unapplied),0) FROM receipt_balance rb JOIN receipt r ON "
                         "r.id = rb.receipt_id WHERE r.patient_id=? AND r.source='patient'", (pid,)).fetchone()[0]
    rows = {r[""]: r["amount"] for r in due["rows"]}
    assert cents(rows["your balance"]) == own
    assert cents(due["total"]["amount"]) == max(0, own - credit)
    text = run(books, "report", "statement", "--all").stdout
    owing = con.execute("SELECT COUNT(DISTINCT patient_id) FROM charge_balance WHERE payer_id IS NULL "
                        "AND balance > 0").fetchone()[0]
    assert text.count("\f") == owing - 1
    paged = run(books, "report", "statement", "--all", "--page-length", "60").stdout
    assert paged.count("Statement for") == owing


# --------------------------------------------------------------------------- formats and safety


REPORTS = [
    ["report", "daysheet", "--date", DAYS[2]],
    ["report", "deposit", "--date", DAYS[2]],
    ["report", "aging"],
    ["report", "aging", "--by", "patient", "--as-of", DAYS[3]],
    ["report", "month", "--month", "2026-01"],
    ["report", "unapplied"],
    ["report", "audit", "--user", "alice"],
    ["report", "statement", "--patient", "EVIL1"],
]


@pytest.mark.parametrize("args", REPORTS, ids=lambda a: "-".join(a[1:3]))
@pytest.mark.parametrize("fmt", ["simple", "grid", "github", "psql", "plain", "html", "tsv", "csv", "json"])
def test_every_report_in_every_format(books, args, fmt):
    out = run(books, *args, "-f", fmt).stdout
    assert out
    assert "\x1b" not in out  # the planted escape sequence is inert everywhere
    if fmt == "json":
        doc = json.loads(out)
        for sec in doc["sections"]:
            for row in sec["rows"]:
                for value in row.values():
                    assert not isinstance(value, float)
    elif fmt == "csv":
        for row in csv.reader(io.StringIO(out)):
            for cell in row:
                assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
                if cell.startswith("-"):
                    Decimal(cell)  # only amounts may start with a minus


def test_hostile_names_are_inert(books):
    out = run(books, "report", "statement", "--patient", "EVIL1", "-f", "csv").stdout
    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert any(c.startswith("'" + HOSTILE_LAST) for c in cells)
    assert not any(c.startswith("=") for c in cells)
    table = run(books, "report", "statement", "--patient", "EVIL1").stdout
    assert HOSTILE_LAST in table and "[/]" in table  # printed literally (no markup involved)
    assert "\x1b" not in table and "\ufffd[31mred" in table
    assert HOSTILE_FIRST not in table


def test_amounts_are_exact_strings_not_reparsed(books):
    table = run(books, "report", "month", "--month", "2026-02").stdout
    assert "1,110.00" in table  # tabulate would print 1110 if it parsed the numbers
    doc = as_json(books, "report", "month", "--month", "2026-02")
    assert section(doc, "by_provider")["total"]["charges"] == "1110.00"


def test_page_length_makes_printer_pages(books):
    out = run(books, "report", "daysheet", "--date", DAYS[2], "--page-length", "20").stdout
    pages = out.split("\f")
    assert len(pages) > 1
    for n, page in enumerate(pages, start=1):
        lines = page.rstrip("\n").split("\n")
        assert len(lines) <= 20
        assert lines[0].startswith("Maple Family Medicine - Day sheet")
        assert f"page {n} of {len(pages)}" in lines
    assert "(continued)" in out


def test_output_file(books, tmp_path):
    target = tmp_path / "aging.csv"
    assert run(books, "report", "aging", "-f", "csv", "-o", str(target)).stdout == ""
    assert target.read_text().startswith("responsible,name,0-30")


@pytest.mark.parametrize("args", [
    ["report", "daysheet", "--date", "2026-02-30"],
    ["report", "daysheet", "--nope"],
    ["report", "aging", "--by", "x"],
    ["report", "aging", "-f", "nope"],
    ["report", "month", "--month", "26-01"],
    ["report", "statement"],
    ["report", "nosuch"],
    ["report", "aging", "-f", "json", "--page-length", "30"],
    ["export", "journal", "--from", "2026-02-01", "--to", "2026-01-01"],
])
def test_bad_input_is_one_line_exit_2(books, args):
    result = run(books, *args, code=2)
    assert result.stdout == ""
    lines = result.stderr.strip().split("\n")
    assert len(lines) == 1 and lines[0].startswith("tui-billing: ")
    assert "Traceback" not in result.stderr


def test_missing_patient_exit_1(books):
    result = run(books, "report", "statement", "--patient", "NOPE", code=1)
    assert result.stderr.strip() == "tui-billing: no patient with account NOPE"


def test_report_path_never_imports_textual(books):
    code = ("import sys; from tui_billing.cli import main\n"
            "try:\n    main(['--db', sys.argv[1], 'report', 'aging'], standalone_mode=False)\n"
            "finally:\n    print('TEXTUAL' if any(m.split('.')[0] == 'textual' for m in sys.modules) else 'CLEAN')")
    out = subprocess.run([sys.executable, "-c", code, str(books[0])], capture_output=True, text=True,
                         env={**ENV, "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip().endswith("CLEAN"), out.stderr


def test_statements_for_all_stream_in_every_kind_of_output(books):
    con = raw(books)
    owing = con.execute("SELECT COUNT(DISTINCT patient_id) FROM charge_balance WHERE payer_id IS NULL "
                        "AND balance > 0").fetchone()[0]
    doc = json.loads(run(books, "report", "statement", "--all", "-f", "json").stdout)
    assert len(doc["reports"]) == owing
    dues = [s for rep in doc["reports"] for s in rep["sections"] if s["key"].startswith("due:")]
    assert len(dues) == owing
    out = run(books, "report", "statement", "--all", "-f", "csv").stdout
    assert out.count("AMOUNT DUE") == owing


def test_receipt_report_in_text_csv_json(books):
    con = raw(books)
    rid, amount = con.execute("SELECT id, amount FROM receipt WHERE source='patient' AND reverses_id IS NULL "
                              "ORDER BY id LIMIT 1").fetchone()
    text = run(books, "report", "receipt", str(rid)).stdout
    assert f"RECEIPT No. {rid}" in text
    doc = as_json(books, "report", "receipt", str(rid))
    fields = {r["field"]: r["value"] for r in section(doc, "receipt")["rows"]}
    assert cents(fields["amount"]) == amount
    out = run(books, "report", "receipt", str(rid), "-f", "csv").stdout
    assert out.startswith("Receipt\nfield,value\n")
    paged = run(books, "report", "receipt", str(rid), "--page-length", "10").stdout
    assert paged.count("\f") >= 1 and all(len(p.rstrip("\n").split("\n")) <= 10 for p in paged.split("\f"))
    result = run(books, "report", "receipt", "99999", code=1)
    assert result.stderr.startswith("tui-billing: ") and len(result.stderr.strip().split("\n")) == 1


def test_a_report_process_never_loads_peewee(books, tmp_path):
    # reports read on a plain sqlite3 connection: Peewee's import was ~25 ms of every report (a server's
    # books are read through the store's connection, Peewee's; never Textual)
    code = ("import sys, runpy\n"
            f"sys.argv = ['tui-billing', '--db', {str(books[0])!r}, 'report', 'daysheet', '-o', {str(tmp_path / 'd.txt')!r}]\n"
            "from tui_billing.cli import main\n"
            "main(standalone_mode=False)\n"
            "print(sorted(m for m in sys.modules if m == 'peewee' or m == 'textual'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**ENV, "PATH": ""},
                         check=True)
    assert out.stdout.strip() == ("['peewee']" if is_server(books[0]) else "[]")
    assert "Day sheet" in (tmp_path / "d.txt").read_text()


def test_a_report_on_an_older_schema_upgrades_it_first(books, tmp_path):
    # the read-only path cannot upgrade: an older file goes through the store, which does
    from tui_billing.store import migrations
    from tui_billing.store.db import close_database, database, open_database

    old = tmp_path / "old.db"
    open_database(old, migrate=False)
    assert migrations.migrate(database, target=1) == 1
    close_database()
    result = CliRunner().invoke(main, ["--db", str(old), "report", "daysheet", "-f", "json"], env=ENV)
    assert result.exit_code == 0, (result.output, result.exception)
    assert json.loads(result.stdout)["report"] == "daysheet"
    con = sqlite3.connect(old)
    assert con.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
    con.close()


@pytest.mark.parametrize("problem", ["missing", "world-readable", "foreign", "newer"])
def test_a_report_refuses_a_bad_file_in_one_line(tmp_path, problem):
    from tui_billing.store import migrations

    path = tmp_path / "b.db"
    if problem != "missing":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE recipes (name TEXT)" if problem == "foreign" else "CREATE TABLE practice (id)")
        con.execute(f"PRAGMA user_version = {0 if problem == 'foreign' else migrations.SCHEMA_VERSION + 1}")
        con.commit()
        con.close()
        path.chmod(0o644 if problem == "world-readable" else 0o600)
    result = CliRunner().invoke(main, ["--db", str(path), "report", "unapplied"], env=ENV)
    assert result.exit_code == 1
    assert result.stderr.startswith("tui-billing: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
