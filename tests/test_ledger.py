"""The posting kernel on its own: planners are pure functions of plain values, and their rules hold
for any input hypothesis can make (no database anywhere in this file)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tui_billing.ledger import closes, voids
from tui_billing.ledger.batches import plan_close_batch, plan_open_batch
from tui_billing.ledger.distributions import DistributionFacts, plan_distribution
from tui_billing.ledger.errors import BillingError
from tui_billing.ledger.records import (
    AdjustmentRow,
    ApplicationRow,
    BatchStatus,
    ChargeNow,
    ChargeState,
    DepositCount,
    DistributionLine,
    DistributionParts,
    DistributionRow,
    IdBook,
    PeriodSummary,
    ReceiptState,
    TransferRow,
    Voidable,
)
from tui_billing.ledger.vocab import METHODS, VOID_KINDS, month_bounds

REASONS = frozenset({"CO-45", "PR-1", "SMALL", "CORR"})
PAYERS = (1, 2, 3)
NOW, DAY, USER = "2026-11-20T09:00:00+00:00", "2026-11-20", "clerk"


def test_the_ledger_imports_no_database_and_no_textual():
    code = ("import sys, tui_billing.ledger.vocab, tui_billing.ledger.audit, tui_billing.ledger.records, "
            "tui_billing.ledger.checks, tui_billing.ledger.batches, tui_billing.ledger.charges, "
            "tui_billing.ledger.receipts, tui_billing.ledger.distributions, tui_billing.ledger.voids, "
            "tui_billing.ledger.closes; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('peewee', 'sqlite3', '_sqlite3', "
            "'textual') or m.startswith('tui_billing.store')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_store_and_summary_import_no_cycle():
    """summary no longer reaches back into the operations (the closes moved to store/closes.py)."""
    import ast
    from pathlib import Path

    import tui_billing

    root = Path(tui_billing.__file__).parent / "store"
    imports: dict[str, set[str]] = {}
    for path in root.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.add(node.module or "")
                found.update(alias.name for alias in node.names if node.module is None)
        imports[path.stem] = found
    assert "operations" not in imports["summary"] and "closes" not in imports["summary"]
    assert "operations" not in imports["closes"]


# --------------------------------------------------------------------------- distributions

charge_states = st.lists(
    st.tuples(st.integers(0, 50_000), st.sampled_from((None, *PAYERS))), min_size=1, max_size=5)


@st.composite
def distribution_cases(draw):
    states = draw(charge_states)
    charges = {i + 1: ChargeState(i + 1, 7, payer, None, balance, payer) for i, (balance, payer) in enumerate(states)}
    receipt = draw(st.none() | st.builds(lambda u, p: ReceiptState(99, "payer", None, p, None, u, False),
                                         st.integers(0, 100_000), st.sampled_from(PAYERS)))
    lines = draw(st.lists(st.builds(
        DistributionLine, st.sampled_from(sorted(charges)), st.integers(0, 60_000), st.integers(-5_000, 60_000),
        st.sampled_from((None, "CO-45", "SMALL", "BOGUS")), st.booleans(), st.sampled_from((None, *PAYERS))),
        min_size=1, max_size=6))
    return charges, receipt, lines


#: one charge moved on twice in one distribution (to payer 1, then to payer 2): the second move is
#: from payer 1, so the void takes it back there and then to the patient (CI's hypothesis found it)
MOVED_TWICE = ({1: ChargeState(1, 7, None, None, 1, None), 2: ChargeState(2, 7, None, None, 0, None)}, None,
               [DistributionLine(1), DistributionLine(1, transfer_to_payer=1), DistributionLine(1, transfer_to_payer=2)])


@settings(max_examples=300, deadline=None)
@given(distribution_cases())
@example(MOVED_TWICE)
def test_every_planned_distribution_keeps_balances_at_or_above_zero(case):
    charges, receipt, lines = case
    facts = DistributionFacts(receipt, charges, REASONS, frozenset(PAYERS))
    try:
        plan = plan_distribution(receipt.id if receipt else None, lines, posting_date=DAY, user=USER, now=NOW,
                                 ids=IdBook(), facts=facts)
    except BillingError as refusal:
        assert str(refusal) and refusal.field  # a refusal a clerk can act on, beside a field
        return
    balance = {cid: c.balance for cid, c in charges.items()}
    payer = {cid: c.payer_id for cid, c in charges.items()}
    applied = 0
    for row in plan.rows:
        if isinstance(row, ApplicationRow):
            balance[row.charge_id] -= row.amount
            applied += row.amount
            assert row.receipt_id == receipt.id
        elif isinstance(row, AdjustmentRow):
            balance[row.charge_id] -= row.amount
            assert row.reason_code in REASONS
        elif isinstance(row, TransferRow):
            assert row.from_payer_id == payer[row.charge_id] != row.to_payer_id
            assert row.amount == balance[row.charge_id] > 0  # moves what is left, after the money
            payer[row.charge_id] = row.to_payer_id
    assert all(b >= 0 for b in balance.values())
    assert applied <= (receipt.unapplied if receipt else 0)
    # the audit event records exactly the planned lines
    detail = json.loads(json.dumps(plan.event.detail))
    assert sorted(map(tuple, detail["applications"])) == sorted(
        (r.charge_id, r.amount) for r in plan.of(ApplicationRow))
    assert sorted(map(tuple, detail["adjustments"])) == sorted(
        (r.charge_id, r.reason_code, r.amount) for r in plan.of(AdjustmentRow))


@settings(max_examples=200, deadline=None)
@given(distribution_cases())
@example(MOVED_TWICE)
def test_a_planned_void_puts_every_charge_back(case):
    charges, receipt, lines = case
    facts = DistributionFacts(receipt, charges, REASONS, frozenset(PAYERS))
    ids = IdBook()
    try:
        plan = plan_distribution(receipt.id if receipt else None, lines, posting_date=DAY, user=USER, now=NOW,
                                 ids=ids, facts=facts)
    except BillingError:
        return
    now = {cid: ChargeNow(c.balance, c.payer_id) for cid, c in charges.items()}

    def apply(rows, state):
        for row in rows:
            if isinstance(row, (ApplicationRow, AdjustmentRow)):
                state[row.charge_id] = state[row.charge_id]._replace(balance=state[row.charge_id].balance - row.amount)
            elif isinstance(row, TransferRow):
                state[row.charge_id] = state[row.charge_id]._replace(payer_id=row.to_payer_id)

    apply(plan.rows, now)
    parts = DistributionParts(plan.of(DistributionRow)[0], tuple(plan.of(ApplicationRow)),
                              tuple(plan.of(AdjustmentRow)), tuple(plan.of(TransferRow)))
    void = voids.plan_void("distribution", parts.row.id, "keyed twice", facts=voids.VoidFacts(
        original=Voidable(parts.row, False), distributions=(parts,), charges_now=now),
        posting_date=DAY, user=USER, now=NOW, ids=ids)
    apply(void.rows, now)
    assert now == {cid: ChargeNow(c.balance, c.payer_id) for cid, c in charges.items()}
    assert void.event.detail["reversal_id"] == void.of(DistributionRow)[0].id
    with pytest.raises(BillingError, match="already voided"):
        voids.plan_void("distribution", parts.row.id, "again", facts=voids.VoidFacts(
            original=Voidable(parts.row, True), distributions=(parts,), charges_now=now),
            posting_date=DAY, user=USER, now=NOW, ids=ids)


def test_the_void_registry_has_one_planner_per_void_kind():
    assert tuple(voids.VOID_PLANNERS) == VOID_KINDS
    with pytest.raises(BillingError, match="can void one of"):
        voids.void_request("charge", 1, "why")


# --------------------------------------------------------------------------- batches and closes


@given(st.integers(0, 50), st.integers(0, 10**6), st.integers(-3, 3), st.integers(-500, 500))
def test_a_batch_closes_only_when_it_balances(count, total, dcount, dtotal):
    ids = IdBook()
    opened = plan_open_batch("charge", count, total, posting_date=DAY, user=USER, now=NOW, ids=ids)
    bid = opened.rows[0].id
    status = BatchStatus(bid, "charge", DAY, USER, count, total, count + dcount, total + dtotal, False)
    if dcount or dtotal:
        with pytest.raises(BillingError, match="does not balance"):
            plan_close_batch(status, user=USER, now=NOW)
    else:
        row = plan_close_batch(status, user=USER, now=NOW).rows[0]
        assert (row.entered_count, row.entered_total) == (count, total)


amounts = st.integers(-10**6, 10**7)


@st.composite
def day_summaries(draw):
    receipts = {m: draw(amounts) for m in METHODS}
    refunds = {m: draw(st.integers(0, 10**5)) for m in METHODS}
    charges, applications = draw(amounts), draw(amounts)
    reasons = draw(st.dictionaries(st.sampled_from(sorted(REASONS)), amounts, max_size=3))
    opening = draw(amounts), draw(amounts)
    closing_ar = opening[0] + charges - applications - sum(reasons.values())
    closing_unapplied = opening[1] + sum(receipts.values()) - applications - sum(refunds.values())
    return PeriodSummary(
        start=DAY, end=DAY, charge_lines=draw(st.integers(0, 99)), charges=charges, charge_voids=0,
        receipt_count=draw(st.integers(0, 99)), check_count=draw(st.integers(0, 99)),
        receipts_by_method=receipts, refunds_by_method=refunds, applications=applications,
        adjustments=sum(reasons.values()), adjustments_by_reason=reasons, transfer_count=0, transfer_total=0,
        void_count=0, opening_ar=opening[0], closing_ar=closing_ar, opening_unapplied=opening[1],
        closing_unapplied=closing_unapplied, current_ar=closing_ar, current_unapplied=closing_unapplied)


@settings(max_examples=200, deadline=None)
@given(day_summaries(), st.sampled_from([None, "cash", "checks", "card", "eft", "check_count"]))
def test_every_planned_day_close_keeps_its_days_figures(summary, wrong):
    deposit = summary.deposit
    counted = DepositCount(deposit["cash"], deposit["check"], summary.check_count, deposit["card"], deposit["eft"])
    if wrong:
        counted = counted.__class__(**{**counted.__dict__, wrong: getattr(counted, wrong) + 1})
    facts = closes.DayCloseFacts(DAY, (), summary)
    if wrong:
        with pytest.raises(BillingError, match="cannot close"):
            closes.plan_close_day(facts, counted, today=DAY, user=USER, now=NOW)
        return
    plan = closes.plan_close_day(facts, counted, today=DAY, user=USER, now=NOW)
    kept = json.loads(plan.rows[0].totals)
    # the stored totals are the summary's, and they roll forward: a recomputation agrees
    assert kept == json.loads(json.dumps(summary.as_dict()))
    assert kept["closing_ar"] == kept["opening_ar"] + kept["charges"] - kept["applications"] - kept["adjustments"]
    assert kept["closing_unapplied"] == (kept["opening_unapplied"] + sum(kept["receipts_by_method"].values())
                                         - kept["applications"] - sum(kept["refunds_by_method"].values()))
    assert kept["deposit"] == {m: kept["receipts_by_method"][m] - kept["refunds_by_method"][m] for m in METHODS}
    assert plan.event.detail["totals"] == summary.as_dict()


def test_day_close_checks_run_in_registry_order():
    open_batch = BatchStatus(4, "receipt", DAY, "ann", 2, 500, 1, 300, False)
    summary = PeriodSummary(DAY, DAY, 0, 0, 0, 0, 0, dict.fromkeys(METHODS, 0), dict.fromkeys(METHODS, 0), 0, 0, {},
                            0, 0, 0, 0, 0, 0, 0, proof_errors=("A/R is off",))
    problems = closes.day_close_problems(closes.DayCloseFacts(DAY, [open_batch], summary, ["by hand"], ["digest broken"]),
                                         DepositCount(cash=100))
    assert problems == ["receipt batch 4 (ann) is still open, off by -1 / -2.00",
                        "cash counted 1.00 but receipts say 0.00 (difference 1.00)",
                        "the A/R proof does not balance: A/R is off", "by hand", "digest broken"]
    assert [check.__name__ for check in closes.DAY_CLOSE_CHECKS] == [
        "open_batches", "deposit_matches", "proof_balances", "all_rows_accounted", "history_untampered"]


@pytest.mark.parametrize("month, closed, open_days, want", [
    ("2026-10", False, [], []),
    ("2026-10", True, [], ["month 2026-10 is already closed"]),
    ("2026-11", False, ["2026-11-02"], ["month 2026-11 is not over until 2026-11-30 has passed",
                                        "days with postings are still open: 2026-11-02"]),
    ("2026-09", False, [f"2026-09-{d:02d}" for d in range(1, 8)],
     ["days with postings are still open: 2026-09-01, 2026-09-02, 2026-09-03, 2026-09-04, 2026-09-05 and 2 more"]),
])
def test_month_close_rules_are_written_once(month, closed, open_days, want):
    facts = closes.MonthCloseFacts(month, closed, open_days)
    assert closes.month_close_problems(facts, "2026-11-26") == want
    if want:
        with pytest.raises(BillingError) as refused:
            closes.plan_close_month(facts, PeriodSummary(*month_bounds(month), *[0] * 5, {}, {}, 0, 0, {},
                                                         *[0] * 7), today="2026-11-26", user=USER, now=NOW)
        assert all(p in str(refused.value) for p in want)
