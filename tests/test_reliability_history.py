"""History cannot be rewritten, even by hand with sqlite3, and `tui-billing check` sees tampering.

On both backends: the books are a file, or a database on the session's PostgreSQL server where the
hand-run SQL comes from the schema's owner (the strongest login: it may switch guards off, so a
refused statement there is the guard trigger's doing; a clerk's login is refused by the server's
rights before any trigger, see test_pg_trust). Rows typed into an open day and a tampered audit
chain are found by the same `tui-billing check`.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from bench.common import ROOT, child_env
from bench.concurrency import PAID, is_server, post_cycle, seed_practice
from tui_billing.store import close_database
from tui_billing.store import operations as ops
from tui_billing.store.migrations import DATED_TABLES, POSTED_TABLES

CLOSED_DAY = "2026-10-30"
#: what a guard's refusal raises by hand: SQLite's RAISE(ABORT), PostgreSQL's RAISE EXCEPTION
REFUSED = (sqlite3.IntegrityError, psycopg.errors.IntegrityConstraintViolation, psycopg.errors.RaiseException)


class Raw:
    """A hand-run SQL session on the books, as a DBA would type it: sqlite3 on the file, psycopg as the
    owner on the server (the statements are SQLite's, translated as the store translates its own)."""

    def __init__(self, books: Path | str) -> None:
        self.server = is_server(str(books))
        self.con = psycopg.connect(str(books), autocommit=True) if self.server else \
            sqlite3.connect(books, isolation_level=None)

    def execute(self, sql: str, params: tuple = ()):  # noqa: ANN201 (the driver's cursor)
        if self.server:
            from tui_billing.store.pg_dialect import translate

            if sql.startswith("DROP TRIGGER "):  # PostgreSQL names the table too
                name = sql.split()[2]
                sql = f"{sql} ON {name.split('_no_')[0]}"
                return self.con.execute(sql)
            query = translate(sql)
            return self.con.execute(query.sql, query.params(params))  # type: ignore[arg-type]
        return self.con.execute(sql, params)

    def columns(self, table: str) -> list[str]:
        if self.server:
            return [r[0] for r in self.con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                                   "table_name = %s ORDER BY ordinal_position", (table,))]
        return [r[1] for r in self.con.execute(f"PRAGMA table_info({table})")]

    def close(self) -> None:
        self.con.close()


def copy_books(books: Path | str, tmp_path: Path, name: str) -> Path | str:
    if is_server(str(books)):
        return _server["cluster"].copy_database(str(books))
    copy = tmp_path / name
    shutil.copy(books, copy)
    return copy


_server: dict = {}  # "cluster": the session's PostgreSQL cluster, once a server-books fixture asked for it


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def books(request, tmp_path_factory) -> Path | str:
    """A practice with a row in every posted table, a closed day and a closed month."""
    mp = pytest.MonkeyPatch()
    if request.param == "postgresql":
        _server["cluster"] = request.getfixturevalue("pg_cluster")
        path: Path | str = _server["cluster"].new_database()
    else:
        path = tmp_path_factory.mktemp("hist") / "books.db"
    try:
        mp.setenv("TUI_BILLING_TODAY", CLOSED_DAY)
        setup = seed_practice(path, 2)
        batch = ops.open_batch("charge", 1, 12_000, operator="w0")
        enc = ops.post_encounter(patient_id=setup["patients"][0], provider_id=setup["provider"], dos=CLOSED_DAY,
                                 diagnoses=["J06.9", "I10"], lines=[ops.ChargeLine("99213")], batch_id=batch,
                                 operator="w0")
        ops.close_batch(batch, operator="w0")
        for n in range(3):
            post_cycle(setup, 0, n, lambda *_: None)
        rec = ops.record_receipt(amount=2_000, method="cash", patient_id=setup["patients"][0], operator="w0")
        ops.distribute(None, [ops.DistributionLine(enc.charge_ids[0], adjustment=1_000, reason="CO-45"),
                              ops.DistributionLine(enc.charge_ids[0], transfer_to_patient=True)], operator="w0")
        ops.refund(rec.receipt_id, 500, method="cash", reason="overpaid", operator="w0")
        ops.close_day(CLOSED_DAY, ops.DepositCount(cash=1_500, checks=3 * PAID, check_count=3), operator="w0")
        mp.setenv("TUI_BILLING_TODAY", "2026-11-02")
        ops.close_month("2026-10", operator="w0")
    finally:
        close_database()
        mp.undo()
    return path


def check_cli(path: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui_billing", "--db", str(path), "check"],
                          capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=120)


def test_the_fixture_books_pass_check(books):
    proc = check_cli(books)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("table", POSTED_TABLES)
def test_hand_run_update_and_delete_of_posted_rows_are_refused(books, table):
    con = Raw(books)
    try:
        before = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        assert before, f"fixture has no {table} row"
        column = con.columns(table)[-1]
        with pytest.raises(REFUSED, match="posted history is never changed"):
            con.execute(f"UPDATE {table} SET {column} = {column}")
        with pytest.raises(REFUSED, match="posted history is never changed"):
            con.execute(f"DELETE FROM {table}")
        assert con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() == before
    finally:
        con.close()


@pytest.mark.parametrize("table", DATED_TABLES)
@pytest.mark.parametrize("date", [CLOSED_DAY, "2026-10-05"], ids=["closed-day", "closed-month"])
def test_hand_run_insert_into_a_closed_period_is_refused(books, table, date):
    con = Raw(books)
    try:
        columns = [c for c in con.columns(table) if c != "id"]
        picked = ", ".join("?" if c == "posting_date" else c for c in columns)
        with pytest.raises(REFUSED, match="closed"):
            con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM {table} LIMIT 1", (date,))
    finally:
        con.close()


def _tampered(books: Path | str, tmp_path: Path, *sql: str) -> subprocess.CompletedProcess:
    copy = copy_books(books, tmp_path, "tampered.db")
    con = Raw(copy)
    try:
        for statement in sql:
            con.execute(statement)
    finally:
        con.close()
    proc = check_cli(copy)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    return proc


def test_check_detects_a_forged_audit_event(books, tmp_path):
    proc = _tampered(books, tmp_path,
                     "INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash) "
                     "VALUES ('2026-11-02T09:00:00+00:00', 'mallory', 'post_encounter', 'encounter', 1, '{}', "
                     "'" + "1" * 64 + "', '" + "2" * 64 + "')")
    assert "chain broken" in proc.stderr


def test_check_detects_an_edited_audit_event_and_the_dropped_guard(books, tmp_path):
    proc = _tampered(books, tmp_path, "DROP TRIGGER audit_event_no_update",
                     "UPDATE audit_event SET detail = replace(detail, '5000', '500') "
                     "WHERE id = (SELECT MIN(id) FROM audit_event WHERE action = 'distribute')")
    assert "history guards are missing" in proc.stderr
    assert "altered after it was written" in proc.stderr


def test_check_detects_an_edited_running_balance(books, tmp_path):
    proc = _tampered(books, tmp_path,
                     "UPDATE charge_balance SET balance = balance + 1 "
                     "WHERE charge_id = (SELECT MIN(charge_id) FROM charge_balance)")
    assert "running balance" in proc.stderr


# ------------------------------------------------------------ rows typed by hand into an open day

OPEN_DAY = "2026-11-02"


@pytest.fixture(scope="module")
def open_day_books(books, tmp_path_factory) -> Path | str:
    """The books plus a worked open day: each kind of entry, and a void of each kind."""
    from tui_billing.store import open_database

    path = copy_books(books, tmp_path_factory.mktemp("open"), "books.db")
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("TUI_BILLING_TODAY", OPEN_DAY)
        open_database(path)
        patient, other = (r[0] for r in ops.database.execute_sql("SELECT id FROM patient ORDER BY id LIMIT 2"))
        provider = ops.database.execute_sql("SELECT id FROM provider").fetchone()[0]

        def encounter(who: int) -> ops.PostedEncounter:
            return ops.post_encounter(patient_id=who, provider_id=provider, dos=OPEN_DAY, diagnoses=["I10"],
                                      lines=[ops.ChargeLine("99213"), ops.ChargeLine("99214")], operator="w1")

        kept, voided = encounter(patient), encounter(other)
        ops.void("encounter", voided.encounter_id, "wrong patient", operator="w1")
        rec = ops.record_receipt(amount=5_000, method="check", reference="4411", patient_id=patient, operator="w1")
        ops.distribute(rec.receipt_id, [ops.DistributionLine(kept.charge_ids[0], applied=3_000, adjustment=500,
                                                             reason="CO-45"),
                                        ops.DistributionLine(kept.charge_ids[1], transfer_to_patient=True)],
                       operator="w1")
        undone = ops.distribute(rec.receipt_id, [ops.DistributionLine(kept.charge_ids[1], applied=200)], operator="w1")
        ops.void("distribution", undone, "keyed twice", operator="w1")
        ops.void("refund", ops.refund(rec.receipt_id, 300, method="check", reference="9001", reason="overpaid", operator="w1"),
                 "check lost", operator="w1")
        ops.refund(rec.receipt_id, 400, method="check", reference="9002", reason="overpaid", operator="w1")
        bounced = ops.record_receipt(amount=1_000, method="cash", patient_id=patient, operator="w1")
        ops.distribute(bounced.receipt_id, [ops.DistributionLine(kept.charge_ids[0], applied=1_000)], operator="w1")
        ops.void("receipt", bounced.receipt_id, "counterfeit", operator="w1")  # voids its distribution too
    finally:
        close_database()
        mp.undo()
    return path


def test_an_open_day_posted_by_the_program_passes_check(open_day_books):
    proc = check_cli(open_day_books)
    assert proc.returncode == 0, proc.stderr


def test_voiding_a_receipt_names_the_reversal_of_each_of_its_distributions(open_day_books):
    con = Raw(open_day_books)
    try:
        (detail,) = con.execute("SELECT detail FROM audit_event WHERE action = 'void_receipt'").fetchone()
        reversals = [r for (r,) in con.execute(
            "SELECT x.id FROM distribution x JOIN distribution o ON o.id = x.reverses_id "
            "JOIN receipt r ON r.reverses_id = o.receipt_id ORDER BY x.id")]
    finally:
        con.close()
    assert reversals and sorted(json.loads(detail)["distribution_reversals"]) == reversals


@pytest.mark.parametrize("sql, says", [
    (f"INSERT INTO receipt (batch_id, source, patient_id, payer_id, method, reference, amount, received_date, "
     f"posting_date, operator, created_at) SELECT batch_id, source, patient_id, payer_id, 'cash', '', 9900, "
     f"received_date, posting_date, operator, created_at FROM receipt WHERE posting_date = '{OPEN_DAY}' LIMIT 1",
     r"receipt \d+: no audit event records it"),
    (f"INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, modifiers, "
     f"dx_pointers, units, fee, amount, batch_id, posting_date, operator) SELECT encounter_id, 9, patient_id, "
     f"provider_id, payer_id, dos, pos, code, modifiers, dx_pointers, units, fee, amount, batch_id, posting_date, "
     f"operator FROM charge WHERE posting_date = '{OPEN_DAY}' AND reverses_id IS NULL LIMIT 1",
     r"encounter \d+ differs from its audit event: lines"),
    (f"INSERT INTO application (distribution_id, receipt_id, charge_id, amount, posting_date, operator) "
     f"SELECT distribution_id, receipt_id, charge_id, 100, posting_date, operator FROM application "
     f"WHERE posting_date = '{OPEN_DAY}' AND reverses_id IS NULL LIMIT 1",
     r"distribution \d+ differs from its audit event: lines"),
    (f"INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, modifiers, "
     f"dx_pointers, units, fee, amount, batch_id, posting_date, operator) SELECT encounter_id, 9, patient_id, "
     f"provider_id, payer_id, dos, pos, code, modifiers, dx_pointers, units, fee, amount, NULL, '{OPEN_DAY}', "
     f"operator FROM charge WHERE posting_date = '{CLOSED_DAY}' LIMIT 1",
     r"charge \d+ is on an open day but belongs to encounter \d+ of another day"),
], ids=["receipt", "charge-in-posted-encounter", "application-in-posted-distribution", "charge-under-closed-day"])
def test_check_names_a_row_typed_into_an_open_day(open_day_books, tmp_path, sql, says):
    proc = _tampered(open_day_books, tmp_path, sql)
    assert re.search(says, proc.stderr), proc.stderr


def _close_open_day(path: Path | str) -> None:
    """Close OPEN_DAY with the deposit its receipts call for (so only the audit tie can refuse it)."""
    from tui_billing.store import open_database
    from tui_billing.store.summary import day_summary

    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("TUI_BILLING_TODAY", OPEN_DAY)
        open_database(path)
        summary = day_summary(OPEN_DAY)
        dep = summary.deposit
        ops.close_day(OPEN_DAY, ops.DepositCount(cash=dep.get("cash", 0), checks=dep.get("check", 0),
                                                 check_count=summary.check_count, card=dep.get("card", 0),
                                                 eft=dep.get("eft", 0)), operator="sup")
    finally:
        close_database()
        mp.undo()


def test_a_day_with_a_row_typed_in_by_hand_does_not_close(open_day_books, tmp_path):
    clean, tampered = copy_books(open_day_books, tmp_path, "clean.db"), copy_books(open_day_books, tmp_path, "tampered.db")
    con = Raw(tampered)
    try:
        con.execute(
            "INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, modifiers, "
            "dx_pointers, units, fee, amount, batch_id, posting_date, operator) SELECT encounter_id, 9, patient_id, "
            "provider_id, payer_id, dos, pos, code, modifiers, dx_pointers, units, fee, amount, batch_id, posting_date, "
            f"operator FROM charge WHERE posting_date = '{OPEN_DAY}' AND reverses_id IS NULL LIMIT 1")
    finally:
        con.close()
    with pytest.raises(ops.BillingError, match=r"cannot close: .*encounter \d+ differs from its audit event"):
        _close_open_day(tampered)
    _close_open_day(clean)  # the same day as the program posted it closes
    assert check_cli(clean).returncode == 0
