"""Acknowledgements of the claims we sent: the 999 (was the file's syntax accepted, transaction set
by transaction set, with or without a TA1 for the interchange in front) and the 277CA (did the
payer or clearinghouse take each claim into adjudication, and under which claim number).

Pure parsers over the X12 text (delimiters read from the ISA), returning frozen records; the store
decides what they mean for each claim (``store/acks.py``). ``render_999`` and ``render_277ca`` write
the same records back as X12, for the demo's sample files (``sample_acks``) and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

#: 277CA status categories (STC01-1) and what they make of a claim.
ACCEPTED_CATEGORIES = frozenset({"A1", "A2"})
REJECTED_CATEGORIES = frozenset({"A3", "A4", "A6", "A7", "A8"})
FORWARDED_CATEGORIES = frozenset({"A0"})
#: 999 IK501 / AK901 codes that mean the transaction set (or group) was not taken.
REJECTED_SET_CODES = frozenset({"R", "M", "W", "X"})


class AckError(ValueError):
    """The file is not a 999 or 277CA this reader understands; the message says what is wrong."""


@dataclass(frozen=True)
class Interchange:
    """A TA1: the receiver's answer about our whole interchange (ISA13 = ``control_number``)."""

    control_number: str
    status: str  # TA104: A accepted, E accepted with errors, R rejected
    note: str  # TA105: the interchange note code (000 = no error)

    @property
    def rejected(self) -> bool:
        return self.status == "R"


@dataclass(frozen=True)
class SetAck:
    """One of our transaction sets (ST02 = ``control_number``) as the 999 judged it."""

    control_number: str
    status: str  # IK501: A, E (accepted with errors), R, M, W, X (rejected)
    errors: tuple[str, ...] = ()  # IK502-IK506 codes, then 'IK3 <segment> <position> <code>' per bad segment

    @property
    def rejected(self) -> bool:
        return self.status in REJECTED_SET_CODES


@dataclass(frozen=True)
class GroupAck:
    """The 999 of one of our functional groups (GS06 = ``group_control``)."""

    group_control: str  # AK102
    version: str  # AK103 (005010X222A1 for an 837P)
    status: str  # AK901: A, E, P (partially accepted), R, M, W, X
    sets: tuple[SetAck, ...]
    errors: tuple[str, ...] = ()  # AK905-AK909

    @property
    def rejected(self) -> bool:
        return self.status in REJECTED_SET_CODES


@dataclass(frozen=True)
class Ack999:
    interchange_control: str  # this file's own ISA13
    ta1: Interchange | None
    groups: tuple[GroupAck, ...]
    kind: str = "999"


@dataclass(frozen=True)
class Status:
    """One STC composite: category (A1...), status code (why), entity (who it is about)."""

    category: str
    code: str
    entity: str = ""

    def __str__(self) -> str:
        return ":".join(part for part in (self.category, self.code, self.entity) if part)


@dataclass(frozen=True)
class ClaimAck:
    """One claim in a 277CA: our CLM01 (TRN02) and what became of it."""

    claim_id: str
    statuses: tuple[Status, ...]  # every STC of the claim and of its lines, claim's first
    payer_claim_number: str = ""  # REF*1K: quoted on a replacement or a void (box 22, REF*F8)
    clearinghouse_number: str = ""  # REF*D9
    charge: int = 0  # STC04, cents
    status_date: str = ""  # STC02, ISO
    line_controls: tuple[tuple[str, Status], ...] = ()  # (REF*FJ line control number, status) of rejected lines
    message: str = ""  # STC12, free text

    @property
    def outcome(self) -> str:
        """accepted, rejected, forwarded or pending: a rejection anywhere in the claim wins."""
        categories = {status.category for status in self.statuses}
        if categories & REJECTED_CATEGORIES:
            return "rejected"
        if categories & ACCEPTED_CATEGORIES:
            return "accepted"
        if categories & FORWARDED_CATEGORIES:
            return "forwarded"
        return "pending"

    @property
    def reason(self) -> str:
        """The rejecting status codes, e.g. 'A7:562:85' (entity's NPI invalid, billing provider)."""
        codes = [str(s) for s in self.statuses if s.category in REJECTED_CATEGORIES]
        return ", ".join(dict.fromkeys(codes))


@dataclass(frozen=True)
class Ack277:
    interchange_control: str
    reference: str  # BHT03
    claims: tuple[ClaimAck, ...]
    kind: str = "277CA"


# -- reading X12 ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Delimiters:
    element: str = "*"
    component: str = ":"
    segment: str = "~"
    repetition: str = "^"


def _delimiters(text: str) -> Delimiters:
    if not text.startswith("ISA") or len(text) < 106:
        raise AckError("not an X12 file: it does not start with an ISA segment")
    element = text[3]
    parts = text[:106].split(element)
    if len(parts) < 17:
        raise AckError("the ISA segment is cut short")
    return Delimiters(element, component=text[104], segment=text[105], repetition=parts[11][:1] or "^")


def segments(text: str) -> tuple[Delimiters, list[list[str]]]:
    """The file's segments, each a list of elements (element 0 is the segment id)."""
    text = text.lstrip("\ufeff \r\n\t")
    delims = _delimiters(text)
    out = []
    for raw in text.split(delims.segment):
        raw = raw.strip("\r\n\t ")
        if raw:
            out.append(raw.split(delims.element))
    return delims, out


def _el(segment: list[str], n: int) -> str:
    return segment[n].strip() if len(segment) > n else ""


def _iso(ccyymmdd: str) -> str:
    return f"{ccyymmdd[:4]}-{ccyymmdd[4:6]}-{ccyymmdd[6:8]}" if len(ccyymmdd) == 8 and ccyymmdd.isdigit() else ""


def _cents(amount: str) -> int:
    try:
        return int((Decimal(amount) * 100).to_integral_value()) if amount else 0
    except InvalidOperation as exc:
        raise AckError(f"{amount!r} is not an amount") from exc


def parse(text: str) -> Ack999 | Ack277:
    """A 999 (a TA1 in front allowed, or a TA1 alone) or a 277CA, by what its ST01 says."""
    delims, segs = segments(text)
    kinds = {_el(s, 1) for s in segs if s[0] == "ST"}
    if kinds <= {"999"}:
        return _parse_999(delims, segs)
    if kinds == {"277"}:
        return _parse_277(delims, segs)
    raise AckError(f"not an acknowledgement: transaction set {', '.join(sorted(kinds))} (expected 999 or 277)")


def _parse_999(delims: Delimiters, segs: list[list[str]]) -> Ack999:
    isa = segs[0]
    ta1: Interchange | None = None
    groups: list[GroupAck] = []
    group: dict | None = None
    current: dict | None = None  # the AK2 being read

    def close_set() -> None:
        nonlocal current
        if current is not None and group is not None:
            group["sets"].append(SetAck(current["control"], current["status"] or "R", tuple(current["errors"])))
        current = None

    for seg in segs:
        tag = seg[0]
        if tag == "TA1":
            ta1 = Interchange(_el(seg, 1), _el(seg, 4), _el(seg, 5))
        elif tag == "AK1":
            group = {"control": _el(seg, 2), "version": _el(seg, 3), "sets": []}
        elif tag == "AK2":
            close_set()
            current = {"control": _el(seg, 2), "status": "", "errors": []}
        elif tag == "IK3" and current is not None:
            current["errors"].append(f"IK3 {_el(seg, 1)} {_el(seg, 2)} {_el(seg, 4)}".rstrip())
        elif tag == "IK4" and current is not None:
            position = _el(seg, 1).split(delims.component)[0]
            current["errors"].append(f"IK4 {position} {_el(seg, 3)}".rstrip())
        elif tag == "IK5" and current is not None:
            current["status"] = _el(seg, 1)
            current["errors"][:0] = [code for code in seg[2:7] if code]
        elif tag == "AK9" and group is not None:
            close_set()
            groups.append(GroupAck(group["control"], group["version"], _el(seg, 1), tuple(group["sets"]),
                                   tuple(code for code in seg[5:10] if code)))
            group = None
    if group is not None:
        raise AckError(f"the 999 for group {group['control']} has no AK9")
    if ta1 is None and not groups:
        raise AckError("the 999 acknowledges nothing (no TA1, no AK1)")
    return Ack999(_el(isa, 13), ta1, tuple(groups))


def _status(composite: str, delims: Delimiters) -> Status:
    parts = composite.split(delims.component) + ["", "", ""]
    return Status(parts[0], parts[1], parts[2])


def _parse_277(delims: Delimiters, segs: list[list[str]]) -> Ack277:
    reference = ""
    claims: list[ClaimAck] = []
    claim: dict | None = None
    level = ""
    line_control = ""
    line_statuses: list[Status] = []
    inherited: list[Status] = []  # a rejection at the provider level, for claims that say nothing of their own

    def close_line() -> None:
        nonlocal line_control, line_statuses
        if claim is not None:
            for status in line_statuses:
                claim["statuses"].append(status)
                if status.category in REJECTED_CATEGORIES:
                    claim["lines"].append((line_control, status))
        line_control, line_statuses = "", []

    def close_claim() -> None:
        nonlocal claim
        close_line()
        if claim is not None:
            statuses = claim["statuses"] or list(inherited)
            claims.append(ClaimAck(claim["id"], tuple(statuses), claim["1K"], claim["D9"], claim["charge"],
                                   claim["date"], tuple(claim["lines"]), claim["message"]))
        claim = None

    in_line = False
    for seg in segs:
        tag = seg[0]
        if tag == "BHT":
            reference = _el(seg, 3)
        elif tag == "HL":
            close_claim()
            in_line = False
            level = _el(seg, 3)
            if level in ("20", "21"):
                inherited = []
            if level in ("PT", "22", "23"):
                claim = {"id": "", "statuses": [], "1K": "", "D9": "", "charge": 0, "date": "", "lines": [],
                         "message": ""}
        elif tag == "TRN" and claim is not None and not in_line:
            claim["id"] = _el(seg, 2)
        elif tag == "STC":
            statuses = [_status(c, delims) for c in (_el(seg, 1), _el(seg, 10), _el(seg, 11)) if c]
            if claim is None:
                if level == "19":
                    inherited.extend(s for s in statuses if s.category in REJECTED_CATEGORIES)
            elif in_line:
                line_statuses.extend(statuses)
            else:
                claim["statuses"].extend(statuses)
                claim["charge"] = claim["charge"] or _cents(_el(seg, 4))
                claim["date"] = claim["date"] or _iso(_el(seg, 2))
                claim["message"] = claim["message"] or _el(seg, 12)
        elif tag == "REF" and claim is not None:
            qualifier = _el(seg, 1)
            if in_line and qualifier == "FJ":
                line_control = _el(seg, 2)
            elif not in_line and qualifier in ("1K", "D9"):
                claim[qualifier] = _el(seg, 2)
        elif tag == "SVC" and claim is not None:
            close_line()
            in_line = True
        elif tag == "SE":
            close_claim()
    close_claim()
    for ack in claims:
        if not ack.claim_id:
            raise AckError("a claim in the 277CA has no TRN with our claim id")
    return Ack277(_el(segs[0], 13), reference, tuple(claims))


# -- writing X12 (the demo's sample files, the tests) --------------------------------------------

@dataclass(frozen=True)
class Envelope:
    """Who sends the acknowledgement to whom, when, and its own control number."""

    sender: str
    receiver: str
    date: str  # ISO
    time: str = "1200"
    control: int = 1
    usage: str = "P"  # ISA15: P production, T test


def _isa(env: Envelope) -> str:
    ymd = env.date.replace("-", "")
    return (f"ISA*00*{'':10}*00*{'':10}*ZZ*{env.sender:<15}*ZZ*{env.receiver:<15}*{ymd[2:]}*{env.time}*^*00501*"
            f"{env.control:09d}*0*{env.usage}*:~")


def _wrap(env: Envelope, functional_id: str, version: str, body: list[str], ta1: str = "") -> str:
    ymd = env.date.replace("-", "")
    st = "0001"
    sets = [f"ST*{body[0]}*{st}*{version}", *body[1:]]
    sets.append(f"SE*{len(sets) + 1}*{st}")
    segs = [f"GS*{functional_id}*{env.sender}*{env.receiver}*{ymd}*{env.time}*{env.control}*X*{version}",
            *sets, f"GE*1*{env.control}", f"IEA*1*{env.control:09d}"]
    return _isa(env) + ta1 + "~".join(segs) + "~\n"


def render_999(ack: Ack999, env: Envelope) -> str:
    """The 999 (005010X231A1) that says what ``ack`` says, a TA1 in front when it has one."""
    ta1 = ""
    if ack.ta1 is not None:
        ymd = env.date.replace("-", "")
        ta1 = f"TA1*{ack.ta1.control_number}*{ymd[2:]}*{env.time}*{ack.ta1.status}*{ack.ta1.note or '000'}~"
    if not ack.groups:  # a TA1 alone: the interchange was not opened
        return _isa(env) + ta1 + f"IEA*0*{env.control:09d}~\n"
    body = ["999"]
    for group in ack.groups:  # one 999 acknowledges one functional group: the first
        body.append(f"AK1*HC*{group.group_control}*{group.version}")
        for s in group.sets:
            body.append(f"AK2*837*{s.control_number}*{group.version}")
            for error in s.errors:
                if error.startswith("IK3 "):
                    seg_id, position, code = (error.split() + ["", "", ""])[1:4]
                    body.append(f"IK3*{seg_id}*{position}**{code}")
            codes = [e for e in s.errors if not e.startswith(("IK3 ", "IK4 "))]
            body.append("*".join(["IK5", s.status, *codes]))
        accepted = sum(not s.rejected for s in group.sets)
        body.append("*".join(["AK9", group.status, str(len(group.sets)), str(len(group.sets)), str(accepted),
                              *group.errors]))
        break
    return _wrap(env, "FA", "005010X231A1", body, ta1)


def render_277ca(ack: Ack277, env: Envelope, *, payer: str, payer_id: str, submitter: str, submitter_id: str,
                 billing: str, billing_npi: str, patients: Sequence[tuple[str, str, str]] = ()) -> str:
    """The 277CA (005010X214) of ``ack``: payer, submitter, one billing provider, one patient per claim.

    ``patients`` gives (last, first, member id) per claim, in the order of ``ack.claims``.
    """
    ymd = env.date.replace("-", "")

    def money(cents: int) -> str:
        return f"{cents // 100}.{cents % 100:02d}" if cents % 100 else str(cents // 100)

    accepted = [c for c in ack.claims if c.outcome != "rejected"]
    rejected = [c for c in ack.claims if c.outcome == "rejected"]
    body = ["277", f"BHT*0085*08*{ack.reference}*{ymd}*{env.time}*TH",
            "HL*1**20*1", f"NM1*PR*2*{payer}*****PI*{payer_id}", f"TRN*1*{ack.reference}",
            f"DTP*050*D8*{ymd}", f"DTP*009*D8*{ymd}",
            "HL*2*1*21*1", f"NM1*41*2*{submitter}*****46*{submitter_id}", f"TRN*2*{ack.reference}",
            f"STC*A1:19:PR*{ymd}*WQ*{money(sum(c.charge for c in ack.claims))}"]
    body += [f"QTY*90*{len(accepted)}"] if accepted else []
    body += [f"QTY*AA*{len(rejected)}"] if rejected else []
    body += [f"AMT*YU*{money(sum(c.charge for c in accepted))}"] if accepted else []
    body += [f"AMT*YY*{money(sum(c.charge for c in rejected))}"] if rejected else []
    body += ["HL*3*2*19*1", f"NM1*85*2*{billing}*****XX*{billing_npi}", "TRN*1*0",
             f"STC*A1:19:PR**WQ*{money(sum(c.charge for c in ack.claims))}"]  # STC02 is not used here
    body += [f"QTY*QA*{len(accepted)}"] if accepted else []
    body += [f"QTY*QC*{len(rejected)}"] if rejected else []
    body += [f"AMT*YU*{money(sum(c.charge for c in accepted))}"] if accepted else []
    body += [f"AMT*YY*{money(sum(c.charge for c in rejected))}"] if rejected else []
    for n, claim in enumerate(ack.claims):
        last, first, member = patients[n] if n < len(patients) else ("PATIENT", "UNKNOWN", "UNKNOWN")
        status_date = (claim.status_date or env.date).replace("-", "")
        body += [f"HL*{4 + n}*3*PT", f"NM1*QC*1*{last}*{first}****MI*{member}", f"TRN*2*{claim.claim_id}"]
        for status in claim.statuses:
            stc = f"STC*{status}*{status_date}*{'WQ' if claim.outcome != 'rejected' else 'U'}*{money(claim.charge)}"
            body.append(stc + (f"********{claim.message}" if claim.message else ""))
        body += [f"REF*1K*{claim.payer_claim_number}"] if claim.payer_claim_number else []
        body += [f"REF*D9*{claim.clearinghouse_number}"] if claim.clearinghouse_number else []
        body.append(f"DTP*472*D8*{status_date}")
    return _wrap(env, "HN", "005010X214", body)


@dataclass(frozen=True)
class SampleClaim:
    """What the demo knows of a sent claim, to make up an acknowledgement for it."""

    claim_id: str
    charge: int  # cents
    patient_last: str
    patient_first: str
    member_id: str
    accept: bool = True
    reason: str = "A7:562:85"  # category:status:entity when rejected (562: entity's NPI)


@dataclass(frozen=True)
class SampleFile:
    """One sent 837P file (its ISA13, GS06 and ST02 control numbers) and the claims batched in it."""

    interchange: int
    group: int
    set_control: str
    claims: Sequence[SampleClaim] = field(default=())
    reject_file: bool = False  # the 999 rejects the transaction set: none of its claims gets a 277CA


def sample_acks(sent: SampleFile, env: Envelope, *, payer: str = "DEMO CLEARINGHOUSE", payer_id: str = "CLEAR1",
                submitter: str = "DEMO PRACTICE", submitter_id: str = "DEMO01", billing: str = "DEMO PRACTICE",
                billing_npi: str = "1234567893", with_ta1: bool = False) -> dict[str, str]:
    """The 999 (and, unless the file was rejected, the 277CA) a clearinghouse would send back for
    ``sent``: ``{'999': text, '277CA': text}``. Accepted claims get a payer claim number made
    from their claim id; rejected ones carry ``reason``."""
    status = "R" if sent.reject_file else "A"
    errors = ("5", "IK3 NM1 22 8") if sent.reject_file else ()
    ack999 = Ack999(
        f"{env.control:09d}",
        Interchange(f"{sent.interchange:09d}", "A", "000") if with_ta1 else None,
        (GroupAck(str(sent.group), "005010X222A1", status, (SetAck(sent.set_control, status, errors),)),))
    out = {"999": render_999(ack999, env)}
    if sent.reject_file or not sent.claims:
        return out
    claims = []
    for c in sent.claims:
        if c.accept:
            statuses: tuple[Status, ...] = (Status("A2", "20", "PR"),)
            number = "PCN" + "".join(ch for ch in c.claim_id if ch.isalnum())[-14:]
        else:
            category, code, entity = (c.reason.split(":") + ["", ""])[:3]
            statuses, number = (Status(category, code, entity),), ""
        claims.append(ClaimAck(c.claim_id, statuses, number, "", c.charge, env.date))
    ack277 = Ack277(f"{env.control + 1:09d}", f"ACK{sent.interchange}", tuple(claims))
    env277 = Envelope(env.sender, env.receiver, env.date, env.time, env.control + 1, env.usage)
    out["277CA"] = render_277ca(ack277, env277, payer=payer, payer_id=payer_id, submitter=submitter,
                                submitter_id=submitter_id, billing=billing, billing_npi=billing_npi,
                                patients=[(c.patient_last, c.patient_first, c.member_id) for c in sent.claims])
    return out
