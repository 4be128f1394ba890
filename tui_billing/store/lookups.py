"""Read-only lookups for the entry screens: patients, providers, payers, procedures, batches.

Every function returns plain frozen dataclasses (never live Peewee rows), so a screen can
call them from a thread worker and hand the result to the event loop safely. Nothing here
writes; the posting operations in :mod:`operations` are the only writers.

The patient search uses the ``patient.name_key`` index (``last,first`` lowercased) and the
unique ``patient.account`` index with prefix *ranges*, never ``LIKE '%x%'``, so it stays
a few index probes on a 100,000-patient file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .clock import today
from .db import database
from .errors import BillingError
from .fees import FEE_IN_FORCE
from .identity import operator_name as resolve_operator
from .operations import BatchStatus, batch_status
from .validate import current_posting_date

__all__ = [
    "BatchEncounter", "EncounterDetail", "OpenBatch", "PatientHit", "PayerRow", "ProcedureRow", "ProviderRow",
    "batch_encounters", "encounter_detail", "find_patients", "find_providers", "open_charge_batch",
    "patient_by_id", "payers", "posting_context", "practice_name", "procedure", "providers",
]


@dataclass(frozen=True)
class PatientHit:
    """A patient as the picker shows it, with the primary coverage's payer (None: self-pay)."""

    id: int
    account: str
    last_name: str
    first_name: str
    dob: str
    payer_id: int | None
    payer_code: str
    payer_name: str

    @property
    def name(self) -> str:
        return f"{self.last_name}, {self.first_name}"


@dataclass(frozen=True)
class ProviderRow:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class PayerRow:
    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class ProcedureRow:
    code: str
    description: str
    fee: int
    default_units: int


#: An open charge batch: control figures against what was entered (the operations' own type).
OpenBatch = BatchStatus


@dataclass(frozen=True)
class BatchEncounter:
    """One row of a batch's encounter list. ``voided``: a reversal of it exists."""

    id: int
    account: str
    patient_name: str
    provider_code: str
    dos: str
    lines: int
    total: int
    reverses_id: int | None
    voided: bool


@dataclass(frozen=True)
class EncounterDetail:
    """What F6 needs from the previous encounter (values as the form shows them)."""

    id: int
    patient_id: int
    provider_id: int
    provider_code: str
    payer_id: int | None
    dos: str
    pos: str
    diagnoses: tuple[str, ...]


def _rows(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(sql, params).fetchall()
    return rows


def _after(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


_PATIENT_COLS = (
    "p.id, p.account, p.last_name, p.first_name, p.dob, c.payer_id, COALESCE(y.code, ''), COALESCE(y.name, '') "
    # one primary per patient: an ended plan shares priority 1 with its successor (the open-ended one wins)
    "FROM patient p LEFT JOIN coverage c ON c.id = (SELECT x.id FROM coverage x WHERE x.patient_id = p.id "
    "AND x.priority = 1 ORDER BY x.end_date = '' DESC, x.end_date DESC, x.id DESC LIMIT 1) "
    "LEFT JOIN payer y ON y.id = c.payer_id"
)


def _hit(row: tuple[Any, ...]) -> PatientHit:
    return PatientHit(*row)


def find_patients(text: str, limit: int = 5) -> list[PatientHit]:
    """Patients whose account starts with ``text`` or whose ``last,first`` starts with it.

    Account matches come first. ``smi,j`` finds Smith, John; ``smi`` finds every Smi...;
    the search is case-insensitive. An empty query finds nothing.
    """
    query = " ".join(text.split()).strip()
    if not query:
        return []
    hits: list[PatientHit] = []
    seen: set[int] = set()
    account = query.upper()
    if "," not in query:
        for row in _rows(
            f"SELECT {_PATIENT_COLS} WHERE p.account >= ? AND p.account < ? ORDER BY p.account LIMIT ?",
            (account, _after(account), limit),
        ):
            hits.append(_hit(row))
            seen.add(row[0])
    if len(hits) < limit:
        last, _, first = query.lower().partition(",")
        key = f"{last.strip()},{first.strip()}" if "," in query else last.strip()
        if key:
            for row in _rows(
                f"SELECT {_PATIENT_COLS} WHERE p.name_key >= ? AND p.name_key < ? ORDER BY p.name_key, p.id LIMIT ?",
                (key, _after(key), limit),
            ):
                if row[0] not in seen and len(hits) < limit:
                    hits.append(_hit(row))
                    seen.add(row[0])
    return hits


def patient_by_id(patient_id: int) -> PatientHit | None:
    rows = _rows(f"SELECT {_PATIENT_COLS} WHERE p.id = ?", (patient_id,))
    return _hit(rows[0]) if rows else None


def providers() -> list[ProviderRow]:
    """Active providers by code (an office has a handful; the screen caches them)."""
    return [ProviderRow(*r) for r in _rows("SELECT id, code, name FROM provider WHERE active ORDER BY code")]


def find_providers(text: str, rows: list[ProviderRow]) -> list[ProviderRow]:
    """Providers matching a short code exactly, then by code or name prefix (pure, no database)."""
    q = text.strip().lower()
    if not q:
        return []
    exact = [p for p in rows if p.code.lower() == q]
    rest = [p for p in rows if p not in exact and (p.code.lower().startswith(q) or p.name.lower().startswith(q)
                                                   or any(w.startswith(q) for w in p.name.lower().split()))]
    return exact + rest


def payers() -> list[PayerRow]:
    return [PayerRow(*r) for r in _rows("SELECT id, code, name, kind FROM payer ORDER BY code")]


def procedure(code: str) -> ProcedureRow | None:
    """A code on the schedule with the fee in force today (a dated change counts from its date)."""
    rows = _rows(f"SELECT p.code, p.description, {FEE_IN_FORCE}, p.default_units FROM procedure p WHERE p.code = ?",
                 (today().isoformat(), code.strip().upper()))
    return ProcedureRow(*rows[0]) if rows else None


def procedures() -> dict[str, ProcedureRow]:
    """The whole fee schedule keyed by code, fees in force today (hundreds of rows: the screen caches it)."""
    return {r[0]: ProcedureRow(*r) for r in _rows(
        f"SELECT p.code, p.description, {FEE_IN_FORCE}, p.default_units FROM procedure p", (today().isoformat(),))}


def practice_name() -> str:
    rows = _rows("SELECT name FROM practice WHERE id = 1")
    return rows[0][0] if rows else ""


def posting_context(operator: str | None = None) -> tuple[str, str]:
    """(current posting date, operator) as the posting operations will resolve them."""
    return current_posting_date(), resolve_operator(operator)


def open_charge_batch(operator: str, posting_date: str) -> OpenBatch | None:
    """The operator's most recent open charge batch for the posting date, with its entered figures."""
    rows = _rows(
        "SELECT b.id, b.posting_date, b.operator, b.control_count, b.control_total FROM batch b "
        "WHERE b.kind = 'charge' AND b.posting_date = ? AND b.operator = ? "
        "AND NOT EXISTS (SELECT 1 FROM batch_close bc WHERE bc.batch_id = b.id) ORDER BY b.id DESC LIMIT 1",
        (posting_date, operator),
    )
    if not rows:
        return None
    return batch_figures(rows[0][0])


def batch_figures(batch_id: int) -> OpenBatch | None:
    """A batch's control and entered figures, counted exactly as the batch close counts them."""
    try:
        return batch_status(batch_id)
    except BillingError:
        return None  # the batch does not exist


def batch_encounters(batch_id: int) -> list[BatchEncounter]:
    """The batch's encounters, newest first, with their totals and whether each was voided."""
    rows = _rows(
        "SELECT e.id, p.account, p.last_name || ', ' || p.first_name, v.code, e.dos, "
        "(SELECT COUNT(*) FROM charge c WHERE c.encounter_id = e.id), "
        "(SELECT COALESCE(SUM(amount), 0) FROM charge c WHERE c.encounter_id = e.id), e.reverses_id, "
        "EXISTS (SELECT 1 FROM encounter x WHERE x.reverses_id = e.id) "
        "FROM encounter e JOIN patient p ON p.id = e.patient_id JOIN provider v ON v.id = e.provider_id "
        "WHERE e.batch_id = ? ORDER BY e.id DESC",
        (batch_id,),
    )
    return [BatchEncounter(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in rows]


def encounter_detail(encounter_id: int) -> EncounterDetail | None:
    rows = _rows(
        "SELECT e.id, e.patient_id, e.provider_id, v.code, e.payer_id, e.dos, e.pos FROM encounter e "
        "JOIN provider v ON v.id = e.provider_id WHERE e.id = ?",
        (encounter_id,),
    )
    if not rows:
        return None
    dx = tuple(r[0] for r in _rows(
        "SELECT code FROM encounter_diagnosis WHERE encounter_id = ? ORDER BY seq", (encounter_id,)))
    e = rows[0]
    return EncounterDetail(e[0], e[1], e[2], e[3], e[4], e[5], e[6], dx)
