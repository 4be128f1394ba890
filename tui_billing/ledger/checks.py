"""Field checks every planner shares: text, dates, amounts, counts and the code sets.

Each raises :class:`BillingError` naming the field, so a form can show it inline. Pure: they
read nothing but their arguments (and the code tables of :mod:`tui_billing.codes`).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar

from .. import codes
from ..money import MAX_CENTS, format_cents
from ..text import BIDI_CONTROLS
from .errors import BillingError


def is_id(value: object) -> TypeGuard[int]:
    """A row id: an int that is not a bool."""
    # a plain int (nearly every call, a million times in the demo's load) answers at once
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def text(value: object, field: str, *, max_len: int = 200, required: bool = True) -> str:
    """Trimmed user text with no control characters (refused, not silently dropped)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BillingError(f"{field} must be text", field)
    value = value.strip()
    if required and not value:
        raise BillingError(f"{field} is required", field)
    for ch in value:
        if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS:
            raise BillingError(f"{field} contains a control character (U+{ord(ch):04X}); retype it", field)
    if len(value) > max_len:
        raise BillingError(f"{field} is too long ({len(value)} characters; at most {max_len})", field)
    return value


def iso_date(value: object, field: str) -> str:
    """A date as ISO text; accepts a ``date`` or ``YYYY-MM-DD`` text."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise BillingError(f"{field} must be a date like 2026-11-26 (got {value!r})", field)


def cents(value: object, field: str, *, allow_zero: bool = True, allow_negative: bool = False) -> int:
    """An amount in integer cents within the sane ceiling."""
    if not is_id(value):
        raise BillingError(f"{field} must be a whole number of cents", field)
    if value < 0 and not allow_negative:
        raise BillingError(f"{field} cannot be negative ({format_cents(value)})", field)
    if value == 0 and not allow_zero:
        raise BillingError(f"{field} must be more than 0.00", field)
    if abs(value) > MAX_CENTS:
        raise BillingError(f"{field} {format_cents(value)} is over the {format_cents(MAX_CENTS)} ceiling", field)
    return value


def positive_int(value: object, field: str, *, maximum: int = 999) -> int:
    if not is_id(value) or value < 1:
        raise BillingError(f"{field} must be a whole number of at least 1", field)
    if value > maximum:
        raise BillingError(f"{field} {value} is more than {maximum}", field)
    return value


def service_date(value: object, today: str, field: str = "dos") -> str:
    """A date of service: not after ``today`` (the business day), not before 1900."""
    if type(value) is str and len(value) == 10 and "1900-01-01" <= value <= today:
        try:  # already ISO text in range (the usual case): only check it is a real day
            if dt.date.fromisoformat(value).isoformat() == value:
                return value
        except ValueError:
            pass
    date = iso_date(value, "date of service")
    if date > today:
        raise BillingError(f"date of service {date} is in the future", field)
    if date < "1900-01-01":
        raise BillingError(f"date of service {date} is too far in the past", field)
    return date


T = TypeVar("T")

#: Codes already accepted, by (code set, text as typed). A code's verdict depends only on its text
#: and the installed code set, and an office keys the same few hundred codes all day (the demo's
#: bulk load plans a million lines through these checks). Refusals are never kept.
_accepted: dict[tuple[str, str], Any] = {}
_ACCEPTED_MAX = 20_000


def _code(kind: str, value: object, validate: Callable[[str], T], field: str) -> T:
    text = str(value)
    key = (kind, text)
    found: T | None = _accepted.get(key)
    if found is not None:
        return found
    try:
        found = validate(text)
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc
    if len(_accepted) >= _ACCEPTED_MAX:
        _accepted.clear()
    _accepted[key] = found
    return found


def known(kind: str, value: object) -> Any:
    """A code of ``kind`` this process already accepted, as its check returned it; None when it
    must go through the check (which names the field). Lets a hot loop skip building field names."""
    return _accepted.get((kind, value)) if type(value) is str else None


def icd10(code: object, field: str) -> codes.Icd10:
    return _code("icd10", code, codes.validate_icd10, field)


def procedure_code(code: object, field: str) -> str:
    return _code("procedure", code, codes.validate_procedure_code, field)


def modifier(mod: object, field: str) -> str:
    return _code("modifier", mod, codes.validate_modifier, field)


def pos(code: object, field: str = "pos") -> str:
    return _code("pos", code, codes.validate_pos, field)


def npi(value: object, field: str = "npi") -> str:
    try:
        return codes.validate_npi(str(value))
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc


def procedure_code_or_none(code: object) -> str | None:
    """The code as the planner will read it, or None when it is not one (the planner says why)."""
    try:
        return codes.validate_procedure_code(str(code))
    except codes.CodeError:
        return None
