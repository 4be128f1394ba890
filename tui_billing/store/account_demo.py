"""Fill the accounts' fields of a freshly built demo practice realistically (for ``tui-billing demo``).

Call :func:`fill_demo_accounts` once after the demo has loaded its patients, coverages, payers
and providers (and its history: coverage dates are set around the first date of service). In
one write transaction, with one audit event, it gives:

- every address a ZIP+4 and a normalised phone; the folded search keys of every patient;
- children a parent as guarantor and their coverage as a dependent on the parent's plan
  (relationship child, the parent as subscriber); some adults covered by a spouse's plan;
- patients on Medicare with a second plan get a Medigap supplement (a payer it adds) as
  secondary;
- some insured patients a terminated earlier plan (ended the day before the current one began);
- payers their claim filing indicator, address, receiver and timely-filing days; providers
  last/first names and taxonomy; the practice its billing address with ZIP+4, EIN, taxonomy,
  pay-to address and submitter id; Medicare allowed amounts on the fee schedule.

Deterministic for a seed. Bulk SQL (the 100,000-patient demo takes a couple of seconds).
"""

from __future__ import annotations

import datetime as dt
import random

from . import audit
from .clock import today as business_today
from .db import database, executemany, inserted_id, write
from .search_keys import account_key, name_search_key, phone_key

__all__ = ["fill_demo_accounts"]

PARENT_F = ("Laura", "Maria", "Jennifer", "Angela", "Keisha", "Mei", "Sofia", "Rachel")
PARENT_M = ("Michael", "Carlos", "David", "James", "Andre", "Wei", "Omar", "Daniel")
PAYER_DETAILS = {  # code: (filing code, street, city, state, zip, receiver, timely days)
    "MCR": ("MB", "PO Box 6475", "Indianapolis", "IN", "46206-6475", "NGS-J6", 365),
    "MCD": ("MC", "PO Box 19109", "Springfield", "IL", "62794-9109", "IMPACT", 180),
    "BLUE": ("BL", "300 E Randolph St", "Chicago", "IL", "60601-5099", "AVAILITY", 180),
    "SUMMIT": ("CI", "PO Box 981106", "El Paso", "TX", "79998-1106", "CHANGE", 90),
    "LAKE": ("HM", "1 Lakeshore Plz", "Milwaukee", "WI", "53202-4408", "CHANGE", 120),
    "PIONEER": ("CI", "PO Box 7710", "Omaha", "NE", "68103-0710", "PAPER", 365),
    "KEY": ("CI", "PO Box 2243", "Harrisburg", "PA", "17105-2243", "AVAILITY", 180),
    "TRICARE": ("CH", "PO Box 7031", "Camden", "SC", "29021-7031", "CHANGE", 365),
    "WCOMP": ("WC", "100 W Randolph St", "Chicago", "IL", "60601-3218", "PAPER", 365),
    "SELF": ("ZZ", "", "", "", "", "", 365),
}
TAXONOMY = {"MD": "207Q00000X", "DO": "207Q00000X", "NP": "363LF0000X", "PA-C": "363A00000X"}


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@write
def fill_demo_accounts(seed: int = 1, *, operator: str = "setup") -> dict[str, int]:
    """Fill the accounts' fields of the open demo database; returns counts of what it did."""
    rng = random.Random(seed * 7919 + 12)
    q = database.execute_sql
    counts = {"patients": 0, "dependents": 0, "spouses": 0, "medigap": 0, "terminated": 0}
    first_dos = q("SELECT MIN(dos) FROM charge").fetchone()[0] or business_today().isoformat()
    start = dt.date.fromisoformat(first_dos)
    today = business_today()

    # --- payers, providers, practice
    for code, (filing, street, city, state, zipc, receiver, days) in PAYER_DETAILS.items():
        q("UPDATE payer SET filing_code = ?, address = ?, city = ?, state = ?, zip = ?, receiver = ?, "
          "timely_filing_days = ? WHERE code = ?", (filing, street, city, state, zipc, receiver, days, code))
    medigap = q("SELECT id FROM payer WHERE code = 'MGAP'").fetchone()
    medigap_id = medigap[0] if medigap else inserted_id(q(
        "INSERT INTO payer (code, name, edi_payer_id, kind, filing_code, address, city, state, zip, receiver, "
        "timely_filing_days) VALUES ('MGAP', 'Prairie Medigap Supplement', '36273', 'commercial', 'CI', "
        "'PO Box 740819', 'Atlanta', 'GA', '30374-0819', 'CHANGE', 365)"))
    for pid, name in q("SELECT id, name FROM provider").fetchall():
        bare, _, cred = name.partition(", ")
        parts = bare.split()
        q("UPDATE provider SET first_name = ?, last_name = ?, taxonomy = ? WHERE id = ?",
          (parts[0], parts[-1], TAXONOMY.get(cred.strip(), "207Q00000X"), pid))
    q("UPDATE practice SET street = '1999 Maple Street', city = 'Springfield', state = 'IL', zip = '62704-1421', "
      "taxonomy = '207Q00000X', tax_id = CASE WHEN tax_id = '' THEN '37-1234567' ELSE tax_id END, "
      "pay_to_street = 'PO Box 1999', pay_to_city = 'Springfield', pay_to_state = 'IL', pay_to_zip = '62705-1999', "
      "submitter_id = 'MSFM0001' WHERE id = 1")
    mcr = q("SELECT id FROM payer WHERE kind = 'medicare' ORDER BY id LIMIT 1").fetchone()
    if mcr:
        now = _now()
        executemany(
            "INSERT INTO fee_schedule (code, payer_id, effective, amount, at, operator) VALUES (?,?,?,?,?,?)",
            [(code, mcr[0], start.replace(month=1, day=1).isoformat(), fee * 56 // 100, now, operator)
             for code, fee in q("SELECT code, fee FROM procedure").fetchall()])

    # --- patients: ZIP+4, phones, keys, guarantors of children
    kinds = dict(q("SELECT id, kind FROM payer").fetchall())
    commercial = [pid for pid, kind in kinds.items() if kind == "commercial" and pid != medigap_id]
    patients = q("SELECT id, account, last_name, first_name, dob, zip, phone, address, city, state FROM patient "
                 "ORDER BY id").fetchall()
    by_id = {}
    updates = []
    for pid, acct, last, first, dob, zipc, phone, address, city, state in patients:
        zip9 = zipc if "-" in zipc or len(zipc) != 5 else f"{zipc}-{rng.randrange(1, 9999):04d}"
        digits = phone_key(phone)
        phone_out = f"{digits[:3]}-{digits[3:6]}-{digits[6:]}" if len(digits) == 10 else phone
        age = (today - dt.date.fromisoformat(dob)).days // 365
        parent = None
        if age < 18:
            sex = "F" if rng.random() < 0.6 else "M"
            parent = (last, rng.choice(PARENT_F if sex == "F" else PARENT_M), sex)
        by_id[pid] = (last, first, dob, age, parent, address, city, state, zip9)
        updates.append((zip9, phone_out, name_search_key(last, first), phone_key(phone_out), account_key(acct),
                        "parent" if parent else "self", parent[0] if parent else "", parent[1] if parent else "",
                        address if parent else "", city if parent else "", state if parent else "",
                        zip9 if parent else "", phone_out if parent else "", pid))
    executemany(
        "UPDATE patient SET zip = ?, phone = ?, search_key = ?, phone_key = ?, account_key = ?, "
        "guarantor_relationship = ?, guarantor_last = ?, guarantor_first = ?, guarantor_address = ?, "
        "guarantor_city = ?, guarantor_state = ?, guarantor_zip = ?, guarantor_phone = ? WHERE id = ?", updates)
    counts["patients"] = len(updates)

    # --- coverages: dates, dependents, spouses, Medigap, terminated plans
    cov_updates, new_covs = [], []
    covs = q("SELECT id, patient_id, payer_id, priority, member_id FROM coverage ORDER BY patient_id, priority"
             ).fetchall()
    primaries: dict[int, int] = {}
    for cid, pid, payer, priority, _member in covs:
        last, first, dob, age, parent, address, city, state, zip9 = by_id[pid]
        began = start - dt.timedelta(days=rng.randrange(30, 2000))
        began = max(began, dt.date.fromisoformat(dob))
        rel, sub = "self", ("", "", "", "", "", "", "", "")
        new_payer = payer
        if kinds.get(payer) == "commercial" and priority == 1 and parent is not None:
            sub_dob = dt.date.fromisoformat(dob) - dt.timedelta(days=365 * rng.randint(24, 38) + rng.randrange(365))
            rel, sub = "child", (parent[0], parent[1], sub_dob.isoformat(), parent[2], address, city, state, zip9)
            counts["dependents"] += 1
        elif kinds.get(payer) == "commercial" and priority == 1 and 25 <= age < 65 and rng.random() < 0.2:
            sex = rng.choice("FM")
            sub_dob = dt.date.fromisoformat(dob) + dt.timedelta(days=rng.randint(-2500, 2500))
            rel, sub = "spouse", (last, rng.choice(PARENT_F if sex == "F" else PARENT_M), sub_dob.isoformat(), sex,
                                  address, city, state, zip9)
            counts["spouses"] += 1
        elif priority == 2 and kinds.get(primaries.get(pid)) == "medicare" and kinds.get(payer) == "commercial":
            new_payer = medigap_id
            counts["medigap"] += 1
        if priority == 1:
            primaries[pid] = payer
        cov_updates.append((new_payer, rel, *sub, began.isoformat(), cid))
        if priority == 1 and kinds.get(payer) == "commercial" and commercial and rng.random() < 0.06:
            old_payer = rng.choice(commercial)
            ended = began - dt.timedelta(days=1)
            new_covs.append((pid, old_payer, f"OLD{rng.randrange(10**8):08d}", f"G{rng.randrange(10**5):05d}", 1,
                             (ended - dt.timedelta(days=rng.randrange(365, 1500))).isoformat(), ended.isoformat()))
            counts["terminated"] += 1
    executemany(
        "UPDATE coverage SET payer_id = ?, relationship = ?, subscriber_last = ?, subscriber_first = ?, "
        "subscriber_dob = ?, subscriber_sex = ?, subscriber_address = ?, subscriber_city = ?, subscriber_state = ?, "
        "subscriber_zip = ?, effective = ? WHERE id = ?", cov_updates)
    executemany(
        "INSERT INTO coverage (patient_id, payer_id, member_id, group_no, priority, effective, end_date) "
        "VALUES (?,?,?,?,?,?,?)", new_covs)
    audit.record(_now(), operator, "demo_accounts", "patient", None, counts)
    return counts
