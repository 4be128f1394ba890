"""Typed, immutable records: the rows the books are made of, what a planner is told, what it plans.

Rows are NamedTuples whose fields are their table's columns in order, so a writer hands them to
SQLite as they are and nothing reads a posted row by position. Inputs and read state are frozen
dataclasses or NamedTuples too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, TypeVar

from .vocab import METHODS

# --------------------------------------------------------------------------- rows (one per table)


class BatchRow(NamedTuple):
    id: int
    kind: str
    posting_date: str
    operator: str
    control_count: int
    control_total: int
    opened_at: str


class BatchCloseRow(NamedTuple):
    batch_id: int
    closed_at: str
    operator: str
    entered_count: int
    entered_total: int


class EncounterRow(NamedTuple):
    id: int
    patient_id: int
    provider_id: int
    payer_id: int | None
    dos: str
    pos: str
    batch_id: int | None
    posting_date: str
    operator: str
    created_at: str
    reverses_id: int | None = None
    void_reason: str | None = None


class DiagnosisRow(NamedTuple):
    encounter_id: int
    seq: int
    code: str


class ChargeRow(NamedTuple):
    id: int
    encounter_id: int
    line_no: int
    patient_id: int
    provider_id: int
    payer_id: int | None
    dos: str
    pos: str
    code: str
    modifiers: str
    dx_pointers: str
    units: int
    fee: int
    amount: int
    batch_id: int | None
    posting_date: str
    operator: str
    reverses_id: int | None = None


class ReceiptRow(NamedTuple):
    id: int
    batch_id: int | None
    source: str
    patient_id: int | None
    payer_id: int | None
    method: str
    reference: str
    amount: int
    received_date: str
    posting_date: str
    operator: str
    created_at: str
    reverses_id: int | None = None
    void_reason: str | None = None


class DistributionRow(NamedTuple):
    id: int
    receipt_id: int | None
    posting_date: str
    operator: str
    created_at: str
    reverses_id: int | None = None
    void_reason: str | None = None


class ApplicationRow(NamedTuple):
    id: int
    distribution_id: int
    receipt_id: int | None
    charge_id: int
    amount: int
    posting_date: str
    operator: str
    reverses_id: int | None = None


class AdjustmentRow(NamedTuple):
    id: int
    distribution_id: int
    charge_id: int
    reason_code: str
    amount: int
    posting_date: str
    operator: str
    reverses_id: int | None = None


class TransferRow(NamedTuple):
    id: int
    distribution_id: int
    charge_id: int
    from_payer_id: int | None
    to_payer_id: int | None
    amount: int
    posting_date: str
    operator: str
    reverses_id: int | None = None


class RefundRow(NamedTuple):
    id: int
    receipt_id: int
    method: str
    reference: str
    reason: str
    amount: int
    posting_date: str
    operator: str
    created_at: str
    reverses_id: int | None = None
    void_reason: str | None = None


class ReceiptAdjustmentRow(NamedTuple):
    """A change to a receipt's unapplied credit that is no charge's: an 835's provider-level
    adjustment (PLB: interest added, an overpayment recouped, a forward balance) or credit a
    reversal moves from the receipt it came on to the payment that took it back. Positive adds
    credit to apply (the payer withheld it from this payment), negative takes it out (interest)."""

    id: int
    receipt_id: int
    code: str
    reference: str
    amount: int
    posting_date: str
    operator: str
    created_at: str
    reverses_id: int | None = None


class DayCloseRow(NamedTuple):
    posting_date: str
    closed_at: str
    operator: str
    #: the period summary as canonical JSON (see :func:`totals_json`)
    totals: str
    counted_cash: int
    counted_checks: int
    counted_check_count: int
    counted_card: int
    counted_eft: int


class MonthCloseRow(NamedTuple):
    month: str
    closed_at: str
    operator: str
    totals: str


Row = (BatchRow | BatchCloseRow | EncounterRow | DiagnosisRow | ChargeRow | ReceiptRow | DistributionRow
       | ApplicationRow | AdjustmentRow | TransferRow | RefundRow | DayCloseRow | MonthCloseRow | ReceiptAdjustmentRow)

#: Each row type's table. A row's fields are that table's columns, in order.
TABLE_OF: dict[type, str] = {
    BatchRow: "batch", BatchCloseRow: "batch_close", EncounterRow: "encounter", DiagnosisRow: "encounter_diagnosis",
    ChargeRow: "charge", ReceiptRow: "receipt", DistributionRow: "distribution", ApplicationRow: "application",
    AdjustmentRow: "adjustment", TransferRow: "transfer", RefundRow: "refund", DayCloseRow: "day_close",
    MonthCloseRow: "month_close", ReceiptAdjustmentRow: "receipt_adjustment",
}


R = TypeVar("R")


class AuditEvent(NamedTuple):
    """One audit event as planned; the store chains and hashes it (``detail`` in canonical form)."""

    at: str
    user: str
    action: str
    entity: str
    entity_id: int | None
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class Plan:
    """What one posting writes: its rows, in insert order, and its audit event."""

    rows: tuple[Row, ...]
    event: AuditEvent

    def of(self, kind: type[R]) -> list[R]:
        """The planned rows of one type, in order."""
        return [r for r in self.rows if type(r) is kind]


# --------------------------------------------------------------------------- ids


class IdBook:
    """Hands out row ids table by table: the next after the highest in use.

    The store seeds a table from ``MAX(id)`` inside its write transaction (which holds the write
    lock, so nobody else takes the same id); the demo's bulk load starts every table from its own
    count. Either way the ids are the ones SQLite itself would have given.
    """

    def __init__(self, seed: Callable[[str], int] | None = None) -> None:
        self._last: dict[str, int] = {}
        self._seed = seed

    def __call__(self, table: str) -> int:
        last = self._last.get(table)
        if last is None:
            last = self._seed(table) if self._seed is not None else 0
        last += 1
        self._last[table] = last
        return last

    def last(self, table: str) -> int:
        """The last id handed out for ``table`` (0 if none)."""
        return self._last.get(table, 0)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class CoverageIn:
    """A patient's insurance: payer, member id, group, and priority 1 (primary) to 3."""

    payer_id: int
    member_id: str
    priority: int = 1
    group_no: str = ""


@dataclass(frozen=True)
class ChargeLine:
    """One service line as keyed: fee is per unit (None takes the fee schedule's)."""

    code: str
    units: int = 1
    fee: int | None = None
    modifiers: tuple[str, ...] = ()
    dx_pointers: tuple[int, ...] = (1,)


@dataclass(frozen=True)
class DistributionLine:
    """What to do to one charge: apply money, adjust (with a reason), move the rest on.

    The rest moves to the patient (``transfer_to_patient``) or to another payer such as the
    secondary coverage (``transfer_to_payer``); never both.
    """

    charge_id: int
    applied: int = 0
    adjustment: int = 0
    reason: str | None = None
    transfer_to_patient: bool = False
    transfer_to_payer: int | None = None


@dataclass(frozen=True)
class DepositCount:
    """What the clerk counted: cash, the check tape (total and count), the card batch, the EFTs."""

    cash: int = 0
    checks: int = 0
    check_count: int = 0
    card: int = 0
    eft: int = 0


# --------------------------------------------------------------------------- read state


@dataclass(frozen=True)
class BatchStatus:
    """A batch's control figures against what was entered, and whether it is closed."""

    id: int
    kind: str
    posting_date: str
    operator: str
    control_count: int
    control_total: int
    entered_count: int
    entered_total: int
    closed: bool

    @property
    def count_difference(self) -> int:
        return self.entered_count - self.control_count

    @property
    def total_difference(self) -> int:
        return self.entered_total - self.control_total

    @property
    def balanced(self) -> bool:
        return self.count_difference == 0 and self.total_difference == 0

    @property
    def status(self) -> str:
        """``closed``, ``open`` or ``unbalanced`` (open and off its control figures)."""
        if self.closed:
            return "closed"
        return "open" if self.balanced else "unbalanced"


class ReceiptState(NamedTuple):
    """A receipt as distribution and refunds see it."""

    id: int
    source: str
    patient_id: int | None
    payer_id: int | None
    reverses_id: int | None
    unapplied: int
    voided: bool


class ChargeState(NamedTuple):
    """A charge as a distribution sees it: who it was billed to, who owes it now, what is left."""

    id: int
    patient_id: int
    billed_payer_id: int | None
    reverses_id: int | None
    balance: int
    payer_id: int | None


class Voidable(NamedTuple):
    """An original entry a void names: its row, whether it is a reversal, whether it was voided."""

    row: Any
    voided: bool


class DistributionParts(NamedTuple):
    """A posted distribution and its lines (each in id order)."""

    row: DistributionRow
    applications: tuple[ApplicationRow, ...]
    adjustments: tuple[AdjustmentRow, ...]
    transfers: tuple[TransferRow, ...]


class ChargeNow(NamedTuple):
    """A charge's running balance and who owes it, as a void reads them."""

    balance: int
    payer_id: int | None


@dataclass(frozen=True)
class PeriodSummary:
    """Every figure of the balancing screen for posting dates start..end; what a close keeps."""

    start: str
    end: str
    charge_lines: int
    charges: int
    charge_voids: int
    receipt_count: int
    check_count: int
    receipts_by_method: dict[str, int]
    refunds_by_method: dict[str, int]
    applications: int
    adjustments: int
    adjustments_by_reason: dict[str, int]
    transfer_count: int
    transfer_total: int
    void_count: int
    opening_ar: int
    closing_ar: int
    opening_unapplied: int
    closing_unapplied: int
    #: Σ open charge balances and Σ unapplied right now; compared only when nothing is posted after `end`
    current_ar: int | None = None
    current_unapplied: int | None = None
    proof_errors: tuple[str, ...] = field(default_factory=tuple)
    # Added for the balancing screen and the day sheet (fields above keep their names).
    #: provider code -> [charge lines, total] (reversals net into the total)
    charges_by_provider: dict[str, list[int]] = field(default_factory=dict)
    #: operator -> [charge lines, total]
    charges_by_operator: dict[str, list[int]] = field(default_factory=dict)
    #: "patient" / "payer" (insurance) -> receipts total
    receipts_by_source: dict[str, int] = field(default_factory=dict)
    #: method -> receipts counted (a voided receipt counts -1)
    receipt_counts_by_method: dict[str, int] = field(default_factory=dict)
    refund_count: int = 0
    #: "encounter" / "receipt" / "distribution" / "refund" -> reversals posted
    voids_by_kind: dict[str, int] = field(default_factory=dict)
    #: receipts total of voided receipts (<= 0)
    receipt_voids: int = 0
    #: receipt-level credit that is no charge's (an 835's PLB, a reversal's recoupment), in unapplied
    receipt_adjustments: int = 0

    @property
    def receipts(self) -> int:
        return sum(self.receipts_by_method.values())

    @property
    def refunds(self) -> int:
        return sum(self.refunds_by_method.values())

    @property
    def deposit(self) -> dict[str, int]:
        """What should be in the bank for the period, by method: receipts less refunds."""
        return {m: self.receipts_by_method.get(m, 0) - self.refunds_by_method.get(m, 0) for m in METHODS}

    @property
    def balances(self) -> bool:
        return not self.proof_errors

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["proof_errors"] = list(self.proof_errors)
        d["deposit"] = self.deposit
        return d
