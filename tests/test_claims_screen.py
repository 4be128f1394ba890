"""The claims screen (F12) driven by keys: each queue lists its claims, S scrubs posted charges into
ready and held claims (with the scrubber's reasons), J goes to where a held claim is fixed, B builds
the 837P file, M marks it sent, C corrects and V voids, D sets the follow-up days; Enter shows a
claim's lines and history. Real store, real scrubber, real files."""

from __future__ import annotations

from pathlib import Path

import claims_support
import pytest
from test_charge_entry import send, settle, type_text

from tui_billing.store import accounts as acc
from tui_billing.store import claims as cl
from tui_billing.store import close_database, database, open_database
from tui_billing.store import operations as ops

pytestmark = pytest.mark.sqlite_only  # but the test marked both_backends (conftest.BOTH_BACKENDS)


@pytest.fixture
def books(db: Path, today: str) -> tuple[Path, claims_support.ClaimsPractice]:
    """A claims-ready practice with two visits posted: A001's (clean) and A002's (the dependent)."""
    p = claims_support.seed_claims_practice()
    ops.open_batch("charge", 2, 0)
    claims_support.visit(p.patients[0])
    claims_support.visit(p.patients[1])
    close_database()
    open_database(db)
    return db, p


def make_app(path: Path):
    from tui_billing.app import BillingApp

    return BillingApp(db_path=path)


async def claims_screen(pilot):
    from tui_billing.screens.claims import ClaimsScreen

    await send(pilot, "f12")
    screen = pilot.app.screen
    assert isinstance(screen, ClaimsScreen), screen
    return screen


def listed(screen) -> list[tuple[str, str, str]]:
    return [(r.claim_id, r.account, r.status) for r in screen.rows]


def status_of(claim_id: str) -> str:
    return database.execute_sql("SELECT s.status FROM claim_status s JOIN claim k ON k.id = s.claim_id "
                                "WHERE k.claim_id = ?", (claim_id,)).fetchone()[0]


async def test_scrub_then_ready_and_held_queues_with_reasons_and_jump_to_the_fix(books):
    from tui_billing.screens.accounts import AccountScreen

    path, p = books
    acc.update_patient(p.patients[1], address="", city="", state="", zip="")  # the child's address: gone
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        s = await claims_screen(pilot)
        await settle(pilot)
        assert s.rows == [] and s.counts["1"] == 0
        await send(pilot, "s")
        await settle(pilot)
        assert "2 new claim(s); 1 ready, 1 held" in str(s.query_one("#claims-note").render())
        assert [(a, st) for _, a, st in listed(s)] == [("A001", "ready")]
        assert s.counts["1"] == 1 and s.counts["2"] == 1
        await send(pilot, "2")
        await settle(pilot)
        assert [(a, st) for _, a, st in listed(s)] == [("A002", "held")]
        why = str(s.query_one("#claims-why").render())
        assert "held since" in why and "address" in why.lower()
        # J: the fix is on the patient's account, which opens on F7's screen
        await send(pilot, "j")
        await settle(pilot)
        assert isinstance(app.screen, AccountScreen)
        for _ in range(50):
            if app.screen.data is not None:
                break
            await settle(pilot)
        assert app.screen.data.current.account == "A002"
        assert "address" in str(app.screen.query_one("#acct-note").render())  # why the clerk is here
        # the clerk fixes the address there, comes back with F12 and scrubs again: ready now
        acc.update_patient(p.patients[1], address="12 Oak Lane", city="Springfield", state="IL", zip="62702")
        await send(pilot, "f12")
        await settle(pilot)
        await send(pilot, "s")
        await settle(pilot)
        assert s.counts["2"] == 0 and s.counts["1"] == 2


async def test_held_for_the_payer_jumps_to_that_payers_master_data(books):
    from tui_billing.screens.account_dialogs import FormDialog

    path, p = books
    database.execute_sql("UPDATE payer SET edi_payer_id = '' WHERE code = 'ACME'")  # as an old import left it
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        s = await claims_screen(pilot)
        await send(pilot, "s", "2")
        await settle(pilot)
        assert len(s.rows) == 2 and all(r.payer == "ACME" for r in s.rows)
        await send(pilot, "j")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormDialog) and form.title_text.startswith("Payer")
        assert form.values()["code"] == "ACME" and form.values()["name"] == "Acme Health"  # loaded to change
        assert "payer.edi_id" in str(s.query_one("#claims-note").render())


@pytest.mark.both_backends  # the whole claim cycle keyed on PostgreSQL too (the rest: SQLite, CI time)
async def test_build_mark_sent_follow_up_correct_and_void(books, tmp_path, monkeypatch):
    path, p = books
    out = tmp_path / "out"
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        s = await claims_screen(pilot)
        await send(pilot, "s")
        await settle(pilot)
        assert len(s.rows) == 2
        first, second = (r.claim_id for r in s.rows)
        # B: one 837P file for the clearinghouse, private, in the folder typed
        await send(pilot, "b")
        await settle(pilot)
        offered = app.screen.query_one("#f-folder").value  # beside the file; a server's: <data folder>/<db>.claims
        assert offered.endswith("claims") and "postgresql:" not in offered, offered
        app.screen.query_one("#f-folder").value = ""
        await type_text(pilot, str(out))
        await send(pilot, "ctrl+s")
        await settle(pilot)
        files = sorted(out.iterdir())
        assert [f.name for f in files] == [f"837P-{claims_support.CLEARINGHOUSE}-000000001.x12"]
        assert files[0].stat().st_mode & 0o777 == 0o600
        assert "built 837P-" in str(s.query_one("#claims-note").render())
        assert s.rows == [] and s.counts["3"] == 2
        # M on a batched claim: its file is marked sent, every claim in it
        await send(pilot, "3")
        await settle(pilot)
        assert {st for _, _, st in listed(s)} == {"batched"}
        await send(pilot, "m")
        await settle(pilot)
        await send(pilot, "y")
        await settle(pilot)
        assert {st for _, _, st in listed(s)} == {"sent"} and status_of(first) == status_of(second) == "sent"
        # the payer accepts the first (with its claim number); weeks later it is on the follow-up list
        row = cl.claim_row_ids([first])[first]
        cl.record_events([(row, "accepted", "")], payer_claim_numbers={row: "PCN77"})
        await send(pilot, "f5")
        await settle(pilot)
        assert [c for c, _, _ in listed(s)] == [second]
        monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-31")
        await send(pilot, "d")
        await settle(pilot)
        app.screen.query_one("#f-days").value = ""
        await type_text(pilot, "0")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert "1 to 999" in str(app.screen.query_one("#e-days").render())  # refused beside the field
        app.screen.query_one("#f-days").value = ""
        await type_text(pilot, "40")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert s.follow_up_days == 40 and s.queue == "5" and "5 Unpaid>40d 1" in str(
            s.query_one("#claims-queues").render())
        assert listed(s) == [(first, "A001", "accepted")]
        assert "accepted 45 days ago and still unpaid: call ACME" in str(s.query_one("#claims-why").render())
        await send(pilot, "enter")
        await settle(pilot)
        assert "accepted" in app.screen.body and "[payer's claim no. PCN77]" in app.screen.body
        await send(pilot, "escape")
        # C: a replacement (frequency 7) carrying the payer's claim number
        await send(pilot, "c")
        await settle(pilot)
        await type_text(pilot, "units were 2")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        note = str(s.query_one("#claims-note").render())
        assert note.startswith(f"{first} replaced by TB"), note
        # V on the second while it awaits the payer's answer: refused in the dialog, nothing written
        await send(pilot, "3")
        await settle(pilot)
        await send(pilot, "v", "ctrl+s")
        await settle(pilot)
        assert "say why" in str(app.screen.query_one("#form-status").render())
        await type_text(pilot, "patient not seen")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert "awaits its acknowledgement" in str(app.screen.query_one("#form-status").render())
        await send(pilot, "escape")
        # once the payer has it (denied here), V sends a void (frequency 8) with the payer's number
        row = cl.claim_row_ids([second])[second]
        cl.record_events([(row, "denied", "CO-29")], payer_claim_numbers={row: "PCN88"})
        await send(pilot, "6")
        await settle(pilot)
        assert listed(s) == [(second, "A002", "denied")]
        await send(pilot, "v")
        await settle(pilot)
        await type_text(pilot, "patient not seen")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert f"{second} voided by TB" in str(s.query_one("#claims-note").render())
    assert status_of(first) == "replaced" and status_of(second) == "voided"
    made = database.execute_sql("SELECT frequency, payer_claim_number FROM claim WHERE replaces_claim_id IS NOT NULL "
                                "ORDER BY id").fetchall()
    assert made == [("7", "PCN77"), ("8", "PCN88")]


async def test_enter_shows_the_claims_lines_and_history(books):
    from tui_billing.screens.account_dialogs import TextDialog

    path, _p = books
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        s = await claims_screen(pilot)
        await send(pilot, "s")
        await settle(pilot)
        await send(pilot, "enter")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog) and app.screen.title_text == f"Claim {s.rows[0].claim_id}"
        body = app.screen.body
        assert "A001  Doe, Jane  payer ACME" in body and "original claim, total" in body
        assert "99213" in body and "85025" in body and " ready " in body
    # and the account's encounter detail (Enter on a ledger line) says where its lines were billed
    from tui_billing.screens.encounter_detail import encounter_text

    claim = cl.queue("ready")[0]
    encounter = database.execute_sql("SELECT encounter_id FROM claim WHERE id = ?", (claim.id,)).fetchone()[0]
    _title, text = encounter_text(encounter)
    assert f"  {claim.claim_id}  ACME     original     ready since" in text.split("Claims (F12):")[1]


def test_queue_counts_follow_up_by_days(books, monkeypatch):
    from tui_billing.store import claim_views as views

    cl.scrub_claims()
    ids = [r.id for r in cl.queue("ready")]
    cl.record_events([(ids[0], "accepted", "")])
    assert views.queue_counts(30)["5"] == 0  # accepted today: not yet a follow-up
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-12-31")
    assert views.queue_counts(30)["5"] == 1 and [r.id for r in views.queue_rows("5", 30)] == [ids[0]]
    assert views.queue_counts(60)["5"] == 0


async def test_print_every_ready_paper_claim_on_cms1500(books, tmp_path):
    path, _p = books
    database.execute_sql("UPDATE payer SET receiver = 'PAPER' WHERE code = 'ACME'")  # an office billing it on paper
    out = tmp_path / "forms"
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        s = await claims_screen(pilot)
        await send(pilot, "s")
        await settle(pilot)
        assert len(s.rows) == 2
        await send(pilot, "p")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#f-claim").value = ""  # blank: every ready claim of a paper payer
        dialog.query_one("#f-format").value = "text"
        dialog.query_one("#f-file").value = str(out / "today")
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert str(s.query_one("#claims-note").render()) == f"printed 2 form(s) of 2 claim(s) to {out / 'today.txt'}"
        assert s.rows == [] and s.counts["3"] == 2  # printed: batched, waiting to be mailed (M)
    text = (out / "today.txt").read_text()
    assert text.count("\f") == 2 and "DOE" in text.upper()
    assert (out / "today.txt").stat().st_mode & 0o777 == 0o600


async def test_rejected_and_denied_queues_show_the_payers_reason_and_f12_works_over_a_dialog(books):
    from tui_billing.screens.claims import ClaimsScreen
    from tui_billing.widgets.dialogs import BatchDialog

    path, _p = books
    cl.scrub_claims()
    first, second = (r.id for r in cl.queue("ready"))
    cl.record_events([(first, "rejected", "A7:562 entity's member id invalid"), (second, "denied", "CO-29 filed late")])
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(BatchDialog("charge", "2026-11-16"))  # a dialog on charge entry stops the app's keys
        await settle(pilot)
        await send(pilot, "f12")
        await settle(pilot)
        s = pilot.app.screen
        assert isinstance(s, ClaimsScreen)
        assert (s.counts["1"], s.counts["4"], s.counts["6"]) == (0, 1, 1)
        await send(pilot, "4")
        await settle(pilot)
        assert [(r.id, r.status) for r in s.rows] == [(first, "rejected")]
        assert "member id invalid" in str(s.query_one("#claims-why").render())
        await send(pilot, "6")
        await settle(pilot)
        assert [(r.id, r.status) for r in s.rows] == [(second, "denied")]
        assert "CO-29 filed late" in str(s.query_one("#claims-why").render())
        queues = str(s.query_one("#claims-queues").render())
        assert "4 Rejected 1" in queues and "6 Denied 1" in queues
        # J on a rejected claim that scrubs clean: to the account, saying the payer's reason
        await send(pilot, "4", "j")
        await settle(pilot)
        from tui_billing.screens.accounts import AccountScreen

        assert isinstance(app.screen, AccountScreen)
        for _ in range(50):
            if app.screen.data is not None:
                break
            await settle(pilot)
        assert "member id invalid" in str(app.screen.query_one("#acct-note").render())


async def test_build_into_a_file_is_refused_beside_the_field(books, tmp_path):
    path, _ = books
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("x")
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        s = await claims_screen(pilot)
        await send(pilot, "s")
        await settle(pilot)
        await send(pilot, "b")
        await settle(pilot)
        form = app.screen
        form.query_one("#f-folder").value = ""
        await type_text(pilot, str(not_a_folder))
        await send(pilot, "ctrl+s")
        await settle(pilot)
        assert app.screen is form and "a file, not a folder" in str(form.query_one("#e-folder").render())
        assert len(s.rows) == 2  # nothing was built
