"""Closes: a batch's, a day's and a month's rules, each check one function in a registry.

A check takes the facts read for the close and returns the problems it finds (sentences a clerk
can act on); a close is refused while any check finds one. The close keeps the totals it was
closed with (the period summary, as canonical JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..money import format_cents
from . import checks as c
from .errors import BillingError
from .records import (
    AuditEvent,
    BatchStatus,
    DayCloseRow,
    DepositCount,
    MonthCloseRow,
    PeriodSummary,
    Plan,
)
from .vocab import MAX_CONTROL_COUNT, month_bounds

# --------------------------------------------------------------------------- day close


@dataclass(frozen=True)
class DayCloseFacts:
    """What a day close reads: its open batches, its figures, and rows no audit event accounts for."""

    date: str
    open_batches: Sequence[BatchStatus]
    summary: PeriodSummary
    unaccounted: Sequence[str] = ()
    #: what `check` would name about the guards or the closed days' digest chain (store/digests.py)
    tampered: Sequence[str] = ()


DayCheck = Callable[[DayCloseFacts, "DepositCount | None"], list[str]]


def open_batches(facts: DayCloseFacts, counted: DepositCount | None) -> list[str]:
    """Every batch of the day must be closed (and so balanced)."""
    problems = []
    for status in facts.open_batches:
        # A balanced batch left open (its clerk went home) is closed by a supervisor; one off its
        # figures is corrected first (Ctrl+O on F2, or by its clerk).
        extra = f" (balanced: `tui-billing close batch {status.id}`)" if status.balanced else (
            f", off by {status.count_difference:+d} / {format_cents(status.total_difference)}")
        problems.append(f"{status.kind} batch {status.id} ({status.operator}) is still open{extra}")
    return problems


#: (attribute of DepositCount, what the clerk calls it, key of the summary's deposit)
COUNTED_METHODS = (("cash", "cash", "cash"), ("checks", "checks", "check"), ("card", "card", "card"),
                   ("eft", "EFT", "eft"))


def deposit_matches(facts: DayCloseFacts, counted: DepositCount | None) -> list[str]:
    """What was counted equals receipts less refunds, method by method, and the check count."""
    if counted is None:
        return []
    problems = []
    deposit = facts.summary.deposit
    for name, label, method in COUNTED_METHODS:
        got, want = getattr(counted, name), deposit.get(method, 0)
        if got != want:
            problems.append(f"{label} counted {format_cents(got)} but receipts say {format_cents(want)} "
                            f"(difference {format_cents(got - want)})")
    if counted.check_count != facts.summary.check_count:
        problems.append(f"{counted.check_count} checks counted but {facts.summary.check_count} check receipts posted")
    return problems


def proof_balances(facts: DayCloseFacts, counted: DepositCount | None) -> list[str]:
    """The A/R and unapplied roll-forward agree with the stored checkpoints and the open items."""
    if facts.summary.balances:
        return []
    return ["the A/R proof does not balance: " + "; ".join(facts.summary.proof_errors)]


def all_rows_accounted(facts: DayCloseFacts, counted: DepositCount | None) -> list[str]:
    """A row typed into the day by hand (not posted by the program) must not be frozen by the close."""
    return list(facts.unaccounted)


def history_untampered(facts: DayCloseFacts, counted: DepositCount | None) -> list[str]:
    """A rewritten guard or closed day is never frozen under a new close."""
    return list(facts.tampered)


#: The day close's checks, in the order their problems are listed.
DAY_CLOSE_CHECKS: tuple[DayCheck, ...] = (open_batches, deposit_matches, proof_balances, all_rows_accounted,
                                          history_untampered)


def day_close_problems(facts: DayCloseFacts, counted: DepositCount | None) -> list[str]:
    """Every reason the day cannot close (empty when it can)."""
    return [problem for check in DAY_CLOSE_CHECKS for problem in check(facts, counted)]


def checked_count(counted: DepositCount | None) -> DepositCount:
    """The counted deposit, each figure a sane amount (a day can pay out more than it took in)."""
    counted = counted or DepositCount()
    for name in ("cash", "checks", "card", "eft"):
        c.cents(getattr(counted, name), f"counted {name}", allow_negative=True)
    if not c.is_id(counted.check_count) or abs(counted.check_count) > MAX_CONTROL_COUNT:
        raise BillingError("check count must be a whole number of checks", "check_count")
    return counted


def totals_json(totals: Mapping[str, Any]) -> str:
    """A close's stored totals."""
    return json.dumps(totals, sort_keys=True)


def plan_close_day(facts: DayCloseFacts, counted: DepositCount, *, today: str, user: str, now: str) -> Plan:
    """Lock a posting date with its figures; refused while any day-close check finds a problem."""
    when = facts.date
    if when > today:
        raise BillingError(f"{when} has not happened yet; it cannot be closed", "date")
    problems = day_close_problems(facts, counted)
    if problems:
        raise BillingError(f"day {when} cannot close: " + "; ".join(problems), "date")
    totals = facts.summary.as_dict()
    row = DayCloseRow(when, now, user, totals_json(totals), counted.cash, counted.checks, counted.check_count,
                      counted.card, counted.eft)
    return Plan((row,), AuditEvent(now, user, "close_day", "day_close", None,
                                   {"posting_date": when, "totals": totals, "counted": asdict(counted)}))


# --------------------------------------------------------------------------- month close


@dataclass(frozen=True)
class MonthCloseFacts:
    """What a month close reads: whether it is closed already and its days with postings still open."""

    month: str
    already_closed: bool
    open_days: Sequence[str]


MonthCheck = Callable[[MonthCloseFacts, str], list[str]]


def month_over(facts: MonthCloseFacts, today: str) -> list[str]:
    last = month_bounds(facts.month)[1]
    return [f"month {facts.month} is not over until {last} has passed"] if last >= today else []


def month_not_closed(facts: MonthCloseFacts, today: str) -> list[str]:
    return [f"month {facts.month} is already closed"] if facts.already_closed else []


def month_days_closed(facts: MonthCloseFacts, today: str) -> list[str]:
    days = list(facts.open_days)
    if not days:
        return []
    shown = ", ".join(days[:5]) + (f" and {len(days) - 5} more" if len(days) > 5 else "")
    return [f"days with postings are still open: {shown}"]


#: The month close's checks, in the order their problems are listed.
MONTH_CLOSE_CHECKS: tuple[MonthCheck, ...] = (month_not_closed, month_over, month_days_closed)


def month_close_problems(facts: MonthCloseFacts, today: str) -> list[str]:
    """Every reason a month cannot close yet (empty when it can). ``facts.month`` must be a month."""
    return [problem for check in MONTH_CLOSE_CHECKS for problem in check(facts, today)]


def month_refusal(month: str, problems: Sequence[str]) -> BillingError:
    """One refusal naming every problem (a problem that names the month reads on its own)."""
    text = "; ".join(problems)
    return BillingError(text if text.startswith(f"month {month} ") else f"month {month} cannot close: {text}", "month")


def plan_close_month(facts: MonthCloseFacts, totals: PeriodSummary, *, today: str, user: str, now: str) -> Plan:
    """Lock a month once every day of it with postings is closed. Keeps its roll-forward."""
    problems = month_close_problems(facts, today)
    if problems:
        raise month_refusal(facts.month, problems)
    figures = totals.as_dict()
    row = MonthCloseRow(facts.month, now, user, totals_json(figures))
    return Plan((row,), AuditEvent(now, user, "close_month", "month_close", None,
                                   {"month": facts.month, "totals": figures}))


# --------------------------------------------------------------------------- as confirmed

#: The figures a clerk confirms before a close; a close with any of them changed is refused.
CONFIRMED_FIGURES = ("charges", "receipts_by_method", "refunds_by_method", "applications", "adjustments",
                     "closing_ar", "closing_unapplied")


def changed_figures(shown: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The confirmed figures that differ between what was shown and what the close keeps."""
    return [k for k in CONFIRMED_FIGURES if shown.get(k) != now.get(k)]
