"""`tui-billing report denials`: the ERA work queue (denials, underpayments, exceptions, unapplied
payments) with each item's latest note, follow-up date and outcome, oldest first."""

from __future__ import annotations

import datetime as dt

from .queries import _new, _rows
from .render import Money, Report, Section

KINDS = ("denial", "underpayment", "exception", "unapplied")


def denials(as_of: str, kind: str | None = None, open_only: bool = False) -> Report:
    """The work queue as of a day: what each item is, how old, and what was last done about it."""
    report = _new("denials", "Denials and remittance work queue",
                  {"as of": as_of, "kind": kind or "all", "open only": "yes" if open_only else "no"})
    where, params = [], []
    if kind:
        where.append("i.kind = ?")
        params.append(kind)
    rows = []
    for item, k, claim, codes, amount, detail, opened, note, follow, outcome, pay in _rows(
            "SELECT i.id, i.kind, i.claim_number, i.codes, i.amount, i.detail, i.opened_on, n.note, n.follow_up, "
            "n.outcome, py.name FROM era_work_item i "
            "LEFT JOIN era_work_note n ON n.id = (SELECT MAX(x.id) FROM era_work_note x WHERE x.item_id = i.id) "
            "LEFT JOIN remittance_claim rc ON rc.id = i.remittance_claim_id "
            "LEFT JOIN remittance r ON r.id = rc.remittance_id LEFT JOIN payer py ON py.id = r.payer_id "
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY i.opened_on, i.id", params):
        if open_only and outcome:
            continue
        age = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(opened)).days
        rows.append([item, k, opened, age, pay or "", claim, codes, Money(amount), detail, note or "",
                     follow or "", outcome or ""])
    sec = Section("Work queue", ["item", "kind", "opened", "days", "payer", "claim", "codes", "amount", "detail",
                                 "last note", "follow up", "outcome"], rows, key="items")
    sec.total = ["total", f"{len(rows)} items", "", "", "", "", "", Money(sum(int(r[7]) for r in rows)), "", "", "",
                 ""]
    report.sections.append(sec)
    return report
