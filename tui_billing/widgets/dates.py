"""Date input for dates of service: short forms a clerk types from a superbill.

Accepted: ``2026-11-26``, ``11/26/2026``, ``11/26/26``, ``11/26``, ``1126`` (MMDD), ``112626``
(MMDDYY), ``11262026``, ``t`` (today), ``-3`` (three days ago). Short forms without a year take
the most recent such date that is not in the future. Dates in the future are refused.
"""

from __future__ import annotations

import datetime as dt
import re

from .form_input import FormInput

__all__ = ["DateInput", "parse_service_date"]

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


def parse_service_date(text: str, today: dt.date) -> dt.date:
    """Parse a typed date of service. Raises ValueError with a sentence a clerk can act on."""
    raw = text.strip().lower()
    if not raw:
        raise ValueError("date of service is required (t = today, -3 = three days ago, 1126 = Nov 26)")
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
        raise ValueError(f"date of service {date.isoformat()} is in the future")
    if date.year < 1900:
        raise ValueError(f"date of service {date.isoformat()} is too far in the past")
    return date


class DateInput(FormInput):
    """An Input for a date of service; :meth:`parse` gives the date or raises ValueError."""

    DEFAULT_CSS = "DateInput { width: 12; }"

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs.setdefault("restrict", r"[0-9tT/\-oadyODAY]*")
        kwargs.setdefault("max_length", 10)
        super().__init__(value, **kwargs)

    def parse(self, today: dt.date) -> dt.date:
        return parse_service_date(self.value, today)
