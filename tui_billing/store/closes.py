"""The closes' one home: the day close, the month close, and their checks as the screens ask them.

The rules are the ledger's (:mod:`tui_billing.ledger.closes`: each check one function in a
registry); this module reads the facts they need (the day's open batches and figures, the
month's open days), and writes a close's row and audit event in one transaction. The balancing
screen, ``tui-billing close-day`` / ``close-month`` and the operations all come here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..ledger import closes as rules
from ..ledger.closes import DayCloseFacts, MonthCloseFacts
from ..ledger.records import DepositCount
from ..ledger.vocab import month_bounds, month_bounds_or_refuse
from . import digests, roles
from . import validate as v
from .db import sql, write
from .errors import BillingError
from .summary import batches_for, day_summary, month_close_record, period_summary
from .writer import write_plan

__all__ = ["DepositCount", "close_day", "close_day_as_shown", "close_day_problems", "close_month",
           "close_month_as_shown", "month_close_problems", "open_days_in", "posting_dates_in"]


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------- reads


def posting_dates_in(start: str, end: str) -> list[str]:
    """Every posting date in a range that has any posted row."""
    parts = " UNION ".join(f"SELECT DISTINCT posting_date FROM {t} WHERE posting_date BETWEEN ?1 AND ?2"
                           for t in ("batch", "charge", "receipt", "distribution", "refund"))
    return [r[0] for r in sql(f"SELECT posting_date FROM ({parts}) ORDER BY 1", (start, end))]


def open_days_in(start: str, end: str) -> list[str]:
    """Posting dates in the range that have postings and are not closed (what blocks a month close)."""
    closed = {r[0] for r in sql(
        "SELECT posting_date FROM day_close WHERE posting_date BETWEEN ? AND ?", (start, end)).fetchall()}
    return [d for d in posting_dates_in(start, end) if d not in closed]


def day_facts(date: str) -> DayCloseFacts:
    """What the day-close checks read about ``date``."""
    # A row typed into the day by hand (not posted by the program) must not be frozen by the close.
    from .check_audit import unaccounted

    return DayCloseFacts(date=date, open_batches=[b for b in batches_for(date, date) if not b.closed],
                         summary=day_summary(date), unaccounted=unaccounted([date], limit=5),
                         tampered=digests.close_blockers(date))


def month_facts(month: str) -> MonthCloseFacts:
    """What the month-close checks read (``month`` must be a month: see ``month_bounds_or_refuse``)."""
    first, last = month_bounds(month)
    return MonthCloseFacts(month=month, already_closed=month_close_record(month) is not None,
                           open_days=open_days_in(first, last))


# --------------------------------------------------------------------------- day close


def close_day_problems(date: str, counted: DepositCount | None) -> list[str]:
    """Every reason the day cannot close (empty when it can)."""
    return rules.day_close_problems(day_facts(date), counted)


@write
def close_day(date: object | None = None, counted: DepositCount | None = None, *,
              operator: str | None = None) -> dict[str, Any]:
    """Lock a posting date. Refused while a batch is open or unbalanced or the deposit differs."""
    user = v.operator(operator)
    when = v.posting_date(date, closing=True)
    roles.require("close_day", user, posting_date=when)
    checked = rules.checked_count(counted)
    plan = rules.plan_close_day(day_facts(when), checked, today=v.today().isoformat(), user=user, now=_now())
    write_plan(plan)
    digests.seal_day(when, user)  # the day's digest, chained to the last close's, and sent outside the file
    totals: dict[str, Any] = plan.event.detail["totals"]
    return totals


@write
def close_day_as_shown(date: str, counted: DepositCount | None, shown: Mapping[str, Any], *,
                       operator: str | None = None) -> dict[str, Any]:
    """Close a day only if its totals are still the ones the clerk confirmed.

    Another clerk may post between the confirmation and the close; the close and this check run
    in one transaction, so the day is never locked with totals nobody saw.
    """
    totals = close_day(date, counted, operator=operator)
    changed = rules.changed_figures(shown, totals)
    if changed:
        raise BillingError(f"day {date} changed while you confirmed ({', '.join(changed)}): look again and "
                           "press F9 again; nothing was closed", "date")
    return totals


# --------------------------------------------------------------------------- month close


def month_close_problems(month: str) -> list[str]:
    """Every reason a month cannot close yet (empty when it can); the rules close_month refuses with."""
    try:
        month_bounds(month)
    except ValueError:
        return [f"month must look like 2026-11 (got {month!r})"]
    return rules.month_close_problems(month_facts(month), v.today().isoformat())


@write
def close_month(month: str, *, operator: str | None = None) -> dict[str, Any]:
    """Lock a month once every day of it with postings is closed. Stores its roll-forward."""
    user = v.operator(operator)
    month = (month or "").strip()
    roles.require("close_month", user, month=month)
    first, last = month_bounds_or_refuse(month)
    facts = month_facts(month)
    today = v.today().isoformat()
    problems = rules.month_close_problems(facts, today)
    if problems:  # refused before the month's figures are read
        raise rules.month_refusal(month, problems)
    plan = rules.plan_close_month(facts, period_summary(first, last), today=today, user=user, now=_now())
    write_plan(plan)
    totals: dict[str, Any] = plan.event.detail["totals"]
    return totals


@write
def close_month_as_shown(month: str, shown: Mapping[str, Any], *, operator: str | None = None) -> dict[str, Any]:
    """Close a month only if its roll-forward is still the one the clerk confirmed."""
    totals = close_month(month, operator=operator)
    changed = rules.changed_figures(shown, totals)
    if changed:
        raise BillingError(f"month {month} changed while you confirmed ({', '.join(changed)}): look again; "
                           "nothing was closed", "month")
    return totals
