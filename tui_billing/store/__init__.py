"""The billing store: Peewee on SQLite, the posting operations, and the checks.

Never imports Textual. Screens, the CLI, imports and tests all call the same operations.
"""

from .check import CheckReport, run_check
from .db import close_database, database, open_database, resolve_db_path, write
from .errors import BillingError, DatabaseFileError
from .operations import (
    PRIMARY, BatchStatus, ChargeLine, CoverageIn, DepositCount, DistributionLine, PostedEncounter, PostedReceipt,
    add_adjustment_reason, add_patient, add_payer, add_provider, batch_status, close_batch, close_day, close_month,
    distribute, open_batch, post_encounter, record_receipt, refund, seed_standard_reasons, set_practice,
    set_procedure, transfer_to_patient, transfer_to_payer, void,
)
from .summary import PeriodSummary, day_summary, period_summary
from .validate import current_posting_date, today

__all__ = [
    "PRIMARY", "BatchStatus", "BillingError", "ChargeLine", "CheckReport", "CoverageIn", "DatabaseFileError",
    "DepositCount", "DistributionLine", "PeriodSummary", "PostedEncounter", "PostedReceipt", "add_adjustment_reason",
    "add_patient", "add_payer", "add_provider", "batch_status", "close_batch", "close_database", "close_day",
    "close_month", "current_posting_date", "database", "day_summary", "distribute", "open_batch", "open_database",
    "period_summary", "post_encounter", "record_receipt", "refund", "resolve_db_path", "run_check",
    "seed_standard_reasons", "set_practice", "set_procedure", "today", "transfer_to_patient", "transfer_to_payer", "void", "write",
]
