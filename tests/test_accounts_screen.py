"""The account screen (F7) driven by keys alone: register -> two coverages -> a charge owed by the
primary; an address fix with the old version shown as of an earlier date; search picking among
several; a refusal shown beside its field with nothing saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_charge_entry import send, settle, type_text

from tui_billing.store import account_queries as aq
from tui_billing.store import database, open_database
from tui_billing.store import operations as op

TODAY = "2026-11-26"


def _build(path: Path) -> None:
    open_database(path)
    op.set_practice("Maple Family Medicine")
    op.add_provider("JS", "Jane Smith MD", "1234567893")
    op.add_payer("MCR", "Medicare", "medicare")
    op.add_payer("BCBS", "Blue Cross", "commercial")
    op.set_procedure("99213", "Office visit est", 12000)
    op.add_patient("A1002", "O'Brien", "John", "1980-05-06", "M")
    op.add_patient("A1003", "Obrien", "Ann", "1940-01-01", "F")
    op.add_patient("A1004", "Obrien", "Zed", "1941-01-01", "M")
    op.open_batch("charge", 1, 12000)  # so charge entry (the first screen) asks for none
    database.close()


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", "clerk1")
    path = tmp_path / "t.db"
    _build(path)
    open_database(path)
    yield path
    database.close()


def make_app(path: Path):
    from tui_billing.app import BillingApp

    return BillingApp(db_path=path)


def screen(pilot):
    from tui_billing.screens.accounts import AccountScreen

    s = pilot.app.screen
    assert isinstance(s, AccountScreen), s
    return s


async def shown(pilot, account: str, timeout: float = 10.0) -> None:
    """Wait (by wall time) until the account screen shows ``account``."""
    import asyncio
    import time

    s = screen(pilot)
    deadline = time.monotonic() + timeout
    while not (s.data is not None and s.data.current.account == account):
        assert time.monotonic() < deadline, f"account {account} never showed"
        await asyncio.sleep(0.02)
        await pilot.pause()


async def fill(pilot, values: dict[str, str]) -> None:
    """Type into a FormDialog's fields by name (Tab order is the form's order)."""
    dialog = pilot.app.screen
    for name, text in values.items():
        box = dialog.query_one(f"#f-{name}")
        box.focus()
        await settle(pilot)
        box.value = ""
        await type_text(pilot, text)


async def test_register_two_coverages_charge_owed_by_primary(db, monkeypatch):
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        s = screen(pilot)
        assert app.focused.id == "acct-find"
        await send(pilot, "ctrl+n")  # straight from the find box: nobody to find for a walk-in
        assert app.screen.title_text == "Register a new patient"
        await fill(pilot, {"last_name": "García-López", "first_name": "María", "dob": "03/04/1985", "sex": "F",
                           "address": "12 Elm Stret", "city": "Albany", "state": "NY", "zip": "122031234",
                           "phone": "5185550100"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert s.data is not None and s.data.current.last_name == "García-López"
        pid = s.patient_id
        # first coverage: the spouse's plan, primary
        await send(pilot, "i")
        await fill(pilot, {"payer": "bcbs", "member_id": "XJ123", "group_no": "G9", "relationship": "spouse",
                           "subscriber_last": "Lopez", "subscriber_first": "Carlos", "subscriber_dob": "01/02/1983",
                           "subscriber_sex": "M", "effective": "01/01/2026"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        await send(pilot, "i")
        await fill(pilot, {"payer": "MCR", "member_id": "1EG4TE5MK73", "effective": "01/01/2026"})
        assert app.screen.query_one("#f-priority").value == "2"
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert [c.payer_code for c in s.data.coverages] == ["BCBS", "MCR"]
        cov_text = str(s.query_one("#acct-cov").render())
        assert "BCBS" in cov_text and "spouse" in cov_text and "Lopez, Carlos" in cov_text
        # a charge posted (as charge entry would) is owed by the primary
        op.post_encounter(patient_id=pid, provider_id=1, dos=TODAY, diagnoses=["I10"], lines=[op.ChargeLine("99213")])
        s.reload()
        await settle(pilot)
        table = s.query_one("#acct-table")
        assert table.row_count == 1
        row = table.rows[0]
        assert [str(c).strip() for c in row][2:9] == ["99213", "120.00", "0.00", "0.00", "120.00", "BCBS", "120.00"]
        assert "BCBS 120.00" in str(s.query_one("#acct-owed").render())


async def test_address_change_keeps_the_old_version_as_of(db, monkeypatch):
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        s = screen(pilot)
        await type_text(pilot, "a1002")
        await send(pilot, "enter")
        await settle(pilot)
        assert s.data.current.account == "A1002"
        monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-27")
        await send(pilot, "e")
        await fill(pilot, {"address": "9 Oak Ave", "city": "Troy", "state": "NY", "zip": "12180"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert "9 Oak Ave" in str(s.query_one("#acct-demo").render())
        await send(pilot, "a")
        await type_text(pilot, "11/26/2026")
        await send(pilot, "enter")
        await settle(pilot)
        demo = str(s.query_one("#acct-demo").render())
        assert "9 Oak Ave" not in demo and "(no address)" in demo and "as of 2026-11-26" in demo


async def test_several_matches_wait_for_the_clerk(db, monkeypatch):
    from tui_billing.widgets import patient_picker

    # The pilot types slower than a clerk on a loaded machine: widen the reaction window so the
    # burst below stays type-ahead however slow this machine is.
    monkeypatch.setattr(patient_picker, "REACTION_S", 5.0)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        s = screen(pilot)
        await send(pilot, *"obrien", "enter")  # typed ahead: three match, none is taken
        await settle(pilot)
        assert s.patient_id is None
        assert "3 patients match" in str(s.query_one("#acct-note").render())
        await send(pilot, "down", "enter")
        await settle(pilot)
        assert s.data.current.first_name == "John"  # obrien,ann / o'brien,john / obrien,zed
    # the look at John's account is in the audit trail (the list of three matches is not an account)
    from tui_billing.store import database

    reads = database.execute_sql("SELECT detail FROM audit_event WHERE action = 'read_account'").fetchall()
    assert reads == [(f'{{"as_of":null,"patient_id":{s.patient_id}}}',)]


async def test_refusal_beside_its_field_saves_nothing(db):
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        await send(pilot, "tab", "tab", "n")
        await fill(pilot, {"last_name": "Newman", "first_name": "Ann", "dob": "01/02/2090", "sex": "F"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        dialog = app.screen
        assert "date of birth 2090-01-02" in str(dialog.query_one("#e-dob").render())
        assert "in the future" in str(dialog.query_one("#form-status").render())
        assert app.focused.id == "f-dob"
        assert aq.search_patients("newman").hits == ()
        await fill(pilot, {"dob": "01/02/1990", "zip": "1234"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert "ZIP" in str(dialog.query_one("#e-zip").render()) or "zip" in str(dialog.query_one("#e-zip").render())
        assert aq.search_patients("newman").hits == ()


async def test_payment_jumps_to_receipts_with_the_patient(db):
    from tui_billing.screens.receipt_dialogs import NewReceiptDialog

    op.open_batch("receipt", 1, 1000)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        await type_text(pilot, "a1002")
        await send(pilot, "enter")
        await settle(pilot)
        await shown(pilot, "A1002")  # P acts on the account on screen: wait for it, as the clerk does
        await send(pilot, "p")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, NewReceiptDialog)
        assert dialog.field("from").input.value == "A1002"


async def test_ledger_line_history_and_coverage_fix(db):
    from tui_billing.screens.encounter_detail import EncounterDetail
    from tui_billing.store import accounts as acc

    open_database(db)
    pid = acc.register_patient(acc.PatientIn("Lee", "Kim", "1970-01-01", "F"),
                               [acc.CoverageDetails(2, "TYPO1", 1, effective="2026-01-01")])
    op.post_encounter(patient_id=pid, provider_id=1, dos=TODAY, diagnoses=["I10"], lines=[op.ChargeLine("99213")])
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        s = screen(pilot)
        await type_text(pilot, "lee,kim")
        await send(pilot, "enter")
        await settle(pilot)
        await send(pilot, "enter")  # the ledger line: its encounter's history
        await settle(pilot)
        assert isinstance(app.screen, EncounterDetail) and app.screen.loaded
        assert "99213 x1 billed to BCBS" in app.screen.body
        assert app.screen.body.startswith(s.data.current.account + "  Lee, Kim")
        await send(pilot, "escape", "c")
        await settle(pilot)
        await send(pilot, "ctrl+s")  # priority 1
        await settle(pilot)
        await fill(pilot, {"member_id": "XJ777"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert s.data.coverages[0].member_id == "XJ777"
        assert [h.data["member_id"] for h in aq.history("coverage", s.data.coverages[0].id)] == ["TYPO1", "XJ777"]


def test_reason_added_and_retired(db):
    from tui_billing.screens.master_data import save_reason

    save_reason({"code": "hardship", "description": "Hardship write-off", "kind": "office", "active": "Y"})
    save_reason({"code": "HARDSHIP", "description": "", "kind": "", "active": "N"})
    assert database.execute_sql("SELECT description, active FROM adjustment_reason WHERE code = 'HARDSHIP'"
                                ).fetchone() == ("Hardship write-off", 0)
    from tui_billing.store import receipts_queries

    save_reason({"code": "courtesy", "description": "Courtesy", "kind": "office", "active": "Y"})
    offered = [r.code for r in receipts_queries.adjustment_reasons()]  # what distribution offers
    assert "HARDSHIP" not in offered and "COURTESY" in offered


async def test_payer_loaded_by_code_and_changed(db):
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7", "tab", "tab", "m", "1")
        await settle(pilot)
        await type_text(pilot, "mcr")
        await send(pilot, "enter")
        await settle(pilot)
        dialog = app.screen
        assert dialog.query_one("#f-name").value == "Medicare"
        assert dialog.query_one("#f-filing_code").value == "MB"
        await fill(pilot, {"timely_filing_days": "180", "receiver": "NGS"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        mcr = next(p for p in aq.payer_list() if p["code"] == "MCR")
        assert (mcr["timely_filing_days"], mcr["receiver"]) == (180, "NGS")
        assert [h.data["timely_filing_days"] for h in aq.history("payer", mcr["id"])] == [365, 180]


async def test_receipts_reprinted_from_the_account(db):
    from tui_billing.screens.account_dialogs import TextDialog

    op.record_receipt(amount=2500, method="cash", patient_id=1)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        await type_text(pilot, "a1002")
        await send(pilot, "enter")
        await settle(pilot)
        await send(pilot, "r")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog)
        assert "RECEIPT No. 1" in app.screen.body and "25.00" in app.screen.body


async def test_statement_reprint_is_addressed_to_the_guarantor(db):
    from tui_billing.screens.account_dialogs import TextDialog
    from tui_billing.store import accounts as acc

    pid = acc.register_patient(acc.PatientIn("Lee", "Kim", "2012-01-01", "F", address="5 Pine St", city="Albany",
                                             state="NY", zip="12203", guarantor_relationship="parent",
                                             guarantor_last="Lee", guarantor_first="Dana",
                                             guarantor_address="77 Hill Rd", guarantor_city="Troy",
                                             guarantor_state="NY", guarantor_zip="12180"))
    op.post_encounter(patient_id=pid, provider_id=1, dos=TODAY, diagnoses=["I10"], lines=[op.ChargeLine("99213")])
    pid_account = aq.patient_view(pid).account
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        await type_text(pilot, "lee,kim")
        await send(pilot, "enter")
        await settle(pilot)
        await send(pilot, "s")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog)
        body = app.screen.body
        assert "Dana Lee (guarantor, parent)" in body and "77 Hill Rd, Troy, NY 12180" in body
        assert "5 Pine St" not in body  # the child's own address is not where the bill goes
        assert f"report statement --patient {pid_account}" in app.screen.title_text  # a command that runs


async def test_duplicate_name_and_birth_date_asks_before_registering(db):
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7", "tab", "tab", "n")
        await fill(pilot, {"last_name": "OBrien", "first_name": "john", "dob": "05/06/1980", "sex": "M"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert "already registered" in str(app.screen.query_one("#form-status").render())
        assert "A1002" in str(app.screen.query_one("#form-status").render())
        assert len(aq.search_patients("05/06/1980").hits) == 1
        await send(pilot, "ctrl+s")  # the clerk says it is another person
        await settle(pilot)
        assert len(aq.search_patients("05/06/1980").hits) == 2


async def test_swap_and_end_coverages_from_the_screen(db):
    from tui_billing.store import accounts as acc

    open_database(db)
    pid = acc.register_patient(acc.PatientIn("Park", "Min", "1950-01-01", "M"), [
        acc.CoverageDetails(2, "B1", 1, effective="2026-01-01"), acc.CoverageDetails(1, "M1", 2, effective="2026-01-01")])
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7")
        s = screen(pilot)
        await type_text(pilot, "park,min")
        await send(pilot, "enter")
        await settle(pilot)
        assert [c.payer_code for c in s.data.coverages] == ["BCBS", "MCR"]
        await send(pilot, "o")  # Medicare becomes primary
        await settle(pilot)
        assert [c.payer_code for c in s.data.coverages] == ["MCR", "BCBS"]
        await send(pilot, "x")
        await fill(pilot, {"priority": "2", "end_date": "11/25/2026"})
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert [(c.payer_code, c.end_date) for c in s.data.coverages] == [("MCR", ""), ("BCBS", "2026-11-25")]
        assert "ENDED 2026-11-25" in str(s.query_one("#acct-cov").render())
    assert op.primary_payer_id(pid) == 1


async def test_f7_reaches_the_accounts_over_a_dialog(db):
    """A modal stops the app's own keys; the dialogs' screen keys include F7 like F1-F4."""
    from tui_billing.widgets.dialogs import BatchDialog

    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(BatchDialog("charge", "2026-11-16"))  # charge entry's new-batch dialog
        await settle(pilot)
        assert isinstance(app.screen, BatchDialog)
        await send(pilot, "f7")
        await settle(pilot)
        screen(pilot)  # the account screen, the dialog left waiting on F2


async def test_ctrl_q_asks_before_losing_a_typed_account_form(db):
    """Seen in tmux: Ctrl+Q over a half-typed registration quit at once and lost it."""
    from tui_billing.widgets.dialogs import ConfirmDialog

    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await send(pilot, "f7", "tab", "tab", "n")
        await settle(pilot)
        await type_text(pilot, "Doe")
        await send(pilot, "ctrl+q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "Register a new patient" in app.screen.question
        await send(pilot, "n")  # No: back to the form, the typing kept
        await settle(pilot)
        assert app.screen.values()["last_name"] == "Doe"
