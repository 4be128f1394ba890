"""What posting one remittance claim will do, line by line, before anything is written.

Pure: a matched claim (:mod:`.era_match`) and what the books say of its charges go in; out come
the distribution lines the posting kernel's planner (``ledger.distributions``) will check and
write, and for a person: per line what is applied, adjusted (with the CARC), transferred (the
patient's part, to the next payer with coverage or else the patient), kept (a denial stays with
the payer; OA-23 on a secondary's remittance is the earlier payer's word, not a second write-off)
and why anything is left as an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..ledger.records import ChargeState, DistributionLine
from .era import Adjustment, ClaimPayment
from .era_match import ClaimMatch

#: Denials: not written off; the balance stays with the payer and a denial work item opens.
DEFAULT_DENIAL_CODES = frozenset({"CO-16", "CO-18", "CO-29", "CO-50", "CO-97", "CO-197"})
#: Information, never posted: the earlier payer's adjudication as a later payer repeats it.
INFORMATION_CODES = frozenset({"OA-23"})

POSTED, DENIED, EXCEPTION, UNMATCHED, REVERSAL = "posted", "denied", "exception", "unmatched", "reversal"


@dataclass(frozen=True)
class LinePlan:
    """One service line's posting: money, adjustments, what stays, where the rest goes."""

    line_no: int
    code: str
    charge_id: int
    balance: int  # before
    applied: int
    adjustments: tuple[tuple[str, int], ...]  # (CARC as the books name it, cents), posted
    kept: tuple[tuple[str, int], ...]  # denials and information: not posted
    transfer_to: str  # '' (none), 'patient' or 'payer <id>'
    remaining: int  # the balance after the posting
    how: str  # how the line was matched

    @property
    def denied(self) -> bool:
        return any(code not in INFORMATION_CODES for code, _ in self.kept)


@dataclass(frozen=True)
class ClaimPlan:
    """One CLP loop's posting, or why it is not posted automatically."""

    payment: ClaimPayment
    claim_row: int | None
    outcome: str  # POSTED, DENIED, EXCEPTION, UNMATCHED or REVERSAL
    status: str = ""  # the claim event: paid, partly_paid, denied
    lines: tuple[LinePlan, ...] = ()
    distribution: tuple[DistributionLine, ...] = ()
    problem: str = ""
    #: the work items it opens: (kind, codes, amount, detail)
    work: tuple[tuple[str, str, int, str], ...] = field(default=())

    @property
    def applied(self) -> int:
        return sum(line.applied for line in self.lines)


def _allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` over ``weights`` in proportion, the leftover cents to the largest remainders."""
    if not weights:
        return []
    base = sum(weights)
    if base == 0:
        weights, base = [1] * len(weights), len(weights)
    sign = -1 if total < 0 else 1
    shares = [abs(total) * w // base for w in weights]
    order = sorted(range(len(weights)), key=lambda i: -(abs(total) * weights[i] % base))
    for i in order[:abs(total) - sum(shares)]:
        shares[i] += 1
    return [sign * s for s in shares]


def _is_denial(adj: Adjustment, denial_codes: frozenset[str]) -> bool:
    return adj.code in denial_codes or adj.reason in denial_codes


def plan_claim(
    match: ClaimMatch, *, claim_row: int | None, charges: Mapping[int, ChargeState],
    next_payer: Mapping[int, int | None], denial_codes: frozenset[str] = DEFAULT_DENIAL_CODES,
    allowed: Mapping[int, int] | None = None,
) -> ClaimPlan:
    """The posting of one matched claim (a reversal is the store's: it voids what was posted).

    ``allowed``: charge -> what the office's contract with this payer allows for the line (the fee
    schedule's per-payer amount times units), where one is kept: a line the payer allowed less
    for (its payment plus the patient's share) opens an underpayment item; it still posts."""
    payment = match.payment
    if match.claim is None:
        return ClaimPlan(payment, None, UNMATCHED, problem=match.problem,
                         work=(("unapplied", "", payment.paid,
                                f"{match.problem}: {payment.paid / 100:.2f} stays unapplied on the receipt"),))
    if payment.is_reversal:
        return ClaimPlan(payment, claim_row, REVERSAL)
    if not match.matched:
        unmatched = [match.problem] if match.problem else []
        for m in match.lines:
            if m.line is None:
                hint = ", ".join(f"line {s.line_no}" for s in m.suggestions)
                unmatched.append(f"line {m.service.index} {m.service.sent_code}: {m.problem}"
                                 + (f" (maybe {hint})" if hint else ""))
        text = "; ".join(unmatched)
        return ClaimPlan(payment, claim_row, EXCEPTION, problem=text,
                         work=(("exception", "", payment.paid, text),))

    # Claim-level adjustments belong to the lines: each is spread over them by what they paid.
    weights = [max(m.service.paid, 0) for m in match.lines]
    if not any(weights):
        weights = [m.service.charge for m in match.lines]
    shares: list[list[Adjustment]] = [[] for _ in match.lines]
    for adj in payment.adjustments:
        for i, part in enumerate(_allocate(adj.amount, weights)):
            if part:
                shares[i].append(Adjustment(adj.group, adj.reason, part, adj.quantity))

    lines: list[LinePlan] = []
    dist: list[DistributionLine] = []
    problems: list[str] = []
    denials: list[str] = []
    for m, claim_level in zip(match.lines, shares, strict=True):
        service, line = m.service, m.line
        assert line is not None
        state = charges.get(line.charge_id)
        if state is None:
            problems.append(f"line {service.index}: charge {line.charge_id} is not in the books")
            continue
        applied = service.paid - sum(a.amount for a in claim_level)
        posted: list[tuple[str, int]] = []
        kept: list[tuple[str, int]] = []
        patient_part = 0
        every = (*service.adjustments, *claim_level)
        denied = any(_is_denial(a, denial_codes) for a in every)
        for adj in every:
            if adj.code in INFORMATION_CODES or _is_denial(adj, denial_codes):
                kept.append((adj.code, adj.amount))
            elif adj.group == "PR":
                patient_part += adj.amount
            elif denied and service.paid == 0:
                kept.append((adj.code, adj.amount))  # a denied line posts nothing: it goes back to the payer
            else:
                posted.append((adj.code, adj.amount))
        if applied < 0:
            problems.append(f"line {service.index} {service.code}: the claim-level adjustments are more than it paid")
            continue
        remaining = state.balance - applied - sum(a for _, a in posted)
        if remaining < 0:
            problems.append(f"line {service.index} {service.code}: {(applied + sum(a for _, a in posted)) / 100:.2f} "
                            f"is more than charge {line.charge_id}'s balance {state.balance / 100:.2f}")
            continue
        if not denied and remaining != patient_part:
            # the books and the payer disagree on what is left (a payment keyed by hand, a changed fee):
            # a person looks, rather than the patient being billed what the payer did not say
            problems.append(f"line {service.index} {service.code}: charge {line.charge_id} would keep "
                            f"{remaining / 100:.2f} but the payer leaves {patient_part / 100:.2f} to the patient")
            continue
        transfer = ""
        if remaining > 0 and not denied and patient_part > 0:
            target = next_payer.get(line.charge_id)
            transfer = "patient" if target is None else f"payer {target}"
        if denied:
            denials.append(",".join(sorted({code for code, _ in kept if code not in INFORMATION_CODES})))
        lines.append(LinePlan(line.line_no, line.code, line.charge_id, state.balance, applied, tuple(posted),
                              tuple(kept), transfer, remaining, m.how))
        # The kernel checks each line against the running balance: an increase goes in first.
        for code, amount in sorted(posted, key=lambda x: x[1] >= 0):
            if amount < 0:
                dist.append(DistributionLine(line.charge_id, adjustment=amount, reason=code))
        if applied:
            dist.append(DistributionLine(line.charge_id, applied=applied))
        for code, amount in posted:
            if amount > 0:
                dist.append(DistributionLine(line.charge_id, adjustment=amount, reason=code))
        if transfer == "patient":
            dist.append(DistributionLine(line.charge_id, transfer_to_patient=True))
        elif transfer:
            dist.append(DistributionLine(line.charge_id, transfer_to_payer=next_payer[line.charge_id]))
    if problems:
        text = "; ".join(problems)
        return ClaimPlan(payment, claim_row, EXCEPTION, problem=text, work=(("exception", "", payment.paid, text),))
    work: list[tuple[str, str, int, str]] = []
    denied_lines = [x for x in lines if x.denied]
    if denied_lines:
        amount = sum(a for x in denied_lines for code, a in x.kept if code not in INFORMATION_CODES)
        codes = ",".join(sorted({c for d in denials for c in d.split(",") if c}))
        work.append(("denial", codes, amount, f"{len(denied_lines)} of {len(lines)} lines denied ({codes}); "
                     "the balance stays with the payer"))
    for x in lines:
        expected = (allowed or {}).get(x.charge_id)
        payer_allowed = x.applied + x.remaining  # what it paid plus what it left to the patient
        if expected is not None and not x.denied and payer_allowed < expected:
            short = expected - payer_allowed
            work.append(("underpayment", x.code, short,
                         f"line {x.line_no} {x.code}: allowed {payer_allowed / 100:.2f}, the contract "
                         f"allows {expected / 100:.2f} ({short / 100:.2f} short)"))
    status = "denied" if denied_lines and payment.paid == 0 else "partly_paid" if denied_lines else "paid"
    outcome = DENIED if status == "denied" else POSTED
    return ClaimPlan(payment, claim_row, outcome, status, tuple(lines), tuple(dist), work=tuple(work))
