"""Read-only queries behind the receipts queue (F3) and the distribute screen.

Nothing here writes: posting goes through :mod:`operations`. Every function returns plain
frozen dataclasses so a screen never holds a database row across threads. Long lists are
read a page at a time with keyset pagination over the running-balance tables' partial
indexes (``receipt_balance_open``, ``charge_balance_open_payer``/``_patient``), so a payer
with tens of thousands of open charges costs one index range scan per page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..ledger.vocab import month_bounds
from .db import database
from .operations import find_duplicate_receipts

PAGE = 100


def _rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(sql, params).fetchall()
    return rows


def _like_prefix(text: str) -> str:
    """A LIKE prefix pattern with the wildcards in the user's text made literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueFilter:
    """What the clerk typed in the queue's filter bar (blank means any).

    ``payer`` is a payer code prefix, ``patient`` an account prefix, ``method`` one of the
    methods, ``operator`` an exact operator. ``everything`` lists fully applied receipts too
    (newest first), so a clerk can find one to void or reprint.
    """

    payer: str = ""
    patient: str = ""
    method: str = ""
    operator: str = ""
    everything: bool = False
    #: The open queue newest received first (the clerk looking for what just came in).
    newest_first: bool = False


@dataclass(frozen=True)
class QueueRow:
    receipt_id: int
    received_date: str
    source: str
    patient_id: int | None
    payer_id: int | None
    from_label: str  # "ACC123 Last, First" or "PAYERCODE Payer name"
    method: str
    reference: str
    amount: int
    unapplied: int
    operator: str
    posting_date: str
    voided: bool = False


@dataclass(frozen=True)
class QueueTotals:
    count: int
    amount: int
    unapplied: int


_QUEUE_COLUMNS = (
    "r.id, r.received_date, r.source, r.patient_id, r.payer_id, p.account, p.last_name, p.first_name, "
    "y.code, y.name, r.method, r.reference, r.amount, rb.unapplied, r.operator, r.posting_date, "
    "EXISTS (SELECT 1 FROM receipt v WHERE v.reverses_id = r.id)"
)


def _queue_where(f: QueueFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = [] if f.everything else ["rb.unapplied > 0"]
    params: list[Any] = []
    if f.everything:
        where.append("r.reverses_id IS NULL")
    if f.payer.strip():
        where.append("r.payer_id IN (SELECT id FROM payer WHERE code LIKE ? ESCAPE '\\')")
        params.append(_like_prefix(f.payer.strip()))
    if f.patient.strip():
        where.append("r.patient_id IN (SELECT id FROM patient WHERE account LIKE ? ESCAPE '\\')")
        params.append(_like_prefix(f.patient.strip()))
    if f.method.strip():
        where.append("r.method = ?")
        params.append(f.method.strip().lower())
    if f.operator.strip():
        where.append("r.operator = ?")
        params.append(f.operator.strip())
    return where, params


def _queue_row(r: tuple[Any, ...]) -> QueueRow:
    if r[2] == "payer":
        label = f"{r[8]} {r[9]}"
    else:
        label = f"{r[5]} {r[6]}, {r[7]}"
    return QueueRow(r[0], r[1], r[2], r[3], r[4], label, r[10], r[11], r[12], r[13] or 0, r[14], r[15], bool(r[16]))


def queue_page(f: QueueFilter = QueueFilter(), after: tuple[Any, ...] | None = None, limit: int = PAGE) -> list[QueueRow]:
    """One page of the queue: oldest received first (or newest id first for ``everything``).

    ``after`` is the keyset of the last row shown: ``(received_date, id)`` for the queue,
    ``(id,)`` for everything.
    """
    where, params = _queue_where(f)
    if after is not None:
        if f.everything:
            where.append("r.id < ?")
            params.append(after[-1])
        else:
            where.append(f"(r.received_date, r.id) {'<' if f.newest_first else '>'} (?, ?)")
            params.extend(after)
    base = "FROM receipt r" if f.everything else "FROM receipt_balance rb JOIN receipt r ON r.id = rb.receipt_id"
    join = " LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id" if f.everything else ""
    newest = " DESC" if f.newest_first else ""
    order = "r.id DESC" if f.everything else f"r.received_date{newest}, r.id{newest}"
    # Sort only the keys of the open receipts (thousands on big books), then fetch the names
    # and flags for the one page that is shown.
    keys = f"SELECT r.id AS id, r.received_date AS rd {base}{join} WHERE {' AND '.join(where) or '1'} ORDER BY {order} LIMIT ?"
    outer = "k.id DESC" if f.everything else f"k.rd{newest}, k.id{newest}"
    sql = (f"SELECT {_QUEUE_COLUMNS} FROM ({keys}) k JOIN receipt r ON r.id = k.id "
           f"LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id LEFT JOIN patient p ON p.id = r.patient_id "
           f"LEFT JOIN payer y ON y.id = r.payer_id ORDER BY {outer}")
    return [_queue_row(r) for r in _rows(sql, (*params, limit))]


def queue_keyset(row: QueueRow, f: QueueFilter) -> tuple[Any, ...]:
    """The keyset that continues a page after ``row``."""
    return (row.receipt_id,) if f.everything else (row.received_date, row.receipt_id)


def queue_totals(f: QueueFilter = QueueFilter()) -> QueueTotals:
    """Count, amount and unapplied of every receipt the filter matches (the queue's foot)."""
    where, params = _queue_where(f)
    base = ("FROM receipt r LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id" if f.everything
            else "FROM receipt_balance rb JOIN receipt r ON r.id = rb.receipt_id")
    row = _rows(f"SELECT COUNT(*), COALESCE(SUM(r.amount), 0), COALESCE(SUM(rb.unapplied), 0) {base} "
                f"WHERE {' AND '.join(where) or '1'}", params)[0]
    return QueueTotals(*row)


def queue_row(receipt_id: int) -> QueueRow | None:
    """One receipt as a queue row (whether or not it still has money unapplied)."""
    rows = _rows(f"SELECT {_QUEUE_COLUMNS} FROM receipt r LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id "
                 "LEFT JOIN patient p ON p.id = r.patient_id LEFT JOIN payer y ON y.id = r.payer_id WHERE r.id = ?",
                 (receipt_id,))
    return _queue_row(rows[0]) if rows else None


# --------------------------------------------------------------------------- open charges


@dataclass(frozen=True)
class ChargeFilter:
    """Narrowing of a payer's open charges: account prefix, DOS (a date, month or year prefix), code prefix."""

    account: str = ""
    dos: str = ""
    code: str = ""


@dataclass(frozen=True)
class OpenCharge:
    charge_id: int
    dos: str
    patient_id: int
    account: str
    patient_name: str
    code: str
    amount: int
    balance: int
    payer_id: int | None  # who owes it now (None: the patient)
    payer_code: str


def _dos_range(text: str) -> tuple[str, str] | None:
    """``2026``, ``2026-10`` or ``2026-10-03`` as a half-open ISO range; None if not a date prefix."""
    text = text.strip()
    try:
        if len(text) == 4:
            y = int(text)
            return f"{y:04d}-01-01", f"{y + 1:04d}-01-01"
        if len(text) == 7:
            first, last = month_bounds(text)
            return first, (dt.date.fromisoformat(last) + dt.timedelta(days=1)).isoformat()
        day = dt.date.fromisoformat(text)
        return day.isoformat(), (day + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return None


def valid_dos_filter(text: str) -> bool:
    return not text.strip() or _dos_range(text) is not None


def open_charges_page(
    *, payer_id: int | None = None, patient_id: int | None = None, f: ChargeFilter = ChargeFilter(),
    after: tuple[str, int] | None = None, limit: int = PAGE, patient_owes_only: bool = False,
) -> list[OpenCharge]:
    """Open charges oldest DOS first, a page at a time after the keyset ``(dos, charge_id)``.

    Give ``payer_id`` for a payer's check (charges that payer owes now), or ``patient_id`` for
    a patient's payment (every open charge of the patient; ``patient_owes_only`` keeps those
    the patient owes). The WHERE starts with the partial index's own columns so SQLite walks
    ``charge_balance_open_payer`` / ``_patient`` in order and stops after ``limit`` rows.
    """
    if (payer_id is None) == (patient_id is None):
        raise ValueError("give exactly one of payer_id or patient_id")
    where = ["cb.balance > 0"]
    params: list[Any] = []
    if payer_id is not None:
        where.insert(0, "cb.payer_id = ?")
        params.append(payer_id)
        index = "charge_balance_open_payer"
    else:
        where.insert(0, "cb.patient_id = ?")
        params.append(patient_id)
        index = "charge_balance_open_patient"
        if patient_owes_only:
            where.append("cb.payer_id IS NULL")
    if f.account.strip():
        where.append("cb.patient_id IN (SELECT id FROM patient WHERE account LIKE ? ESCAPE '\\')")
        params.append(_like_prefix(f.account.strip()))
    rng = _dos_range(f.dos) if f.dos.strip() else None
    if rng:
        where.append("cb.dos >= ? AND cb.dos < ?")
        params.extend(rng)
    if f.code.strip():
        where.append("c.code LIKE ? ESCAPE '\\'")
        params.append(_like_prefix(f.code.strip().upper()))
    if after is not None:
        where.append("(cb.dos, cb.charge_id) > (?, ?)")
        params.extend(after)
    sql = (f"SELECT cb.charge_id, cb.dos, cb.patient_id, p.account, p.last_name, p.first_name, c.code, c.amount, "
           f"cb.balance, cb.payer_id, y.code FROM charge_balance cb INDEXED BY {index} "
           f"JOIN charge c ON c.id = cb.charge_id JOIN patient p ON p.id = cb.patient_id "
           f"LEFT JOIN payer y ON y.id = cb.payer_id "
           f"WHERE {' AND '.join(where)} ORDER BY cb.dos, cb.charge_id LIMIT ?")
    return [OpenCharge(r[0], r[1], r[2], r[3], f"{r[4]}, {r[5]}", r[6], r[7], r[8], r[9], r[10] or "patient")
            for r in _rows(sql, (*params, limit))]


def open_charges_for_receipt(receipt: QueueRow, f: ChargeFilter = ChargeFilter(), after: tuple[str, int] | None = None,
                             limit: int = PAGE, *, patient_owes_only: bool = False) -> list[OpenCharge]:
    """The open charges a receipt can pay: the payer's for a payer receipt, the patient's own otherwise."""
    if receipt.source == "payer":
        return open_charges_page(payer_id=receipt.payer_id, f=f, after=after, limit=limit)
    return open_charges_page(patient_id=receipt.patient_id, f=f, after=after, limit=limit,
                             patient_owes_only=patient_owes_only)


def count_open_charges(receipt: QueueRow, f: ChargeFilter = ChargeFilter(), cap: int = 100_000) -> int:
    """How many open charges match (counted up to ``cap`` so a huge payer stays quick)."""
    n = 0
    after = None
    while n < cap:
        page = open_charges_for_receipt(receipt, f, after, limit=5000)
        n += len(page)
        if len(page) < 5000:
            break
        after = (page[-1].dos, page[-1].charge_id)
    return n


# --------------------------------------------------------------------------- detail


@dataclass(frozen=True)
class DistributionSummary:
    distribution_id: int
    posting_date: str
    operator: str
    applied: int
    adjusted: int
    lines: int
    voided: bool


@dataclass(frozen=True)
class RefundSummary:
    refund_id: int
    posting_date: str
    method: str
    reference: str
    amount: int
    voided: bool


@dataclass(frozen=True)
class ReceiptDetail:
    receipt: QueueRow
    distributions: tuple[DistributionSummary, ...] = field(default_factory=tuple)
    refunds: tuple[RefundSummary, ...] = field(default_factory=tuple)


def receipt_detail(receipt_id: int) -> ReceiptDetail | None:
    """A receipt with its original distributions and refunds (and whether each was voided)."""
    head = queue_row(receipt_id)
    if head is None:
        return None
    dists = tuple(DistributionSummary(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in _rows(
        "SELECT d.id, d.posting_date, d.operator, "
        "COALESCE((SELECT SUM(amount) FROM application a WHERE a.distribution_id = d.id), 0), "
        "COALESCE((SELECT SUM(amount) FROM adjustment j WHERE j.distribution_id = d.id), 0), "
        "(SELECT COUNT(DISTINCT charge_id) FROM (SELECT charge_id FROM application WHERE distribution_id = d.id "
        " UNION ALL SELECT charge_id FROM adjustment WHERE distribution_id = d.id "
        " UNION ALL SELECT charge_id FROM transfer WHERE distribution_id = d.id)), "
        "EXISTS (SELECT 1 FROM distribution x WHERE x.reverses_id = d.id) "
        "FROM distribution d WHERE d.receipt_id = ? AND d.reverses_id IS NULL ORDER BY d.id", (receipt_id,)))
    refunds = tuple(RefundSummary(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in _rows(
        "SELECT f.id, f.posting_date, f.method, f.reference, f.amount, "
        "EXISTS (SELECT 1 FROM refund x WHERE x.reverses_id = f.id) "
        "FROM refund f WHERE f.receipt_id = ? AND f.reverses_id IS NULL ORDER BY f.id", (receipt_id,)))
    return ReceiptDetail(head, dists, refunds)


# --------------------------------------------------------------------------- lookups


@dataclass(frozen=True)
class Reason:
    code: str
    description: str
    kind: str


def adjustment_reasons() -> list[Reason]:
    """The reasons offered for new adjustments (a retired one is not), CARC codes first then the office's own."""
    return [Reason(*r) for r in _rows(
        "SELECT code, description, kind FROM adjustment_reason WHERE active ORDER BY kind = 'office', code")]


@dataclass(frozen=True)
class Source:
    """Who a receipt can come from: a payer or a patient."""

    kind: str  # payer | patient
    id: int
    code: str  # payer code or patient account
    name: str

    @property
    def label(self) -> str:
        return f"{'Payer' if self.kind == 'payer' else 'Patient'} {self.code} {self.name}"


def find_sources(text: str, limit: int = 6) -> list[Source]:
    """Payers by code or name prefix, patients by account or ``last,first`` prefix."""
    text = text.strip()
    if not text:
        return []
    pattern = _like_prefix(text)
    out = [Source("payer", *r) for r in _rows(
        "SELECT id, code, name FROM payer WHERE code LIKE ?1 ESCAPE '\\' OR name LIKE ?1 ESCAPE '\\' "
        "ORDER BY code LIMIT ?2", (pattern, limit))]
    out += [Source("patient", r[0], r[1], f"{r[2]}, {r[3]}") for r in _rows(
        "SELECT id, account, last_name, first_name FROM patient WHERE account LIKE ?1 ESCAPE '\\' "
        "UNION SELECT id, account, last_name, first_name FROM patient WHERE name_key LIKE ?2 ESCAPE '\\' "
        "ORDER BY 2 LIMIT ?3", (pattern, _like_prefix(text.lower().replace(", ", ",")), limit))]
    return out[:limit]


def duplicate_receipts(*, payer_id: int | None, patient_id: int | None, reference: str) -> tuple[int, ...]:
    """Live receipts from the same source with this check/trace number (a flag, not a refusal)."""
    return find_duplicate_receipts(payer_id=payer_id, patient_id=patient_id, reference=reference.strip())


def open_receipt_batches(operator: str, posting_date: str) -> list[tuple[int, int, int]]:
    """This operator's open receipt batches for a posting date: (id, control count, control total)."""
    return [tuple(r) for r in _rows(
        "SELECT b.id, b.control_count, b.control_total FROM batch b WHERE b.kind = 'receipt' AND b.operator = ? "
        "AND b.posting_date = ? AND NOT EXISTS (SELECT 1 FROM batch_close c WHERE c.batch_id = b.id) ORDER BY b.id",
        (operator, posting_date))]
