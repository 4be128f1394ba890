"""Input checks shared by the operations: text, dates, posting dates and code sets.

Each check raises :class:`BillingError` naming the field, so a form can show it inline.
"""

from __future__ import annotations

import datetime as dt

from ..ledger.checks import (
    cents,
    icd10,
    iso_date,
    modifier,
    npi,
    pos,
    positive_int,
    procedure_code,
    text,
)
from ..ledger.checks import service_date as _service_date
from .clock import today
from .db import database
from .errors import BillingError

#: The field checks live in the ledger (pure); they are named here too for the store's callers.
__all__ = ["cents", "closed_reason", "current_posting_date", "icd10", "iso_date", "modifier", "npi", "operator",
           "pos", "positive_int", "posting_date", "procedure_code", "service_date", "text", "today"]


def operator(value: str | None = None) -> str:
    """The clerk who writes: the real uid's account, who must hold a role here (store/roles.py)."""
    from .roles import acting_user

    return acting_user(value)


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
    """A date of service: not after the business day, not before 1900."""
    return _service_date(value, today().isoformat(), field)
