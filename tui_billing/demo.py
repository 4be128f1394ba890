"""`tui-billing demo`: a realistic, deterministic synthetic practice to try the screens on.

The small master data (practice, providers, payers, fee schedule, adjustment reasons) goes through
the store operations. Patients and the history are bulk-loaded with raw ``executemany`` for
speed, but every row is exactly what the operations would have written: the same columns, the
same reversing rows for voids (see ``operations._void_*``), one hash-chained audit event per
logical operation with the operation's own detail, balanced and closed batches, and every past
day and month closed with the figures :func:`summary.period_summary` gives for it. The database's
own triggers keep the running balances and refuse any balance below zero while loading, and
``tui-billing check`` proves the result.

The same seed and the same business day (``TUI_BILLING_TODAY``) give the same rows.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import os
import random
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import codes
from .store import audit, digests, identity, operations as ops
from .store import validate as v
from .store.db import close_database, database, ensure_file, open_database, write
from .store.errors import BillingError
from .store.summary import METHODS, SOURCES, VOID_KINDS

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


@dataclass(slots=True)
class _Encounter:
    id: int
    patient: int
    payer: int | None
    charges: list[_Charge]
    voided: bool = False
    rows: tuple = ()  # (encounter row, charge rows), kept only for an encounter that will be voided


@dataclass(slots=True)
class _Receipt:
    id: int
    method: str
    amount: int
    patient: int | None
    unapplied: int = 0
    row: tuple = ()
    #: (distribution id, [(application id, charge, amount)]) for each distribution from it
    distributions: list[tuple[int, list[tuple[int, _Charge, int]]]] = field(default_factory=list)


def _business_days(today: dt.date, count: int) -> list[dt.date]:
    """``count`` days ending today: today itself plus the weekdays before it."""
    out = [today]
    day = today
    while len(out) < count:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return out[::-1]


class _Day:
    """The figures of one posting date, kept as rows are made (the same as summary.period_summary)."""

    def __init__(self) -> None:
        self.charge_lines = self.charges = self.charge_voids = 0
        self.receipt_count = self.check_count = 0
        self.receipts = dict.fromkeys(METHODS, 0)
        self.refunds = dict.fromkeys(METHODS, 0)
        self.applications = 0
        self.by_reason: dict[str, int] = {}
        self.transfer_count = self.transfer_total = self.void_count = 0
        self.by_provider: dict[str, list[int]] = {}
        self.by_operator: dict[str, list[int]] = {}
        self.by_source = dict.fromkeys(SOURCES, 0)
        self.receipt_counts = dict.fromkeys(METHODS, 0)
        self.refund_count = self.receipt_voids = 0
        self.voids_by_kind = dict.fromkeys(VOID_KINDS, 0)

    def add_breakdowns(self, rows: dict[str, list[tuple]], provider_codes: dict[int, str]) -> None:
        """The per-provider/operator/source/kind figures, read off the day's own rows (row layouts as inserted)."""
        for row in rows.get("charge", ()):
            sign = 1 if row[17] is None else 0
            for key, table in ((provider_codes[row[4]], self.by_provider), (row[16], self.by_operator)):
                entry = table.setdefault(key, [0, 0])
                entry[0] += sign
                entry[1] += row[13]
        for row in (*rows.get("receipt", ()), *rows.get("receipt_reversal", ())):
            self.by_source[row[2]] += row[7]
            self.receipt_counts[row[5]] += 1 if row[12] is None else -1
            if row[12] is not None:
                self.receipt_voids += row[7]
                self.voids_by_kind["receipt"] += 1
        for row in rows.get("refund", ()):
            self.refund_count += 1 if row[9] is None else -1
            self.voids_by_kind["refund"] += row[9] is not None
        self.voids_by_kind["encounter"] += sum(row[10] is not None for row in rows.get("encounter", ()))
        self.voids_by_kind["distribution"] += sum(row[5] is not None for row in rows.get("distribution", ()))

    def merge(self, other: "_Day") -> None:
        for name in ("charge_lines", "charges", "charge_voids", "receipt_count", "check_count", "applications",
                     "transfer_count", "transfer_total", "void_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for m in METHODS:
            self.receipts[m] += other.receipts[m]
            self.refunds[m] += other.refunds[m]
        for k, amount in other.by_reason.items():
            self.by_reason[k] = self.by_reason.get(k, 0) + amount
        for mine, theirs in ((self.by_provider, other.by_provider), (self.by_operator, other.by_operator)):
            for k, (n, total) in theirs.items():
                entry = mine.setdefault(k, [0, 0])
                entry[0] += n
                entry[1] += total
        for mine, theirs in ((self.by_source, other.by_source), (self.receipt_counts, other.receipt_counts),
                             (self.voids_by_kind, other.voids_by_kind)):
            for k, n in theirs.items():
                mine[k] += n
        self.refund_count += other.refund_count
        self.receipt_voids += other.receipt_voids

    def totals(self, start: str, end: str, opening: tuple[int, int], *, current: bool) -> dict:
        """The dict ``period_summary(start, end).as_dict()`` gives (``current``: nothing posted after end)."""
        adjustments = sum(self.by_reason.values())
        closing_ar = opening[0] + self.charges - self.applications - adjustments
        closing_unapplied = opening[1] + sum(self.receipts.values()) - self.applications - sum(self.refunds.values())
        return {
            "start": start, "end": end, "charge_lines": self.charge_lines, "charges": self.charges,
            "charge_voids": self.charge_voids, "receipt_count": self.receipt_count, "check_count": self.check_count,
            "receipts_by_method": dict(self.receipts), "refunds_by_method": dict(self.refunds),
            "applications": self.applications, "adjustments": adjustments,
            "adjustments_by_reason": dict(sorted(self.by_reason.items())),
            "transfer_count": self.transfer_count, "transfer_total": self.transfer_total,
            "void_count": self.void_count, "opening_ar": opening[0], "closing_ar": closing_ar,
            "opening_unapplied": opening[1], "closing_unapplied": closing_unapplied,
            "current_ar": closing_ar if current else None,
            "current_unapplied": closing_unapplied if current else None,
            "proof_errors": [],
            "deposit": {m: self.receipts[m] - self.refunds[m] for m in METHODS},
            "charges_by_provider": {k: self.by_provider[k] for k in sorted(self.by_provider)},
            "charges_by_operator": {k: self.by_operator[k] for k in sorted(self.by_operator)},
            "receipts_by_source": dict(self.by_source), "receipt_counts_by_method": dict(self.receipt_counts),
            "refund_count": self.refund_count, "voids_by_kind": dict(self.voids_by_kind),
            "receipt_voids": self.receipt_voids,
        }


# Tables in the order a day's rows are inserted: parents first, and receipt reversals after the
# application reversals that give the money back (the receipt_balance CHECK would refuse otherwise).
_TABLES = {
    "batch": "INSERT INTO batch (id, kind, posting_date, operator, control_count, control_total, opened_at) "
             "VALUES (?,?,?,?,?,?,?)",
    "encounter": "INSERT INTO encounter (id, patient_id, provider_id, payer_id, dos, pos, batch_id, posting_date, "
                 "operator, created_at, reverses_id, void_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "encounter_diagnosis": "INSERT INTO encounter_diagnosis (encounter_id, seq, code) VALUES (?,?,?)",
    "charge": "INSERT INTO charge (id, encounter_id, line_no, patient_id, provider_id, payer_id, dos, pos, code, "
              "modifiers, dx_pointers, units, fee, amount, batch_id, posting_date, operator, reverses_id) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "receipt": "INSERT INTO receipt (id, batch_id, source, patient_id, payer_id, method, reference, amount, "
               "received_date, posting_date, operator, created_at, reverses_id, void_reason) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "distribution": "INSERT INTO distribution (id, receipt_id, posting_date, operator, created_at, reverses_id, "
                    "void_reason) VALUES (?,?,?,?,?,?,?)",
    "application": "INSERT INTO application (id, distribution_id, receipt_id, charge_id, amount, posting_date, "
                   "operator, reverses_id) VALUES (?,?,?,?,?,?,?,?)",
    "adjustment": "INSERT INTO adjustment (id, distribution_id, charge_id, reason_code, amount, posting_date, "
                  "operator, reverses_id) VALUES (?,?,?,?,?,?,?,?)",
    "transfer": "INSERT INTO transfer (id, distribution_id, charge_id, from_payer_id, to_payer_id, amount, "
                "posting_date, operator, reverses_id) VALUES (?,?,?,?,?,?,?,?,?)",
    "refund": "INSERT INTO refund (id, receipt_id, method, reference, reason, amount, posting_date, operator, "
              "created_at, reverses_id, void_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "receipt_reversal": None,  # same statement as receipt
    "batch_close": "INSERT INTO batch_close (batch_id, closed_at, operator, entered_count, entered_total) "
                   "VALUES (?,?,?,?,?)",
    "audit_event": "INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash) "
                   "VALUES (?,?,?,?,?,?,?,?)",
    "day_close": "INSERT INTO day_close (posting_date, closed_at, operator, totals, counted_cash, counted_checks, "
                 "counted_check_count, counted_card, counted_eft) VALUES (?,?,?,?,?,?,?,?,?)",
    "month_close": "INSERT INTO month_close (month, closed_at, operator, totals) VALUES (?,?,?,?)",
    "patient": "INSERT INTO patient (id, account, last_name, first_name, name_key, dob, sex, address, city, state, "
               "zip, phone) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "coverage": "INSERT INTO coverage (id, patient_id, payer_id, member_id, group_no, priority) VALUES (?,?,?,?,?,?)",
}
_TABLES["receipt_reversal"] = _TABLES["receipt"]


class _Builder:
    """Simulates the office day by day and collects the rows each operation would write."""

    def __init__(self, rng: random.Random, days: list[dt.date], charges: int, patient_count: int,
                 provider_ids: list[int], payers: dict[int, tuple], diagnoses: list[str]) -> None:
        self.rng = rng
        self.random = rng.random
        self.line_json: dict[tuple, str] = {}
        self.dos_choices: list[str] = []
        self.days = days
        self.dates = [d.isoformat() for d in days]
        self.total_charges = charges
        self.patient_count = patient_count
        self.provider_ids = provider_ids
        self.payers = payers  # id -> (code, kind, allowed %, method, lag)
        self.diagnoses = diagnoses
        self.rows: dict[str, list[tuple]] = defaultdict(list)
        self.events: list[tuple] = []
        self.ids: dict[str, int] = defaultdict(int)
        self.patient_payer: list[int | None] = []  # index = patient id
        # Work waiting for a later business day, by day index.
        self.adjudicate: dict[int, list[_Encounter]] = defaultdict(list)
        self.patient_pay: dict[int, list[_Charge]] = defaultdict(list)
        self.write_off: dict[int, list[_Charge]] = defaultdict(list)
        self.void_encounters: dict[int, list[_Encounter]] = defaultdict(list)
        self.refunds: dict[int, list[_Receipt]] = defaultdict(list)
        self.void_refunds: dict[int, list[tuple[int, _Receipt, int, str, str]]] = defaultdict(list)
        self.bounces: dict[int, list[_Receipt]] = defaultdict(list)
        self.check_no = 1000
        self.all_charges: list[_Charge] = []
        self.all_receipts: list[_Receipt] = []
        self.last_transfers: list[tuple[_Charge, int | None]] = []
        self.clock = 0
        self.step = 1
        self.day = _Day()
        self.date = ""
        self.today_index = len(days) - 1
        self.stats: dict[str, int] = defaultdict(int)

    # ----------------------------------------------------------------- helpers

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def now(self) -> str:
        """The synthetic clock of the current posting date (08:00 onwards)."""
        self.clock = min(self.clock + self.step, 86399)
        return self.date + _TIMES[self.clock]

    def event(self, at: str, user: str, action: str, entity: str, entity_id: int | None,
              detail: dict | str) -> None:
        """Queue an audit event; ``detail`` is a dict or its canonical JSON already written out."""
        self.events.append((at, user, action, entity, entity_id, detail))

    def later(self, index: int, low: int, high: int) -> int:
        return index + self.rng.randint(low, high)

    # ----------------------------------------------------------------- charges

    def _encounter(self, batch: int, user: str, index: int, limit: int) -> tuple[int, int]:
        """Key one encounter of at most ``limit`` lines. Returns (lines, total). The hot loop of a build."""
        random = self.random
        # A few patients visit often: skew towards low ids (the tricky names come first).
        patient = 1 + int(self.patient_count * random() ** 1.6)
        payer = self.patient_payer[patient]
        provider = self.provider_ids[int(random() * len(self.provider_ids))]
        date = self.date
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
        now = self.now()
        self.ids["encounter"] += 1
        eid = self.ids["encounter"]
        self.rows["encounter"].append((eid, patient, provider, payer, dos, pos, batch, date, user, now, None, None))
        diag_rows = self.rows["encounter_diagnosis"]
        for seq, code in enumerate(dx, start=1):
            diag_rows.append((eid, seq, code))
        charge_rows = self.rows["charge"]
        lines = []
        detail_lines = []
        total = 0
        cid = self.ids["charge"]
        line_json = self.line_json
        for line_no, code in enumerate(codes_, start=1):
            fee, units = _FEES[code]
            if units > 1:
                units = 1 + int(random() * units)
            amount = fee * units
            pointers = "1" if ndx == 1 or line_no == 1 else ("1,2" if line_no == 2 else "2")
            mods = "25" if line_no == 1 and len(codes_) > 1 and code[:2] == "99" and random() < 0.3 else ""
            cid += 1
            charge_rows.append((cid, eid, line_no, patient, provider, payer, dos, pos, code, mods, pointers, units,
                                fee, amount, batch, date, user, None))
            lines.append(_Charge(cid, patient, amount, amount, payer, code, dos))
            key = (code, pointers, mods, units)
            text = line_json.get(key)
            if text is None:
                text = line_json[key] = (f'{{"amount":{amount},"code":"{code}","dx":"{pointers}","fee":{fee},'
                                         f'"modifiers":"{mods}","units":{units}}}')
            detail_lines.append(text)
            total += amount
        self.ids["charge"] = cid
        self.all_charges.extend(lines)
        dx_json = ",".join(['"' + c + '"' for c in dx])
        # The canonical JSON of post_encounter's detail, written out (json.dumps is the slow part of a build).
        self.events.append((now, user, "post_encounter", "encounter", eid, (
            f'{{"batch_id":{batch},"diagnoses":[{dx_json}],"dos":"{dos}",'
            f'"lines":[{",".join(detail_lines)}],"patient_id":{patient},"payer_id":{_js(payer)},"pos":"{pos}",'
            f'"posting_date":"{date}","provider_id":{provider},"total":{total}}}')))
        day = self.day
        day.charge_lines += len(lines)
        day.charges += total
        enc = _Encounter(eid, patient, payer, lines)
        last = self.today_index
        if random() < 0.005 and index < last:
            self.void_encounters[min(self.later(index, 1, 3), last)].append(enc)
            enc.voided = True
            enc.rows = (self.rows["encounter"][-1], charge_rows[-len(lines):])
        elif payer is not None:
            low, high = self.payers[payer][4]
            self.adjudicate[index + low + int(random() * (high - low + 1))].append(enc)
        elif random() < 0.6:
            self.patient_pay[index].extend(lines)  # paid at the desk
        elif random() < 0.6:
            self.patient_pay[self.later(index, 15, 40)].extend(lines)  # paid from a statement
        return len(lines), total

    def charge_batches(self, index: int, quota: int, *, today: bool) -> None:
        rng = self.rng
        batches = []
        while quota > 0:
            user = rng.choice(CLERKS)
            bid = self.next_id("batch")
            opened = self.now()
            first_event = len(self.events)
            count = total = 0
            size = rng.randint(25, 80)
            while count < size and quota > 0:
                n, amount = self._encounter(bid, user, index, quota)
                quota -= n
                count += 1
                total += amount
            batches.append((bid, user, opened, first_event, count, total))
        for k, (bid, user, opened, first_event, count, total) in enumerate(batches):
            control_count, control_total = count, total
            still_keying = today and k == len(batches) - 1 and len(batches) > 1
            if still_keying:  # the clerk is part-way through the stack
                control_count += rng.randint(3, 12)
                control_total += rng.randint(300, 1500) * 100
            self.rows["batch"].append((bid, "charge", self.date, user, control_count, control_total, opened))
            self.events.insert(first_event + k, (opened, user, "open_batch", "batch", bid, {
                "kind": "charge", "posting_date": self.date, "control_count": control_count,
                "control_total": control_total}))
            if not (today and k >= len(batches) - 2):
                self.close_batch(bid, user, count, total)

    def close_batch(self, bid: int, user: str, count: int, total: int) -> None:
        at = self.now()
        self.rows["batch_close"].append((bid, at, user, count, total))
        self.event(at, user, "close_batch", "batch", bid, {"entered_count": count, "entered_total": total})

    # ----------------------------------------------------------------- receipts and distributions

    def receipt(self, batch: int | None, user: str, method: str, amount: int, *, patient: int | None = None,
                payer: int | None = None, reference: str = "", received: str | None = None) -> _Receipt:
        rid = self.next_id("receipt")
        at = self.now()
        source = "payer" if payer is not None else "patient"
        received = received or self.date
        self.rows["receipt"].append((rid, batch, source, patient, payer, method, reference, amount, received,
                                     self.date, user, at, None, None))
        # references are generated (letters and digits), so they need no JSON escaping
        self.event(at, user, "record_receipt", "receipt", rid, (
            f'{{"amount":{amount},"batch_id":{_js(batch)},"method":"{method}","patient_id":{_js(patient)},'
            f'"payer_id":{_js(payer)},"possible_duplicates":[],"posting_date":"{self.date}",'
            f'"received_date":"{received}","reference":"{reference}","source":"{source}"}}'))
        day = self.day
        day.receipt_count += 1
        day.receipts[method] += amount
        if method == "check":
            day.check_count += 1
        rec = _Receipt(rid, method, amount, patient, unapplied=amount, row=self.rows["receipt"][-1])
        self.all_receipts.append(rec)
        return rec

    def distribute(self, receipt: _Receipt | None, user: str,
                   lines: list[tuple[_Charge, int, int, str | None, bool]]) -> int:
        """One distribution: (charge, applied, adjustment, reason, transfer to patient) per line."""
        did = self.next_id("distribution")
        at = self.now()
        rid = receipt.id if receipt else None
        date = self.date
        self.rows["distribution"].append((did, rid, date, user, at, None, None))
        apps, adjs, transfers, mine = [], [], [], []
        app_rows, adj_rows = self.rows["application"], self.rows["adjustment"]
        day = self.day
        self.last_transfers = []
        for charge, applied, adjustment, reason, move in lines:
            if applied:
                aid = self.next_id("application")
                app_rows.append((aid, did, rid, charge.id, applied, date, user, None))
                apps.append(f"[{charge.id},{applied}]")
                mine.append((aid, charge, applied))
                day.applications += applied
                charge.balance -= applied
                receipt.unapplied -= applied
            if adjustment:
                adj_rows.append((self.next_id("adjustment"), did, charge.id, reason, adjustment, date, user, None))
                adjs.append(f'[{charge.id},"{reason}",{adjustment}]')
                day.by_reason[reason] = day.by_reason.get(reason, 0) + adjustment
                charge.balance -= adjustment
            assert charge.balance >= 0, "the demo must never over-apply a charge"
        for charge, _, _, _, move in lines:
            if move and charge.payer is not None and charge.balance > 0:
                self.rows["transfer"].append((self.next_id("transfer"), did, charge.id, charge.payer, None,
                                              charge.balance, date, user, None))
                transfers.append(f"[{charge.id},{charge.payer},{charge.balance}]")
                self.last_transfers.append((charge, charge.payer))
                day.transfer_count += 1
                day.transfer_total += charge.balance
                charge.payer = None
        if receipt:
            receipt.distributions.append((did, mine))
            assert receipt.unapplied >= 0
        self.event(at, user, "distribute", "distribution", did, (
            f'{{"adjustments":[{",".join(adjs)}],"applications":[{",".join(apps)}],"posting_date":"{date}",'
            f'"receipt_id":{_js(rid)},"transfers":[{",".join(transfers)}]}}'))
        return did

    def void_distribution(self, did: int, reason: str, user: str, at: str) -> int:
        """The rows of operations._void_distribution, read back from this day's pending rows."""
        date = self.date
        dist = next(r for r in reversed(self.rows["distribution"]) if r[0] == did)
        new = self.next_id("distribution")
        self.rows["distribution"].append((new, dist[1], date, user, at, did, reason))
        self.day.void_count += 1
        mine = [r for r in self.rows["transfer"] if r[1] == did]
        for tid, _, cid, from_payer, to_payer, amount, *_ in sorted(mine, reverse=True):
            self.rows["transfer"].append((self.next_id("transfer"), new, cid, to_payer, from_payer, amount, date,
                                          user, tid))
            self.day.transfer_count -= 1
            self.day.transfer_total -= amount
        for aid, _, cid, code, amount, *_ in [r for r in self.rows["adjustment"] if r[1] == did]:
            self.rows["adjustment"].append((self.next_id("adjustment"), new, cid, code, -amount, date, user, aid))
            self.day.by_reason[code] -= amount
        for aid, _, rid, cid, amount, *_ in [r for r in self.rows["application"] if r[1] == did]:
            self.rows["application"].append((self.next_id("application"), new, rid, cid, -amount, date, user, aid))
            self.day.applications -= amount
        return new

    def remittances(self, index: int, *, today: bool) -> list[_Receipt]:
        """Payers pay the claims they adjudicated today: CO-45 the contract, PR to the patient."""
        rng = self.rng
        due = self.adjudicate.pop(index, [])
        by_payer: dict[int, list[_Encounter]] = defaultdict(list)
        for enc in due:
            if not enc.voided:
                by_payer[enc.payer].append(enc)
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
        receipts: list[tuple[_Receipt | None, list]] = []
        if batches:
            user = rng.choice(CLERKS)
            bid = self.next_id("batch")
            opened = self.now()
            first_event = len(self.events)
            count = total = 0
            for payer, method, pay_total, plan, n in batches:
                if pay_total == 0:
                    receipts.append((None, plan))
                    continue
                if method == "eft":
                    ref = f"EFT{self.payers[payer][0]}{ymd}"
                    received = self.date
                else:
                    self.check_no += rng.randint(1, 40)
                    ref = f"{self.check_no:07d}"
                    received = (self.days[index] - dt.timedelta(days=rng.randint(0, 2))).isoformat()
                    received = max(received, self.dates[0])
                rec = self.receipt(bid, user, method, pay_total, payer=payer, reference=ref, received=received)
                count += 1
                total += pay_total
                receipts.append((rec, plan))
            self.rows["batch"].append((bid, "receipt", self.date, user, count, total, opened))
            self.events.insert(first_event, (opened, user, "open_batch", "batch", bid, {
                "kind": "receipt", "posting_date": self.date, "control_count": count, "control_total": total}))
            queue = []
            for k, (rec, plan) in enumerate(receipts):
                if today and rec is not None and k % 2 == 0:
                    queue.append(rec)  # left in the receipts queue for the clerk to distribute
                    continue
                for start in range(0, len(plan), 30):  # one distribution per few claims, as keyed from the EOB
                    chunk = plan[start:start + 30]
                    did = self.distribute(rec, user, chunk)
                    # Now and then a clerk voids a distribution and posts it again; at least once in
                    # any demo, so the screens have one with transfers to show.
                    if rng.random() < 0.004 or (not self.stats["voided distributions"] and self.last_transfers):
                        at = self.now()
                        reason = "keyed against the wrong remittance line; reposted"
                        new = self.void_distribution(did, reason, user, at)
                        self.undo(chunk, rec)
                        self.event(at, user, "void_distribution", "distribution", did,
                                   {"reversal_id": new, "reason": reason, "posting_date": self.date})
                        self.stats["voided distributions"] += 1
                        self.distribute(rec, user, chunk)
                for ch, _, _, _, move in plan:
                    if move and ch.payer is None and ch.balance > 0:
                        self.patient_pays_later(index, ch)
            for rec, _ in receipts:
                if rec is not None:
                    rec.distributions = []
            if not today:
                self.close_batch(bid, user, count, total)
            return queue
        return []

    def undo(self, plan: list, rec: _Receipt | None) -> None:
        """Put the simulation's charges back as they were before a distribution that was voided."""
        for ch, applied, adjustment, _, move in plan:
            ch.balance += applied + adjustment
            if rec:
                rec.unapplied += applied
        for ch, payer in self.last_transfers:
            ch.payer = payer
        if rec:
            rec.distributions.pop()

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
        bid = self.next_id("batch")
        opened = self.now()
        first_event = len(self.events)
        count = total = 0
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
            rec = self.receipt(bid, user, method, amount + extra, patient=patient, reference=ref)
            count += 1
            total += amount + extra
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
        # Now and then a patient pays on account before any charge: a credit in the queue.
        if on_account:
            patient = 1 + rng.randrange(self.patient_count)
            amount = rng.randint(2, 20) * 500
            rec = self.receipt(bid, user, "cash", amount, patient=patient)
            count += 1
            total += amount
        self.rows["batch"].append((bid, "receipt", self.date, user, count, total, opened))
        self.events.insert(first_event, (opened, user, "open_batch", "batch", bid, {
            "kind": "receipt", "posting_date": self.date, "control_count": count, "control_total": total}))
        if index < self.today_index:
            self.close_batch(bid, user, count, total)

    def write_offs(self, index: int) -> None:
        due = [ch for ch in self.write_off.pop(index, []) if 0 < ch.balance <= 1500 and ch.payer is None]
        due = list({ch.id: ch for ch in due}.values())
        if due:
            self.distribute(None, MANAGER, [(ch, 0, ch.balance, "SMALL", False) for ch in due])

    # ----------------------------------------------------------------- voids and refunds

    def void_encounters_due(self, index: int) -> None:
        for enc in self.void_encounters.pop(index, []):
            at = self.now()
            user = self.rng.choice(CLERKS)
            reason = self.rng.choice(("wrong patient", "duplicate entry", "wrong date of service"))
            row, charge_rows = enc.rows
            new = self.next_id("encounter")
            self.rows["encounter"].append((new, *row[1:6], None, self.date, user, at, enc.id, reason))
            for ch, orig in zip(enc.charges, charge_rows):
                self.rows["charge"].append((self.next_id("charge"), new, *orig[2:13], -orig[13], None, self.date,
                                            user, ch.id))
                self.day.charges -= orig[13]
                self.day.charge_voids -= orig[13]
                ch.balance = 0
            self.day.void_count += 1
            self.event(at, user, "void_encounter", "encounter", enc.id,
                       {"reversal_id": new, "reason": reason, "posting_date": self.date})
            self.stats["voided encounters"] += 1

    def refunds_due(self, index: int) -> None:
        rng = self.rng
        for rec in self.refunds.pop(index, []):
            if rec.unapplied <= 0:
                continue
            if self.day.refunds["check"] + rec.unapplied > self.day.receipts["check"]:
                self.refunds[index + 1].append(rec)  # refunds wait for a day with enough checks in
                continue
            fid = self.next_id("refund")
            at = self.now()
            self.check_no += 1
            ref = f"{self.check_no:07d}"
            amount = rec.unapplied
            reason = "overpayment"
            self.rows["refund"].append((fid, rec.id, "check", ref, reason, amount, self.date, MANAGER, at, None, None))
            self.event(at, MANAGER, "refund", "refund", fid, {"receipt_id": rec.id, "amount": amount,
                                                           "method": "check", "reference": ref, "reason": reason})
            self.day.refunds["check"] += amount
            rec.unapplied = 0
            self.stats["refunds"] += 1
            if rng.random() < 0.08 or not self.void_refunds and not self.stats["voided refunds"]:
                self.void_refunds[min(self.later(index, 1, 4), self.today_index)].append(
                    (fid, rec, amount, ref, "check"))

    def refund_voids_due(self, index: int) -> None:
        for fid, rec, amount, ref, method in self.void_refunds.pop(index, []):
            at = self.now()
            new = self.next_id("refund")
            reason = "refund check returned undeliverable"
            self.rows["refund"].append((new, rec.id, method, ref, "", -amount, self.date, MANAGER, at, fid, reason))
            self.day.refunds[method] -= amount
            self.day.void_count += 1
            rec.unapplied += amount
            self.stats["voided refunds"] += 1
            self.event(at, MANAGER, "void_refund", "refund", fid,
                       {"reversal_id": new, "reason": reason, "posting_date": self.date})

    def bounces_due(self, index: int) -> None:
        day = self.day
        for rec in self.bounces.pop(index, []):
            if rec.unapplied != 0 or day.receipts["check"] - day.refunds["check"] < rec.amount or day.check_count < 1:
                if index < self.today_index:
                    self.bounces[index + 1].append(rec)  # wait for a day whose deposit covers it
                continue
            at = self.now()
            user = MANAGER
            reason = "check returned unpaid (NSF)"
            undone = [self.void_distribution_anyday(rec.id, did, apps, reason, user, at)
                      for did, apps in reversed(rec.distributions)]
            rec.distributions = []
            rec.unapplied = 0
            new = self.next_id("receipt")
            orig = rec.row
            self.rows["receipt_reversal"].append((new, None, *orig[2:7], -orig[7], orig[8], self.date, user, at,
                                                  rec.id, reason))
            day.receipt_count -= 1
            day.check_count -= 1
            day.receipts["check"] -= rec.amount
            day.void_count += 1
            self.event(at, user, "void_receipt", "receipt", rec.id,
                       {"reversal_id": new, "reason": reason, "posting_date": self.date,
                        "distribution_reversals": undone})
            self.stats["voided receipts"] += 1

    def void_distribution_anyday(self, rid: int, did: int, apps: list, reason: str, user: str, at: str) -> int:
        """Void a patient-payment distribution of an earlier day (applications only, no transfers);
        returns the reversal's id."""
        new = self.next_id("distribution")
        self.rows["distribution"].append((new, rid, self.date, user, at, did, reason))
        self.day.void_count += 1
        for aid, ch, amount in apps:
            self.rows["application"].append((self.next_id("application"), new, rid, ch.id, -amount, self.date, user,
                                             aid))
            self.day.applications -= amount
            ch.balance += amount
        return new


def _js(value: int | None) -> str:
    return "null" if value is None else str(value)


_TIMES = [f"T{c // 3600:02d}:{c // 60 % 60:02d}:{c % 60:02d}{_TZ}" for c in range(86400)]
_VISIT_CODES = [c for c, _ in _VISITS]
_VISIT_CUM = list(itertools.accumulate(w for _, w in _VISITS))
_FEES = {code: (fee, units) for code, _, fee, units in FEE_SCHEDULE}
_BUNDLED = {"36415", "81002", "82962", "85018", "90472"}


# --------------------------------------------------------------------------- the build

_FLUSH_ORDER = ("batch", "encounter", "encounter_diagnosis", "charge", "receipt", "distribution", "application",
                "adjustment", "transfer", "refund", "receipt_reversal", "batch_close", "audit_event", "day_close",
                "month_close")


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
              at: str) -> tuple[list[tuple], list[tuple], list[tuple], list[int | None]]:
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
        detail_covs = []
        for priority, payer in enumerate(covs, start=1):
            cov_id += 1
            member = f"{payers[payer][0][:2]}{rng.randrange(10**9):09d}"
            group = "" if payers[payer][1] in ("medicare", "medicaid") else f"G{rng.randrange(10**5):05d}"
            coverages.append((cov_id, pid, payer, member, group, priority))
            detail_covs.append({"payer_id": payer, "member_id": member, "priority": priority, "group_no": group})
        primary.append(covs[0] if covs else None)
        events.append((at, ADMIN, "add_patient", "patient", pid,
                       {"account": account, "last": last, "first": first, "coverages": detail_covs}))
    return patients, coverages, events, primary


def _simulate(rng: random.Random, business_days: list[dt.date], charges: int, patients: int,
              providers: list[int], payers: dict[int, tuple], diagnoses: list[str],
              prev: str) -> Iterator[tuple[str, object]]:
    """The whole history as a stream of ("rows", [(table, rows), ...]) per day, in insert order,
    then ("final", (charge balances, receipt balances, stats)). Touches no database, so it can
    run in another process while this one writes."""
    builder = _Builder(rng, business_days, charges, patients, providers, payers, diagnoses)
    provider_codes = {pid: code for pid, (code, _) in zip(providers, PROVIDERS)}
    setup_at = f"{(business_days[0] - dt.timedelta(days=1)).isoformat()}T07:00:00{_TZ}"
    patient_rows, coverage_rows, events, builder.patient_payer = _patients(
        rng, patients, business_days[-1], payers, setup_at)
    audit_rows = list(_chain(prev, events))
    prev = audit_rows[-1][-1]
    yield "rows", [("patient", patient_rows), ("coverage", coverage_rows), ("audit_event", audit_rows)]
    del patient_rows, coverage_rows, events, audit_rows

    quotas = _quotas(rng, business_days, charges)
    month = _Day()
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
            first_day, last_day = ops._month_bounds(prev_month)
            totals = month.totals(first_day, last_day, month_opening, current=True)
            at = f"{date}T07:30:00{_TZ}"
            builder.rows["month_close"].append((prev_month, at, MANAGER, json.dumps(totals, sort_keys=True)))
            builder.event(at, MANAGER, "close_month", "month_close", None, {"month": prev_month, "totals": totals})
            month, month_opening = _Day(), opening
            builder.stats["closed months"] += 1
        builder.day = _Day()
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
            d = builder.day
            d.add_breakdowns(builder.rows, provider_codes)
            totals = d.totals(date, date, opening, current=True)
            deposit = totals["deposit"]
            counted = {"cash": deposit["cash"], "checks": deposit["check"], "check_count": d.check_count,
                       "card": deposit["card"], "eft": deposit["eft"]}
            builder.clock = max(builder.clock, 17 * 3600 + 30 * 60 - builder.step)  # the day closes at 17:30
            at = builder.now()
            builder.rows["day_close"].append((date, at, MANAGER, json.dumps(totals, sort_keys=True),
                                              counted["cash"], counted["checks"], counted["check_count"],
                                              counted["card"], counted["eft"]))
            builder.event(at, MANAGER, "close_day", "day_close", None,
                          {"posting_date": date, "totals": totals, "counted": counted})
            opening = (totals["closing_ar"], totals["closing_unapplied"])
            month.merge(d)
            builder.stats["closed days"] += 1
        else:
            builder.stats["unapplied receipts waiting"] = len(queue)
        audit_rows = list(_chain(prev, builder.events))
        if audit_rows:
            prev = audit_rows[-1][-1]
        builder.rows["audit_event"] = audit_rows
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
               seed: int = 1, force: bool = False, progress: bool = True) -> dict[str, int]:
    """Build a synthetic practice at ``path`` and return what it holds.

    Refuses an existing non-empty file unless ``force`` (then the file is replaced). The build
    goes to a temporary file next to ``path`` that is renamed over it only when complete, so
    nobody ever opens a half-built database.
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
        identity.mark_test_book("demo")  # the demo honours TUI_BILLING_TODAY; an office's books never do
        business_days = _business_days(v.today(), days)
        conn = database.connection()
        # A throw-away file until the rename: durability buys nothing here, speed does.
        conn.execute("PRAGMA journal_mode = MEMORY")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")
        diagnoses = [v.icd10(code, "diagnosis").code for code in codes.COMMON_ICD10]
        providers, payers = _master_data(rng)
        # Load without the indexes and triggers, then build them once: several times faster than
        # keeping them up to date row by row. They are recreated from the migrations' own SQL, the
        # running balances are written from the simulation, and `check` proves both.
        conn.execute("PRAGMA foreign_keys = OFF")
        saved = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
                             "AND sql IS NOT NULL ORDER BY type, rowid").fetchall()
        for kind, name, _ in saved:
            conn.execute(f"DROP {kind.upper()} {name}")
        simulation = _simulate(rng, business_days, charges, patients, providers, payers, diagnoses,
                               audit.last_hash())
        bar = click.progressbar(length=len(business_days) + 1, label="Building demo", file=sys.stderr) \
            if progress else None
        if bar:
            bar.__enter__()
        database.execute_sql("BEGIN")
        done = 0
        for kind, payload in _stream(simulation, charges):
            if kind == "final":
                charge_balances, receipt_balances, builder_stats = payload
                break
            for table, rows in payload:
                conn.executemany(_TABLES[table], rows)
            done += 1
            if done % 20 == 0:
                database.execute_sql("COMMIT")
                database.execute_sql("BEGIN")
            if bar:
                bar.update(1)
        conn.executemany("INSERT INTO charge_balance (charge_id, patient_id, payer_id, dos, balance) "
                         "VALUES (?,?,?,?,?)", charge_balances)
        conn.executemany("INSERT INTO receipt_balance (receipt_id, unapplied) VALUES (?,?)", receipt_balances)
        del charge_balances, receipt_balances
        for _, _, sql in saved:  # indexes first (type order), then the triggers
            conn.execute(sql)
        database.execute_sql("COMMIT")
        if bar:
            bar.__exit__(None, None, None)
        conn.execute("PRAGMA foreign_keys = ON")
        write(digests.seal_unsealed)(MANAGER)  # each closed day's digest, chained, as the closes would have
        stats = {"charges": _count("charge WHERE reverses_id IS NULL"),
                 "encounters": _count("encounter WHERE reverses_id IS NULL"), "patients": patients,
                 "receipts": _count("receipt"), "distributions": _count("distribution"),
                 "audit events": _count("audit_event"), **builder_stats}
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        close_database()
        _remove_sidecars(path)
        os.replace(temp, path)
    except BaseException:
        close_database()
        _remove(temp)
        raise
    stats["seconds"] = round(time.monotonic() - started)
    return stats


def _chain(prev: str, events: list[tuple]) -> Iterator[tuple]:
    """audit.chain_rows, taking details that are already canonical JSON text as they are."""
    canonical, event_hash = audit.canonical, audit.event_hash
    for at, user, action, entity, entity_id, detail in events:
        text = detail if isinstance(detail, str) else canonical(detail)
        digest = event_hash(prev, at, user, action, entity, entity_id, text)
        yield (at, user, action, entity, entity_id, text, prev, digest)
        prev = digest


def _count(table: str) -> int:
    return database.execute_sql(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


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
