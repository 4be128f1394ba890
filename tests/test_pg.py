"""PostgreSQL books: the dialect translator, the schema derived from the migrations, roles the server
enforces, eight writers at once, live refresh, and `migrate --to` agreeing figure for figure.

The server tests run on the throwaway cluster of tests/pg_server.py (real server binaries, a
unix socket, no mocks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest
from click.testing import CliRunner

from tests.reports_fixtures import DAYS, TODAY, build
from tui_billing.cli import main
from tui_billing.store import BillingError, close_database, migrations, open_database, pg_admin, pg_dialect, pg_schema, run_check
from tui_billing.store import operations as ops
from tui_billing.store.db import database

import pg_server

# --------------------------------------------------------------------------- the translator (no server)


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("SELECT a FROM t WHERE id = ? AND b = ?", "SELECT a FROM t WHERE id = %s AND b = %s"),
    ("SELECT user, at FROM audit_event", 'SELECT "user", at FROM audit_event'),
    ("SELECT 1 FROM payer WHERE code LIKE ? ESCAPE '\\'", "SELECT 1 FROM payer WHERE code COLLATE \"C\" ILIKE %s ESCAPE '\\'"),
    ("SELECT '5%' || x FROM t", "SELECT '5%%' || x FROM t"),
    ("SELECT s FROM (SELECT 1 s) GROUP BY s", "SELECT s FROM (SELECT 1 s) AS _sub1 GROUP BY s"),
    ("SELECT 1 FROM t x WHERE x.a IS NOT x.b OR x.c IS ?", "SELECT 1 FROM t x WHERE x.a IS DISTINCT FROM  x.b OR "
                                                         "x.c IS NOT DISTINCT FROM %s"),
    ("SELECT 1 FROM t WHERE a IS NOT NULL AND b IS NULL", "SELECT 1 FROM t WHERE a IS NOT NULL AND b IS NULL"),
    ("SELECT id FROM provider WHERE active ORDER BY code", "SELECT id FROM provider WHERE (active <> 0) ORDER BY code"),
    ("INSERT OR IGNORE INTO r (code) VALUES (?)", "INSERT INTO r (code) VALUES (%s) ON CONFLICT DO NOTHING"),
    ("PRAGMA user_version", "SELECT version FROM tb_schema WHERE id = 1"),
    ("PRAGMA busy_timeout = 0", "SET lock_timeout = 1"),
    ("SELECT 1 FROM charge_balance cb INDEXED BY charge_balance_open_payer WHERE cb.payer_id = ?",
     "SELECT 1 FROM charge_balance cb    WHERE cb.payer_id = %s"),
])
def test_translate(sqlite, postgres):
    assert pg_dialect.translate(sqlite).sql == postgres


def test_numbered_and_named_parameters():
    # SQLite: a bare ? after ?N takes the highest number so far + 1
    query = pg_dialect.translate("SELECT ?1, ?2, ?1, ? FROM t")
    assert query.sql == "SELECT %(p1)s, %(p2)s, %(p1)s, %(p3)s FROM t"
    assert query.params(("a", "b", "c")) == {"p1": "a", "p2": "b", "p3": "c"}
    named = pg_dialect.translate("SELECT x FROM t WHERE d > :d AND e = :e")
    assert named.sql == "SELECT x FROM t WHERE d > %(d)s AND e = %(e)s" and named.params({"d": 1}) == {"d": 1}


def test_sqlite_only_statements_are_refused_not_guessed():
    with pytest.raises(ValueError, match="INSERT OR REPLACE"):
        pg_dialect.translate("INSERT OR REPLACE INTO t (a) VALUES (1)")
    with pytest.raises(ValueError, match="PRAGMA wal_checkpoint"):
        pg_dialect.translate("PRAGMA wal_checkpoint")


def test_table_ddl():
    table = pg_dialect.table_ddl(
        "CREATE TABLE payer (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE COLLATE NOCASE, user TEXT NOT NULL, "
        "n INTEGER NOT NULL CHECK (n >= 0), UNIQUE (code, n)) WITHOUT ROWID")
    assert table.rowid and table.columns == ("id", "code", "user", "n")
    assert "id BIGINT PRIMARY KEY" in table.create
    assert "code TEXT NOT NULL CONSTRAINT payer_code_unique UNIQUE COLLATE tb_nocase" in table.create
    assert '"user" TEXT NOT NULL' in table.create and "n BIGINT NOT NULL CHECK (n >= 0)" in table.create
    assert "ROWID" not in table.create.upper()


def test_a_guard_trigger_becomes_plpgsql():
    function, trigger = pg_schema.trigger_ddl(
        "CREATE TRIGGER x_no_update BEFORE UPDATE OF a, user ON x WHEN NEW.a IS NOT OLD.a "
        "BEGIN SELECT RAISE(ABORT, 'never'); END;")
    assert "IF NEW.a IS DISTINCT FROM OLD.a THEN" in function and "SECURITY DEFINER" in function
    assert "RAISE EXCEPTION USING MESSAGE = 'never'" in function and "RETURN NEW;" in function
    assert trigger == 'CREATE TRIGGER x_no_update BEFORE UPDATE OF a, "user" ON x FOR EACH ROW EXECUTE FUNCTION x_no_update_fn()'


def test_every_sqlite_trigger_has_its_postgresql_guard():
    """A migration whose trigger the translator cannot carry fails here, naming it."""
    statements = pg_schema.create_statements(migrations.SCHEMA_VERSION)
    made = {s.split()[2] for s in statements if s.startswith("CREATE TRIGGER ")}
    sqlite_triggers = {o.name for o in pg_schema.sqlite_schema(migrations.SCHEMA_VERSION) if o.type == "trigger"}
    missing = {t for t in sqlite_triggers if t not in made and not pg_schema.NOT_NEEDED.search(t)}
    assert not missing
    # every history table refuses TRUNCATE too (it skips row triggers)
    assert {"charge_no_truncate", "audit_event_no_truncate", "master_version_no_truncate"} <= made
    # and server books made at an earlier version upgrade: a merged migration the translator cannot carry
    # (a rebuilt table) raises here, naming the version that needs its step in pg_schema.PG_STEPS
    for version in range(pg_schema.FIRST_PG_VERSION + 1, migrations.SCHEMA_VERSION + 1):
        assert pg_schema.upgrade_statements(version) or version in pg_schema.PG_STEPS, version


#: what another engineer's next migration might add: a table, a column, an index, a guard
NEXT_MIGRATION = """
CREATE TABLE claim_note (
    id INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patient(id),
    text TEXT NOT NULL CHECK (length(text) > 0)
);
CREATE INDEX claim_note_patient ON claim_note(patient_id);
CREATE TRIGGER claim_note_no_update BEFORE UPDATE ON claim_note
BEGIN SELECT RAISE(ABORT, 'claim notes are kept as written'); END;
CREATE TRIGGER claim_note_no_delete BEFORE DELETE ON claim_note
BEGIN SELECT RAISE(ABORT, 'claim notes are kept as written'); END;
ALTER TABLE payer ADD COLUMN claim_office TEXT NOT NULL DEFAULT '';
"""


@pytest.fixture
def next_migration(monkeypatch):
    """The migration list with NEXT_MIGRATION appended (the schema caches cleared before and after)."""
    def clear():
        pg_schema.sqlite_schema.cache_clear()
        pg_schema.expected_triggers.cache_clear()
        migrations.expected_schema.cache_clear()

    clear()
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, NEXT_MIGRATION])
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", len(migrations.MIGRATIONS))
    yield migrations.SCHEMA_VERSION
    clear()


def test_a_new_migration_reaches_postgresql_without_a_hand_written_step(next_migration):
    steps = pg_schema.upgrade_statements(next_migration)
    assert any(s.startswith("CREATE TABLE claim_note (") for s in steps)
    assert "ALTER TABLE payer ADD COLUMN claim_office TEXT NOT NULL DEFAULT ''" in steps
    assert "CREATE INDEX claim_note_patient ON claim_note (patient_id)" in steps
    assert any(s.startswith("CREATE TRIGGER claim_note_no_update BEFORE UPDATE ON claim_note") for s in steps)
    assert "CREATE TRIGGER claim_note_no_truncate BEFORE TRUNCATE ON claim_note FOR EACH STATEMENT " \
           "EXECUTE FUNCTION tb_no_truncate()" in steps


def test_ci_fails_rather_than_skips_without_a_server(monkeypatch, tmp_path):
    monkeypatch.setattr(pg_server, "PG_BIN", tmp_path)  # no server binaries here
    monkeypatch.setenv(pg_server.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="requires the PostgreSQL tests to run"):
        pg_server.require_or_skip()
    monkeypatch.delenv(pg_server.REQUIRE_ENV)
    with pytest.raises(pytest.skip.Exception):
        pg_server.require_or_skip()


# --------------------------------------------------------------------------- on the server


@pytest.fixture
def server_books(pg_cluster, today):
    """Fresh books on the server, open as the owner; yields (cluster, url)."""
    url = pg_cluster.fresh_books()
    open_database(url)
    try:
        yield pg_cluster, url
    finally:
        close_database()


def test_the_upgrade_runs_on_the_server_and_keeps_the_rows(pg_cluster, today, next_migration):
    url = pg_cluster.new_database()
    try:
        with psycopg.connect(url, autocommit=True) as conn:  # made at the version before
            conn.execute("UPDATE tb_schema SET version = %s", (next_migration - 1,))
        # the rows made before stay; the owner's `pg setup` upgrades
        assert pg_admin.setup(url.replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}"),
                              owner=pg_server.OWNER) == next_migration
        open_database(url)
        ops.add_payer("NEW", "New Payer", "commercial", "NP001")
        patient = ops.add_patient("A1", "Doe", "Jane", "1980-02-03", "F")
        database.execute_sql("INSERT INTO claim_note (patient_id, text) VALUES (?, 'hi')", (patient,))
        assert database.execute_sql("SELECT claim_office FROM payer WHERE code = 'new'").fetchone() == ("",)
        with pytest.raises(Exception, match="claim notes are kept as written"):
            database.execute_sql("UPDATE claim_note SET text = 'changed'")
        close_database()
        with psycopg.connect(url) as conn:
            assert pg_schema.problems(conn.execute) == []
    finally:
        close_database()
        pg_cluster.drop_database(url)


def test_setup_refuses_a_database_that_sorts_unlike_sqlite(pg_cluster):
    from tui_billing.store.errors import DatabaseFileError

    pg_cluster.sql("CREATE DATABASE tb_sorted_en TEMPLATE template0 LC_COLLATE 'en_US.utf8' LC_CTYPE 'en_US.utf8'"
                   if _has_locale(pg_cluster, "en_US.utf8") else
                   "CREATE DATABASE tb_sorted_en TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    try:
        url = pg_cluster.url("tb_sorted_en", pg_server.SUPERUSER)
        with pytest.raises(DatabaseFileError, match="needs byte order"):
            pg_admin.setup(url, owner=pg_server.OWNER)
    finally:
        pg_cluster.sql("DROP DATABASE IF EXISTS tb_sorted_en")


def _has_locale(cluster, name: str) -> bool:
    with psycopg.connect(cluster.url("postgres", pg_server.SUPERUSER)) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_collation WHERE collname = %s", (name,)).fetchone())


def _clerk_url(url: str, clerk: str) -> str:
    return url.replace(f"user={pg_server.OWNER}", f"user={clerk}")


@pytest.mark.parametrize("statement", [
    "DROP TRIGGER charge_no_update ON charge",
    "UPDATE charge SET amount = 1",
    "DELETE FROM receipt",
    "ALTER TABLE charge ADD COLUMN x INTEGER",
    "ALTER TABLE audit_event DISABLE TRIGGER USER",
    "TRUNCATE audit_event",
    "UPDATE charge_balance SET balance = 0",
    "SET session_replication_role = replica",
    "CREATE TABLE mine (a INTEGER)",
])
def test_a_clerk_cannot_change_history_or_the_schema(server_books, statement):
    cluster, url = server_books
    practice = _post_a_day()
    pg_admin.add_login(url.replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}"), "tb_clerk_ann", "clerk")
    before = _fingerprint(url)
    with psycopg.connect(_clerk_url(url, "tb_clerk_ann"), autocommit=True) as clerk:
        assert clerk.execute("SELECT current_user").fetchone() == ("tb_clerk_ann",)  # peer login as the clerk
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            clerk.execute(statement)
    assert _fingerprint(url) == before
    assert practice and run_check().ok


@pytest.mark.parametrize(("statement", "refused_for_clerk"), [
    ("INSERT INTO day_close (posting_date, closed_at, operator, totals) VALUES ('2026-11-16', 'now', 'x', '{}')", True),
    ("INSERT INTO role_grant (user, role, granted_by, granted_at) VALUES ('tb_clerk_ann', 'admin', 'me', 'now')", True),
    ("INSERT INTO payer (code, name, kind) VALUES ('ZZ', 'Mine', 'other')", True),
    ("INSERT INTO test_book (id, marked_by, marked_at, reason) VALUES (1, 'x', 'now', 'x')", True),
])
def test_the_app_roles_are_database_roles(server_books, statement, refused_for_clerk):
    """A clerk cannot give themselves a role, close a day or change master data with a database client."""
    cluster, url = server_books
    _post_a_day()
    superuser = url.replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}")
    pg_admin.add_login(superuser, "tb_clerk_ann", "clerk")
    before = _fingerprint(url)
    with psycopg.connect(_clerk_url(url, "tb_clerk_ann")) as clerk:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            clerk.execute(pg_dialect.translate(statement).sql)
    assert _fingerprint(url) == before
    # a supervisor may write what the app lets a supervisor write (here only the role grant stays refused)
    pg_admin.add_login(superuser, "tb_sup_cat", "supervisor")
    with psycopg.connect(_clerk_url(url, "tb_sup_cat")) as supervisor:
        if "role_grant" in statement or "test_book" in statement:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                supervisor.execute(pg_dialect.translate(statement).sql)
        else:
            supervisor.execute(pg_dialect.translate(statement).sql)
            supervisor.rollback()


def test_what_the_server_refuses_a_login_is_one_clear_line(server_books):
    cluster, url = server_books
    _post_a_day()
    pg_admin.add_login(url.replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}"), "tb_clerk_bob", "clerk")
    close_database()
    open_database(_clerk_url(url, "tb_clerk_bob"))  # an admin in the app (a test book), a clerk in the database
    with pytest.raises(BillingError, match=r"the database refused it: your login may not do this .*day_close"):
        ops.close_day("2026-11-16", ops.DepositCount(cash=2000))
    assert database.execute_sql("SELECT COUNT(*) FROM day_close").fetchone() == (0,)


def test_a_clerk_posts_through_the_program(server_books):
    cluster, url = server_books
    practice = _post_a_day()
    pg_admin.add_login(url.replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}"), "tb_clerk_bob", "clerk")
    close_database()
    open_database(_clerk_url(url, "tb_clerk_bob"))
    rid = ops.record_receipt(amount=700, method="check", patient_id=practice.patients[0], reference="1001").receipt_id
    cid = database.execute_sql("SELECT charge_id FROM charge_balance WHERE patient_id = ? AND balance > 0",
                               (practice.patients[0],)).fetchone()[0]
    ops.distribute(rid, [ops.DistributionLine(cid, applied=700)])  # running balances kept by the owner's triggers
    assert run_check().ok


def _post_a_day():
    import store_helpers

    practice = store_helpers.seed_practice()
    ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0], dos="2026-11-16",
                       diagnoses=["I10"], lines=[ops.ChargeLine("99213")])
    ops.record_receipt(amount=2000, method="cash", patient_id=practice.patients[0])
    return practice


def _fingerprint(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM charge), (SELECT sum(amount) FROM charge), (SELECT count(*) FROM receipt), "
            "(SELECT count(*) FROM audit_event), (SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger "
            "WHERE NOT tgisinternal), (SELECT count(*) FROM pg_attribute WHERE attrelid = 'charge'::regclass)").fetchall()


WRITER = textwrap.dedent("""
    import json, sys
    from tui_billing.store import open_database, BillingError
    from tui_billing.store import operations as ops
    url, worker, count, patient = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    open_database(url)
    acked = []
    for k in range(count):
        reference = f"w{worker}-{k}"
        try:
            ops.record_receipt(amount=100 + k, method="check", patient_id=patient, reference=reference)
        except BillingError as exc:  # refused, said so: not acknowledged
            print(json.dumps({"refused": str(exc)}), file=sys.stderr)
            continue
        acked.append(reference)
    print(json.dumps(acked))
""")


def test_eight_processes_posting_at_once(server_books):
    cluster, url = server_books
    practice = _post_a_day()
    writers, each = 8, int(os.environ.get("TUI_BILLING_PG_WRITES", "25"))
    env = dict(os.environ)  # the pinned day and operator: these are test books
    started = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), str(each), str(practice.patients[0])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for w in range(writers)]
    acked: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        acked += json.loads(out)
    elapsed = time.monotonic() - started
    rows = database.execute_sql("SELECT reference, COUNT(*) FROM receipt WHERE reference LIKE 'w%' GROUP BY reference").fetchall()
    found = dict(rows)
    assert sorted(found) == sorted(acked), "every acknowledged receipt once, nothing unacknowledged"
    assert set(found.values()) == {1}
    assert len(acked) == writers * each  # nobody had to give up (each waited its turn for the write lock)
    report = run_check()
    assert report.ok, report.problems
    print(f"\n8 writers on PostgreSQL: {len(acked)} receipts in {elapsed:.1f} s = {len(acked) / elapsed:.0f}/s "
          "(process start-up included)")


def test_live_refresh_hears_another_process_commit(server_books):
    from tui_billing.store import pg

    cluster, url = server_books
    practice = _post_a_day()
    listener = pg.Listener(url)
    try:
        assert not listener.wait(0.2)  # nothing written since it started listening
        before = pg.data_version(database.obj)
        ops.record_receipt(amount=100, method="cash", patient_id=practice.patients[0])
        assert listener.wait(5)
        assert pg.data_version(database.obj) > before
        assert not listener.wait(0.2)  # each commit heard once
    finally:
        listener.close()


# --------------------------------------------------------------------------- migrate --to


REPORTS = [
    ["report", "daysheet", "--date", DAYS[-1]], ["report", "daysheet", "--date", DAYS[2], "--by", "provider"],
    ["report", "deposit", "--date", DAYS[1]], ["report", "aging"], ["report", "aging", "--as-of", DAYS[3]],
    ["report", "aging", "--by", "patient"], ["report", "month", "--month", "2026-02"], ["report", "unapplied"],
    ["report", "audit"], ["report", "statement", "--all"], ["export", "journal"],
]


def test_migrate_moves_the_books_and_everything_agrees(pg_cluster, tmp_path, monkeypatch):
    path = tmp_path / "office.db"
    build(path, monkeypatch)
    close_database()
    url = pg_cluster.new_database()
    env = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": "alice"}
    try:
        runner = CliRunner()
        moved = runner.invoke(main, ["--db", str(path), "migrate", "--to", url], env=env)
        assert moved.exit_code == 0, (moved.output, moved.exception)
        for args in REPORTS:
            here = runner.invoke(main, ["--db", str(path), *args, *(["-f", "csv"] if args[0] == "report" else [])], env=env)
            there = runner.invoke(main, ["--db", url, *args, *(["-f", "csv"] if args[0] == "report" else [])], env=env)
            assert here.exit_code == 0 and there.exit_code == 0, (args, here.output, there.output)
            assert here.stdout == there.stdout, args
        checks = [runner.invoke(main, ["--db", db, "check", "--quick"], env=env) for db in (str(path), url)]
        assert [c.exit_code for c in checks] == [0, 0], [c.output for c in checks]
        lines = [[line for line in c.stdout.splitlines() if "TEST books" not in line] for c in checks]
        assert lines[0] == lines[1]
        # the keys, foreign keys and indexes taken off for the copy are all back, as a new database has them
        _has_the_structure_of_new_books(pg_cluster, url)
        again = runner.invoke(main, ["--db", str(path), "migrate", "--to", url], env=env)
        assert again.exit_code == 1 and "already holds books" in again.stderr
    finally:
        close_database()
        pg_cluster.drop_database(url)


def _has_the_structure_of_new_books(pg_cluster, url: str) -> None:
    """Every key, foreign key, index and trigger a load took off is back, as new books have them."""
    fresh = pg_cluster.new_database()
    try:
        assert _structure(url) == _structure(fresh)
    finally:
        pg_cluster.drop_database(fresh)


def _structure(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return sorted(conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace UNION ALL "
            "SELECT indrelid::regclass::text, indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = current_schema()::regnamespace UNION ALL "
            "SELECT tgrelid::regclass::text, tgname, tgenabled::text FROM pg_trigger WHERE NOT tgisinternal").fetchall())


def test_the_demo_builds_into_postgresql_the_same_books_as_into_a_file(pg_cluster, tmp_path):
    """The server's demo is the file's demo to the figure: its history sent as the file is written,
    the rest copied at the end, every report and both checks alike, the keys and triggers all back."""
    url = pg_cluster.new_database()
    path = tmp_path / "demo.db"
    today = "2026-03-16"
    env = {"TUI_BILLING_TODAY": today, "XDG_DATA_HOME": str(tmp_path)}
    runner = CliRunner()
    try:
        for db in (str(path), url):
            built = runner.invoke(main, ["--db", db, "demo", "--charges", "600", "--days", "45", "--seed", "4"], env=env)
            assert built.exit_code == 0, (built.output, built.exception)
            assert "charges 600" in built.stdout
        open_database(url)
        assert database.execute_sql("SELECT COUNT(*) FROM charge WHERE reverses_id IS NULL").fetchone()[0] == 600
        assert database.execute_sql("SELECT COUNT(*) FROM claim").fetchone()[0] > 0  # the claims history came too
        close_database()
        reports = [["report", "daysheet", "--date", today], ["report", "aging"], ["report", "aging", "--by", "patient"],
                   ["report", "month", "--month", "2026-02"], ["report", "unapplied"],
                   ["report", "claims"], ["export", "journal"]]  # (the audit trail's seal times are each build's own)
        for args in reports:
            here, there = (runner.invoke(main, ["--db", db, *args], env=env) for db in (str(path), url))
            assert here.exit_code == 0 and there.exit_code == 0, (args, here.output, there.output)
            assert here.stdout == there.stdout, args
        checks = [runner.invoke(main, ["--db", db, "check"], env=env) for db in (str(path), url)]
        assert [c.exit_code for c in checks] == [0, 0], [c.output for c in checks]
        lines = [[line for line in c.stdout.splitlines() if "TEST books" not in line] for c in checks]  # (when marked)
        assert lines[0] == lines[1] and lines[0][0].startswith("ok: ar ")
        _has_the_structure_of_new_books(pg_cluster, url)
    finally:
        close_database()
        pg_cluster.drop_database(url)


def test_a_demo_into_books_that_hold_books_is_refused_and_leaves_them_as_they_were(pg_cluster, monkeypatch, tmp_path):
    """The server's side fails first (the books are not empty): the build stops and says so."""
    url = pg_cluster.new_database()
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-03-16")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    try:
        first = CliRunner().invoke(main, ["--db", url, "demo", "--charges", "200", "--days", "10"])
        assert first.exit_code == 0, first.output
        with psycopg.connect(url) as conn:
            before = conn.execute("SELECT COUNT(*), MAX(hash) FROM audit_event").fetchone()
        again = CliRunner().invoke(main, ["--db", url, "demo", "--charges", "300", "--days", "10"])
        assert again.exit_code == 1 and "already holds books" in again.stderr, again.output
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT COUNT(*), MAX(hash) FROM audit_event").fetchone() == before
    finally:
        close_database()
        pg_cluster.drop_database(url)


def test_a_demo_that_fails_on_the_server_leaves_its_books_empty(pg_cluster, monkeypatch, tmp_path):
    """A failure in the middle of the build rolls the server's one transaction back."""
    from tui_billing import demo

    url = pg_cluster.new_database()
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-03-16")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))

    def broken(*args, **kwargs):
        raise BillingError("the claims history could not be written")

    monkeypatch.setattr(demo, "fill_demo_claims", broken)
    try:
        failed = CliRunner().invoke(main, ["--db", url, "demo", "--charges", "300", "--days", "20"])
        assert failed.exit_code == 1 and "claims history could not be written" in failed.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT COUNT(*) FROM charge").fetchone()[0] == 0
            assert conn.execute("SELECT COUNT(*) FROM audit_event").fetchone()[0] == 0
        _has_the_structure_of_new_books(pg_cluster, url)
    finally:
        close_database()
        pg_cluster.drop_database(url)


def test_the_demo_builds_into_postgresql(pg_cluster, today, tmp_path):
    """With its claims history, the 837P files it sent (kept in the clerk's data folder, named after the
    database), the acknowledgements it imported and sample 835s that `import era` posts into the server."""
    import hashlib
    from pathlib import Path

    url = pg_cluster.new_database()
    env = {"TUI_BILLING_TODAY": TODAY, "XDG_DATA_HOME": str(tmp_path)}
    try:
        built = CliRunner().invoke(main, ["--db", url, "demo", "--charges", "400", "--days", "20"], env=env)
        assert built.exit_code == 0, (built.output, built.exception)
        assert "charges 400" in built.stdout
        checked = CliRunner().invoke(main, ["--db", url, "check"], env=env)
        assert checked.exit_code == 0, checked.output
        samples = tmp_path / "tui-billing" / url.split("?")[0].rsplit("/", 1)[1]
        assert f"{samples}.claims" in built.stderr
        open_database(url)
        assert database.execute_sql("SELECT COUNT(*) FROM charge WHERE reverses_id IS NULL").fetchone()[0] == 400
        sent = database.execute_sql("SELECT path, sha256 FROM claim_file WHERE kind = '837P'").fetchall()
        assert sent and all(hashlib.sha256(Path(p).read_bytes()).hexdigest() == digest for p, digest in sent)
        assert {Path(p).parent for p, _ in sent} == {Path(f"{samples}.claims")}
        assert database.execute_sql("SELECT COUNT(*) FROM claim_file WHERE kind IN ('999', '277CA')").fetchone()[0]
        ready = database.execute_sql("SELECT COUNT(*) FROM claim_status WHERE status = 'ready'").fetchone()[0]
        assert ready > 0  # today's claims, scrubbed
        close_database()
        era = sorted(Path(f"{samples}.era").glob("*.835"))[0]
        posted = CliRunner().invoke(main, ["--db", url, "import", "era", str(era)], env=env)
        assert posted.exit_code == 0 and "lines posted automatically" in posted.stdout, posted.output
        open_database(url)
        assert database.execute_sql("SELECT COUNT(*) FROM remittance").fetchone()[0] >= 1
    finally:
        close_database()
        pg_cluster.drop_database(url)


CRASHING_WRITER = textwrap.dedent("""
    import os, sys
    from tui_billing.store import day_summary, open_database
    from tui_billing.store import operations as ops
    from tui_billing.store.validate import current_posting_date
    url, round_no, patient, charge = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    open_database(url)
    k = 0
    while True:  # a receipt, a distribution of a cent of it, and every third time a day close
        reference = f"crash{round_no}-{k}"
        rid = ops.record_receipt(amount=100 + k, method="check", patient_id=patient, reference=reference).receipt_id
        print("R", reference, flush=True)  # acknowledged: committed
        did = ops.distribute(rid, [ops.DistributionLine(charge, applied=1)])
        print("D", did, flush=True)
        if k % 3 == 2:  # the clock reaches the open day (test books take it from TUI_BILLING_TODAY), it closes
            day = current_posting_date()
            os.environ["TUI_BILLING_TODAY"] = day
            summary = day_summary(day)
            ops.close_day(day, ops.DepositCount(cash=summary.deposit.get("cash", 0),
                                                checks=summary.deposit.get("check", 0), check_count=summary.check_count))
            print("C", day, flush=True)
        k += 1
""")


def test_a_writer_killed_at_random_moments_keeps_every_acknowledged_entry(server_books):
    """SIGKILL (a dropped SSH session) anywhere in receipts, distributions and day closes, mid-transaction
    or between commit and acknowledgement: the server rolls the open transaction back; what was
    acknowledged stays, exactly once, and nothing else (but the one committed as it was killed)."""
    import random
    import signal

    cluster, url = server_books
    practice = _post_a_day()
    charge = database.execute_sql("SELECT id FROM charge ORDER BY id LIMIT 1").fetchone()[0]
    rng = random.Random(17)
    kills = int(os.environ.get("TUI_BILLING_PG_KILLS", "4"))
    acked: dict[str, list[str]] = {"R": [], "D": [], "C": []}

    def take(line: str) -> None:
        kind, _, value = line.strip().partition(" ")
        acked[kind].append(value)

    for round_no in range(kills):
        proc = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, url, str(round_no), str(practice.patients[0]),
                                 str(charge)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ))
        assert proc.stdout is not None
        for _ in range(rng.randint(2, 12)):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            take(line)
        time.sleep(rng.random() * 0.01)  # a fraction of a transaction more: the kill lands anywhere
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for line in proc.stdout.read().splitlines():
            if line.strip():
                take(line)
    receipts = dict(database.execute_sql(
        "SELECT reference, COUNT(*) FROM receipt WHERE reference LIKE 'crash%' GROUP BY reference").fetchall())
    assert set(acked["R"]) <= set(receipts), "an acknowledged receipt was lost"
    assert set(receipts.values()) == {1}, "a receipt was posted twice"
    assert len(receipts) - len(acked["R"]) <= kills  # committed, killed before its ack
    distributions = {str(r[0]) for r in database.execute_sql(
        "SELECT id FROM distribution WHERE reverses_id IS NULL").fetchall()}
    assert set(acked["D"]) <= distributions and len(distributions) - len(acked["D"]) <= kills
    closed = [r[0] for r in database.execute_sql("SELECT posting_date FROM day_close ORDER BY posting_date").fetchall()]
    assert acked["C"] and set(acked["C"]) <= set(closed) and len(closed) == len(set(closed))
    assert len(closed) - len(acked["C"]) <= kills
    report = run_check()  # the closes' totals still equal their days' rows
    assert report.ok, report.problems


def test_two_processes_cannot_apply_one_receipt_twice(server_books):
    """Both clerks read 200.00 unapplied and apply all of it at the same moment: the write lock makes the
    second one see the first's work, and it is refused."""
    import multiprocessing

    from test_receipts_concurrency import _clerk

    cluster, url = server_books
    practice = _post_a_day()
    payer = practice.payers[0]
    enc = ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0], dos="2026-11-16",
                             diagnoses=["I10"], lines=[ops.ChargeLine("99214")] * 4, payer_id=payer)
    charges = list(enc.charge_ids)
    rid = ops.record_receipt(amount=20000, method="check", payer_id=payer, reference="RACE").receipt_id
    close_database()
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_clerk, args=(url, rid, charges[:2], 10000, barrier, results)),
             ctx.Process(target=_clerk, args=(url, rid, charges[2:], 10000, barrier, results))]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert sorted(kind for kind, _ in outcomes) == ["posted", "refused"], outcomes
    open_database(url)
    assert database.execute_sql("SELECT unapplied FROM receipt_balance WHERE receipt_id = ?", (rid,)).fetchone() == (0,)
    assert run_check().ok


def test_an_admin_starts_server_books_as_the_readme_says(pg_cluster, office_books, monkeypatch):
    monkeypatch.delenv("TUI_BILLING_DB", raising=False)
    url = pg_cluster.new_database()
    try:
        pg_admin.add_login(url.replace(f"user={pg_server.OWNER}", f"user={pg_server.SUPERUSER}"), "tb_sup_cat", "admin")
        admin = _clerk_url(url, "tb_sup_cat")
        started = CliRunner().invoke(main, ["--db", admin, "init", "--practice", "Maple Family Medicine"])
        assert started.exit_code == 0, (started.output, started.exception)
        assert "is the admin of these books" in started.stdout
        assert f"database ready at {admin} (" in started.stdout  # the URL as given, not mangled by a Path
        added = CliRunner().invoke(main, ["--db", admin, "users", "add", "nobody", "clerk"])  # an OS account
        assert added.exit_code == 0, (added.output, added.exception)
        checked = CliRunner().invoke(main, ["--db", admin, "check"])
        assert checked.exit_code == 0, checked.output
        assert "TEST books" not in checked.stdout  # an office's books: the test hooks are not honoured
    finally:
        close_database()
        pg_cluster.drop_database(url)
