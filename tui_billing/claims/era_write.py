"""Writing an 835 (005010X221A1): how the demo makes sample remittances for its own claims and the
benchmark makes a 5,000-claim one. The segment count is counted, never typed, and every total is
computed from the lines, so what it writes always balances (``era.balance_problems`` is empty).

Pure: claims and what the payer did with each line go in, X12 text comes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import Claim, ClaimLine


@dataclass(frozen=True)
class LineAnswer:
    """What the payer did with one line: paid, and CAS adjustments as (group, CARC, cents)."""

    line: ClaimLine
    paid: int
    adjustments: tuple[tuple[str, str, int], ...] = ()
    #: leave out REF*6R (a payer that does not echo line control numbers)
    no_control_number: bool = False


@dataclass(frozen=True)
class ClaimAnswer:
    """One CLP loop: the claim, its lines' answers, and how it was processed."""

    claim: Claim
    lines: tuple[LineAnswer, ...]
    status: str = "1"  # CLP02: 1 primary, 2 secondary, 4 denied, 19 crossover, 22 reversal
    payer_claim_number: str = ""
    crossover: tuple[str, str] | None = None  # (name, payer id) of NM1*TT

    @property
    def charge(self) -> int:
        return sum(a.line.charge for a in self.lines)

    @property
    def paid(self) -> int:
        return sum(a.paid for a in self.lines)

    @property
    def patient_responsibility(self) -> int:
        return sum(amt for a in self.lines for group, _, amt in a.adjustments if group == "PR")


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}" if rest else f"{sign}{whole}"


def _date(iso: str) -> str:
    return iso.replace("-", "")


def _clean(text: str) -> str:
    """Names in the X12 basic character set: the delimiters never appear inside an element."""
    return "".join(ch if ch.isalnum() or ch in " .-,'&()/" else " " for ch in text.upper()).strip()[:60]


#: CLP06 codes of the 835 guide; another 837 filing code (CI, BL, ...) is answered as 12 (PPO).
_CLP06 = frozenset({"12", "13", "14", "15", "16", "17", "AM", "CH", "DS", "HM", "LM", "MA", "MB", "MC", "OF", "TV",
                    "VA", "WC", "ZZ"})


def _claim_segments(answer: ClaimAnswer, sign: int) -> list[str]:
    c = answer.claim
    filing = c.payer.filing_code if c.payer.filing_code in _CLP06 else "12"
    segs = [f"CLP*{c.claim_id}*{answer.status}*{_money(sign * answer.charge)}*{_money(sign * answer.paid)}*"
            f"{_money(sign * answer.patient_responsibility) if answer.patient_responsibility else ''}*"
            f"{filing}*{answer.payer_claim_number or c.claim_id}*{c.place_of_service}*1"]
    segs.append(f"NM1*QC*1*{_clean(c.patient.last)}*{_clean(c.patient.first)}****MI*{_clean(c.subscriber.member_id)}")
    if answer.crossover:
        segs.append(f"NM1*TT*2*{_clean(answer.crossover[0])}*****PI*{_clean(answer.crossover[1])}")
    dates = sorted(a.line.dos for a in answer.lines)
    segs.append(f"DTM*232*{_date(dates[0])}")
    for a in answer.lines:
        line = a.line
        code = ":".join(("HC", line.code, *line.modifiers))
        segs.append(f"SVC*{code}*{_money(sign * line.charge)}*{_money(sign * a.paid)}**{line.units}")
        segs.append(f"DTM*472*{_date(line.dos)}")
        by_group: dict[str, list[tuple[str, int]]] = {}
        for group, reason, amount in a.adjustments:
            by_group.setdefault(group, []).append((reason, amount))
        for group, reasons in by_group.items():
            for start in range(0, len(reasons), 6):
                parts = "*".join(f"{r}*{_money(sign * amt)}*" for r, amt in reasons[start:start + 6])
                segs.append(f"CAS*{group}*{parts}".rstrip("*"))
        if not a.no_control_number and line.control_number:
            segs.append(f"REF*6R*{line.control_number}")
    return segs


def write_835(
    answers: Sequence[ClaimAnswer], *, payer_name: str, payer_id: str, payee_name: str, payee_npi: str, trace: str,
    paid_date: str, method: str = "ACH", plb: Sequence[tuple[str, str, int]] = (), reversals: Sequence[ClaimAnswer] = (),
    control: int = 1, sender: str = "PAYER", receiver: str = "PRACTICE",
) -> str:
    """One interchange with one 835 paying ``answers`` (after ``reversals`` of earlier answers, negated).

    ``plb``: provider-level adjustments (reason, reference, cents; positive is withheld).
    """
    total = sum(a.paid for a in answers) - sum(a.paid for a in reversals) - sum(amount for *_, amount in plb)
    if total < 0:
        raise ValueError("an 835 cannot pay less than nothing")
    handling, bpr = ("I", f"*C*{method}*CCP*01*999999999*DA*123456*1999999999**01*888888888*DA*654321*"
                          f"{_date(paid_date)}") if total and method == "ACH" else \
        ("C" if total else "H", f"*C*{'CHK' if total else 'NON'}************{_date(paid_date)}")
    body = [f"BPR*{handling}*{_money(total)}{bpr}", f"TRN*1*{trace}*1999999999", f"DTM*405*{_date(paid_date)}",
            f"N1*PR*{_clean(payer_name)}*XV*{payer_id}", "N3*1 PAYER WAY", "N4*HARTFORD*CT*061010000",
            "PER*BL*PROVIDER SERVICES*TE*8005551212", f"N1*PE*{_clean(payee_name)}*XX*{payee_npi}",
            "N3*1 MAIN ST", "N4*SPRINGFIELD*IL*627010001", "REF*TJ*123456789", "LX*1"]
    for answer in reversals:
        body += _claim_segments(ClaimAnswer(answer.claim, answer.lines, "22", answer.payer_claim_number), -1)
    for answer in answers:
        body += _claim_segments(answer, 1)
    if plb:
        pairs = "*".join(f"{reason}:{ref}*{_money(amount)}" for reason, ref, amount in plb)
        body.append(f"PLB*{payee_npi}*{_date(paid_date[:4] + '-12-31')}*{pairs}")
    st = [f"ST*835*{control % 10000:04d}", *body]
    st.append(f"SE*{len(st) + 1}*{control % 10000:04d}")
    isa = (f"ISA*00*          *00*          *ZZ*{sender[:15]:<15}*ZZ*{receiver[:15]:<15}*"
           f"{_date(paid_date)[2:]}*1200*^*00501*{control:09d}*0*P*:")
    segs = [isa, f"GS*HP*{sender}*{receiver}*{_date(paid_date)}*1200*{control}*X*005010X221A1", *st,
            f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(segs) + "~\n"
