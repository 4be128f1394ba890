"""The receipts queue's read-only queries: keyset pages, filters, and the plans they use."""

from __future__ import annotations

import pytest
from test_receipts_support import TODAY, build_books, days_ago, fresh_books

from tui_billing.store import database
from tui_billing.store import operations as ops
from tui_billing.store import receipts_queries as q
from tui_billing.store.db import close_database, open_database


@pytest.fixture
def sqlite_books(tmp_path, monkeypatch):
    path, ids = fresh_books(tmp_path, monkeypatch)
    yield ids
    close_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def books(request, tmp_path, monkeypatch):
    """The receipts books in a file, and the same built on the PostgreSQL test server."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_books")
        return
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY.isoformat())
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "clerk")
    url = request.getfixturevalue("pg_cluster").fresh_books()
    ids = build_books(url)  # (closes the books when built)
    open_database(url)
    yield ids
    close_database()


def test_queue_pages_oldest_first_without_gaps_or_repeats(books):
    ids = books
    made = []
    for i in range(7):
        made.append(ops.record_receipt(amount=1000 + i, method="cash", patient_id=ids["cy"],
                                       received_date=days_ago(10 - i % 3)).receipt_id)
    ops.distribute(made[0], [ops.DistributionLine(ids["cy0"], applied=1000)])  # fully applied: leaves the queue
    seen, after = [], None
    while True:
        page = q.queue_page(after=after, limit=2)
        seen += page
        if len(page) < 2:
            break
        after = q.queue_keyset(page[-1], q.QueueFilter())
    assert [r.receipt_id for r in seen] == [r.receipt_id for r in sorted(seen, key=lambda r: (r.received_date, r.receipt_id))]
    assert sorted(r.receipt_id for r in seen) == sorted(made[1:])
    totals = q.queue_totals()
    assert (totals.count, totals.unapplied) == (6, sum(1000 + i for i in range(1, 7)))
    everything = q.queue_page(q.QueueFilter(everything=True), limit=50)
    assert [r.receipt_id for r in everything] == sorted(made, reverse=True)


def test_queue_filters(books):
    ids = books
    ops.record_receipt(amount=100, method="cash", patient_id=ids["cy"], operator="ann")
    ops.record_receipt(amount=200, method="check", payer_id=ids["acme"], reference="1", operator="bob")
    ops.record_receipt(amount=300, method="eft", payer_id=ids["blue"], reference="T", operator="bob")
    amounts = lambda f: [r.amount for r in q.queue_page(f)]  # noqa: E731
    assert amounts(q.QueueFilter(payer="ac")) == [200]
    assert amounts(q.QueueFilter(patient="c3")) == [100]
    assert amounts(q.QueueFilter(method="eft")) == [300]
    assert amounts(q.QueueFilter(operator="bob")) == [200, 300]
    assert amounts(q.QueueFilter(payer="%")) == []  # wildcards typed by a clerk are literal
    assert q.queue_totals(q.QueueFilter(operator="bob")).amount == 500


def test_open_charges_page_through_a_payer_and_filter(books):
    ids = books
    row = q.queue_row(ops.record_receipt(amount=100, method="check", payer_id=ids["acme"], reference="9").receipt_id)
    pages, after = [], None
    while True:
        page = q.open_charges_for_receipt(row, after=after, limit=4)
        pages.append(page)
        if len(page) < 4:
            break
        after = (page[-1].dos, page[-1].charge_id)
    flat = [c.charge_id for p in pages for c in p]
    assert flat == [ids[f"acme{i}"] for i in range(6)]
    assert [c.account for c in q.open_charges_for_receipt(row, q.ChargeFilter(account="b2"))] == ["B200"] * 3
    first_dos = q.open_charges_for_receipt(row, limit=1)[0].dos
    assert {c.dos for c in q.open_charges_for_receipt(row, q.ChargeFilter(dos=first_dos))} == {first_dos}
    assert q.open_charges_for_receipt(row, q.ChargeFilter(code="99214")) == []
    assert q.count_open_charges(row) == 6
    assert not q.valid_dos_filter("2026-13") and q.valid_dos_filter("2026-11") and q.valid_dos_filter("")


def test_open_charge_pages_walk_the_partial_index(sqlite_books):  # SQLite's own plan
    plan = database.execute_sql(
        "EXPLAIN QUERY PLAN SELECT cb.charge_id FROM charge_balance cb INDEXED BY charge_balance_open_payer "
        "WHERE cb.payer_id = 1 AND cb.balance > 0 AND (cb.dos, cb.charge_id) > ('2026-01-01', 5) "
        "ORDER BY cb.dos, cb.charge_id LIMIT 100").fetchall()
    text = " ".join(str(r[-1]) for r in plan)
    assert "charge_balance_open_payer" in text and "TEMP B-TREE" not in text


def test_patient_receipt_sees_only_that_patients_charges_and_sources_lookup(books):
    ids = books
    row = q.queue_row(ops.record_receipt(amount=100, method="cash", patient_id=ids["ana"]).receipt_id)
    assert {c.patient_id for c in q.open_charges_for_receipt(row)} == {ids["ana"]}
    assert q.open_charges_for_receipt(row, patient_owes_only=True) == []  # Acme owes all of Ana's lines
    kinds = {(s.kind, s.code) for s in q.find_sources("a")}
    assert ("payer", "ACME") in kinds and ("patient", "A100") in kinds
    assert [s.code for s in q.find_sources("brown, b")] == ["B200"]
    assert q.adjustment_reasons()[0].kind == "carc"
