"""`tui-billing demo`: a realistic, deterministic synthetic practice to try the screens on.

The small master data (practice, providers, payers, fee schedule, adjustment reasons) goes through
the store operations. The history is simulated day by day and every posting in it (batches,
encounters, receipts, distributions, refunds, voids, batch, day and month closes) is planned by
the same ledger planners the store operations call, so its rows and audit events are the ones
the operations would write (a test posts the same plan one operation at a time and compares).
The planned rows are bulk-loaded by :mod:`tui_billing.store.bulk` for speed; the simulation
follows the running balances from the planned rows, and ``tui-billing check`` proves the result.

The same seed and the same business day (``TUI_BILLING_TODAY``) give the same rows.
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
import itertools
import os
import random
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import codes
from .ledger.audit import canonical, event_hash
from .ledger.batches import plan_close_batch, plan_open_batch
from .ledger.charges import EncounterFacts, plan_encounter
from .ledger.closes import (
    DayCloseFacts,
    MonthCloseFacts,
    plan_close_day,
    plan_close_month,
)
from .ledger.distributions import DistributionFacts, plan_distribution
from .ledger.errors import BillingError
from .ledger.receipts import ReceiptFacts, plan_receipt, plan_refund
from .ledger.records import (
    TABLE_OF,
    AdjustmentRow,
    ApplicationRow,
    AuditEvent,
    BatchRow,
    BatchStatus,
    ChargeLine,
    ChargeNow,
    ChargeRow,
    ChargeState,
    CoverageIn,
    DayCloseRow,
    DepositCount,
    DistributionLine,
    DistributionParts,
    DistributionRow,
    EncounterRow,
    IdBook,
    PeriodSummary,
    Plan,
    ReceiptRow,
    ReceiptState,
    RefundRow,
    TransferRow,
    Voidable,
)
from .ledger.vocab import METHODS, SOURCES, STANDARD_REASONS, VOID_KINDS, month_bounds
from .ledger.voids import VoidFacts, plan_void
from .store import audit, digests, identity
from .store import operations as ops
from .store import validate as v
from .store.account_demo import fill_demo_accounts
from .store.bulk import BulkLoad
from .store.claims_demo import fill_demo_claims
from .store.db import close_database, ensure_file, open_database, write
from .store.era_demo import write_demo_eras

if TYPE_CHECKING:
    from .store.pg_migrate import DemoMirror

# --------------------------------------------------------------------------- master data

PRACTICE = ("Maple Street Family Medicine", "1999 Maple Street, Springfield, IL 62704", "(217) 555-0140")

PROVIDERS = (  # code, name; the NPIs are generated with a valid check digit
    ("RLM", "Rosa L. Martinez, MD"),
    ("DKO", "David K. Okafor, MD"),
    ("SPA", "Sarah P. Anderson, DO"),
    ("JWT", "James W. Thornton, MD"),
    ("MLN", "Mei-Lin Nguyen, NP"),
    ("ABR", "Amir B. Rahimi, PA-C"),
)

#: code, name, kind, EDI payer id, allowed % of the fee, pays by (eft|check), adjudication lag (business days)
PAYERS = (
    ("MCR", "Medicare Part B", "medicare", "00952", 56, "eft", (9, 15)),
    ("MCD", "State Medicaid", "medicaid", "77027", 46, "eft", (14, 30)),
    ("BLUE", "Blue Prairie Health Plan", "commercial", "47198", 72, "eft", (10, 25)),
    ("SUMMIT", "Summit Mutual Insurance", "commercial", "60054", 68, "eft", (12, 28)),
    ("LAKE", "Lakeshore Care HMO", "commercial", "95112", 64, "eft", (10, 22)),
    ("PIONEER", "Pioneer Benefits", "commercial", "38217", 75, "check", (15, 35)),
    ("KEY", "Keystone Health Alliance", "commercial", "23284", 70, "check", (12, 30)),
    ("TRICARE", "Tricounty Military Health", "other", "99726", 60, "eft", (15, 30)),
    ("WCOMP", "Workers' Comp Fund of Illinois", "other", "WC001", 85, "check", (20, 40)),
    ("SELF", "Self-pay (no insurance)", "self-pay", "", 100, "check", (0, 0)),
)

#: The office's fee schedule: code, our own short description, fee in cents, default units.
FEE_SCHEDULE = (
    ("99202", "New patient visit, straightforward", 9500, 1),
    ("99203", "New patient visit, low complexity", 14500, 1),
    ("99204", "New patient visit, moderate complexity", 21500, 1),
    ("99205", "New patient visit, high complexity", 28500, 1),
    ("99211", "Established visit, nurse only", 3000, 1),
    ("99212", "Established visit, straightforward", 7000, 1),
    ("99213", "Established visit, low complexity", 11000, 1),
    ("99214", "Established visit, moderate complexity", 16000, 1),
    ("99215", "Established visit, high complexity", 22500, 1),
    ("99385", "Wellness exam, new patient 18-39", 19000, 1),
    ("99386", "Wellness exam, new patient 40-64", 21000, 1),
    ("99395", "Wellness exam, established 18-39", 18000, 1),
    ("99396", "Wellness exam, established 40-64", 19500, 1),
    ("99397", "Wellness exam, established 65 and over", 21000, 1),
    ("G0438", "Medicare wellness visit, first", 17500, 1),
    ("G0439", "Medicare wellness visit, yearly", 12500, 1),
    ("36415", "Blood draw, venous", 1500, 1),
    ("81002", "Urine dipstick, read by hand", 1000, 1),
    ("81003", "Urine dipstick, machine read", 1200, 1),
    ("82962", "Fingerstick glucose", 1000, 1),
    ("83036", "A1c in office", 3500, 1),
    ("85018", "Hemoglobin in office", 900, 1),
    ("85025", "Blood count with differential", 2500, 1),
    ("80053", "Chemistry panel, comprehensive", 3800, 1),
    ("80061", "Cholesterol panel", 4000, 1),
    ("84443", "Thyroid stimulating hormone", 4500, 1),
    ("87880", "Rapid strep test", 2800, 1),
    ("87804", "Rapid flu test", 3200, 1),
    ("90471", "Vaccine given, first", 3000, 1),
    ("90472", "Vaccine given, each more", 1800, 1),
    ("90686", "Flu shot, 4-strain, no preservative", 3500, 1),
    ("90715", "Tetanus-diphtheria-pertussis shot", 6000, 1),
    ("93000", "Heart tracing with reading", 6000, 1),
    ("94010", "Breathing test", 7000, 1),
    ("96372", "Shot into muscle or under skin", 3500, 1),
    ("J1100", "Dexamethasone, per mg", 300, 4),
    ("J3420", "Vitamin B12 shot", 1800, 1),
    ("J1885", "Ketorolac, per 15 mg", 500, 2),
    ("J0696", "Ceftriaxone, per 250 mg", 1500, 1),
    ("69210", "Ear wax removal", 7500, 1),
    ("17110", "Wart removal, up to 14", 15000, 1),
    ("99406", "Quit-smoking counselling, short", 3000, 1),
)

#: Visit codes and how often each is billed (per mille).
_VISITS = (("99213", 330), ("99214", 290), ("99212", 80), ("99215", 50), ("99203", 50), ("99204", 40),
           ("99202", 10), ("99205", 10), ("99211", 20), ("99395", 30), ("99396", 40), ("99397", 20),
           ("99385", 10), ("99386", 10), ("G0439", 10))
#: What else happens at a visit: a few lines that go together.
_EXTRAS = (("36415", "85025"), ("36415", "80053"), ("36415", "80061", "83036"), ("81002",), ("81003",),
           ("93000",), ("96372", "J1100"), ("96372", "J3420"), ("96372", "J1885"), ("90471", "90686"),
           ("90471", "90715"), ("87880",), ("87804",), ("69210",), ("82962",), ("84443",), ("94010",),
           ("17110",), ("99406",), ("85018",), ("96372", "J0696"))

FIRST_F = ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
           "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
           "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Dorothy", "Rebecca", "Sharon", "Laura", "Cynthia",
           "Amy", "Kathleen", "Angela", "Shirley", "Brenda", "Emma", "Anna", "Pamela", "Nicole", "Samantha",
           "Katherine", "Christine", "Helen", "Debra", "Rachel", "Carolyn", "Janet", "Maria", "Catherine", "Heather",
           "Diane", "Olivia", "Julie", "Joyce", "Victoria", "Ruth", "Virginia", "Lauren", "Kelly", "Christina",
           "Joan", "Evelyn", "Judith", "Andrea", "Hannah", "Megan", "Cheryl", "Jacqueline", "Martha", "Madison",
           "Teresa", "Gloria", "Sara", "Janice", "Ann", "Kathryn", "Abigail", "Sophia", "Frances", "Jean",
           "Alice", "Judy", "Isabella", "Julia", "Grace", "Amber", "Denise", "Danielle", "Marilyn", "Beverly",
           "Charlotte", "Natalie", "Theresa", "Diana", "Brittany", "Doris", "Kayla", "Alexis", "Lori", "Marie",
           "Guadalupe", "Ximena", "Aaliyah", "Priya", "Yuki", "Fatima", "Siobhan", "Zoë", "Renée", "Chloé")
FIRST_M = ("James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Christopher",
           "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew", "Paul", "Joshua",
           "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan",
           "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
           "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Jerry",
           "Tyler", "Aaron", "Jose", "Adam", "Nathan", "Henry", "Zachary", "Douglas", "Peter", "Kyle",
           "Noah", "Ethan", "Jeremy", "Walter", "Christian", "Keith", "Roger", "Terry", "Austin", "Sean",
           "Gerald", "Carl", "Harold", "Dylan", "Arthur", "Lawrence", "Jordan", "Jesse", "Bryan", "Billy",
           "Bruce", "Gabriel", "Joe", "Logan", "Alan", "Juan", "Albert", "Willie", "Elijah", "Wayne",
           "Luis", "Mohammed", "Wei", "Hiroshi", "Oluwaseun", "Seán", "José", "Dmitri", "Rajesh", "Tomás")
LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
        "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
        "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
        "Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
        "Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
        "Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
        "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
        "O'Brien", "O'Connor", "McDonald", "MacLeod", "D'Angelo", "St. James", "Van der Berg", "De la Cruz",
        "García-López", "Smith-Jones", "Nakamura", "Kowalski", "Schröder", "Okonkwo", "Lindqvist", "Ó Súilleabháin",
        "Papadopoulos", "Wójcik", "Nguyễn", "Al-Sayed", "Abernathy-Whitfield", "Lo", "Ng", "Oz")
#: Names that have broken screens elsewhere: markup, quotes, wide characters, long and short names.
TRICKY = (
    ("[bold]O'Brien [/]", "Siobhan", "F"),
    ("Lee [red]", "Ann [/]", "F"),
    ("Müller-Lüdenscheidt", "Ann-Kathrin", "F"),
    ("Wolfeschlegelsteinhausenbergerdorff-Featherstonehaugh", "Hubert", "M"),
    ("O", "Al", "M"),
    ("王", "小明", "M"),
    ("Robert'); DROP TABLE patient;--", "Bobby", "M"),
    ("\\N", "Null", "X"),
)
STREETS = ("Maple St", "Oak Ave", "Elm St", "Washington Blvd", "Lincoln Rd", "Park Ave", "Cedar Ln", "Lakeview Dr",
           "Hillcrest Rd", "Sunset Blvd", "Main St", "Church St", "Prairie Way", "Jefferson St", "Walnut St")
CITIES = (("Springfield", "IL", "627"), ("Chatham", "IL", "626"), ("Rochester", "IL", "626"),
          ("Sherman", "IL", "626"), ("Decatur", "IL", "625"), ("Jacksonville", "IL", "626"))
CLERKS = ("mgarcia", "jchen", "apatel", "lwilson", "kobrien")
MANAGER = "dthompson"
ADMIN = "setup"

_TZ = "+00:00"  # synthetic timestamps carry a fixed offset so a seed always gives the same rows


@dataclass(slots=True)
class _Charge:
    """A charge as the simulation follows it (its final state becomes its charge_balance row)."""

    id: int
    patient: int
    amount: int
    balance: int
    payer: int | None  # who owes it now (None: the patient)
    code: str
    dos: str
    billed: int | None  # who it was billed to when posted


@dataclass(slots=True)
class _Encounter:
    id: int
    patient: int
    payer: int | None
    charges: list[_Charge]
    voided: bool = False
    plan: Plan | None = None  # kept only for an encounter that will be voided


@dataclass(slots=True)
class _Receipt:
    id: int
    method: str
    amount: int
    patient: int | None
    payer: int | None
    source: str
    unapplied: int = 0
    row: ReceiptRow | None = None
    #: each distribution from it, with its lines (kept only while it may still be voided)
    distributions: list[DistributionParts] = field(default_factory=list)


def _business_days(today: dt.date, count: int) -> list[dt.date]:
    """``count`` days ending today: today itself plus the weekdays before it."""
    out = [today]
    day = today
    while len(out) < count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return out[::-1]


class _Figures:
    """A period's figures, summed from the planned rows as they are made (what
    ``summary.period_summary`` reads back from the database: a test holds them equal)."""

    def __init__(self) -> None:
        self.charge_lines = self.charges = self.charge_voids = 0
        self.receipt_count = self.check_count = 0
        self.receipts = dict.fromkeys(METHODS, 0)
        self.refunds = dict.fromkeys(METHODS, 0)
        self.applications = 0
        self.by_reason: dict[str, int] = {}
        self.transfer_count = self.transfer_total = 0
        self.by_provider: dict[str, list[int]] = {}
        self.by_operator: dict[str, list[int]] = {}
        self.by_source = dict.fromkeys(SOURCES, 0)
        self.receipt_counts = dict.fromkeys(METHODS, 0)
        self.refund_count = self.receipt_voids = 0
        self.voids_by_kind = dict.fromkeys(VOID_KINDS, 0)

    def _charge(self, row: ChargeRow, provider_codes: dict[int, str]) -> None:
        original = row.reverses_id is None
        self.charges += row.amount
        if original:
            self.charge_lines += 1
        else:
            self.charge_voids += row.amount
        for key, table in ((provider_codes[row.provider_id], self.by_provider), (row.operator, self.by_operator)):
            entry = table.setdefault(key, [0, 0])
            entry[0] += original
            entry[1] += row.amount

    def _application(self, row: ApplicationRow, provider_codes: dict[int, str]) -> None:
        self.applications += row.amount

    def _adjustment(self, row: AdjustmentRow, provider_codes: dict[int, str]) -> None:
        self.by_reason[row.reason_code] = self.by_reason.get(row.reason_code, 0) + row.amount

    def _receipt(self, row: ReceiptRow, provider_codes: dict[int, str]) -> None:
        sign = 1 if row.reverses_id is None else -1
        self.receipts[row.method] += row.amount
        self.by_source[row.source] += row.amount
        self.receipt_counts[row.method] += sign
        self.receipt_count += sign
        self.check_count += sign if row.method == "check" else 0
        if sign < 0:
            self.receipt_voids += row.amount
            self.voids_by_kind["receipt"] += 1

    def _transfer(self, row: TransferRow, provider_codes: dict[int, str]) -> None:
        sign = 1 if row.reverses_id is None else -1
        self.transfer_count += sign
        self.transfer_total += sign * row.amount

    def _refund(self, row: RefundRow, provider_codes: dict[int, str]) -> None:
        sign = 1 if row.reverses_id is None else -1
        self.refunds[row.method] += row.amount
        self.refund_count += sign
        self.voids_by_kind["refund"] += sign < 0

    def _entry(self, row: EncounterRow | DistributionRow, provider_codes: dict[int, str]) -> None:
        if row.reverses_id is not None:
            self.voids_by_kind[TABLE_OF[type(row)]] += 1

    def merge(self, other: _Figures) -> None:
        """Add another period's figures (a closed day's into its month's)."""
        for name in ("charge_lines", "charges", "charge_voids", "receipt_count", "check_count", "applications",
                     "transfer_count", "transfer_total", "refund_count", "receipt_voids"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.receipts, other.receipts), (self.refunds, other.refunds),
                             (self.by_reason, other.by_reason), (self.by_source, other.by_source),
                             (self.receipt_counts, other.receipt_counts), (self.voids_by_kind, other.voids_by_kind)):
            for k, n in theirs.items():
                mine[k] = mine.get(k, 0) + n
        for table, theirs_lines in ((self.by_provider, other.by_provider), (self.by_operator, other.by_operator)):
            for k, (n, total) in theirs_lines.items():
                entry = table.setdefault(k, [0, 0])
                entry[0] += n
                entry[1] += total

    def summary(self, start: str, end: str, opening: tuple[int, int]) -> PeriodSummary:
        """The period's summary as a close keeps it: closed at the end of its last day, so the open
        items then were the closing figures."""
        adjustments = sum(self.by_reason.values())
        closing_ar = opening[0] + self.charges - self.applications - adjustments
        closing_unapplied = opening[1] + sum(self.receipts.values()) - self.applications - sum(self.refunds.values())
        return PeriodSummary(
            start=start, end=end, charge_lines=self.charge_lines, charges=self.charges,
            charge_voids=self.charge_voids, receipt_count=self.receipt_count, check_count=self.check_count,
            receipts_by_method=dict(self.receipts), refunds_by_method=dict(self.refunds),
            applications=self.applications, adjustments=adjustments,
            adjustments_by_reason=dict(sorted(self.by_reason.items())),
            transfer_count=self.transfer_count, transfer_total=self.transfer_total,
            void_count=sum(self.voids_by_kind.values()), opening_ar=opening[0], closing_ar=closing_ar,
            opening_unapplied=opening[1], closing_unapplied=closing_unapplied, current_ar=closing_ar,
            current_unapplied=closing_unapplied, proof_errors=(),
            charges_by_provider={k: self.by_provider[k] for k in sorted(self.by_provider, key=str.upper)},
            charges_by_operator={k: self.by_operator[k] for k in sorted(self.by_operator)},
            receipts_by_source=dict(self.by_source), receipt_counts_by_method=dict(self.receipt_counts),
            refund_count=self.refund_count, voids_by_kind=dict(self.voids_by_kind),
            receipt_voids=self.receipt_voids,
        )


#: row type -> how it changes a period's figures
_FIGURES: dict[type, Any] = {
    ChargeRow: _Figures._charge, ApplicationRow: _Figures._application, AdjustmentRow: _Figures._adjustment,
    ReceiptRow: _Figures._receipt, TransferRow: _Figures._transfer, RefundRow: _Figures._refund,
    EncounterRow: _Figures._entry, DistributionRow: _Figures._entry,
}


#: Where a day's planned rows wait, in the order they are inserted: parents first, and receipt
#: reversals after the application reversals that give the money back.
_FLUSH_ORDER = ("batch", "encounter", "encounter_diagnosis", "charge", "receipt", "distribution", "application",
                "adjustment", "transfer", "refund", "receipt_reversal", "batch_close", "audit_event", "day_close",
                "month_close")


class _Builder:
    """Simulates the office day by day; every posting goes through the ledger's planners, whose
    rows and audit events it collects (and, when ``log`` is a list, the same postings as calls
    of the store's operations, for the test that posts them one at a time)."""

    def __init__(self, rng: random.Random, days: list[dt.date], charges: int, patient_count: int,
                 provider_ids: list[int], payers: dict[int, tuple], diagnoses: list[str],
                 log: list[tuple[str, dict]] | None = None) -> None:
        self.rng = rng
        self.random = rng.random
        self.dos_choices: list[str] = []
        self.days = days
        self.dates = [d.isoformat() for d in days]
        self.today = self.dates[-1]
        self.total_charges = charges
        self.patient_count = patient_count
        self.provider_ids = provider_ids
        self.provider_codes = {pid: code for pid, (code, _) in zip(provider_ids, PROVIDERS, strict=False)}
        self.payers = payers  # id -> (code, kind, allowed %, method, lag)
        self.diagnoses = diagnoses
        self.rows: dict[str, list[tuple]] = defaultdict(list)
        self.events: list[AuditEvent] = []
        self.ids = IdBook()
        self.log = log
        self.patient_payer: list[int | None] = []  # index = patient id
        # Work waiting for a later business day, by day index.
        self.adjudicate: dict[int, list[_Encounter]] = defaultdict(list)
        self.patient_pay: dict[int, list[_Charge]] = defaultdict(list)
        self.write_off: dict[int, list[_Charge]] = defaultdict(list)
        self.void_encounters: dict[int, list[_Encounter]] = defaultdict(list)
        self.refunds: dict[int, list[_Receipt]] = defaultdict(list)
        self.void_refunds: dict[int, list[tuple[RefundRow, _Receipt]]] = defaultdict(list)
        self.bounces: dict[int, list[_Receipt]] = defaultdict(list)
        self.check_no = 1000
        self.all_charges: list[_Charge] = []
        self.charge_by_id: dict[int, _Charge] = {}
        self.all_receipts: list[_Receipt] = []
        self.receipt_by_id: dict[int, _Receipt] = {}
        self.clock = 0
        self.step = 1
        self.day = _Figures()
        self.month = _Figures()
        self.date = ""
        self.today_index = len(days) - 1
        self.stats: dict[str, int] = defaultdict(int)
        self.reasons = frozenset(code for code, _, _ in STANDARD_REASONS)
        self.payer_ids = frozenset(payers)
        self.fees = {code: fee for code, (fee, _) in _FEES.items()}
        self.encounter_facts: dict[tuple[int, int | None], EncounterFacts] = {}

    # ----------------------------------------------------------------- helpers

    def now(self) -> str:
        """The synthetic clock of the current posting date (08:00 onwards)."""
        self.clock = min(self.clock + self.step, 86399)
        return self.date + _TIMES[self.clock]

    def later(self, index: int, low: int, high: int) -> int:
        return index + self.rng.randint(low, high)

    def call(self, operation: str, **kwargs: object) -> None:
        """Note the posting as the store operation that would make the same rows (for the test)."""
        if self.log is not None:
            self.log.append((operation, kwargs))

    def post(self, plan: Plan) -> Plan:
        """Keep a plan's rows and event, and follow its effect on the charges, receipts and figures."""
        rows = self.rows
        day, codes_ = self.day, self.provider_codes
        for row in plan.rows:
            kind = type(row)
            if kind is ReceiptRow and row.reverses_id is not None:  # type: ignore[union-attr]
                rows["receipt_reversal"].append(tuple(row))
                # a voided receipt's money is gone (its reversal is not a receipt of its own)
                self.receipt_by_id[row.reverses_id].unapplied += row.amount  # type: ignore[union-attr]
            else:
                rows[TABLE_OF[kind]].append(tuple(row))  # plain tuples cross to the writing process faster
            follow = _FIGURES.get(kind)  # (rows that change no figure cost this one lookup)
            if follow is not None:
                follow(day, row, codes_)
            if kind is ApplicationRow:
                self.charge_by_id[row.charge_id].balance -= row.amount  # type: ignore[union-attr]
                self.receipt_by_id[row.receipt_id].unapplied -= row.amount  # type: ignore[union-attr,index]
            elif kind is AdjustmentRow:
                self.charge_by_id[row.charge_id].balance -= row.amount  # type: ignore[union-attr]
            elif kind is TransferRow:
                self.charge_by_id[row.charge_id].payer = row.to_payer_id  # type: ignore[union-attr]
            elif kind is RefundRow:
                self.receipt_by_id[row.receipt_id].unapplied -= row.amount  # type: ignore[union-attr,index]
        self.events.append(plan.event)
        return plan

    def batch(self, kind: str, user: str, control_count: int, control_total: int, opened: str) -> BatchStatus:
        self.call("open_batch", kind=kind, control_count=control_count, control_total=control_total,
                  posting_date=self.date, operator=user)
        plan = self.post(plan_open_batch(kind, control_count, control_total, posting_date=self.date, user=user,
                                         now=opened, ids=self.ids))
        row: BatchRow = plan.rows[0]  # type: ignore[assignment]
        return BatchStatus(row.id, kind, self.date, user, control_count, control_total, 0, 0, False)

    def close_batch(self, batch: BatchStatus, count: int, total: int) -> None:
        self.call("close_batch", batch_id=batch.id, operator=batch.operator)
        status = BatchStatus(batch.id, batch.kind, batch.posting_date, batch.operator, batch.control_count,
                             batch.control_total, count, total, False)
        self.post(plan_close_batch(status, user=batch.operator, now=self.now()))

    def charge_state(self, ch: _Charge) -> ChargeState:
        return ChargeState(ch.id, ch.patient, ch.billed, None, ch.balance, ch.payer)

    def receipt_state(self, rec: _Receipt) -> ReceiptState:
        return ReceiptState(rec.id, rec.source, rec.patient, rec.payer, None, rec.unapplied, False)

    # ----------------------------------------------------------------- charges

    def _draw_encounter(self, limit: int) -> tuple[dict, int, int]:
        """What the clerk keys for one encounter of at most ``limit`` lines: (the operation's
        arguments, lines, total). The hot loop of a build."""
        random = self.random
        # A few patients visit often: skew towards low ids (the tricky names come first).
        patient = 1 + int(self.patient_count * random() ** 1.6)
        payer = self.patient_payer[patient]
        provider = self.provider_ids[int(random() * len(self.provider_ids))]
        dos = self.dos_choices[int(random() * len(self.dos_choices))]
        pos = "11" if random() < 0.97 else "02"
        codes_ = [_VISIT_CODES[bisect.bisect(_VISIT_CUM, random() * _VISIT_CUM[-1])]]
        r = random()
        if r < 0.45:
            codes_ += _EXTRAS[int(random() * len(_EXTRAS))]
        elif r < 0.55:
            codes_ += _EXTRAS[int(random() * len(_EXTRAS))] + _EXTRAS[int(random() * len(_EXTRAS))]
            codes_ = list(dict.fromkeys(codes_))
        if len(codes_) > limit or len(codes_) > 4:
            codes_ = codes_[:min(limit, 4)]
        diagnoses = self.diagnoses
        ndx = (1, 1, 2, 2, 2, 3)[int(random() * 6)]
        if ndx == 1:
            dx = [diagnoses[int(random() * len(diagnoses))]]
        else:
            dx = self.rng.sample(diagnoses, ndx)
        lines = []
        total = 0
        for line_no, code in enumerate(codes_, start=1):
            fee, units = _FEES[code]
            if units > 1:
                units = 1 + int(random() * units)
            total += fee * units
            pointers = _ONE if ndx == 1 or line_no == 1 else (_ONE_TWO if line_no == 2 else _TWO)
            mods = _MOD25 if line_no == 1 and len(codes_) > 1 and code[:2] == "99" and random() < 0.3 else ()
            lines.append(ChargeLine(code, units, None, mods, pointers))
        args = {"patient_id": patient, "provider_id": provider, "dos": dos, "diagnoses": dx, "lines": lines,
                "pos": pos, "payer_id": payer, "now": self.now()}
        return args, len(lines), total

    def _encounter(self, batch: BatchStatus, args: dict, index: int) -> None:
        now = args.pop("now")
        if self.log is not None:
            self.call("post_encounter", **args, batch_id=batch.id, posting_date=self.date, operator=batch.operator)
        # the same facts for every encounter of a batch and payer (a frozen dataclass costs to build)
        key = (batch.id, args["payer_id"])
        facts = self.encounter_facts.get(key)
        if facts is None or facts.batch is not batch:
            if len(self.encounter_facts) > 64:
                self.encounter_facts.clear()
            facts = self.encounter_facts[key] = EncounterFacts(True, True, True, args["payer_id"], self.fees, batch,
                                                               self.today)
        plan = plan_encounter(**args, batch_id=batch.id, posting_date=self.date, user=batch.operator, now=now,
                              ids=self.ids, facts=facts)
        patient, payer = args["patient_id"], args["payer_id"]
        lines = []
        for row in plan.rows:
            if type(row) is ChargeRow:
                ch = _Charge(row.id, patient, row.amount, row.amount, payer, row.code, row.dos, payer)
                lines.append(ch)
                self.charge_by_id[ch.id] = ch
        self.post(plan)
        self.all_charges.extend(lines)
        random = self.random
        enc = _Encounter(plan.event.entity_id or 0, patient, payer, lines)
        last = self.today_index
        if random() < 0.005 and index < last:
            self.void_encounters[min(self.later(index, 1, 3), last)].append(enc)
            enc.voided = True
            enc.plan = plan
        elif payer is not None:
            low, high = self.payers[payer][4]
            self.adjudicate[index + low + int(random() * (high - low + 1))].append(enc)
        elif random() < 0.6:
            self.patient_pay[index].extend(lines)  # paid at the desk
        elif random() < 0.6:
            self.patient_pay[self.later(index, 15, 40)].extend(lines)  # paid from a statement

    def charge_batches(self, index: int, quota: int, *, today: bool) -> None:
        rng = self.rng
        batches = []
        while quota > 0:
            user = rng.choice(CLERKS)
            opened = self.now()
            drawn = []
            count = total = 0
            size = rng.randint(25, 80)
            while count < size and quota > 0:
                args, n, amount = self._draw_encounter(quota)
                drawn.append(args)
                quota -= n
                count += 1
                total += amount
            batches.append((user, opened, drawn, count, total))
        for k, (user, opened, drawn, count, total) in enumerate(batches):
            control_count, control_total = count, total
            still_keying = today and k == len(batches) - 1 and len(batches) > 1
            if still_keying:  # the clerk is part-way through the stack
                control_count += rng.randint(3, 12)
                control_total += rng.randint(300, 1500) * 100
            batch = self.batch("charge", user, control_count, control_total, opened)
            for args in drawn:
                self._encounter(batch, args, index)
            if not (today and k >= len(batches) - 2):
                self.close_batch(batch, count, total)

    # ----------------------------------------------------------------- receipts and distributions

    def receipt(self, batch: BatchStatus, method: str, amount: int, *, patient: int | None = None,
                payer: int | None = None, reference: str = "", received: str | None = None) -> _Receipt:
        received = received or self.date
        if self.log is not None:
            self.call("record_receipt", amount=amount, method=method, patient_id=patient, payer_id=payer,
                  reference=reference, received_date=received, batch_id=batch.id, posting_date=self.date,
                  operator=batch.operator)
        plan = plan_receipt(amount=amount, method=method, patient_id=patient, payer_id=payer, reference=reference,
                            received_date=received, batch_id=batch.id, posting_date=self.date, user=batch.operator,
                            now=self.now(), ids=self.ids, facts=ReceiptFacts(True, True, batch, self.today))
        row: ReceiptRow = plan.rows[0]  # type: ignore[assignment]
        rec = _Receipt(row.id, method, amount, patient, payer, row.source, unapplied=amount, row=row)
        self.receipt_by_id[rec.id] = rec
        self.all_receipts.append(rec)
        self.post(plan)
        return rec

    def distribute(self, receipt: _Receipt | None, user: str,
                   lines: Sequence[tuple[_Charge, int, int, str | None, bool]]) -> Plan:
        """One distribution: (charge, applied, adjustment, reason, transfer to patient) per line."""
        keyed = [DistributionLine(ch.id, applied, adjustment, reason, move)
                 for ch, applied, adjustment, reason, move in lines]
        rid = receipt.id if receipt else None
        if self.log is not None:
            self.call("distribute", receipt_id=rid, lines=keyed, posting_date=self.date, operator=user)
        facts = DistributionFacts(
            receipt=self.receipt_state(receipt) if receipt else None,
            charges={ch.id: self.charge_state(ch) for ch, *_ in lines}, reasons=self.reasons, payers=self.payer_ids)
        plan = self.post(plan_distribution(rid, keyed, posting_date=self.date, user=user, now=self.now(),
                                           ids=self.ids, facts=facts))
        if receipt:
            receipt.distributions.append(_parts(plan))
        return plan

    def void(self, kind: str, entry_id: int, reason: str, user: str, facts: VoidFacts) -> Plan:
        self.call("void", kind=kind, entry_id=entry_id, reason=reason, posting_date=self.date, operator=user)
        return self.post(plan_void(kind, entry_id, reason, facts=facts, posting_date=self.date, user=user,
                                   now=self.now(), ids=self.ids))

    def charges_now(self, parts: Iterable[DistributionParts]) -> dict[int, ChargeNow]:
        found = {}
        for p in parts:
            lines: tuple[ApplicationRow | AdjustmentRow | TransferRow, ...] = (
                *p.applications, *p.adjustments, *p.transfers)
            for line in lines:
                ch = self.charge_by_id[line.charge_id]
                found[ch.id] = ChargeNow(ch.balance, ch.payer)
        return found

    def void_distribution(self, parts: DistributionParts, reason: str, user: str) -> int:
        """Void a distribution (its applications, adjustments and transfers); returns the reversal's id."""
        facts = VoidFacts(original=Voidable(parts.row, False), distributions=(parts,),
                          charges_now=self.charges_now((parts,)))
        plan = self.void("distribution", parts.row.id, reason, user, facts)
        reversal: int = plan.event.detail["reversal_id"]
        return reversal

    def remittances(self, index: int, *, today: bool) -> list[_Receipt]:
        """Payers pay the claims they adjudicated today: CO-45 the contract, PR to the patient."""
        rng = self.rng
        due = self.adjudicate.pop(index, [])
        by_payer: dict[int, list[_Encounter]] = defaultdict(list)
        for enc in due:
            if not enc.voided:
                by_payer[enc.payer].append(enc)  # type: ignore[index]
        batches = []
        ymd = self.date.replace("-", "")
        for payer in sorted(by_payer):
            code, kind, allowed_pct, method, _ = self.payers[payer]
            encounters = by_payer[payer]
            # Checks arrive as a few envelopes; an EFT is one trace a day.
            parts = 1 if method == "eft" else min(len(encounters), rng.randint(1, 3))
            for p in range(parts):
                group = encounters[p::parts]
                plan = []
                pay_total = 0
                for enc in group:
                    denied = rng.random() < 0.03
                    for ch in enc.charges:
                        allowed = ch.amount * allowed_pct // 100
                        if denied or (ch.code in _BUNDLED and rng.random() < 0.15):
                            plan.append((ch, 0, ch.amount, "CO-97", False))
                            continue
                        patient_part = 0
                        if kind == "medicare":
                            patient_part = allowed // 5  # coinsurance
                        elif kind == "commercial":
                            r = rng.random()
                            if r < 0.12:
                                patient_part = allowed if rng.random() < 0.5 else allowed * rng.randint(20, 80) // 100
                            elif r < 0.35:
                                patient_part = allowed // 5
                        paid = allowed - patient_part
                        plan.append((ch, paid, ch.amount - allowed, "CO-45", patient_part > 0))
                        pay_total += paid
                batches.append((payer, method, pay_total, plan, len(group)))
        if not batches:
            return []
        user = rng.choice(CLERKS)
        opened = self.now()
        # Each payment's reference and received date, then the batch with their count and total.
        payments = []
        for payer, method, pay_total, plan, _ in batches:
            if pay_total == 0:
                payments.append((payer, method, 0, plan, "", ""))
                continue
            if method == "eft":
                ref = f"EFT{self.payers[payer][0]}{ymd}"
                received = self.date
            else:
                self.check_no += rng.randint(1, 40)
                ref = f"{self.check_no:07d}"
                received = (self.days[index] - dt.timedelta(days=rng.randint(0, 2))).isoformat()
                received = max(received, self.dates[0])
            payments.append((payer, method, pay_total, plan, ref, received))
        count = sum(1 for p in payments if p[2])
        total = sum(p[2] for p in payments)
        batch = self.batch("receipt", user, count, total, opened)
        receipts: list[tuple[_Receipt | None, list]] = []
        for payer, method, pay_total, plan, ref, received in payments:
            rec = self.receipt(batch, method, pay_total, payer=payer, reference=ref, received=received) \
                if pay_total else None
            receipts.append((rec, plan))
        queue = []
        for k, (rec, plan) in enumerate(receipts):
            if today and rec is not None and k % 2 == 0:
                queue.append(rec)  # left in the receipts queue for the clerk to distribute
                continue
            for start in range(0, len(plan), 30):  # one distribution per few claims, as keyed from the EOB
                chunk = plan[start:start + 30]
                posted = self.distribute(rec, user, chunk)
                # Now and then a clerk voids a distribution and posts it again; at least once in
                # any demo, so the screens have one with transfers to show.
                if rng.random() < 0.004 or (not self.stats["voided distributions"] and posted.of(TransferRow)):
                    voided = _parts(posted)
                    if rec:
                        rec.distributions.pop()
                    self.void_distribution(voided, "keyed against the wrong remittance line; reposted", user)
                    self.stats["voided distributions"] += 1
                    self.distribute(rec, user, chunk)
            for ch, _, _, _, move in plan:
                if move and ch.payer is None and ch.balance > 0:
                    self.patient_pays_later(index, ch)
        for rec, _ in receipts:
            if rec is not None:
                rec.distributions = []
        if not today:
            self.close_batch(batch, count, total)
        return queue

    def patient_pays_later(self, index: int, ch: _Charge) -> None:
        r = self.rng.random()
        if r < 0.65:
            self.patient_pay[self.later(index, 8, 30)].append(ch)
        elif r < 0.8 and ch.balance <= 1500:
            self.write_off[self.later(index, 20, 45)].append(ch)

    def patient_receipts(self, index: int) -> None:
        rng = self.rng
        due = [ch for ch in self.patient_pay.pop(index, []) if ch.balance > 0 and ch.payer is None]
        by_patient: dict[int, list[_Charge]] = defaultdict(list)
        for ch in due:
            by_patient[ch.patient].append(ch)
        on_account = rng.random() < 0.3
        if not by_patient and not on_account:
            return
        user = rng.choice(CLERKS)
        opened = self.now()
        # What each patient pays (the batch's control figures come from the stack of payments).
        payments = []
        for patient in sorted(by_patient):
            charges = by_patient[patient]
            owed = sum(ch.balance for ch in charges)
            r = rng.random()
            method = "card" if r < 0.5 else ("cash" if r < 0.7 else "check")
            amount = owed
            partial = rng.random() < 0.1
            if partial:
                amount = max(100, owed * rng.randint(50, 90) // 100 // 100 * 100)
            extra = 0
            if not partial and rng.random() < 0.04:
                extra = rng.randint(5, 40) * 100  # paid more than owed: a credit
            ref = ""
            if method == "check":
                self.check_no += rng.randint(1, 9)
                ref = f"{self.check_no:06d}"
            elif method == "card":
                ref = f"AUTH{rng.randint(100000, 999999)}"
            payments.append((patient, charges, method, amount, extra, partial, ref))
        # Now and then a patient pays on account before any charge: a credit in the queue.
        credit = (1 + rng.randrange(self.patient_count), rng.randint(2, 20) * 500) if on_account else None
        count = len(payments) + (credit is not None)
        total = sum(p[3] + p[4] for p in payments) + (credit[1] if credit else 0)
        batch = self.batch("receipt", user, count, total, opened)
        for patient, charges, method, amount, extra, partial, ref in payments:
            rec = self.receipt(batch, method, amount + extra, patient=patient, reference=ref)
            left = amount
            plan = []
            for ch in charges:
                pay = min(left, ch.balance)
                if pay:
                    plan.append((ch, pay, 0, None, False))
                    left -= pay
            self.distribute(rec, user, plan)
            if partial:
                for ch in charges:
                    if 0 < ch.balance <= 1000:
                        self.write_off[self.later(index, 10, 30)].append(ch)
            if extra and index < self.today_index and rng.random() < 0.6:
                self.refunds[self.later(index, 3, 10)].append(rec)
            elif method == "check" and not extra and index + 6 < self.today_index and (
                    rng.random() < 0.01 or not self.stats["bounces planned"]):
                self.stats["bounces planned"] += 1
                self.bounces[self.later(index, 2, 6)].append(rec)
                continue
            rec.distributions = []  # only a bounce needs them again
        if credit:
            self.receipt(batch, "cash", credit[1], patient=credit[0])
        if index < self.today_index:
            self.close_batch(batch, count, total)

    def write_offs(self, index: int) -> None:
        due = [ch for ch in self.write_off.pop(index, []) if 0 < ch.balance <= 1500 and ch.payer is None]
        due = list({ch.id: ch for ch in due}.values())
        if due:
            self.distribute(None, MANAGER, [(ch, 0, ch.balance, "SMALL", False) for ch in due])

    # ----------------------------------------------------------------- voids and refunds

    def void_encounters_due(self, index: int) -> None:
        for enc in self.void_encounters.pop(index, []):
            user = self.rng.choice(CLERKS)
            reason = self.rng.choice(("wrong patient", "duplicate entry", "wrong date of service"))
            assert enc.plan is not None
            original = enc.plan.of(EncounterRow)[0]
            facts = VoidFacts(original=Voidable(original, False), charges=tuple(enc.plan.of(ChargeRow)))
            self.void("encounter", enc.id, reason, user, facts)
            for ch in enc.charges:
                ch.balance = 0
            enc.plan = None
            self.stats["voided encounters"] += 1

    def refunds_due(self, index: int) -> None:
        rng = self.rng
        for rec in self.refunds.pop(index, []):
            if rec.unapplied <= 0:
                continue
            if self.day.refunds["check"] + rec.unapplied > self.day.receipts["check"]:
                self.refunds[index + 1].append(rec)  # refunds wait for a day with enough checks in
                continue
            self.check_no += 1
            ref = f"{self.check_no:07d}"
            self.call("refund", receipt_id=rec.id, amount=rec.unapplied, method="check", reference=ref,
                      reason="overpayment", posting_date=self.date, operator=MANAGER)
            plan = self.post(plan_refund(rec.id, rec.unapplied, method="check", reference=ref, reason="overpayment",
                                         receipt=self.receipt_state(rec), posting_date=self.date, user=MANAGER,
                                         now=self.now(), ids=self.ids))
            self.stats["refunds"] += 1
            if rng.random() < 0.08 or not self.void_refunds and not self.stats["voided refunds"]:
                self.void_refunds[min(self.later(index, 1, 4), self.today_index)].append(
                    (plan.of(RefundRow)[0], rec))

    def refund_voids_due(self, index: int) -> None:
        for row, _rec in self.void_refunds.pop(index, []):
            self.void("refund", row.id, "refund check returned undeliverable", MANAGER,
                      VoidFacts(original=Voidable(row, False)))
            self.stats["voided refunds"] += 1

    def bounces_due(self, index: int) -> None:
        day = self.day
        for rec in self.bounces.pop(index, []):
            if rec.unapplied != 0 or day.receipts["check"] - day.refunds["check"] < rec.amount or day.check_count < 1:
                if index < self.today_index:
                    self.bounces[index + 1].append(rec)  # wait for a day whose deposit covers it
                continue
            parts = tuple(reversed(rec.distributions))
            facts = VoidFacts(receipt=self.receipt_state(rec), receipt_row=rec.row, distributions=parts,
                              charges_now=self.charges_now(parts))
            self.void("receipt", rec.id, "check returned unpaid (NSF)", MANAGER, facts)
            rec.distributions = []
            self.stats["voided receipts"] += 1


def _parts(plan: Plan) -> DistributionParts:
    """A planned distribution's rows as a void reads them."""
    return DistributionParts(plan.of(DistributionRow)[0], tuple(plan.of(ApplicationRow)),
                             tuple(plan.of(AdjustmentRow)), tuple(plan.of(TransferRow)))


_TIMES = [f"T{c // 3600:02d}:{c // 60 % 60:02d}:{c % 60:02d}{_TZ}" for c in range(86400)]
_VISIT_CODES = [c for c, _ in _VISITS]
_VISIT_CUM = list(itertools.accumulate(w for _, w in _VISITS))
_FEES = {code: (fee, units) for code, _, fee, units in FEE_SCHEDULE}
_BUNDLED = {"36415", "81002", "82962", "85018", "90472"}
_ONE, _ONE_TWO, _TWO, _MOD25 = (1,), (1, 2), (2,), ("25",)


# --------------------------------------------------------------------------- the build


def _npi(rng: random.Random, first: str) -> str:
    nine = first + "".join(str(rng.randrange(10)) for _ in range(8))
    return v.npi(nine + str(codes.npi_check_digit(nine)))


def _quotas(rng: random.Random, days: list[dt.date], charges: int) -> list[int]:
    """Charge lines per day summing exactly to ``charges``: Mondays busy, Fridays light, today part-done."""
    weights = [(1.15, 1.0, 1.0, 1.0, 0.85, 0.3, 0.3)[d.weekday()] * rng.uniform(0.85, 1.15) for d in days]
    weights[-1] *= 0.45
    whole = sum(weights)
    quotas = [int(charges * w / whole) for w in weights]
    short = charges - sum(quotas)
    for i in sorted(range(len(days)), key=lambda i: -weights[i])[:short]:
        quotas[i] += 1
    return quotas


def _master_data(rng: random.Random) -> tuple[list[int], dict[int, tuple]]:
    """Practice, providers, payers, fee schedule and reasons, through the operations themselves."""
    ops.set_practice(PRACTICE[0], npi=_npi(rng, "2"), tax_id="37-1234567", address=PRACTICE[1], phone=PRACTICE[2],
                     operator=ADMIN)
    ops.seed_standard_reasons(operator=ADMIN)
    providers = [ops.add_provider(code, name, _npi(rng, "1"), operator=ADMIN) for code, name in PROVIDERS]
    payers = {}
    for code, name, kind, edi, pct, method, lag in PAYERS:
        pid = ops.add_payer(code, name, kind, edi, operator=ADMIN)
        payers[pid] = (code, kind, pct, method, lag)
    for code, description, fee, units in FEE_SCHEDULE:
        ops.set_procedure(code, description, fee, units, operator=ADMIN)
    return providers, payers


def _patients(rng: random.Random, count: int, today: dt.date, payers: dict[int, tuple],
              at: str, log: list[tuple[str, dict]] | None = None,
              ) -> tuple[list[tuple], list[tuple], list[tuple], list[int | None]]:
    """Patient and coverage rows as add_patient writes them, with its audit events."""
    by_kind: dict[str, list[int]] = defaultdict(list)
    for pid, (_, kind, *_) in payers.items():
        by_kind[kind].append(pid)
    commercial = by_kind["commercial"]
    checked: set[str] = set()

    def name(value: str, label: str) -> str:
        if value not in checked:  # the same checks add_patient makes, once per distinct name
            v.text(value, label, max_len=60)
            if "," in value:
                raise BillingError(f"{label} {value!r} contains a comma", label)
            checked.add(value)
        return value

    patients, coverages, events = [], [], []
    primary: list[int | None] = [None]
    cov_id = 0
    for pid in range(1, count + 1):
        if pid <= len(TRICKY):
            last, first, sex = TRICKY[pid - 1]
        else:
            sex = "F" if rng.random() < 0.53 else "M"
            if rng.random() < 0.004:
                sex = rng.choice("XU")
            last = rng.choice(LAST)
            first = rng.choice(FIRST_F if sex == "F" else FIRST_M if sex == "M" else FIRST_F + FIRST_M)
        last, first = name(last, "last name"), name(first, "first name")
        age = min(int(rng.expovariate(1 / 38)), 99) if rng.random() < 0.8 else rng.randint(60, 92)
        dob = (today - dt.timedelta(days=age * 365 + rng.randrange(365) + 1)).isoformat()
        account = f"A{pid:06d}"
        city, state, zip3 = rng.choice(CITIES)
        row = (pid, account, last, first, ops.name_key(last, first), dob, sex,
               f"{rng.randint(10, 9999)} {rng.choice(STREETS)}", city, state, f"{zip3}{rng.randint(0, 99):02d}",
               f"(217) 555-{rng.randint(0, 9999):04d}")
        patients.append(row)
        covs = []
        r = rng.random()
        if age >= 65:
            covs.append(by_kind["medicare"][0] if r < 0.9 else rng.choice(commercial))
            if rng.random() < 0.4:
                covs.append(rng.choice(commercial))
        elif r < 0.14:
            covs.append(by_kind["medicaid"][0])
        elif r < 0.84:
            covs.append(rng.choice(commercial) if rng.random() < 0.95 else rng.choice(by_kind["other"]))
        detail_covs: list[dict[str, Any]] = []  # the audit event's detail (JSON) and the test's log
        for priority, payer in enumerate(covs, start=1):
            cov_id += 1
            member = f"{payers[payer][0][:2]}{rng.randrange(10**9):09d}"
            group = "" if payers[payer][1] in ("medicare", "medicaid") else f"G{rng.randrange(10**5):05d}"
            coverages.append((cov_id, pid, payer, member, group, priority))
            detail_covs.append({"payer_id": payer, "member_id": member, "priority": priority, "group_no": group})
        primary.append(covs[0] if covs else None)
        if log is not None:
            log.append(("add_patient", {
                "account": account, "last_name": last, "first_name": first, "dob": dob, "sex": sex,
                "address": row[7], "city": city, "state": state, "zip": row[10], "phone": row[11],
                "coverages": [CoverageIn(**c) for c in detail_covs], "operator": ADMIN}))
        events.append((at, ADMIN, "add_patient", "patient", pid,
                       {"account": account, "last": last, "first": first, "coverages": detail_covs}))
    return patients, coverages, events, primary


#: The simulation's stream: ("rows", one day's [(table, rows), ...] in insert order), then
#: ("final", (charge balances, receipt balances, the builder's counts)). Typed loosely (object)
#: because it crosses a process queue; the reader casts by the tag.
_DayRows = list[tuple[str, list[tuple[Any, ...]]]]
_Final = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], dict[str, int]]


def _simulate(rng: random.Random, business_days: list[dt.date], charges: int, patients: int,
              providers: list[int], payers: dict[int, tuple], diagnoses: list[str],
              log: list[tuple[str, dict]] | None = None) -> Iterator[tuple[str, object]]:
    """The whole history as a stream of ("rows", [(table, rows), ...]) per day, in insert order,
    then ("final", (charge balances, receipt balances, stats)). Touches no database, so it can
    run in another process while this one writes."""
    # Millions of small objects and no reference cycles: the cyclic collector would only walk them
    # over and over (a sixth of a big build's simulation time). Reference counting frees them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield from _days(rng, business_days, charges, patients, providers, payers, diagnoses, log)
    finally:
        if collecting:
            gc.enable()


def _days(rng: random.Random, business_days: list[dt.date], charges: int, patients: int,
          providers: list[int], payers: dict[int, tuple], diagnoses: list[str],
          log: list[tuple[str, dict]] | None) -> Iterator[tuple[str, object]]:
    # Audit events go out unchained (plain tuples, detail as planned): the writer chains and hashes
    # them (see _chain), which moves a fifth of the simulation's work to the other core.
    builder = _Builder(rng, business_days, charges, patients, providers, payers, diagnoses, log)
    setup_at = f"{(business_days[0] - dt.timedelta(days=1)).isoformat()}T07:00:00{_TZ}"
    patient_rows, coverage_rows, events, builder.patient_payer = _patients(
        rng, patients, business_days[-1], payers, setup_at, log)
    yield "rows", [("patient", patient_rows), ("coverage", coverage_rows),
                   ("audit_event", [(*event[:5], canonical(event[5])) for event in events])]
    del patient_rows, coverage_rows, events

    quotas = _quotas(rng, business_days, charges)
    month_opening = opening = (0, 0)
    last = len(business_days) - 1
    for index, day in enumerate(business_days):
        date = day.isoformat()
        builder.date = date
        builder.clock = 8 * 3600
        builder.step = max(1, min(60, 30000 // max(1, quotas[index])))
        if index and date[:7] != builder.dates[index - 1][:7]:
            # The first morning of a month: close the month before (every day of it is closed).
            prev_month = builder.dates[index - 1][:7]
            first_day, last_day = month_bounds(prev_month)
            summary = builder.month.summary(first_day, last_day, month_opening)
            builder.call("close_month", month=prev_month, operator=MANAGER)
            builder.post(plan_close_month(MonthCloseFacts(prev_month, False, ()), summary, today=builder.today,
                                          user=MANAGER, now=f"{date}T07:30:00{_TZ}"))
            builder.month, month_opening = _Figures(), opening
            builder.stats["closed months"] += 1
        builder.day = _Figures()
        # Most visits are keyed the same day; some a few days late.
        builder.dos_choices = [(day - dt.timedelta(days=k)).isoformat() for k in (0, 0, 0, 0, 0, 1, 2, 3, 7)]
        is_today = index == last
        builder.charge_batches(index, quotas[index], today=is_today)
        builder.void_encounters_due(index)
        queue = builder.remittances(index, today=is_today)
        builder.patient_receipts(index)
        builder.write_offs(index)
        builder.refunds_due(index)
        builder.refund_voids_due(index)
        builder.bounces_due(index)
        if not is_today:
            summary = builder.day.summary(date, date, opening)
            deposit = summary.deposit
            counted = DepositCount(deposit["cash"], deposit["check"], summary.check_count, deposit["card"],
                                   deposit["eft"])
            builder.clock = max(builder.clock, 17 * 3600 + 30 * 60 - builder.step)  # the day closes at 17:30
            builder.call("close_day", date=date, counted=counted, operator=MANAGER)
            builder.post(plan_close_day(DayCloseFacts(date, (), summary), counted, today=builder.today,
                                        user=MANAGER, now=builder.now()))
            opening = (summary.closing_ar, summary.closing_unapplied)
            builder.month.merge(builder.day)
            builder.stats["closed days"] += 1
        else:
            builder.stats["unapplied receipts waiting"] = len(queue)
        builder.rows["audit_event"] = [(*event[:5], canonical(event[5])) for event in builder.events]
        builder.events = []
        # A day's rows go in before its day_close row (the closed-period rule).
        yield "rows", [(table, builder.rows.pop(table)) for table in _FLUSH_ORDER if builder.rows.get(table)]
        builder.rows.clear()
    builder.stats.pop("bounces planned", None)
    yield "final", ([(c.id, c.patient, c.payer, c.dos, c.balance) for c in builder.all_charges],
                    [(r.id, r.unapplied) for r in builder.all_receipts], dict(builder.stats))


#: Below this many charges a build runs in one process (forking costs more than it saves).
PIPELINE_MIN_CHARGES = 50_000


def _stream(simulation: Iterator[tuple[str, object]], charges: int) -> Iterator[tuple[str, object]]:
    """The simulation's payloads, made in a forked child process on big builds so that the
    simulation (Python) and the inserts (SQLite) use a core each."""
    import multiprocessing as mp
    from queue import Empty

    if charges < PIPELINE_MIN_CHARGES or "fork" not in mp.get_all_start_methods():
        yield from simulation
        return
    ctx = mp.get_context("fork")
    queue = ctx.Queue(maxsize=8)
    child = ctx.Process(target=_produce, args=(simulation, queue), name="demo-simulation", daemon=True)
    child.start()
    try:
        while True:
            try:
                kind, payload = queue.get(timeout=1)
            except Empty:  # make sure the child is still there
                if not child.is_alive():
                    raise RuntimeError(f"the demo simulation process died (exit code {child.exitcode})") from None
                continue
            if kind == "error":
                raise RuntimeError(f"the demo simulation failed:\n{payload}")
            yield kind, payload
            if kind == "final":
                break
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def _produce(simulation: Iterator[tuple[str, object]], queue) -> None:
    """Child process: run the simulation and hand each payload to the writer."""
    import traceback

    try:
        for item in simulation:
            queue.put(item)
    except BaseException:
        queue.put(("error", traceback.format_exc()))
    queue.close()
    queue.join_thread()


def build_demo(path: str | os.PathLike[str], *, charges: int = 20_000, patients: int = 2_000, days: int = 120,
               seed: int = 1, force: bool = False, progress: bool = True,
               log: list[tuple[str, dict]] | None = None, samples: Path | None = None,
               mirror: DemoMirror | None = None) -> dict[str, int]:
    """Build a synthetic practice at ``path`` and return what it holds.

    Refuses an existing non-empty file unless ``force`` (then the file is replaced). The build
    goes to a temporary file next to ``path`` that is renamed over it only when complete, so
    nobody ever opens a half-built database. ``log``, a list, receives every posting as the store
    operation that makes the same rows (in one process: for tests of small builds). ``samples``: the
    sample 837P and 835 files go in ``<samples>.claims`` and ``<samples>.era`` (default: beside ``path``).
    ``mirror``, the server the demo is being built into, is sent the history as it is written
    (store/pg_migrate.py).
    """
    import time

    import click

    started = time.monotonic()
    path = Path(path)
    if charges < 0 or patients < 1 or days < 1:
        raise BillingError("charges must be 0 or more, patients and days 1 or more", "charges")
    if path.exists() and path.stat().st_size > 0 and not force:
        raise BillingError(f"{path} already exists and is not empty: use --force to replace it", "db")
    temp = path.with_name(f"{path.name}.building-{os.getpid()}")
    _remove(temp)
    ensure_file(temp)
    rng = random.Random(seed)
    try:
        open_database(temp)
        load = BulkLoad(mirror)
        identity.mark_test_book("demo")  # the demo honours TUI_BILLING_TODAY; an office's books never do
        business_days = _business_days(v.today(), days)
        diagnoses = [v.icd10(code, "diagnosis").code for code in codes.COMMON_ICD10]
        providers, payers = _master_data(rng)
        load.begin()
        simulation = _simulate(rng, business_days, charges, patients, providers, payers, diagnoses, log)
        prev = audit.last_hash()
        day_rows: dict[str, str] = {}  # closed day -> its rows digest, hashed as each day is written
        bar = click.progressbar(length=len(business_days) + 1, label="Building demo", file=sys.stderr) \
            if progress else None
        if bar:
            bar.__enter__()
        done = 0
        # The writer holds a day's rows at a time and makes no reference cycles: no cyclic collector.
        collecting = gc.isenabled()
        gc.disable()
        for kind, payload in (simulation if log is not None else _stream(simulation, charges)):
            if kind == "final":
                charge_balances, receipt_balances, builder_stats = cast(_Final, payload)
                break
            tables: list[tuple[str, list[tuple[Any, ...]]]] = payload  # type: ignore[assignment]
            closing = [row[_CLOSE_DATE] for table, rows in tables if table == "day_close" for row in rows]
            marks = load.marks() if closing else None  # where the closed day's rows will start
            for table, rows in tables:
                if table == "audit_event":
                    rows = list(_chain(prev, rows))
                    prev = rows[-1][-1]
                load.insert(table, rows)
            for date in closing:
                assert marks is not None
                day_rows[date] = load.rows_digest(date, marks)
            done += 1
            if done % 20 == 0:
                load.commit_point()
            if bar:
                bar.update(1)
        if collecting:
            gc.enable()
        load.finish(charge_balances, receipt_balances)
        del charge_balances, receipt_balances
        if bar:
            bar.__exit__(None, None, None)
        # each closed day's digest, chained, as the closes would have (rows hashed during the load)
        write(digests.seal_unsealed)(MANAGER, day_rows)
        fill_demo_accounts(seed)  # claim-ready accounts: ZIP+4, dependents, Medigap, ended plans
        # claims history, the last two days' claims sent in real 837P files beside the demo, today's scrubbed
        beside = samples or path
        claim_stats = fill_demo_claims(beside.with_name(f"{beside.name}.claims"), seed=seed)
        # sample 835 remittances for the claims awaiting payment, beside the demo: try `import era` on them
        claim_stats.update(write_demo_eras(beside.with_name(f"{beside.name}.era"), seed=seed))
        stats = {"charges": load.count("charge WHERE reverses_id IS NULL"),
                 "encounters": load.count("encounter WHERE reverses_id IS NULL"), "patients": patients,
                 "receipts": load.count("receipt"), "distributions": load.count("distribution"),
                 "audit events": load.count("audit_event"), **builder_stats, **claim_stats}
        load.close()
        close_database()
        _remove_sidecars(path)
        os.replace(temp, path)
    except BaseException:
        close_database()
        _remove(temp)
        raise
    stats["seconds"] = round(time.monotonic() - started)
    return stats


_CLOSE_DATE = DayCloseRow._fields.index("posting_date")


def _chain(prev: str, events: Iterable[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Audit rows for a bulk load, each event chained to the one before (as audit.record would)."""
    for at, user, action, entity, entity_id, text in events:
        digest = event_hash(prev, at, user, action, entity, entity_id, text)
        yield (at, user, action, entity, entity_id, text, prev, digest)
        prev = digest


def _remove_sidecars(path: Path) -> None:
    """A stale -wal next to the target would be replayed into the new file: remove it first."""
    for suffix in ("-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


def _remove(path: Path) -> None:
    _remove_sidecars(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
