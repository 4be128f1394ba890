"""Matching a remittance to our claims, line by line, without guessing.

Pure: the claims are given as records with an id and lines (:class:`~tui_billing.claims.model.Claim`,
or the store's lighter :class:`ClaimLines`, which is all matching reads). A claim is found
by CLP01 (our CLM01). Each service line is found, in this order, by

1. its line control number (REF*6R), which we sent;
2. the code we sent when the payer restated it (SVC06), with the date and modifiers;
3. code + date of service + units, modifiers compared as a set;
4. code + date of service when exactly one line fits (payers drop modifier 25).

A line claimed twice, a control number we never sent, or two lines that fit equally well is an
exception with suggestions: it goes to a person, never to the likeliest line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .era import ClaimPayment, ServicePayment
from .model import ClaimLine


class Claim(Protocol):
    """What matching reads of a claim (``model.Claim`` is one)."""

    @property
    def claim_id(self) -> str: ...

    @property
    def lines(self) -> tuple[ClaimLine, ...]: ...


@dataclass(frozen=True)
class ClaimLines:
    """A claim as matching and posting read it: our id, the books' row, its payer and encounter, its lines."""

    claim_id: str
    row: int
    payer_id: int
    encounter_id: int
    lines: tuple[ClaimLine, ...]


BY_CONTROL_NUMBER = "control number"
BY_RESTATED_CODE = "restated code"
BY_CODE_DATE_UNITS = "code, date, units, modifiers"
BY_CODE_DATE = "code and date"


@dataclass(frozen=True)
class LineMatch:
    """One SVC loop and the claim line it pays (None: an exception, with ``problem`` and suggestions)."""

    service: ServicePayment
    line: ClaimLine | None
    how: str = ""
    problem: str = ""
    suggestions: tuple[ClaimLine, ...] = ()


@dataclass(frozen=True)
class ClaimMatch:
    """One CLP loop, the claim it answers (None when we have no such claim) and its lines."""

    payment: ClaimPayment
    claim: Claim | None
    lines: tuple[LineMatch, ...]
    problem: str = ""

    @property
    def matched(self) -> bool:
        """Every line found (and the claim): the claim can be posted automatically."""
        return self.claim is not None and not self.problem and all(m.line is not None for m in self.lines)


def _dos(service: ServicePayment, payment: ClaimPayment) -> str:
    return service.dos or payment.statement_from


def _label(line: ClaimLine) -> str:
    mods = ":".join(line.modifiers)
    return f"line {line.line_no} {line.code}{':' + mods if mods else ''} {line.dos} x{line.units}"


def match_line(service: ServicePayment, payment: ClaimPayment, claim: Claim, taken: set[int]) -> LineMatch:
    """Find the claim line one service line pays (``taken``: line numbers already paid in this CLP)."""
    free = [line for line in claim.lines if line.line_no not in taken]
    dos = _dos(service, payment)
    sent_mods = set(service.sent_modifiers)
    if service.control_number:
        named = [line for line in claim.lines if line.control_number == service.control_number]
        if named and named[0].line_no not in taken:
            return LineMatch(service, named[0], BY_CONTROL_NUMBER)
        why = ("is paid twice in this claim" if named else f"is not a line of claim {claim.claim_id}")
        suggestions = tuple(x for x in free if x.code == service.sent_code)
        return LineMatch(service, None, problem=f"line control number {service.control_number} {why}",
                         suggestions=suggestions)

    def one(candidates: Sequence[ClaimLine], how: str) -> LineMatch | None:
        if len(candidates) == 1:
            return LineMatch(service, candidates[0], how)
        if len(candidates) > 1:
            return LineMatch(service, None, problem=f"{service.sent_code} on {dos or 'an unknown date'} fits "
                             f"{len(candidates)} lines ({', '.join(_label(x) for x in candidates)})",
                             suggestions=tuple(candidates))
        return None

    same_day = [x for x in free if not dos or x.dos == dos]
    if service.submitted_code:
        found = one([x for x in same_day if x.code == service.submitted_code and set(x.modifiers) == sent_mods],
                    BY_RESTATED_CODE)
        if found:
            return found
    exact = [x for x in same_day if x.code == service.sent_code and x.units == service.sent_units
             and set(x.modifiers) == sent_mods]
    found = one(exact, BY_CODE_DATE_UNITS)
    if found:
        return found
    found = one([x for x in same_day if x.code == service.sent_code], BY_CODE_DATE)
    if found:
        return found
    suggestions = tuple(x for x in free if x.code in (service.code, service.sent_code) or x.dos == dos)
    return LineMatch(service, None, problem=f"no line of claim {claim.claim_id} is {service.sent_code} on "
                     f"{dos or 'an unknown date'}", suggestions=suggestions)


def match_claim(payment: ClaimPayment, claims: Mapping[str, Claim]) -> ClaimMatch:
    """Find the claim a CLP loop answers and each of its lines."""
    claim = claims.get(payment.claim_id)
    if claim is None:
        return ClaimMatch(payment, None, tuple(LineMatch(s, None, problem="claim not found") for s in payment.lines),
                          problem=f"no claim {payment.claim_id} in the books")
    if not payment.lines:
        return ClaimMatch(payment, claim, (), problem="the payer sent no service lines: post this claim by hand")
    taken: set[int] = set()
    found = []
    for service in payment.lines:
        m = match_line(service, payment, claim, taken)
        if m.line is not None:
            taken.add(m.line.line_no)
            if abs(service.charge) != m.line.charge:
                m = LineMatch(service, None, problem=f"the payer says {service.sent_code} was charged "
                              f"{abs(service.charge) / 100:.2f}, {_label(m.line)} is {m.line.charge / 100:.2f}",
                              suggestions=(m.line,))
        found.append(m)
    return ClaimMatch(payment, claim, tuple(found))


def match_remittance(payments: Sequence[ClaimPayment], claims: Mapping[str, Claim]) -> list[ClaimMatch]:
    """Every claim of a remittance matched (in file order)."""
    return [match_claim(p, claims) for p in payments]
