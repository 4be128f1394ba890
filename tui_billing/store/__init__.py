"""The billing store: Peewee on SQLite, the posting operations, and the checks.

Never imports Textual. Screens, the CLI, imports and tests all call the same operations.

The names below load on first use (PEP 562), so a report that needs only the connection and
the summaries does not pay for the posting operations, the checks and the audit chain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: public name -> the submodule that defines it
_HOME = {
    **dict.fromkeys(["CheckReport", "run_check"], "check"),
    **dict.fromkeys(["close_database", "database", "open_database", "resolve_db_path", "write"], "db"),
    **dict.fromkeys(["BillingError", "DatabaseFileError"], "errors"),
    **dict.fromkeys([
        "PRIMARY", "BatchStatus", "ChargeLine", "CoverageIn", "DistributionLine", "PostedEncounter",
        "PostedReceipt", "add_adjustment_reason", "add_patient", "add_payer", "add_provider", "batch_status",
        "close_batch", "distribute", "open_batch", "post_encounter", "record_receipt",
        "refund", "seed_standard_reasons", "set_practice", "set_procedure", "transfer_to_patient",
        "transfer_to_payer", "void",
    ], "operations"),
    **dict.fromkeys(["DepositCount", "close_day", "close_month"], "closes"),
    **dict.fromkeys(["PeriodSummary", "day_summary", "period_summary"], "summary"),
    **dict.fromkeys(["current_posting_date", "today"], "validate"),
}

if TYPE_CHECKING:  # what the lazy names are, for the type checker (nothing is imported at run time)
    from .check import CheckReport as CheckReport
    from .check import run_check as run_check
    from .closes import DepositCount as DepositCount
    from .closes import close_day as close_day
    from .closes import close_month as close_month
    from .db import close_database as close_database
    from .db import database as database
    from .db import open_database as open_database
    from .db import resolve_db_path as resolve_db_path
    from .db import write as write
    from .errors import BillingError as BillingError
    from .errors import DatabaseFileError as DatabaseFileError
    from .operations import PRIMARY as PRIMARY
    from .operations import BatchStatus as BatchStatus
    from .operations import ChargeLine as ChargeLine
    from .operations import CoverageIn as CoverageIn
    from .operations import DistributionLine as DistributionLine
    from .operations import PostedEncounter as PostedEncounter
    from .operations import PostedReceipt as PostedReceipt
    from .operations import add_adjustment_reason as add_adjustment_reason
    from .operations import add_patient as add_patient
    from .operations import add_payer as add_payer
    from .operations import add_provider as add_provider
    from .operations import batch_status as batch_status
    from .operations import close_batch as close_batch
    from .operations import distribute as distribute
    from .operations import open_batch as open_batch
    from .operations import post_encounter as post_encounter
    from .operations import record_receipt as record_receipt
    from .operations import refund as refund
    from .operations import seed_standard_reasons as seed_standard_reasons
    from .operations import set_practice as set_practice
    from .operations import set_procedure as set_procedure
    from .operations import transfer_to_patient as transfer_to_patient
    from .operations import transfer_to_payer as transfer_to_payer
    from .operations import void as void
    from .summary import PeriodSummary as PeriodSummary
    from .summary import day_summary as day_summary
    from .summary import period_summary as period_summary
    from .validate import current_posting_date as current_posting_date
    from .validate import today as today

__all__ = sorted(_HOME)  # noqa: PLE0605  # sorted() gives a list


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))

