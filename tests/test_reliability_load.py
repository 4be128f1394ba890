"""Quick versions of the load proofs: several clerks at once, and a writer killed mid-flight.

The day closed under posting clerks and the killed writer run on both backends (a file, and
books on the session's PostgreSQL server); the contended file's online backup is SQLite's own.

The long versions run from ``bench/`` (``python bench/run.py``, ``python bench/crash.py --kills 50``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import crash
from bench.common import ROOT, child_env
from bench.concurrency import WorkerResult, _seed_in_child, cli_check, read_books, run_workers, verify


@pytest.fixture(params=["sqlite", "postgresql"])
def office(request, tmp_path) -> str:
    """Empty books for one test: a file under tmp_path, or a database on the session's PostgreSQL server."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_cluster").fresh_books()
    return str(tmp_path / "office.db")


@pytest.fixture(scope="module")
def contended_db(tmp_path_factory):
    """Four clerks posting at once into one file, with SQLite's online backup taken meanwhile; returns
    (path, results). (On a server: test_pg's eight writers; its backup is pg_dump's.)"""
    from tui_billing import codes

    codes.validate_icd10("J06.9")  # loaded once; the forked clerks inherit it
    folder = tmp_path_factory.mktemp("conc")
    path = str(folder / "office.db")
    setup = _seed_in_child(path, 4)
    backups: list[subprocess.CompletedProcess] = []

    def backup_while_posting() -> None:
        backups.append(subprocess.run([sys.executable, "-m", "tui_billing", "--db", path, "backup",
                                       str(folder / "backup.db")], capture_output=True, text=True,
                                      env=child_env(), cwd=ROOT, timeout=120))

    results, _wall = run_workers(path, 4, 10, setup, timeout=120, fork=True, during=backup_while_posting)
    return path, results, backups, folder / "backup.db"


def test_concurrent_clerks_lose_nothing_and_double_nothing(contended_db):
    path, results, _, _ = contended_db
    errors = [e for r in results for e in r.errors]
    assert errors == [], errors  # a "database is locked" would surface here
    assert all(len(r.acks) >= 10 * 3 for r in results)
    assert verify(path, results) == []
    ok, text = cli_check(path)
    assert ok, text


def test_verify_notices_a_lost_or_doubled_entry(contended_db):
    """The proof can fail: an acknowledged id that is not stored, or a stored one never acked."""
    path, results, _, _ = contended_db
    lost = WorkerResult(results[0].worker, acks=results[0].acks + [("R", 10**9)])
    assert any("missing" in p for p in verify(path, [lost]))
    dropped = WorkerResult(results[1].worker, acks=[a for a in results[1].acks if a[0] != "E"][:-1] +
                           [a for a in results[1].acks if a[0] == "E"][:-1])
    assert any("stored" in p for p in verify(path, [dropped]))


def test_backup_taken_while_clerks_post_is_whole(contended_db):
    _, _, backups, copy = contended_db
    (proc,) = backups
    assert proc.returncode == 0, proc.stderr
    ok, text = cli_check(str(copy))
    assert ok, text


def test_day_closed_while_clerks_post_keeps_every_entry_out_of_the_closed_day(office):
    """A supervisor closes today while three clerks post: their later work rolls to the next day.

    The close is refused (deposit differs) until it catches a moment where its count matches;
    after it, `tui-billing check` proves the close totals still equal the day's rows, and every
    acknowledged entry is present exactly once on one day or the next.
    """

    from tui_billing import codes
    from tui_billing.store import BillingError, close_database, day_summary, open_database
    from tui_billing.store import operations as ops

    codes.validate_icd10("J06.9")
    path = office
    setup = _seed_in_child(path, 3)
    today = ops.v.today().isoformat()
    outcome: dict[str, object] = {"refusals": 0}

    def supervisor() -> None:
        open_database(path, create=False)
        try:
            while "closed" not in outcome:
                summary = day_summary(today)
                if summary.receipt_count < 5:  # let the clerks get going first
                    continue
                deposit = summary.deposit
                try:
                    ops.close_day(today, ops.DepositCount(checks=deposit.get("check", 0),
                                                          check_count=summary.check_count), operator="sup")
                    outcome["closed"] = True
                except BillingError:
                    outcome["refusals"] = int(outcome["refusals"]) + 1
        finally:
            close_database()

    results, _ = run_workers(path, 3, 10, setup, timeout=120, fork=True, during=supervisor)
    assert [e for r in results for e in r.errors] == []
    assert outcome.get("closed"), outcome
    assert verify(path, results) == []
    ok, text = cli_check(path)
    assert ok, text
    with read_books(path) as con:
        closed_with = con.execute("SELECT COUNT(*) FROM receipt WHERE posting_date = ?", (today,)).fetchone()[0]
        later = con.execute("SELECT COUNT(*) FROM receipt WHERE posting_date > ?", (today,)).fetchone()[0]
    print(f"closed with {closed_with} receipts after {outcome['refusals']} refusals; {later} rolled over")
    assert closed_with >= 5 and closed_with + later == 30


def test_writer_killed_at_random_moments_keeps_every_acknowledged_entry(office):
    """Encounters, receipts, distributions and voids; on PostgreSQL the server rolls back the killed
    session's open transaction (SQLite: the -wal's uncommitted frames are ignored)."""
    figures = crash.run(office, kills=5, seed=11)
    assert figures["kills"] == 5
    assert figures["acknowledged_entries"] >= 5
    with read_books(office) as con:
        # One audit event per committed posting: nothing committed without its event.
        (events,) = con.execute("SELECT COUNT(*) FROM audit_event WHERE user LIKE 'w%'").fetchone()
        (rows,) = con.execute(
            "SELECT (SELECT COUNT(*) FROM encounter) + (SELECT COUNT(*) FROM receipt) "
            "+ (SELECT COUNT(*) FROM distribution)").fetchone()
        assert events == rows
