"""`report claims`: claim status aging, counts and amounts by status and age bucket.

One aggregate over ``claim_status`` (each claim's latest event) and ``claim``; the same SQL is the
benchmark's raw floor. Age is counted from the day the claim was made (``--basis created``, what
"how long has it been out" means) or from its date of service (``--basis service``).
"""

from __future__ import annotations

import datetime as dt

from ..money import format_cents
from ..store.db import sql
from .queries import BUCKETS, _new
from .render import Money, Report, Section

#: Statuses in the order a claim moves through them.
ORDER = ("held", "ready", "batched", "sent", "file_rejected", "accepted", "rejected", "forwarded", "partly_paid",
         "denied", "paid", "replaced", "voided")

CLAIMS_AGING_SQL = """
SELECT s.status,
       SUM(CASE WHEN d >= :b30 THEN 1 ELSE 0 END), SUM(CASE WHEN d >= :b30 THEN k.total ELSE 0 END),
       SUM(CASE WHEN d < :b30 AND d >= :b60 THEN 1 ELSE 0 END), SUM(CASE WHEN d < :b30 AND d >= :b60 THEN k.total ELSE 0 END),
       SUM(CASE WHEN d < :b60 AND d >= :b90 THEN 1 ELSE 0 END), SUM(CASE WHEN d < :b60 AND d >= :b90 THEN k.total ELSE 0 END),
       SUM(CASE WHEN d < :b90 AND d >= :b120 THEN 1 ELSE 0 END), SUM(CASE WHEN d < :b90 AND d >= :b120 THEN k.total ELSE 0 END),
       SUM(CASE WHEN d < :b120 THEN 1 ELSE 0 END), SUM(CASE WHEN d < :b120 THEN k.total ELSE 0 END),
       COUNT(*), SUM(k.total)
FROM claim_status s JOIN (SELECT id, total, {date} AS d FROM claim) k ON k.id = s.claim_id
GROUP BY s.status
"""


def claims_aging_sql(as_of: str, basis: str = "created") -> tuple[str, dict[str, str]]:
    day = dt.date.fromisoformat(as_of)
    params = {f"b{n}": (day - dt.timedelta(days=n)).isoformat() for n in (30, 60, 90, 120)}
    return CLAIMS_AGING_SQL.format(date="created_on" if basis == "created" else "dos"), params


def claims_aging(as_of: str, basis: str = "created") -> Report:
    """Claims by status now, in 0-30 ... 121+ day buckets: a count and an amount for each."""
    query, params = claims_aging_sql(as_of, basis)
    figures = {row[0]: row[1:] for row in sql(query, params).fetchall()}
    report = _new("claims", f"Claim status aging as of {as_of}",
                  {"as of": as_of, "age from": "the day the claim was made" if basis == "created" else
                   "the date of service"})
    amounts = Section("Amounts by status", ["status", *BUCKETS, "total"], key="amounts")
    counts = Section("Claims by status", ["status", *BUCKETS, "total"], key="counts")
    for status in [s for s in ORDER if s in figures] + sorted(set(figures) - set(ORDER)):
        row = figures[status]
        counts.rows.append([status, *(int(row[i]) for i in range(0, 12, 2))])
        amounts.rows.append([status, *(Money(row[i]) for i in range(1, 12, 2))])
    counts.total = ["total", *(sum(r[i] for r in counts.rows) for i in range(1, 7))]
    amounts.total = ["total", *(Money(sum(int(r[i]) for r in amounts.rows)) for i in range(1, 7))]
    open_rows = [r for r in amounts.rows if r[0] not in ("paid", "replaced", "voided")]
    amounts.notes.append(f"outstanding (not paid, replaced or voided): "
                         f"{sum(r[6] for r in counts.rows if r[0] not in ('paid', 'replaced', 'voided'))} claim(s), "
                         f"{format_cents(sum(int(r[6]) for r in open_rows))}")
    report.sections += [counts, amounts]
    return report
