"""The 837P writer: professional claims as one X12 5010 interchange, implementation guide
005010X222A1 (Health Care Claim: Professional).

One call writes one ISA..IEA interchange holding one GS/GE functional group and one ST/SE
transaction set, built with :mod:`tui_billing.claims.x12` (so SE01, GE01 and IEA01 are counted):

* 1000A submitter (the billing provider's submitter id and contact), 1000B receiver;
* 2000A billing provider (NM1*85, address, REF*EI tax id, PRV*BI taxonomy), 2010AB pay-to
  address when it differs;
* 2000B subscriber (SBR, NM1*IL, DMG) and 2010BB payer (NM1*PR); 2000C patient (PAT,
  NM1*QC) only when the patient is a dependent (relationship other than self);
* 2300 claim: CLM with CLM05-3 frequency (1 original, 7 replacement, 8 void) and REF*F8 the
  payer's claim number on 7/8; HI with ABK (principal) then ABF, codes without the dot;
  2310B rendering provider only when its NPI differs from the billing provider's;
* 2320/2330A/2330B other payers on a secondary claim (SBR, CAS, AMT*D, OI, NM1*IL, NM1*PR);
* 2400 service lines: LX, SV1 (procedure, modifiers, charge, units, diagnosis pointers),
  DTP*472 date of service, REF*6R line control number; 2430 the other payers' line
  adjudication (SVD, CAS, DTP*573).

Text goes out in the X12 basic character set (see :func:`tui_billing.claims.x12.basic_text`);
a delimiter in data, a claim id over 17 characters or a required name with nothing left after
transliteration is refused with a ValueError naming the field. The scrubber
(:mod:`tui_billing.claims.scrub`) finds all of these first and says where to fix them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from .model import RELATIONSHIP_CODES, Address, BillingProvider, Claim, OtherPayer, Person
from .x12 import Transaction, amount, basic_text, composite, date8, digits, identifier, interchange, segment

__all__ = ["CLAIM_ID_MAX", "GUIDE", "MAX_CLAIMS", "write_837p"]

GUIDE = "005010X222A1"
#: CLM01 may be 38 characters, but several payers keep only 17 (and echo no more in the 835).
CLAIM_ID_MAX = 17
#: The guide asks trading partners to keep one transaction set to at most 5000 claims.
MAX_CLAIMS = 5000

# element lengths from the guide: a name longer than its element is cut there (ids never are)
_ORG_NAME, _LAST, _FIRST, _MIDDLE, _STREET, _CITY = 60, 60, 35, 25, 55, 30


def write_837p(claims: Sequence[Claim], *, sender_id: str, receiver_id: str, receiver_name: str,
               interchange_number: int, group_number: int, production: bool, created: dt.datetime) -> str:
    """The 837P interchange for ``claims`` (all for one receiver), as text.

    ``interchange_number`` and ``group_number`` become ISA13/IEA02 and GS06/GE02; ``created``
    dates the envelope and BHT; ``production`` sets ISA15 (P or T).

    Raises:
        ValueError: no claims, more than :data:`MAX_CLAIMS`, or data X12 cannot carry (the
        message names the claim and the field).
    """
    if not claims:
        raise ValueError("an 837P needs at least one claim")
    if len(claims) > MAX_CLAIMS:
        raise ValueError(f"{len(claims)} claims: one 837P transaction carries at most {MAX_CLAIMS}; split the batch")
    st = Transaction("837", "0001", GUIDE)
    st.add("BHT", "0019", "00", str(interchange_number), created.strftime("%Y%m%d"), created.strftime("%H%M"), "CH")
    first = claims[0].billing
    st.extend(_submitter(first, receiver_id, receiver_name))
    hl = 0
    billing_hl: dict[BillingProvider, int] = {}
    for claim in claims:
        try:
            parent = billing_hl.get(claim.billing)
            if parent is None:
                hl += 1
                parent = billing_hl[claim.billing] = hl
                st.extend(_billing_provider(claim.billing, hl))
            segments, hl = _claim(claim, parent, hl)
        except ValueError as exc:
            raise ValueError(f"claim {claim.claim_id!r}: {exc}") from None
        st.extend(segments)
    return interchange([st.close()], functional_id="HC", guide=GUIDE, sender_id=sender_id, receiver_id=receiver_id,
                       interchange_number=interchange_number, group_number=group_number, production=production,
                       created=created)


def _required(value: str, field: str, max_len: int) -> str:
    text = basic_text(value, field, max_len=max_len)
    if not text:
        raise ValueError(f"{field}: {value!r} has nothing X12 can carry (it needs letters A-Z or digits)")
    return text


def _address(address: Address, field: str, *, zip9: bool = False) -> list[str]:
    street = _required(address.street, f"{field}.street", _STREET)
    street2 = basic_text(address.street2, f"{field}.street2", max_len=_STREET)
    city = _required(address.city, f"{field}.city", _CITY)
    if len(city) < 2:  # N401 is 2 to 30 characters
        raise ValueError(f"{field}.city: {address.city!r} is sent as {city!r}; a city needs 2 characters")
    state = identifier(address.state, f"{field}.state", max_len=2, min_len=2)
    zip_code = digits(address.zip)
    if len(zip_code) not in ((9,) if zip9 else (5, 9)) or zip_code != address.zip.strip():
        raise ValueError(f"{field}.zip: {address.zip!r} must be {'9' if zip9 else '5 or 9'} digits")
    return [segment("N3", street, street2), segment("N4", city, state, zip_code)]


def _person_name(code: str, person: Person, field: str, id_qualifier: str = "", id_value: str = "") -> str:
    last = _required(person.last, f"{field}.last", _LAST)
    # a first name may be absent, but one that was given must not vanish on the way
    first = _required(person.first, f"{field}.first", _FIRST) if person.first.strip() else ""
    middle = basic_text(person.middle, f"{field}.middle", max_len=_MIDDLE)
    return segment("NM1", code, "1", last, first, middle, "", "", id_qualifier, id_value)


def _demographics(person: Person, field: str) -> str:
    if len(person.dob) != 10:
        raise ValueError(f"{field}.dob: {person.dob!r} is not a date")
    sex = person.sex.upper() if person.sex.upper() in ("F", "M") else "U"
    return segment("DMG", "D8", date8(person.dob), sex)


def _submitter(billing: BillingProvider, receiver_id: str, receiver_name: str) -> list[str]:
    name = _required(billing.name, "billing.name", _ORG_NAME)
    submitter = identifier(billing.submitter_id, "billing.submitter_id", max_len=80, min_len=2)
    phone = digits(billing.phone)
    if len(phone) != 10:
        raise ValueError(f"billing.phone: {billing.phone!r} must be 10 digits")
    contact = basic_text(billing.contact, "billing.contact", max_len=60)
    return [
        segment("NM1", "41", "2", name, "", "", "", "", "46", submitter),
        segment("PER", "IC", contact or name, "TE", phone),
        segment("NM1", "40", "2", _required(receiver_name, "receiver name", _ORG_NAME), "", "", "", "", "46",
                identifier(receiver_id, "receiver id", max_len=80, min_len=2)),
    ]


def _billing_provider(billing: BillingProvider, hl: int) -> list[str]:
    out = [segment("HL", str(hl), "", "20", "1")]
    if billing.taxonomy:
        out.append(segment("PRV", "BI", "PXC", identifier(billing.taxonomy, "billing.taxonomy", max_len=10, min_len=10)))
    out.append(segment("NM1", "85", "2", _required(billing.name, "billing.name", _ORG_NAME), "", "", "", "", "XX",
                       identifier(billing.npi, "billing.npi", max_len=10, min_len=10)))
    out.extend(_address(billing.address, "billing.address", zip9=True))
    out.append(segment("REF", "EI", identifier(billing.ein, "billing.ein", max_len=9, min_len=9)))
    if billing.pay_to is not None and billing.pay_to != billing.address:
        out.append(segment("NM1", "87", "2"))
        out.extend(_address(billing.pay_to, "billing.pay_to"))
    return out


def _claim(claim: Claim, parent: int, hl: int) -> tuple[list[str], int]:
    """The 2000B (and 2000C) and 2300 loops of one claim; returns them and the last HL number."""
    sub = claim.subscriber
    dependent = sub.relationship != "self"
    out: list[str] = []
    hl += 1
    subscriber_hl = hl
    out.append(segment("HL", str(hl), str(parent), "22", "1" if dependent else "0"))
    group = basic_text(sub.group_no, "subscriber.group_no", max_len=50)
    filing = identifier(claim.payer.filing_code, "payer.filing_code", max_len=2, min_len=2)
    out.append(segment("SBR", claim.responsibility, "" if dependent else "18", group, "", "", "", "", "", filing))
    member = identifier(sub.member_id, "subscriber.member_id", max_len=80, min_len=2)
    out.append(_person_name("IL", sub.person, "subscriber", "MI", member))
    out.extend(_address(sub.person.address, "subscriber.address"))
    out.append(_demographics(sub.person, "subscriber"))
    out.append(segment("NM1", "PR", "2", _required(claim.payer.name, "payer.name", _ORG_NAME), "", "", "", "", "PI",
                       identifier(claim.payer.edi_id, "payer.edi_id", max_len=80, min_len=2)))
    if claim.payer.address is not None:
        out.extend(_address(claim.payer.address, "payer.address"))
    if dependent:
        code = RELATIONSHIP_CODES.get(sub.relationship)
        if code is None:
            raise ValueError(f"subscriber.relationship: {sub.relationship!r} is not self, spouse, child or other")
        hl += 1
        out.append(segment("HL", str(hl), str(subscriber_hl), "23", "0"))
        out.append(segment("PAT", code))
        out.append(_person_name("QC", claim.patient, "patient"))
        out.extend(_address(claim.patient.address, "patient.address"))
        out.append(_demographics(claim.patient, "patient"))
    out.extend(_claim_information(claim))
    return out, hl


def _claim_information(claim: Claim) -> list[str]:
    """Loop 2300 and everything inside it."""
    claim_id = identifier(claim.claim_id, "claim_id", max_len=CLAIM_ID_MAX)
    if claim.frequency not in ("1", "7", "8"):
        raise ValueError(f"frequency: {claim.frequency!r} is not 1, 7 or 8")
    if not claim.lines:
        raise ValueError("lines: a claim needs at least one service line")
    if not 1 <= len(claim.diagnoses) <= 12:
        raise ValueError(f"diagnoses: {len(claim.diagnoses)} codes; a claim carries 1 to 12")
    out = [segment(
        "CLM", claim_id, amount(claim.total), "", "", composite(claim.place_of_service, "B", claim.frequency), "Y",
        "A" if claim.assignment else "C", "Y" if claim.assignment else "N", "Y" if claim.signature_on_file else "I")]
    if claim.frequency != "1":
        out.append(segment("REF", "F8", identifier(claim.payer_claim_number, "payer_claim_number", max_len=50)))
    hi: list[str] = []
    for n, code in enumerate(claim.diagnoses):
        flat = identifier(code.replace(".", ""), f"diagnoses[{n + 1}]", max_len=7, min_len=3)
        hi.append(composite("ABK" if n == 0 else "ABF", flat))
    out.append(segment("HI", *hi))
    rendering = claim.rendering
    if rendering.npi != claim.billing.npi:
        out.append(segment("NM1", "82", "1", _required(rendering.last, "rendering.last", _LAST),
                           _required(rendering.first, "rendering.first", _FIRST) if rendering.first.strip() else "",
                           "", "", "", "XX",
                           identifier(rendering.npi, "rendering.npi", max_len=10, min_len=10)))
        if rendering.taxonomy:
            out.append(segment("PRV", "PE", "PXC",
                               identifier(rendering.taxonomy, "rendering.taxonomy", max_len=10, min_len=10)))
    for n, other in enumerate(claim.other_payers, start=1):
        out.extend(_other_payer(other, claim, f"other_payers[{n}]"))
    if [line.line_no for line in claim.lines] != list(range(1, len(claim.lines) + 1)):
        raise ValueError("lines: LX01 must number the lines 1, 2, 3 ... in order")
    procedures = {}
    for line in claim.lines:
        field = f"lines[{line.line_no}]"
        if len(line.modifiers) > 4:
            raise ValueError(f"{field}.modifiers: at most 4")
        procedure = composite("HC", identifier(line.code, f"{field}.code", max_len=5, min_len=5),
                              *(identifier(m, f"{field}.modifiers", max_len=2, min_len=2) for m in line.modifiers))
        procedures[line.line_no] = procedure
        if not 1 <= len(line.pointers) <= 4:
            raise ValueError(f"{field}.pointers: 1 to 4 diagnosis pointers")
        out.append(segment("LX", str(line.line_no)))
        out.append(segment(
            "SV1", procedure, amount(line.charge), "UN", str(line.units),
            line.place_of_service if line.place_of_service != claim.place_of_service else "", "",
            composite(*map(str, line.pointers))))
        out.append(segment("DTP", "472", "D8", date8(line.dos)))
        out.append(segment("REF", "6R", identifier(line.control_number, f"{field}.control_number", max_len=50)))
        for n, other in enumerate(claim.other_payers, start=1):
            for paid in other.lines:
                if paid.line_no == line.line_no:
                    out.extend(_line_adjudication(other, paid.paid, paid.adjustments, paid.paid_date, procedure,
                                                  line.units, f"other_payers[{n}].lines[{line.line_no}]"))
    known = set(procedures)
    for n, other in enumerate(claim.other_payers, start=1):
        for paid in other.lines:
            if paid.line_no not in known:
                raise ValueError(f"other_payers[{n}]: a payment for line {paid.line_no}, which the claim lacks")
    return out


def _adjustments(adjustments: Sequence[tuple[str, str, int]], field: str) -> list[str]:
    """CAS segments: one per group code, at most 6 reasons each (a seventh starts another CAS)."""
    by_group: dict[str, list[tuple[str, str, int]]] = {}
    for group, reason, cents in adjustments:
        by_group.setdefault(identifier(group, f"{field}.adjustments", max_len=2, min_len=2), []).append(
            (group, reason, cents))
    out = []
    for group, rows in by_group.items():
        for start in range(0, len(rows), 6):
            elements: list[str] = []
            for _group, reason, cents in rows[start:start + 6]:
                elements += [identifier(reason, f"{field}.adjustments", max_len=5), amount(cents), ""]
            out.append(segment("CAS", group, *elements))
    return out


def _other_payer(other: OtherPayer, claim: Claim, field: str) -> list[str]:
    """Loops 2320 (SBR, CAS, AMT*D, OI), 2330A (NM1*IL) and 2330B (NM1*PR) of one earlier payer."""
    sub = other.subscriber
    code = RELATIONSHIP_CODES.get(sub.relationship)
    if code is None:
        raise ValueError(f"{field}.subscriber.relationship: {sub.relationship!r} is not self, spouse, child or other")
    out = [segment("SBR", other.responsibility, code, basic_text(sub.group_no, f"{field}.group_no", max_len=50),
                   "", "", "", "", "", identifier(other.payer.filing_code, f"{field}.filing_code", max_len=2, min_len=2))]
    out.extend(_adjustments(other.claim_adjustments, field))
    out.append(segment("AMT", "D", amount(other.paid)))
    out.append(segment("OI", "", "", "Y" if claim.assignment else "N", "", "", "Y" if claim.signature_on_file else "I"))
    out.append(_person_name("IL", sub.person, f"{field}.subscriber", "MI",
                            identifier(sub.member_id, f"{field}.member_id", max_len=80, min_len=2)))
    out.extend(_address(sub.person.address, f"{field}.subscriber.address"))
    out.append(segment("NM1", "PR", "2", _required(other.payer.name, f"{field}.payer.name", _ORG_NAME), "", "", "", "",
                       "PI", identifier(other.payer.edi_id, f"{field}.payer.edi_id", max_len=80, min_len=2)))
    return out


def _line_adjudication(other: OtherPayer, paid: int, adjustments: Sequence[tuple[str, str, int]], paid_date: str,
                       procedure: str, units: int, field: str) -> list[str]:
    """Loop 2430: what an earlier payer paid and adjusted on this line, and when."""
    out = [segment("SVD", identifier(other.payer.edi_id, f"{field}.payer.edi_id", max_len=80, min_len=2), amount(paid),
                   procedure, "", str(units))]
    out.extend(_adjustments(adjustments, field))
    out.append(segment("DTP", "573", "D8", date8(paid_date)))
    return out
