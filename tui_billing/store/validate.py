"""Input checks shared by the operations: text, dates, posting dates and code sets.

Each check raises :class:`BillingError` naming the field, so a form can show it inline.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import unicodedata

from .. import codes
from ..money import MAX_CENTS, format_cents
from ..text import BIDI_CONTROLS
from .clock import today
from .db import database
from .errors import BillingError


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


def operator(value: str | None = None) -> str:
    """The clerk: given, else TUI_BILLING_OPERATOR, else the OS user."""
    name = value or os.environ.get("TUI_BILLING_OPERATOR") or getpass.getuser()
    return text(name, "operator", max_len=64)


def cents(value: object, field: str, *, allow_zero: bool = True, allow_negative: bool = False) -> int:
    """An amount in integer cents within the sane ceiling."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BillingError(f"{field} must be a whole number of cents", field)
    if value < 0 and not allow_negative:
        raise BillingError(f"{field} cannot be negative ({format_cents(value)})", field)
    if value == 0 and not allow_zero:
        raise BillingError(f"{field} must be more than 0.00", field)
    if abs(value) > MAX_CENTS:
        raise BillingError(f"{field} {format_cents(value)} is over the {format_cents(MAX_CENTS)} ceiling", field)
    return value


def positive_int(value: object, field: str, *, maximum: int = 999) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BillingError(f"{field} must be a whole number of at least 1", field)
    if value > maximum:
        raise BillingError(f"{field} {value} is more than {maximum}", field)
    return value


def closed_reason(posting_date: str) -> str | None:
    """Why a posting date is closed, or None if it is open."""
    row = database.execute_sql(
        "SELECT operator, closed_at FROM day_close WHERE posting_date = ?", (posting_date,)
    ).fetchone()
    if row:
        return f"day {posting_date} was closed by {row[0]} at {row[1][:16].replace('T', ' ')}"
    row = database.execute_sql("SELECT operator FROM month_close WHERE month = ?", (posting_date[:7],)).fetchone()
    if row:
        return f"month {posting_date[:7]} was closed by {row[0]}"
    return None


def current_posting_date() -> str:
    """Today, or if today is already closed, the next day that is open (a closed day rolls over)."""
    day = today()
    while closed_reason(day.isoformat()):
        day += dt.timedelta(days=1)
    return day.isoformat()


def posting_date(value: object | None, *, closing: bool = False) -> str:
    """An open posting date that is not in the future (beyond the current posting date).

    Nothing may be posted before a later closed day; ``closing=True`` (the day close itself)
    skips that rule, since an earlier open day must still be able to close.
    """
    current = current_posting_date()
    if value is None:
        return current
    date = iso_date(value, "posting date")
    if date > current:
        raise BillingError(f"posting date {date} is in the future; the current posting date is {current}", "posting_date")
    why = closed_reason(date)
    if why:
        raise BillingError(f"{why}: nothing more can be posted to it. Post to the current open day {current} instead",
                           "posting_date")
    # A later close stored the roll-forward through this date: a late entry here would change
    # that closed day's (or month's) closing A/R and break every later day's proof.
    later = None if closing else database.execute_sql(
        "SELECT MAX(posting_date) FROM day_close WHERE posting_date > ?", (date,)).fetchone()[0] \
        or database.execute_sql("SELECT MAX(month) FROM month_close WHERE month > ?", (date[:7],)).fetchone()[0]
    if later:
        raise BillingError(f"{later} is already closed, so nothing can be posted to the earlier day {date}. "
                           f"Post to the current open day {current} instead", "posting_date")
    return date


def service_date(value: object, field: str = "dos") -> str:
    date = iso_date(value, "date of service")
    if date > today().isoformat():
        raise BillingError(f"date of service {date} is in the future", field)
    if date < "1900-01-01":
        raise BillingError(f"date of service {date} is too far in the past", field)
    return date


def icd10(code: object, field: str) -> codes.Icd10:
    try:
        return codes.validate_icd10(str(code))
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc


def procedure_code(code: object, field: str) -> str:
    try:
        return codes.validate_procedure_code(str(code))
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc


def modifier(mod: object, field: str) -> str:
    try:
        return codes.validate_modifier(str(mod))
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc


def pos(code: object, field: str = "pos") -> str:
    try:
        return codes.validate_pos(str(code))
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc


def npi(value: object, field: str = "npi") -> str:
    try:
        return codes.validate_npi(str(value))
    except codes.CodeError as exc:
        raise BillingError(str(exc), field) from exc
