"""Claims made by hand for the CMS-1500 tests: a primary claim of a dependent with a secondary payer
on file, and the same with any number of lines."""

from __future__ import annotations

from dataclasses import replace

from tui_billing.claims.model import (
    Address,
    BillingProvider,
    Claim,
    ClaimLine,
    OtherPayer,
    Payer,
    Person,
    RenderingProvider,
    Subscriber,
)

PRACTICE = BillingProvider(
    name="Riverside Family Medicine", npi="1234567893", ein="123456789", taxonomy="207Q00000X",
    address=Address("100 Main Street", "Springfield", "IL", "627011234", street2="Suite 200"),
    phone="217-555-0100", submitter_id="RFM01",
)
PAYER = Payer(id=3, name="Prairie Health Plan", edi_id="PHP01", filing_code="CI",
              address=Address("PO Box 4400", "Chicago", "IL", "606804400"), receiver="PAPER")
SECOND_PAYER = Payer(id=4, name="Lakeside Mutual", edi_id="LKM02", filing_code="CI", address=None, receiver="PAPER")
MOTHER = Person("Müller-Ortiz", "Ana", "1980-02-29", "F", Address("12 Oak Lane", "Springfield", "IL", "62704"),
                middle="Beatriz")
CHILD = Person("Muller-Ortiz", "Leo", "2015-07-04", "M", Address("12 Oak Lane", "Springfield", "IL", "62704"))
FATHER = Person("Ortiz", "Juan", "1979-11-30", "M", Address("9 Elm Court", "Decatur", "IL", "625231001"))


def line(n: int, charge: int = 12_500, code: str = "99213", dos: str = "2026-03-09") -> ClaimLine:
    return ClaimLine(line_no=n, control_number=f"L{n:03d}", charge_id=100 + n, code=code,
                     modifiers=("25",) if n == 1 else (), units=1 + (n % 3 == 0), charge=charge, dos=dos,
                     pointers=(1, 2) if n % 2 else (3,))


def claim(n_lines: int = 3, **changes) -> Claim:
    base = Claim(
        claim_id="C20260309-0042", frequency="1", responsibility="P", patient=CHILD, account="A10042",
        subscriber=Subscriber("XGP123456789", "GRP-77", "child", MOTHER, coverage_id=7),
        payer=PAYER, billing=PRACTICE, rendering=RenderingProvider("Nguyen", "Thi", "1245319599"),
        diagnoses=("J06.9", "R50.9", "Z23"),
        lines=tuple(line(n, charge=10_000 + 1_111 * n) for n in range(1, n_lines + 1)),
        other_payers=(OtherPayer(SECOND_PAYER, Subscriber("LM-555", "G9", "child", FATHER), "S", 0),),
    )
    return replace(base, **changes)
