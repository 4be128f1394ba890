"""The errors the store raises: a refusal a clerk can fix, or a database file that cannot be used."""

from __future__ import annotations

from ..ledger.errors import BillingError

__all__ = ["BillingError", "DatabaseFileError"]


class DatabaseFileError(BillingError):
    """The database file cannot be used (permissions, newer schema, corrupt, not SQLite)."""
