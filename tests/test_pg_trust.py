"""Trust on PostgreSQL: a clerk with a database client of their own, an owner behind the app's back, the
server itself crashing mid-write, and backup/restore saying what the server's books need.

All on the session's throwaway cluster (tests/pg_server.py): real server, real roles, peer logins.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psycopg
import pytest
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.ledger.audit import event_hash
from tui_billing.store import close_database, open_database, pg_admin, run_check
from tui_billing.store import operations as ops
from tui_billing.store.db import database

import pg_server
import store_helpers
from store_helpers import TODAY


@pytest.fixture
def books(pg_cluster, today):
    """Server books with a posted, closed day (TODAY) and a clerk login; yields (cluster, owner url, clerk url)."""
    url = pg_cluster.fresh_books()
    open_database(url)
    practice = store_helpers.seed_practice()
    ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0], dos=TODAY,
                       diagnoses=["I10"], lines=[ops.ChargeLine("99213")])
    ops.record_receipt(amount=2000, method="cash", patient_id=practice.patients[0], reference="R1")
    ops.close_day(TODAY, ops.DepositCount(cash=2000))
    close_database()
    pg_admin.add_login(_as(url, pg_server.SUPERUSER), "tb_clerk_ann", "clerk")
    yield pg_cluster, url, _as(url, "tb_clerk_ann")
    close_database()


def _as(url: str, role: str) -> str:
    return url.replace(f"user={pg_server.OWNER}", f"user={role}")


def _fingerprint(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM receipt), (SELECT sum(amount) FROM receipt), (SELECT count(*) FROM audit_event), "
            "(SELECT max(hash) FROM audit_event), (SELECT count(*) FROM role_grant), "
            "(SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_auth_members m "
            " JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'tb_clerk_ann')"
        ).fetchall()


def _copy_of_a_receipt(conn: psycopg.Connection, **changes: object) -> str:
    """An INSERT of the first receipt's row again, new id, with ``changes`` (SQL literals by psycopg)."""
    columns = [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'receipt' ORDER BY ordinal_position").fetchall()]
    values = ["(SELECT max(id) + 1 FROM receipt)" if c == "id" else
              (psycopg.sql.Literal(changes[c]).as_string(conn) if c in changes else c) for c in columns]
    return f"INSERT INTO receipt ({', '.join(columns)}) SELECT {', '.join(values)} FROM receipt ORDER BY id LIMIT 1"


def test_a_clerk_with_a_database_client_of_their_own_is_refused_by_the_server(books):
    """psql-like access as the clerk's own login: every attack is refused by the server, nothing changes,
    and the program's `check` still passes."""
    cluster, url, clerk_url = books
    before = _fingerprint(url)
    with psycopg.connect(clerk_url, autocommit=True) as clerk:
        assert clerk.execute("SELECT current_user").fetchone() == ("tb_clerk_ann",)
        # posting into the closed day by hand: the closed-period guard (a trigger the clerk cannot drop)
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="posting date is closed"):
            clerk.execute(_copy_of_a_receipt(clerk, reference="BYHAND", posting_date=TODAY))
        # editing history: no UPDATE or DELETE right on any posted table
        for statement in ("UPDATE receipt SET amount = 1", "DELETE FROM receipt", "UPDATE audit_event SET detail = '{}'",
                          "DELETE FROM audit_event", "DELETE FROM day_close", "UPDATE day_close SET totals = '{}'",
                          "ALTER TABLE receipt DISABLE TRIGGER USER", "DROP FUNCTION receipt_closed_period_fn() CASCADE"):
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.WrongObjectType)):
                clerk.execute(statement)
        # granting itself supervisor: not a member, no ADMIN OPTION, no CREATEROLE, no role_grant rows
        for statement in ("GRANT tb_supervisor TO tb_clerk_ann", "SET ROLE tb_supervisor", "SET ROLE tb_owner",
                          "ALTER ROLE tb_clerk_ann SUPERUSER", "ALTER ROLE tb_clerk_ann CREATEROLE",
                          "INSERT INTO role_grant (\"user\", role, granted_by, granted_at) "
                          "VALUES ('tb_clerk_ann', 'supervisor', 'tb_clerk_ann', 'now')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                clerk.execute(statement)
    assert _fingerprint(url) == before
    open_database(url)
    report = run_check()
    assert report.ok, report.problems


def test_an_owner_editing_rows_behind_the_apps_back_is_caught_by_check(books):
    """The owner may switch a guard off (it owns the tables): `check` names the change even after the
    guard is back on, from the running balances and the audit chain."""
    cluster, url, _ = books
    with psycopg.connect(url) as owner:
        owner.execute("ALTER TABLE receipt DISABLE TRIGGER USER")
        owner.execute("UPDATE receipt SET amount = amount + 100 WHERE reference = 'R1'")
        owner.execute("ALTER TABLE receipt ENABLE TRIGGER USER")
    open_database(url)
    report = run_check()
    assert not report.ok
    assert report.problems, "an edited receipt passed check"
    close_database()
    with psycopg.connect(url) as owner:
        owner.execute("ALTER TABLE audit_event DISABLE TRIGGER USER")
        owner.execute("UPDATE audit_event SET detail = '{}' WHERE id = (SELECT max(id) FROM audit_event)")
    open_database(url)
    problems = " ".join(run_check().problems)
    assert "switched off" in problems and "audit" in problems


@pytest.fixture
def office_server(pg_cluster, office_books, monkeypatch):
    """An office's books on the server (not test books), started by admin login tb_sup_cat as the README
    says, with clerk login tb_clerk_ann; yields the owner's URL."""
    monkeypatch.delenv("TUI_BILLING_DB", raising=False)
    url = pg_cluster.new_database()
    try:
        superuser = _as(url, pg_server.SUPERUSER)
        pg_admin.add_login(superuser, "tb_sup_cat", "admin")
        pg_admin.add_login(superuser, "tb_clerk_ann", "clerk")
        started = CliRunner().invoke(main, ["--db", _as(url, "tb_sup_cat"), "init", "--practice", "Maple"])
        assert started.exit_code == 0, (started.output, started.exception)
        assert "tb_sup_cat is the admin of these books" in started.stdout
        yield url
    finally:
        close_database()
        pg_cluster.drop_database(url)


def test_a_clerk_cannot_forge_the_next_audit_event_in_another_name(office_server):
    """The chain is public arithmetic: a clerk who reads it could append a well-chained event saying
    'the admin approved this'. On an office's server books every event carries the writer's own login,
    which the server checks; the program itself writes the login as the operator."""
    url = office_server
    with psycopg.connect(_as(url, "tb_clerk_ann"), autocommit=True) as clerk:
        users = {r[0] for r in clerk.execute('SELECT "user" FROM audit_event').fetchall()}
        assert users == {"tb_sup_cat"}  # the program wrote the login, not the client's OS account (root)
        last = clerk.execute("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()[0]
        at, detail = "2026-11-16T23:59:00+00:00", '{"note":"approved"}'
        insert = ('INSERT INTO audit_event (at, "user", action, entity, entity_id, detail, prev_hash, hash) '
                  "VALUES (%s, %s, 'void', 'receipt', 1, %s, %s, %s)")
        with pytest.raises(psycopg.errors.RaiseException, match=r"in your own name \(tb_clerk_ann\), not tb_sup_cat"):
            clerk.execute(insert, (at, "tb_sup_cat", detail, last,
                                   event_hash(last, at, "tb_sup_cat", "void", "receipt", 1, detail)))
        # in their own name it is the clerk's own (chained, attributable) event: check shows who wrote it
        clerk.execute(insert, (at, "tb_clerk_ann", detail, last,
                               event_hash(last, at, "tb_clerk_ann", "void", "receipt", 1, detail)))
    checked = CliRunner().invoke(main, ["--db", _as(url, "tb_sup_cat"), "check", "--quick"])
    assert checked.exit_code == 0, checked.output


def test_on_server_books_the_operator_is_the_login_and_the_hooks_are_not_honoured(office_server, monkeypatch):
    """test_trust_identity's attacker on PostgreSQL: every variable set, the operator is still the peer
    login; the pinned day is the clock; the test-book marker is refused to the owner's own client too."""
    import datetime as dt

    from tui_billing.store import BillingError, identity
    from tui_billing.store.validate import today as business_day

    url = office_server
    for name in ("LOGNAME", "USER", "TUI_BILLING_OPERATOR"):
        monkeypatch.setenv(name, "bob")
    a_year_on = (dt.date.today() + dt.timedelta(days=365)).isoformat()
    monkeypatch.setenv("TUI_BILLING_TODAY", a_year_on)
    open_database(_as(url, "tb_sup_cat"))
    assert not identity.honours_hooks() and business_day() == dt.date.today()
    assert identity.operator_name("bob") == "tb_sup_cat"
    ops.add_patient("Z1", "Zed", "Zoe", "1990-01-01", "F")
    users = {r[0] for r in database.execute_sql("SELECT user FROM audit_event").fetchall()}
    assert users == {"tb_sup_cat"}
    with pytest.raises(BillingError):
        ops.close_day(a_year_on)
    with pytest.raises(BillingError, match="permission denied for table test_book"):  # only the owner writes it
        identity.mark_test_book("sneaky")
    close_database()
    with psycopg.connect(url) as owner, pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        owner.execute("INSERT INTO test_book VALUES (1, 'm', '2000-01-01', 'x')")


SERVER_WRITER = textwrap.dedent("""
    import sys
    from tui_billing.store import open_database
    from tui_billing.store import operations as ops
    url, patient = sys.argv[1], int(sys.argv[2])
    open_database(url)
    k = 0
    try:
        while True:
            ops.record_receipt(amount=100 + k, method="check", patient_id=patient, reference=f"srv-{k}")
            print(f"srv-{k}", flush=True)  # acknowledged: the server said COMMIT done
            k += 1
    except Exception as exc:  # the server went away: whatever was in flight is not acknowledged
        print(f"ERR {type(exc).__name__}", flush=True)
""")


def test_the_server_stopped_immediately_mid_write_keeps_every_acknowledged_entry(books):
    """`pg_ctl stop -m immediate` (the postmaster killed, no shutdown checkpoint) while a clerk posts, then
    a restart: the server replays its WAL; every acknowledged receipt is there once and `check` passes.

    The throwaway cluster runs fsync=off and the OS keeps running, so this proves crash recovery from
    the WAL the server wrote (as after a killed server process), not disk durability through a power cut:
    that is the DBA's fsync=on, synchronous_commit=on server, which the README asks for.
    """
    cluster, url, _ = books
    open_database(url)
    patient = database.execute_sql("SELECT id FROM patient ORDER BY id LIMIT 1").fetchone()[0]
    close_database()
    writer = subprocess.Popen([sys.executable, "-c", SERVER_WRITER, url, str(patient)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    acked = []
    try:
        while len(acked) < 15:  # well into its run: the crash lands between or inside its transactions
            line = writer.stdout.readline()
            assert line.startswith("srv-"), (line, writer.stderr.read() if writer.stderr else "")
            acked.append(line.strip())
        cluster.crash_and_restart()
        out, _ = writer.communicate(timeout=60)  # the rest of its acknowledgements, and how it ended
        rest = out.split()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    acked += [r for r in rest if r.startswith("srv-")]
    assert any(r.startswith("ERR") for r in rest), "the writer never noticed the server going away"
    open_database(url)
    found = dict(database.execute_sql(
        "SELECT reference, COUNT(*) FROM receipt WHERE reference LIKE 'srv-%' GROUP BY reference").fetchall())
    assert set(acked) <= set(found), f"acknowledged receipts lost: {sorted(set(acked) - set(found))[:5]}"
    assert set(found.values()) == {1}
    assert len(found) - len(acked) <= 1  # at most the one committed as the server died, before its ack
    report = run_check()
    assert report.ok, report.problems
    ops.record_receipt(amount=100, method="cash", patient_id=patient, reference="after")  # the books post again


def test_backup_and_restore_say_what_server_books_need(books):
    cluster, url, _ = books
    backup = CliRunner().invoke(main, ["--db", url, "backup", "copy.db"])
    assert backup.exit_code == 1 and "pg_dump" in backup.stderr
    restore = CliRunner().invoke(main, ["--db", url, "restore", "copy.db"])
    assert restore.exit_code == 1 and "pg_restore" in restore.stderr, restore.output
    assert "Traceback" not in restore.output
