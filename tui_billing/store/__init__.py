"""The billing store: Peewee on SQLite, the posting operations, and the checks.

Never imports Textual. Screens, the CLI, imports and tests all call the same operations.

The names below load on first use (PEP 562), so a report that needs only the connection and
the summaries does not pay for the posting operations, the checks and the audit chain.
"""

from __future__ import annotations

import importlib

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

