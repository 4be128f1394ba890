"""Bad input to every operation is refused with a message that names the problem, and changes nothing.

Each case runs against the seeded practice with a posted encounter, a receipt partly applied, a
closed yesterday and a closed last month, so refusals about closed periods and over-application
have something real to refuse. The whole database is dumped before and after: a refusal must
leave it identical.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tui_billing.money import MoneyError, parse_cents
from tui_billing.store import BillingError, close_database, open_database
from tui_billing.store import operations as ops
from tui_billing.store.operations import ChargeLine, CoverageIn, DepositCount, DistributionLine

import store_helpers
from store_helpers import NPIS, OPERATOR, TODAY

# conftest pins today to 2026-11-16
YESTERDAY = "2026-11-15"
LAST_MONTH_DAY = "2026-10-20"


@dataclass
class World:
    """Ids of the things bad input is aimed at."""

    patient: int
    selfpay: int
    provider: int
    payer: int
    encounter: int
    charge: int
    paid_encounter: int
    paid_charge: int
    receipt: int
    payer_receipt: int
    distribution: int
    refund: int
    voided_receipt: int


def _build_world(monkeypatch: pytest.MonkeyPatch) -> World:
    """Closed October and a closed yesterday, then today's postings to aim bad input at."""
    p = store_helpers.seed_practice()
    # Something posted in October, then the month closed.
    monkeypatch.setenv("TUI_BILLING_TODAY", LAST_MONTH_DAY)
    ops.post_encounter(patient_id=p.patients[0], provider_id=p.providers[0], dos=LAST_MONTH_DAY,
                       diagnoses=["I10"], lines=[ChargeLine("99213")])
    ops.close_day(LAST_MONTH_DAY)
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    ops.close_month("2026-10")
    ops.close_day(YESTERDAY)
    enc = ops.post_encounter(patient_id=p.patients[2], provider_id=p.providers[0], dos="2026-11-10",
                             diagnoses=["J06.9", "I10"], lines=[ChargeLine("99213"), ChargeLine("36415")])
    paid = ops.post_encounter(patient_id=p.patients[0], provider_id=p.providers[1], dos="2026-11-12",
                              diagnoses=["E11.9"], lines=[ChargeLine("99214")])
    receipt = ops.record_receipt(amount=5000, method="cash", patient_id=p.patients[2]).receipt_id
    payer_receipt = ops.record_receipt(amount=9000, method="check", reference="1001", payer_id=p.payers[0]).receipt_id
    did = ops.distribute(payer_receipt, [DistributionLine(paid.charge_ids[0], 8000)])
    refund = ops.refund(payer_receipt, 500, method="check", reference="9001", reason="overpaid")
    voided = ops.record_receipt(amount=700, method="card", patient_id=p.patients[2]).receipt_id
    ops.void("receipt", voided, "keyed twice")
    return World(p.patients[0], p.patients[2], p.providers[0], p.payers[0], enc.encounter_id, enc.charge_ids[0],
                 paid.encounter_id, paid.charge_ids[0], receipt, payer_receipt, did, refund, voided)


@pytest.fixture(scope="module")
def world_template(tmp_path_factory) -> tuple[Path, World]:
    """Built once per module (posting is fsync-bound); each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("bad-input") / "template.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUI_BILLING_TODAY", TODAY)
        mp.setenv("TUI_BILLING_OPERATOR", OPERATOR)
        open_database(path)
        try:
            w = _build_world(mp)
        finally:
            close_database()  # the last connection checkpoints the WAL into the file
    return path, w


@pytest.fixture
def world(world_template, today, tmp_path) -> Iterator[World]:
    template, w = world_template
    copy = tmp_path / "billing.db"
    shutil.copy2(template, copy)
    open_database(copy)
    try:
        yield w
    finally:
        close_database()


def _enc(w: World, **over) -> Callable[[], object]:
    kw = dict(patient_id=w.selfpay, provider_id=w.provider, dos="2026-11-16", diagnoses=["J06.9"],
              lines=[ChargeLine("99213")])
    kw.update(over)
    return lambda: ops.post_encounter(**kw)


def _patient(**over) -> Callable[[], object]:
    kw = dict(account="Z900", last_name="Smith", first_name="Ann", dob="1990-01-01", sex="F")
    kw.update(over)
    return lambda: ops.add_patient(**kw)


def _receipt(**over) -> Callable[[], object]:
    kw = dict(amount=1000, method="cash")
    kw.update(over)
    return lambda: ops.record_receipt(**kw)


TEN_KB = "x" * 10_240

# (id, builder(world) -> thunk (the builder may set things up), regex the message must match)
CASES: list[tuple[str, Callable[[World], Callable[[], object]], str]] = [
    # --- charges
    ("unknown patient", lambda w: _enc(w, patient_id=987654), r"patient 987654 does not exist"),
    ("patient id not a number", lambda w: _enc(w, patient_id="A001"), r"choose a patient"),
    ("unknown provider", lambda w: _enc(w, provider_id=4242), r"provider 4242 does not exist"),
    ("unknown payer on charge", lambda w: _enc(w, payer_id=4242), r"payer 4242 does not exist"),
    ("invalid ICD-10 code", lambda w: _enc(w, diagnoses=["ZZZ.9"]), r"ZZZ\.9 is not an ICD-10-CM code"),
    ("non-billable ICD-10 category", lambda w: _enc(w, diagnoses=["J06"]), r"J06 is a category, not billable; e\.g\. J06\.9"),
    ("ICD-10 garbage", lambda w: _enc(w, diagnoses=["hello"]), r"(?i)icd-10|code"),
    ("duplicate diagnosis", lambda w: _enc(w, diagnoses=["I10", "I10"]), r"I10 is listed twice"),
    ("13 diagnoses", lambda w: _enc(w, diagnoses=["I10"] * 13), r"at most 12 diagnoses"),
    ("no diagnosis", lambda w: _enc(w, diagnoses=[]), r"at least one diagnosis"),
    ("invalid procedure code", lambda w: _enc(w, lines=[ChargeLine("ABCDE")]), r"ABCDE"),
    ("procedure not in fee schedule", lambda w: _enc(w, lines=[ChargeLine("99215")]),
     r"99215 is not in the office's fee schedule"),
    ("fee with a third decimal (float)", lambda w: _enc(w, lines=[ChargeLine("99213", fee=100.005)]), r"whole number of cents"),
    ("negative fee", lambda w: _enc(w, lines=[ChargeLine("99213", fee=-1)]), r"cannot be negative"),
    ("huge fee", lambda w: _enc(w, lines=[ChargeLine("99213", fee=10**12)]), r"over the .* ceiling"),
    ("huge fee times units", lambda w: _enc(w, lines=[ChargeLine("99213", fee=900_000_000, units=2)]), r"over the ceiling"),
    ("zero units", lambda w: _enc(w, lines=[ChargeLine("99213", units=0)]), r"units must be a whole number of at least 1"),
    ("bad modifier", lambda w: _enc(w, lines=[ChargeLine("99213", modifiers=("Q!",))]), r"Q!"),
    ("five modifiers", lambda w: _enc(w, lines=[ChargeLine("99213", modifiers=("25",) * 5)]), r"at most 4 modifiers"),
    ("pointer past diagnoses", lambda w: _enc(w, lines=[ChargeLine("99213", dx_pointers=(2,))]), r"pointer 2 does not point"),
    ("51 lines", lambda w: _enc(w, lines=[ChargeLine("99213")] * 51), r"at most 50 service lines"),
    ("bad POS", lambda w: _enc(w, pos="XX"), r"XX"),
    ("DOS in the future", lambda w: _enc(w, dos="2026-11-17"), r"date of service 2026-11-17 is in the future"),
    ("DOS not a date", lambda w: _enc(w, dos="11/16/2026"), r"date of service must be a date like"),
    ("posting into a closed day", lambda w: _enc(w, posting_date=YESTERDAY), r"day 2026-11-15 was closed by tester"),
    ("posting into a closed month", lambda w: _enc(w, dos="2026-10-02", posting_date="2026-10-05"),
     r"month 2026-10 was closed"),
    ("posting before a later closed day", lambda w: _enc(w, dos="2026-11-14", posting_date="2026-11-14"),
     r"2026-11-15 is already closed, so nothing can be posted to the earlier day 2026-11-14"),
    ("receipt before a later closed day", lambda w: _receipt(patient_id=w.patient, posting_date="2026-11-01"),
     r"2026-11-15 is already closed"),
    ("posting date in the future", lambda w: _enc(w, posting_date="2026-11-20"), r"posting date 2026-11-20 is in the future"),
    ("charge batch that does not exist", lambda w: _enc(w, batch_id=777), r"batch 777 does not exist"),
    ("receipt batch used for a charge", lambda w: _enc(w, batch_id=_receipt_batch()),
     r"is a receipt batch, not a charge batch"),
    # --- receipts
    ("receipt from unknown payer", lambda w: _receipt(payer_id=31337), r"payer 31337 does not exist"),
    ("receipt from unknown patient", lambda w: _receipt(patient_id=31337), r"patient 31337 does not exist"),
    ("receipt from nobody", lambda w: _receipt(), r"say who paid"),
    ("check without number", lambda w: _receipt(patient_id=w.patient, method="check"), r"check needs its check number"),
    ("EFT without trace", lambda w: _receipt(payer_id=w.payer, method="eft", reference="  "), r"EFT needs its trace number"),
    ("unknown method", lambda w: _receipt(patient_id=w.patient, method="bitcoin"), r"method must be one of cash, check"),
    ("zero receipt", lambda w: _receipt(patient_id=w.patient, amount=0), r"must be more than 0\.00"),
    ("negative receipt", lambda w: _receipt(patient_id=w.patient, amount=-500), r"amount cannot be negative \(-5\.00\)"),
    ("huge receipt", lambda w: _receipt(patient_id=w.patient, amount=10**9 + 1), r"over the 10,000,000\.00 ceiling"),
    ("receipt with a third decimal (float)", lambda w: _receipt(patient_id=w.patient, amount=10.005), r"whole number of cents"),
    ("received date in the future", lambda w: _receipt(patient_id=w.patient, received_date="2026-12-01"),
     r"received date 2026-12-01 is in the future"),
    ("receipt into a closed day", lambda w: _receipt(patient_id=w.patient, posting_date=YESTERDAY), r"was closed"),
    ("reference with control character", lambda w: _receipt(payer_id=w.payer, method="check", reference="12\x0034"),
     r"reference contains a control character \(U\+0000\)"),
    # --- distributions
    ("over-apply the receipt", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(w.charge, 5001)]),
     r"50\.01 is more than the receipt's unapplied 50\.00"),
    ("over-apply the charge", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(w.charge, 0, 10001, "CO-45")]),
     r"100\.01 is more than the charge's balance 100\.00"),
    ("same charge twice over its balance", lambda w: lambda: ops.distribute(
        None, [DistributionLine(w.charge, 0, 6000, "CO-45"), DistributionLine(w.charge, 0, 6000, "CO-45")]),
     r"line 2: 60\.00 is more than the charge's balance 40\.00"),
    ("adjustment with an unknown reason", lambda w: lambda: ops.distribute(None, [DistributionLine(w.charge, 0, 100, "XX-99")]),
     r"XX-99 is not an adjustment reason"),
    ("adjustment without a reason", lambda w: lambda: ops.distribute(None, [DistributionLine(w.charge, 0, 100)]),
     r"an adjustment needs a reason"),
    ("money without a receipt", lambda w: lambda: ops.distribute(None, [DistributionLine(w.charge, 100)]),
     r"money can only be applied from a receipt"),
    ("apply to another patient's charge", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(w.paid_charge, 100)]),
     r"belongs to another patient"),
    ("payer receipt to a self-pay charge", lambda w: lambda: ops.distribute(w.payer_receipt, [DistributionLine(w.charge, 100)]),
     r"not billed to this receipt's payer"),
    ("negative application", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(w.charge, -100)]),
     r"applied amount cannot be negative"),
    ("apply a voided receipt", lambda w: lambda: ops.distribute(w.voided_receipt, [DistributionLine(w.charge, 100)]),
     r"receipt \d+ was voided"),
    ("unknown charge", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(55555, 100)]),
     r"charge 55555 does not exist"),
    ("empty distribution", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(w.charge)]), r"nothing to post"),
    ("distribute into a closed day", lambda w: lambda: ops.distribute(w.receipt, [DistributionLine(w.charge, 100)],
                                                                       posting_date=YESTERDAY), r"was closed"),
    ("transfer of a self-pay charge", lambda w: lambda: ops.transfer_to_patient([w.charge]), r"nothing to post"),
    # --- refunds
    ("refund over unapplied", lambda w: lambda: ops.refund(w.payer_receipt, 501, method="check", reference="9"),
     r"refund 5\.01 is more than the receipt's unapplied 5\.00"),
    ("negative refund", lambda w: lambda: ops.refund(w.receipt, -1, method="cash"), r"refund amount cannot be negative"),
    ("refund of a voided receipt", lambda w: lambda: ops.refund(w.voided_receipt, 1, method="cash"), r"was voided"),
    ("refund by check without number", lambda w: lambda: ops.refund(w.receipt, 100, method="check"), r"reference is required"),
    # --- voids
    ("void twice", lambda w: lambda: ops.void("receipt", w.voided_receipt, "again"), r"receipt \d+ was voided"),
    ("void an encounter with payments", lambda w: lambda: ops.void("encounter", w.paid_encounter, "oops"),
     r"has payments or adjustments: void those distributions first"),
    ("void a receipt with a live refund", lambda w: lambda: ops.void("receipt", w.payer_receipt, "oops"),
     r"void the refund first"),
    ("void without a reason", lambda w: lambda: ops.void("encounter", w.encounter, "  "), r"void reason is required"),
    ("void an unknown kind", lambda w: lambda: ops.void("charge", w.charge, "x"), r"can void one of"),
    ("void a missing encounter", lambda w: lambda: ops.void("encounter", 4040, "x"), r"encounter 4040 does not exist"),
    ("void into a closed day", lambda w: lambda: ops.void("encounter", w.encounter, "x", posting_date=YESTERDAY), r"was closed"),
    # --- batches and closes
    ("batch with negative control count", lambda w: lambda: ops.open_batch("charge", -1, 0), r"control count must be"),
    ("batch of unknown kind", lambda w: lambda: ops.open_batch("payment", 1, 0), r"batch kind must be charge or receipt"),
    ("close day with the wrong deposit", lambda w: lambda: ops.close_day("2026-11-16", DepositCount(cash=4999, checks=8500,
                                                                                                  check_count=1)),
     r"cash counted 49\.99 but receipts say 50\.00"),
    ("close day with the wrong check count", lambda w: lambda: ops.close_day("2026-11-16", DepositCount(cash=5000, checks=8500)),
     r"0 checks counted but 1 check receipts posted"),
    ("close a day already closed", lambda w: lambda: ops.close_day(YESTERDAY), r"was closed"),
    ("close a future day", lambda w: lambda: ops.close_day("2026-11-17"), r"in the future|has not happened"),
    ("close a month not over", lambda w: lambda: ops.close_month("2026-11"), r"month 2026-11 is not over"),
    ("close a month twice", lambda w: lambda: ops.close_month("2026-10"), r"month 2026-10 is already closed"),
    ("close a month spelled wrong", lambda w: lambda: ops.close_month("Nov 2026"), r"month must look like 2026-11"),
    # --- ids past SQLite's 64-bit integers (an import or a script, not a form)
    ("huge patient id", lambda w: _enc(w, patient_id=2**64), r"patient 18446744073709551616 does not exist"),
    ("huge charge id", lambda w: lambda: ops.distribute(None, [DistributionLine(2**63, 0, 5, "CO-45")]),
     r"charge 9223372036854775808 does not exist"),
    ("huge receipt id to void", lambda w: lambda: ops.void("receipt", 2**64, "x"), r"receipt \d+ does not exist"),
    ("huge payer id", lambda w: _receipt(payer_id=2**64), r"payer \d+ does not exist"),
    ("huge batch id", lambda w: _enc(w, batch_id=2**64), r"batch \d+ does not exist"),
    ("huge coverage payer id", lambda w: _patient(coverages=[CoverageIn(2**64, "M1")]), r"payer \d+ does not exist"),
    # --- master data
    ("control character in a last name", lambda w: _patient(last_name="Sm\x07ith"),
     r"last name contains a control character \(U\+0007\)"),
    ("newline in a first name", lambda w: _patient(first_name="An\nn"), r"first name contains a control character \(U\+000A\)"),
    ("bidi override in a name", lambda w: _patient(last_name="\u202ehtimS"),
     r"last name contains a control character \(U\+202E\)"),
    ("bidi isolate in a name", lambda w: _patient(first_name="A\u2066nn"), r"U\+2066"),
    ("10 KB last name", lambda w: _patient(last_name=TEN_KB), r"last name is too long \(10240 characters; at most 60\)"),
    ("10 KB address", lambda w: _patient(address=TEN_KB), r"address is too long"),
    ("comma in a name", lambda w: _patient(last_name="Smith, Jr"), r"cannot contain a comma"),
    ("empty last name", lambda w: _patient(last_name="   "), r"last name is required"),
    ("date of birth in the future", lambda w: _patient(dob="2030-01-01"), r"date of birth 2030-01-01 is in the future"),
    ("bad sex", lambda w: _patient(sex="Q"), r"sex must be F, M, X or U"),
    ("duplicate account", lambda w: _patient(account="a001"), r"account A001 is already used"),
    ("coverage with unknown payer", lambda w: _patient(coverages=[CoverageIn(999, "M1")]), r"payer 999 does not exist"),
    ("two primaries", lambda w: _patient(coverages=[CoverageIn(w.payer, "M1"), CoverageIn(w.payer, "M2")]),
     r"priorities must be 1, 2 or 3, each used once"),
    ("provider with a bad NPI", lambda w: lambda: ops.add_provider("NEW", "New Doc", "1234567890"), r"(?i)npi"),
    ("provider name with a tab", lambda w: lambda: ops.add_provider("NEW", "New\tDoc", NPIS[2]), r"U\+0009"),
    ("duplicate provider code", lambda w: lambda: ops.add_provider("smi", "Other", NPIS[2]),
     r"provider code SMI is already used"),
    ("payer of unknown kind", lambda w: lambda: ops.add_payer("NEW", "New", "cash"), r"payer kind must be one of"),
    ("payer name with escape", lambda w: lambda: ops.add_payer("NEW", "New\x1b[31m", "other"), r"U\+001B"),
    ("negative fee schedule", lambda w: lambda: ops.set_procedure("99215", "Visit", -100), r"fee cannot be negative"),
    ("fee schedule for a bad code", lambda w: lambda: ops.set_procedure("9921", "Visit", 100), r"9921"),
    ("duplicate reason", lambda w: lambda: ops.add_adjustment_reason("co-45", "again"), r"reason CO-45 already exists"),
    ("operator with control character", lambda w: lambda: ops.add_payer("NEW", "New", "other", operator="bob\x00"),
     r"operator contains a control character"),
]


def _receipt_batch() -> int:
    """Opened inside the case itself: refused cases compare against a dump taken after this."""
    return ops.open_batch("receipt", 1, 100)


@pytest.mark.parametrize(("builder", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_refused_and_nothing_changes(world, dump, builder, pattern):
    thunk = builder(world)
    before = dump()
    with pytest.raises(BillingError) as caught:
        thunk()
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    assert re.search(pattern, message), f"unclear message: {message!r}"
    assert dump() == before, "a refused operation changed the database"


def test_world_is_sane(world):
    """The fixture's own postings are whole (so the refusals above are about the bad input)."""
    from tui_billing.store import run_check

    report = run_check()
    assert report.ok, report.problems


@pytest.mark.parametrize("text", ["1.005", "12.345", "0.001", "-1", "1e3", "12,34.00", "$10,000,000.01", "abc", ""])
def test_money_text_refused_with_reason(text):
    with pytest.raises(MoneyError) as caught:
        parse_cents(text)
    assert str(caught.value)


def test_third_decimal_message_names_it():
    with pytest.raises(MoneyError, match=r"(?i)decimal|cents"):
        parse_cents("125.505")
