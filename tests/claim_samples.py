"""Claims made by hand for the scrubber and 837P tests: a clean primary claim, and the variations
(dependent, replacement, void, secondary) built from it with ``dataclasses.replace``."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from tui_billing.claims.model import (
    REPLACEMENT,
    VOID,
    Address,
    BillingProvider,
    Claim,
    ClaimLine,
    OtherPayer,
    OtherPayment,
    Payer,
    Person,
    RenderingProvider,
    Subscriber,
)

#: The envelope arguments every golden file is written with (the created time pinned).
ENVELOPE = dict(sender_id="TUIBILLING01", receiver_id="CLEARHOUSE", receiver_name="Clear House Exchange",
                interchange_number=101, group_number=201, production=False,
                created=dt.datetime(2026, 3, 2, 9, 30))

#: A day on which the sample claims are fresh and covered.
TODAY = "2026-03-02"

PRACTICE = BillingProvider(
    name="Riverside Family Medicine", npi="1245319599", ein="741234567", taxonomy="207Q00000X",
    address=Address("100 Main Street", "Springfield", "IL", "627011234", "Suite 2"), phone="(217) 555-0100",
    submitter_id="TUIBILLING01", contact="Dana Biller")
DOCTOR = RenderingProvider(last="Okafor", first="Ada", npi="1234567893", taxonomy="207Q00000X")
ACME = Payer(id=1, name="Acme Health Plan", edi_id="ACME1", filing_code="CI",
             address=Address("PO Box 1000", "Chicago", "IL", "60601"), receiver="CLEARHOUSE")
MEDICARE = Payer(id=2, name="Medicare Part B", edi_id="MCRB1", filing_code="MB", address=None, receiver="CLEARHOUSE")
HOME = Address("12 Elm Road", "Springfield", "IL", "62704")
JANE = Person(last="Doe", first="Jane", middle="Q", dob="1980-05-17", sex="F", address=HOME)
TOMMY = Person(last="Doe", first="Tommy", dob="2015-09-01", sex="M", address=HOME)


def line(n: int, code: str = "99213", charge: int = 12500, *, modifiers: tuple[str, ...] = (),
         pointers: tuple[int, ...] = (1,), dos: str = "2026-02-20", units: int = 1) -> ClaimLine:
    return ClaimLine(line_no=n, control_number=f"L{1000 + n}", charge_id=n, code=code, modifiers=modifiers,
                     units=units, charge=charge, dos=dos, pointers=pointers)


def primary_claim() -> Claim:
    """Jane is her own subscriber; two lines, three diagnoses, a rendering doctor."""
    return Claim(
        claim_id="C0000001", frequency="1", responsibility="P", patient=JANE, account="A1001",
        subscriber=Subscriber(member_id="XJD123456789", group_no="GRP-42", relationship="self", person=JANE,
                              coverage_id=1, effective="2025-01-01"),
        payer=ACME, billing=PRACTICE, rendering=DOCTOR,
        diagnoses=("E11.9", "I10", "Z79.4"),
        lines=(line(1, "99213", 12500, modifiers=("25",), pointers=(1, 2)),
               line(2, "82947", 2550, pointers=(1, 3))))


def dependent_claim() -> Claim:
    """Tommy, a child on his mother's coverage (loop 2000C), seen by the billing NPI itself."""
    base = primary_claim()
    return replace(base, claim_id="C0000002", patient=TOMMY, account="A1002",
                   subscriber=replace(base.subscriber, relationship="child"),
                   rendering=replace(DOCTOR, npi=PRACTICE.npi),
                   diagnoses=("J02.9",), lines=(line(1, "99214", 16000), line(2, "87880", 3000, modifiers=("QW",))))


def replacement_claim() -> Claim:
    return replace(primary_claim(), claim_id="C0000003", frequency=REPLACEMENT, payer_claim_number="PCN20260225001")


def void_claim() -> Claim:
    return replace(primary_claim(), claim_id="C0000004", frequency=VOID, payer_claim_number="PCN20260225001")


def secondary_claim() -> Claim:
    """Jane's claim to Medicare after Acme paid part of each line (loops 2320/2330/2430)."""
    base = primary_claim()
    acme = OtherPayer(
        payer=ACME, subscriber=base.subscriber, responsibility="P", paid=9000,
        claim_adjustments=(),
        lines=(OtherPayment(1, 8000, (("CO", "45", 2500), ("PR", "2", 2000)), "2026-02-27"),
               OtherPayment(2, 1000, (("CO", "45", 550), ("PR", "1", 1000)), "2026-02-27")))
    return replace(base, claim_id="C0000005", responsibility="S", payer=MEDICARE,
                   subscriber=replace(base.subscriber, member_id="1EG4TE5MK73"), other_payers=(acme,))
