"""Charge entry's form model: the rules of the encounter form, as plain functions (no Textual).

The screen (``charge_entry.py``) owns widgets and workers; everything it decides about the values
lives here and is tested without an app: which field Enter goes to, what a line's units, fee and
pointers must be, which form field a store refusal points at, and whether an encounter repeats one
already in the batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..store.operations import ChargeLine
from ..widgets.parse import parse_amount, parse_count
from ..widgets.store_error import field_path

__all__ = [
    "DX_COUNT", "FIRST_LINES", "LINE_BLOCK", "LINE_COUNT", "MOD_COUNT", "SELF_PAY", "STICKY", "EncounterForm",
    "EncounterKey", "field_ids",
    "form_field_for", "line_part", "next_field", "parse_pointers", "repeats", "units_and_fee",
]

DX_COUNT = 12
#: Service lines an encounter can have; the first FIRST_LINES are on screen from the start and
#: more are mounted (LINE_BLOCK at a time) when Enter or Tab goes past the last one.
LINE_COUNT = 50
FIRST_LINES = 6
LINE_BLOCK = 6
MOD_COUNT = 4
STICKY = ("provider", "dos", "pos", "payer")
SELF_PAY = "SELF"

_LINE = re.compile(r"l(\d+)-(\w+)")


def field_ids() -> list[str]:
    """Every form field in Tab order."""
    ids = ["patient", "provider", "dos", "pos", "payer"] + [f"dx-{n}" for n in range(1, DX_COUNT + 1)]
    for i in range(1, LINE_COUNT + 1):
        ids += [f"l{i}-code"] + [f"l{i}-m{m}" for m in range(1, MOD_COUNT + 1)]
        ids += [f"l{i}-units", f"l{i}-fee", f"l{i}-ptr"]
    return ids


FIELD_IDS = tuple(field_ids())


def line_part(fid: str) -> tuple[int, str] | None:
    """``l2-fee`` -> (2, "fee"); None for a field that is not on a service line."""
    m = _LINE.fullmatch(fid)
    return (int(m[1]), m[2]) if m else None


def parse_pointers(text: str, dx_count: int) -> tuple[int, ...]:
    """Diagnosis pointers as typed: ``1``, ``1,2``, ``1 2 3``, or ``123`` (one digit each).

    A bare number that names an existing diagnosis (``12`` with 12 diagnoses) is one pointer.
    Raises ValueError with the reason.
    """
    raw = text.strip()
    if not raw:
        return (1,)
    if re.fullmatch(r"\d+", raw) and not (1 <= int(raw) <= dx_count and len(raw) <= 2 and int(raw) >= 10):
        parts = list(raw) if len(raw) > 1 else [raw]
    else:
        parts = [p for p in re.split(r"[,\s]+", raw) if p]
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"pointers are diagnosis numbers like 1 or 1,2 (got '{raw}')")
    pointers = tuple(int(p) for p in parts)
    if len(pointers) > 4:
        raise ValueError("at most 4 diagnosis pointers per line")
    for p in pointers:
        if not 1 <= p <= max(dx_count, 1) or (dx_count and p > dx_count):
            there = ("no diagnosis is entered yet" if dx_count == 0 else
                     "there is only 1 diagnosis" if dx_count == 1 else f"there are only {dx_count} diagnoses")
            raise ValueError(f"pointer {p}: {there}")
    if len(set(pointers)) != len(pointers):
        raise ValueError("a diagnosis is pointed at twice")
    return pointers


def units_and_fee(units_text: str, fee_text: str) -> tuple[int, int]:
    """A line's units and fee (cents) as typed; ValueError says which and why (nothing guessed)."""
    units = parse_count(units_text, "units", blank=1, maximum=999)
    if units < 1:
        raise ValueError("units must be at least 1")
    amount = parse_amount(fee_text, "fee", blank=0)
    return units, amount


def next_field(fid: str, value: Callable[[str], str], line_complete: Callable[[int], bool],
               sticky_complete: bool = False) -> str | None:
    """Where Enter goes from ``fid`` (after the field was accepted); None: the form is done.

    Defaults cost no key: Enter on the patient goes to the diagnoses when the provider, DOS, POS
    and payer are already filled (carried over from the last encounter); Enter on a line's code
    or modifier, once the line is complete (its units, fee and pointer defaults filled), goes to
    the next line's code. Tab still steps through every field.
    """
    if fid == "patient" and sticky_complete:
        return "dx-1"
    if fid.startswith("dx-") and not value(fid):
        return "l1-code"  # an empty diagnosis ends the list
    where = line_part(fid)
    if where:
        i, part = where
        if part == "code" and not value(fid):
            return None if i > 1 else fid  # an empty line ends the encounter
        if (part == "code" or part.startswith("m")) and line_complete(i):
            return f"l{i + 1}-code" if i < LINE_COUNT else None
        if part.startswith("m") and not value(fid):
            return f"l{i}-units"
        if part == "ptr":
            return f"l{i + 1}-code" if i < LINE_COUNT else None
    pos = FIELD_IDS.index(fid)
    return FIELD_IDS[pos + 1] if pos + 1 < len(FIELD_IDS) else None


def form_field_for(store_field: str | None, filled_dx: list[int], line_fields: list[int]) -> str | None:
    """The form field a store refusal points at (``lines[2].code`` -> the third posted line's code).

    ``filled_dx``: the diagnosis numbers that were posted, in order; ``line_fields``: the form line
    of each posted line.
    """
    path = field_path(store_field)
    if path is None:
        return None
    if path.name in ("patient", "provider", "payer", "dos", "pos") and path.index is None:
        return path.name
    if path.name == "diagnoses":
        k = path.index or 0
        return f"dx-{filled_dx[k]}" if k < len(filled_dx) else "dx-1"
    if path.name == "lines":
        if path.index is None:
            return "l1-code"
        i = line_fields[path.index] if path.index < len(line_fields) else 1
        if path.leaf is None:
            return f"l{i}-code"
        part = {"code": "code", "units": "units", "fee": "fee", "modifiers": "m1", "dx_pointers": "ptr"}.get(
            path.leaf, "code")
        return f"l{i}-{part}"
    return None


@dataclass(frozen=True)
class EncounterKey:
    """What makes two encounters the same paper: patient, date of service and the codes billed."""

    patient_id: int
    dos: str
    codes: tuple[str, ...]


@dataclass
class EncounterForm:
    """The values the save worker posts: plain data, built on the event loop from the form."""

    patient_id: int
    provider_id: int
    payer_id: int | None
    dos: str
    pos: str
    diagnoses: list[str]
    lines: list[ChargeLine]
    batch_id: int | None
    line_fields: list[int] = field(default_factory=list)  # form line index for each posted line
    posting_date: str | None = None
    filled_dx: list[int] = field(default_factory=list)  # the diagnosis number of each posted diagnosis
    confirmed_repeat: bool = False  # the clerk said yes to posting a repeat of one in the batch

    @property
    def key(self) -> EncounterKey:
        return EncounterKey(self.patient_id, self.dos, tuple(sorted(line.code for line in self.lines)))


def repeats(form: EncounterForm, keyed: Iterable[tuple[int, str, tuple[str, ...]]]) -> bool:
    """True when the batch already holds an encounter with the same patient, DOS and codes."""
    key = form.key
    return (key.patient_id, key.dos, key.codes) in set(keyed)
