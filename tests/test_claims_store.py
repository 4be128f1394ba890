"""Claims in the books (issue 13): made from posted charges, scrubbed, batched, sent, corrected, voided.

Real parts only: the real scrubber and 837P writer, real files on disk, the real guards.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from claims_support import CLEARINGHOUSE, seed_claims_practice, visit

from tui_billing.claims import model as m
from tui_billing.store import BillingError, database, roles
from tui_billing.store import accounts as acc
from tui_billing.store import claims as cl
from tui_billing.store import operations as ops

from raw_books import REFUSED, Raw, is_server
from x12_check import assert_valid_x12

#: On PostgreSQL only the tests marked both_backends run too (the claims store): between them they reach
#: each kind of store write and read this module tests; the others mostly run that SQL again, and the CI
#: time budget has no room for them twice.
pytestmark = pytest.mark.sqlite_only(reason="the same store SQL as this module's both_backends tests")


@pytest.fixture
def books(db: Path):
    return seed_claims_practice()


def _status(claim_row: int) -> str:
    return database.execute_sql("SELECT status FROM claim_status WHERE claim_id = ?", (claim_row,)).fetchone()[0]


def _isa13(text: str) -> int:
    return int(text.split("~", 1)[0].split(text[3])[13])


@pytest.mark.both_backends
def test_one_claim_per_encounter_and_payer_owing_lines(books) -> None:
    enc = visit(books.patients[2], provider=books.providers[1])  # Medicare primary, Acme secondary
    ops.transfer_to_payer([enc.charge_ids[1]], books.payers[0])  # the lab line now sits with the secondary
    made = cl.create_claims()
    assert len(made.created) == 2 and not made.held
    claims = {c.payer.id: c for c in cl.load_claims(list(made.created))}
    medicare, acme = claims[books.payers[1]], claims[books.payers[0]]
    assert [ln.charge_id for ln in medicare.lines] == [enc.charge_ids[0]] and medicare.responsibility == "P"
    assert [ln.charge_id for ln in acme.lines] == [enc.charge_ids[1]] and acme.responsibility == "S"
    assert acme.subscriber.member_id == "M201" and medicare.subscriber.member_id == "1EG4TE5MK72"
    assert cl.create_claims().created == ()  # nothing is claimed twice for the same payer


def test_voided_charges_and_self_pay_are_not_claimed(books) -> None:
    voided = visit(books.patients[0], provider=books.providers[0])
    ops.void("encounter", voided.encounter_id, "keyed twice")
    visit(books.patients[0], provider=books.providers[0], payer=None)  # the patient pays
    assert cl.create_claims().created == ()


def test_claim_records_carry_what_the_writers_need(books) -> None:
    enc = visit(books.patients[1], provider=books.providers[0], diagnoses=("J06.9", "E11.9"))
    (row,) = cl.create_claims().created
    (claim,) = cl.load_claims([row])
    assert claim.claim_id == cl.claim_number(row) and len(claim.claim_id) <= 17
    assert claim.frequency == m.ORIGINAL and claim.account == "A002"
    assert claim.patient.first == "Tim" and claim.subscriber.relationship == "child"
    assert claim.subscriber.person.first == "Jane" and claim.subscriber.person.dob == "1980-02-03"
    assert claim.diagnoses == ("J06.9", "E11.9")
    assert claim.billing.npi and claim.billing.ein == "123456789" and claim.billing.address.zip == "627011234"
    assert claim.rendering.last == "Smith" and claim.payer.receiver == CLEARINGHOUSE
    assert [ln.charge_id for ln in claim.lines] == list(enc.charge_ids)
    assert [ln.control_number for ln in claim.lines] == [f"{claim.claim_id}-1", f"{claim.claim_id}-2"]
    assert claim.total == enc.total == sum(ln.charge for ln in claim.lines)
    total = database.execute_sql("SELECT total FROM claim WHERE id = ?", (row,)).fetchone()[0]
    assert total == claim.total


@pytest.mark.both_backends
def test_held_with_reasons_until_fixed(books) -> None:
    visit(books.patients[0], provider=books.providers[0], payer=books.payers[2])  # a payer she has no coverage with
    made = cl.create_claims()
    (row,) = made.created
    assert made.held[row] and "member" in made.held[row].lower()
    (held,) = cl.queue("held")
    assert held.id == row and held.reasons == made.held[row]
    again = cl.scrub_claims()
    assert again.held == {row: made.held[row]}
    events = database.execute_sql("SELECT COUNT(*) FROM claim_event WHERE claim_id = ?", (row,)).fetchone()[0]
    assert events == 1  # the same verdict is not written again
    # she changed plans on November 1st: the clerk ends the old one and keys the new
    old = database.execute_sql("SELECT id FROM coverage WHERE patient_id = ?", (books.patients[0],)).fetchone()[0]
    acc.end_coverage(old, "2026-10-31")
    acc.add_coverage(books.patients[0], acc.CoverageDetails(books.payers[2], "N55", 1, effective="2026-11-01"))
    # the claim was made without a coverage: a correction picks the new one up
    new, verdict = cl.correct(row)
    assert verdict == "ready" and _status(row) == "replaced"
    (fixed,) = cl.load_claims([new])
    assert fixed.subscriber.member_id == "N55" and fixed.frequency == m.ORIGINAL  # never sent: a new original


def test_a_held_claim_becomes_ready_when_its_data_is_fixed(books) -> None:
    pid = acc.register_patient(acc.PatientIn("Poe", "Ed", "1990-01-01", "M", address="1 Way", city="Springfield",
                                             state="IL", zip="62701"),
                               [acc.CoverageDetails(books.payers[0], "TMP1", 1, effective="2026-01-01")])
    cov = database.execute_sql("SELECT id FROM coverage WHERE patient_id = ?", (pid,)).fetchone()[0]
    visit(pid, provider=books.providers[0], dos="2025-06-01", payer=books.payers[0])  # before the coverage began
    (row,) = cl.create_claims().created
    assert _status(row) == "held"
    acc.update_coverage(cov, effective="2025-01-01")
    assert cl.scrub_claims().ready == (row,) and _status(row) == "ready"


def test_build_writes_one_private_file_per_receiver(books, tmp_path: Path, dump) -> None:
    visit(books.patients[0], provider=books.providers[0])
    visit(books.patients[1], provider=books.providers[0])
    visit(books.patients[2], provider=books.providers[1])
    made = cl.create_claims()
    assert not made.held
    out = tmp_path / "out"
    out.mkdir()
    result = cl.build_batch(output_dir=out)
    assert sorted(f.receiver for f in result.files) == [CLEARINGHOUSE, "MCR01"]
    for f in result.files:
        path = Path(f.path)
        data = path.read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert hashlib.sha256(data).hexdigest() == f.sha256
        row = database.execute_sql("SELECT sha256, interchange_number, group_number, receiver, kind, claims, total "
                                   "FROM claim_file WHERE id = ?", (f.file_id,)).fetchone()
        assert row == (f.sha256, f.interchange_number, f.group_number, f.receiver, "837P", len(f.claims), f.total)
        assert _isa13(data.decode()) == f.interchange_number == 1
        for claim_id in f.claims:
            assert claim_id in data.decode()
        assert_valid_x12(data.decode())  # what a clearinghouse's validator says of the file we send
    assert {_status(r) for r in made.created} == {"batched"}
    before = dump()
    assert cl.build_batch(output_dir=out).files == ()  # nothing ready: no file, no control number
    assert dump() == before
    visit(books.patients[0], provider=books.providers[0], dos="2026-11-11")
    cl.create_claims()
    (second,) = cl.build_batch(output_dir=out).files
    assert second.receiver == CLEARINGHOUSE and second.interchange_number == 2 and second.group_number == 2
    assert len(list(out.iterdir())) == 3


@pytest.mark.both_backends
def test_a_file_is_never_overwritten_and_the_books_keep_nothing_of_a_failed_build(books, tmp_path: Path,
                                                                                 dump) -> None:
    visit(books.patients[0], provider=books.providers[0])
    cl.create_claims()
    squatter = tmp_path / f"837P-{CLEARINGHOUSE}-000000001.x12"
    squatter.write_text("someone else's")
    before = dump()
    with pytest.raises(BillingError, match="already exists"):
        cl.build_batch(output_dir=tmp_path)
    assert squatter.read_text() == "someone else's"
    assert dump() == before  # the control number was not used up, the claim is still ready
    # (on SQLite the books' own files live in tmp_path too)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("billing.db")] == [squatter.name]


def test_validate_only_uses_no_control_numbers_and_changes_nothing(books, tmp_path: Path, dump) -> None:
    visit(books.patients[0], provider=books.providers[0])
    visit(books.patients[2], provider=books.providers[1])
    cl.create_claims()
    before = dump()
    out = tmp_path / "out"
    out.mkdir()
    result = cl.build_batch(output_dir=out, validate_only=True)
    assert result.validate_only and len(result.files) == 2
    assert all(f.text.startswith("ISA") and f.interchange_number == 1 and not f.path for f in result.files)
    for f in result.files:
        assert_valid_x12(f.text)
    assert dump() == before and list(out.iterdir()) == []
    (real, _) = cl.build_batch(output_dir=out).files
    assert real.interchange_number == 1  # the dry run took no number


@pytest.mark.both_backends
def test_receiver_settings_choose_production(books, tmp_path: Path) -> None:
    cl.set_receiver(CLEARINGHOUSE, "Clearing House Inc", True)
    visit(books.patients[0], provider=books.providers[0])
    cl.create_claims()
    (f,) = cl.build_batch(output_dir=tmp_path, receiver=CLEARINGHOUSE).files
    isa = Path(f.path).read_text().split("~", 1)[0]
    assert isa.split(isa[3])[15] == "P"
    assert database.execute_sql("SELECT production FROM claim_file").fetchone()[0] == 1


@pytest.mark.both_backends
def test_build_for_one_receiver_leaves_the_others_ready(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    visit(books.patients[2], provider=books.providers[1])
    cl.create_claims()
    (f,) = cl.build_batch(output_dir=tmp_path, receiver="mcr01").files
    assert f.receiver == "MCR01"
    assert [q.payer for q in cl.queue("ready")] == ["ACME"]


@pytest.mark.both_backends
def test_mark_sent_and_the_queues(books, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    visit(books.patients[0], provider=books.providers[0])
    visit(books.patients[1], provider=books.providers[0])
    made = cl.create_claims()
    (f,) = cl.build_batch(output_dir=tmp_path).files
    assert cl.mark_sent(f.file_id) == 2
    with pytest.raises(BillingError, match="already marked sent"):
        cl.mark_sent(f.file_id)
    with pytest.raises(BillingError, match="no claim file"):
        cl.mark_sent(999)
    assert {_status(r) for r in made.created} == {"sent"}
    rows = cl.queue("sent")
    assert [r.claim_id for r in rows] == [cl.claim_number(r) for r in made.created]
    assert rows[0].account == "A001" and rows[0].patient == "Doe, Jane" and rows[0].total == 12500
    cl.record_events([(made.created[0], "accepted", "")], payer_claim_numbers={made.created[0]: "PCN1"})
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-31")
    (late,) = cl.queue("accepted", older_than_days=30)
    assert late.id == made.created[0] and late.age == 45
    assert cl.queue("accepted", older_than_days=45) == []
    with pytest.raises(BillingError, match="status must be"):
        cl.queue("lost")


@pytest.mark.both_backends
def test_a_replacement_carries_the_payers_claim_number(books, tmp_path: Path) -> None:
    enc = visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    (f,) = cl.build_batch(output_dir=tmp_path).files
    cl.mark_sent(f.file_id)
    cl.record_events([(row, "accepted", "")], payer_claim_numbers={row: "PAYER-77"})
    ops.void("encounter", enc.encounter_id, "wrong code")
    fixed = visit(books.patients[0], provider=books.providers[0], codes=("99214", "85025"))
    new, verdict = cl.correct(row, encounter=fixed.encounter_id, reason="99214, not 99213")
    assert verdict == "ready" and _status(row) == "replaced"
    (claim,) = cl.load_claims([new])
    assert claim.frequency == m.REPLACEMENT and claim.payer_claim_number == "PAYER-77"
    assert [ln.charge_id for ln in claim.lines] == list(fixed.charge_ids)
    assert database.execute_sql("SELECT replaces_claim_id FROM claim WHERE id = ?", (new,)).fetchone()[0] == row
    assert cl.create_claims().created == ()  # the new charges are on the replacement already
    (replacement,) = cl.build_batch(output_dir=tmp_path).files
    text = Path(replacement.path).read_text()
    assert_valid_x12(text)
    assert "REF*F8*PAYER-77~" in text
    with pytest.raises(BillingError, match="already replaced"):
        cl.correct(row)


def test_a_correction_with_nothing_owed_is_refused(books) -> None:
    enc = visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    ops.void("encounter", enc.encounter_id, "not seen after all")
    with pytest.raises(BillingError, match="nothing owed"):
        cl.correct(row)  # nothing left to send instead: a void is what is asked
    assert cl.void(row) is None and _status(row) == "voided"


def test_a_correction_names_an_encounter_of_the_same_patient(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    other = visit(books.patients[1], provider=books.providers[0])
    with pytest.raises(BillingError, match="another patient"):
        cl.correct(row, encounter=other.encounter_id)
    assert _status(row) == "ready"


@pytest.mark.both_backends
def test_void_of_a_sent_claim_is_a_frequency_8_claim_and_a_supervisors(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    (f,) = cl.build_batch(output_dir=tmp_path).files
    cl.mark_sent(f.file_id)
    cl.record_events([(row, "accepted", "")], payer_claim_numbers={row: "PAYER-9"})
    roles.grant("clerkina", "clerk")
    with pytest.raises(BillingError, match="may not void claim"):
        cl.void(row, operator="clerkina")
    assert _status(row) == "accepted"
    new = cl.void(row, reason="billed the wrong payer")
    assert new is not None and _status(row) == "voided" and _status(new) == "ready"
    (claim,) = cl.load_claims([new])
    assert claim.frequency == m.VOID and claim.payer_claim_number == "PAYER-9"
    (void_file,) = cl.build_batch(output_dir=tmp_path).files
    text = Path(void_file.path).read_text()
    assert_valid_x12(text)
    assert ":B:8*" in text.split(f"CLM*{claim.claim_id}*")[1].split("~")[0]  # CLM05-3: a void
    assert [ln.charge for ln in claim.lines] == [ln.charge for ln in cl.load_claims([row])[0].lines]
    assert cl.create_claims().created == ()  # the void holds its lines: they are not billed again by themselves


def test_void_before_sending_frees_the_charges(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    roles.grant("clerkina", "clerk")
    assert cl.void(row, operator="clerkina") is None  # never sent: a clerk's, and no frequency 8 claim
    assert _status(row) == "voided"
    (again,) = cl.create_claims().created
    assert again != row


def test_the_same_claim_twice_is_held(books) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (first,) = cl.create_claims().created
    visit(books.patients[0], provider=books.providers[0])  # keyed twice
    made = cl.create_claims()
    (second,) = made.created
    assert _status(first) == "ready" and _status(second) == "held"
    assert cl.claim_number(first) in made.held[second]


@pytest.mark.both_backends
def test_a_batched_claim_reads_as_it_was_sent(books, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    cl.build_batch(output_dir=tmp_path)
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-20")
    acc.update_patient(books.patients[0], address="99 New Street")
    (claim,) = cl.load_claims([row])
    assert claim.patient.address.street == "12 Oak Lane"
    visit(books.patients[0], provider=books.providers[0], dos="2026-11-19")
    (fresh,) = cl.create_claims().created
    assert cl.load_claims([fresh])[0].patient.address.street == "99 New Street"


@pytest.mark.both_backends
def test_claims_history_cannot_be_rewritten(books, db, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    cl.build_batch(output_dir=tmp_path)
    conn = Raw(db)  # someone with a database client, as the books' owner on PostgreSQL
    replace_all = ("INSERT INTO claim_event (id, claim_id, status, at, on_date, operator) SELECT id, claim_id, 'paid', "
                   "at, on_date, operator FROM claim_event ON CONFLICT (id) DO UPDATE SET status = 'paid'"
                   if is_server(db) else
                   "INSERT OR REPLACE INTO claim_event (id, claim_id, status, at, on_date, operator) "
                   "SELECT id, claim_id, 'paid', at, on_date, operator FROM claim_event")
    for statement in (
        "UPDATE claim SET total = 1", "DELETE FROM claim_line", "UPDATE claim_line SET charge = 0",
        "DELETE FROM claim_event", "UPDATE claim_event SET status = 'paid'", "UPDATE claim_file SET sha256 = ''",
        "UPDATE claim_status SET status = 'paid'", "DELETE FROM claim_status",
        "UPDATE claim_counter SET interchange = 1, grp = 1", "DELETE FROM claim_counter", replace_all,
    ):
        with pytest.raises(REFUSED):
            conn.execute(statement)
        conn.rollback()  # (PostgreSQL ends the transaction at the refusal)
    conn.close()
    assert _status(row) == "batched"


def test_clerks_build_and_send(books, tmp_path: Path) -> None:
    roles.grant("clerkina", "clerk")
    visit(books.patients[0], provider=books.providers[0])
    cl.create_claims(operator="clerkina")
    (f,) = cl.build_batch(output_dir=tmp_path, operator="clerkina").files
    assert cl.mark_sent(f.file_id, operator="clerkina") == 1
    with pytest.raises(BillingError, match="may not"):
        cl.set_receiver(CLEARINGHOUSE, "CH", True, operator="clerkina")


def test_store_reads_no_environment_for_its_files(books, tmp_path: Path) -> None:
    """The output directory must exist: a typo is refused, not created."""
    visit(books.patients[0], provider=books.providers[0])
    cl.create_claims()
    with pytest.raises(BillingError, match="not a directory"):
        cl.build_batch(output_dir=tmp_path / "missing")
    assert not os.path.exists(tmp_path / "missing")
    assert _status(1) == "ready"


@pytest.mark.both_backends
def test_check_proves_claim_totals_and_statuses(books, db, tmp_path: Path) -> None:
    from tui_billing.store import run_check

    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    assert run_check(integrity=False).ok
    conn = Raw(db)
    # someone with sqlite3 (or psql, as the owner) drops the guards and edits a total: check names the claim
    conn.execute("DROP TRIGGER claim_no_update")
    conn.execute("UPDATE claim SET total = total + 1 WHERE id = ?", (row,))
    conn.commit()
    conn.close()
    problems = run_check(integrity=False).problems
    assert any(f"claim {cl.claim_number(row)}: total 125.01 but its lines add up to 125.00" in p for p in problems)
    assert any("claim_no_update" in p for p in problems)


@pytest.mark.both_backends
def test_a_secondary_claim_says_what_the_primary_did(books, tmp_path: Path) -> None:
    enc = visit(books.patients[2], provider=books.providers[1])  # Medicare primary, Acme secondary
    medicare, acme = books.payers[1], books.payers[0]
    (primary,) = cl.create_claims().created
    first, lab = enc.charge_ids
    receipt = ops.record_receipt(amount=6000, method="eft", payer_id=medicare, reference="EFT1").receipt_id
    ops.distribute(receipt, [
        ops.DistributionLine(first, applied=5000, adjustment=3000, reason="CO-45", transfer_to_payer=acme),
        ops.DistributionLine(lab, applied=1000, adjustment=500, reason="CO-45", transfer_to_payer=acme)])
    (secondary,) = cl.create_claims().created
    (claim,) = cl.load_claims([secondary])
    assert claim.responsibility == "S" and claim.payer.id == acme
    (other,) = claim.other_payers
    assert other.payer.id == medicare and other.responsibility == "P" and other.paid == 6000
    assert other.subscriber.member_id == "1EG4TE5MK72" and other.subscriber.person.last == "Roe"
    # the remainder Medicare left moved on to Acme: the patient's responsibility it assigned (PR)
    assert [(p.line_no, p.paid, p.adjustments) for p in other.lines] == [
        (1, 5000, (("CO", "45", 3000), ("PR", "2", 2000))), (2, 1000, (("CO", "45", 500), ("PR", "2", 1000)))]
    assert _status(secondary) == "ready"
    (f,) = cl.build_batch(output_dir=tmp_path, receiver=CLEARINGHOUSE).files
    assert_valid_x12(Path(f.path).read_text())
    assert cl.load_claims([primary])[0].other_payers == ()


def test_a_claim_awaiting_its_answer_is_neither_corrected_nor_voided(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    (f,) = cl.build_batch(output_dir=tmp_path).files
    for step in ("batched", "sent"):
        with pytest.raises(BillingError, match="acknowledgement" if step == "sent" else "mark the file sent"):
            cl.correct(row)
        with pytest.raises(BillingError, match="acknowledgement" if step == "sent" else "mark the file sent"):
            cl.void(row)
        assert _status(row) == step
        if step == "batched":
            cl.mark_sent(f.file_id)


def test_a_rejected_claim_is_corrected_by_a_new_original(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    (row,) = cl.create_claims().created
    (f,) = cl.build_batch(output_dir=tmp_path).files
    cl.mark_sent(f.file_id)
    cl.record_events([(row, "rejected", "A7:33 subscriber not found")])
    new, verdict = cl.correct(row)
    (claim,) = cl.load_claims([new])
    assert claim.frequency == m.ORIGINAL and claim.payer_claim_number == "" and verdict == "ready"
    assert _status(row) == "replaced"


def test_a_claim_whose_data_changed_after_its_scrub_is_scrubbed_again_at_build(books, tmp_path: Path) -> None:
    visit(books.patients[0], provider=books.providers[0])
    visit(books.patients[2], provider=books.providers[1])
    made = cl.create_claims()
    assert len(made.ready) == 2
    cov = database.execute_sql("SELECT id FROM coverage WHERE patient_id = ? AND priority = 1",
                               (books.patients[0],)).fetchone()[0]
    acc.update_coverage(cov, effective="2026-11-12")  # keyed wrong after the scrub: now after the visit
    result = cl.build_batch(output_dir=tmp_path)
    (jane,) = [r for r in made.created if cl.load_claims([r])[0].account == "A001"]
    assert list(result.held) == [cl.claim_number(jane)] and _status(jane) == "held"
    assert [f.receiver for f in result.files] == ["MCR01"]  # Rick's claim went out as scrubbed


def test_more_claims_than_one_transaction_carries_go_in_more_files(books, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from tui_billing.claims import x837

    monkeypatch.setattr(x837, "MAX_CLAIMS", 2)  # the guide's 5,000, made small
    for day in ("2026-11-02", "2026-11-03", "2026-11-04"):
        visit(books.patients[0], provider=books.providers[0], dos=day)
    cl.create_claims()
    dry = cl.build_batch(output_dir=None, validate_only=True).files
    assert [(len(f.claims), f.interchange_number) for f in dry] == [(2, 1), (1, 2)]
    built = cl.build_batch(output_dir=tmp_path).files
    assert [(len(f.claims), f.interchange_number) for f in built] == [(2, 1), (1, 2)]
    for f in built:
        assert_valid_x12(Path(f.path).read_text())
