"""The demo's claims: every queue has something, its sent files are real and recorded, `check` passes."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from tui_billing import demo
from tui_billing.store import close_database, database, open_database, run_check

from x12_check import assert_valid_x12

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
    files = database.execute_sql("SELECT id, path, sha256, interchange_number FROM claim_file "
                                 "WHERE kind = '837P'").fetchall()
    assert files
    for file_id, path, digest, isa13 in files:
        data = Path(path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
        assert f"*{isa13:09d}*" in data.decode()
        assert_valid_x12(data.decode())
        assert _count(f"SELECT COUNT(*) FROM claim_event WHERE file_id = {file_id} AND status = 'sent'") > 0


def test_the_demo_books_check(books: Path) -> None:
    report = run_check(integrity=False)
    assert report.ok, report.problems


def test_the_clearinghouses_answers_are_imported_or_wait_beside_the_files(books: Path) -> None:
    from tui_billing.claims import acks

    imported = database.execute_sql("SELECT kind, path, sha256 FROM claim_file WHERE kind IN ('999', '277CA')").fetchall()
    assert sorted({kind for kind, _, _ in imported}) == ["277CA", "999"]
    for _, path, digest in imported:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest
    # 277CA answers moved claims on: accepted with the payer's claim number, some rejected with a reason
    assert _count("SELECT COUNT(*) FROM claim_event e JOIN claim_file f ON f.id = e.file_id WHERE f.kind = '277CA' "
                  "AND e.status = 'accepted' AND e.payer_claim_number <> ''") > 0
    assert _count("SELECT COUNT(*) FROM claim_event e JOIN claim_file f ON f.id = e.file_id WHERE f.kind = '277CA' "
                  "AND e.status = 'rejected' AND e.reason LIKE '277CA: A7:562:85%'") > 0
    folder = Path(imported[0][1]).parent
    waiting = [p for p in folder.glob("*.x12") if str(p) not in {path for _, path, _ in imported}]
    assert waiting and all(isinstance(acks.parse(p.read_text()), (acks.Ack999, acks.Ack277)) for p in waiting)
    assert _count("SELECT COUNT(*) FROM claim_status WHERE status = 'sent'") > 0  # still awaiting an answer


def test_every_file_the_ready_claims_make_passes_pyx12(books: Path) -> None:
    from tui_billing.store import claims as cl

    ready = cl.queue("ready")
    assert ready
    # the demo's paper payers (receiver PAPER) are printed on CMS-1500 forms, not built into an 837P
    on_paper = {c.claim_id for c in cl.load_claims([r.id for r in ready]) if c.payer.receiver.upper() == "PAPER"}
    assert on_paper
    result = cl.build_batch(output_dir=None, validate_only=True)
    assert sorted([c for f in result.files for c in f.claims] + list(result.held)) == sorted(
        r.claim_id for r in ready if r.claim_id not in on_paper)
    for f in result.files:
        assert_valid_x12(f.text)


def test_the_demos_paper_claims_print_on_cms1500_forms(built: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import pypdfium2 as pdfium

    from tui_billing.store import claim_paper

    copy = tmp_path / "copy.db"  # printing batches claims: a copy, so the other tests see the demo as built
    shutil.copyfile(built, copy)
    copy.chmod(0o600)
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    open_database(copy)
    try:
        result = claim_paper.print_claims(fmt="pdf", output=tmp_path / "forms.pdf")
        assert result.claims and result.batched == result.claims
        doc = pdfium.PdfDocument(tmp_path / "forms.pdf")
        try:
            assert len(doc) == result.forms >= len(result.claims)
        finally:
            doc.close()
        assert _count(f"SELECT COUNT(*) FROM claim_event WHERE file_id = {result.file_id} AND status = 'batched'") \
            == len(result.claims)
    finally:
        close_database()
