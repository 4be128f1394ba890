"""The 835 electronic remittance (005010X221A1) read into plain records, and balanced.

Pure code: text in, frozen records out, no database. Money is parsed exactly into integer cents
(``"125.5"`` is 12550; a third decimal is refused, never rounded). Before anything is posted the
remittance must balance at three levels, in our own arithmetic:

* each service line: SVC02 charge - SVC03 paid = the line's CAS adjustments;
* each claim: CLP03 charge - CLP04 paid = its claim-level CAS plus its lines' CAS;
* the file: BPR02 = the sum of CLP04 - the provider-level (PLB) adjustments.

An unbalanced file is refused with the claim named (:func:`balance_problems`); it is never forced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: CLP02 claim status codes.
PROCESSED_PRIMARY, PROCESSED_SECONDARY, PROCESSED_TERTIARY, DENIED = "1", "2", "3", "4"
#: Processed and forwarded to the next payer (a crossover): that payer is billed by this one.
CROSSOVER_STATUSES = ("19", "20", "21")
REVERSAL = "22"
NOT_OUR_CLAIM = "23"
#: PLB03-1 reason codes the books name (others are kept with their code).
PLB_NAMES = {"L6": "interest", "WO": "overpayment recovery", "FB": "forward balance", "72": "authorized return",
             "CS": "adjustment", "J1": "nonreimbursable", "IR": "IRS withholding", "50": "late charge",
             "90": "early payment allowance", "B2": "rebate", "L3": "penalty"}
#: BPR04 payment methods -> the books' receipt methods.
PAYMENT_METHODS = {"ACH": "eft", "FWT": "eft", "BOP": "eft", "CHK": "check", "NON": "eft"}


class EraError(ValueError):
    """The file cannot be read as an 835, or it does not balance; the message says where."""


@dataclass(frozen=True)
class Adjustment:
    """One CAS reason: group (CO, PR, OA, PI, CR), CARC, signed cents, quantity (units, often 0)."""

    group: str
    reason: str
    amount: int
    quantity: str = ""

    @property
    def code(self) -> str:
        """``CO-45``: how the books name an adjustment reason."""
        return f"{self.group}-{self.reason}"


@dataclass(frozen=True)
class ServicePayment:
    """One SVC loop (2110): what the payer did with one service line."""

    code: str  # the adjudicated procedure code (SVC01-2)
    modifiers: tuple[str, ...]
    charge: int  # SVC02
    paid: int  # SVC03
    units: int  # SVC05 (1 when absent)
    submitted_code: str = ""  # SVC06-2: the code we sent when the payer restated it
    submitted_modifiers: tuple[str, ...] = ()
    submitted_units: int = 0  # SVC07
    dos: str = ""  # DTM*472 (or the start of 150/151), ISO
    control_number: str = ""  # REF*6R: our line control number
    adjustments: tuple[Adjustment, ...] = ()
    allowed: int | None = None  # AMT*B6
    remarks: tuple[str, ...] = ()  # LQ*HE remark codes
    index: int = 0  # 1-based position in its claim, for messages

    @property
    def sent_code(self) -> str:
        return self.submitted_code or self.code

    @property
    def sent_modifiers(self) -> tuple[str, ...]:
        return self.submitted_modifiers if self.submitted_code else self.modifiers

    @property
    def sent_units(self) -> int:
        return self.submitted_units or self.units


@dataclass(frozen=True)
class ClaimPayment:
    """One CLP loop (2100): the payer's word on one of our claims."""

    claim_id: str  # CLP01: our CLM01
    status: str  # CLP02
    charge: int  # CLP03
    paid: int  # CLP04
    patient_responsibility: int  # CLP05
    filing_code: str  # CLP06
    payer_claim_number: str  # CLP07
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    lines: tuple[ServicePayment, ...] = ()
    patient_name: str = ""  # NM1*QC last, first
    member_id: str = ""
    crossover_name: str = ""  # NM1*TT: the payer this claim was forwarded to
    crossover_id: str = ""
    statement_from: str = ""  # DTM*232
    index: int = 0  # 1-based position in the file

    @property
    def is_reversal(self) -> bool:
        return self.status == REVERSAL

    @property
    def is_crossover(self) -> bool:
        return self.status in CROSSOVER_STATUSES or bool(self.crossover_name or self.crossover_id)

    @property
    def label(self) -> str:
        return f"claim {self.claim_id} (CLP #{self.index})"


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB reason/amount pair: positive is withheld from the payment, negative is added to it."""

    reason: str  # PLB03-1: L6 interest, WO recoupment, FB forward balance, ...
    reference: str  # PLB03-2: often the claim or account the adjustment is about
    amount: int
    fiscal_date: str = ""

    @property
    def name(self) -> str:
        return PLB_NAMES.get(self.reason, self.reason)


@dataclass(frozen=True)
class Remittance:
    """One 835 transaction set: one payment (BPR/TRN) for many claims."""

    handling: str  # BPR01: I (payment and remittance), H (advice only), ...
    amount: int  # BPR02
    credit_debit: str  # BPR03: C or D
    payment_method: str  # BPR04: ACH, CHK, BOP, FWT, NON
    paid_date: str  # BPR16, ISO
    trace: str  # TRN02
    trace_payer: str  # TRN03
    payer_name: str  # N1*PR
    payer_id: str  # N1*PR N104, else REF*2U, else TRN03
    payee_name: str
    payee_npi: str  # N1*PE ..XX
    claims: tuple[ClaimPayment, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()

    @property
    def method(self) -> str:
        """The books' receipt method for this payment."""
        return PAYMENT_METHODS.get(self.payment_method, "eft")

    @property
    def provider_adjustment_total(self) -> int:
        return sum(p.amount for p in self.provider_adjustments)


# --------------------------------------------------------------------------- reading

_DIGITS = frozenset("0123456789")


def cents(text: str, where: str) -> int:
    """An X12 decimal (R) as exact cents: ``-12.5`` -> -1250; a third decimal is refused."""
    value = text.strip()
    body = value[1:] if value.startswith("-") else value
    whole, dot, frac = body.partition(".")
    # ASCII digits only (str.isdigit would take '²'), at most two decimals, something before or after the point
    if not ((whole or frac) and set(whole) <= _DIGITS and set(frac) <= _DIGITS and len(frac) <= 2):
        raise EraError(f"{where}: {text!r} is not an amount in dollars and cents")
    result = int(whole or 0) * 100 + int(frac.ljust(2, "0"))
    return -result if body is not value else result


def _units(text: str, where: str) -> int:
    """Units as a whole number (``1``, ``1.0``); fractional units are refused."""
    if not text.strip():
        return 0
    hundredths = cents(text, where)
    if hundredths % 100:
        raise EraError(f"{where}: {text!r} units are not a whole number")
    return hundredths // 100


def _date(text: str, where: str) -> str:
    if not re.fullmatch(r"\d{8}", text):
        raise EraError(f"{where}: {text!r} is not a date CCYYMMDD")
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


@dataclass(frozen=True)
class _Delimiters:
    element: str
    component: str
    segment: str


def _delimiters(text: str) -> _Delimiters:
    if not text.startswith("ISA") or len(text) < 106:
        raise EraError("not an X12 file: it does not start with an ISA segment")
    return _Delimiters(text[3], text[104], text[105])


#: Segments are padded to this many elements (the widest this reader indexes: PLB's 13, CAS's 19).
_PADDED = 20


def segments(text: str) -> list[list[str]]:
    """The file's segments, each as its list of elements (line breaks between segments ignored)."""
    text = text.lstrip("\ufeff")
    d = _delimiters(text.lstrip())
    out = []
    for raw in text.lstrip().split(d.segment):
        seg = raw.strip("\r\n")
        if seg.strip():
            elements = [e.strip() for e in seg.split(d.element)]
            # padded, so a reader indexes an absent trailing element as "" without a length check
            out.append(elements + [""] * (_PADDED - len(elements)) if len(elements) < _PADDED else elements)
    return out


def _component(value: str, text: str) -> list[str]:
    return value.split(_delimiters(text.lstrip("\ufeff").lstrip()).component)


def _el(seg: list[str], i: int) -> str:
    return seg[i] if i < len(seg) else ""


def _adjustments(seg: list[str], where: str) -> list[Adjustment]:
    """CAS*group*reason*amount*qty*reason*amount*qty... (up to six reasons)."""
    group = _el(seg, 1)
    if group not in ("CO", "PR", "OA", "PI", "CR"):
        raise EraError(f"{where}: CAS group {group!r} is not CO, PR, OA, PI or CR")
    found = []
    for i in range(2, len(seg), 3):
        reason = _el(seg, i)
        if not reason:
            continue
        found.append(Adjustment(group, reason, cents(_el(seg, i + 1), f"{where} CAS {group}-{reason}"),
                                _el(seg, i + 2)))
    return found


def parse_835(text: str) -> list[Remittance]:
    """Every transaction set (ST*835 ... SE) of the file as a :class:`Remittance`.

    Structure this reader depends on is checked (a CLP before a BPR, an SVC outside a claim, a
    bad amount or date); full implementation-guide validation is pyx12's job.
    """
    segs = segments(text)
    sep = _delimiters(text.lstrip("\ufeff").lstrip()).component
    remittances: list[Remittance] = []
    head: dict[str, str] = {}
    claims: list[ClaimPayment] = []
    plbs: list[ProviderAdjustment] = []
    claim: dict[str, object] | None = None
    claim_adjustments: list[Adjustment] = []
    claim_lines: list[ServicePayment] = []
    line: dict[str, object] | None = None
    in_set = False
    st_at, st_control = 0, ""
    loop = ""  # the N1 loop we are in: PR (payer) or PE (payee)

    def finish_line() -> None:
        nonlocal line
        if line is not None and claim is not None:
            line["index"] = len(claim_lines) + 1
            claim_lines.append(ServicePayment(**line))  # type: ignore[arg-type]
        line = None

    def finish_claim() -> None:
        nonlocal claim
        finish_line()
        if claim is not None:
            claim["lines"] = tuple(claim_lines)
            claim["adjustments"] = tuple(claim_adjustments)
            claim["index"] = len(claims) + 1
            claims.append(ClaimPayment(**claim))  # type: ignore[arg-type]
        claim = None

    for n, seg in enumerate(segs, 1):
        tag = seg[0].strip()
        where = f"segment {n} ({tag})"
        if tag == "ST":
            if seg[1] != "835":
                raise EraError(f"{where}: transaction set {seg[1]!r} is not an 835 remittance")
            in_set, head, claims, plbs, claim, line, loop = True, {}, [], [], None, None, ""
            st_at, st_control = n, seg[2]
        elif not in_set:
            continue
        elif tag == "BPR":
            head.update(handling=seg[1], amount=seg[2], credit_debit=seg[3],
                        payment_method=seg[4], paid_date=seg[16])
        elif tag == "TRN":
            head.update(trace=seg[2], trace_payer=seg[3])
        elif tag == "N1":
            loop = seg[1]
            if loop == "PR":
                head.update(payer_name=seg[2], payer_n1_id=seg[4])
            elif loop == "PE":
                head.update(payee_name=seg[2], payee_npi=seg[4] if seg[3] == "XX" else "")
        elif tag == "REF" and claim is None and loop == "PR" and seg[1] == "2U":
            head.setdefault("payer_ref_id", seg[2])
        elif tag == "CLP":
            if "amount" not in head:
                raise EraError(f"{where}: a claim before the payment (BPR)")
            finish_claim()
            claim = {"claim_id": seg[1], "status": seg[2],
                     "charge": cents(seg[3], f"{where} CLP03"), "paid": cents(seg[4], f"{where} CLP04"),
                     "patient_responsibility": cents(seg[5], f"{where} CLP05") if seg[5] else 0,
                     "filing_code": seg[6], "payer_claim_number": seg[7]}
            claim_adjustments, claim_lines = [], []
            if not claim["claim_id"]:
                raise EraError(f"{where}: the claim has no id (CLP01)")
        elif tag == "CAS":
            if line is not None:
                line["adjustments"] = (*line.get("adjustments", ()), *_adjustments(seg, where))  # type: ignore[misc]
            elif claim is not None:
                claim_adjustments.extend(_adjustments(seg, where))
            else:
                raise EraError(f"{where}: an adjustment outside a claim")
        elif tag == "NM1" and claim is not None and line is None:
            qualifier = seg[1]
            if qualifier == "QC":
                claim["patient_name"] = ", ".join(p for p in (seg[3], seg[4]) if p)
                claim["member_id"] = seg[9]
            elif qualifier == "TT":
                claim["crossover_name"] = seg[3]
                claim["crossover_id"] = seg[9]
        elif tag == "DTM" and claim is not None:
            qualifier = seg[1]
            if line is not None and qualifier in ("472", "150"):
                line["dos"] = _date(seg[2], where)
            elif line is None and qualifier == "232":
                claim["statement_from"] = _date(seg[2], where)
        elif tag == "SVC":
            if claim is None:
                raise EraError(f"{where}: a service line outside a claim")
            finish_line()
            code = seg[1].split(sep)
            if len(code) < 2 or not code[1]:
                raise EraError(f"{where}: SVC01 {seg[1]!r} names no procedure code")
            line = {"code": code[1], "modifiers": tuple(m for m in code[2:6] if m),
                    "charge": cents(seg[2], f"{where} SVC02"), "paid": cents(seg[3], f"{where} SVC03"),
                    "units": _units(seg[5], f"{where} SVC05") or 1}
            if seg[6]:
                sent = seg[6].split(sep)
                line["submitted_code"] = sent[1] if len(sent) > 1 else ""
                line["submitted_modifiers"] = tuple(m for m in sent[2:6] if m)
            if seg[7]:
                line["submitted_units"] = _units(seg[7], f"{where} SVC07")
        elif tag == "REF" and line is not None and seg[1] == "6R":
            line["control_number"] = seg[2]
        elif tag == "AMT" and line is not None and seg[1] == "B6":
            line["allowed"] = cents(seg[2], f"{where} AMT*B6")
        elif tag == "LQ" and line is not None and seg[1] == "HE":
            line["remarks"] = (*line.get("remarks", ()), seg[2])  # type: ignore[misc]
        elif tag == "PLB":
            finish_claim()
            fiscal = _date(seg[2], where) if seg[2] else ""
            for i in range(3, len(seg), 2):
                if not _el(seg, i):
                    continue
                reason = _el(seg, i).split(sep)
                plbs.append(ProviderAdjustment(reason[0], reason[1] if len(reason) > 1 else "",
                                               cents(_el(seg, i + 1), f"{where} PLB {reason[0]}"), fiscal))
        elif tag == "SE":
            finish_claim()
            # a file cut short or spliced: the count and the control number close what ST opened
            if seg[1] != str(n - st_at + 1) or seg[2] != st_control:
                raise EraError(f"{where}: SE says {seg[1]} segments for set {seg[2]!r}; the set {st_control!r} "
                               f"has {n - st_at + 1}")
            for key in ("amount", "trace"):
                if key not in head:
                    raise EraError(f"{where}: the remittance has no {'BPR' if key == 'amount' else 'TRN'} segment")
            remittances.append(Remittance(
                handling=head.get("handling", ""), amount=cents(head["amount"], "BPR02"),
                credit_debit=head.get("credit_debit", "C"), payment_method=head.get("payment_method", ""),
                paid_date=_date(head["paid_date"], "BPR16") if head.get("paid_date") else "",
                trace=head["trace"], trace_payer=head.get("trace_payer", ""), payer_name=head.get("payer_name", ""),
                payer_id=head.get("payer_n1_id") or head.get("payer_ref_id") or head.get("trace_payer", ""),
                payee_name=head.get("payee_name", ""), payee_npi=head.get("payee_npi", ""),
                claims=tuple(claims), provider_adjustments=tuple(plbs)))
            in_set = False
    if in_set:
        raise EraError("the file ends inside a transaction set (no SE)")
    if not remittances:
        raise EraError("the file holds no 835 remittance (no ST*835)")
    return remittances


# --------------------------------------------------------------------------- balancing


def balance_problems(remittance: Remittance) -> list[str]:
    """Every way the remittance fails to balance, naming the claim and line; [] when it balances."""
    problems = []
    for claim in remittance.claims:
        line_adjustments = 0
        for line in claim.lines:
            adjusted = sum(a.amount for a in line.adjustments)
            line_adjustments += adjusted
            if line.charge - line.paid != adjusted:
                problems.append(
                    f"{claim.label} line {line.index} ({line.code}): charge {_money(line.charge)} - paid "
                    f"{_money(line.paid)} is {_money(line.charge - line.paid)} but its adjustments are {_money(adjusted)}")
        claim_level = sum(a.amount for a in claim.adjustments)
        if claim.charge - claim.paid != claim_level + line_adjustments:
            problems.append(
                f"{claim.label}: charge {_money(claim.charge)} - paid {_money(claim.paid)} is "
                f"{_money(claim.charge - claim.paid)} but its adjustments are {_money(claim_level + line_adjustments)}")
        if claim.lines and sum(line.charge for line in claim.lines) != claim.charge:
            problems.append(f"{claim.label}: its lines charge {_money(sum(x.charge for x in claim.lines))}, "
                            f"the claim {_money(claim.charge)}")
    paid = sum(c.paid for c in remittance.claims)
    expected = paid - remittance.provider_adjustment_total
    if remittance.amount != expected:
        problems.append(f"payment {remittance.trace}: BPR02 {_money(remittance.amount)} but the claims paid "
                        f"{_money(paid)} less provider adjustments {_money(remittance.provider_adjustment_total)} "
                        f"is {_money(expected)}")
    return problems


def require_balanced(remittance: Remittance) -> None:
    """Refuse an unbalanced remittance (:class:`EraError` naming every claim that fails)."""
    problems = balance_problems(remittance)
    if problems:
        raise EraError("the remittance does not balance: " + "; ".join(problems))


def _money(amount: int) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"
