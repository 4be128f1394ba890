"""The form kit's readers, pure (no Textual): amounts, counts and dates as a clerk types them.

Every field of every screen reads through these, so there is one grammar for each: an amount or a
count that cannot be read is refused with the reason (never guessed), and a date is typed the
same way on charges and receipts: ``2026-11-26``, ``11/26/2026``, ``11/26/26``, ``11/26``,
``1126`` (MMDD), ``112626`` (MMDDYY), ``11262026``, ``t`` (today), ``-3`` (three days ago).
Short forms without a year take the most recent such date that is not in the future.
"""

from __future__ import annotations

import datetime as dt
import re

from ..money import MoneyError, parse_cents

__all__ = ["MAX_COUNT", "parse_amount", "parse_count", "parse_day", "parse_service_date"]

#: The largest count a batch or a deposit can hold (the store refuses above it as well).
MAX_COUNT = 9999


def parse_amount(text: str, what: str = "amount", *, blank: int | None = None, allow_zero: bool = True,
                 allow_negative: bool = False) -> int:
    """Cents from what was typed, or ValueError naming the field and why.

    ``blank`` is what an empty field means (None: it is required).
    """
    if not text.strip():
        if blank is None:
            raise ValueError(f"{what} is required (e.g. 125.00)")
        return blank
    try:
        return parse_cents(text, allow_zero=allow_zero, allow_negative=allow_negative)
    except MoneyError as exc:
        raise ValueError(f"{what}: {exc}") from None


def parse_count(text: str, what: str = "count", *, blank: int | None = None, maximum: int = MAX_COUNT) -> int:
    """A whole number as typed (``12``), or ValueError naming the field and why."""
    raw = text.strip()
    if not raw:
        if blank is None:
            raise ValueError(f"{what} is required (a whole number, e.g. 12)")
        return blank
    shown = raw if len(raw) <= 20 else raw[:17] + "..."
    if not (raw.isascii() and raw.isdigit()):
        bad = next((ch for ch in raw if not (ch.isascii() and ch.isdigit())), "")
        raise ValueError(f"{what}: '{shown}' is not a whole number ('{bad}' is not a digit)")
    value = int(raw)
    if value > maximum:
        raise ValueError(f"{what}: {value} is more than {maximum}")
    return value


_MDY = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")


def _year(two_or_four: str, today: dt.date) -> int:
    year = int(two_or_four)
    if len(two_or_four) == 2:
        year += 2000
        if year > today.year:
            year -= 100
    return year


def _recent(month: int, day: int, today: dt.date) -> dt.date:
    """MM/DD with no year: this year's, or last year's if this year's is still to come."""
    date = dt.date(today.year, month, day)
    return date if date <= today else dt.date(today.year - 1, month, day)


def parse_day(text: str, today: dt.date, what: str = "date") -> dt.date:
    """Parse a typed date (never in the future). Raises ValueError with a sentence a clerk can act on."""
    raw = text.strip().lower()
    if not raw:
        raise ValueError(f"{what} is required (t = today, -3 = three days ago, 1126 = Nov 26)")
    try:
        if raw in ("t", "today"):
            date = today
        elif re.fullmatch(r"-\d{1,4}", raw):
            date = today - dt.timedelta(days=int(raw[1:]))
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            date = dt.date.fromisoformat(raw)
        elif m := _MDY.fullmatch(raw):
            month, day, year = int(m[1]), int(m[2]), m[3]
            date = _recent(month, day, today) if year is None else dt.date(_year(year, today), month, day)
        elif re.fullmatch(r"\d{4}", raw):
            date = _recent(int(raw[:2]), int(raw[2:]), today)
        elif re.fullmatch(r"\d{6}|\d{8}", raw):
            date = dt.date(_year(raw[4:], today), int(raw[:2]), int(raw[2:4]))
        else:
            raise ValueError("x")
    except ValueError:
        raise ValueError(f"'{text.strip()}' is not a date: type 2026-11-26, 11/26/2026, 1126, t or -3") from None
    if date > today:
        raise ValueError(f"{what} {date.isoformat()} is in the future")
    if date.year < 1900:
        raise ValueError(f"{what} {date.isoformat()} is too far in the past")
    return date




def parse_service_date(text: str, today: dt.date) -> dt.date:
    """A date of service (see :func:`parse_day`)."""
    return parse_day(text, today, "date of service")
