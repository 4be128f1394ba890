"""Claims printed on CMS-1500 forms and acknowledgements imported (issue 13), in real books with the
real scrubber and 837P writer; the acknowledgements are X12 files on disk, read back through the CLI."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from claims_support import CLEARINGHOUSE, seed_claims_practice, visit
from click.testing import CliRunner

from tui_billing.claims import acks
from tui_billing.cli import main
from tui_billing.store import BillingError, close_database, database, open_database
from tui_billing.store import accounts as acc
from tui_billing.store import claim_paper as paper
from tui_billing.store import claims as cl

#: On PostgreSQL only the tests marked both_backends run too (printing and the acknowledgements): between them they reach
#: each kind of store write and read this module tests; the others mostly run that SQL again, and the CI
#: time budget has no room for them twice.
pytestmark = pytest.mark.sqlite_only(reason="the same store SQL as this module's both_backends tests")


@pytest.fixture
def books(db: Path):
    practice = seed_claims_practice()
    # a payer that takes paper only, and a patient it covers
    practice.payers.append(acc.save_payer(acc.PayerIn("PAPR", "County Paper Plan", "commercial", "CPP01",
                                                      address="PO Box 9", city="Peoria", state="IL", zip="61601",
                                                      receiver=paper.PAPER)))
    practice.patients.append(acc.register_patient(
        acc.PatientIn("Quill", "Penny", "1970-01-02", "F", address="5 Ink Street", city="Springfield", state="IL",
                      zip="62704"),
        [acc.CoverageDetails(practice.payers[-1], "P900", 1, group_no="PG1", effective="2026-01-01")],
        account="A009"))
    return practice


def _status(claim_id: str) -> str:
    return database.execute_sql("SELECT s.status FROM claim_status s JOIN claim k ON k.id = s.claim_id "
                                "WHERE k.claim_id = ?", (claim_id,)).fetchone()[0]


def _last_event(claim_id: str) -> tuple[str, str, str]:
    return database.execute_sql(
        "SELECT e.status, e.reason, e.payer_claim_number FROM claim_event e JOIN claim k ON k.id = e.claim_id "
        "WHERE k.claim_id = ? ORDER BY e.id DESC LIMIT 1", (claim_id,)).fetchone()


def _claims_of(payer: int) -> list[str]:
    return [r[0] for r in database.execute_sql("SELECT claim_id FROM claim WHERE payer_id = ? ORDER BY id",
                                               (payer,)).fetchall()]


@pytest.mark.both_backends
def test_printing_batches_the_paper_payers_ready_claims_in_a_private_recorded_file(books, tmp_path: Path):
    visit(books.patients[-1], provider=books.providers[0], codes=("99213", "85025", "99214", "36415", "36415",
                                                                   "99213", "85025"))
    visit(books.patients[0], provider=books.providers[0])  # the clearinghouse's: not on paper
    cl.create_claims()
    (paper_claim,) = _claims_of(books.payers[-1])
    (edi_claim,) = _claims_of(books.payers[0])
    # an 837P build leaves the paper payer's claim alone (its receiver is PAPER: printed, never sent)
    (built,) = cl.build_batch(output_dir=tmp_path).files
    assert built.claims == (edi_claim,) and _status(paper_claim) == "ready"
    out = tmp_path / "forms.txt"
    result = paper.print_claims(fmt="text", output=out)
    assert result.claims == result.batched == (paper_claim,)
    assert result.forms == 2  # seven lines: six on the first form, one on the second
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = out.read_bytes()
    pages = data.decode("ascii").split("\f")[:-1]
    assert len(pages) == 2 and all(len(page.split("\n")) == 66 for page in pages)
    assert "QUILL, PENNY" in pages[0] and "P900" in pages[0]
    kind, path, digest, claims = database.execute_sql(
        "SELECT kind, path, sha256, claims FROM claim_file WHERE id = ?", (result.file_id,)).fetchone()
    assert (kind, path, digest, claims) == ("cms1500", str(out), hashlib.sha256(data).hexdigest(), 1)
    assert _status(paper_claim) == "batched" and _status(edi_claim) == "batched"
    assert cl.mark_sent(result.file_id) == 1 and _status(paper_claim) == "sent"
    with pytest.raises(BillingError, match="no ready claims for paper payers"):
        paper.print_claims(fmt="text", output=tmp_path / "again.txt")
    assert not (tmp_path / "again.txt").exists()


def test_a_claim_named_is_printed_as_a_copy_when_it_is_not_ready(books, tmp_path: Path):
    visit(books.patients[-1], provider=books.providers[0])
    cl.create_claims()
    (claim_id,) = _claims_of(books.payers[-1])
    paper.print_claims(fmt="text", output=tmp_path / "first.txt")
    out = tmp_path / "copy.pdf"
    result = paper.print_claims([claim_id], fmt="pdf", output=out, offset_x=3.6, offset_y=-2.0)
    assert result.claims == (claim_id,) and result.batched == ()
    assert _status(claim_id) == "batched"
    doc = pdfium.PdfDocument(out.read_bytes())
    try:
        text = doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    assert "QUILL, PENNY" in text and "COUNTY PAPER PLAN" in text
    with pytest.raises(BillingError, match="a printout never replaces another"):
        paper.print_claims([claim_id], fmt="pdf", output=out)


def test_offsets_are_for_the_pdf_and_an_unknown_claim_is_named(books, tmp_path: Path, dump):
    visit(books.patients[-1], provider=books.providers[0])
    cl.create_claims()
    before = dump()
    with pytest.raises(BillingError, match="offsets are for --format pdf"):
        paper.print_claims(fmt="text", output=tmp_path / "x.txt", offset_x=7.2)
    with pytest.raises(BillingError, match="no claim NOPE"):
        paper.print_claims(["NOPE"], fmt="text", output=tmp_path / "y.txt")
    assert dump() == before and not list(tmp_path.glob("*.txt"))


# --------------------------------------------------------------------------- acknowledgements


def _sent_batch(books, tmp_path: Path, mark_sent: bool = True) -> tuple[cl.BatchFile, list[str]]:
    visit(books.patients[0], provider=books.providers[0])
    visit(books.patients[1], provider=books.providers[0])
    visit(books.patients[0], provider=books.providers[1], dos="2026-11-11")
    cl.create_claims()
    out = tmp_path / "out"
    out.mkdir()
    files = {f.receiver: f for f in cl.build_batch(output_dir=out).files}
    batch = files[CLEARINGHOUSE]
    if mark_sent:
        cl.mark_sent(batch.file_id)
    return batch, list(batch.claims)


ENV = acks.Envelope(CLEARINGHOUSE, "MAPLE01", "2026-11-17", control=700)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="ascii")
    return path


def _sample(claims: list[str], **rejected: str) -> list[acks.SampleClaim]:
    return [acks.SampleClaim(c, 100_00, "DOE", "JANE", "M100", accept=c not in rejected,
                             reason=rejected.get(c, "A7:562:85")) for c in claims]


def test_a_rejected_transaction_set_rejects_every_claim_batched_in_it(books, tmp_path: Path):
    batch, claims = _sent_batch(books, tmp_path)
    assert len(claims) == 3
    sent = acks.SampleFile(batch.interchange_number, batch.group_number, "0001", _sample(claims), reject_file=True)
    path = _write(tmp_path, "999.x12", acks.sample_acks(sent, ENV)["999"])
    result = paper.import_ack(path)
    assert result.kind == "999" and result.unknown == ()
    assert sorted(c for c, _, _ in result.events) == sorted(claims)
    for claim_id in claims:
        status, reason, _ = _last_event(claim_id)
        assert status == "file_rejected" and "transaction set 0001 rejected (R: 5; IK3 NM1 22 8)" in reason
    with pytest.raises(BillingError, match="was imported before"):
        paper.import_ack(path)
    assert [r.claim_id for r in cl.queue("file_rejected")] == sorted(claims)


@pytest.mark.both_backends
def test_an_accepting_999_then_a_277ca_accepts_and_rejects_claim_by_claim(books, tmp_path: Path):
    batch, claims = _sent_batch(books, tmp_path)
    sent = acks.SampleFile(batch.interchange_number, batch.group_number, "0001",
                           _sample(claims, **{claims[1]: "A7:562:85"}))
    files = acks.sample_acks(sent, ENV, with_ta1=True)
    ok = paper.import_ack(_write(tmp_path, "999.x12", files["999"]))
    # sent already: the 999's acceptance confirms it and changes nothing
    assert ok.events == () and ok.unchanged == () and ok.confirmed == tuple(sorted(claims))
    # the payer's free text (STC12) comes in with a control character: kept as plain text
    text = files["277CA"].replace("*U*100~", "*U*100********NPI\x1b[2J NOT ON FILE~")
    result = paper.import_ack(_write(tmp_path, "277.x12", text))
    assert result.counts() == {"accepted": 2, "rejected": 1}
    status, reason, number = _last_event(claims[0])
    assert status == "accepted" and number == "PCN" + claims[0].replace("-", "")[-14:]
    rejected = _last_event(claims[1])
    assert rejected == ("rejected", "277CA: A7:562:85 (NPI [2J NOT ON FILE)", "")
    # the payer's claim number is kept on the event, for a correction to quote (REF*F8, box 22)
    kept = database.execute_sql("SELECT e.payer_claim_number FROM claim_event e JOIN claim k ON k.id = e.claim_id "
                                "WHERE k.claim_id = ? AND e.status = 'accepted'", (claims[0],)).fetchone()[0]
    assert kept == number
    new_row, _ = cl.correct(claims[0])  # the correction quotes it: a frequency 7 with the payer's number
    (replacement,) = cl.load_claims([new_row])
    assert (replacement.frequency, replacement.payer_claim_number) == ("7", number)


def test_a_ta1_that_rejects_the_interchange_rejects_its_claims(books, tmp_path: Path):
    batch, claims = _sent_batch(books, tmp_path)
    text = acks.render_999(acks.Ack999("000000701", acks.Interchange(f"{batch.interchange_number:09d}", "R", "024"),
                                       ()), ENV)
    result = paper.import_ack(_write(tmp_path, "ta1.x12", text))
    assert sorted(c for c, _, _ in result.events) == sorted(claims)
    assert all(s == "file_rejected" and "TA1" in r and "024" in r for _, s, r in result.events)


def test_a_277ca_for_claims_we_never_sent_changes_nothing_and_says_so(books, tmp_path: Path, dump):
    batch, claims = _sent_batch(books, tmp_path)
    sent = acks.SampleFile(batch.interchange_number, batch.group_number, "0001", _sample(["NOTOURS-1"]))
    result = paper.import_ack(_write(tmp_path, "277.x12", acks.sample_acks(sent, ENV)["277CA"]))
    assert result.events == () and result.unknown == ("claim NOTOURS-1",)
    assert all(_status(c) == "sent" for c in claims)


def test_what_is_not_an_acknowledgement_is_refused_and_nothing_is_recorded(books, tmp_path: Path, dump):
    batch, _ = _sent_batch(books, tmp_path)
    before = dump()
    with pytest.raises(BillingError, match="transaction set 837"):
        paper.import_ack(batch.path)
    with pytest.raises(BillingError, match="not an X12 file"):
        paper.import_ack(_write(tmp_path, "junk.x12", "hello"))
    assert dump() == before


@pytest.mark.both_backends
def test_the_cli_imports_an_ack_and_prints_forms(books, tmp_path: Path, db: Path):
    batch, claims = _sent_batch(books, tmp_path)
    visit(books.patients[-1], provider=books.providers[0])
    cl.create_claims()
    sent = acks.SampleFile(batch.interchange_number, batch.group_number, "0001", _sample(claims), reject_file=True)
    ack = _write(tmp_path, "999.x12", acks.sample_acks(sent, ENV)["999"])
    close_database()
    runner = CliRunner()
    try:
        first = runner.invoke(main, ["--db", str(db), "import", "ack", str(ack)])
        again = runner.invoke(main, ["--db", str(db), "import", "ack", str(ack)])
        pdf = tmp_path / "forms.pdf"
        printed = runner.invoke(main, ["--db", str(db), "claims", "print", "--format", "pdf", "--output", str(pdf),
                                       "--offset-x", "3", "--offset-y", "-1.5"])
        calibration = runner.invoke(main, ["--db", str(db), "claims", "print", "--calibration"])
        bad = runner.invoke(main, ["--db", str(db), "claims", "print", "--format", "pdf"])
    finally:
        close_database()
    assert first.exit_code == 0, first.output
    assert "3 file_rejected" in first.output and claims[0] in first.output
    assert again.exit_code == 1 and "was imported before" in again.output
    assert printed.exit_code == 0, printed.output
    assert pdf.read_bytes().startswith(b"%PDF") and "1 claim(s) on 1 form(s)" in printed.output
    assert calibration.exit_code == 0 and "1A#####" in calibration.output and "\f" in calibration.output
    assert bad.exit_code == 1 and "a PDF needs --output FILE" in bad.output
    open_database(db)


@pytest.mark.both_backends
def test_the_demos_sample_acknowledgements_import_into_accepted_and_rejected_claims(books, tmp_path: Path):
    from x12_check import assert_valid_x12

    batch, claims = _sent_batch(books, tmp_path)
    out = tmp_path / "acks"
    out.mkdir()
    files = paper.write_sample_acks(out, reject_claim_every=2, on_date="2026-11-17")
    assert sorted(p.name.split("-")[0] for p in files) == ["277CA", "999"]  # one 837P file, one of each
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    for path in sorted(files, key=lambda p: p.name.startswith("277CA")):  # the 999s first, as they come
        assert_valid_x12(path.read_text(encoding="ascii"))
        paper.import_ack(path)
    statuses = sorted(_status(c) for c in claims)
    assert statuses == ["accepted", "accepted", "rejected"]  # the second claim of the run is rejected
    rejected = [c for c in claims if _status(c) == "rejected"]
    assert _last_event(rejected[0])[1] == "277CA: A7:562:85"


@pytest.mark.both_backends
def test_a_999_accepting_a_file_not_yet_marked_sent_marks_its_claims_sent(books, tmp_path: Path):
    batch, claims = _sent_batch(books, tmp_path, mark_sent=False)
    assert {_status(c) for c in claims} == {"batched"}
    sent = acks.SampleFile(batch.interchange_number, batch.group_number, "0001", _sample(claims))
    result = paper.import_ack(_write(tmp_path, "999.x12", acks.sample_acks(sent, ENV)["999"]))
    assert result.counts() == {"sent": 3} and result.confirmed == ()
    assert {_last_event(c)[:2] for c in claims} == {("sent", "999: transaction set 0001 accepted")}
