"""The books' vocabulary, defined once: kinds of entries, methods, sources, void kinds, month bounds.

Every module that needs one of these imports it from here (the audit detail format is
:mod:`.audit`, apart so that this module loads nothing heavy)."""

from __future__ import annotations

import datetime as dt
from typing import Final

from .errors import BillingError

#: Payment methods, in the order every screen and report lists them.
METHODS: Final = ("cash", "check", "card", "eft")
#: Methods whose receipt (or refund) must carry a reference: the check or trace number.
REFERENCED_METHODS: Final = ("check", "eft")
#: Who money came from.
SOURCES: Final = ("patient", "payer")
#: The entries a void can reverse (each has its own reversing rows).
VOID_KINDS: Final = ("encounter", "receipt", "distribution", "refund")
#: Kinds of batch: charges are keyed in one, receipts in the other.
BATCH_KINDS: Final = ("charge", "receipt")
PAYER_KINDS: Final = ("commercial", "medicare", "medicaid", "self-pay", "other")
#: Adjustment reasons are CARC codes or the office's own.
REASON_KINDS: Final = ("carc", "office")
SEXES: Final = ("F", "M", "X", "U")
#: Sentinel for "bill the patient's primary coverage" (None means the patient pays).
PRIMARY: Final = "primary"
#: The posted entry tables (rows carry a posting date and are never updated or deleted).
ENTRY_KINDS: Final = ("encounter", "charge", "receipt", "distribution", "application", "adjustment", "transfer",
                      "refund")

#: Limits a clerk meets on a form.
MAX_DIAGNOSES: Final = 12
MAX_LINES: Final = 50  # a claim carries at most 50 service lines (837P loop 2400)
MAX_MODIFIERS: Final = 4
MAX_POINTERS: Final = 4
MAX_DISTRIBUTION_LINES: Final = 5000
MAX_CONTROL_COUNT: Final = 9999

#: Reasons every office starts with: common CARC codes and the usual office write-offs.
STANDARD_REASONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("CO-45", "Contractual: charge exceeds the allowed amount", "carc"),
    ("CO-97", "Contractual: included in another service's payment", "carc"),
    ("CO-253", "Contractual: sequestration reduction", "carc"),
    ("PR-1", "Patient responsibility: deductible", "carc"),
    ("PR-2", "Patient responsibility: coinsurance", "carc"),
    ("PR-3", "Patient responsibility: copay", "carc"),
    ("OA-23", "Other: prior payer's adjudication", "carc"),
    ("SMALL", "Small balance write-off", "office"),
    ("COURTESY", "Professional courtesy", "office"),
    ("BADDEBT", "Bad debt write-off", "office"),
    ("CORR", "Correction (increase or decrease)", "office"),
)


def month_bounds(month: str) -> tuple[str, str]:
    """First and last day of ``YYYY-MM`` (ValueError if it is not a month)."""
    first = dt.date.fromisoformat(month + "-01")
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.isoformat(), (nxt - dt.timedelta(days=1)).isoformat()


def month_bounds_or_refuse(month: str) -> tuple[str, str]:
    """:func:`month_bounds`, refusing a bad month with a sentence a clerk can act on."""
    try:
        return month_bounds(month)
    except ValueError:
        raise BillingError(f"month must look like 2026-11 (got {month!r})", "month") from None
