"""What one claim says, as plain frozen records: the one input of the scrubber, the 837P writer
and the CMS-1500 printer (and what an 835 is matched against).

The store builds these from the books (``store/claims.py``); nothing here reads a database or
imports Textual, so every writer is tested on records made by hand. Money is integer cents,
dates are ISO ``YYYY-MM-DD`` strings, codes are as the books keep them (diagnoses with their dot:
the writers drop it, the scrubber checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Claim frequency codes (CLM05-3 / box 22): an original, a replacement of a sent claim, a void.
ORIGINAL, REPLACEMENT, VOID = "1", "7", "8"
#: Payer responsibility sequence (SBR01) by coverage priority.
RESPONSIBILITY = {1: "P", 2: "S", 3: "T"}
#: The patient's relationship to the subscriber, as the books keep it -> X12 code (SBR02 / PAT01).
RELATIONSHIP_CODES = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str
    zip: str  # 5 or 9 digits, no dash
    street2: str = ""


@dataclass(frozen=True)
class Person:
    last: str
    first: str
    dob: str  # ISO date
    sex: str  # F, M or U (X is shown on screen, sent as U)
    address: Address
    middle: str = ""


@dataclass(frozen=True)
class BillingProvider:
    """The practice as it bills (loop 2010AA), with its pay-to address when it differs."""

    name: str
    npi: str
    ein: str  # 9 digits, no dash
    taxonomy: str
    address: Address
    phone: str
    submitter_id: str
    contact: str = ""
    pay_to: Address | None = None


@dataclass(frozen=True)
class RenderingProvider:
    last: str
    first: str
    npi: str
    taxonomy: str = ""


@dataclass(frozen=True)
class Payer:
    id: int  # the books' payer row
    name: str
    edi_id: str  # NM109 of loop 2010BB
    filing_code: str  # SBR09: MB, MC, CI, BL, ...
    address: Address | None
    receiver: str  # who gets its claims: a clearinghouse's or the payer's own id
    timely_filing_days: int = 365


@dataclass(frozen=True)
class Subscriber:
    """The insured person of the coverage billed; ``person`` is the patient when relationship is self."""

    member_id: str
    group_no: str
    relationship: str  # self, spouse, child, other
    person: Person
    coverage_id: int = 0
    effective: str = ""  # coverage dates, '' when open
    end_date: str = ""


@dataclass(frozen=True)
class ClaimLine:
    line_no: int  # LX01, 1..50
    control_number: str  # REF*6R: how the 835 finds this line again
    charge_id: int
    code: str
    modifiers: tuple[str, ...]
    units: int
    charge: int  # cents, the line's total (fee x units)
    dos: str
    pointers: tuple[int, ...]  # 1-based into Claim.diagnoses, 1..4 of them
    place_of_service: str = "11"


@dataclass(frozen=True)
class OtherPayment:
    """What an earlier payer did with one line (a secondary claim's loop 2430)."""

    line_no: int
    paid: int
    adjustments: tuple[tuple[str, str, int], ...]  # (group code, CARC, cents)
    paid_date: str


@dataclass(frozen=True)
class OtherPayer:
    """An earlier payer's adjudication (loops 2320/2330 on a secondary claim)."""

    payer: Payer
    subscriber: Subscriber
    responsibility: str  # P, S, T
    paid: int  # AMT*D
    claim_adjustments: tuple[tuple[str, str, int], ...] = ()
    lines: tuple[OtherPayment, ...] = ()


@dataclass(frozen=True)
class Claim:
    claim_id: str  # CLM01: our id, <= 17 characters
    frequency: str  # ORIGINAL, REPLACEMENT or VOID
    responsibility: str  # P, S, T
    patient: Person
    account: str
    subscriber: Subscriber
    payer: Payer
    billing: BillingProvider
    rendering: RenderingProvider
    diagnoses: tuple[str, ...]  # ICD-10-CM as kept (with the dot), principal first, <= 12
    lines: tuple[ClaimLine, ...]
    place_of_service: str = "11"
    payer_claim_number: str = ""  # REF*F8 on a replacement or void
    assignment: bool = True  # CLM07 / CLM08
    signature_on_file: bool = True  # CLM09
    other_payers: tuple[OtherPayer, ...] = field(default=())
    id: int = 0  # the books' claim row (0 before it is recorded)

    @property
    def total(self) -> int:
        return sum(line.charge for line in self.lines)
