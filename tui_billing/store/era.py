"""Posting an 835 remittance: the thin shell that reads, asks the planners, and writes in one transaction.

``import_era`` reads the file, refuses it unless it balances at every level (claims/era.py),
matches each claim and line (claims/era_match.py), plans each claim (claims/era_plan.py), and
posts everything inside ONE write transaction: one receipt equal to BPR02 (``record_receipt``;
method from BPR04, reference the trace number), the provider-level adjustments on that receipt
(``plan_receipt_adjustment``), one distribution per claim (each planned by the kernel's
``plan_distribution`` against facts read once for the file, the rows then written in bulk by the
writer with their chained audit events), reversals through ``void``, the claims' status events,
the work items, and the file itself with its sha256. A refusal or a crash anywhere leaves nothing
behind. A dry run is the same posting rolled back, so what it shows is exactly what a real run
would write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..claims import model as m
from ..claims.era import ClaimPayment, EraError, Remittance, parse_835, require_balanced
from ..claims.era_match import ClaimLines, match_claim
from ..claims.era_plan import DEFAULT_DENIAL_CODES, DENIED, POSTED, REVERSAL, ClaimPlan, plan_claim
from ..ledger.checks import iso_date
from ..ledger.distributions import DistributionFacts, plan_distribution
from ..ledger.receipts import RECOUPED_BY_REVERSAL, plan_receipt_adjustment
from ..ledger.records import (
    AdjustmentRow,
    ApplicationRow,
    ChargeState,
    DistributionRow,
    Plan,
    ReceiptAdjustmentRow,
    TransferRow,
)
from . import audit, roles
from . import claims as claim_store
from . import operations as ops
from . import validate as v
from .db import database, executemany, inserted_id, write
from .errors import BillingError
from .writer import bulk_insert, write_plan

__all__ = ["DEFAULT_DENIAL_CODES", "EraResult", "PostedRemittance", "adjust_receipt", "import_era", "read_era"]


def _rows(query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(query, params).fetchall()
    return rows


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass
class PostedRemittance:
    """What became of one payment (one ST*835): its receipt, each claim's plan, its PLB."""

    remittance: Remittance
    payer_id: int
    receipt_id: int | None = None
    remittance_id: int = 0
    claims: list[ClaimPlan] = field(default_factory=list)
    #: receipt adjustments written: (code, reference, amount)
    receipt_adjustments: list[tuple[str, str, int]] = field(default_factory=list)
    #: claims of the next payer marked forwarded (crossovers): claim numbers
    forwarded: list[str] = field(default_factory=list)
    #: reversals: (claim number, voided distribution or None, what happened)
    reversals: list[tuple[str, int | None, str]] = field(default_factory=list)

    @property
    def unapplied(self) -> int:
        row = _rows("SELECT unapplied FROM receipt_balance WHERE receipt_id = ?", (self.receipt_id,)) \
            if self.receipt_id else []
        return int(row[0][0]) if row else 0


@dataclass
class EraResult:
    file_name: str
    sha256: str
    dry_run: bool
    remittances: list[PostedRemittance] = field(default_factory=list)
    #: the receipts queue's unapplied credit of each receipt, read before a dry run is rolled back
    unapplied: dict[int, int] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        return sum(len(c.payment.lines) for r in self.remittances for c in r.claims)

    @property
    def lines_posted(self) -> int:
        """Service lines handled without a person: posted, denied (kept with the payer), or reversed."""
        return sum(len(c.payment.lines) if c.outcome == REVERSAL else len(c.lines)
                   for r in self.remittances for c in r.claims if c.outcome in (POSTED, DENIED, REVERSAL))


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction so that it is rolled back."""

    def __init__(self, result: EraResult) -> None:
        super().__init__("dry run")
        self.result = result


def read_era(text: str) -> list[Remittance]:
    """The file's remittances, each refused unless it balances (:class:`EraError` names the claim)."""
    remittances = parse_835(text)
    for r in remittances:
        require_balanced(r)
        if r.credit_debit == "D" or r.amount < 0:
            raise EraError(f"payment {r.trace} is a debit of {r.amount / 100:.2f}: post it by hand")
    return remittances


# --------------------------------------------------------------------------- receipt adjustments


def _receipt_state(receipt_id: int) -> Any:
    return ops._receipt_state(receipt_id)


@write
def adjust_receipt(receipt_id: int, amount: int, *, code: str, reference: str = "", posting_date: object | None = None,
                   operator: str | None = None) -> int:
    """Post receipt-level credit that is no charge's (an 835's PLB, a reversal's recoupment)."""
    user = v.operator(operator)
    roles.require("batch_entry", user)
    date = v.posting_date(posting_date)
    plan = plan_receipt_adjustment(receipt_id, amount, code=code, reference=reference,
                                   receipt=_receipt_state(receipt_id), posting_date=date, user=user, now=_now(),
                                   ids=ops._ids())
    write_plan(plan)
    return plan.of(ReceiptAdjustmentRow)[0].id


# --------------------------------------------------------------------------- facts read for the planner


def _payer_for(remittance: Remittance, claim_payers: Iterable[int]) -> int:
    """The payer row the remittance comes from: by its EDI id, else the one payer of its claims."""
    ids = [r[0] for r in _rows("SELECT id FROM payer WHERE edi_payer_id = ? ORDER BY id", (remittance.payer_id,))] \
        if remittance.payer_id else []
    payers = set(claim_payers)
    if len(ids) == 1:
        return int(ids[0])
    if len(ids) > 1 and len(payers & set(ids)) == 1:
        return int((payers & set(ids)).pop())
    if not ids and len(payers) == 1:
        return int(payers.pop())
    raise BillingError(f"payment {remittance.trace}: no payer has EDI id {remittance.payer_id!r} "
                       f"({remittance.payer_name}); add it to the payer first", "payer")


def _in(ids: Sequence[Any]) -> str:
    return ",".join("?" * len(ids))


def _chunks(values: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _claims_for(payments: Sequence[ClaimPayment]) -> dict[str, ClaimLines]:
    """The claims a remittance names, as matching reads them (lines with their charges' codes)."""
    numbers = sorted({p.claim_id for p in payments})
    heads: dict[int, tuple[str, int, int]] = {}
    for part in _chunks(numbers):
        for row, number, payer, encounter in _rows(
                f"SELECT id, claim_id, payer_id, encounter_id FROM claim WHERE claim_id IN ({_in(part)})", part):
            heads[row] = (number, payer, encounter)
    lines: dict[int, list[m.ClaimLine]] = defaultdict(list)
    rows = sorted(heads)
    for part in _chunks(rows):
        for claim, line_no, control, charge_id, code, mods, units, amount, dos, pos in _rows(
                "SELECT l.claim_id, l.line_no, l.control_number, l.charge_id, c.code, c.modifiers, c.units, l.charge, "
                f"c.dos, c.pos FROM claim_line l JOIN charge c ON c.id = l.charge_id WHERE l.claim_id IN ({_in(part)}) "
                "ORDER BY l.claim_id, l.line_no", part):
            modifiers = tuple(x for x in (mods or "").replace(",", " ").split() if x)
            lines[claim].append(m.ClaimLine(line_no, control, charge_id, code, modifiers, units, amount, dos, (),
                                            pos))
    return {number: ClaimLines(number, row, payer, encounter, tuple(lines[row]))
            for row, (number, payer, encounter) in heads.items()}


def _charge_states(charge_ids: Sequence[int]) -> dict[int, ChargeState]:
    out: dict[int, ChargeState] = {}
    ids = sorted(set(charge_ids))
    for part in _chunks(ids):
        for row in _rows("SELECT c.id, c.patient_id, c.payer_id, c.reverses_id, COALESCE(cb.balance, 0), cb.payer_id "
                         "FROM charge c LEFT JOIN charge_balance cb ON cb.charge_id = c.id "
                         f"WHERE c.id IN ({_in(part)})", part):
            out[row[0]] = ChargeState(*row)
    return out


def _allowed_amounts(payer_id: int, claims: Mapping[str, ClaimLines]) -> dict[str, dict[int, int]]:
    """Claim -> charge -> the payer's allowed amount for the line on its date of service (the fee
    schedule's latest per-payer row effective by then, times units), for lines that have one."""
    codes = sorted({line.code for claim in claims.values() for line in claim.lines})
    if not codes:
        return {}
    rates: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for part in _chunks(codes):
        for code, effective, amount in _rows(
                f"SELECT code, effective, amount FROM fee_schedule WHERE payer_id = ? AND code IN ({_in(part)}) "
                "ORDER BY effective, id", [payer_id, *part]):
            rates[code].append((effective, amount))
    if not rates:
        return {}
    out: dict[str, dict[int, int]] = {}
    for number, claim in claims.items():
        for line in claim.lines:
            in_force = [amount for effective, amount in rates.get(line.code, ()) if effective <= line.dos]
            if in_force:
                out.setdefault(number, {})[line.charge_id] = in_force[-1] * line.units
    return out


def _coverage_chains(patients: Sequence[int]) -> dict[int, list[tuple[int, str, str]]]:
    """Patient -> their coverages by priority: (payer, effective, end date)."""
    out: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    ids = sorted(set(patients))
    for part in _chunks(ids):
        for patient, payer, effective, end in _rows(
                "SELECT patient_id, payer_id, effective, end_date FROM coverage "
                f"WHERE patient_id IN ({_in(part)}) ORDER BY patient_id, priority, id", part):
            out[patient].append((payer, effective, end))
    return out


def _next_payer(state: ChargeState, dos: str, chains: Mapping[int, list[tuple[int, str, str]]]) -> int | None:
    """The payer of the next coverage in force (by priority) after the one that owes the charge now; None: the patient."""
    chain = [payer for payer, effective, end in chains.get(state.patient_id, [])
             if effective <= dos and (not end or end >= dos)]
    after = chain[chain.index(state.payer_id) + 1:] if state.payer_id in chain else []
    return next((p for p in after if p != state.payer_id), None)


# --------------------------------------------------------------------------- posting


@dataclass
class _Context:
    user: str
    date: str
    now: str
    denial_codes: frozenset[str]
    events: list[tuple[int, str, str]] = field(default_factory=list)
    payer_claim_numbers: dict[int, str] = field(default_factory=dict)


def _record_claims(ctx: _Context, posted: PostedRemittance,
                   records: Sequence[tuple[int, ClaimPlan, str, int | None, str]]) -> None:
    """What became of each CLP (seq, plan, outcome, distribution, detail) and the work items it opens,
    written in two statements (row ids from the table's highest: the write lock is held)."""
    if not records:
        return
    first = int(_rows("SELECT COALESCE(MAX(id), 0) FROM remittance_claim")[0][0]) + 1
    claims, items = [], []
    for n, (seq, plan, outcome, distribution_id, detail) in enumerate(records):
        p = plan.payment
        posted.claims.append(plan)
        claims.append((first + n, posted.remittance_id, seq, p.claim_id, plan.claim_row, p.status, p.charge, p.paid,
                       p.payer_claim_number, outcome, distribution_id, detail))
        items += [(kind, first + n, plan.claim_row, p.claim_id, codes, amount, text, ctx.date, ctx.now, ctx.user)
                  for kind, codes, amount, text in plan.work]
    executemany(
        "INSERT INTO remittance_claim (id, remittance_id, seq, claim_number, claim_id, clp_status, charge, paid, "
        "payer_claim_number, outcome, distribution_id, detail) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", claims)
    executemany(
        "INSERT INTO era_work_item (kind, remittance_claim_id, claim_id, claim_number, codes, amount, detail, "
        "opened_on, opened_at, operator) VALUES (?,?,?,?,?,?,?,?,?,?)", items)


def _reverse(ctx: _Context, posted: PostedRemittance, plan: ClaimPlan) -> tuple[str, int | None, str]:
    """A CLP02 22: void what this payer's earlier remittance posted for the claim, when it mirrors it.

    The void returns the money to the receipt it came on; the reversal moves that credit to this
    payment (the payer took it back out of this deposit), so both receipts still reconcile."""
    found = _rows(
        "SELECT rc.distribution_id, r.receipt_id, COALESCE((SELECT SUM(a.amount) FROM application a "
        "WHERE a.distribution_id = rc.distribution_id), 0) FROM remittance_claim rc "
        "JOIN remittance r ON r.id = rc.remittance_id WHERE rc.claim_id = ? AND r.payer_id = ? "
        "AND rc.distribution_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM distribution x "
        "WHERE x.reverses_id = rc.distribution_id) ORDER BY rc.id DESC", (plan.claim_row, posted.payer_id))
    target = next((row for row in found if row[2] == -plan.payment.paid), None)
    if target is None:
        why = (f"no earlier posting of claim {plan.payment.claim_id} by this payer applied "
               f"{-plan.payment.paid / 100:.2f}: reverse it by hand")
        return "exception", None, why
    did, old_receipt, amount = int(target[0]), target[1], int(target[2])
    try:
        ops.void("distribution", did, f"reversed by 835 payment {posted.remittance.trace}", posting_date=ctx.date,
                 operator=ctx.user)
    except BillingError as exc:  # e.g. a clerk may not void a closed day's posting: a supervisor reverses it
        return "exception", None, f"distribution {did} cannot be voided here ({exc}): reverse it by hand"
    if amount and old_receipt is not None and posted.receipt_id is not None:
        adjust_receipt(old_receipt, -amount, code=RECOUPED_BY_REVERSAL,
                       reference=f"{posted.remittance.trace} {plan.payment.claim_id}"[:50], posting_date=ctx.date,
                       operator=ctx.user)
        adjust_receipt(posted.receipt_id, amount, code=RECOUPED_BY_REVERSAL,
                       reference=f"receipt {old_receipt} {plan.payment.claim_id}"[:50], posting_date=ctx.date,
                       operator=ctx.user)
        posted.receipt_adjustments.append((RECOUPED_BY_REVERSAL, f"receipt {old_receipt}", amount))
    elif amount and posted.receipt_id is None:
        raise BillingError(f"payment {posted.remittance.trace} reverses claim {plan.payment.claim_id} but pays nothing "
                           "to take the money back from: post it by hand", "reversal")
    return "reversed", did, f"voided distribution {did}"


def _forward(ctx: _Context, plan: ClaimPlan) -> list[str]:
    """A crossover: the next payer already has the claim from this one, so it is recorded as forwarded
    (never billed by us a second time): a claim for it with a 'forwarded' event."""
    moved = [line for line in plan.lines if line.transfer_to.startswith("payer ")]
    if not moved or plan.claim_row is None:
        return []
    encounter = _rows("SELECT encounter_id FROM claim WHERE id = ?", (plan.claim_row,))[0][0]
    groups: dict[tuple[int, int], list[tuple[int, int, str]]] = defaultdict(list)
    for line in moved:
        payer = int(line.transfer_to.split()[1])
        # a secondary's claim line carries the whole charge (what the earlier payer did goes beside it)
        amount, dos = _rows("SELECT amount, dos FROM charge WHERE id = ?", (line.charge_id,))[0]
        groups[(encounter, payer)].append((line.charge_id, amount, dos))
    rows = claim_store._insert_claims(groups, user=ctx.user, now=ctx.now, day=ctx.date)
    for row in rows:
        ctx.events.append((row, "forwarded", f"crossover from claim {plan.payment.claim_id}"))
    return [claim_store.claim_number(r) for r in rows]


def _record_claim(ctx: _Context, posted: PostedRemittance, seq: int, plan: ClaimPlan, outcome: str,
                  distribution_id: int | None, detail: str) -> None:
    _record_claims(ctx, posted, [(seq, plan, outcome, distribution_id, detail)])


def _post_reversals(ctx: _Context, posted: PostedRemittance, claims: Mapping[str, ClaimLines]) -> None:
    """Reversals first, one at a time through the void operation: the credit they take back is what
    the corrected claims after them are paid from."""
    for seq, payment in enumerate(posted.remittance.claims, 1):
        if not payment.is_reversal:
            continue
        match = match_claim(payment, claims)
        claim = claims.get(payment.claim_id)
        plan = plan_claim(match, claim_row=claim.row if claim else None, charges={}, next_payer={},
                          denial_codes=ctx.denial_codes)
        if plan.outcome != REVERSAL:  # a reversal of a claim we cannot find
            _record_claim(ctx, posted, seq, plan, plan.outcome, None, plan.problem)
            continue
        outcome, did, detail = _reverse(ctx, posted, plan)
        posted.reversals.append((payment.claim_id, did, detail))
        if outcome == "exception":
            plan = ClaimPlan(payment, plan.claim_row, "exception", problem=detail,
                             work=(("exception", "", payment.paid, detail),))
        _record_claim(ctx, posted, seq, plan, outcome, did, detail)


def _post_claims(ctx: _Context, posted: PostedRemittance, claims: Mapping[str, ClaimLines]) -> None:
    """Every other claim: planned one by one through the kernel's distribution planner against
    facts read once for the whole remittance (and kept current as each plan is made), then the
    planned rows and their audit events written in bulk, in the same transaction."""
    _post_reversals(ctx, posted, claims)
    payments = [(seq, p) for seq, p in enumerate(posted.remittance.claims, 1) if not p.is_reversal]
    matches = [(seq, match_claim(p, claims)) for seq, p in payments]
    lines = [line for _, mt in matches if mt.claim is not None for line in mt.claim.lines]
    states = _charge_states([line.charge_id for line in lines])
    chains = _coverage_chains([st.patient_id for st in states.values()])
    receipt = _receipt_state(posted.receipt_id) if posted.receipt_id is not None else None
    unapplied = receipt.unapplied if receipt is not None else 0
    ids = ops._ids()
    known = {r[0] for r in _rows("SELECT code FROM adjustment_reason")}
    payers = {r[0] for r in _rows("SELECT id FROM payer")}
    contract = _allowed_amounts(posted.payer_id, claims)
    planned: list[Plan] = []
    forwards: list[ClaimPlan] = []
    outcomes: list[tuple[int, ClaimPlan, int | None]] = []
    for seq, match in matches:
        payment = match.payment
        claim = claims.get(payment.claim_id)
        mine = {line.charge_id: states[line.charge_id] for line in (claim.lines if claim else ())
                if line.charge_id in states}
        next_payer = {line.charge_id: _next_payer(mine[line.charge_id], line.dos, chains)
                      for line in (claim.lines if claim else ()) if line.charge_id in mine}
        plan = plan_claim(match, claim_row=claim.row if claim else None, charges=mine, next_payer=next_payer,
                          denial_codes=ctx.denial_codes, allowed=contract.get(payment.claim_id))
        distribution_id = None
        if plan.outcome in (POSTED, DENIED) and plan.distribution:
            if plan.applied > unapplied:
                why = (f"the claim pays {plan.applied / 100:.2f} but the receipt has {unapplied / 100:.2f} left "
                       "(a reversal before it was not posted)")
                plan = ClaimPlan(payment, plan.claim_row, "exception", problem=why,
                                 work=(("exception", "", payment.paid, why),))
            else:
                for code in {code for line in plan.lines for code, _ in line.adjustments} - known:
                    ops.add_adjustment_reason(code, f"CARC {code} (from an 835)", "carc", operator=ctx.user)
                    known.add(code)
                state = receipt._replace(unapplied=unapplied) if receipt is not None else None
                try:
                    dplan = plan_distribution(
                        posted.receipt_id, plan.distribution, posting_date=ctx.date, user=ctx.user, now=ctx.now,
                        ids=ids, facts=DistributionFacts(receipt=state, charges=mine, reasons=known, payers=payers))
                except BillingError as exc:  # e.g. a charge the patient owes now: a person decides, not the file
                    why = f"the books refuse this posting: {exc}"
                    plan = ClaimPlan(payment, plan.claim_row, "exception", problem=why,
                                     work=(("exception", "", payment.paid, why),))
                    outcomes.append((seq, plan, None))
                    continue
                planned.append(dplan)
                distribution_id = dplan.of(DistributionRow)[0].id
                unapplied -= plan.applied
                for line in plan.lines:  # the charge as the next plan must see it
                    before = states[line.charge_id]
                    target = None if line.transfer_to == "patient" else \
                        int(line.transfer_to.split()[1]) if line.transfer_to else before.payer_id
                    states[line.charge_id] = before._replace(balance=line.remaining, payer_id=target)
        if plan.outcome in (POSTED, DENIED) and plan.claim_row is not None:
            crossed = f" (crossed over to {payment.crossover_name or payment.crossover_id})" \
                if payment.is_crossover else ""
            ctx.events.append((plan.claim_row, plan.status, f"835 {posted.remittance.trace}{crossed}"))
            if payment.payer_claim_number:
                ctx.payer_claim_numbers[plan.claim_row] = payment.payer_claim_number
            if payment.is_crossover:
                forwards.append(plan)
        outcomes.append((seq, plan, distribution_id))
    # A write-off by an office reason needs a supervisor; an 835's CARCs are the payer's word.
    roles.require("adjust", ctx.user, reasons=sorted({r.reason_code for p in planned for r in p.of(AdjustmentRow)
                                                      if r.amount > 0}))
    _write_plans(planned)
    _record_claims(ctx, posted, [(seq, plan, plan.outcome, distribution_id, plan.problem)  # (after the
                                 for seq, plan, distribution_id in outcomes])  # distributions they name)
    for plan in forwards:
        posted.forwarded += _forward(ctx, plan)


def _write_plans(plans: Sequence[Plan]) -> None:
    """The planned rows, table by table (a charge's adjustments before the money that pays it, an
    increase first, so every running balance stays >= 0 row by row), then their chained events."""
    if not plans:
        return
    rows: dict[type, list[Any]] = defaultdict(list)
    for plan in plans:
        for row in plan.rows:
            rows[type(row)].append(row)
    rows[AdjustmentRow].sort(key=lambda r: r.amount >= 0)
    for kind in (DistributionRow, AdjustmentRow, ApplicationRow, TransferRow):
        if rows.get(kind):
            bulk_insert(kind, rows[kind])
    events = [(p.event.at, p.event.user, p.event.action, p.event.entity, p.event.entity_id, dict(p.event.detail))
              for p in plans]
    executemany("INSERT INTO audit_event (at, user, action, entity, entity_id, detail, prev_hash, hash) "
                "VALUES (?,?,?,?,?,?,?,?)", list(audit.chain_rows(audit.last_hash(), events)))


def _post_one(ctx: _Context, file_id: int, remittance: Remittance) -> PostedRemittance:
    claims = _claims_for(remittance.claims)
    payer_id = _payer_for(remittance, (c.payer_id for c in claims.values()))
    today = v.today().isoformat()
    paid_date = remittance.paid_date or today
    received = min(paid_date, today)
    same = _rows("SELECT r.id, r.posting_date FROM remittance r WHERE r.payer_id = ? AND r.trace = ? AND r.amount = ? "
                 "AND r.paid_date = ?", (payer_id, remittance.trace, remittance.amount, paid_date))
    if same:
        raise BillingError(f"payment {remittance.trace} of {remittance.amount / 100:.2f} from this payer on {paid_date} "
                           f"was already posted on {same[0][1]} (remittance {same[0][0]}): nothing was posted",
                           "file")
    posted = PostedRemittance(remittance, payer_id)
    if remittance.amount > 0:
        posted.receipt_id = ops.record_receipt(
            amount=remittance.amount, method=remittance.method, payer_id=payer_id, reference=remittance.trace[:40],
            received_date=received, posting_date=ctx.date, operator=ctx.user).receipt_id
    elif remittance.provider_adjustments:
        raise BillingError(f"payment {remittance.trace} pays nothing but carries provider-level adjustments: "
                           "post it by hand", "file")
    cur = database.execute_sql(
        "INSERT INTO remittance (file_id, payer_id, trace, amount, paid_date, method, receipt_id, posting_date) "
        "VALUES (?,?,?,?,?,?,?,?)", (file_id, payer_id, remittance.trace, remittance.amount, paid_date,
                                     remittance.method, posted.receipt_id, ctx.date))
    posted.remittance_id = inserted_id(cur)
    # Provider-level adjustments first, what they add before what they take (credit never dips below zero).
    assert posted.receipt_id is not None or not remittance.provider_adjustments
    for plb in sorted(remittance.provider_adjustments, key=lambda p: p.amount < 0):
        assert posted.receipt_id is not None
        if plb.amount > 0:
            adjust_receipt(posted.receipt_id, plb.amount, code=plb.reason, reference=plb.reference[:50],
                           posting_date=ctx.date, operator=ctx.user)
            posted.receipt_adjustments.append((plb.reason, plb.reference, plb.amount))
    for plb in remittance.provider_adjustments:
        if plb.amount < 0:
            assert posted.receipt_id is not None
            adjust_receipt(posted.receipt_id, plb.amount, code=plb.reason, reference=plb.reference[:50],
                           posting_date=ctx.date, operator=ctx.user)
            posted.receipt_adjustments.append((plb.reason, plb.reference, plb.amount))
    _post_claims(ctx, posted, claims)
    return posted


def _file_id(sha: str, name: str, text: str, user: str, now: str) -> int:
    earlier = _rows("SELECT imported_at, operator FROM remittance_file WHERE sha256 = ?", (sha,))
    if earlier:
        raise BillingError(f"this file was already posted on {earlier[0][0][:10]} by {earlier[0][1]}: "
                           "nothing was posted", "file")
    cur = database.execute_sql("INSERT INTO remittance_file (sha256, file_name, raw, imported_at, operator) "
                               "VALUES (?,?,?,?,?)", (sha, name, text, now, user))
    return inserted_id(cur)


@write
def _post(text: str, sha: str, name: str, remittances: Sequence[Remittance], *, dry_run: bool,
          posting_date: object | None, operator: str | None, denial_codes: frozenset[str]) -> EraResult:
    user = v.operator(operator)
    roles.require("claims", user)
    ctx = _Context(user, v.posting_date(posting_date), _now(), denial_codes)
    result = EraResult(name, sha, dry_run)
    file_id = _file_id(sha, name, text, user, ctx.now)
    for remittance in remittances:
        result.remittances.append(_post_one(ctx, file_id, remittance))
    if ctx.events:
        claim_store.record_events(ctx.events, payer_claim_numbers=ctx.payer_claim_numbers, operator=user)
    for posted in result.remittances:
        if posted.receipt_id is not None:
            result.unapplied[posted.receipt_id] = posted.unapplied
    audit.record(ctx.now, user, "import_era", "remittance_file", file_id, {
        "sha256": sha, "file_name": name, "payments": [[r.remittance.trace, r.remittance.amount, r.receipt_id]
                                                       for r in result.remittances]})
    if dry_run:
        raise _DryRun(result)
    return result


def import_era(path: str | Path, *, dry_run: bool = False, posting_date: object | None = None,
               operator: str | None = None, denial_codes: Iterable[str] = DEFAULT_DENIAL_CODES) -> EraResult:
    """Post an 835 file (all or nothing), or with ``dry_run`` show what posting it would do."""
    path = Path(path)
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    remittances = read_era(text)
    codes = frozenset(c.strip().upper() for c in denial_codes if c.strip())
    try:
        return _post(text, sha, path.name, remittances, dry_run=dry_run, posting_date=posting_date,
                     operator=operator, denial_codes=codes)
    except _DryRun as done:
        return done.result


def describe(result: EraResult) -> list[str]:
    """The plan as lines of text: per payment, per claim and line, what is applied, adjusted,
    transferred, kept, or left as an exception (what the dry run prints)."""
    out = [f"{'DRY RUN: nothing posted. ' if result.dry_run else ''}{result.file_name} (sha256 {result.sha256[:12]})"]
    for r in result.remittances:
        rem = r.remittance
        out.append(f"payment {rem.trace} {rem.payment_method or '-'} {rem.amount / 100:.2f} from {rem.payer_name} "
                   f"paid {rem.paid_date}: receipt {r.receipt_id or '(none: nothing paid)'}")
        for code, ref, amount in r.receipt_adjustments:
            out.append(f"  receipt adjustment {code} {ref}: {amount / 100:+.2f}")
        for plan in r.claims:
            p = plan.payment
            head = f"  claim {p.claim_id} CLP02 {p.status} charge {p.charge / 100:.2f} paid {p.paid / 100:.2f}: "
            if plan.outcome in (POSTED, DENIED):
                out.append(head + f"{plan.outcome} ({plan.status})")
            elif plan.outcome == REVERSAL:
                out.append(head + "reversal: " + next((d for c, _, d in r.reversals if c == p.claim_id), ""))
            else:
                out.append(head + f"{plan.outcome.upper()}: {plan.problem}")
            for line in plan.lines:
                adj = ", ".join(f"{c} {a / 100:.2f}" for c, a in line.adjustments) or "none"
                kept = ", ".join(f"{c} {a / 100:.2f}" for c, a in line.kept)
                out.append(f"    line {line.line_no} {line.code} charge {line.charge_id} ({line.how}): applied "
                           f"{line.applied / 100:.2f}, adjusted {adj}"
                           + (f", kept {kept}" if kept else "")
                           + (f", rest {line.remaining / 100:.2f} to {line.transfer_to}" if line.transfer_to
                              else f", rest {line.remaining / 100:.2f} stays")
                           )
            for kind, codes, amount, text in plan.work:
                out.append(f"    work item: {kind} {codes} {amount / 100:.2f}: {text}")
        for claim_number in r.forwarded:
            out.append(f"  claim {claim_number} recorded as forwarded to the next payer (crossover)")
        if r.receipt_id is not None:
            out.append(f"  unapplied left on receipt {r.receipt_id}: "
                       f"{result.unapplied.get(r.receipt_id, 0) / 100:.2f}")
    out.append(f"lines posted automatically: {result.lines_posted} of {result.lines}")
    return out


def work_queue(kind: str | None = None) -> list[dict[str, Any]]:
    """The ERA work queue: denials, underpayments, exceptions and unapplied payments, with their latest note."""
    where, params = ("WHERE i.kind = ?", (kind,)) if kind else ("", ())
    rows = _rows(
        "SELECT i.id, i.kind, i.claim_number, i.codes, i.amount, i.detail, i.opened_on, "
        "n.note, n.follow_up, n.outcome FROM era_work_item i LEFT JOIN era_work_note n ON n.id = "
        "(SELECT MAX(id) FROM era_work_note x WHERE x.item_id = i.id) " + where + " ORDER BY i.id", params)
    keys = ("item", "kind", "claim", "codes", "amount", "detail", "opened", "note", "follow_up", "outcome")
    return [dict(zip(keys, (*r[:7], r[7] or "", r[8] or "", r[9] or ""), strict=True)) for r in rows]


@write
def add_work_note(item_id: int, *, note: str = "", follow_up: str = "", outcome: str = "",
                  operator: str | None = None) -> int:
    """A note on a work item (with a follow-up date and/or an outcome); notes are never changed."""
    user = v.operator(operator)
    roles.require("claims", user)
    if not _rows("SELECT 1 FROM era_work_item WHERE id = ?", (item_id,)):
        raise BillingError(f"work item {item_id} does not exist", "item")
    if follow_up:
        follow_up = iso_date(follow_up, "follow-up date")
    now = _now()
    try:
        cur = database.execute_sql(
            "INSERT INTO era_work_note (item_id, note, follow_up, outcome, at, on_date, operator) VALUES (?,?,?,?,?,?,?)",
            (item_id, note.strip(), follow_up, outcome, now, v.today().isoformat(), user))
    except Exception as exc:  # the CHECK names the outcomes; say it in words (SQLite: "CHECK", PostgreSQL: "check")
        if "check" in str(exc).lower():
            raise BillingError(f"outcome {outcome!r} is not one of: corrected claim, appeal letter printed, "
                               "written off by a supervisor, billed to the patient, paid, closed", "outcome") from None
        raise
    audit.record(now, user, "era_work_note", "era_work_item", item_id,
                 {"note": note.strip(), "follow_up": follow_up, "outcome": outcome})
    return inserted_id(cur)


# --------------------------------------------------------------------------- secondary claims


def other_payers(claim_row: int) -> tuple[m.OtherPayer, ...]:
    """What earlier payers did with a claim's charges (loops 2320/2330/2430): from their stored 835s
    where the books posted one, else from the books' own postings (store/claims.py reads both)."""
    [claim] = claim_store.load_claims([claim_row])
    return claim.other_payers
