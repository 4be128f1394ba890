"""Report queries: the database -> :class:`Report` objects of typed rows.

Day and month figures come from :mod:`tui_billing.store.summary` (the same code the balancing
screen and the closes use), so a printed day sheet can never disagree with the screen. The
detail lists are set-based SQL over the ``posting_date`` indexes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..ledger.vocab import METHODS, month_bounds
from ..money import format_cents
from ..store.db import on_server, sql
from ..store.digests import sealed_line
from ..store.summary import PeriodSummary, day_summary, period_summary
from .render import Money, Report, Section

BUCKETS = ("0-30", "31-60", "61-90", "91-120", "121+")
#: Upper bounds (days) of the aging buckets.
_BUCKET_EDGES = (30, 60, 90, 120)


class ReportError(Exception):
    """A report cannot run for what was asked (unknown patient, receipt...): exit 1."""


Params = Sequence[Any] | Mapping[str, Any]


def _rows(query: str, params: Params = ()) -> list[tuple[Any, ...]]:
    return sql(query, params).fetchall()


def _one(query: str, params: Params = ()) -> tuple[Any, ...] | None:
    return sql(query, params).fetchone()


def _value(query: str, params: Params = ()) -> Any:
    """The one value of an aggregate query (without GROUP BY it always returns one row)."""
    row = sql(query, params).fetchone()
    assert row is not None, query
    return row[0]


def practice_name() -> str:
    row = _one("SELECT name FROM practice WHERE id = 1")
    return row[0] if row else ""


def _new(name: str, title: str, params: dict) -> Report:
    return Report(name=name, title=title, params=params, practice=practice_name())


def _name(last: str | None, first: str | None) -> str:
    if last is None:
        return ""
    return f"{last}, {first}"


# --------------------------------------------------------------------------- summary tables


def summary_sections(s: PeriodSummary, *, label: str) -> list[Section]:
    """The balancing screen's figures as tables: totals, deposit by method, the roll-forwards."""
    totals = Section("Totals", ["figure", "count", "amount"], key="totals")
    totals.rows = [
        ["charge lines posted (amount net of voids)", s.charge_lines, Money(s.charges)],
        ["  of which voided charges", None, Money(s.charge_voids)],
        ["receipts", s.receipt_count, Money(s.receipts)],
        ["refunds", None, Money(s.refunds)],
        ["applied to charges", None, Money(s.applications)],
        ["adjustments", None, Money(s.adjustments)],
        ["transfers to patient", s.transfer_count, Money(s.transfer_total)],
        ["voids (reversing entries)", s.void_count, None],
    ]
    for reason, amount in sorted(s.adjustments_by_reason.items()):
        totals.rows.append([f"  adjustment {reason}", None, Money(amount)])
    deposit = Section("Deposit by method", ["method", "receipts", "refunds", "deposit"], key="deposit")
    for m in METHODS:
        deposit.rows.append([m, Money(s.receipts_by_method.get(m, 0)), Money(s.refunds_by_method.get(m, 0)),
                             Money(s.deposit[m])])
    deposit.total = ["total", Money(s.receipts), Money(s.refunds), Money(sum(s.deposit.values()))]
    roll = Section(f"A/R roll-forward ({label})", ["line", "A/R", "unapplied credit"], key="roll_forward")
    roll.rows = [
        ["opening", Money(s.opening_ar), Money(s.opening_unapplied)],
        ["+ charges", Money(s.charges), None],
        ["+ receipts", None, Money(s.receipts)],
        ["- applied", Money(-s.applications), Money(-s.applications)],
        ["- adjustments", Money(-s.adjustments), None],
        ["- refunds", None, Money(-s.refunds)],
        ["closing", Money(s.closing_ar), Money(s.closing_unapplied)],
    ]
    if s.proof_errors:
        roll.notes = ["DOES NOT BALANCE: " + e for e in s.proof_errors]
    else:
        roll.notes = ["proof: balances"]
    return [totals, deposit, roll]


# --------------------------------------------------------------------------- day sheet


def daysheet_entries(date: str) -> list[list]:
    """Every row posted on ``date``: [kind, id, operator, provider, account, name/payer, detail, amount].

    (Names are written inline where the patient join is an inner one: this loop runs for every
    entry of a busy day.)"""
    out: list[list] = []
    for cid, rev, op, prov, acct, last, first, code, mods, units, payer, amount in _rows(
        "SELECT c.id, c.reverses_id, c.operator, pr.code, p.account, p.last_name, p.first_name, c.code, c.modifiers, "
        "c.units, py.code, c.amount FROM charge c JOIN patient p ON p.id = c.patient_id "
        "JOIN provider pr ON pr.id = c.provider_id LEFT JOIN payer py ON py.id = c.payer_id "
        "WHERE c.posting_date = ? ORDER BY c.id", (date,)):
        detail = code + (f"-{mods.replace(',', '-')}" if mods else "") + (f" x{units}" if units != 1 else "")
        detail += f" bill {payer or 'patient'}"
        out.append(["void charge" if rev else "charge", cid, op, prov, acct, f"{last}, {first}",
                    detail + (f" (reverses {rev})" if rev else ""), Money(amount)])
    for rid, rev, op, source, acct, last, first, payer, method, ref, amount in _rows(
        "SELECT r.id, r.reverses_id, r.operator, r.source, p.account, p.last_name, p.first_name, py.name, r.method, "
        "r.reference, r.amount FROM receipt r LEFT JOIN patient p ON p.id = r.patient_id "
        "LEFT JOIN payer py ON py.id = r.payer_id WHERE r.posting_date = ? ORDER BY r.id", (date,)):
        who = payer if source == "payer" else _name(last, first)
        detail = method + (f" {ref}" if ref else "") + (f" (reverses {rev})" if rev else "")
        out.append(["void receipt" if rev else "receipt", rid, op, "", acct or "", who, detail, Money(amount)])
    for aid, rev, op, prov, acct, last, first, rid, code, amount in _rows(
        "SELECT a.id, a.reverses_id, a.operator, pr.code, p.account, p.last_name, p.first_name, a.receipt_id, c.code, "
        "a.amount FROM application a JOIN charge c ON c.id = a.charge_id JOIN patient p ON p.id = c.patient_id "
        "JOIN provider pr ON pr.id = c.provider_id WHERE a.posting_date = ? ORDER BY a.id", (date,)):
        out.append(["void application" if rev else "application", aid, op, prov, acct, f"{last}, {first}",
                    f"receipt {rid} to {code}", Money(amount)])
    for jid, rev, op, prov, acct, last, first, reason, code, amount in _rows(
        "SELECT j.id, j.reverses_id, j.operator, pr.code, p.account, p.last_name, p.first_name, j.reason_code, c.code, "
        "j.amount FROM adjustment j JOIN charge c ON c.id = j.charge_id JOIN patient p ON p.id = c.patient_id "
        "JOIN provider pr ON pr.id = c.provider_id WHERE j.posting_date = ? ORDER BY j.id", (date,)):
        out.append(["void adjustment" if rev else "adjustment", jid, op, prov, acct, f"{last}, {first}",
                    f"{reason} on {code}", Money(amount)])
    for tid, rev, op, prov, acct, last, first, frm, to, code, amount in _rows(
        "SELECT t.id, t.reverses_id, t.operator, pr.code, p.account, p.last_name, p.first_name, f.code, o.code, c.code, "
        "t.amount FROM transfer t JOIN charge c ON c.id = t.charge_id JOIN patient p ON p.id = c.patient_id "
        "JOIN provider pr ON pr.id = c.provider_id LEFT JOIN payer f ON f.id = t.from_payer_id "
        "LEFT JOIN payer o ON o.id = t.to_payer_id WHERE t.posting_date = ? ORDER BY t.id", (date,)):
        # a transfer moves who owes, not how much: shown, but outside the money totals
        out.append(["void transfer" if rev else "transfer", tid, op, prov, acct, f"{last}, {first}",
                    f"{code} {frm or 'patient'} -> {to or 'patient'} ({format_cents(amount)})", None])
    for fid, rev, op, source, acct, last, first, payer, method, ref, amount in _rows(
        "SELECT f.id, f.reverses_id, f.operator, r.source, p.account, p.last_name, p.first_name, py.name, f.method, "
        "f.reference, f.amount FROM refund f JOIN receipt r ON r.id = f.receipt_id "
        "LEFT JOIN patient p ON p.id = r.patient_id LEFT JOIN payer py ON py.id = r.payer_id "
        "WHERE f.posting_date = ? ORDER BY f.id", (date,)):
        who = payer if source == "payer" else _name(last, first)
        out.append(["void refund" if rev else "refund", fid, op, "", acct or "", who,
                    method + (f" {ref}" if ref else ""), Money(amount)])
    return out


ENTRY_COLUMNS = ["kind", "id", "operator", "provider", "account", "name", "detail", "amount"]
_KIND_ORDER = ("charge", "receipt", "application", "adjustment", "transfer", "refund")


def _kind_totals(entries: list[list]) -> list[list]:
    """Count and amount per entry kind (voids net into their kind), for a subtotal table."""
    totals: dict[str, list[int]] = {}
    for e in entries:
        base = e[0].removeprefix("void ")
        t = totals.setdefault(base, [0, 0])
        t[0] += -1 if e[0].startswith("void ") else 1
        t[1] += int(e[7] or 0)
    return [[k, totals[k][0], None if k == "transfer" else Money(totals[k][1])] for k in _KIND_ORDER if k in totals]


def daysheet(date: str, by: str | None = None) -> Report:
    """Every entry posted on ``date`` with its operator, then the balancing screen's figures."""
    report = _new("daysheet", f"Day sheet {date}", {"posting date": date, "by": by or ""})
    closed = _one("SELECT operator, closed_at FROM day_close WHERE posting_date = ?", (date,))
    entries = daysheet_entries(date)
    if by:
        col = ENTRY_COLUMNS.index(by)
        groups: dict[str, list[list]] = {}
        for e in entries:
            groups.setdefault(e[col] or "(none)", []).append(e)
        for key in sorted(groups):
            rows = groups[key]
            report.sections.append(Section(f"{by} {key}", ENTRY_COLUMNS, rows, key=f"entries:{key}"))
            report.sections.append(Section(f"{by} {key}: totals by kind", ["kind", "count", "amount"],
                                           _kind_totals(rows), key=f"kinds:{key}"))
    else:
        report.sections.append(Section("Entries", ENTRY_COLUMNS, entries, key="entries"))
    report.sections.append(Section("Totals by kind", ["kind", "count", "amount"], _kind_totals(entries),
                                   key="kinds"))
    summary = day_summary(date)
    report.sections.extend(summary_sections(summary, label=date))
    report.sections[-1].notes.append(
        f"day closed by {closed[0]} at {closed[1][:16].replace('T', ' ')}" if closed else "day is open")
    report.sections[-1].notes.extend(filter(None, [sealed_line(date, sql)]))  # keep it: check --witness reads it
    return report


# --------------------------------------------------------------------------- deposit


def deposit(date: str) -> Report:
    """The deposit slip: each receipt by method with check numbers and payers, totals, counts."""
    report = _new("deposit", f"Deposit slip {date}", {"posting date": date})
    summary = day_summary(date)
    rows_by_method: dict[str, list[list]] = {m: [] for m in METHODS}
    refund_checks: list[list] = []
    for rid, rev, source, acct, last, first, payer, method, ref, received, amount in _rows(
        "SELECT r.id, r.reverses_id, r.source, p.account, p.last_name, p.first_name, py.name, r.method, r.reference, "
        "r.received_date, r.amount FROM receipt r LEFT JOIN patient p ON p.id = r.patient_id "
        "LEFT JOIN payer py ON py.id = r.payer_id WHERE r.posting_date = ? ORDER BY r.method, r.id", (date,)):
        who = payer if source == "payer" else f"{_name(last, first)} ({acct})"
        rows_by_method[method].append([rid, "void receipt" if rev else "receipt", ref, who, received, Money(amount)])
    for fid, rev, method, ref, rid, amount in _rows(
        "SELECT f.id, f.reverses_id, f.method, f.reference, f.receipt_id, f.amount FROM refund f "
        "WHERE f.posting_date = ? ORDER BY f.method, f.id", (date,)):
        row = [fid, "void refund" if rev else "refund", ref, f"refund of receipt {rid}", date, Money(-amount)]
        # The practice's refund checks are money paid out, never in the bag: listed apart, so the
        # check section adds up to the check tape (issue 16).
        (refund_checks if method == "check" else rows_by_method[method]).append(row)
    cols = ["id", "entry", "reference", "payer", "received", "amount"]
    for m in METHODS:
        rows = rows_by_method[m]
        if not rows:
            continue
        sec = Section(f"{m}", cols, rows, key=f"method:{m}")
        in_bag = summary.receipts_by_method.get(m, 0) if m == "check" else summary.deposit[m]
        sec.total = ["", f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}", "", "total", "", Money(in_bag)]
        report.sections.append(sec)
    if refund_checks:
        sec = Section("refund checks paid out (not deposited)", cols, refund_checks, key="refund-checks")
        sec.total = ["", f"{len(refund_checks)} entr{'y' if len(refund_checks) == 1 else 'ies'}", "", "total", "",
                     Money(-summary.refunds_by_method.get("check", 0))]
        report.sections.append(sec)
    totals = Section("Deposit totals", ["method", "deposit", "counted", "difference"], key="totals")
    closed = _one("SELECT counted_cash, counted_checks, counted_check_count, counted_card, counted_eft, operator "
                  "FROM day_close WHERE posting_date = ?", (date,))
    counted = dict(zip(METHODS, (closed[0], closed[1], closed[3], closed[4]), strict=False)) if closed else {}
    for m in METHODS:
        want = summary.deposit[m]
        got = counted.get(m)
        totals.rows.append([m, Money(want), None if got is None else Money(got),
                            None if got is None else Money(got - want)])
    totals.total = ["total", Money(sum(summary.deposit.values())),
                    Money(sum(counted.values())) if closed else None,
                    Money(sum(counted.values()) - sum(summary.deposit.values())) if closed else None]
    totals.notes.append(f"{summary.check_count} checks" + (f"; {closed[2]} counted" if closed else ""))
    if summary.refunds_by_method.get("check"):
        totals.notes.append(f"the check deposit is the check tape {format_cents(summary.receipts_by_method['check'])} "
                            f"less refund checks paid out {format_cents(summary.refunds_by_method['check'])}")
    totals.notes.append(f"day closed by {closed[5]}; counted figures as entered at the close" if closed
                        else "day is open: no counted figures yet")
    report.sections.append(totals)
    return report


# --------------------------------------------------------------------------- aging

#: Aging from the running balances (current-only) corrected to the as-of date: take every charge
#: open now, take away the current contribution of each charge touched after the date (money
#: applied, adjusted, reversed, transferred, or the charge itself posted after it), and add back
#: what those charges owed, and who owed it, at the end of the date: balance then = balance now +
#: applied/adjusted after - reversals after; the payer then = the from-payer of the first
#: transfer after. It costs the open charges plus the activity since, so last month's aging is
#: nearly as quick as today's, and exact.
AGING_TOUCHED = """
touched AS (
    -- every charge with activity after the date: the net change since, whether the charge itself
    -- is newer than the date, and (SQLite takes a bare column from the row holding the MIN) the
    -- from-payer of its first transfer after the date
    SELECT charge_id, SUM(amount) AS d, MAX(new) AS new, from_payer_id, MIN(k) AS moved FROM (
        SELECT charge_id, amount, 0 AS new, NULL AS from_payer_id, NULL AS k FROM application WHERE posting_date > :d
        UNION ALL SELECT charge_id, amount, 0, NULL, NULL FROM adjustment WHERE posting_date > :d
        UNION ALL SELECT COALESCE(reverses_id, id), CASE WHEN reverses_id IS NULL THEN 0 ELSE -amount END,
                         reverses_id IS NULL, NULL, NULL FROM charge WHERE posting_date > :d
        UNION ALL SELECT charge_id, 0, 0, from_payer_id, posting_date || printf('%012d', id) FROM transfer
                  WHERE posting_date > :d
    ) GROUP BY charge_id
), was AS MATERIALIZED (
    SELECT cb.patient_id, cb.dos, {posted_col} AS posting_date, t.new, cb.balance AS now_balance,
           cb.payer_id AS now_payer, cb.balance + t.d AS then_balance,
           CASE WHEN t.moved IS NULL THEN cb.payer_id ELSE t.from_payer_id END AS then_payer
    FROM touched t JOIN charge_balance cb ON cb.charge_id = t.charge_id {posted_join}
)"""

#: The same on PostgreSQL, which has no bare columns beside an aggregate: the from-payer of the first
#: transfer after the date is looked up by the transfer id that MIN(k) ends with; `new` is a 0/1 integer.
AGING_TOUCHED_SERVER = AGING_TOUCHED.replace(
    "MAX(new) AS new, from_payer_id, MIN(k) AS moved",
    "MAX(new) AS new, (SELECT x.from_payer_id FROM transfer x WHERE x.id = CAST(substr(MIN(k), 11) AS BIGINT)) "
    "AS from_payer_id, MIN(k) AS moved",
).replace("reverses_id IS NULL, NULL, NULL FROM charge", "CASE WHEN reverses_id IS NULL THEN 1 ELSE 0 END, NULL, NULL FROM charge"
          ).replace("NULL AS from_payer_id, NULL AS k", "CAST(NULL AS BIGINT) AS from_payer_id, CAST(NULL AS TEXT) AS k")


AGING_SQL = """
{ctes}
SELECT {group}, SUM(b0), SUM(b1), SUM(b2), SUM(b3), SUM(b4), SUM(total) FROM ({parts})
GROUP BY {group} HAVING SUM(total) <> 0
"""
#: One part of the aging: rows (patient_id, payer_id, d, balance) summed into buckets by group,
#: so the final grouping only adds up a few pre-summed rows per group.
AGING_PART = """
SELECT {group},
       SUM(CASE WHEN d >= :b30 THEN balance ELSE 0 END) AS b0,
       SUM(CASE WHEN d < :b30 AND d >= :b60 THEN balance ELSE 0 END) AS b1,
       SUM(CASE WHEN d < :b60 AND d >= :b90 THEN balance ELSE 0 END) AS b2,
       SUM(CASE WHEN d < :b90 AND d >= :b120 THEN balance ELSE 0 END) AS b3,
       SUM(CASE WHEN d < :b120 THEN balance ELSE 0 END) AS b4,
       SUM(balance) AS total
FROM ({rows}) GROUP BY {group}
"""


def _latest_posting() -> str:
    dates = [r for t in ("charge", "receipt", "application", "adjustment", "transfer", "refund")
             for r in [_value(f"SELECT MAX(posting_date) FROM {t}")] if r]
    return max(dates) if dates else "0000-01-01"


def aging_sql(as_of: str, by: str, basis: str) -> tuple[str, dict]:
    """The aging aggregate as one SQL statement (also the benchmark's raw-SQL floor)."""
    current = as_of >= _latest_posting()
    if basis == "posting":
        now = ("SELECT cb.patient_id, cb.payer_id, c.posting_date AS d, cb.balance FROM charge_balance cb "
               "JOIN charge c ON c.id = cb.charge_id WHERE cb.balance > 0")
    else:
        now = "SELECT patient_id, payer_id, dos AS d, balance FROM charge_balance WHERE balance > 0"
    when = "posting_date" if basis == "posting" else "dos"
    group = "patient_id, payer_id" if by == "patient" else "payer_id"
    parts = [AGING_PART.format(group=group, rows=now)]
    ctes = ""
    if not current:
        # the posting date of a touched charge is read only when the aging is by posting date
        posting = basis == "posting"
        ctes = "WITH " + (AGING_TOUCHED_SERVER if on_server() else AGING_TOUCHED).strip().format(
            posted_col="c.posting_date" if posting else "NULL",
            posted_join="JOIN charge c ON c.id = t.charge_id" if posting else "")
        parts.append(AGING_PART.format(group=group, rows=(
            f"SELECT patient_id, now_payer AS payer_id, {when} AS d, -now_balance AS balance FROM was "
            f"WHERE now_balance > 0 UNION ALL "
            f"SELECT patient_id, then_payer, {when}, then_balance FROM was WHERE new = 0 AND then_balance <> 0")))
    day = dt.date.fromisoformat(as_of)
    params = {"d": as_of, **{f"b{n}": (day - dt.timedelta(days=n)).isoformat() for n in (30, 60, 90, 120)}}
    return AGING_SQL.format(ctes=ctes, parts=" UNION ALL ".join(parts), group=group), params


def aging_figures(as_of: str, by: str = "payer", basis: str = "service") -> list[tuple]:
    """Rows of (group keys..., bucket amounts x5, total) in cents."""
    sql, params = aging_sql(as_of, by, basis)
    return _rows(sql, params)


def aging(as_of: str, by: str = "payer", basis: str = "service") -> Report:
    """Balances by age bucket as of a posting date: patient responsibility and each payer apart."""
    report = _new("aging", f"Aged receivables as of {as_of}",
                  {"as of": as_of, "by": by, "basis": "date of service" if basis == "service" else "posting date"})
    figures = aging_figures(as_of, by, basis)
    payers = {pid: (code, name) for pid, code, name in _rows("SELECT id, code, name FROM payer")}
    if by == "payer":
        cols = ["responsible", "name", *BUCKETS, "total"]
        rows = []
        for pid, *amounts in figures:
            code, name = payers.get(pid, ("PATIENT", "Patient responsibility")) if pid is not None \
                else ("PATIENT", "Patient responsibility")
            rows.append([code, name, *map(Money, amounts)])
        rows.sort(key=lambda r: (r[0] != "PATIENT", r[0]))
        sec = Section("Aging by responsible party", cols, rows, key="aging")
    else:
        ids = sorted({f[0] for f in figures})
        names: dict[int, tuple] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i:i + 900]
            for pid, acct, last, first in _rows(
                    f"SELECT id, account, last_name, first_name FROM patient WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk):
                names[pid] = (acct, _name(last, first))
        cols = ["account", "patient", "responsible", *BUCKETS, "total"]
        rows = []
        for pid, payer, *amounts in figures:
            acct, name = names.get(pid, (str(pid), ""))
            rows.append([acct, name, "patient" if payer is None else payers.get(payer, (str(payer),))[0],
                         *map(Money, amounts)])
        rows.sort(key=lambda r: (r[0], r[2] != "patient", r[2]))
        sec = Section("Aging by patient", cols, rows, key="aging")
    n = len(cols)
    sec.total = ["total"] + [""] * (n - 7) + [Money(sum(int(r[i]) for r in rows)) for i in range(n - 6, n)]
    report.sections.append(sec)
    # responsibility totals: patient apart from payers, whatever the grouping
    if by == "patient":
        split = Section("Totals by responsibility", ["responsible", *BUCKETS, "total"], key="responsibility")
        for label, pick in (("patient", lambda r: r[2] == "patient"), ("payers", lambda r: r[2] != "patient")):
            part = [r for r in rows if pick(r)]
            split.rows.append([label] + [Money(sum(int(r[i]) for r in part)) for i in range(n - 6, n)])
        report.sections.append(split)
    return report


# --------------------------------------------------------------------------- month


def month_movement(start: str, end: str) -> list[tuple]:
    """(provider_id, payer_id, code, charges, applied, adjustments) for a posting range, in one pass.

    Applied money and adjustments are attributed to the charge they went to (its provider, its
    code, the payer it was billed to); receipts by payer are a separate table (money received)."""
    sql = """
    SELECT provider_id, payer_id, code, SUM(ch), SUM(ap), SUM(aj) FROM (
        SELECT provider_id, payer_id, code, SUM(amount) AS ch, 0 AS ap, 0 AS aj FROM charge
        WHERE posting_date BETWEEN :s AND :e GROUP BY 1, 2, 3
        UNION ALL
        SELECT c.provider_id, c.payer_id, c.code, 0, SUM(a.amount), 0 FROM application a
        JOIN charge c ON c.id = a.charge_id WHERE a.posting_date BETWEEN :s AND :e GROUP BY 1, 2, 3
        UNION ALL
        SELECT c.provider_id, c.payer_id, c.code, 0, 0, SUM(j.amount) FROM adjustment j
        JOIN charge c ON c.id = j.charge_id WHERE j.posting_date BETWEEN :s AND :e GROUP BY 1, 2, 3
    ) GROUP BY 1, 2, 3
    """
    return _rows(sql, {"s": start, "e": end})


def month_dimension(start: str, end: str, dim: str, movement: list[tuple] | None = None) -> list[tuple]:
    """(key, charges, applied, adjustments) by provider / payer / procedure code, sorted by key."""
    index = {"provider": 0, "payer": 1, "code": 2}[dim]
    totals: dict = {}
    for row in movement if movement is not None else month_movement(start, end):
        t = totals.setdefault(row[index], [0, 0, 0])
        t[0] += row[3]
        t[1] += row[4]
        t[2] += row[5]
    return [(k, *v) for k, v in sorted(totals.items(), key=lambda kv: (kv[0] is not None, kv[0] or 0)
                                        if dim != "code" else kv[0])]


def month(month: str) -> Report:
    """The month's roll-forward, and charges, payments and adjustments by provider, payer and code."""
    start, end = month_bounds(month)
    report = _new("month", f"Month summary {month}", {"month": month, "posting dates": f"{start} to {end}"})
    summary = period_summary(start, end)
    report.sections.extend(summary_sections(summary, label=month))
    closed = _one("SELECT operator, closed_at FROM month_close WHERE month = ?", (month,))
    report.sections[-1].notes.append(f"month closed by {closed[0]}" if closed else "month is open")
    providers = {pid: (code, name) for pid, code, name in _rows("SELECT id, code, name FROM provider")}
    payers = {pid: (code, name) for pid, code, name in _rows("SELECT id, code, name FROM payer")}
    procs = {code: desc for code, desc in _rows("SELECT code, description FROM procedure")}
    cols_tail = ["charges", "applied", "adjustments"]
    movement = month_movement(start, end)
    for dim, title, label in (("provider", "By provider", lambda k: providers.get(k, (str(k), ""))),
                              ("payer", "By payer billed", lambda k: payers.get(k, ("PATIENT", "self-pay"))
                               if k is not None else ("PATIENT", "self-pay")),
                              ("code", "By procedure code", lambda k: (k, procs.get(k, "")))):
        rows = [[*label(k), Money(ch), Money(ap), Money(aj)] for k, ch, ap, aj in month_dimension(start, end, dim, movement)]
        sec = Section(title, [dim, "name" if dim != "code" else "description", *cols_tail], rows, key=f"by_{dim}")
        sec.total = ["total", "", *(Money(sum(int(r[i]) for r in rows)) for i in (2, 3, 4))]
        report.sections.append(sec)
    rec = Section("Receipts by payer", ["payer", "name", "count", "receipts", "refunds", "net"], key="receipts_by_payer")
    p = {"s": start, "e": end}
    refunds: dict[int | None, int] = dict(_rows(
        "SELECT x.payer_id, SUM(f.amount) FROM refund f JOIN receipt x ON x.id = f.receipt_id "
        "WHERE f.posting_date BETWEEN :s AND :e GROUP BY x.payer_id", p))
    received = {pid: (count, amount) for pid, count, amount in _rows(
        "SELECT payer_id, SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), SUM(amount) FROM receipt "
        "WHERE posting_date BETWEEN :s AND :e GROUP BY payer_id", p)}
    for pid in sorted(set(received) | set(refunds), key=lambda k: (k is not None, payers.get(k, ("",))[0])):
        count, amount = received.get(pid, (0, 0))
        code, name = payers[pid] if pid in payers else ("PATIENT", "patient payments")
        rec.rows.append([code, name, count, Money(amount), Money(refunds.get(pid, 0)),
                         Money(amount - refunds.get(pid, 0))])
    rec.total = ["total", "", sum(r[2] for r in rec.rows), *(Money(sum(int(r[i]) for r in rec.rows)) for i in (3, 4, 5))]
    report.sections.append(rec)
    return report


# --------------------------------------------------------------------------- unapplied, audit


def unapplied(as_of: str) -> Report:
    """Receipts with money still waiting to be distributed (the receipts queue), oldest first."""
    report = _new("unapplied", "Unapplied receipts", {"as of": as_of})
    rows = []
    for rid, posted, source, acct, last, first, payer, method, ref, amount, left in _rows(
        "SELECT r.id, r.posting_date, r.source, p.account, p.last_name, p.first_name, py.name, r.method, r.reference, "
        "r.amount, rb.unapplied FROM receipt_balance rb JOIN receipt r ON r.id = rb.receipt_id "
        "LEFT JOIN patient p ON p.id = r.patient_id LEFT JOIN payer py ON py.id = r.payer_id "
        "WHERE rb.unapplied > 0 ORDER BY r.posting_date, r.id"):
        who = payer if source == "payer" else f"{_name(last, first)} ({acct})"
        age = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(posted)).days
        rows.append([rid, posted, age, who, method, ref, Money(amount), Money(left)])
    sec = Section("Unapplied receipts", ["receipt", "posted", "days", "from", "method", "reference", "amount",
                                         "unapplied"], rows, key="unapplied")
    sec.total = ["total", f"{len(rows)} receipts", "", "", "", "", Money(sum(int(r[6]) for r in rows)),
                 Money(sum(int(r[7]) for r in rows))]
    report.sections.append(sec)
    return report


def audit(start: str | None, end: str | None, user: str | None) -> Report:
    """The audit trail between two dates (inclusive), optionally for one user."""
    report = _new("audit", "Audit trail", {"from": start or "", "to": end or "", "user": user or ""})
    where, params = [], []
    if start:
        where.append("at >= ?")
        params.append(start)
    if end:
        where.append("at < ?")
        params.append((dt.date.fromisoformat(end) + dt.timedelta(days=1)).isoformat())
    if user:
        where.append("user = ?")
        params.append(user)
    sql = "SELECT id, at, user, action, entity, entity_id, detail FROM audit_event"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = [[i, at[:19].replace("T", " "), u, action, entity, eid, detail]
            for i, at, u, action, entity, eid, detail in _rows(sql + " ORDER BY id", params)]
    report.sections.append(Section("Audit events", ["event", "at", "user", "action", "entity", "id", "detail"],
                                   rows, key="events"))
    return report


# --------------------------------------------------------------------------- statements


def _patient_by_account(account: str) -> tuple | None:
    return _one("SELECT id, account, last_name, first_name, address, city, state, zip FROM patient "
                "WHERE account = ?", (account.strip(),))


def statement_patients(account: str | None) -> list[tuple]:
    """The patients to print: one by account, or every patient who owes something themselves."""
    if account:
        row = _patient_by_account(account)
        if not row:
            raise ReportError(f"no patient with account {account}")
        return [row]
    return _rows("SELECT p.id, p.account, p.last_name, p.first_name, p.address, p.city, p.state, p.zip FROM patient p "
                 "WHERE p.id IN (SELECT patient_id FROM charge_balance WHERE payer_id IS NULL AND balance > 0) "
                 "ORDER BY p.account")


#: The patient record's columns a statement's address block reads (the same names as its versions).
_ADDRESSEE = ("last_name", "first_name", "address", "address2", "city", "state", "zip", "guarantor_relationship",
              "guarantor_last", "guarantor_first", "guarantor_address", "guarantor_city", "guarantor_state",
              "guarantor_zip")


def statement_addressee(patient_id: int, as_of: str) -> tuple[str, str, str, str]:
    """(to whom, mailing address, patient's last, first) as the patient's record read on the
    statement date (master data is versioned): the guarantor when one other than the patient is
    set, at the guarantor's address (the patient's when the guarantor's is left blank: a parent at
    the same home), else the patient. A record registered after that date reads as it is now."""
    version = _one("SELECT data FROM master_version WHERE entity = 'patient' AND entity_id = ? AND on_date <= ? "
                   "ORDER BY version DESC LIMIT 1", (patient_id, as_of))
    if version is not None:
        kept = json.loads(version[0])
        data = {k: kept.get(k) or "" for k in _ADDRESSEE}
    else:
        row = _one(f"SELECT {', '.join(_ADDRESSEE)} FROM patient WHERE id = ?", (patient_id,))
        if row is None:
            raise ReportError(f"patient {patient_id} is not in these books")
        data = {k: v or "" for k, v in zip(_ADDRESSEE, row, strict=True)}
    home = ", ".join(x for x in (data["address"], data["address2"], data["city"],
                                 f"{data['state']} {data['zip']}".strip()) if x)
    if data["guarantor_relationship"] == "self" or not data["guarantor_last"]:
        return f"{data['first_name']} {data['last_name']}", home, data["last_name"], data["first_name"]
    own = ", ".join(x for x in (data["guarantor_address"], data["guarantor_city"],
                                f"{data['guarantor_state']} {data['guarantor_zip']}".strip()) if x)
    to = f"{data['guarantor_first']} {data['guarantor_last']} (guarantor, {data['guarantor_relationship']})"
    return to, (own if data["guarantor_address"] else home), data["last_name"], data["first_name"]


def statement_sections(patient: tuple, as_of: str, procs: dict[str, str] | None = None) -> list[Section]:
    """An itemised statement: each open charge with what was paid and adjusted, the aging of what
    the patient owes, credit on account, and the amount due."""
    pid, acct = patient[0], patient[1]
    if procs is None:
        procs = {code: desc for code, desc in _rows("SELECT code, description FROM procedure")}
    charges = _rows(
        "SELECT cb.charge_id, cb.dos, c.code, c.amount, cb.balance, cb.payer_id, py.code, "
        "COALESCE((SELECT SUM(amount) FROM charge r WHERE r.reverses_id = c.id), 0), "
        "COALESCE((SELECT SUM(amount) FROM application a WHERE a.charge_id = c.id), 0), "
        "COALESCE((SELECT SUM(amount) FROM adjustment j WHERE j.charge_id = c.id), 0) "
        "FROM charge_balance cb JOIN charge c ON c.id = cb.charge_id LEFT JOIN payer py ON py.id = cb.payer_id "
        "WHERE cb.patient_id = ? AND cb.balance > 0 ORDER BY cb.dos, cb.charge_id", (pid,))
    to, addr, last, first = statement_addressee(pid, as_of)
    head = Section(f"Statement for {_name(last, first)} - account {acct}", ["item", "detail"], key=f"patient:{acct}")
    head.rows = [["statement to", to], ["address", addr], ["patient", _name(last, first)], ["account", acct],
                 ["statement date", as_of]]
    items = Section("Open charges", ["date", "charge", "code", "description", "charged", "paid", "adjusted",
                                     "balance", "billed to"], key=f"items:{acct}")
    buckets = [0] * 5
    due_patient = pending = 0
    for cid, dos, code, amount, balance, payer, payer_code, rev, paid, adj in charges:
        items.rows.append([dos, cid, code, procs.get(code, ""), Money(amount + rev), Money(paid), Money(adj),
                           Money(balance), payer_code or "you"])
        if payer is None:
            due_patient += balance
            age = (dt.date.fromisoformat(as_of) - dt.date.fromisoformat(dos)).days
            buckets[sum(age > e for e in _BUCKET_EDGES)] += balance
        else:
            pending += balance
    items.total = ["total", "", "", "", *(Money(sum(int(r[i]) for r in items.rows)) for i in (4, 5, 6, 7)), ""]
    credit = _value("SELECT COALESCE(SUM(rb.unapplied), 0) FROM receipt_balance rb JOIN receipt r ON r.id = rb.receipt_id "
                  "WHERE r.patient_id = ? AND r.source = 'patient' AND rb.unapplied > 0", (pid,))
    ages = Section("Your balance by age (days since service)", list(BUCKETS) + ["total"], key=f"aging:{acct}")
    ages.rows = [[*map(Money, buckets), Money(due_patient)]]
    due = Section("Amount due", ["", "amount"], key=f"due:{acct}")
    due.rows = [["your balance", Money(due_patient)], ["insurance pending", Money(pending)],
                ["credit on account", Money(-credit)]]
    due.total = ["AMOUNT DUE", Money(max(0, due_patient - credit))]
    return [head, items, ages, due]


def statements(account: str | None, as_of: str) -> Report:
    """Statements as one report (for one patient; --all streams :func:`statement_reports`)."""
    title = "Patient statement" if account else "Patient statements"
    report = _new("statement", title, {"date": as_of, "patient": account or "all with a balance due"})
    for one in statement_reports(account, as_of):
        if report.sections:
            report.page_break_before.add(len(report.sections))
        report.sections.extend(one.sections)
    if not report.sections:
        report.sections.append(Section("No patient owes a balance", ["account"], [], key="none"))
    return report


def statement_reports(account: str | None, as_of: str) -> Iterator[Report]:
    """One report per patient, made as it is printed, so `--all` over tens of thousands of
    patients never holds more than one statement in memory."""
    procs = {code: desc for code, desc in _rows("SELECT code, description FROM procedure")}
    practice = practice_name()
    for patient in statement_patients(account):
        report = Report(name="statement", title="Patient statement", practice=practice,
                        params={"date": as_of, "patient": patient[1]})
        report.sections = statement_sections(patient, as_of, procs)
        yield report
