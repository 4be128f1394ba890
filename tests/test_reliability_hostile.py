"""Hostile input: every parser and every text field either accepts cleanly or refuses in words.

Properties (hypothesis) over money and date parsing, code validation and every import format;
names and references carrying Rich markup, control characters, escape sequences, right-to-left
marks and 10 KB strings; and CSV formula injection in every CSV report.

The store's text fields, the import dry runs and the reports run on both backends (a file, and books
on the session's PostgreSQL server, which refuses a NUL byte in text outright: the store must refuse
it in words first); the receipts queue in a real terminal runs on SQLite (the screens are the same).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.concurrency import is_server, post_cycle, seed_practice
from tui_billing import codes
from tui_billing.money import MAX_CENTS, MoneyError, format_cents, parse_cents
from tui_billing.store import BillingError, close_database, open_database
from tui_billing.store import operations as ops
from tui_billing.store import validate as v

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Text a clerk (or a paste from an email, or an EHR export) might bring in.
HOSTILE = [
    "[bold red]Smith[/]", "[/]", "[link=http://example.invalid]Doe[/link]", "Mc[Donald]", "\\[escaped]",
    "=HYPERLINK(\"http://example.invalid\";\"x\")", "+1-555-0100", "-Doe", "@SUM(A1:A9)", "\tTab", "\rCR",
    "\x1b[2J\x1b[31mRed", "\x1b]0;pwned\x07", "Nul\x00Byte", "Bell\x07", "Line\nBreak",
    "\u202eevil\u202c", "\u200fRTL mark", "\u2067isolate", "عربي", "Zoë Ångström", "👩‍⚕️", "Z\u0351\u0352a\u0353lgo",
    "A" * 10_240,
]
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- parsers


@FAST
@given(st.text(max_size=40))
def test_parse_cents_accepts_or_refuses_in_words(text):
    try:
        cents = parse_cents(text, allow_negative=True)
    except MoneyError as exc:
        assert str(exc)
        return
    assert isinstance(cents, int) and abs(cents) <= MAX_CENTS


@FAST
@given(st.integers(0, MAX_CENTS), st.booleans(), st.booleans())
def test_parse_cents_reads_back_what_format_cents_writes(cents, commas, symbol):
    assert parse_cents(format_cents(cents, commas=commas, symbol=symbol)) == cents


@FAST
@given(st.integers(0, 99_999), st.integers(0, 99), st.sampled_from(["", "$", " "]))
def test_parse_cents_is_exact_without_floats(dollars, cents, prefix):
    assert parse_cents(f"{prefix}{dollars}.{cents:02d}") == dollars * 100 + cents


@FAST
@given(st.one_of(st.text(max_size=20), st.dates().map(dt.date.isoformat),
                 st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")))
def test_dates_accept_or_refuse_in_words(text):
    try:
        out = v.iso_date(text, "date of service")
    except BillingError as exc:
        assert exc.field == "date of service" and str(exc)
        return
    assert dt.date.fromisoformat(out).isoformat() == out


CODE_CHECKS = [codes.validate_icd10, codes.validate_procedure_code, codes.validate_modifier, codes.validate_pos,
               codes.validate_npi]


@pytest.mark.parametrize("check", CODE_CHECKS, ids=lambda f: f.__name__)
@settings(max_examples=60, deadline=None)
@given(text=st.one_of(st.text(max_size=12), st.from_regex(r"\A[A-Z][0-9]{2}\.?[0-9A-Z]{0,4}\Z"),
                      st.from_regex(r"\A[0-9]{4,10}[A-Z]?\Z"), st.sampled_from(HOSTILE)))
def test_code_validation_accepts_or_refuses_in_words(check, text):
    try:
        check(text)
    except codes.CodeError as exc:
        message = str(exc)
        assert message and len(message) < 400  # a 10 KB input is not echoed back whole
        assert not CONTROL.search(message), "the refusal must not echo control characters to the terminal"


# --------------------------------------------------------------------------- store text fields


def _books(request, tmp_path_factory, name: str) -> Path | str:
    """Empty books for a module's fixture: a file, or a new database on the session's server."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_cluster").new_database()
    return tmp_path_factory.mktemp(name) / f"{name}.db"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory):
    path = _books(request, tmp_path_factory, "hostile")
    setup = seed_practice(path, 1)
    yield path, setup
    close_database()


def _reopen(path: Path | str) -> None:
    open_database(path, create=False)  # other modules' tests may have pointed the store elsewhere


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_patient_names_are_stored_literally_or_refused_by_field(store, name):
    path, setup = store
    _reopen(path)
    account = f"H{abs(hash(name)) % 10**8}"
    try:
        pid = ops.add_patient(account, name, "Pat", "1980-02-29", "F", operator="clerk")
    except BillingError as exc:
        assert exc.field in ("last name", "last_name"), exc.field
        assert ANY_CONTROL.search(name.strip()) or len(name.strip()) > 60 or "," in name or not name.strip()
        assert not CONTROL.search(str(exc))
        return
    (stored,) = ops.database.execute_sql("SELECT last_name FROM patient WHERE id = ?", (pid,)).fetchone()
    assert stored == name.strip()  # markup is kept as the text it is, never interpreted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reference=st.text(max_size=60))
def test_receipt_references_are_stored_literally_or_refused(store, reference):
    path, setup = store
    _reopen(path)
    try:
        rec = ops.record_receipt(amount=100, method="check", payer_id=setup["payer"], reference=reference,
                                 operator="clerk")
    except BillingError as exc:
        assert exc.field == "reference" and str(exc)
        return
    (stored,) = ops.database.execute_sql("SELECT reference FROM receipt WHERE id = ?",
                                         (rec.receipt_id,)).fetchone()
    assert stored == reference.strip()
    assert not CONTROL.search(stored)


# --------------------------------------------------------------------------- imports


def _imports():
    return pytest.importorskip("tui_billing.imports", reason="imports not merged yet")


CELL = st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE[:-1]), st.sampled_from(["", "0", "1.00", "99213",
                 "J06.9", "2026-01-02", "F", "check", "cash", "REL00000", "REL", "RELPAY", "-5", "1e9", "1,000.001"]))


@pytest.mark.parametrize("kind", ["fees", "patients", "charges", "receipts"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_import_format_accepts_or_refuses_by_line(store, tmp_path, kind, data):
    imports = _imports()
    path, _ = store
    _reopen(path)
    columns = list(imports.REQUIRED[kind]) + data.draw(st.lists(st.sampled_from(imports.OPTIONAL[kind]),
                                                                unique=True, max_size=3))
    rows = data.draw(st.lists(st.lists(CELL, min_size=len(columns), max_size=len(columns)), max_size=4))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    writer.writerows(rows)
    file = tmp_path / f"{kind}.csv"
    file.write_text(buf.getvalue(), encoding="utf-8")
    try:
        result = imports.run_import(kind, file, dry_run=True)
    except imports.ImportFileError as exc:
        assert str(exc)
        return
    for line, message in result.errors:
        assert isinstance(line, int) and message


@pytest.mark.parametrize("kind", ["fees", "patients", "charges", "receipts"])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=300))
def test_import_of_arbitrary_bytes_is_a_clear_refusal(store, tmp_path, kind, blob):
    imports = _imports()
    path, _ = store
    _reopen(path)
    file = tmp_path / "junk.csv"
    file.write_bytes(blob)
    try:
        imports.run_import(kind, file, dry_run=True)
    except imports.ImportFileError as exc:
        assert str(exc)


# --------------------------------------------------------------------------- outputs


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile_books(request, tmp_path_factory):
    """Books whose names and references are hostile, some planted by hand (legacy data)."""
    path = _books(request, tmp_path_factory, "outputs")
    setup = seed_practice(path, 1)
    for n in range(3):
        post_cycle(setup, 0, n, lambda *_: None)
    for i, name in enumerate(["=HYPERLINK(\"http://x\";\"y\")", "+1-555", "-Doe", "@SUM(A1)", "[bold]Bold[/]"]):
        pid = ops.add_patient(f"X{i}", name, "=cmd|' /C calc'!A0" if i == 0 else "Pat", "1970-01-01", "M",
                              coverages=[ops.CoverageIn(setup["payer"], f"=M{i}")], operator="clerk")
        enc = ops.post_encounter(patient_id=pid, provider_id=setup["provider"], dos=v.today(), diagnoses=["I10"],
                                 lines=[ops.ChargeLine("99213")], payer_id=None, operator="clerk")
        rec = ops.record_receipt(amount=1_000, method="check", patient_id=pid, reference="=1+1", operator="clerk")
        ops.distribute(rec.receipt_id, [ops.DistributionLine(enc.charge_ids[0], applied=1_000)], operator="clerk")
    close_database()
    # legacy rows from before the store refused control characters (or moved across by `migrate --to`)
    insert = ("INSERT INTO patient (account, last_name, first_name, name_key, dob, sex) "
              "VALUES (?, ?, 'Legacy', ?, '1960-01-01', 'U')")
    if is_server(str(path)):
        import psycopg

        con = psycopg.connect(str(path))
        insert = insert.replace("?", "%s")
    else:
        con = sqlite3.connect(path)
    for i, name in enumerate(["\x1b[2J\x1b[31mEvil", "\u202eevil", "B" * 10_240]):
        con.execute(insert, (f"L{i}", name, name.lower()))
    con.commit()
    con.close()
    return path


def _report_runs(books: Path | str) -> list[list[str]]:
    cli = pytest.importorskip("tui_billing.reports.cli", reason="reports not merged yet")
    runs = []
    for name in sorted(cli.report.commands):
        extra = {"statement": ["--all"], "receipt": ["1"]}.get(name, [])
        runs.append(["--db", str(books), "report", name, *extra])
    return runs


def test_every_csv_report_neutralises_formulas(hostile_books):
    from click.testing import CliRunner

    from tui_billing.cli import main

    runner = CliRunner()
    checked = 0
    for args in _report_runs(hostile_books):
        result = runner.invoke(main, [*args, "--format", "csv"], catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        if result.exit_code != 0:
            assert "Traceback" not in result.output, args
            continue
        checked += 1
        for row in csv.reader(io.StringIO(result.stdout)):
            for cell in row:
                if cell.startswith(FORMULA):
                    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", cell), f"{args[3]}: formula cell {cell[:40]!r}"
    assert checked >= 3


@pytest.mark.parametrize("fmt", ["simple", "json", "plain"])
def test_reports_never_send_escape_sequences_to_the_terminal(hostile_books, fmt):
    from click.testing import CliRunner

    from tui_billing.cli import main

    runner = CliRunner()
    for args in _report_runs(hostile_books):
        result = runner.invoke(main, [*args, "--format", fmt], catch_exceptions=True)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        text = result.stdout.replace("\f", "").replace("\n", "")
        assert not CONTROL.search(text), f"{args[3]} --format {fmt} printed a control character"


def test_the_receipts_queue_never_sends_a_names_escape_sequence_to_the_terminal(tmp_path):
    """A clerk's terminal must not obey text from the database (here: an OSC 'set title' in a legacy name)."""
    from bench.common import PY, PtyProcess, child_env

    path = tmp_path / "legacy.db"
    seed_practice(path, 1)
    close_database()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO patient (account, last_name, first_name, name_key, dob, sex) "
                "VALUES ('L1', ?, 'Legacy', 'legacy', '1960-01-01', 'U')", ("\x1b]0;PWNED\x07Evil",))
    con.commit()
    (pid,) = con.execute("SELECT id FROM patient WHERE account = 'L1'").fetchone()
    con.close()
    open_database(path, create=False)
    ops.record_receipt(amount=777, method="cash", patient_id=pid, operator="clerk")
    close_database()
    with PtyProcess([PY, "-m", "tui_billing", "--db", str(path)], env=child_env()) as term:
        term.wait_for("Charge", timeout=60)
        term.send("\x1bOR")  # F3
        term.wait_for(re.compile(r"open receipt"), timeout=30)
        term.drain(0.3)
        assert b"\x1b]0;PWNED" not in term.output
