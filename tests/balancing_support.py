"""A small practice with one fully worked posting day, built through the store operations.

Shared by the balancing tests (imported by path: tests/ is not a package).
"""

from __future__ import annotations

from dataclasses import dataclass

from tui_billing.store import operations as ops
from tui_billing.store.operations import ChargeLine, CoverageIn, DistributionLine

DAY = "2026-11-02"
NEXT = "2026-11-03"


@dataclass
class Day:
    """Ids and the expected figures of the worked day."""

    charge_batch: int
    receipt_batch: int
    charges: int
    receipts_by_method: dict[str, int]
    refunds: int
    applied: int
    adjusted: int


def practice() -> dict[str, int]:
    """Master data: two providers, one payer, two patients, two fee-schedule lines."""
    ops.seed_standard_reasons(operator="admin")
    ops.set_practice("Maple [Family] Medicine", operator="admin")
    ids = {
        "dra": ops.add_provider("DRA", "Ada Able", "1234567893", operator="admin"),
        "drb": ops.add_provider("DRB", "Ben [b] Baker", "1245319599", operator="admin"),
        "payer": ops.add_payer("ACME", "Acme Health", "commercial", "12345", operator="admin"),
    }
    ids["p1"] = ops.add_patient("A001", "Smith", "Jo", "1980-01-02", "F",
                                coverages=[CoverageIn(ids["payer"], "M1")], operator="admin")
    ids["p2"] = ops.add_patient("A002", "Jones", "Al", "1975-05-06", "M", operator="admin")
    ops.set_procedure("99213", "Office visit, established, low", 10000, operator="admin")
    ops.set_procedure("99214", "Office visit, established, moderate", 15000, operator="admin")
    return ids


def worked_day(ids: dict[str, int], date: str = DAY, *, close_batches: bool = True) -> Day:
    """Charges, receipts, a distribution with an adjustment and a transfer, a refund and a void."""
    cb = ops.open_batch("charge", 2, 25000, posting_date=date, operator="alice")
    e1 = ops.post_encounter(patient_id=ids["p1"], provider_id=ids["dra"], dos=date, diagnoses=["J06.9"],
                            lines=[ChargeLine("99213")], batch_id=cb, posting_date=date, operator="alice")
    e2 = ops.post_encounter(patient_id=ids["p2"], provider_id=ids["drb"], dos=date, diagnoses=["I10"],
                       lines=[ChargeLine("99214")], payer_id=None, batch_id=cb, posting_date=date, operator="bob")
    e3 = ops.post_encounter(patient_id=ids["p2"], provider_id=ids["dra"], dos=date, diagnoses=["I10"],
                            lines=[ChargeLine("99213")], payer_id=None, batch_id=cb, posting_date=date, operator="bob")
    ops.void("encounter", e3.encounter_id, "keyed twice", posting_date=date, operator="bob")
    # 3 entered - 1 reversal = 2 encounters; 100 + 150 + 100 - 100 = 250.00
    rb = ops.open_batch("receipt", 4, 19000, posting_date=date, operator="alice")
    chk = ops.record_receipt(amount=6000, method="check", payer_id=ids["payer"], reference="CHK100",
                             batch_id=rb, posting_date=date, operator="alice").receipt_id
    cash = ops.record_receipt(amount=5000, method="cash", patient_id=ids["p2"], batch_id=rb,
                              posting_date=date, operator="alice").receipt_id
    card = ops.record_receipt(amount=3000, method="card", patient_id=ids["p2"], batch_id=rb,
                              posting_date=date, operator="alice").receipt_id
    ops.record_receipt(amount=5000, method="eft", payer_id=ids["payer"], reference="TRN9", batch_id=rb,
                       posting_date=date, operator="alice")
    ops.distribute(chk, [DistributionLine(e1.charge_ids[0], applied=6000, adjustment=2500, reason="CO-45",
                                          transfer_to_patient=True)], posting_date=date, operator="alice")
    ops.distribute(cash, [DistributionLine(e2.charge_ids[0], applied=4000)], posting_date=date, operator="bob")
    ops.refund(card, 1000, method="card", reference="", reason="overpaid", posting_date=date, operator="bob")
    if close_batches:
        ops.close_batch(cb, operator="alice")
        ops.close_batch(rb, operator="alice")
    return Day(cb, rb, charges=25000, receipts_by_method={"cash": 5000, "check": 6000, "card": 3000, "eft": 5000},
               refunds=1000, applied=10000, adjusted=2500)
