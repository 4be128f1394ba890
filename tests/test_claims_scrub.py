"""The claim scrubber: one case per rule, each with the claim that fails it (the problem names the
field and where to fix it) and the nearest claim that passes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from tui_billing.claims.model import Claim, OtherPayment
from tui_billing.claims.scrub import FIX_AT, Problem, icd10_release, ready, scrub
from tui_billing.codes import COMMON_ICD10

from claim_samples import TODAY, line, primary_claim, replacement_claim, secondary_claim, void_claim


def _billing(**changes) -> Claim:
    c = primary_claim()
    return replace(c, billing=replace(c.billing, **changes))


def _billing_street(street: str) -> Claim:
    c = primary_claim()
    return replace(c, billing=replace(c.billing, address=replace(c.billing.address, street=street)))


def _rendering(**changes) -> Claim:
    c = primary_claim()
    return replace(c, rendering=replace(c.rendering, **changes))


def _subscriber(**changes) -> Claim:
    c = primary_claim()
    return replace(c, subscriber=replace(c.subscriber, **changes))


def _payer(**changes) -> Claim:
    c = primary_claim()
    return replace(c, payer=replace(c.payer, **changes))


def _patient_name(**changes) -> Claim:
    c = primary_claim()
    person = replace(c.patient, **changes)
    return replace(c, patient=person, subscriber=replace(c.subscriber, person=person))


def _line(n: int = 1, **changes) -> Claim:
    c = primary_claim()
    return replace(c, lines=tuple(replace(ln, **changes) if ln.line_no == n else ln for ln in c.lines))


def _diagnoses(*codes: str) -> Claim:
    return replace(primary_claim(), diagnoses=codes)


def _lines(count: int) -> Claim:
    return replace(primary_claim(), lines=tuple(line(n) for n in range(1, count + 1)))


def _secondary_line_paid(paid: int) -> Claim:
    c = secondary_claim()
    acme = c.other_payers[0]
    first = acme.lines[0]
    moved = paid - first.paid  # keep AMT*D equal to the lines' paid: only the line stops balancing
    lines = (OtherPayment(1, paid, first.adjustments, first.paid_date), acme.lines[1])
    return replace(c, other_payers=(replace(acme, lines=lines, paid=acme.paid + moved),))


def _secondary_claim_paid(paid: int) -> Claim:
    c = secondary_claim()
    return replace(c, other_payers=(replace(c.other_payers[0], paid=paid),))


def _home(**changes) -> Claim:
    c = primary_claim()
    person = replace(c.patient, address=replace(c.patient.address, **changes))
    return replace(c, patient=person, subscriber=replace(c.subscriber, person=person))


def _payer_state(state: str) -> Claim:
    c = primary_claim()
    assert c.payer.address is not None
    return replace(c, payer=replace(c.payer, address=replace(c.payer.address, state=state)))


def _secondary_group(group: str) -> Claim:
    c = secondary_claim()
    acme = c.other_payers[0]
    first = acme.lines[0]
    adjusted = ((group, *first.adjustments[0][1:]), *first.adjustments[1:])
    return replace(c, other_payers=(replace(acme, lines=(replace(first, adjustments=adjusted), acme.lines[1])),))


#: rule -> (failing claim, passing claim, field, fix_at, warning)
CASES: dict[str, tuple[Callable[[], Claim], Callable[[], Claim], str, str, bool]] = {
    "billing NPI check digit": (lambda: _billing(npi="1245319598"), lambda: _billing(npi="1245319599"),
                                "billing.npi", "practice", False),
    "billing NPI length": (lambda: _billing(npi="124531959"), lambda: _billing(npi="1245319599"),
                           "billing.npi", "practice", False),
    "rendering NPI check digit": (lambda: _rendering(npi="1234567890"), lambda: _rendering(npi="1234567893"),
                                  "rendering.npi", "provider", False),
    "billing ZIP+4": (lambda: _billing(address=replace(primary_claim().billing.address, zip="62701")),
                      lambda: _billing(address=replace(primary_claim().billing.address, zip="627011234")),
                      "billing.address.zip", "practice", False),
    "billing address not a PO box": (lambda: _billing_street("P.O. Box 12"), lambda: _billing_street("12 Box Elder Road"),
                                     "billing.address.street", "practice", False),
    "EIN 9 digits": (lambda: _billing(ein="74-1234567"), lambda: _billing(ein="741234567"),
                     "billing.ein", "practice", False),
    "line charge positive (total = sum of owed lines)": (lambda: _line(2, charge=0), lambda: _line(2, charge=1),
                                                         "lines[2].charge", "charge", False),
    "secondary line balances (charge = paid + adjustments)": (
        lambda: _secondary_line_paid(7999), lambda: _secondary_line_paid(8000), "other_payers[1].lines[1]", "claim", False),
    "secondary claim paid = lines paid - claim adjustments": (
        lambda: _secondary_claim_paid(9001), lambda: _secondary_claim_paid(9000), "other_payers[1].paid", "claim", False),
    "pointer within the diagnoses": (lambda: _line(1, pointers=(1, 4)), lambda: _line(1, pointers=(1, 3)),
                                     "lines[1].pointers", "charge", False),
    "at most 4 pointers": (lambda: _line(1, pointers=(1, 2, 3, 1, 2)), lambda: _line(1, pointers=(3, 2, 1)),
                           "lines[1].pointers", "charge", False),
    "pointer not repeated": (lambda: _line(1, pointers=(2, 2)), lambda: _line(1, pointers=(2,)),
                             "lines[1].pointers", "charge", False),
    "billable ICD-10-CM (not a category)": (lambda: _diagnoses("E11", "I10", "Z79.4"),
                                            lambda: _diagnoses("E11.9", "I10", "Z79.4"), "diagnoses[1]", "charge", False),
    "ICD-10-CM code exists": (lambda: _diagnoses("E11.9", "I10", "Z79.9999"),
                              lambda: _diagnoses("E11.9", "I10", "Z79.899"), "diagnoses[3]", "charge", False),
    "ICD-10-CM valid on the DOS (from 2015-10-01)": (
        lambda: replace(_line(1, dos="2015-09-30"), subscriber=replace(primary_claim().subscriber, effective="")),
        lambda: replace(_line(1, dos="2015-10-01"), subscriber=replace(primary_claim().subscriber, effective="")),
        "diagnoses", "charge", False),
    "external cause never principal": (lambda: _diagnoses("W19.XXXA", "S52.521A", "I10"),
                                       lambda: _diagnoses("S52.521A", "W19.XXXA", "I10"), "diagnoses[1]", "charge", False),
    "external cause never a line's first pointer": (
        lambda: replace(_diagnoses("S52.521A", "W19.XXXA", "I10"), lines=(line(1, pointers=(2, 1)),)),
        lambda: replace(_diagnoses("S52.521A", "W19.XXXA", "I10"), lines=(line(1, pointers=(1, 2)),)),
        "lines[1].pointers", "charge", False),
    "CPT shape": (lambda: _line(1, code="9921"), lambda: _line(1, code="99211"), "lines[1].code", "fee schedule", False),
    "HCPCS letter": (lambda: _line(1, code="I1234"), lambda: _line(1, code="J1234"),
                     "lines[1].code", "fee schedule", False),
    "modifier shape": (lambda: _line(1, modifiers=("2",)), lambda: _line(1, modifiers=("25",)),
                       "lines[1].modifiers", "charge", False),
    "at most 4 modifiers": (lambda: _line(1, modifiers=("25", "59", "LT", "RT", "GA")),
                            lambda: _line(1, modifiers=("25", "59", "LT", "RT")), "lines[1].modifiers", "charge", False),
    "member id present": (lambda: _subscriber(member_id=" "), lambda: _subscriber(member_id="X1"),
                          "subscriber.member_id", "account", False),
    "payer EDI id present": (lambda: _payer(edi_id=""), lambda: _payer(edi_id="ACME1"), "payer.edi_id", "payer", False),
    "DOS on or after coverage start": (lambda: _subscriber(effective="2026-02-21"),
                                       lambda: _subscriber(effective="2026-02-20"), "lines[1].dos", "account", False),
    "DOS on or before coverage end": (lambda: _subscriber(end_date="2026-02-19"),
                                      lambda: _subscriber(end_date="2026-02-20"), "lines[1].dos", "account", False),
    "timely filing (a warning)": (lambda: _payer(timely_filing_days=9), lambda: _payer(timely_filing_days=10),
                                  "lines", "claim", True),
    "delimiter in a name": (lambda: _patient_name(last="Smith*Jones"), lambda: _patient_name(last="Smith-Jones"),
                            "patient.last", "account", False),
    "full-width delimiter in a name": (lambda: _patient_name(last="Smith＊Jones"), lambda: _patient_name(last="Smith Jones"),
                                       "patient.last", "account", False),
    "name with nothing X12 can carry": (lambda: _patient_name(last="王"), lambda: _patient_name(last="Wang"),
                                        "patient.last", "account", False),
    "character with no plain form (a warning)": (lambda: _patient_name(first="Li 王"), lambda: _patient_name(first="Li"),
                                                 "patient.first", "account", True),
    "delimiter in an id": (lambda: _subscriber(member_id="XJD:123"), lambda: _subscriber(member_id="XJD-123"),
                           "subscriber.member_id", "account", False),
    "at most 50 lines": (lambda: _lines(51), lambda: _lines(50), "lines", "claim", False),
    "at most 12 diagnoses": (lambda: _diagnoses(*COMMON_ICD10[:13]), lambda: _diagnoses(*COMMON_ICD10[:12]),
                             "diagnoses", "charge", False),
    "replacement names the payer's claim number": (lambda: replace(replacement_claim(), payer_claim_number=""),
                                                   replacement_claim, "payer_claim_number", "claim", False),
    "void names the payer's claim number": (lambda: replace(void_claim(), payer_claim_number=" "), void_claim,
                                            "payer_claim_number", "claim", False),
    "taxonomy shape": (lambda: _billing(taxonomy="207Q0000"), lambda: _billing(taxonomy="207Q00000X"),
                       "billing.taxonomy", "practice", False),
    "practice phone of 10 digits": (lambda: _billing(phone="555-0100"), lambda: _billing(phone="(217) 555-0100"),
                                    "billing.phone", "practice", False),
    "submitter id present": (lambda: _billing(submitter_id=" "), lambda: _billing(submitter_id="S1"),
                             "billing.submitter_id", "practice", False),
    "ZIP of 5 or 9 digits": (lambda: _home(zip="6270"), lambda: _home(zip="62704"), "subscriber.address.zip",
                             "account", False),
    "city present": (lambda: _home(city=" "), lambda: _home(city="Springfield"), "subscriber.address.city",
                     "account", False),
    "city of 2 letters as sent": (lambda: _home(city="Y王"), lambda: _home(city="Yü"), "subscriber.address.city",
                                  "account", False),
    "state of two capitals": (lambda: _payer_state("Ill"), lambda: _payer_state("IL"), "payer.address.state",
                              "payer", False),
    "claim filing code": (lambda: _payer(filing_code="XX"), lambda: _payer(filing_code="BL"), "payer.filing_code",
                          "payer", False),
    "relationship known": (lambda: _subscriber(relationship="cousin"), lambda: _subscriber(relationship="other"),
                           "subscriber.relationship", "account", False),
    "responsibility P, S or T": (lambda: replace(primary_claim(), responsibility="Q"),
                                 lambda: replace(primary_claim(), responsibility="T"), "responsibility", "claim", False),
    "born by the date of service": (lambda: _patient_name(dob="2026-02-21"), lambda: _patient_name(dob="2026-02-20"),
                                    "patient.dob", "account", False),
    "sex F, M or U": (lambda: _patient_name(sex="Q"), lambda: _patient_name(sex="U"), "patient.sex", "account", False),
    "units 1 to 9999": (lambda: _line(1, units=0), lambda: _line(1, units=9999), "lines[1].units", "charge", False),
    "place of service assigned": (lambda: replace(primary_claim(), place_of_service="88"),
                                  lambda: replace(primary_claim(), place_of_service="22"), "place_of_service", "charge",
                                  False),
    "date of service not in the future": (lambda: _line(1, dos="2026-03-03"), lambda: _line(1, dos="2026-03-02"),
                                          "lines[1].dos", "charge", False),
    "date of service a real day": (lambda: _line(1, dos="2026-02-30"), lambda: _line(1, dos="2026-02-28"),
                                   "lines[1].dos", "charge", False),
    "adjustment group code": (lambda: _secondary_group("XX"), lambda: _secondary_group("OA"),
                              "other_payers[1].adjustments", "claim", False),
    "lines numbered 1..n": (lambda: replace(primary_claim(), lines=(line(1), line(3))),
                            lambda: replace(primary_claim(), lines=(line(1), line(2))), "lines", "claim", False),
    "each diagnosis once": (lambda: _diagnoses("E11.9", "I10", "E119"), lambda: _diagnoses("E11.9", "I10", "E11.65"),
                            "diagnoses[3]", "charge", False),
    "self means the patient is the subscriber": (
        lambda: _subscriber(person=replace(primary_claim().patient, first="Janet")),
        lambda: _subscriber(person=primary_claim().patient), "subscriber.relationship", "account", False),
    "claim id at most 17": (lambda: replace(primary_claim(), claim_id="C" * 18),
                            lambda: replace(primary_claim(), claim_id="C" * 17), "claim_id", "claim", False),
}


def _on(problems: list[Problem], field: str) -> list[Problem]:
    return [p for p in problems if p.field == field]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_fails_the_bad_claim_and_passes_the_good_one(rule):
    bad, good, field, fix_at, warning = CASES[rule]
    found = _on(scrub(bad(), today=TODAY), field)
    assert found, f"{rule}: no problem on {field}"
    assert all(p.fix_at == fix_at and p.warning is warning for p in found), found
    assert all(p.message for p in found)
    assert ready(found) is warning  # a warning never holds a claim; anything else does
    assert _on(scrub(good(), today=TODAY), field) == []


@pytest.mark.parametrize("street", ["PO Box 12", "P O BOX 7", "p.o. box 99", "Post Office Box 5", "POB 3",
                                    "Lockbox 1200", "Box 44"])
def test_po_box_spellings(street):
    assert _on(scrub(_billing_street(street), today=TODAY), "billing.address.street")


@pytest.mark.parametrize("street", ["100 Main Street", "12 Box Elder Road", "7 Boxwood Lane", "1 Poplar Court"])
def test_streets_that_are_not_po_boxes(street):
    assert _on(scrub(_billing_street(street), today=TODAY), "billing.address.street") == []


def test_the_same_claim_twice():
    problems = scrub(primary_claim(), today=TODAY, duplicate_of="C0000000")
    assert [(p.field, p.fix_at) for p in problems] == [("claim_id", "claim")]
    assert "C0000000" in problems[0].message
    assert scrub(primary_claim(), today=TODAY, duplicate_of="") == []


def test_the_sample_claims_are_clean():
    for make in (primary_claim, replacement_claim, void_claim, secondary_claim):
        assert scrub(make(), today=TODAY) == []


def test_accents_are_transliterated_without_a_word():
    assert scrub(_patient_name(last="Núñez", first="José", middle="Zoë"), today=TODAY) == []
    assert scrub(_patient_name(last="Łukasz-Ærø", first="Đorđe", middle="Straße"), today=TODAY) == []


def test_codes_newer_than_the_installed_release_are_a_warning():
    release, last_day = icd10_release()
    assert release and last_day.endswith("-09-30")
    after = replace(_line(1, dos="2099-01-04"), lines=tuple(replace(ln, dos="2099-01-04") for ln in primary_claim().lines))
    problems = _on(scrub(after, today="2099-01-05"), "diagnoses")
    assert [p.warning for p in problems] == [True] and release in problems[0].message
    assert _on(scrub(primary_claim(), today=TODAY), "diagnoses") == []


def test_every_problem_says_where_to_fix_it():
    for bad, _good, _field, _fix_at, _warning in CASES.values():
        for problem in scrub(bad(), today=TODAY):
            assert problem.fix_at in FIX_AT


def test_ready():
    assert ready([])
    assert ready([Problem("lines", "old", "claim", warning=True)])
    assert not ready([Problem("lines", "old", "claim", warning=True), Problem("billing.npi", "bad", "practice")])
