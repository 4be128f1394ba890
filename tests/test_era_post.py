"""Posting 835 fixtures into real books: every hard case of issue 14, each proved by the books.

After each posting: the receipt equals BPR02, every charge's balance is what the remittance says,
`check` passes (A/R and unapplied roll-forwards, audit trail), and the day closes.
"""

from __future__ import annotations

import claims_support
import pytest

from tui_billing.claims.era import EraError
from tui_billing.store import database, run_check
from tui_billing.store import era as era_store
from tui_billing.store import operations as ops
from tui_billing.store.errors import BillingError

from era_support import books_claim, fixture_for
from store_helpers import dump_database, invariant_problems

ACME, MCR = 0, 1  # claims_support payers
JANE, ROE = 0, 2  # claims_support patients: ACME only; Medicare then ACME

#: On PostgreSQL only the tests marked both_backends run too (the 835 posting): between them they reach
#: each kind of store write and read this module tests; the others mostly run that SQL again, and the CI
#: time budget has no room for them twice.
pytestmark = pytest.mark.sqlite_only(reason="the same store SQL as this module's both_backends tests")


@pytest.fixture
def cp(db, today):
    return claims_support.seed_claims_practice()


def q(sql, *params):
    return database.execute_sql(sql, params).fetchall()


def balances(charge_ids):
    return [tuple(r) for r in q(f"SELECT balance, payer_id FROM charge_balance WHERE charge_id IN "
                                f"({','.join(map(str, charge_ids))}) ORDER BY charge_id")]


def status(row):
    return q("SELECT status FROM claim_status WHERE claim_id = ?", row)[0][0]


def books_are_whole(deposit_eft=0, deposit_checks=0, check_count=0):
    report = run_check()
    assert report.ok, report.problems
    assert invariant_problems() == []  # recomputed from the raw rows, trusting nothing of the store
    ops.close_day(None, ops.DepositCount(eft=deposit_eft, checks=deposit_checks, check_count=check_count))


@pytest.mark.both_backends
def test_paid_claim(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    result = era_store.import_era(fixture_for("paid", {"C1": (number, controls)}, tmp_path))
    [posted] = result.remittances
    assert q("SELECT amount, method, reference, payer_id FROM receipt WHERE id = ?", posted.receipt_id) == [
        (7200, "eft", "EFT1001", cp.payers[ACME])]
    # 99213: 100 - 64 paid - 20 CO-45 = 16 coinsurance, now the patient's (no other coverage); 36415: 2
    assert balances(charges) == [(1600, None), (200, None)]
    assert q("SELECT reason_code, amount FROM adjustment ORDER BY id") == [("CO-45", 2000)]
    assert posted.unapplied == 0 and status(row) == "paid"
    assert q("SELECT payer_claim_number FROM claim_event WHERE claim_id = ? ORDER BY id DESC LIMIT 1", row) == [
        ("PCN1001",)]
    assert result.lines_posted == result.lines == 2
    books_are_whole(deposit_eft=7200)


@pytest.mark.both_backends
def test_a_line_allowed_below_the_contract_opens_an_underpayment_and_still_posts(cp, tmp_path):
    from tui_billing.store.accounts import set_fee

    # the office's contract with Acme: 99213 allowed 85.00 (Acme allowed 64 paid + 16 to the patient
    # = 80.00); 36415 allowed 10.00, exactly what Acme allowed; an older, higher rate is not in force
    set_fee("99213", 9000, "2026-12-01", payer_id=cp.payers[ACME])
    set_fee("99213", 8500, "2026-01-01", payer_id=cp.payers[ACME])
    set_fee("36415", 1000, "2026-01-01", payer_id=cp.payers[ACME])
    set_fee("99213", 5000, "2026-01-01", payer_id=cp.payers[MCR])  # another payer's rate: not Acme's
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    era_store.import_era(fixture_for("paid", {"C1": (number, controls)}, tmp_path))
    assert balances(charges) == [(1600, None), (200, None)] and status(row) == "paid"  # posted as the payer said
    assert [(w["kind"], w["codes"], w["amount"]) for w in era_store.work_queue()] == [("underpayment", "99213", 500)]
    books_are_whole(deposit_eft=7200)


@pytest.mark.both_backends
def test_the_same_file_or_the_same_payment_twice_is_refused_and_changes_nothing(cp, tmp_path):
    number, controls, _, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    path = fixture_for("paid", {"C1": (number, controls)}, tmp_path)
    era_store.import_era(path)
    before = dump_database()
    with pytest.raises(BillingError, match="already posted"):
        era_store.import_era(path)
    # the same payment in other bytes (a re-sent file) is refused too
    again = tmp_path / "resent.835"
    again.write_text(path.read_text().replace("ST*835*0001", "ST*835*0002").replace("SE*28*0001", "SE*28*0002"))
    with pytest.raises(BillingError, match="payment EFT1001 .* already posted"):
        era_store.import_era(again)
    assert dump_database() == before


def test_dry_run_shows_the_plan_and_writes_nothing(cp, tmp_path):
    number, controls, _, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    path = fixture_for("paid", {"C1": (number, controls)}, tmp_path)
    before = dump_database()
    result = era_store.import_era(path, dry_run=True)
    assert dump_database() == before
    text = "\n".join(era_store.describe(result))
    assert "DRY RUN" in text and "applied 64.00, adjusted CO-45 20.00, rest 16.00 to patient" in text
    assert era_store.import_era(path).remittances[0].receipt_id  # and the real run still posts


@pytest.mark.both_backends
def test_denial_is_not_written_off(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME], ("99214",), "2026-11-03")
    result = era_store.import_era(fixture_for("denial", {"C2": (number, controls)}, tmp_path))
    assert result.remittances[0].receipt_id is None  # BPR02 0.00: no money, no receipt
    assert balances(charges) == [(15000, cp.payers[ACME])]  # stays with the payer
    assert q("SELECT COUNT(*) FROM adjustment") == [(0,)]
    assert status(row) == "denied"
    assert [(w["kind"], w["codes"], w["amount"]) for w in era_store.work_queue()] == [("denial", "CO-16", 15000)]
    books_are_whole()


def test_denial_codes_are_configurable(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME], ("99214",), "2026-11-03")
    era_store.import_era(fixture_for("denial", {"C2": (number, controls)}, tmp_path), denial_codes=["CO-18"])
    # CO-16 is then an ordinary adjustment (the office chose so): written off, nothing opened
    assert balances(charges) == [(0, cp.payers[ACME])] and era_store.work_queue() == []
    books_are_whole()


def test_claim_level_adjustment(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "85025"), "2026-11-04")
    result = era_store.import_era(fixture_for("claim_level", {"C3": (number, controls)}, tmp_path))
    [posted] = result.remittances
    assert q("SELECT method, amount FROM receipt WHERE id = ?", posted.receipt_id) == [("check", 6000)]
    # the 50.00 deductible is spread by what each line paid (85 : 25), and it is the patient's
    assert sum(b for b, _ in balances(charges)) == 5000
    assert all(p is None for _, p in balances(charges))
    assert q("SELECT SUM(amount) FROM application") == [(6000,)] and posted.unapplied == 0
    books_are_whole(deposit_checks=6000, check_count=1)


def test_negative_adjustment_is_kept_negative(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213",), "2026-11-05")
    era_store.import_era(fixture_for("negative_adjustment", {"C4": (number, controls)}, tmp_path))
    assert q("SELECT reason_code, amount FROM adjustment") == [("CO-45", -500)]
    assert q("SELECT amount FROM application") == [(10500,)]
    assert balances(charges) == [(0, cp.payers[ACME])]
    books_are_whole(deposit_eft=10500)


@pytest.mark.both_backends
def test_reversal_then_corrected_claim(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    first = era_store.import_era(fixture_for("paid", {"C1": (number, controls)}, tmp_path)).remittances[0]
    result = era_store.import_era(fixture_for("reversal", {"C1": (number, controls)}, tmp_path))
    [posted] = result.remittances
    assert q("SELECT amount FROM receipt WHERE id = ?", posted.receipt_id) == [(800,)]
    # the first posting is voided, its money moved to this payment, the corrected claim posted
    assert q("SELECT COUNT(*) FROM distribution WHERE reverses_id IS NOT NULL") == [(1,)]
    assert balances(charges) == [(800, None), (200, None)]  # coinsurance now 8.00 and 2.00
    assert first.unapplied == 0 and posted.unapplied == 0
    assert q("SELECT receipt_id, amount FROM receipt_adjustment ORDER BY id") == [
        (first.receipt_id, -7200), (posted.receipt_id, 7200)]
    assert status(row) == "paid"
    books_are_whole(deposit_eft=7200 + 800)


def test_reversal_that_mirrors_nothing_is_an_exception(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    result = era_store.import_era(fixture_for("reversal", {"C1": (number, controls)}, tmp_path))
    outcomes = [p.outcome for p in result.remittances[0].claims]
    # nothing was posted before, so the reversal is a person's job, and so is the corrected claim
    # (the receipt holds only 8.00, not the 80.00 it pays)
    assert outcomes == ["exception", "exception"]
    assert balances(charges) == [(10000, cp.payers[ACME]), (1000, cp.payers[ACME])]
    assert {w["kind"] for w in era_store.work_queue()} == {"exception"}
    books_are_whole(deposit_eft=800)


@pytest.mark.both_backends
def test_provider_level_adjustments_reconcile_the_deposit(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213",), "2026-11-06")
    [posted] = era_store.import_era(fixture_for("plb", {"C6": (number, controls)}, tmp_path)).remittances
    assert q("SELECT amount FROM receipt WHERE id = ?", posted.receipt_id) == [(6750,)]
    assert q("SELECT code, amount FROM receipt_adjustment ORDER BY id") == [("WO", 1000), ("FB", 500), ("L6", -250)]
    assert q("SELECT SUM(amount) FROM application") == [(8000,)] and posted.unapplied == 0
    assert balances(charges) == [(2000, None)]
    books_are_whole(deposit_eft=6750)


@pytest.mark.both_backends
def test_crossover_transfers_to_the_secondary_and_marks_it_forwarded(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[ROE], cp.payers[MCR], ("99213",), "2026-11-07")
    [posted] = era_store.import_era(fixture_for("crossover", {"C7": (number, controls)}, tmp_path)).remittances
    assert balances(charges) == [(2000, cp.payers[ACME])]  # the coinsurance is the secondary's now
    assert status(row) == "paid"
    [forwarded] = posted.forwarded
    assert q("SELECT k.payer_id, s.status FROM claim k JOIN claim_status s ON s.claim_id = k.id "
             "WHERE k.claim_id = ?", forwarded) == [(cp.payers[ACME], "forwarded")]
    from tui_billing.store import claims as claim_store
    assert charges[0] not in [u[0] for u in claim_store.unbilled()]  # so it is not billed twice
    books_are_whole(deposit_eft=8000)


def test_oa23_on_the_secondary_is_information_not_a_second_write_off(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[ROE], cp.payers[MCR], ("99213",), "2026-11-07")
    era_store.import_era(fixture_for("crossover", {"C7": (number, controls)}, tmp_path))
    # the secondary's own claim for the same line (the crossover made it): its 835 pays the 20.00
    forwarded = q("SELECT k.claim_id, l.control_number FROM claim k JOIN claim_line l ON l.claim_id = k.id "
                  "WHERE k.payer_id = ?", cp.payers[ACME])
    [(second, control)] = forwarded
    era_store.import_era(fixture_for("secondary", {"C8": (second, [control])}, tmp_path))
    assert balances(charges) == [(0, cp.payers[ACME])]
    assert q("SELECT reason_code FROM adjustment") == []  # no OA-23 write-off
    books_are_whole(deposit_eft=8000 + 2000)


def test_payment_for_a_claim_we_cannot_find_stays_unapplied(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    [posted] = era_store.import_era(fixture_for("unknown_claim", {"C1": (number, controls)}, tmp_path)).remittances
    assert posted.unapplied == 4000
    assert [(w["kind"], w["claim"], w["amount"]) for w in era_store.work_queue()] == [("unapplied", "ZZ999", 4000)]
    books_are_whole(deposit_eft=9000)


@pytest.mark.both_backends
def test_ambiguous_lines_go_to_exceptions_and_nothing_of_the_claim_is_posted(cp, tmp_path):
    number, controls, charges, row = books_claim(cp.patients[JANE], cp.payers[ACME],
                                                 ("99214", "85025", "99213", "36415", "36415"), "2026-11-09")
    [posted] = era_store.import_era(fixture_for("matching", {"C10": (number, controls)}, tmp_path)).remittances
    [plan] = posted.claims
    assert plan.outcome == "exception" and "fits 2 lines" in plan.problem
    assert posted.unapplied == 14500 and q("SELECT COUNT(*) FROM application") == [(0,)]
    books_are_whole(deposit_eft=14500)


def test_an_unbalanced_file_is_refused_before_anything_is_read(cp, tmp_path):
    before = dump_database()
    with pytest.raises(EraError, match="C11"):
        era_store.import_era(fixture_for("unbalanced", {}, tmp_path))
    assert dump_database() == before


@pytest.mark.both_backends
def test_work_notes(cp, tmp_path):
    number, controls, _, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99214",), "2026-11-03")
    era_store.import_era(fixture_for("denial", {"C2": (number, controls)}, tmp_path))
    [item] = era_store.work_queue("denial")
    era_store.add_work_note(item["item"], note="called the payer", follow_up="2026-12-01")
    era_store.add_work_note(item["item"], outcome="corrected claim")
    [item] = era_store.work_queue("denial")
    assert (item["follow_up"], item["outcome"]) == ("", "corrected claim")
    with pytest.raises(BillingError, match="outcome"):
        era_store.add_work_note(item["item"], outcome="forgotten")


@pytest.mark.both_backends
def test_one_claims_posting_is_voided_alone_and_an_era_receipt_with_plb_is_not_voided_whole(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213",), "2026-11-06")
    [posted] = era_store.import_era(fixture_for("plb", {"C6": (number, controls)}, tmp_path)).remittances
    with pytest.raises(BillingError, match="void its distributions"):
        ops.void("receipt", posted.receipt_id, "wrong payer")
    [(did,)] = q("SELECT distribution_id FROM remittance_claim")
    ops.void("distribution", did, "posted to the wrong claim")
    assert balances(charges) == [(10000, cp.payers[ACME])] and posted.unapplied == 8000
    books_are_whole(deposit_eft=6750)


@pytest.mark.both_backends
def test_secondary_claim_carries_the_primary_adjudication_from_the_stored_835(cp, tmp_path):
    import dataclasses

    from tui_billing.claims.era_secondary import other_payer_problems
    from tui_billing.claims.model import OtherPayment
    from tui_billing.store import claims as claim_store

    number, controls, charges, _ = books_claim(cp.patients[ROE], cp.payers[MCR], ("99213",), "2026-11-07")
    era_store.import_era(fixture_for("crossover", {"C7": (number, controls)}, tmp_path))
    [(secondary,)] = q("SELECT k.id FROM claim k WHERE k.payer_id = ?", cp.payers[ACME])
    [medicare] = era_store.other_payers(secondary)
    assert (medicare.payer.id, medicare.responsibility, medicare.paid) == (cp.payers[MCR], "P", 8000)
    assert [(p.line_no, p.paid, p.adjustments, p.paid_date) for p in medicare.lines] == [
        (1, 8000, (("PR", "2", 2000),), "2026-11-13")]
    [claim] = claim_store.load_claims([secondary])
    assert claim.other_payers == (medicare,)  # the claim the build writes carries the 835's own figures
    assert other_payer_problems(claim) == []
    # and claims-x12's writer turns it into a secondary 837P that pyx12 passes, the primary's CAS verbatim
    import datetime as dt

    from tui_billing.claims.x837 import write_837p

    from x12_check import x12_errors

    text = write_837p([claim], sender_id="MAPLE01", receiver_id="CLEARHOUSE1", receiver_name="Clearinghouse",
                      interchange_number=1, group_number=1, production=False, created=dt.datetime(2026, 11, 16, 9))
    assert x12_errors(text) == []
    assert "CAS*PR*2*20~" in text and "AMT*D*80~" in text
    # checked before writing: a line that does not add up is named
    wrong = dataclasses.replace(medicare, lines=(OtherPayment(1, 8000, (("PR", "2", 1500),), "2026-11-13"),))
    assert other_payer_problems(dataclasses.replace(claim, other_payers=(wrong,))) == [
        "line 1: Medicare Part B paid 80.00 and adjusted 15.00, but the line charges 100.00"]
    short = dataclasses.replace(medicare, paid=7900)
    assert other_payer_problems(dataclasses.replace(claim, other_payers=(short,))) == [
        "Medicare Part B: AMT*D 79.00 is not its lines' paid 80.00 less its claim adjustments 0.00"]


def test_a_claim_the_books_refuse_is_an_exception_and_the_rest_of_the_file_posts(cp, tmp_path):
    # Acme's remittance pays a claim the books have as Medicare's (a payer paying what is not its own)
    number, controls, charges, _ = books_claim(cp.patients[ROE], cp.payers[MCR], ("99213", "36415"), "2026-11-02")
    [posted] = era_store.import_era(fixture_for("paid", {"C1": (number, controls)}, tmp_path)).remittances
    [plan] = posted.claims
    assert plan.outcome == "exception" and "not billed to this receipt's payer" in plan.problem
    assert posted.unapplied == 7200  # the money waits on the receipt for a person
    books_are_whole(deposit_eft=7200)


def test_a_balance_the_payer_does_not_explain_is_an_exception(cp, tmp_path):
    number, controls, charges, _ = books_claim(cp.patients[JANE], cp.payers[ACME], ("99213", "36415"), "2026-11-02")
    receipt = ops.record_receipt(amount=500, method="check", payer_id=cp.payers[ACME], reference="HAND1").receipt_id
    ops.distribute(receipt, [ops.DistributionLine(charges[0], applied=500)])  # 5.00 keyed by hand before the ERA
    [posted] = era_store.import_era(fixture_for("paid", {"C1": (number, controls)}, tmp_path)).remittances
    [plan] = posted.claims
    assert plan.outcome == "exception" and "would keep 11.00 but the payer leaves 16.00" in plan.problem
    assert balances(charges) == [(9500, cp.payers[ACME]), (1000, cp.payers[ACME])]
    books_are_whole(deposit_eft=7200, deposit_checks=500, check_count=1)
