"""A small practice built through the store operations, for the report, journal and import tests.

Several posting days (most closed), every kind of entry (charges, receipts by every method,
applications, adjustments, transfers, refunds, and voids of each), two operators, two providers,
patients with hostile names. Everything goes through the same operations the screens use.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

TODAY = "2026-03-20"
DAYS = ["2026-01-05", "2026-01-20", "2026-02-02", "2026-02-17", "2026-03-02", "2026-03-19", "2026-03-20"]
#: the last two days are left open
OPEN_DAYS = DAYS[-2:]
HOSTILE_LAST = '=HYPERLINK("x")'
HOSTILE_FIRST = "[/]\x1b[31mred"


def build(path: Path, monkeypatch) -> dict:
    """Create the practice at ``path``. Returns ids the tests use."""
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "alice")
    from tui_billing.store import open_database
    from tui_billing.store import operations as ops
    from tui_billing.store.db import database

    open_database(path, create=True)
    ops.seed_standard_reasons()
    ops.set_practice("Maple Family Medicine")
    dr1 = ops.add_provider("DR1", "Dana Reyes", "1234567893")
    dr2 = ops.add_provider("DR2", "Sam Ortiz", "1245319599")
    aet = ops.add_payer("AET", "Aetna", "commercial", "60054")
    mcr = ops.add_payer("MCR", "Medicare", "medicare", "00882")
    ops.set_procedure("99213", "Office visit, est., low", 12500)
    ops.set_procedure("99214", "Office visit, est., moderate", 18500)
    ops.set_procedure("85025", "Blood count", 3000)
    pats = []
    for n in range(6):
        covs = [ops.CoverageIn(aet if n % 2 else mcr, f"M{n:04d}")] if n % 3 else []
        pats.append(ops.add_patient(f"A{n:03d}", f"Last{n}", f"First{n}", "1970-01-01", "F", coverages=covs))
    # a patient whose stored name is hostile: markup, a formula (the store refuses control characters,
    # so the escape sequence is planted through raw SQL below for the "prints inert" checks)
    evil = ops.add_patient("EVIL1", HOSTILE_LAST, "Eve", "1980-02-02", "F")
    database.execute_sql("UPDATE patient SET first_name = ? WHERE id = ?", (HOSTILE_FIRST, evil))
    ids: dict = {"providers": (dr1, dr2), "payers": (aet, mcr), "patients": pats, "evil": evil}

    charges: list[int] = []
    receipts: list[int] = []
    for i, day in enumerate(DAYS):
        op = "alice" if i % 2 == 0 else "bob"
        for n, pid in enumerate(pats + [evil]):
            if (n + i) % 2:
                continue
            dos = (dt.date.fromisoformat(day) - dt.timedelta(days=n * 9)).isoformat()
            posted = ops.post_encounter(
                patient_id=pid, provider_id=dr1 if n % 2 else dr2, dos=dos, diagnoses=["J06.9"],
                lines=[ops.ChargeLine("99213"), ops.ChargeLine("85025", units=2)] if n % 2 else [ops.ChargeLine("99214")],
                posting_date=day, operator=op)
            charges.extend(posted.charge_ids)
        # money in: a payer EFT, a patient check, cash and card
        r1 = ops.record_receipt(amount=9000 + i * 100, method="eft", payer_id=aet, reference=f"TRN{i}",
                                posting_date=day, operator=op).receipt_id
        r2 = ops.record_receipt(amount=2500, method="check", patient_id=pats[0], reference=f"10{i}",
                                posting_date=day, operator=op).receipt_id
        r3 = ops.record_receipt(amount=1000, method="cash", patient_id=evil, posting_date=day, operator=op).receipt_id
        r4 = ops.record_receipt(amount=1500, method="card", patient_id=pats[2], posting_date=day, operator=op).receipt_id
        receipts += [r1, r2, r3, r4]
        # distribute the payer money to an open AET charge, with a contractual adjustment and transfer
        open_aet = [c for c, in database.execute_sql(
            "SELECT charge_id FROM charge_balance WHERE payer_id = ? AND balance > 3000 ORDER BY charge_id", (aet,))]
        if open_aet:
            ops.distribute(r1, [ops.DistributionLine(open_aet[0], applied=2000, adjustment=500, reason="CO-45",
                                                     transfer_to_patient=True)], posting_date=day, operator=op)
        own = [c for c, in database.execute_sql(
            "SELECT charge_id FROM charge_balance WHERE patient_id = ? AND balance > 0 ORDER BY charge_id",
            (pats[0],))]
        if own:
            ops.distribute(r2, [ops.DistributionLine(own[0], applied=min(1000, 2500))], posting_date=day,
                           operator=op)
        if i == 1:
            ops.refund(r4, 500, method="check", reference="RF1", reason="overpaid", posting_date=day, operator=op)
        if i == 2:
            # a void of each kind
            enc = database.execute_sql("SELECT encounter_id FROM charge c WHERE posting_date = ? AND NOT EXISTS "
                                       "(SELECT 1 FROM application a WHERE a.charge_id = c.id) AND NOT EXISTS "
                                       "(SELECT 1 FROM adjustment j WHERE j.charge_id = c.id) ORDER BY id DESC LIMIT 1",
                                       (day,)).fetchone()[0]
            ops.void("encounter", enc, "keyed twice", posting_date=day, operator=op)
            ops.void("receipt", r3, "bounced", posting_date=day, operator=op)
        if i == 4:
            d = database.execute_sql("SELECT id FROM distribution WHERE receipt_id = ? ORDER BY id LIMIT 1",
                                     (r1,)).fetchone()
            if d:
                ops.void("distribution", d[0], "wrong charge", posting_date=day, operator=op)
            # an office write-off without money
            small = [c for c, in database.execute_sql(
                "SELECT charge_id FROM charge_balance WHERE payer_id IS NULL AND balance > 100 ORDER BY charge_id")]
            if small:
                ops.distribute(None, [ops.DistributionLine(small[0], adjustment=100, reason="SMALL")],
                               posting_date=day, operator=op)
        if day not in OPEN_DAYS:
            from tui_billing.store.summary import day_summary

            s = day_summary(day)
            dep = s.deposit
            ops.close_day(day, ops.DepositCount(cash=dep["cash"], checks=dep["check"], check_count=s.check_count,
                                                card=dep["card"], eft=dep["eft"]), operator="carol")
    ids["charges"] = charges
    ids["receipts"] = receipts
    return ids
