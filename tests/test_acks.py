"""The 999 and 277CA readers, on hand-made files (tests/data/acks/) and on the demo's sample files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_billing.claims import acks

DATA = Path(__file__).parent / "data" / "acks"


def _read(name: str) -> acks.Ack999 | acks.Ack277:
    return acks.parse((DATA / name).read_text(encoding="ascii"))


def test_a_999_behind_a_ta1_says_which_transaction_sets_were_rejected_and_why():
    ack = _read("999-partial-with-ta1.x12")
    assert isinstance(ack, acks.Ack999)
    assert ack.ta1 == acks.Interchange("000000045", "A", "000") and not ack.ta1.rejected
    (group,) = ack.groups
    assert (group.group_control, group.version, group.status) == ("45", "005010X222A1", "P")
    assert [(s.control_number, s.status, s.rejected) for s in group.sets] == [
        ("0001", "A", False), ("0002", "R", True), ("0003", "E", False)]
    assert group.sets[1].errors == ("5", "IK3 NM1 23 8", "IK4 9 7", "IK3 CLM 31 8")
    assert not group.rejected  # partly accepted: the group stands, one set of it does not


def test_a_rejected_999_with_other_delimiters():
    ack = _read("999-rejected.x12")
    assert isinstance(ack, acks.Ack999) and ack.ta1 is None
    (group,) = ack.groups
    assert group.rejected and group.group_control == "46"
    assert [(s.control_number, s.errors) for s in group.sets] == [("0001", ("4", "IK3 SE 59 8"))]


def test_a_ta1_alone_rejects_the_interchange():
    ack = _read("ta1-rejected.x12")
    assert isinstance(ack, acks.Ack999) and not ack.groups
    assert ack.ta1 is not None and ack.ta1.rejected and (ack.ta1.control_number, ack.ta1.note) == ("000000047", "022")


def test_a_277ca_names_each_claim_its_outcome_its_reason_and_the_payers_claim_number():
    ack = _read("277ca-mixed.x12")
    assert isinstance(ack, acks.Ack277) and ack.reference == "277X45"
    got = {c.claim_id: (c.outcome, c.reason, c.payer_claim_number, c.charge) for c in ack.claims}
    assert got == {
        "C20260309-0042": ("accepted", "", "PHP2026030900117", 200_00),
        "C20260309-0043": ("accepted", "", "PHP2026030900118", 125_00),
        "C20260309-0044": ("rejected", "A7:562:85", "", 162_50),
        "C20260309-0045": ("rejected", "A3:21, A8:454:QC", "", 125_00),
    }
    by_id = {c.claim_id: c for c in ack.claims}
    assert by_id["C20260309-0044"].message == "BILLING PROVIDER NPI NOT ON FILE"
    assert by_id["C20260309-0042"].clearinghouse_number == "CH99887766"
    assert by_id["C20260309-0045"].line_controls == (("C20260309-0045-1", acks.Status("A8", "454", "QC")),)
    assert by_id["C20260309-0043"].status_date == "2026-03-12"


@pytest.mark.parametrize("text, why", [
    ("", "does not start with an ISA"),
    ("ISA*00*" + "x" * 50, "does not start with an ISA"),
    ((DATA / "999-rejected.x12").read_text().replace("ST|999", "ST|837"), "transaction set 837"),
    ((DATA / "277ca-mixed.x12").read_text().replace("TRN*2*C20260309-0043~", ""), "no TRN"),
])
def test_what_is_not_an_acknowledgement_is_refused(text, why):
    with pytest.raises(acks.AckError, match=why):
        acks.parse(text)


def test_a_999_without_its_ak9_is_refused():
    text = (DATA / "999-rejected.x12").read_text().replace("AK9|R|1|1|0~", "")
    with pytest.raises(acks.AckError, match="no AK9"):
        acks.parse(text)


ENV = acks.Envelope("CLEARINGHSE", "RFM01", "2026-03-12", control=9001)
claim_ids = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=17).filter(
    lambda s: s.strip("-") == s)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(claim_ids, st.integers(1, 9_999_999), st.booleans()), min_size=1, max_size=8,
                unique_by=lambda t: t[0]), st.booleans(), st.booleans())
def test_the_sample_files_read_back_as_what_they_were_made_to_say(claims, reject_file, with_ta1):
    sent = acks.SampleFile(45, 45, "0001", [acks.SampleClaim(cid, charge, "DOE", "JANE", "M1", accept=ok)
                                            for cid, charge, ok in claims], reject_file=reject_file)
    files = acks.sample_acks(sent, ENV, with_ta1=with_ta1)
    ack999 = acks.parse(files["999"])
    assert isinstance(ack999, acks.Ack999)
    assert [(s.control_number, s.rejected) for g in ack999.groups for s in g.sets] == [("0001", reject_file)]
    assert (ack999.ta1 is not None) == with_ta1
    if reject_file:
        assert "277CA" not in files
        return
    ack277 = acks.parse(files["277CA"])
    assert isinstance(ack277, acks.Ack277)
    assert [(c.claim_id, c.charge, c.outcome) for c in ack277.claims] == [
        (cid, charge, "accepted" if ok else "rejected") for cid, charge, ok in claims]
    assert all(bool(c.payer_claim_number) == (c.outcome == "accepted") for c in ack277.claims)
    assert all(c.reason == ("" if c.outcome == "accepted" else "A7:562:85") for c in ack277.claims)


def _without_ta1(text: str) -> str:
    # pyx12 4 reads a TA1 between ISA and GS as a missing GS loop (X12 allows it there): it is
    # checked by the parser tests above, the rest of the interchange by pyx12
    delims, _ = acks.segments(text)
    return delims.segment.join(s for s in text.split(delims.segment) if not s.strip().startswith("TA1"))


@pytest.mark.parametrize("name, charset", [("999-partial-with-ta1.x12", "B"), ("999-rejected.x12", "E"),
                                           ("277ca-mixed.x12", "B")])
def test_the_hand_made_files_are_valid_x12(name, charset):
    from x12_check import x12_errors

    assert x12_errors(_without_ta1((DATA / name).read_text(encoding="ascii")), charset=charset) == []


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(claim_ids, st.integers(1, 9_999_999), st.booleans()), min_size=1, max_size=5,
                unique_by=lambda t: t[0]), st.booleans())
def test_the_sample_files_the_demo_writes_are_valid_x12(claims, reject_file):
    from x12_check import assert_valid_x12

    sent = acks.SampleFile(45, 45, "0001", [acks.SampleClaim(cid, charge, "DOE", "JANE", "M1", accept=ok)
                                            for cid, charge, ok in claims], reject_file=reject_file)
    for text in acks.sample_acks(sent, ENV, with_ta1=True).values():
        assert_valid_x12(_without_ta1(text))
