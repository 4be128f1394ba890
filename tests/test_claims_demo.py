"""The demo's claims: every queue has something, its sent files are real and recorded, `check` passes."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tui_billing import demo
from tui_billing.store import close_database, database, open_database, run_check

TODAY = "2026-11-16"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("claims-demo") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUI_BILLING_TODAY", TODAY)
        demo.build_demo(path, charges=3000, patients=300, days=60, seed=3, progress=False)
    return path


@pytest.fixture
def books(built: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    open_database(built)
    yield built
    close_database()


def _count(sql: str) -> int:
    return database.execute_sql(sql).fetchone()[0]


def test_every_queue_has_claims(books: Path) -> None:
    statuses = dict(database.execute_sql("SELECT status, COUNT(*) FROM claim_status GROUP BY status").fetchall())
    for status in ("ready", "sent", "accepted", "paid"):
        assert statuses.get(status, 0) > 0, statuses
    assert statuses.get("rejected", 0) + statuses.get("denied", 0) > 0
    # every claim's total is its lines', and every charge is on at most one live claim per payer
    assert _count("SELECT COUNT(*) FROM claim k WHERE total <> (SELECT SUM(charge) FROM claim_line l "
                  "WHERE l.claim_id = k.id)") == 0
    assert _count("SELECT COUNT(*) FROM (SELECT l.charge_id, k.payer_id FROM claim_line l JOIN claim k "
                  "ON k.id = l.claim_id JOIN claim_status s ON s.claim_id = k.id WHERE s.status NOT IN "
                  "('voided','replaced') GROUP BY 1, 2 HAVING COUNT(*) > 1)") == 0
    # the claim's status is its latest event
    assert _count("SELECT COUNT(*) FROM claim_status s WHERE s.event_id <> (SELECT MAX(id) FROM claim_event e "
                  "WHERE e.claim_id = s.claim_id)") == 0


def test_the_sent_files_are_real(books: Path) -> None:
    files = database.execute_sql("SELECT id, path, sha256, interchange_number FROM claim_file").fetchall()
    assert files
    for file_id, path, digest, isa13 in files:
        data = Path(path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
        assert f"*{isa13:09d}*" in data.decode()
        assert _count(f"SELECT COUNT(*) FROM claim_event WHERE file_id = {file_id} AND status = 'sent'") > 0


def test_the_demo_books_check(books: Path) -> None:
    report = run_check(integrity=False)
    assert report.ok, report.problems
