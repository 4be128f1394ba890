"""Transfers: the rest of a charge moves to the patient or to the next payer; a void moves it back."""

from __future__ import annotations

import pytest

from tui_billing.store import BillingError, ChargeLine, DistributionLine, run_check
from tui_billing.store import operations as ops
from tui_billing.store.db import database

import store_helpers


def _owner(charge_id: int) -> tuple[int | None, int]:
    return database.execute_sql("SELECT payer_id, balance FROM charge_balance WHERE charge_id = ?",
                                (charge_id,)).fetchone()


def test_primary_pays_then_rest_moves_to_secondary_and_back_on_void(practice, dump):
    medicare, acme = practice.payers[1], practice.payers[0]
    enc = ops.post_encounter(patient_id=practice.patients[1], provider_id=practice.providers[0],
                             dos=store_helpers.TODAY, diagnoses=["I10"], lines=[ChargeLine("99214")])
    charge = enc.charge_ids[0]
    assert _owner(charge) == (medicare, 15000)
    eft = ops.record_receipt(amount=9000, method="eft", payer_id=medicare, reference="TRN1").receipt_id
    did = ops.distribute(eft, [DistributionLine(charge, applied=9000, adjustment=3000, reason="CO-45",
                                                transfer_to_payer=acme)])
    assert _owner(charge) == (acme, 3000)
    assert run_check(integrity=False).ok
    assert not store_helpers.invariant_problems()

    # the secondary cannot be made to owe what it already owes, and a line cannot go two ways
    before = dump()
    with pytest.raises(BillingError, match="already that payer's"):
        ops.transfer_to_payer([charge], acme)
    with pytest.raises(BillingError, match="not both"):
        ops.distribute(None, [DistributionLine(charge, transfer_to_patient=True, transfer_to_payer=medicare)])
    with pytest.raises(BillingError, match="does not exist"):
        ops.transfer_to_payer([charge], 999)
    assert dump() == before

    ops.void("distribution", did, "keyed against the wrong remittance")
    assert _owner(charge) == (medicare, 15000)
    assert run_check(integrity=False).ok
    assert not store_helpers.invariant_problems()


def test_secondary_then_patient(practice):
    acme = practice.payers[0]
    enc = ops.post_encounter(patient_id=practice.patients[1], provider_id=practice.providers[0],
                             dos=store_helpers.TODAY, diagnoses=["I10"], lines=[ChargeLine("99213")])
    charge = enc.charge_ids[0]
    ops.transfer_to_payer([charge], acme)
    ops.transfer_to_patient([charge])
    assert _owner(charge) == (None, 10000)
    # nothing left to move: a patient-owed charge moved to the patient again is refused as empty
    with pytest.raises(BillingError, match="nothing to post"):
        ops.transfer_to_patient([charge])
    assert run_check(integrity=False).ok


def test_void_of_a_payment_with_a_negative_adjustment_on_a_paid_charge(practice):
    """Found by the planner's property test: a paid-off charge raised by a negative adjustment and
    paid again in one distribution. Its void puts the payment back before taking the raise out,
    so the balance never dips below zero (the database refuses that) and the charge is paid again."""
    medicare = practice.payers[1]
    enc = ops.post_encounter(patient_id=practice.patients[1], provider_id=practice.providers[0],
                             dos=store_helpers.TODAY, diagnoses=["I10"], lines=[ChargeLine("99213")])
    charge = enc.charge_ids[0]
    first = ops.record_receipt(amount=10000, method="eft", payer_id=medicare, reference="TRN1").receipt_id
    ops.distribute(first, [DistributionLine(charge, applied=10000)])
    assert _owner(charge) == (medicare, 0)
    late = ops.record_receipt(amount=100, method="eft", payer_id=medicare, reference="TRN2").receipt_id
    did = ops.distribute(late, [DistributionLine(charge, applied=100, adjustment=-100, reason="CO-45")])
    assert _owner(charge) == (medicare, 0)
    ops.void("distribution", did, "posted to the wrong claim")
    assert _owner(charge) == (medicare, 0)
    assert run_check(integrity=False).ok
    assert not store_helpers.invariant_problems()


def test_encounter_detail_reads_in_remittance_order(practice):
    from tui_billing.screens.encounter_detail import encounter_text
    from tui_billing.store import account_queries as aq

    medicare, acme = practice.payers[1], practice.payers[0]
    enc = ops.post_encounter(patient_id=practice.patients[1], provider_id=practice.providers[0],
                             dos=store_helpers.TODAY, diagnoses=["E11.9", "I10"], lines=[ChargeLine("99214")])
    charge = enc.charge_ids[0]
    eft = ops.record_receipt(amount=9000, method="eft", payer_id=medicare, reference="TRN1").receipt_id
    ops.distribute(eft, [DistributionLine(charge, applied=9000, adjustment=3000, reason="CO-45",
                                          transfer_to_payer=acme)])
    _dx, acts = aq.encounter_activity(enc.encounter_id)
    # posted together, read as the remittance says it: paid, adjusted, the rest moved on
    assert [(a.kind, a.amount) for a in acts] == [("charge", 15000), ("applied", 9000), ("adjusted", 3000),
                                                 ("transfer", 3000)]
    title, body = encounter_text(enc.encounter_id)
    assert title == f"Encounter {enc.encounter_id}" and "Diagnoses: E11.9 I10" in body
    assert "MCR > ACME" in body
