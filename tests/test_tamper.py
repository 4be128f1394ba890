"""The tamper suite (issue 15): a clerk with write access to the file and `sqlite3` tries each
rewrite the issue lists. Each one is either refused by the database itself, or named by `check`
and refused by the next day close; the witness (digests sent outside at each close) catches a
rewrite that also re-hashes every digest and the audit chain inside the file.

On PostgreSQL (issue 17) a clerk's login cannot touch the guards (test_roles, test_pg): the one who
can is the books' owner or a superuser at a psql prompt. The tests marked both_backends are that
person's rewrites: a guard switched off (ALTER TABLE ... DISABLE TRIGGER, then on again: the
server's counterpart of dropping a trigger and recreating it identically), a guard's function
replaced, an extra trigger, the audit chain re-hashed, a close deleted, a superuser's replica
session that fires no trigger at all. The others are SQLite's own ways in (INSERT OR REPLACE, the
trigger SQL in sqlite_master) or run the same check again.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import BillingError, audit, digests, pg_schema, run_check
from tui_billing.store import operations as ops
from tui_billing.store.operations import DepositCount

from raw_books import INTEGRITY, Raw

#: SQLite's own ways in, or the same check again: on SQLite only (see the module's docstring)
pytestmark = pytest.mark.sqlite_only(reason="SQLite's own ways in, or the same check as a both_backends test")

CLOSED = "2026-11-16"  # the conftest's TODAY: closed in the fixture below
OPEN = "2026-11-17"


@pytest.fixture
def books(practice, db: Path, monkeypatch):
    """Day CLOSED with an encounter (two diagnoses) and a cash receipt, closed and sealed; day OPEN has an encounter."""
    sent: list[str] = []
    monkeypatch.setattr(digests, "send_outside", sent.append)
    p = practice
    enc = ops.post_encounter(patient_id=p.patients[0], provider_id=p.providers[0], dos=CLOSED,
                             diagnoses=["J06.9", "I10"], lines=[ops.ChargeLine("99213")])
    rec = ops.record_receipt(amount=2000, method="cash", patient_id=p.patients[0])
    ops.close_day(CLOSED, DepositCount(cash=2000))
    monkeypatch.setenv("TUI_BILLING_TODAY", OPEN)
    later = ops.post_encounter(patient_id=p.patients[1], provider_id=p.providers[1], dos=OPEN,
                               diagnoses=["E11.9"], lines=[ops.ChargeLine("99214")])
    report = run_check()
    assert report.ok, report.problems
    assert len(sent) == 1 and f"date={CLOSED}" in sent[0]
    return {"db": db, "enc": enc, "rec": rec, "later": later, "sent": sent, "p": p}


def attacker(db: Path | str) -> Raw:
    """What a group member gets with `sqlite3 billing.db` (autocommit, recursive_triggers off); on
    PostgreSQL, the books' owner at a psql prompt (autocommit)."""
    return Raw(db, autocommit=True)


def trigger_sql(con: Raw, name: str) -> str:
    return con.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]


@contextlib.contextmanager
def guards_off(con: Raw, names: list[str]) -> Iterator[None]:
    """SQLite: drop the guards, and recreate them *identically* after (so their SQL still matches);
    PostgreSQL: the owner switches them off and on again (their functions untouched)."""
    if con.server:
        tables = [pg_schema.expected_triggers()[n][0] for n in names]
        for n, table in zip(names, tables, strict=True):
            con.execute(f"ALTER TABLE {table} DISABLE TRIGGER {n}")
        yield
        for n, table in zip(names, tables, strict=True):
            con.execute(f"ALTER TABLE {table} ENABLE TRIGGER {n}")
        return
    saved = [trigger_sql(con, n) for n in names]
    for n in names:
        con.execute(f"DROP TRIGGER {n}")
    yield
    for s in saved:
        con.execute(s)


def without_trigger(con: Raw, names: list[str], *statements: str) -> None:
    """The guards off, the rewrite, the guards back as they were."""
    with guards_off(con, names):
        for s in statements:
            con.execute(s)


def refused_by_database(con: Raw, statement: str) -> str:
    # (PostgreSQL's TRUNCATE guard raises a plain PL/pgSQL exception, the row guards an integrity violation)
    with pytest.raises((*INTEGRITY, psycopg.errors.RaiseException)) as info:
        con.execute(statement)
    return str(info.value)


def next_close_refused(books) -> str:
    with pytest.raises(BillingError) as info:
        ops.close_day(OPEN, DepositCount())
    assert "fail `tui-billing check`" in str(info.value)
    return str(info.value)


def problems() -> str:
    report = run_check(integrity=False)
    assert not report.ok
    return "\n".join(report.problems)


# --------------------------------------------------------------------------- refused by the database


@pytest.mark.parametrize("statement", [
    # the audit trail: replace an event with one that says something else
    "INSERT OR REPLACE INTO audit_event (id, at, user, action, entity, entity_id, detail, prev_hash, hash) "
    "SELECT id, at, 'mallory', action, entity, entity_id, detail, prev_hash, hash FROM audit_event WHERE id = 3",
    # a day's close and a batch's close
    "INSERT OR REPLACE INTO day_close (posting_date, closed_at, operator, totals) VALUES ('2026-11-16', 'x', 'm', '{}')",
    "REPLACE INTO day_digest (posting_date, prev_digest, rows_digest, audit_id, audit_hash, digest, sealed_at) "
    "SELECT posting_date, prev_digest, rows_digest, audit_id, audit_hash, 'f', sealed_at FROM day_digest",
    # an open day's row, replaced by its id, and a reversal replaced through its UNIQUE reverses_id
    "INSERT OR REPLACE INTO charge (id, encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, "
    "units, fee, amount, posting_date, operator) SELECT id, encounter_id, line_no, patient_id, provider_id, payer_id, "
    "dos, pos, code, units, fee, 1, posting_date, operator FROM charge WHERE posting_date = '2026-11-17'",
    "INSERT OR REPLACE INTO encounter_diagnosis (encounter_id, seq, code) SELECT encounter_id, seq, 'Z00.00' "
    "FROM encounter_diagnosis WHERE encounter_id = 2",
    "INSERT OR REPLACE INTO charge_balance (charge_id, patient_id, payer_id, dos, balance) "
    "SELECT charge_id, patient_id, payer_id, dos, 0 FROM charge_balance",
    "INSERT OR REPLACE INTO role_grant (id, user, role, granted_by, granted_at) VALUES (1, 'mallory', 'admin', 'x', 'x')",
])
def test_replace_refused_by_the_database(books, statement, dump):
    before = dump()
    con = attacker(books["db"])
    if "role_grant" in statement:
        con.execute("PRAGMA foreign_keys = ON")
        # a grant to rewrite (the test book's users have none until one is made)
        from tui_billing.store import roles

        roles.grant("alice", "clerk")
        before = dump()
    refused_by_database(con, statement)
    con.close()
    assert dump() == before
    assert run_check(integrity=False).ok


PLAIN_REWRITES = (
    # plain inserts into a closed period: a closed encounter's diagnosis (no guard before schema 8)
    "INSERT INTO encounter_diagnosis (encounter_id, seq, code) VALUES (1, 3, 'E78.5')",
    "INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, dos, pos, code, units, fee, amount, "
    "posting_date, operator) VALUES (1, 9, 1, 1, '2026-11-16', '11', '99213', 1, 0, 0, '2026-11-16', 'm')",
    # the running balance's patient and date
    "UPDATE charge_balance SET patient_id = 3",
    "UPDATE charge_balance SET dos = '2020-01-01'",
    # the newer history tables
    "UPDATE role_grant SET role = 'admin'",
    "DELETE FROM day_digest",
    "DELETE FROM day_close",
    "UPDATE audit_event SET user = 'mallory'",
)


@pytest.mark.both_backends
def test_plain_rewrites_refused_by_the_database(books, dump):
    from tui_billing.store import roles

    roles.grant("alice", "clerk")  # a grant to rewrite (the test book's users have none until one is made)
    before = dump()
    con = attacker(books["db"])
    # PostgreSQL's TRUNCATE fires no row trigger: the history tables refuse it with a statement trigger
    for statement in (*PLAIN_REWRITES, *(["TRUNCATE day_close CASCADE"] if con.server else [])):
        refused_by_database(con, statement)
    con.close()
    assert dump() == before
    assert run_check(integrity=False).ok


# --------------------------------------------------------------------------- named by check, refused by the next close


@pytest.mark.both_backends
def test_dropped_guard_rows_changed_guard_recreated(books):
    """Drop a guard, change a closed day's row, recreate the guard identically: the day's digest names it."""
    con = attacker(books["db"])
    without_trigger(con, ["charge_no_update"], "UPDATE charge SET code = '99214' WHERE posting_date = '2026-11-16'")
    con.close()
    assert "day 2026-11-16 was closed, but its rows (or its close) changed since" in problems()
    next_close_refused(books)


@pytest.mark.both_backends
def test_same_named_guard_that_does_nothing(books):
    con = attacker(books["db"])
    if con.server:  # the trigger stays; the function it runs no longer refuses anything
        con.conn.execute("CREATE OR REPLACE FUNCTION charge_no_update_fn() RETURNS trigger LANGUAGE plpgsql "
                         "AS $$BEGIN RETURN NEW; END $$")
    else:
        con.execute("DROP TRIGGER charge_no_update")
        con.execute("CREATE TRIGGER charge_no_update BEFORE UPDATE ON charge BEGIN SELECT 1; END")
    con.close()
    found = problems()
    assert re.search(r"replaced by ones (with different SQL|that run other code)", found) and "charge_no_update" in found
    next_close_refused(books)


@pytest.mark.both_backends
def test_extra_trigger_is_named(books):
    con = attacker(books["db"])
    if con.server:
        con.conn.execute("CREATE FUNCTION sneaky_fn() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
                         "UPDATE charge_balance SET balance = 0 WHERE charge_id = NEW.id; RETURN NULL; END $$")
        con.conn.execute("CREATE TRIGGER sneaky AFTER INSERT ON charge FOR EACH ROW EXECUTE FUNCTION sneaky_fn()")
    else:
        con.execute("CREATE TRIGGER sneaky AFTER INSERT ON charge BEGIN UPDATE charge_balance SET balance = 0 "
                    "WHERE charge_id = NEW.id; END")
    con.close()
    assert "triggers this schema version does not have were added: sneaky" in problems()
    next_close_refused(books)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # PostgreSQL's own way in: SQLite has no such switch
def test_a_superusers_replica_session_fires_no_guard_and_check_names_the_edit(books):
    """A superuser's session with session_replication_role = replica runs no trigger, so no guard refuses and
    none is touched: the guards all check out, and the closed day's digest names what changed."""
    import pg_server

    con = attacker(books["db"].replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}"))
    con.execute("SET session_replication_role = replica")
    con.execute("UPDATE charge SET code = '99214' WHERE posting_date = '2026-11-16'")
    con.close()
    found = problems()
    assert "day 2026-11-16 was closed, but its rows (or its close) changed since" in found
    assert "trigger" not in found  # every guard is there, on, and as written: only the digest can tell
    next_close_refused(books)


def test_running_balance_patient_or_date_edited(books):
    con = attacker(books["db"])
    without_trigger(con, ["charge_balance_fixed"], "UPDATE charge_balance SET patient_id = 3, dos = '2020-01-01'")
    con.close()
    assert "running balance names another patient or date of service" in problems()


def rehash_audit_chain(con: Raw, *, forge_digests: bool = False) -> None:
    """The public recipe: recompute every event's hash in order (and, if asked, every day digest on the way)."""
    with guards_off(con, ["audit_event_no_update", "day_digest_no_update"]):
        _rehash(con, forge_digests)


def _rehash(con: Raw, forge_digests: bool) -> None:
    prev = audit.GENESIS
    last_digest = digests.GENESIS
    close_events: dict[str, tuple[int, str]] = {}
    for event_id, at, user, action, entity, entity_id, detail in con.execute(
            "SELECT id, at, user, action, entity, entity_id, detail FROM audit_event ORDER BY id").fetchall():
        d = json.loads(detail)
        if forge_digests and action == "seal_day":
            date = d["posting_date"]
            rows = digests.rows_digest(date)  # the rows as they are now
            audit_id, audit_hash = close_events[date]
            new = digests.chain_digest(last_digest, date, rows, audit_id, audit_hash)
            con.execute("UPDATE day_digest SET prev_digest = ?, rows_digest = ?, audit_hash = ?, digest = ? "
                        "WHERE posting_date = ?", (last_digest, rows, audit_hash, new, date))
            d["digest"] = new
            detail = audit.canonical(d)
            last_digest = new
        digest = audit.event_hash(prev, at, user, action, entity, entity_id, detail)
        con.execute("UPDATE audit_event SET detail = ?, prev_hash = ?, hash = ? WHERE id = ?",
                    (detail, prev, digest, event_id))
        if action == "close_day":
            close_events[d["posting_date"]] = (event_id, digest)
        prev = digest


@pytest.mark.both_backends
def test_audit_chain_rehashed_with_the_public_recipe(books):
    con = attacker(books["db"])
    without_trigger(con, ["audit_event_no_update"],
                    "UPDATE audit_event SET user = 'mallory' WHERE action = 'post_encounter' AND entity_id = 1")
    rehash_audit_chain(con)
    con.close()
    assert not audit.verify_chain()  # the chain alone cannot tell
    assert "the audit trail up to its close changed since it was sealed" in problems()
    next_close_refused(books)


@pytest.mark.both_backends
def test_close_row_deleted_to_reopen_the_day_then_posted_into(books):
    con = attacker(books["db"])
    without_trigger(con, ["day_close_no_delete", "day_digest_no_delete"],
                    "DELETE FROM day_digest WHERE posting_date = '2026-11-16'",
                    "DELETE FROM day_close WHERE posting_date = '2026-11-16'")
    con.close()
    # the day is open again to the program's rules...
    found = problems()
    assert "records its close but the close row is gone" in found
    next_close_refused(books)


def test_zero_amount_row_back_dated_into_a_closed_day(books):
    con = attacker(books["db"])
    without_trigger(con, ["charge_closed_period"],
                    "INSERT INTO charge (encounter_id, line_no, patient_id, provider_id, dos, pos, code, units, fee, "
                    "amount, posting_date, operator) VALUES (1, 2, 1, 1, '2026-11-16', '11', '99213', 1, 0, 0, "
                    "'2026-11-16', 'tester')")
    con.close()
    assert "day 2026-11-16 was closed, but its rows (or its close) changed since" in problems()
    next_close_refused(books)


def test_closed_encounter_diagnosis_added_with_the_guard_dropped(books):
    con = attacker(books["db"])
    without_trigger(con, ["encounter_diagnosis_closed_period"],
                    "INSERT INTO encounter_diagnosis (encounter_id, seq, code) VALUES (1, 3, 'E78.5')")
    con.close()
    assert "day 2026-11-16 was closed, but its rows" in problems()
    next_close_refused(books)


def test_digest_row_itself_altered(books):
    con = attacker(books["db"])
    without_trigger(con, ["day_digest_no_update"], "UPDATE day_digest SET rows_digest = 'ab'")
    con.close()
    assert "its stored digest was altered" in problems()


# --------------------------------------------------------------------------- the witness


def cli_check(db: Path, *extra: str):
    return CliRunner().invoke(main, ["--db", str(db), "check", "--quick", *extra])


@pytest.mark.both_backends
def test_witness_catches_a_rewrite_that_rehashes_everything(books, tmp_path):
    """Rewrite a closed day's row, then re-hash every digest and the whole audit chain: the books agree
    with themselves, `check` passes, and only the digest sent outside at the close can tell."""
    witness = tmp_path / "syslog.txt"
    witness.write_text("Nov 16 17:31:02 office tui-billing[4242]: " + books["sent"][0] + "\nunrelated line\n")
    assert cli_check(books["db"], "--witness", str(witness)).exit_code == 0

    con = attacker(books["db"])
    without_trigger(con, ["charge_no_update"], "UPDATE charge SET code = '99214' WHERE posting_date = '2026-11-16'")
    rehash_audit_chain(con, forge_digests=True)
    con.close()
    assert run_check(integrity=False).ok  # a perfect forgery inside the file
    result = cli_check(books["db"], "--witness", str(witness))
    assert result.exit_code == 1
    assert "day 2026-11-16: the books' digest" in result.stderr and "history was rewritten" in result.stderr


def test_witness_catches_a_removed_close(books, tmp_path):
    witness = tmp_path / "daysheet.txt"
    witness.write_text(books["sent"][0] + "\n")
    con = attacker(books["db"])
    without_trigger(con, ["day_close_no_delete", "day_digest_no_delete"],
                    "DELETE FROM day_digest", "DELETE FROM day_close")
    con.close()
    result = cli_check(books["db"], "--witness", str(witness))
    assert result.exit_code == 1 and "the close was removed" in result.stderr


def test_witness_of_other_books_is_not_a_proof(books, tmp_path):
    witness = tmp_path / "w.txt"
    witness.write_text("tui-billing day-digest book=000000000000 date=2026-11-16 digest=" + "0" * 64 + "\n")
    result = cli_check(books["db"], "--witness", str(witness))
    assert result.exit_code == 1 and "holds no digest of these books" in result.stderr


def test_day_sheet_prints_the_witness_line(books):
    result = CliRunner().invoke(main, ["--db", str(books["db"]), "report", "daysheet", "--date", CLOSED])
    assert result.exit_code == 0, result.output
    assert books["sent"][0] in result.stdout


def test_office_close_sends_its_digest_to_syslog(tmp_path, office_books, monkeypatch):
    """An office's books send each seal to syslog (the test books keep theirs out of the log)."""
    import syslog

    from tui_billing.store import close_database, open_database

    logged: list[tuple[int, str]] = []
    monkeypatch.setattr(syslog, "syslog", lambda priority, line: logged.append((priority, line)))
    monkeypatch.setattr(syslog, "openlog", lambda *a, **k: None)
    open_database(tmp_path / "office.db")
    try:
        ops.seed_standard_reasons()
        from tui_billing.store.validate import current_posting_date, today

        day = current_posting_date()
        assert day == today().isoformat()
        ops.close_day(day, DepositCount())
        assert [line for _, line in logged] == [digests.witness_line(day, digests.day_digest(day))]
        assert logged[0][0] == syslog.LOG_NOTICE
    finally:
        close_database()


def test_an_older_closed_day_rewritten(books, monkeypatch):
    """Past the close's one-week window the close still re-hashes older days while its budget lasts."""
    monkeypatch.setattr(digests, "CLOSE_RECHECK_DAYS", 0)
    con = attacker(books["db"])
    without_trigger(con, ["charge_no_update"], "UPDATE charge SET code = '99214' WHERE posting_date = '2026-11-16'")
    con.close()
    assert "day 2026-11-16 was closed, but its rows" in next_close_refused(books)
    monkeypatch.setattr(digests, "CLOSE_BUDGET_S", -1.0)  # big books: no time left for older days
    ops.close_day(OPEN, DepositCount())  # the close lets it through...
    assert "day 2026-11-16 was closed, but its rows" in problems()  # ...and check still names it


def test_every_unique_key_of_every_history_table_has_a_replace_guard(db):
    """A new history table or unique key without its REPLACE guard fails here (schema read from the file)."""
    from tui_billing.store import database
    from tui_billing.store.guards import HISTORY_KEYS, LATER_HISTORY_KEYS, NEW_APPEND_ONLY
    from tui_billing.store.migrations import POSTED_TABLES

    guarded = set(HISTORY_KEYS) | set(LATER_HISTORY_KEYS)
    later = {table for table, _ in LATER_HISTORY_KEYS}
    for table in (*POSTED_TABLES, *NEW_APPEND_ONLY, *later, "charge_balance", "receipt_balance"):
        info = database.execute_sql(f"PRAGMA table_info({table})").fetchall()
        keys = [tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))]
        for _, name, unique, *_ in database.execute_sql(f"PRAGMA index_list({table})").fetchall():
            if unique:
                keys.append(tuple(r[2] for r in database.execute_sql(f"PRAGMA index_info({name})").fetchall()))
        for key in set(keys):
            assert (table, key) in guarded, f"{table}{key} has no INSERT OR REPLACE guard"
        triggers = {r[0] for r in database.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,))}
        assert {f"{table}_no_update", f"{table}_no_delete"} <= triggers or table.endswith("_balance"), table


@pytest.mark.parametrize("insert, replace", [
    ("INSERT INTO master_version (id, entity, entity_id, version, on_date, at, operator, data) "
     "VALUES (900, 'payer', 1, 1, '2026-11-16', 'x', 'alice', '{}')",
     "INSERT OR REPLACE INTO master_version (id, entity, entity_id, version, on_date, at, operator, data) "
     "VALUES (900, 'payer', 1, 1, '2026-11-16', 'x', 'mallory', '{\"name\": \"forged\"}')"),
    ("INSERT INTO import_file (id, sha256, kind, file_name, rows, imported_at, operator) "
     "VALUES (900, '" + "a" * 64 + "', 'fees', 'f.csv', 1, 'x', 'alice')",
     "INSERT OR REPLACE INTO import_file (id, sha256, kind, file_name, rows, imported_at, operator) "
     "VALUES (900, '" + "b" * 64 + "', 'fees', 'f.csv', 1, 'x', 'alice')"),
    ("INSERT INTO import_file (id, sha256, kind, file_name, rows, imported_at, operator) "
     "VALUES (900, '" + "a" * 64 + "', 'fees', 'f.csv', 1, 'x', 'alice')",
     "DELETE FROM import_file WHERE id = 900"),
])
def test_later_history_tables_are_never_replaced(books, insert, replace):
    """Schema 11: master-data versions and the imported-files record get the same REPLACE guard."""
    con = attacker(books["db"])
    con.execute(insert)
    refused_by_database(con, replace)
    con.close()


def test_month_close_deleted_to_reopen_the_month(books, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-02")
    ops.close_day(OPEN, DepositCount())
    ops.close_month("2026-11")
    con = attacker(books["db"])
    without_trigger(con, ["month_close_no_delete"], "DELETE FROM month_close")
    con.close()
    assert "month 2026-11: the audit trail records its close but the close row is gone" in problems()
