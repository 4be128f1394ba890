"""The folded search keys of a patient row (see search_keys.py), written beside the row.

Its own module so that posting a patient (store/operations.py) and the account operations
(store/accounts.py) share it without importing each other.
"""

from __future__ import annotations

from .db import database, executemany
from .search_keys import account_key, name_search_key, phone_key

__all__ = ["refresh_search_keys"]


def refresh_search_keys(patient_id: int | None = None) -> int:
    """Fill the folded search keys of one patient, or of every patient whose keys are empty
    (rows written by a bulk load). Runs inside the caller's write transaction."""
    where, params = ("id = ?", (patient_id,)) if patient_id is not None else ("search_key = ''", ())
    rows = database.execute_sql(f"SELECT id, account, last_name, first_name, phone FROM patient WHERE {where}",
                                params).fetchall()
    executemany(
        "UPDATE patient SET search_key = ?, phone_key = ?, account_key = ? WHERE id = ?",
        [(name_search_key(last, first), phone_key(ph), account_key(acct), pid) for pid, acct, last, first, ph in rows],
    )
    return len(rows)
