"""Issue 15, roles: admin, supervisor, clerk, kept in the books as versioned, audited grants.

These tests give every user a real grant (the test book's admin default is only for the admin who
makes them); the operator is switched with TUI_BILLING_OPERATOR, which a test book honours.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import BillingError, database, roles
from tui_billing.store import operations as ops
from tui_billing.store.operations import DepositCount
from tui_billing.store.roles import REFUND_LIMIT_CENTS

from raw_books import INTEGRITY, Raw


@pytest.fixture
def staff(practice, monkeypatch):
    """tester (no grant: the test book's admin) makes alice and carol clerks, sam a supervisor."""
    roles.grant("alice", "clerk")
    roles.grant("carol", "clerk")
    roles.grant("sam", "supervisor")

    def as_(user: str) -> None:
        monkeypatch.setenv("TUI_BILLING_OPERATOR", user)

    return as_


def events(action: str) -> list[tuple]:
    return database.execute_sql("SELECT user, detail FROM audit_event WHERE action = ? ORDER BY id",
                                (action,)).fetchall()


def refused(fn, *args, **kwargs) -> str:
    before = len(events("role_refused"))
    with pytest.raises(BillingError) as info:
        fn(*args, **kwargs)
    assert len(events("role_refused")) == before + 1  # audited, though the operation rolled back
    return str(info.value)


def encounter(practice, batch=None, patient=0):
    return ops.post_encounter(patient_id=practice.patients[patient], provider_id=practice.providers[0],
                              dos="2026-11-16", diagnoses=["J06.9"], lines=[ops.ChargeLine("99213")], batch_id=batch)


def test_closing_a_day_or_month_is_for_supervisors(staff, practice):
    staff("alice")
    message = refused(ops.close_day, None, DepositCount())
    assert message.startswith("alice (clerk) may not close a day") and "ask a supervisor or an admin (sam" in message
    user, detail = events("role_refused")[-1]
    assert user == "alice" and '"needs":"supervisor"' in detail
    assert database.execute_sql("SELECT COUNT(*) FROM day_close").fetchone()[0] == 0  # only the refusal was written
    refused(ops.close_month, "2026-10")
    staff("sam")
    ops.close_day(None, DepositCount())


def test_another_clerks_batch(staff, practice):
    staff("alice")
    batch = ops.open_batch("charge", 2, 20000)
    encounter(practice, batch)
    staff("carol")
    assert "post into alice's batch" in refused(encounter, practice, batch)
    assert "close alice's batch" in refused(ops.close_batch, batch)
    staff("sam")
    encounter(practice, batch)
    ops.close_batch(batch)


def test_correcting_or_cancelling_another_clerks_batch(staff, practice):
    from tui_billing.store import batches

    staff("alice")
    batch = ops.open_batch("charge", 2, 20000)
    empty = ops.open_batch("charge", 1, 100)
    batches.correct_control(batch, 3, 30000, "stack recounted")  # her own: a clerk may
    staff("carol")
    assert "correct or cancel alice's batch" in refused(batches.correct_control, batch, 1, 10000, "typo")
    assert "correct or cancel alice's batch" in refused(batches.cancel_empty_batch, empty, "opened twice")
    staff("sam")
    batches.correct_control(batch, 1, 10000, "typo")
    assert batches.cancel_empty_batch(empty, "opened twice").closed


def test_voids(staff, practice):
    staff("alice")
    own = encounter(practice)
    theirs = encounter(practice, patient=1)
    staff("carol")
    assert "entered by alice" in refused(ops.void, "encounter", theirs.encounter_id, "wrong patient")
    staff("alice")
    ops.void("encounter", own.encounter_id, "keyed twice")
    batch = ops.open_batch("charge", 1, 10000)
    in_batch = encounter(practice, batch)
    ops.close_batch(batch)
    assert "from a closed batch" in refused(ops.void, "encounter", in_batch.encounter_id, "late fix")
    staff("sam")
    ops.void("encounter", in_batch.encounter_id, "late fix")


def test_refunds_above_the_threshold_and_write_offs(staff, practice):
    staff("alice")
    big = ops.record_receipt(amount=REFUND_LIMIT_CENTS + 100, method="cash", patient_id=practice.patients[2])
    ops.refund(big.receipt_id, REFUND_LIMIT_CENTS, method="cash")  # at the threshold: a clerk may
    small = ops.record_receipt(amount=REFUND_LIMIT_CENTS + 200, method="cash", patient_id=practice.patients[2])
    assert "more than" in refused(ops.refund, small.receipt_id, REFUND_LIMIT_CENTS + 1, method="cash")
    charge = encounter(practice, patient=2).charge_ids[0]
    office_reason = database.execute_sql("SELECT code FROM adjustment_reason WHERE kind = 'office' LIMIT 1").fetchone()[0]
    carc = database.execute_sql("SELECT code FROM adjustment_reason WHERE kind = 'carc' LIMIT 1").fetchone()[0]
    assert "write off" in refused(ops.distribute, None, [ops.DistributionLine(charge, adjustment=1000, reason=office_reason)])
    ops.distribute(None, [ops.DistributionLine(charge, adjustment=1000, reason=carc)])
    staff("sam")
    ops.refund(small.receipt_id, REFUND_LIMIT_CENTS + 1, method="cash")
    ops.distribute(None, [ops.DistributionLine(charge, adjustment=1000, reason=office_reason)])


def test_master_data_and_fees(staff, practice):
    staff("alice")
    assert "ask a supervisor" in refused(ops.set_procedure, "99213", "Office visit", 99999)
    refused(ops.add_provider, "NEW", "New, Doc", "1234567893")
    refused(ops.add_payer, "NP", "New Payer", "commercial")
    refused(ops.set_practice, "Renamed")
    ops.add_patient("B001", "New", "Patient", "1999-01-01", "F")  # registering a patient is a clerk's work
    staff("sam")
    ops.set_procedure("99213", "Office visit", 12000)


def test_master_data_through_the_account_screens_store_is_a_supervisors_too(staff, practice):
    """The F7 master-data forms (store/accounts.py) ask the same rules as the operations."""
    from tui_billing.store import accounts as acc

    staff("alice")
    assert "ask a supervisor" in refused(acc.save_payer, acc.PayerIn("NP", "New Payer", "commercial"))
    refused(acc.save_provider, acc.ProviderIn("NEW", "Doc", "New", "1234567893"))
    refused(acc.set_fee, "99213", 99999, "2026-12-01")
    refused(acc.set_reason_active, "CO-45", False)
    staff("sam")
    payer = acc.save_payer(acc.PayerIn("NP", "New Payer", "commercial"))
    acc.save_payer(acc.PayerIn("NP", "New Payer Inc", "commercial"), payer)
    acc.set_fee("99213", 12500, "2026-12-01")


def test_users_are_managed_by_an_admin_with_versioned_audited_grants(staff, practice, db):
    staff("sam")
    assert "ask an admin" in refused(roles.grant, "alice", "supervisor")
    staff("tester")
    roles.grant("alice", "supervisor")
    roles.revoke("carol")
    assert roles.role_of("alice") == "supervisor" and roles.role_of("carol") == "none"
    history = database.execute_sql("SELECT user, role, granted_by FROM role_grant WHERE user = 'alice' ORDER BY id").fetchall()
    assert history == [("alice", "clerk", "tester"), ("alice", "supervisor", "tester")]
    assert [u for u, _ in events("grant_role")].count("tester") == 4 and len(events("revoke_role")) == 1
    staff("carol")
    assert "no role in these books" in refused(encounter, practice)
    con = Raw(db)
    with pytest.raises(INTEGRITY):
        con.execute("UPDATE role_grant SET role = 'admin' WHERE user = 'carol'")
    con.close()


def test_users_cli(staff, practice, db, monkeypatch):
    run = lambda *a: CliRunner().invoke(main, ["--db", str(db), "users", *a])  # noqa: E731
    staff("tester")
    assert run("add", "dave").exit_code == 0
    assert run("add", "dave").exit_code == 1  # already a user
    assert run("grant", "dave", "supervisor").stdout == "dave: supervisor\n"
    assert run("revoke", "dave").stdout == "dave: no role (revoked)\n"
    listed = run("list").stdout
    assert "dave" in listed and "sam" in listed and "supervisor" in listed
    staff("alice")
    result = run("grant", "alice", "admin")
    assert result.exit_code == 1 and "may not manage users" in result.stderr


def test_an_upgrade_makes_the_first_user_admin(tmp_path, office_books):
    """Books from before roles: whoever ran init (the first audit event) becomes their admin."""
    from tui_billing.store import close_database, open_database
    from tui_billing.store.migrations import MIGRATIONS, V7, migrate

    path = open_database(tmp_path / "old.db", migrate=False)
    try:
        migrate(database, MIGRATIONS.index(V7))  # the schema before roles
        database.execute_sql("INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash) "
                             "VALUES ('2026-01-01T00:00:00', 'olduser', 'set_practice', 'practice', 1, '{}', ?, ?)",
                             ("0" * 64, "1" * 64))
        migrate(database)
        assert roles.users() == [("olduser", "admin", "schema 7 upgrade", "2026-01-01T00:00:00")]
    finally:
        close_database()
    assert path.exists()


def test_office_books_take_only_real_accounts_and_the_os_user(tmp_path, office_books, monkeypatch):
    """In an office's books users are OS accounts, and the operator is the real uid whatever the environment."""
    import os
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "sam")  # not believed here
    db = tmp_path / "office.db"
    run = lambda *a: CliRunner().invoke(main, ["--db", str(db), *a])  # noqa: E731
    assert run("init").exit_code == 0
    bad = run("users", "add", "no-such-account-xyz")
    assert bad.exit_code == 1 and "is not a user account on this machine" in bad.stderr
    assert run("users", "add", "nobody").exit_code == 0
    me_too = run("users", "grant", me, "clerk")
    assert me_too.exit_code == 1 and "only admin" in me_too.stderr  # the books keep an admin


def test_a_supervisor_closes_a_balanced_batch_another_clerk_left_open(staff, practice, db):
    """The day's close names the batch and the command; a clerk is refused it, a supervisor runs it."""
    staff("alice")
    batch = ops.open_batch("charge", 1, 10000)
    encounter(practice, batch)
    staff("sam")
    problems = ops.close_day_problems(ops.v.current_posting_date(), None)
    assert f"charge batch {batch} (alice) is still open (balanced: `tui-billing close batch {batch}`)" in problems
    runner = CliRunner()
    staff("carol")
    refused_run = runner.invoke(main, ["--db", str(db), "close", "batch", str(batch)])
    assert refused_run.exit_code == 1 and "close alice's batch" in refused_run.output
    staff("sam")
    closed = runner.invoke(main, ["--db", str(db), "close", "batch", str(batch)])
    assert closed.exit_code == 0, closed.output
    assert f"charge batch {batch} (alice) closed: 1 / 100.00" in closed.output
    assert ops.batch_status(batch).closed
