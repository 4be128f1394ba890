"""A secondary claim's record of the primary payer (loops 2320/2330/2430), and its check.

Pure. The store rebuilds each earlier payer's adjudication from the 835 it kept
(``store/era.py``: :func:`other_payer_from`): the adjustments verbatim, the paid amounts, the paid
date. Before a secondary claim is written it must add up (:func:`other_payer_problems`): each
line's charge is what every earlier payer paid plus what it adjusted, and each payer's AMT*D is
its lines' paid less its claim-level adjustments.
"""

from __future__ import annotations

from collections.abc import Mapping

from .era import ClaimPayment
from .model import Claim, OtherPayer, OtherPayment, Payer, Subscriber


def other_payer_from(payment: ClaimPayment, line_of: Mapping[int, int], *, payer: Payer, subscriber: Subscriber,
                     responsibility: str, paid_date: str) -> OtherPayer:
    """One earlier payer's adjudication from its CLP loop; ``line_of``: SVC index -> our line number."""
    lines = tuple(
        OtherPayment(line_of[s.index], s.paid, tuple((a.group, a.reason, a.amount) for a in s.adjustments), paid_date)
        for s in payment.lines if s.index in line_of)
    return OtherPayer(payer, subscriber, responsibility, payment.paid,
                      tuple((a.group, a.reason, a.amount) for a in payment.adjustments), lines)


def other_payer_problems(claim: Claim) -> list[str]:
    """Why the claim's earlier payers do not add up (empty when they do)."""
    problems = []
    charges = {line.line_no: line.charge for line in claim.lines}
    for other in claim.other_payers:
        name = other.payer.name or other.payer.edi_id
        for paid in other.lines:
            charge = charges.get(paid.line_no)
            if charge is None:
                problems.append(f"{name} paid line {paid.line_no}, which claim {claim.claim_id} does not have")
                continue
            adjusted = sum(amount for *_, amount in paid.adjustments)
            if paid.paid + adjusted != charge:
                problems.append(f"line {paid.line_no}: {name} paid {paid.paid / 100:.2f} and adjusted "
                                f"{adjusted / 100:.2f}, but the line charges {charge / 100:.2f}")
        claim_level = sum(amount for *_, amount in other.claim_adjustments)
        lines_paid = sum(p.paid for p in other.lines)
        if other.paid != lines_paid - claim_level:
            problems.append(f"{name}: AMT*D {other.paid / 100:.2f} is not its lines' paid {lines_paid / 100:.2f} "
                            f"less its claim adjustments {claim_level / 100:.2f}")
    return problems
