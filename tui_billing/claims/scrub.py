"""The claim scrubber: the content checks an X12 validator does not make, run on a claim before it
is batched into an 837P (guide 005010X222A1) or printed on a CMS-1500.

A validator such as pyx12 passes a claim with a mistyped NPI, a category instead of a billable
diagnosis or a date of service outside the coverage: payers reject those days later. Each rule
here is one small function in :data:`RULES` (the way beancount registers its validations) that
returns :class:`Problem` values, never raises: every problem names the field and where a clerk
fixes it (the account screen, the payer, the practice, the provider, the charge, the fee schedule,
the claim). Warnings (``warning=True``) do not hold a claim; :func:`ready` says whether anything
else was found.

Pure: no database, no Textual. ICD-10-CM answers come from :mod:`tui_billing.codes` (its cached
code-set tables, loaded once).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import codes
from .model import ORIGINAL, REPLACEMENT, VOID, Address, Claim, Person
from .x12 import BASIC_CHARACTERS, basic_text, delimiters_in, is_plain, outside_basic

__all__ = ["FIX_AT", "MAX_DIAGNOSES", "MAX_LINES", "RULES", "Problem", "icd10_release", "ready", "scrub"]

#: Where a problem is fixed: the screens and records a clerk can open.
FIX_AT = ("account", "payer", "practice", "provider", "charge", "fee schedule", "claim")
MAX_LINES, MAX_DIAGNOSES = 50, 12
CLAIM_ID_MAX = 17  # CLM01: the length every payer keeps (x837.CLAIM_ID_MAX)
ICD10_START = "2015-10-01"  # ICD-10-CM replaced ICD-9-CM for services from this day

#: SBR09 claim filing indicator codes of the 5010 guide.
FILING_CODES = frozenset({"11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM",
                          "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ"})
ADJUSTMENT_GROUPS = frozenset({"CO", "CR", "OA", "PI", "PR"})

_PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*(?:BOX|B\.?\s*\d|DRAWER)|POST\s+OFFICE\s+(?:BOX|DRAWER)|POB\s*\d|LOCK\s*BOX)"
                     r"|^\s*BOX\s+\d", re.IGNORECASE)
_DIGITS9 = re.compile(r"[0-9]{9}")
_ZIP = re.compile(r"[0-9]{5}(?:[0-9]{4})?")
_STATE = re.compile(r"[A-Z]{2}")
_TAXONOMY = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")


@dataclass(frozen=True)
class Problem:
    """One finding: ``field`` is the claim's field path (``billing.npi``, ``lines[2].pointers``),
    ``fix_at`` one of :data:`FIX_AT`."""

    field: str
    message: str
    fix_at: str
    warning: bool = False


@dataclass(frozen=True)
class _Context:
    today: str
    duplicate_of: str


Rule = Callable[[Claim, _Context], Iterable[Problem]]


def scrub(claim: Claim, *, today: str, duplicate_of: str = "") -> list[Problem]:
    """Every problem of ``claim`` on business day ``today`` (ISO). ``duplicate_of`` is the id of an
    earlier claim for the same lines, found by the caller; it makes this one a duplicate."""
    context = _Context(today, duplicate_of)
    return [problem for rule in RULES for problem in rule(claim, context)]


def ready(problems: Iterable[Problem]) -> bool:
    """True when nothing but warnings was found: the claim may be batched."""
    return not any(not p.warning for p in problems)


# --- the practice and its providers ---------------------------------------------------------------


@lru_cache(maxsize=8192)
def _code_error(check: Callable[[str], object], value: str) -> str:
    """Why ``check`` (a validator of tui_billing.codes) refuses ``value``, '' when it accepts it.
    Cached: a day's claims repeat the same few NPIs, codes and modifiers thousands of times."""
    try:
        result = check(value)
    except codes.CodeError as exc:
        return str(exc)
    if isinstance(result, str) and result != value:
        return f"{value!r}: send it as {result!r} (capitals, no spaces)"
    return ""


def _npi(value: str, field: str, fix_at: str) -> Iterator[Problem]:
    error = _code_error(codes.validate_npi, value)
    if error:
        yield Problem(field, error, fix_at)


def npis(claim: Claim, _: _Context) -> Iterator[Problem]:
    """Billing and rendering NPIs: 10 digits with the Luhn check digit over 80840 + the first 9."""
    yield from _npi(claim.billing.npi, "billing.npi", "practice")
    yield from _npi(claim.rendering.npi, "rendering.npi", "provider")
    for field, value, fix_at in (("billing.taxonomy", claim.billing.taxonomy, "practice"),
                                 ("rendering.taxonomy", claim.rendering.taxonomy, "provider")):
        if value and not _TAXONOMY.fullmatch(value):
            yield Problem(field, f"{value!r} is not a provider taxonomy code (10 characters, e.g. 207Q00000X)", fix_at)


def billing_address(claim: Claim, _: _Context) -> Iterator[Problem]:
    """The billing provider's address is a street address with a ZIP+4 (loop 2010AA); a PO box
    belongs in the pay-to address."""
    address = claim.billing.address
    if not _DIGITS9.fullmatch(address.zip):
        yield Problem("billing.address.zip", f"the billing ZIP {address.zip!r} must be ZIP+4: 9 digits, no dash",
                      "practice")
    for field, street in (("billing.address.street", address.street), ("billing.address.street2", address.street2)):
        if _PO_BOX.search(street):
            yield Problem(field, f"{street!r} is a PO box: the billing address must be where the practice is "
                                 "(put the PO box in the pay-to address)", "practice")


def practice_ids(claim: Claim, _: _Context) -> Iterator[Problem]:
    """The EIN of 9 digits (no dash), a 10-digit phone and the clearinghouse's submitter id."""
    if not _DIGITS9.fullmatch(claim.billing.ein):
        yield Problem("billing.ein", f"the tax id (EIN) {claim.billing.ein!r} must be 9 digits, no dash", "practice")
    if len("".join(ch for ch in claim.billing.phone if ch.isdigit())) != 10:
        yield Problem("billing.phone", f"the practice phone {claim.billing.phone!r} must have 10 digits", "practice")
    if not claim.billing.submitter_id.strip():
        yield Problem("billing.submitter_id", "the submitter id (from the clearinghouse) is missing", "practice")


def addresses(claim: Claim, _: _Context) -> Iterator[Problem]:
    """Every address sent: a street, a city, a two-letter state, a 5- or 9-digit ZIP."""
    places: list[tuple[str, Address | None, str]] = [
        ("billing.address", claim.billing.address, "practice"), ("billing.pay_to", claim.billing.pay_to, "practice"),
        ("subscriber.address", claim.subscriber.person.address, "account"), ("payer.address", claim.payer.address, "payer")]
    if claim.subscriber.relationship != "self":
        places.append(("patient.address", claim.patient.address, "account"))
    for field, address, fix_at in places:
        if address is None:
            continue
        if not address.street.strip():
            yield Problem(f"{field}.street", "the street is missing", fix_at)
        if len(_sent(address.city)) < 2:
            yield Problem(f"{field}.city", f"the city {address.city!r} is missing or too short (2 letters at least)",
                          fix_at)
        if not _STATE.fullmatch(address.state):
            yield Problem(f"{field}.state", f"the state {address.state!r} must be two capital letters (e.g. IL)", fix_at)
        if not _ZIP.fullmatch(address.zip):
            yield Problem(f"{field}.zip", f"the ZIP {address.zip!r} must be 5 or 9 digits, no dash", fix_at)


# --- money ------------------------------------------------------------------------------------------


def totals(claim: Claim, _: _Context) -> Iterator[Problem]:
    """The claim's total is the sum of its lines, each a positive charge (a zero or negative line
    would make the total disagree with what is owed); on a secondary claim each earlier payer's
    adjudication balances: a line's charge = paid + adjustments, and AMT*D = the lines' paid
    less the claim-level adjustments (the guide's COB balancing)."""
    for ln in claim.lines:
        if ln.charge <= 0:
            yield Problem(f"lines[{ln.line_no}].charge", f"line {ln.line_no} charges {ln.charge} cents: a claim line "
                                                         "must charge more than zero", "charge")
    charges = {ln.line_no: ln.charge for ln in claim.lines}
    for n, other in enumerate(claim.other_payers, start=1):
        field = f"other_payers[{n}]"
        claim_adjusted = sum(cents for _g, _r, cents in other.claim_adjustments)
        if not other.lines:
            if other.paid + claim_adjusted != claim.total:
                yield Problem(f"{field}.paid", f"{other.payer.name}: paid {other.paid} + adjusted {claim_adjusted} "
                                               f"cents do not make the claim's {claim.total}", "claim")
            continue
        for paid in other.lines:
            adjusted = sum(cents for _g, _r, cents in paid.adjustments)
            charge = charges.get(paid.line_no)
            if charge is None:
                yield Problem(f"{field}.lines", f"{other.payer.name} paid a line {paid.line_no} the claim lacks", "claim")
            elif paid.paid + adjusted != charge:
                yield Problem(f"{field}.lines[{paid.line_no}]", f"{other.payer.name}: line {paid.line_no} paid "
                              f"{paid.paid} + adjusted {adjusted} cents do not make its charge {charge}", "claim")
        lines_paid = sum(p.paid for p in other.lines)
        if other.paid != lines_paid - claim_adjusted:
            yield Problem(f"{field}.paid", f"{other.payer.name}: paid {other.paid} cents on the claim, but its lines "
                          f"were paid {lines_paid} less {claim_adjusted} adjusted on the claim", "claim")
        for group, reason, _cents in (*other.claim_adjustments, *(a for p in other.lines for a in p.adjustments)):
            if group not in ADJUSTMENT_GROUPS or not reason.strip():
                yield Problem(f"{field}.adjustments", f"adjustment {group}-{reason}: the group must be one of "
                              f"{', '.join(sorted(ADJUSTMENT_GROUPS))} with a reason code", "claim")


# --- diagnoses and procedures --------------------------------------------------------------------------


def counts(claim: Claim, _: _Context) -> Iterator[Problem]:
    """1 to 50 lines and 1 to 12 diagnoses a claim (the 837P's and the CMS-1500's limits)."""
    if not claim.lines:
        yield Problem("lines", "the claim has no service lines", "claim")
    if len(claim.lines) > MAX_LINES:
        yield Problem("lines", f"{len(claim.lines)} lines: a claim carries at most {MAX_LINES}; split the encounter",
                      "claim")
    if [ln.line_no for ln in claim.lines] != list(range(1, len(claim.lines) + 1)):
        yield Problem("lines", "the lines must be numbered 1, 2, 3 ... in order (LX01)", "claim")
    if not claim.diagnoses:
        yield Problem("diagnoses", "the claim has no diagnosis", "charge")
    if len(claim.diagnoses) > MAX_DIAGNOSES:
        yield Problem("diagnoses", f"{len(claim.diagnoses)} diagnoses: a claim carries at most {MAX_DIAGNOSES}",
                      "charge")


def pointers(claim: Claim, _: _Context) -> Iterator[Problem]:
    """Each line points at 1 to 4 of the claim's diagnoses, each once."""
    for ln in claim.lines:
        field = f"lines[{ln.line_no}].pointers"
        if not 1 <= len(ln.pointers) <= 4:
            yield Problem(field, f"line {ln.line_no} has {len(ln.pointers)} diagnosis pointers; it needs 1 to 4", "charge")
        for p in ln.pointers:
            if not 1 <= p <= len(claim.diagnoses):
                yield Problem(field, f"line {ln.line_no} points at diagnosis {p}, but the claim has "
                                     f"{len(claim.diagnoses)}", "charge")
        if len(set(ln.pointers)) != len(ln.pointers):
            yield Problem(field, f"line {ln.line_no} points at the same diagnosis twice", "charge")


@lru_cache(maxsize=1)
def icd10_release() -> tuple[str, str]:
    """The installed ICD-10-CM release as (name, last day of service it covers): ('April 2026',
    '2026-09-30'). Releases take effect on October 1 (with an April update) and end the next
    September 30. ('', '') when the release cannot be told from the code set's files."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    for location in (spec.submodule_search_locations or ()) if spec else ():
        for path in sorted(Path(location, "data").glob("code-list-*.txt")):
            found = re.fullmatch(r"code-list-([A-Za-z]+)-(\d{4})", path.stem)
            if found:
                month, year = found.group(1), int(found.group(2))
                fiscal_end = year if month.lower() in ("january", "april", "july") else year + 1
                return f"{month} {year}", f"{fiscal_end}-09-30"
    return "", ""


def diagnoses(claim: Claim, _: _Context) -> Iterator[Problem]:
    """Only billable ICD-10-CM codes (sent without the dot), valid on the dates of service; an
    external-cause code (V00-Y99) never first, neither as the principal diagnosis nor as a line's
    first pointer."""
    for n, code in enumerate(claim.diagnoses, start=1):
        error = _code_error(codes.validate_icd10, code)
        if error:
            yield Problem(f"diagnoses[{n}]", error, "charge")
    flat = [code.replace(".", "").strip().upper() for code in claim.diagnoses]
    for n, code in enumerate(flat, start=1):
        if code in flat[: n - 1]:
            yield Problem(f"diagnoses[{n}]", f"{claim.diagnoses[n - 1]} is already diagnosis {flat.index(code) + 1}: "
                                             "list each code once", "charge")
    if claim.diagnoses and claim.diagnoses[0][:1].upper() in "VWXY":
        yield Problem("diagnoses[1]", f"{claim.diagnoses[0]} is an external-cause code: it can never be the principal "
                                      "diagnosis; put the injury or condition first", "charge")
    for ln in claim.lines:
        if ln.pointers and 1 <= ln.pointers[0] <= len(claim.diagnoses) \
                and claim.diagnoses[ln.pointers[0] - 1][:1].upper() in "VWXY" and ln.pointers[0] != 1:
            yield Problem(f"lines[{ln.line_no}].pointers", f"line {ln.line_no} points first at an external-cause "
                          f"code ({claim.diagnoses[ln.pointers[0] - 1]}); point first at the condition", "charge")
    dates = sorted(ln.dos for ln in claim.lines)
    if dates and dates[0] < ICD10_START:
        yield Problem("diagnoses", f"a date of service {dates[0]} is before {ICD10_START}: ICD-10-CM codes are not "
                                   "valid then (those services are coded in ICD-9-CM)", "charge")
    release, last_day = icd10_release()
    if dates and last_day and dates[-1] > last_day:
        yield Problem("diagnoses", f"the codes were checked against ICD-10-CM {release}, which covers services up to "
                      f"{last_day}; a code changed on a later release is not caught (update simple-icd-10-cm)",
                      "charge", warning=True)


def procedures(claim: Claim, context: _Context) -> Iterator[Problem]:
    """CPT/HCPCS shape, up to 4 two-character modifiers, units, place of service, and a date of
    service that is a real day, not in the future."""
    error = _code_error(codes.validate_pos, claim.place_of_service)
    if error:
        yield Problem("place_of_service", error, "charge")
    for ln in claim.lines:
        field = f"lines[{ln.line_no}]"
        error = _code_error(codes.validate_procedure_code, ln.code)
        if error:
            yield Problem(f"{field}.code", error, "fee schedule")
        if len(ln.modifiers) > 4:
            yield Problem(f"{field}.modifiers", f"line {ln.line_no} has {len(ln.modifiers)} modifiers; at most 4", "charge")
        for mod in ln.modifiers:
            error = _code_error(codes.validate_modifier, mod)
            if error:
                yield Problem(f"{field}.modifiers", error, "charge")
        if len(set(ln.modifiers)) != len(ln.modifiers):
            yield Problem(f"{field}.modifiers", f"line {ln.line_no} repeats a modifier", "charge")
        if not 1 <= ln.units <= 9999:
            yield Problem(f"{field}.units", f"line {ln.line_no} has {ln.units} units; 1 to 9999", "charge")
        if ln.place_of_service != claim.place_of_service:
            error = _code_error(codes.validate_pos, ln.place_of_service)
            if error:
                yield Problem(f"{field}.place_of_service", error, "charge")
        if not _is_date(ln.dos):
            yield Problem(f"{field}.dos", f"line {ln.line_no}: {ln.dos!r} is not a date", "charge")
        elif ln.dos > context.today:
            yield Problem(f"{field}.dos", f"line {ln.line_no}: the date of service {ln.dos} is in the future", "charge")


# --- the patient's coverage and the payer ---------------------------------------------------------


def coverage(claim: Claim, _: _Context) -> Iterator[Problem]:
    """A member id and a payer id to send to, a filing code, a known relationship, and every date
    of service within the coverage's dates."""
    sub = claim.subscriber
    if not sub.member_id.strip():
        yield Problem("subscriber.member_id", "the member id of the coverage is missing", "account")
    if not claim.payer.edi_id.strip():
        yield Problem("payer.edi_id", f"the payer {claim.payer.name!r} has no EDI payer id", "payer")
    if claim.payer.filing_code not in FILING_CODES:
        yield Problem("payer.filing_code", f"the claim filing code {claim.payer.filing_code!r} is not one of the "
                                           "guide's (CI commercial, MB Medicare Part B, MC Medicaid, BL, ...)", "payer")
    if sub.relationship not in ("self", "spouse", "child", "other"):
        yield Problem("subscriber.relationship", f"{sub.relationship!r}: the patient is the subscriber's self, spouse, "
                                                 "child or other", "account")
    elif sub.relationship == "self" and (sub.person.last, sub.person.first, sub.person.dob) != \
            (claim.patient.last, claim.patient.first, claim.patient.dob):
        # the 837P names only the subscriber when the patient is the subscriber: another name would be lost
        yield Problem("subscriber.relationship", "the coverage says the patient is the subscriber, but the subscriber "
                      f"is {sub.person.first} {sub.person.last} born {sub.person.dob}", "account")
    if claim.responsibility not in ("P", "S", "T"):
        yield Problem("responsibility", f"{claim.responsibility!r} must be P, S or T", "claim")
    for ln in claim.lines:
        if sub.effective and ln.dos < sub.effective:
            yield Problem(f"lines[{ln.line_no}].dos", f"line {ln.line_no}: {ln.dos} is before the coverage began "
                                                      f"({sub.effective})", "account")
        if sub.end_date and ln.dos > sub.end_date:
            yield Problem(f"lines[{ln.line_no}].dos", f"line {ln.line_no}: {ln.dos} is after the coverage ended "
                                                      f"({sub.end_date})", "account")
    for field, person in (("patient", claim.patient), ("subscriber", sub.person)):
        if not _is_date(person.dob):
            yield Problem(f"{field}.dob", f"the birth date {person.dob!r} is not a date", "account")
        elif claim.lines and person.dob > min(ln.dos for ln in claim.lines):
            yield Problem(f"{field}.dob", f"the birth date {person.dob} is after a date of service", "account")
        if person.sex not in ("F", "M", "U", "X"):
            yield Problem(f"{field}.sex", f"sex {person.sex!r} must be F, M or U", "account")


def timely_filing(claim: Claim, context: _Context) -> Iterator[Problem]:
    """A warning when the oldest date of service is past the payer's filing limit."""
    dated = [ln.dos for ln in claim.lines if _is_date(ln.dos)]
    if not dated or not _is_date(context.today):
        return
    oldest = min(dated)
    age = (dt.date.fromisoformat(context.today) - dt.date.fromisoformat(oldest)).days
    if age > claim.payer.timely_filing_days:
        yield Problem("lines", f"the service of {oldest} is {age} days old: past {claim.payer.name}'s filing limit of "
                               f"{claim.payer.timely_filing_days} days; expect a denial unless you have proof of timely "
                               "filing", "claim", warning=True)


# --- what X12 can carry -----------------------------------------------------------------------------


def _name(value: str, field: str, fix_at: str, *, required: bool, optional: bool = False) -> Iterator[Problem]:
    """``required``: must be there; neither: may be empty, but if given must survive (a first name);
    ``optional``: may be lost with a warning (a middle name, a second street line)."""
    if is_plain(value):  # the usual case, and the fast one: nothing to transliterate or refuse
        if required and not value.strip():
            yield Problem(field, "this name is missing", fix_at)
        return
    delimiters = delimiters_in(value)
    if delimiters:
        yield Problem(field, f"{value!r} has {delimiters!r}, which X12 uses to separate data: remove it", fix_at)
        return
    sent = basic_text(value, field)
    if not sent and (required or value.strip()):
        yield Problem(field, f"{value!r} has no letter X12 can carry (plain A-Z, digits): give it in Latin letters",
                      fix_at, warning=optional and not required)
        return
    dropped = outside_basic(value)
    if dropped:
        yield Problem(field, f"{value!r} is sent as {sent!r} ({dropped!r} has no plain form)", fix_at, warning=True)


def _person(person: Person, field: str, fix_at: str) -> Iterator[Problem]:
    yield from _name(person.last, f"{field}.last", fix_at, required=True)
    yield from _name(person.first, f"{field}.first", fix_at, required=False)
    yield from _name(person.middle, f"{field}.middle", fix_at, required=False, optional=True)
    yield from _address_text(person.address, f"{field}.address", fix_at)


def _address_text(address: Address | None, field: str, fix_at: str) -> Iterator[Problem]:
    if address is not None:
        yield from _name(address.street, f"{field}.street", fix_at, required=True)
        yield from _name(address.street2, f"{field}.street2", fix_at, required=False, optional=True)
        yield from _name(address.city, f"{field}.city", fix_at, required=True)


def _identifier(value: str, field: str, fix_at: str) -> Iterator[Problem]:
    bad = "".join(sorted({ch for ch in value.strip().upper() if ch not in BASIC_CHARACTERS}))
    if bad:
        yield Problem(field, f"{value!r} has characters an X12 id cannot carry ({bad!r}); ids are sent exactly, "
                             "never transliterated", fix_at)


def character_set(claim: Claim, _: _Context) -> Iterator[Problem]:
    """Names and ids in the X12 basic character set: names are transliterated (a warning says what
    was dropped), a delimiter ``~ * : ^`` or a name with nothing left is refused; ids must already
    be plain (a changed id names someone else)."""
    yield from _person(claim.patient, "patient", "account")
    if claim.subscriber.person != claim.patient:
        yield from _person(claim.subscriber.person, "subscriber", "account")
    yield from _name(claim.billing.name, "billing.name", "practice", required=True)
    yield from _name(claim.billing.contact, "billing.contact", "practice", required=False, optional=True)
    yield from _address_text(claim.billing.address, "billing.address", "practice")
    yield from _address_text(claim.billing.pay_to, "billing.pay_to", "practice")
    yield from _name(claim.rendering.last, "rendering.last", "provider", required=True)
    yield from _name(claim.rendering.first, "rendering.first", "provider", required=False)
    yield from _name(claim.payer.name, "payer.name", "payer", required=True)
    yield from _address_text(claim.payer.address, "payer.address", "payer")
    yield from _name(claim.subscriber.group_no, "subscriber.group_no", "account", required=False, optional=True)
    yield from _identifier(claim.subscriber.member_id, "subscriber.member_id", "account")
    yield from _identifier(claim.payer.edi_id, "payer.edi_id", "payer")
    yield from _identifier(claim.billing.submitter_id, "billing.submitter_id", "practice")
    yield from _identifier(claim.payer_claim_number, "payer_claim_number", "claim")
    for ln in claim.lines:
        yield from _identifier(ln.control_number, f"lines[{ln.line_no}].control_number", "claim")
    for n, other in enumerate(claim.other_payers, start=1):
        yield from _person(other.subscriber.person, f"other_payers[{n}].subscriber", "account")
        yield from _name(other.payer.name, f"other_payers[{n}].payer.name", "payer", required=True)
        yield from _identifier(other.subscriber.member_id, f"other_payers[{n}].member_id", "account")
        yield from _identifier(other.payer.edi_id, f"other_payers[{n}].payer.edi_id", "payer")


# --- the claim itself ---------------------------------------------------------------------------------


def claim_identity(claim: Claim, context: _Context) -> Iterator[Problem]:
    """A claim id of 1 to 17 plain characters; a replacement (7) or void (8) names the payer's
    claim number it corrects; an original is not the same claim sent twice."""
    if not 1 <= len(claim.claim_id) <= CLAIM_ID_MAX:
        yield Problem("claim_id", f"the claim id {claim.claim_id!r} must be 1 to {CLAIM_ID_MAX} characters "
                                  "(what every payer keeps)", "claim")
    yield from _identifier(claim.claim_id, "claim_id", "claim")
    if claim.frequency not in (ORIGINAL, REPLACEMENT, VOID):
        yield Problem("frequency", f"frequency {claim.frequency!r} must be 1 (original), 7 (replacement) or 8 (void)",
                      "claim")
    elif claim.frequency != ORIGINAL and not claim.payer_claim_number.strip():
        kind = "replacement" if claim.frequency == REPLACEMENT else "void"
        yield Problem("payer_claim_number", f"a {kind} must name the payer's claim number of the claim it corrects "
                                            "(from the 277CA or the remittance)", "claim")
    if context.duplicate_of:
        yield Problem("claim_id", f"the same lines were already claimed as {context.duplicate_of}: send a replacement "
                                  "(7) of that claim instead", "claim")


def _sent(value: str) -> str:
    """``value`` as the 837P carries it (or as given when it holds a delimiter, which
    :func:`character_set` reports)."""
    return value if delimiters_in(value) else basic_text(value, "")


def _is_date(value: str) -> bool:
    try:
        return dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


#: Every rule, in the order its problems are listed (the practice's first: one fix there clears
#: many claims).
RULES: tuple[Rule, ...] = (npis, billing_address, practice_ids, addresses, totals, counts, pointers, diagnoses, procedures,
                           coverage, timely_filing, character_set, claim_identity)
