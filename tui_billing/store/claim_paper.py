"""Claims on paper and what comes back about sent claims (issue 13).

``print_claims``: the ready claims of payers billed on paper (receiver ``PAPER``), or the claims
asked for, as CMS-1500 forms (text or PDF, :mod:`tui_billing.claims.cms1500`). The printed file is
recorded as a ``cms1500`` claim file with its sha256 and its ready claims become ``batched`` in it
(``claims mark-sent`` then says the envelope went out), in one transaction; a claim that is not
ready prints as a copy and keeps its status.

``import_ack``: a 999 (a TA1 in front or alone) or a 277CA. A rejected transaction set (or a
rejected interchange or group) rejects every claim batched in it, found through the 837P file's
control numbers; a 277CA names each claim: accepted (with the payer's claim number, kept for a
correction), rejected (with the status codes as the reason) or forwarded. The same file twice is
refused by its sha256. Everything is recorded in one transaction, or nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims import acks, cms1500
from ..claims import model as m
from . import audit, roles
from . import claims as cl
from . import validate as v
from .db import database, executemany, inserted_id, write
from .errors import BillingError

__all__ = ["PAPER", "AckResult", "PrintResult", "import_ack", "print_claims"]

#: The receiver of a payer billed on paper: its claims are printed, not sent as an 837P.
PAPER = "PAPER"
#: What an acknowledgement may do to a claim, by the claim's status now: a later status (paid,
#: denied, replaced) stays, and a 999 that comes after the 277CA does not take 'accepted' back.
_MAY_FOLLOW = {
    "sent": ("batched",),  # the 999 accepted its transaction set: the file reached them
    "file_rejected": ("batched", "sent"),
    "accepted": ("batched", "sent", "forwarded", "accepted"),  # again: the payer's number after the clearinghouse's
    "rejected": ("batched", "sent", "forwarded", "accepted"),
    "forwarded": ("batched", "sent", "accepted"),
}


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _rows(query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return list(database.execute_sql(query, tuple(params)).fetchall())


def _statuses(ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(ids), 900):
        chunk = list(ids[start:start + 900])
        marks = ",".join("?" * len(chunk))
        out.update(_rows(f"SELECT claim_id, status FROM claim_status WHERE claim_id IN ({marks})", chunk))
    return out


# --------------------------------------------------------------------------- printing


@dataclass(frozen=True)
class PrintResult:
    forms: int
    claims: tuple[str, ...]  # claim ids printed
    batched: tuple[str, ...]  # of those, the ready ones now batched in the printed file
    file_id: int = 0
    sha256: str = ""
    data: bytes = b""  # what was printed (the caller writes it to stdout when there is no file)


def _paper_ready() -> list[int]:
    rows = _rows("SELECT s.claim_id FROM claim_status s JOIN claim k ON k.id = s.claim_id JOIN payer y ON "
                 "y.id = k.payer_id WHERE s.status = 'ready' AND upper(y.receiver) = ? ORDER BY k.claim_id", (PAPER,))
    return [r[0] for r in rows]


def render(claims: Sequence[m.Claim], fmt: str, printed: str, offset_x: float = 0.0, offset_y: float = 0.0,
           calibration: bool = False) -> tuple[bytes, int]:
    """The printout (text or pdf) and how many forms it has."""
    forms = [cms1500.calibration_form()] if calibration else []
    for claim in claims:
        try:
            forms += cms1500.forms(claim, printed)
        except cms1500.FormError as exc:
            raise BillingError(f"claim {claim.claim_id}: {exc}", "claim") from exc
    if fmt == "pdf":
        return cms1500.pdf_bytes(forms, offset_x=offset_x, offset_y=offset_y), len(forms)
    if offset_x or offset_y:
        raise BillingError("offsets are for --format pdf: line up a line printer with its tractor", "offset")
    return cms1500.text_pages(forms).encode("ascii"), len(forms)


def print_claims(claim_ids: Sequence[str] = (), *, fmt: str = "text", output: str | os.PathLike[str] | None = None,
                 offset_x: float = 0.0, offset_y: float = 0.0, calibration: bool = False,
                 operator: str | None = None) -> PrintResult:
    """Print ``claim_ids`` (default: every ready claim of a paper payer), or only the calibration page.

    ``output`` None: the caller prints ``data`` itself (the books still record its sha256)."""
    if fmt not in ("text", "pdf"):
        raise BillingError("format must be text or pdf", "format")
    if calibration and not claim_ids:
        data, count = render([], fmt, v.today().isoformat(), offset_x, offset_y, calibration=True)
        if output is not None:
            _write_file(Path(output), data)
        return PrintResult(count, (), (), data=data)
    written: list[Path] = []
    try:
        return _print(list(claim_ids), fmt, None if output is None else Path(output), offset_x, offset_y,
                      calibration, operator, written)
    except BaseException:
        for path in written:  # the books do not know this printout: it goes too
            try:
                path.unlink()
            except OSError:
                pass
        raise


def _write_file(path: Path, data: bytes, written: list[Path] | None = None) -> None:
    from ..files import atomic_output

    # a printout is PHI: private, and never written over another (a printer device is written to)
    regular = not path.exists() or path.is_file()
    if regular and path.exists():
        raise BillingError(f"{path} already exists: a printout never replaces another, choose a new name", "output")
    with atomic_output(path, binary=True, replace=not regular) as fh:
        fh.write(data)
    if written is not None and regular:
        written.append(path)


@write
def _print(claim_ids: list[str], fmt: str, output: Path | None, offset_x: float, offset_y: float, calibration: bool,
           operator: str | None, written: list[Path]) -> PrintResult:
    for path in written:  # a retried transaction starts again from nothing
        path.unlink(missing_ok=True)
    written.clear()
    user = v.operator(operator)
    roles.require("claims", user)
    if claim_ids:
        rows = cl.claim_row_ids(claim_ids)
        missing = [c for c in claim_ids if c not in rows]
        if missing:
            raise BillingError(f"no claim {missing[0]} (see `tui-billing claims list`)", "claim")
        ids = [rows[c] for c in dict.fromkeys(claim_ids)]
    else:
        ids = _paper_ready()
    if not ids:
        raise BillingError("no ready claims for paper payers to print (payers billed on paper have receiver PAPER)",
                           "claim")
    claims = cl.load_claims(ids)
    now, day = _now(), v.today().isoformat()
    data, count = render(claims, fmt, day, offset_x, offset_y, calibration)
    digest = hashlib.sha256(data).hexdigest()
    if output is not None:
        _write_file(output, data, written)
    status = _statuses(ids)
    ready = [c for c in claims if status.get(c.id) == "ready"]
    cursor = database.execute_sql(
        "INSERT INTO claim_file (receiver, kind, path, sha256, production, claims, total, at, operator) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (PAPER, "cms1500", str(output) if output is not None else "-", digest, 1, len(claims),
         sum(c.total for c in claims), now, user))
    file_id = inserted_id(cursor)
    if ready:
        executemany(
            "INSERT INTO claim_event (claim_id, status, reason, payer_claim_number, file_id, at, on_date, operator) "
            "VALUES (?,?,?,?,?,?,?,?)", [(c.id, "batched", f"printed ({fmt})", "", file_id, now, day, user)
                                         for c in ready])
    audit.record(now, user, "print_claims", "claim_file", file_id, {
        "format": fmt, "path": str(output) if output is not None else "-", "sha256": digest, "forms": count,
        "claims": [c.claim_id for c in claims], "batched": [c.claim_id for c in ready]})
    return PrintResult(count, tuple(c.claim_id for c in claims), tuple(c.claim_id for c in ready), file_id, digest,
                       data)


# --------------------------------------------------------------------------- acknowledgements


@dataclass(frozen=True)
class AckResult:
    kind: str  # 999 or 277CA
    file_id: int
    events: tuple[tuple[str, str, str], ...]  # (claim id, new status, reason)
    unknown: tuple[str, ...]  # what the file names that the books do not have (claim ids, control numbers)
    unchanged: tuple[str, ...] = ()  # claims named whose status is past what the file could change
    confirmed: tuple[str, ...] = ()  # claims already sent whose transaction set the 999 accepted

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for _, status, _ in self.events:
            out[status] += 1
        return dict(out)


def import_ack(path: str | os.PathLike[str], *, operator: str | None = None) -> AckResult:
    """Record what a 999 or 277CA file says about our claims (see the module's docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BillingError(f"cannot read {path}: {exc.strerror}", "file") from exc
    try:
        ack = acks.parse(data.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise BillingError(f"{path} is not an X12 file (a byte outside ASCII at {exc.start})", "file") from exc
    except acks.AckError as exc:
        raise BillingError(f"{path}: {exc}", "file") from exc
    return _record_ack(ack, str(path), hashlib.sha256(data).hexdigest(), data, operator)


def _envelope(data: bytes) -> tuple[str, bool]:
    """The acknowledgement's sender (ISA06: the receiver of our files) and whether it is production."""
    text = data.decode("ascii").lstrip("\ufeff \r\n\t")
    isa = text[:106].split(text[3])
    return isa[6].strip().upper(), isa[15].strip() == "P"


@write
def _record_ack(ack: acks.Ack999 | acks.Ack277, path: str, digest: str, data: bytes,
                operator: str | None) -> AckResult:
    user = v.operator(operator)
    roles.require("claims", user)
    seen = _rows("SELECT id, at FROM claim_file WHERE sha256 = ? AND kind IN ('999', '277CA')", (digest,))
    if seen:
        raise BillingError(f"{path} was imported before (file {seen[0][0]}, {seen[0][1][:16]}): nothing recorded",
                           "file")
    sender, production = _envelope(data)
    if isinstance(ack, acks.Ack999):
        events, unknown = _events_999(ack, sender)
    else:
        events, unknown = _events_277(ack)
    status = _statuses(sorted({e[0] for e in events}))
    names = dict(_rows_claims(sorted(status)))
    keep = [e for e in events if status.get(e[0]) in _MAY_FOLLOW[e[1]]]
    confirmed = sorted(names[e[0]] for e in events if e[1] == "sent" and status.get(e[0]) == "sent")
    unchanged = sorted({names[e[0]] for e in events} - {names[e[0]] for e in keep} - set(confirmed))
    now = _now()
    interchange = int(ack.interchange_control) if ack.interchange_control.isdigit() else None
    cursor = database.execute_sql(
        "INSERT INTO claim_file (receiver, kind, path, sha256, interchange_number, production, claims, total, at, "
        "operator) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (sender, ack.kind, path, digest, interchange, 1 if production else 0, len({e[0] for e in keep}), 0, now, user))
    file_id = inserted_id(cursor)
    numbers = {claim: pcn for claim, _, _, pcn in keep if pcn}
    if keep:
        cl.record_events([(claim, st, reason) for claim, st, reason, _ in keep], file_id=file_id,
                         payer_claim_numbers=numbers, operator=user)
    audit.record(now, user, "import_ack", "claim_file", file_id,
                 {"kind": ack.kind, "path": path, "sha256": digest, "events": len(keep), "unknown": unknown[:20]})
    return AckResult(ack.kind, file_id, tuple((names[c], st, r) for c, st, r, _ in keep), tuple(unknown),
                     tuple(unchanged), tuple(confirmed))


def _rows_claims(ids: Sequence[int]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for start in range(0, len(ids), 900):
        chunk = list(ids[start:start + 900])
        out += [(r[0], r[1]) for r in _rows(
            f"SELECT id, claim_id FROM claim WHERE id IN ({','.join('?' * len(chunk))})", chunk)]
    return out


Event = tuple[int, str, str, str]  # claim row, status, reason, payer claim number


def _files(column: str, number: int, sender: str) -> list[tuple[int, str, str, str]]:
    """Our 837P files with this ISA13 or GS06: the sender's own first (control numbers are per receiver)."""
    rows = _rows(f"SELECT id, receiver, path, sha256 FROM claim_file WHERE kind = '837P' AND {column} = ? "
                 "ORDER BY id", (number,))
    own = [r for r in rows if r[1].upper() == sender]
    return own or rows


def _claims_in(file_id: int) -> list[int]:
    return [r[0] for r in _rows("SELECT DISTINCT claim_id FROM claim_event WHERE file_id = ? AND status = 'batched' "
                                "ORDER BY claim_id", (file_id,))]


def _sets_of(path: str, digest: str) -> dict[str, list[str]] | None:
    """ST02 -> the claim ids (CLM01) in it, read back from our 837P file; None if it is gone or changed."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    _, segs = acks.segments(data.decode("ascii"))
    out: dict[str, list[str]] = {}
    current: list[str] = []
    for seg in segs:
        if seg[0] == "ST":
            current = out.setdefault(seg[2] if len(seg) > 2 else "", [])
        elif seg[0] == "CLM" and len(seg) > 1:
            current.append(seg[1])
    return out


def _one_file(files: list[tuple[int, str, str, str]], what: str) -> tuple[int, str, str, str]:
    if len(files) > 1:
        raise BillingError(f"{what} matches 837P files of several receivers ({', '.join(f[1] for f in files)}) and "
                           "the acknowledgement's sender is none of them", "file")
    return files[0]


def _events_999(ack: acks.Ack999, sender: str) -> tuple[list[Event], list[str]]:
    events: list[Event] = []
    unknown: list[str] = []
    if ack.ta1 is not None and ack.ta1.rejected:
        number = int(ack.ta1.control_number) if ack.ta1.control_number.isdigit() else -1
        files = _files("interchange_number", number, sender)
        if not files:
            unknown.append(f"interchange {ack.ta1.control_number}")
        else:
            file_id = _one_file(files, f"interchange {ack.ta1.control_number}")[0]
            reason = f"TA1: interchange {ack.ta1.control_number} rejected (note {ack.ta1.note})"
            events += [(c, "file_rejected", reason, "") for c in _claims_in(file_id)]
    for group in ack.groups:
        number = int(group.group_control) if group.group_control.isdigit() else -1
        files = _files("group_number", number, sender)
        if not files:
            unknown.append(f"group {group.group_control}")
            continue
        file_id, _, path, digest = _one_file(files, f"group {group.group_control}")
        members = _claims_in(file_id)
        by_set = _sets_of(path, digest)
        row_of = {name: row for row, name in _rows_claims(members)}
        for s in group.sets:
            if by_set is not None:
                if s.control_number not in by_set:
                    unknown.append(f"transaction set {s.control_number} of group {group.group_control}")
                    continue
                rows = [row_of[c] for c in by_set[s.control_number] if c in row_of]
            elif len(group.sets) == 1:
                rows = members  # the file is gone, but a one-set acknowledgement can only mean all of it
            else:
                raise BillingError(f"the 837P file of group {group.group_control} ({path}) is missing or changed: "
                                   "which claims were in which transaction set cannot be told", "file")
            if s.rejected or group.rejected:
                detail = "; ".join(s.errors + group.errors)
                reason = f"999: transaction set {s.control_number} rejected ({s.status}{': ' + detail if detail else ''})"
                events += [(c, "file_rejected", reason, "") for c in rows]
            else:
                events += [(c, "sent", f"999: transaction set {s.control_number} accepted", "") for c in rows]
    return events, unknown


def _plain(text: str, limit: int = 200) -> str:
    """A payer's free text as the books keep it: printable, one line, not too long."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:limit].strip()


def _events_277(ack: acks.Ack277) -> tuple[list[Event], list[str]]:
    rows = cl.claim_row_ids(c.claim_id for c in ack.claims)
    events: list[Event] = []
    unknown: list[str] = []
    for claim in ack.claims:
        row = rows.get(claim.claim_id)
        if row is None:
            unknown.append(f"claim {claim.claim_id}")
            continue
        outcome = claim.outcome
        if outcome == "rejected":
            reason = "277CA: " + claim.reason + (f" ({_plain(claim.message)})" if claim.message else "")
            if claim.line_controls:
                reason += "; lines " + ", ".join(f"{control} {status}" for control, status in claim.line_controls)
            events.append((row, "rejected", reason, claim.payer_claim_number))
        elif outcome in ("accepted", "forwarded"):
            codes = ", ".join(str(s) for s in claim.statuses)
            events.append((row, outcome, f"277CA: {codes}", claim.payer_claim_number))
    return events, unknown


# --------------------------------------------------------------------------- the demo's sample acknowledgements


def write_sample_acks(output_dir: str | os.PathLike[str], *, reject_claim_every: int = 7, reject_file_every: int = 0,
                      on_date: str | None = None, file_ids: Sequence[int] | None = None) -> list[Path]:
    """For every 837P file in the books, the 999 (and unless the file is rejected, the 277CA) a
    clearinghouse would send back, written to ``output_dir`` (private files) for `import ack`.

    Deterministic, for the demo: every ``reject_claim_every``-th claim is rejected by the 277CA
    (A7:562:85), every ``reject_file_every``-th file by its 999 (0: none); ``file_ids``: only these
    837P files. Nothing is recorded."""
    from ..files import atomic_output

    out = Path(output_dir)
    day = on_date or v.today().isoformat()
    practice = _rows("SELECT submitter_id, name, npi FROM practice WHERE id = 1") or [("", "", "")]
    submitter, name, npi = (_x12_name(str(value or "")) for value in practice[0])
    files = [f for f in _rows("SELECT id, receiver, interchange_number, group_number, path, sha256 FROM claim_file "
                              "WHERE kind = '837P' ORDER BY id") if file_ids is None or f[0] in file_ids]
    written: list[Path] = []
    n_claim = 0
    for n_file, (file_id, receiver, interchange, group, path, digest) in enumerate(files, start=1):
        sets = _sets_of(path, digest) or {}
        set_control = next(iter(sets), "0001")
        members = _claims_in(file_id)
        heads: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(members), 900):  # under SQLite's variable limit: a file holds up to 5,000
            chunk = members[start:start + 900]
            heads.update((row[0], row[1:]) for row in _rows(
                "SELECT k.claim_id, k.total, p.last_name, p.first_name, COALESCE(c.member_id, '') FROM claim k "
                "JOIN patient p ON p.id = k.patient_id LEFT JOIN coverage c ON c.id = k.coverage_id "
                f"WHERE k.id IN ({','.join('?' * len(chunk))})", chunk))
        sample: list[acks.SampleClaim] = []
        for claim_id in sets.get(set_control, sorted(heads)):
            if claim_id not in heads:
                continue
            n_claim += 1
            total, last, first, member = heads[claim_id]
            sample.append(acks.SampleClaim(claim_id, int(total), _x12_name(last), _x12_name(first),
                                           _x12_name(member) or "UNKNOWN",
                                           accept=not reject_claim_every or n_claim % reject_claim_every != 0))
        sent = acks.SampleFile(int(interchange), int(group), set_control, sample,
                               reject_file=bool(reject_file_every) and n_file % reject_file_every == 0)
        env = acks.Envelope(_x12_name(receiver)[:15] or "CLEARINGHOUSE", submitter[:15] or "PRACTICE", day,
                            control=2 * int(interchange) - 1)
        for kind, text in acks.sample_acks(sent, env, submitter=name or "PRACTICE", submitter_id=submitter or "PRACTICE",
                                           billing=name or "PRACTICE", billing_npi=npi or "1234567893").items():
            target = out / f"{kind}-{_x12_name(receiver) or 'receiver'}-{int(interchange):09d}.x12"
            with atomic_output(target, binary=True, replace=False) as fh:
                fh.write(text.encode("ascii"))
            written.append(target)
    return written


def _x12_name(value: str) -> str:
    """Only what every delimiter choice leaves alone, for names put into a sample file."""
    from ..claims.cms1500 import printable

    return "".join(ch for ch in printable(value) if ch.isalnum() or ch in " -.,'").strip()


def demo_acks(output_dir: str | os.PathLike[str], *, operator: str | None = None) -> dict[str, int]:
    """The demo's acknowledgements, in ``output_dir``/acks: those of every 837P file but the last
    day's are imported (their claims accepted, every ninth rejected); the last day's wait there for
    `tui-billing import ack`, so the 'sent, awaiting acknowledgement' queue keeps its claims."""
    folder = Path(output_dir) / "acks"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in [*folder.glob("999-*.x12"), *folder.glob("277CA-*.x12")]:  # a rebuilt demo starts again
        old.unlink()
    built = _rows("SELECT id, substr(at, 1, 10) FROM claim_file WHERE kind = '837P' ORDER BY id")
    if not built:
        return {}
    last_day = max(day for _, day in built)
    older = [fid for fid, day in built if day < last_day]
    newest = [fid for fid, day in built if day == last_day]
    imported = write_sample_acks(folder, reject_claim_every=9, file_ids=older) if older else []
    for path in sorted(imported, key=lambda p: p.name.startswith("277CA")):  # a 999 comes before its 277CA
        import_ack(path, operator=operator)
    waiting = write_sample_acks(folder, reject_claim_every=9, file_ids=newest)
    return {"acknowledgements imported": len(imported), "acknowledgements waiting": len(waiting)}
