"""The 837P writer (005010X222A1): golden files, pyx12 on everything it writes, the envelope's
computed counts, transliteration and refusals, and a property test over hostile names.

Golden files are compared exactly; after a deliberate change to the writer, rewrite them with
``python tests/test_claims_x837.py`` and read the diff before committing it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_billing.claims import x12
from tui_billing.claims.model import Address, Claim
from tui_billing.claims.scrub import ready, scrub
from tui_billing.claims.x837 import write_837p
from tui_billing.codes import COMMON_ICD10

from claim_samples import (
    ACME,
    ENVELOPE,
    MEDICARE,
    PRACTICE,
    TODAY,
    dependent_claim,
    line,
    primary_claim,
    replacement_claim,
    secondary_claim,
    void_claim,
)
from x12_check import assert_valid_x12, x12_errors

GOLDEN = Path(__file__).parent / "golden"
SAMPLES = {
    "837p-primary.x12": primary_claim,
    "837p-dependent.x12": dependent_claim,
    "837p-replacement.x12": replacement_claim,
    "837p-void.x12": void_claim,
    "837p-secondary.x12": secondary_claim,
}


def _segments(text: str) -> list[list[str]]:
    return [seg.split("*") for seg in text.replace("\n", "").split("~") if seg]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_golden_file_and_pyx12_clean(name):
    text = write_837p([SAMPLES[name]()], **ENVELOPE)
    assert text == (GOLDEN / name).read_text(encoding="ascii")
    assert_valid_x12(text)


def test_the_checker_itself_finds_errors():
    """assert_valid_x12 is not a rubber stamp: a miscounted SE, a bad code and a lost loop fail it."""
    text = write_837p([primary_claim()], **ENVELOPE)
    assert x12_errors(text) == []
    assert any("SE count" in e for e in x12_errors(re.sub(r"^SE\*\d+\*", "SE*7*", text, flags=re.M)))
    assert any("DMG03" in e for e in x12_errors(text.replace("DMG*D8*19800517*F", "DMG*D8*19800517*Q")))
    without_billing_name = "".join(s for s in text.splitlines(True) if not s.startswith("NM1*85"))
    assert x12_errors(without_billing_name)
    with pytest.raises(AssertionError, match="pyx12 found errors"):
        assert_valid_x12(text.replace("DOE*JANE", "DOE*jane"))


def test_one_file_of_every_kind_together_is_clean_and_counted():
    claims = [f() for f in SAMPLES.values()]
    text = write_837p(claims, **ENVELOPE)
    assert_valid_x12(text)
    segs = _segments(text)
    ids = [s[0] for s in segs]
    st_at, se_at = ids.index("ST"), ids.index("SE")
    assert int(segs[se_at][1]) == se_at - st_at + 1  # SE01: ST..SE inclusive
    assert segs[ids.index("GE")][1:] == ["1", "201"]  # one transaction set, GS06 echoed
    assert segs[ids.index("IEA")][1:] == ["1", "000000101"]
    assert ids.count("CLM") == len(claims)
    # hierarchy: one billing provider, then each claim's subscriber (and the dependent's patient)
    hls = [s for s in segs if s[0] == "HL"]
    assert [h[3] for h in hls] == ["20", "22", "22", "23", "22", "22", "22"]
    assert [int(h[1]) for h in hls] == list(range(1, len(hls) + 1))


def test_envelope_numbers_dates_and_test_or_production():
    text = write_837p([primary_claim()], **{**ENVELOPE, "interchange_number": 123456789, "group_number": 42,
                                            "production": True, "created": dt.datetime(2027, 1, 5, 23, 59)})
    segs = _segments(text)
    isa = segs[0]
    assert len(text.split("~", 1)[0]) == 105  # the ISA is fixed-width
    assert (isa[9], isa[10], isa[13], isa[15], isa[16]) == ("270105", "2359", "123456789", "P", ":")
    assert segs[1][4:7] == ["20270105", "2359", "42"]
    assert_valid_x12(text)
    with pytest.raises(ValueError, match="interchange number"):
        write_837p([primary_claim()], **{**ENVELOPE, "interchange_number": 0})


def test_frequency_and_payer_claim_number():
    for claim, freq in ((primary_claim(), "1"), (replacement_claim(), "7"), (void_claim(), "8")):
        segs = _segments(write_837p([claim], **ENVELOPE))
        clm = next(s for s in segs if s[0] == "CLM")
        assert clm[5] == f"11:B:{freq}"
        refs = [s for s in segs if s[:2] == ["REF", "F8"]]
        assert refs == ([] if freq == "1" else [["REF", "F8", "PCN20260225001"]])


def test_diagnoses_go_without_dots_principal_first():
    segs = _segments(write_837p([primary_claim()], **ENVELOPE))
    assert next(s for s in segs if s[0] == "HI")[1:] == ["ABK:E119", "ABF:I10", "ABF:Z794"]


def test_rendering_provider_only_when_it_differs_from_billing():
    def rendering_loops(claim: Claim) -> list[list[str]]:
        return [s for s in _segments(write_837p([claim], **ENVELOPE)) if s[:2] == ["NM1", "82"]]

    assert len(rendering_loops(primary_claim())) == 1
    same = replace(primary_claim(), rendering=replace(primary_claim().rendering, npi=PRACTICE.npi))
    assert rendering_loops(same) == []


def test_patient_loop_only_for_a_dependent():
    assert not any(s[0] == "PAT" for s in _segments(write_837p([primary_claim()], **ENVELOPE)))
    segs = _segments(write_837p([dependent_claim()], **ENVELOPE))
    assert ["PAT", "19"] in segs
    assert next(s for s in segs if s[0] == "SBR")[2] == ""  # SBR02 only when the subscriber is the patient


def test_lines_carry_their_control_number_and_date():
    segs = _segments(write_837p([primary_claim()], **ENVELOPE))
    assert [s for s in segs if s[:2] == ["REF", "6R"]] == [["REF", "6R", "L1001"], ["REF", "6R", "L1002"]]
    assert next(s for s in segs if s[0] == "SV1") == ["SV1", "HC:99213:25", "125", "UN", "1", "", "", "1:2"]
    assert ["DTP", "472", "D8", "20260220"] in segs


def test_accents_are_transliterated_and_names_upper_cased():
    claim = primary_claim()
    jose = replace(claim.patient, last="Núñez-O'Brien", first="José", middle="Ærø")
    claim = replace(claim, patient=jose, subscriber=replace(claim.subscriber, person=jose))
    text = write_837p([claim], **ENVELOPE)
    assert "NM1*IL*1*NUNEZ-O'BRIEN*JOSE*AERO***MI*XJD123456789~" in text
    assert text.isascii()
    assert_valid_x12(text)


@pytest.mark.parametrize("bad", ["Smith*Jones", "Smith~", "Smi:th", "Sm^ith"])
def test_a_delimiter_in_data_is_refused_naming_the_field(bad):
    claim = primary_claim()
    person = replace(claim.patient, last=bad)
    with pytest.raises(ValueError, match=r"claim 'C0000001': subscriber\.last: '.' is an X12 delimiter"):
        write_837p([replace(claim, subscriber=replace(claim.subscriber, person=person))], **ENVELOPE)


def test_claim_id_longer_than_17_is_refused():
    write_837p([replace(primary_claim(), claim_id="A" * 17)], **ENVELOPE)
    with pytest.raises(ValueError, match="claim_id"):
        write_837p([replace(primary_claim(), claim_id="A" * 18)], **ENVELOPE)


def test_a_name_with_nothing_basic_left_is_refused():
    claim = primary_claim()
    with pytest.raises(ValueError, match=r"subscriber\.last"):
        write_837p([replace(claim, subscriber=replace(claim.subscriber, person=replace(claim.patient, last="王")))],
                   **ENVELOPE)


def test_lines_out_of_sequence_are_refused():
    with pytest.raises(ValueError, match="LX01"):
        write_837p([replace(primary_claim(), lines=(line(1), line(3)))], **ENVELOPE)


def test_no_claims_is_refused():
    with pytest.raises(ValueError, match="at least one claim"):
        write_837p([], **ENVELOPE)


def test_secondary_claim_carries_the_other_payers_adjudication():
    text = write_837p([secondary_claim()], **ENVELOPE)
    assert_valid_x12(text)
    segs = _segments(text)
    assert ["AMT", "D", "90"] in segs
    assert ["SVD", "ACME1", "80", "HC:99213:25", "", "1"] in segs
    assert ["CAS", "CO", "45", "25"] in segs and ["DTP", "573", "D8", "20260227"] in segs
    assert ["NM1", "PR", "2", "ACME HEALTH PLAN", "", "", "", "", "PI", "ACME1"] in segs


def test_every_optional_part_at_once_is_clean():
    """Pay-to address, 12 diagnoses, 4 modifiers and 4 pointers, a line's own place of service and
    units, no assignment or signature, 50 lines, and a tertiary claim after two earlier payers
    (one with claim-level adjustments): all of it pyx12-clean."""
    base = secondary_claim()
    acme = base.other_payers[0]
    lines = tuple(replace(line(n, "99213" if n % 2 else "J1100", 1000 + n, modifiers=("25", "59", "LT", "RT")[: n % 5],
                               pointers=(1, 2, 3, 12)[: 1 + n % 4], units=1 + n % 3),
                          place_of_service="22" if n == 3 else "11") for n in range(1, 51))
    second = replace(acme, payer=MEDICARE, responsibility="S", paid=sum(ln.charge for ln in lines) - 500,
                     claim_adjustments=(("CO", "45", 300), ("OA", "23", 200)), lines=())
    claim = replace(base, responsibility="T", lines=lines, diagnoses=tuple(COMMON_ICD10[:12]), assignment=False,
                    signature_on_file=False,
                    billing=replace(PRACTICE, pay_to=Address("PO Box 77", "Springfield", "IL", "627010077")),
                    other_payers=(replace(acme, lines=()), second), payer=replace(ACME, name="Third Plan",
                                                                                  edi_id="THIRD"))
    text = write_837p([claim], **ENVELOPE)
    assert_valid_x12(text)
    segs = _segments(text)
    assert ["NM1", "87", "2"] in segs and ["CAS", "CO", "45", "3", "", "OA", "23", "2"] not in segs
    assert ["CAS", "OA", "23", "2"] in segs
    assert next(s for s in segs if s[0] == "CLM")[6:10] == ["Y", "C", "N", "I"]
    assert ["SV1", "HC:99213:25:59:LT", "10.03", "UN", "1", "22", "", "1:2:3:12"] in segs


def test_segment_builder_leaves_off_trailing_empties_and_counts():
    assert x12.segment("NM1", "87", "2", "", "") == "NM1*87*2~\n"
    assert x12.segment("REF", "", "X") == "REF**X~\n"
    assert x12.composite("HC", "99213", "", "") == "HC:99213"
    st = x12.Transaction("837", "0042", "005010X222A1")
    st.add("BHT", "0019")
    st.add("LX", "1")
    assert st.close().endswith("SE*4*0042~\n")


@pytest.mark.parametrize(("given", "sent"), [("Zoë O'Neil", "ZOE O'NEIL"), ("ﬁnn", "FINN"), ("Ｊｏｅ", "JOE"),
                                             ("a\tb\n c", "A B C"), ("  x  ", "X"), ("Bob\x1b[31m", "BOB31M"),
                                             ("Straße", "STRASSE"), ("李", "")])
def test_basic_text(given, sent):
    assert x12.basic_text(given, "f") == sent


@pytest.mark.parametrize("bad", ["a~b", "a*b", "a:b", "a^b", "ａ＊ｂ"])
def test_basic_text_refuses_delimiters(bad):
    with pytest.raises(ValueError, match="delimiter"):
        x12.basic_text(bad, "patient.last")


def test_ids_are_never_transliterated():
    assert x12.identifier(" xjd-12 ", "member id", max_len=80) == "XJD-12"
    for bad in ("XJÉ12", "X*1", ""):
        with pytest.raises(ValueError, match="member id"):
            x12.identifier(bad, "member id", max_len=80)


def test_amounts_are_exact_decimals():
    assert [x12.amount(c) for c in (12500, 12550, 12555, 5, 0, -1999)] == ["125", "125.5", "125.55", "0.05", "0",
                                                                            "-19.99"]


# --- property: whatever names a clerk or an import brings, a claim the scrubber passes writes clean ---

_hostile = st.one_of(
    st.sampled_from(["O'Brien", "Núñez", "Zoë", "Ærøskøbing", "D'Angelo-Smith", "Łukasz", "Ünal", "Nguyễn",
                     "Ｆｕｌｌｗｉｄｔｈ", "Smith Jr.", "  spaced   out  ", "Ma\tTab", "ﬁnn"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=80),
    st.text(st.sampled_from("ABCXYZabcxyz '-.,éÉüÜñ"), min_size=1, max_size=90),
)


@st.composite
def _claims(draw) -> Claim:
    base = draw(st.sampled_from([primary_claim, dependent_claim, replacement_claim, void_claim, secondary_claim]))()
    home = replace(base.patient.address, street=draw(st.one_of(st.just("12 Elm Road"), _hostile)),
                   city=draw(st.one_of(st.just("Springfield"), _hostile)))
    patient = replace(base.patient, last=draw(_hostile), first=draw(_hostile),
                      middle=draw(st.one_of(st.just(""), _hostile)), address=home)
    subscriber = base.subscriber
    if subscriber.relationship == "self":
        subscriber = replace(subscriber, person=patient)
    else:
        subscriber = replace(subscriber, person=replace(subscriber.person, last=draw(_hostile)))
    lines = tuple(line(n, draw(st.sampled_from(["99213", "G0439", "3074F", "0042T", "J1100"])),
                       draw(st.integers(1, 9_999_999)), units=draw(st.integers(1, 99)),
                       modifiers=tuple(draw(st.lists(st.sampled_from(["25", "59", "LT", "RT", "QW"]),
                                                     max_size=4, unique=True))))
                  for n in range(1, draw(st.integers(1, 6)) + 1))
    return replace(base, patient=patient, subscriber=subscriber, lines=lines,
                   other_payers=() if lines != base.lines else base.other_payers)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=st.lists(_claims(), min_size=1, max_size=3))
def test_property_every_ready_claim_writes_a_pyx12_clean_file(claims):
    clean = [c for c in claims if ready(scrub(c, today=TODAY))]
    for claim in claims:
        if claim not in clean:
            with pytest.raises(ValueError):  # the writer refuses what the scrubber holds ...
                write_837p([claim], **ENVELOPE)
    if clean:  # ... and what it passes, pyx12 passes too
        text = write_837p([replace(c, claim_id=f"P{n}") for n, c in enumerate(clean)], **ENVELOPE)
        assert text.isascii()
        assert_valid_x12(text)


def write_golden_files() -> None:
    GOLDEN.mkdir(exist_ok=True)
    for name, make in SAMPLES.items():
        (GOLDEN / name).write_text(write_837p([make()], **ENVELOPE), encoding="ascii")


if __name__ == "__main__":  # python tests/test_claims_x837.py: rewrite the golden files
    write_golden_files()
