"""Date input: the one date grammar of the form kit (see :mod:`.parse`) in a field."""

from __future__ import annotations

import datetime as dt

from .form_input import FormInput
from .parse import parse_day, parse_service_date

__all__ = ["DateInput", "parse_day", "parse_service_date"]


class DateInput(FormInput):
    """An Input for a date of service; :meth:`parse` gives the date or raises ValueError."""

    DEFAULT_CSS = "DateInput { width: 12; }"

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs.setdefault("restrict", r"[0-9tT/\-oadyODAY]*")
        kwargs.setdefault("max_length", 10)
        super().__init__(value, **kwargs)

    def parse(self, today: dt.date) -> dt.date:
        return parse_service_date(self.value, today)
