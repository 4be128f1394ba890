"""The demo's accounts filled realistically: dependents, spouses, Medigap, terminated plans, ZIP+4."""

from __future__ import annotations

import re

from tui_billing.demo import build_demo
from tui_billing.store import account_queries as aq
from tui_billing.store import close_database, database, open_database, run_check
from tui_billing.store.account_demo import fill_demo_accounts


def test_fill_demo_accounts(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-16")
    path = tmp_path / "demo.db"
    build_demo(path, charges=600, patients=300, days=15, progress=False)
    open_database(path)
    try:
        counts = fill_demo_accounts(1)
        assert counts["dependents"] and counts["medigap"] and counts["terminated"] and counts["spouses"]
        q = lambda sql: database.execute_sql(sql).fetchall()  # noqa: E731
        assert all(re.fullmatch(r"\d{5}-\d{4}", z) for (z,) in q("SELECT zip FROM patient"))
        child = q("SELECT patient_id FROM coverage WHERE relationship = 'child' LIMIT 1")[0][0]
        cov = next(c for c in aq.coverages(child) if c.relationship == "child")
        assert cov.subscriber and aq.patient_view(child).guarantor_relationship == "parent"
        gap = q("SELECT c.patient_id FROM coverage c JOIN payer y ON y.id = c.payer_id WHERE y.code = 'MGAP'")[0][0]
        assert [c.payer_code for c in aq.coverages(gap)][:2] == ["MCR", "MGAP"]
        ended = q("SELECT patient_id, end_date FROM coverage WHERE end_date <> '' LIMIT 1")[0]
        covs = aq.coverages(ended[0])
        assert covs[-1].end_date == ended[1] and covs[0].in_force("2026-11-16")
        assert q("SELECT COUNT(*) FROM patient WHERE search_key = ''") == [(0,)]
        assert run_check().ok
    finally:
        close_database()
