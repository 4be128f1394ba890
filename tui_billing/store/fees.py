"""The fee in force on a date: the one home of that rule (charge entry's schedule, posting, accounts).

A fee change is dated (``fee_schedule``, schema 10): the office's fee for a code on a date of
service is the latest change effective on or before it, else the schedule's own fee (codes with
no dated change, or books older than schema 10's first change). Payers' allowed amounts are rows
with a ``payer_id`` and never the office's fee.
"""

from __future__ import annotations

from collections.abc import Iterable

from .db import database

#: The office's fee of procedure ``p`` on the date bound to the one ``?``.
FEE_IN_FORCE = ("COALESCE((SELECT f.amount FROM fee_schedule f WHERE f.code = p.code AND f.payer_id IS NULL "
                "AND f.effective <= ? ORDER BY f.effective DESC, f.id DESC LIMIT 1), p.fee)")

__all__ = ["FEE_IN_FORCE", "fees_on"]


def fees_on(codes: Iterable[str], day: str) -> dict[str, int]:
    """The office's fee on ``day`` of each code on the schedule (codes not on it are left out)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = database.execute_sql(
        f"SELECT p.code, {FEE_IN_FORCE} FROM procedure p WHERE p.code IN ({','.join('?' * len(wanted))})",
        (day, *wanted)).fetchall()
    return {code: fee for code, fee in rows}
