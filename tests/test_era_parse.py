"""The 835 reader: exact cents, every loop the poster needs, and balancing at three levels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_billing.claims.era import EraError, balance_problems, cents, parse_835, require_balanced

from x12_check import x12_errors

ERA_DIR = Path(__file__).parent / "data" / "era"
FIXTURES = sorted(ERA_DIR.glob("*.835"))


def read(name: str):
    [remittance] = parse_835((ERA_DIR / f"{name}.835").read_text())
    return remittance


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_is_pyx12_clean(path):
    assert x12_errors(path.read_text()) == []


def test_the_pyx12_check_can_fail():
    text = (ERA_DIR / "paid.835").read_text().replace("TRN*1*EFT1001*1999999999~\n", "")
    assert x12_errors(text)


@pytest.mark.parametrize("text,want", [("125", 12500), ("125.5", 12550), ("125.50", 12550), ("-12.5", -1250),
                                       (".5", 50), ("0", 0), ("-0.01", -1)])
def test_amounts_are_exact_cents(text, want):
    assert cents(text, "x") == want


@pytest.mark.parametrize("text", ["1.005", "abc", "", "1e3", "1,000.00", "--1"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(EraError):
        cents(text, "x")


def test_payment_header_and_lines():
    r = read("paid")
    assert (r.amount, r.method, r.payment_method, r.trace, r.payer_id, r.paid_date) == (
        7200, "eft", "ACH", "EFT1001", "ACM01", "2026-11-13")
    assert r.payee_npi == "1003000126"
    [claim] = r.claims
    assert (claim.claim_id, claim.status, claim.charge, claim.paid, claim.patient_responsibility) == (
        "C1", "1", 11000, 7200, 1800)
    assert claim.payer_claim_number == "PCN1001" and claim.patient_name == "DOE, JANE"
    first = claim.lines[0]
    assert (first.code, first.charge, first.paid, first.dos, first.control_number, first.allowed) == (
        "99213", 10000, 6400, "2026-11-02", "C1L1", 8000)
    assert [a.code for a in first.adjustments] == ["CO-45", "PR-2"]
    assert [a.amount for a in first.adjustments] == [2000, 1600]
    assert balance_problems(r) == []


def test_claim_level_adjustments_and_restated_codes():
    claim = read("claim_level").claims[0]
    assert [a.code for a in claim.adjustments] == ["PR-1"] and claim.adjustments[0].amount == 5000
    matching = read("matching").claims[0]
    restated = matching.lines[0]
    assert (restated.code, restated.submitted_code, restated.sent_code) == ("99212", "99214", "99214")
    assert matching.lines[1].modifiers == ("91", "QW")


def test_reversal_crossover_and_plb():
    reversal, corrected = read("reversal").claims
    assert reversal.is_reversal and reversal.paid == -7200 and not corrected.is_reversal
    crossover = read("crossover").claims[0]
    assert crossover.is_crossover and crossover.crossover_id == "ACM01"
    plb = read("plb")
    assert [(p.reason, p.amount) for p in plb.provider_adjustments] == [("L6", -250), ("WO", 1000), ("FB", 500)]
    assert plb.amount == 8000 - 1250
    assert balance_problems(plb) == []


def test_an_unbalanced_file_is_refused_naming_the_claim():
    r = read("unbalanced")
    with pytest.raises(EraError, match="claim C11 .* line 1"):
        require_balanced(r)


def test_a_file_level_difference_is_refused():
    text = (ERA_DIR / "paid.835").read_text().replace("BPR*I*72.00", "BPR*I*72.01")
    [r] = parse_835(text)
    assert any("BPR02 72.01" in p for p in balance_problems(r))


def test_a_claim_whose_lines_do_not_sum_is_refused():
    text = (ERA_DIR / "paid.835").read_text().replace("CLP*C1*1*110.00*72.00", "CLP*C1*1*111.00*73.00")
    [r] = parse_835(text)
    assert any("its lines charge 110.00" in p for p in balance_problems(r))


@pytest.mark.parametrize("text,message", [
    ("hello", "not an X12 file"),
    ((ERA_DIR / "paid.835").read_text().replace("ST*835", "ST*837"), "not an 835"),
    ((ERA_DIR / "paid.835").read_text().replace("SVC*HC:99213*100.00", "SVC*HC:99213*10x.00"), "SVC02"),
    ((ERA_DIR / "paid.835").read_text().replace("DTM*472*20261102", "DTM*472*2026110"), "not a date"),
])
def test_unreadable_files_are_refused(text, message):
    with pytest.raises(EraError, match=message):
        parse_835(text)


def test_a_set_cut_short_is_refused():
    text = (ERA_DIR / "paid.835").read_text().replace("AMT*B6*10.00~\n", "")
    with pytest.raises(EraError, match="SE says 28 segments .* has 27"):
        parse_835(text)


def test_line_breaks_and_other_delimiters_are_read():
    text = (ERA_DIR / "paid.835").read_text()
    squeezed = text.replace("~\n", "|").replace("*", "^").replace(":", ">").replace("^^^00501", "^U^00501")
    # ISA11 was the repetition separator '^', which the new element separator takes over
    squeezed = squeezed.replace("*261116*1200*^*", "")
    [r] = parse_835(squeezed)
    assert r.claims[0].lines[0].code == "99213" and r.amount == 7200
