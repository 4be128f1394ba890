"""The business day, apart from the validation rules so a report can ask for it cheaply."""

from __future__ import annotations

import datetime as dt

from .identity import pinned_today


def today() -> dt.date:
    """The business day: the clock, or TUI_BILLING_TODAY in a test book (the demo's or a test's) only."""
    return pinned_today() or dt.date.today()
