"""The business day, apart from the validation rules so a report can ask for it cheaply."""

from __future__ import annotations

import datetime as dt
import os


def today() -> dt.date:
    """The business day. TUI_BILLING_TODAY pins it for tests and reprints of the demo."""
    pinned = os.environ.get("TUI_BILLING_TODAY")
    if pinned:
        return dt.date.fromisoformat(pinned)
    return dt.date.today()
