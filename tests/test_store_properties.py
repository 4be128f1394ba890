"""Random sequences of posting operations, good and bad, against the DESIGN.md invariants.

After every step the books are recomputed from the raw rows (store_helpers, not the store's own
running balances or checker) and every invariant must hold; the store's checker must agree. A
refused step (BillingError) must leave a full dump of the database identical. Posted rows are
only ever added, and a closed day or month never changes after it closed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from tui_billing.store import BillingError, close_database, open_database, run_check
from tui_billing.store import operations as ops
from tui_billing.store.operations import ChargeLine, DepositCount, DistributionLine

import pg_server
import store_helpers as sh

START = "2026-10-28"
CODES = list(sh.FEES)
REASONS = ("CO-45", "PR-1", "SMALL", "CORR")
pick = st.integers(min_value=0, max_value=10_000)


class Books(RuleBasedStateMachine):
    """The state machine: one fresh file database per example."""

    def __init__(self) -> None:
        super().__init__()
        # pinned per example and undone in teardown (or here, if the example never starts)
        self.env = pytest.MonkeyPatch()
        self.env.setenv("TUI_BILLING_TODAY", START)
        self.env.setenv("TUI_BILLING_OPERATOR", "prop")
        self.dir = Path(tempfile.mkdtemp(prefix="tui-billing-prop-"))
        try:
            # store.database is a global deferred Peewee database: re-point it per example.
            open_database(self.books())
            self.p = sh.seed_practice()
        except BaseException:
            self.teardown()
            raise
        self.encounters: list[int] = []
        self.charges: list[int] = []
        self.receipts: list[int] = []
        self.distributions: list[int] = []
        self.refunds: list[int] = []
        self.batches: list[int] = []
        self.voided: list[tuple[str, int]] = []
        self.frozen: dict[str, dict] = {}  # closed day/month -> its rows when it closed
        self.posted = sh.posted_snapshot()
        self.refused = 0

    def books(self) -> str | Path:
        return self.dir / "books.db"

    def teardown(self) -> None:
        close_database()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.env.undo()

    # ------------------------------------------------------------------ helpers

    @property
    def today(self) -> str:
        return os.environ["TUI_BILLING_TODAY"]

    def attempt(self, fn, *args, must: str | None = None, **kwargs):
        """Run an operation. must='ok' or 'refuse' pins the outcome; a refusal changes nothing."""
        before = sh.dump_database()
        try:
            result = fn(*args, **kwargs)
        except BillingError as exc:
            assert str(exc).strip(), "a refusal must say why"
            after = sh.dump_database()
            assert after == before, f"refused {fn.__name__} ({exc}) changed the database"
            assert must != "ok", f"{fn.__name__} was refused but should have been accepted: {exc}"
            self.refused += 1
            event(f"{fn.__name__} refused")
            return None
        event(f"{fn.__name__} accepted")
        assert must != "refuse", f"{fn.__name__}{args}{kwargs} was accepted but should have been refused"
        return result

    def choose(self, items: list, i: int):
        return items[i % len(items)]

    def rows(self, sql: str, params: tuple = ()):
        return ops.database.execute_sql(sql, params).fetchall()

    def open_batch_for(self, kind: str) -> int | None:
        date = ops.v.current_posting_date()
        row = self.rows("SELECT b.id FROM batch b WHERE b.kind = ? AND b.posting_date = ? AND NOT EXISTS "
                        "(SELECT 1 FROM batch_close c WHERE c.batch_id = b.id) ORDER BY b.id DESC LIMIT 1",
                        (kind, date))
        return row[0][0] if row else None

    # ------------------------------------------------------------------ charges

    @rule(patient=pick, provider=pick, codes=st.lists(st.sampled_from(CODES), min_size=1, max_size=3),
          units=st.integers(1, 3), dos_back=st.integers(0, 60), payer=st.sampled_from(["primary", "self"]),
          batched=st.booleans())
    def post_encounter(self, patient, provider, codes, units, dos_back, payer, batched):
        dos = (dt.date.fromisoformat(self.today) - dt.timedelta(days=dos_back)).isoformat()
        batch = self.open_batch_for("charge") if batched else None
        posted = self.attempt(
            ops.post_encounter, patient_id=self.choose(self.p.patients, patient),
            provider_id=self.choose(self.p.providers, provider), dos=dos, diagnoses=["J06.9", "I10"],
            lines=[ChargeLine(c, units=units) for c in codes],
            payer_id=ops.PRIMARY if payer == "primary" else None, batch_id=batch, must="ok")
        self.encounters.append(posted.encounter_id)
        self.charges.extend(posted.charge_ids)
        assert posted.total == sum(sh.FEES[c] * units for c in codes)

    @rule(bad=st.sampled_from(["unknown patient", "bad icd", "category icd", "unknown procedure", "future dos",
                               "huge fee", "negative fee", "no lines", "pointer", "closed day", "future posting"]))
    def post_encounter_bad(self, bad):
        kw = dict(patient_id=self.p.patients[0], provider_id=self.p.providers[0], dos=self.today,
                  diagnoses=["J06.9"], lines=[ChargeLine("99213")])
        tomorrow = (dt.date.fromisoformat(self.today) + dt.timedelta(days=1)).isoformat()
        closed = self.rows("SELECT posting_date FROM day_close ORDER BY posting_date DESC LIMIT 1")
        if bad == "unknown patient":
            kw["patient_id"] = 99999
        elif bad == "bad icd":
            kw["diagnoses"] = ["ZZZ.9"]
        elif bad == "category icd":
            kw["diagnoses"] = ["J06"]
        elif bad == "unknown procedure":
            kw["lines"] = [ChargeLine("99999")]
        elif bad == "future dos":
            kw["dos"] = tomorrow
        elif bad == "huge fee":
            kw["lines"] = [ChargeLine("99213", fee=10**12)]
        elif bad == "negative fee":
            kw["lines"] = [ChargeLine("99213", fee=-100)]
        elif bad == "no lines":
            kw["lines"] = []
        elif bad == "pointer":
            kw["lines"] = [ChargeLine("99213", dx_pointers=(2,))]
        elif bad == "closed day":
            if not closed:
                return
            kw["posting_date"] = closed[0][0]
        elif bad == "future posting":
            kw["posting_date"] = (dt.date.fromisoformat(ops.v.current_posting_date()) + dt.timedelta(days=1)).isoformat()
        self.attempt(ops.post_encounter, **kw, must="refuse")

    # ------------------------------------------------------------------ receipts

    @rule(source=st.sampled_from(["patient", "payer"]), who=pick, method=st.sampled_from(sh.METHODS),
          amount=st.integers(1, 40000), batched=st.booleans())
    def record_receipt(self, source, who, method, amount, batched):
        kw = {"patient_id": self.choose(self.p.patients, who)} if source == "patient" else \
             {"payer_id": self.choose(self.p.payers, who)}
        ref = f"R{len(self.receipts)}" if method in ("check", "eft") else ""
        batch = self.open_batch_for("receipt") if batched else None
        posted = self.attempt(ops.record_receipt, amount=amount, method=method, reference=ref, batch_id=batch,
                              must="ok", **kw)
        self.receipts.append(posted.receipt_id)

    @rule(bad=st.sampled_from(["unknown payer", "unknown patient", "zero", "negative", "huge", "check no ref",
                               "bad method", "future received", "float"]))
    def record_receipt_bad(self, bad):
        kw = dict(amount=1000, method="cash", patient_id=self.p.patients[0])
        if bad == "unknown payer":
            kw = dict(amount=1000, method="cash", payer_id=424242)
        elif bad == "unknown patient":
            kw["patient_id"] = 424242
        elif bad == "zero":
            kw["amount"] = 0
        elif bad == "negative":
            kw["amount"] = -500
        elif bad == "huge":
            kw["amount"] = 10**10
        elif bad == "check no ref":
            kw["method"] = "check"
        elif bad == "bad method":
            kw["method"] = "bitcoin"
        elif bad == "future received":
            kw["received_date"] = (dt.date.fromisoformat(self.today) + dt.timedelta(days=3)).isoformat()
        elif bad == "float":
            kw["amount"] = 10.5
        self.attempt(ops.record_receipt, **kw, must="refuse")

    # ------------------------------------------------------------------ distributions

    def _live_receipts(self) -> list[tuple]:
        return self.rows("SELECT r.id, r.source, r.patient_id, r.payer_id, rb.unapplied FROM receipt r "
                         "JOIN receipt_balance rb ON rb.receipt_id = r.id WHERE NOT EXISTS "
                         "(SELECT 1 FROM receipt v WHERE v.reverses_id = r.id) ORDER BY r.id")

    def _eligible_charges(self, receipt: tuple) -> list[tuple]:
        """Open charges this receipt may pay, by my own reading of the rules."""
        rid, source, patient, payer, _ = receipt
        books = sh.compute_books()
        out = []
        for cid, c_patient, c_payer in self.rows("SELECT id, patient_id, payer_id FROM charge WHERE reverses_id IS NULL"):
            bal = books.charge_balance[cid]
            if bal <= 0:
                continue
            if source == "patient" and c_patient == patient:
                out.append((cid, bal))
            if source == "payer" and payer in (c_payer, books.charge_payer[cid]):
                out.append((cid, bal))
        return out

    @precondition(lambda self: self.receipts and self.charges)
    @rule(r=pick, c=pick, part=st.integers(1, 100), adjust=st.integers(-2000, 3000),
          reason=st.sampled_from(REASONS), transfer=st.booleans(), no_money=st.booleans())
    def distribute_valid(self, r, c, part, adjust, reason, transfer, no_money):
        live = [x for x in self._live_receipts() if x[4] > 0]
        if not live:
            return
        receipt = self.choose(live, r)
        eligible = self._eligible_charges(receipt)
        if not eligible:
            return
        cid, bal = self.choose(eligible, c)
        applied = 0 if no_money else max(1, min(receipt[4], bal) * part // 100)
        adjustment = min(adjust, bal - applied)
        if no_money and not adjustment and not transfer:
            adjustment = 1
        did = self.attempt(ops.distribute, None if no_money else receipt[0],
                           [DistributionLine(cid, applied, adjustment, reason if adjustment else None, transfer)],
                           must="ok")
        self.distributions.append(did)

    @precondition(lambda self: self.receipts and self.charges)
    @rule(r=pick, c=pick, which=st.sampled_from(["receipt", "charge", "adjust", "reason", "no reason", "other patient",
                                                "empty", "negative applied", "two lines"]))
    def distribute_bad(self, r, c, which):
        live = [x for x in self._live_receipts() if x[4] > 0]
        if not live:
            return
        receipt = self.choose(live, r)
        eligible = self._eligible_charges(receipt)
        if not eligible:
            return
        cid, bal = self.choose(eligible, c)
        unapplied = receipt[4]
        if which == "receipt":  # more than the receipt holds (the charge could take it)
            if bal <= unapplied:
                return
            lines = [DistributionLine(cid, unapplied + 1)]
        elif which == "charge":
            lines = [DistributionLine(cid, 0, bal + 1, "CO-45")]
        elif which == "adjust":
            lines = [DistributionLine(cid, 0, bal + 1, "SMALL")]
        elif which == "reason":
            lines = [DistributionLine(cid, 0, 1, "NOPE-9")]
        elif which == "no reason":
            lines = [DistributionLine(cid, 0, 1, None)]
        elif which == "other patient":
            others = [x for x in self.rows("SELECT id, patient_id FROM charge WHERE reverses_id IS NULL")
                      if receipt[1] == "patient" and x[1] != receipt[2]]
            if not others:
                return
            lines = [DistributionLine(others[0][0], 1)]
        elif which == "empty":
            lines = [DistributionLine(cid)]
        elif which == "negative applied":
            lines = [DistributionLine(cid, -1)]
        else:  # the same charge twice, together over its balance
            if bal < 2:
                return
            half = bal // 2 + 1
            if 2 * half > unapplied:
                lines = [DistributionLine(cid, 0, half, "CO-45"), DistributionLine(cid, 0, half, "CO-45")]
            else:
                lines = [DistributionLine(cid, half), DistributionLine(cid, half)]
        self.attempt(ops.distribute, receipt[0], lines, must="refuse")

    @precondition(lambda self: self.charges)
    @rule(c=pick)
    def transfer_to_patient(self, c):
        cid = self.choose(self.charges, c)
        books = sh.compute_books()
        expect_ok = books.charge_payer.get(cid) is not None and books.charge_balance.get(cid, 0) > 0
        did = self.attempt(ops.transfer_to_patient, [cid], must="ok" if expect_ok else "refuse")
        if did:
            self.distributions.append(did)

    # ------------------------------------------------------------------ refunds and voids

    @precondition(lambda self: self.receipts)
    @rule(r=pick, part=st.integers(1, 100), over=st.booleans(), method=st.sampled_from(sh.METHODS))
    def refund(self, r, part, over, method):
        rid = self.choose(self.receipts, r)
        live = {x[0]: x[4] for x in self._live_receipts()}
        unapplied = live.get(rid, 0)
        amount = unapplied + 1 if over else max(1, unapplied * part // 100)
        expect = "ok" if rid in live and amount <= unapplied else "refuse"
        fid = self.attempt(ops.refund, rid, amount, method=method, reference="RF1", must=expect)
        if fid:
            self.refunds.append(fid)

    @rule(kind=st.sampled_from(ops.VOIDABLE), i=pick)
    def void(self, kind, i):
        ids = {"encounter": self.encounters, "receipt": self.receipts, "distribution": self.distributions,
               "refund": self.refunds}[kind]
        if not ids:
            return
        eid = self.choose(ids, i)
        new = self.attempt(ops.void, kind, eid, "keyed in error")
        if new is not None:
            self.voided.append((kind, eid))
            # voiding twice is always refused
            self.attempt(ops.void, kind, eid, "again", must="refuse")
            self.attempt(ops.void, kind, new, "reversal", must="refuse")

    @precondition(lambda self: self.encounters)
    @rule(i=pick)
    def void_encounter_with_money_refused(self, i):
        """An encounter whose charges still carry money or adjustments cannot be voided."""
        busy = [eid for eid in self.encounters if self.rows(
            "SELECT 1 FROM charge c WHERE c.encounter_id = ? AND ("
            "(SELECT COALESCE(SUM(amount), 0) FROM application a WHERE a.charge_id = c.id) <> 0 OR "
            "(SELECT COALESCE(SUM(amount), 0) FROM adjustment j WHERE j.charge_id = c.id) <> 0)", (eid,))]
        if busy:
            self.attempt(ops.void, "encounter", self.choose(busy, i), "has money", must="refuse")

    # ------------------------------------------------------------------ batches

    @rule(kind=st.sampled_from(["charge", "receipt"]), n=st.integers(0, 2))
    def open_batch(self, kind, n):
        bid = self.attempt(ops.open_batch, kind, n, n * 10000, must="ok")
        self.batches.append(bid)

    @precondition(lambda self: self.batches)
    @rule(i=pick)
    def post_into_batch(self, i):
        bid = self.choose(self.batches, i)
        kind, date = self.rows("SELECT kind, posting_date FROM batch WHERE id = ?", (bid,))[0]
        is_open = not self.rows("SELECT 1 FROM batch_close WHERE batch_id = ?", (bid,))
        ok = is_open and date == ops.v.current_posting_date()
        if kind == "charge":
            res = self.attempt(ops.post_encounter, patient_id=self.p.patients[0], provider_id=self.p.providers[0],
                               dos=self.today, diagnoses=["I10"], lines=[ChargeLine("99213")], batch_id=bid,
                               must="ok" if ok else "refuse")
            if res:
                self.encounters.append(res.encounter_id)
                self.charges.extend(res.charge_ids)
        else:
            res = self.attempt(ops.record_receipt, amount=10000, method="cash", patient_id=self.p.patients[2],
                               batch_id=bid, must="ok" if ok else "refuse")
            if res:
                self.receipts.append(res.receipt_id)

    @precondition(lambda self: self.batches)
    @rule(i=pick)
    def close_batch(self, i):
        still_open = [b for b in self.batches if not self.rows("SELECT 1 FROM batch_close WHERE batch_id = ?", (b,))]
        bid = self.choose(still_open if still_open and i % 4 else self.batches, i)
        kind, count, total = self.rows("SELECT kind, control_count, control_total FROM batch WHERE id = ?", (bid,))[0]
        table, money = ("encounter", "charge") if kind == "charge" else ("receipt", "receipt")
        n = self.rows(f"SELECT COALESCE(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END), 0) FROM {table} "
                      "WHERE batch_id = ?", (bid,))[0][0]
        t = self.rows(f"SELECT COALESCE(SUM(amount), 0) FROM {money} WHERE batch_id = ?", (bid,))[0][0]
        closed = bool(self.rows("SELECT 1 FROM batch_close WHERE batch_id = ?", (bid,)))
        self.attempt(ops.close_batch, bid, must="ok" if (n, t) == (count, total) and not closed else "refuse")

    # ------------------------------------------------------------------ days and months

    @rule(days=st.integers(1, 4))
    def advance_today(self, days):
        self.env.setenv("TUI_BILLING_TODAY", (dt.date.fromisoformat(self.today) + dt.timedelta(days=days)).isoformat())

    def _open_dates(self) -> list[str]:
        dates = {r[0] for t in sh.DATED for r in self.rows(f"SELECT DISTINCT posting_date FROM {t}")}
        dates.add(self.today)
        return sorted(d for d in dates if d <= self.today and not ops.v.closed_reason(d))

    @rule(i=pick, kind=st.sampled_from(["receipt", "encounter"]))
    def post_backdated(self, i, kind):
        """A late entry to an earlier day that is still open: fine, unless a later day already closed."""
        current = ops.v.current_posting_date()
        earlier = [d for d in self._open_dates() if d < current]
        if not earlier:
            return
        date = self.choose(earlier, i)
        later_closed = self.rows("SELECT 1 FROM day_close WHERE posting_date > ?", (date,))
        must = "refuse" if later_closed else "ok"
        if kind == "receipt":
            res = self.attempt(ops.record_receipt, amount=1234, method="cash", patient_id=self.p.patients[2],
                               posting_date=date, received_date=date, must=must)
            if res:
                self.receipts.append(res.receipt_id)
        else:
            res = self.attempt(ops.post_encounter, patient_id=self.p.patients[2], provider_id=self.p.providers[0],
                               dos=date, diagnoses=["I10"], lines=[ChargeLine("85025")], posting_date=date, must=must)
            if res:
                self.encounters.append(res.encounter_id)
                self.charges.extend(res.charge_ids)

    @rule(i=pick, wrong=st.sampled_from([None, "cash", "check", "card", "eft", "check_count"]))
    def close_day(self, i, wrong):
        dates = self._open_dates()
        if not dates:
            return
        date = self.choose(dates, i)
        books = sh.compute_books()
        dep = books.deposit.get(date, dict.fromkeys(sh.METHODS, 0))
        counted = dict(cash=dep["cash"], checks=dep["check"], card=dep["card"], eft=dep["eft"],
                       check_count=books.check_count.get(date, 0))
        if wrong:
            counted["checks" if wrong == "check" else wrong] += 1
        open_batches = self.rows("SELECT 1 FROM batch b WHERE posting_date = ? AND NOT EXISTS "
                                 "(SELECT 1 FROM batch_close c WHERE c.batch_id = b.id)", (date,))
        expect = "refuse" if wrong or open_batches else "ok"
        if self.attempt(ops.close_day, date, DepositCount(**counted), must=expect) is not None:
            self.frozen[date] = sh.period_rows(date)
            self.check_close_totals("day_close", "posting_date", date, [date])
            # posting into the day just closed is refused
            self.attempt(ops.record_receipt, amount=100, method="cash", patient_id=self.p.patients[0],
                         posting_date=date, must="refuse")

    @rule(back=st.integers(0, 2))
    def close_month(self, back):
        first = dt.date.fromisoformat(self.today).replace(day=1)
        for _ in range(back):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        month = first.isoformat()[:7]
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        days = {r[0] for t in ("batch", "charge", "receipt", "distribution", "refund")
                for r in self.rows(f"SELECT DISTINCT posting_date FROM {t} WHERE posting_date LIKE ? || '%'", (month,))}
        ok = (last.isoformat() < self.today and not self.rows("SELECT 1 FROM month_close WHERE month = ?", (month,))
              and all(ops.v.closed_reason(d) for d in days))
        if self.attempt(ops.close_month, month, must="ok" if ok else "refuse") is not None:
            self.frozen[month] = sh.period_rows(month)
            self.check_close_totals("month_close", "month", month, sorted(days), last.isoformat())
            self.attempt(ops.post_encounter, patient_id=self.p.patients[0], provider_id=self.p.providers[0],
                         dos=month + "-10", diagnoses=["I10"], lines=[ChargeLine("99213")],
                         posting_date=month + "-15", must="refuse")

    def check_close_totals(self, table: str, key: str, value: str, dates: list[str], end: str | None = None) -> None:
        """A close keeps the totals a recomputation from the raw rows gives (not the store's own sums)."""
        import json

        stored = json.loads(self.rows(f"SELECT totals FROM {table} WHERE {key} = ?", (value,))[0][0])
        books = sh.compute_books()
        sums = [sum(books.by_date.get(d, [0] * 5)[k] for d in dates) for k in range(5)]
        deposit = {m: sum(books.deposit.get(d, {}).get(m, 0) for d in dates) for m in sh.METHODS}
        ar, unapplied = books.as_of(end or dates[-1])
        assert (stored["charges"], stored["applications"], stored["adjustments"]) == tuple(sums[:3])
        assert (sum(stored["receipts_by_method"].values()), sum(stored["refunds_by_method"].values())) == \
            tuple(sums[3:])
        assert stored["deposit"] == deposit
        assert stored["check_count"] == sum(books.check_count.get(d, 0) for d in dates)
        assert (stored["closing_ar"], stored["closing_unapplied"]) == (ar, unapplied)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_are_whole(self):
        problems = sh.invariant_problems()
        assert not problems, problems
        report = run_check(integrity=False)
        assert report.ok, report.problems

    @invariant()
    def history_only_grows(self):
        now = sh.posted_snapshot()
        for table, rows in self.posted.items():
            missing = rows - now[table]
            assert not missing, f"posted {table} rows changed or vanished: {sorted(missing)[:3]}"
        self.posted = now

    @invariant()
    def closed_periods_unchanged(self):
        for period, rows in self.frozen.items():
            assert sh.period_rows(period) == rows, f"closed period {period} changed"


Books.TestCase.settings = settings(
    # Defaults keep the suite quick; raise them to hunt: TUI_BILLING_PROP_EXAMPLES=500 TUI_BILLING_PROP_STEPS=60
    max_examples=int(os.environ.get("TUI_BILLING_PROP_EXAMPLES", "25")),
    stateful_step_count=int(os.environ.get("TUI_BILLING_PROP_STEPS", "30")), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestBooks = Books.TestCase


class ServerBooks(Books):
    """The same machine on PostgreSQL books (emptied per example by the test server)."""

    cluster: pg_server.Cluster | None = None

    def books(self) -> str | Path:
        assert self.cluster is not None
        return self.cluster.fresh_books()


def test_the_same_invariants_hold_on_postgresql(pg_cluster):
    ServerBooks.cluster = pg_cluster
    try:
        run_state_machine_as_test(ServerBooks, settings=settings(
            max_examples=int(os.environ.get("TUI_BILLING_PG_PROP_EXAMPLES", "8")),
            stateful_step_count=int(os.environ.get("TUI_BILLING_PROP_STEPS", "30")), deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        ServerBooks.cluster = None
