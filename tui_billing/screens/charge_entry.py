"""Charge entry (F2): key encounters from a stack of superbills, into a batch with control totals.

Layout (fits 80x24 without losing a field)::

    header (practice, posting date, operator, database)
    batch panel: control vs entered and the difference, live
    Patient [lookup]  account name DOB payer
    Prov [..] DOS [..] POS [..] Payer [..]  provider / payer names (or that row's error)
    12 diagnosis fields in 3 columns, each with its description (or its error)
    6 service lines: code, description, 4 modifiers, units, fee, diagnosis pointers
    message line and running total
    the batch's encounters (F5 to reach it, Ctrl+D to void the highlighted one)
    footer (live bindings)

All database work runs in thread workers; the form never waits for the database. Errors from
the store name the field (``BillingError.field``) and are shown beside that field; a refused
save leaves the form as typed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from importlib import import_module

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from .. import codes
from ..money import MoneyError, format_cents, parse_cents
from ..store import lookups, operations
from ..store.errors import BillingError
from ..store.lookups import BatchEncounter, OpenBatch, PatientHit, PayerRow, ProcedureRow, ProviderRow
from ..text import inert
from ..widgets.app_header import AppHeader
from ..widgets.code_lookup import CodeInput, ProcedureLookup
from ..widgets.dates import DateInput, parse_service_date
from ..widgets.form_input import FormInput
from ..widgets.key_bar import KeyBar
from ..widgets.lookup import LookupInput, Match
from ..widgets.money_input import MoneyInput
from ..widgets.patient_picker import PatientPicker
from ..widgets.slot import Slot
from .charge_dialogs import BatchDialog, ConfirmDialog, ReasonDialog, difference_text

__all__ = ["ChargeEntryScreen", "EncounterForm", "parse_pointers"]

DX_COUNT = 12
LINE_COUNT = 6
MOD_COUNT = 4
STICKY = ("provider", "dos", "pos", "payer")
SELF_PAY = "SELF"


def parse_pointers(text: str, dx_count: int) -> tuple[int, ...]:
    """Diagnosis pointers as typed: ``1``, ``1,2``, ``1 2 3``, or ``123`` (one digit each).

    A bare number that names an existing diagnosis (``12`` with 12 diagnoses) is one pointer.
    Raises ValueError with the reason.
    """
    raw = text.strip()
    if not raw:
        return (1,)
    if re.fullmatch(r"\d+", raw) and not (1 <= int(raw) <= dx_count and len(raw) <= 2 and int(raw) >= 10):
        parts = list(raw) if len(raw) > 1 else [raw]
    else:
        parts = [p for p in re.split(r"[,\s]+", raw) if p]
    if not all(p.isdigit() for p in parts):
        raise ValueError(f"pointers are diagnosis numbers like 1 or 1,2 (got '{raw}')")
    pointers = tuple(int(p) for p in parts)
    if len(pointers) > 4:
        raise ValueError("at most 4 diagnosis pointers per line")
    for p in pointers:
        if not 1 <= p <= max(dx_count, 1) or (dx_count and p > dx_count):
            there = ("no diagnosis is entered yet" if dx_count == 0 else
                     "there is only 1 diagnosis" if dx_count == 1 else f"there are only {dx_count} diagnoses")
            raise ValueError(f"pointer {p}: {there}")
    if len(set(pointers)) != len(pointers):
        raise ValueError("a diagnosis is pointed at twice")
    return pointers


@dataclass
class EncounterForm:
    """The values the save worker posts: plain data, built on the event loop from the form."""

    patient_id: int
    provider_id: int
    payer_id: int | None
    dos: str
    pos: str
    diagnoses: list[str]
    lines: list[operations.ChargeLine]
    batch_id: int | None
    line_fields: list[int] = field(default_factory=list)  # form line index for each posted line
    posting_date: str | None = None


class ChargeEntryScreen(Screen[None]):
    """The encounter form, its batch panel and the batch's encounter list."""

    BINDINGS = [
        # Priority: they run as the key arrives (after every earlier key: the app serialises keys),
        # and move focus at once, so keys typed ahead land in the next field.
        Binding("enter", "key('advance')", "Next field", id="charges.enter", show=False, priority=True),
        Binding("tab", "key('next')", "Next field", id="charges.tab", show=False, priority=True),
        Binding("shift+tab", "key('previous')", "Previous field", id="charges.shift_tab", show=False, priority=True),
        Binding("ctrl+s", "key('save')", "Save", id="charges.save", priority=True),
        Binding("f6", "key('ditto')", "Ditto", id="charges.ditto", priority=True),
        Binding("f5", "toggle_list", "List/Form", id="charges.list"),
        Binding("escape", "clear", "Clear", id="charges.clear"),
        Binding("f8", "new_batch", "New batch", id="charges.new_batch", show=False),
        Binding("f9", "close_batch", "Close batch", id="charges.close_batch"),
        Binding("ctrl+d", "void", "Void", id="charges.void", show=False),
    ]

    @staticmethod
    def input_count() -> int:
        """How many Inputs the form has (the benchmark's bare floor app gets the same number)."""
        return 5 + DX_COUNT + LINE_COUNT * (MOD_COUNT + 4)

    def __init__(self) -> None:
        super().__init__()
        self.providers: list[ProviderRow] = []
        self.payers: list[PayerRow] = []
        self.schedule: dict[str, ProcedureRow] = {}
        self.batch: OpenBatch | None = None
        self.encounters: list[BatchEncounter] = []
        self.patient: PatientHit | None = None
        self.errors: dict[str, str] = {}
        self.previous: dict[str, str] = {}  # field id -> value at the last save (F6)
        self.previous_patient: PatientHit | None = None
        self.payer_typed = False  # the clerk chose the payer; a new patient does not replace it
        self.fee_auto: dict[int, str] = {}  # line -> fee text we filled (not an override)
        self.saving = False
        self.loaded = False
        self.asking_batch = False
        self.saves = 0  # successful saves (tests and the benchmark watch it)
        self._batch_note: str | None = None
        self._widgets: dict[str, Input] = {}
        self._rest_ready = False
        self._pending_focus: str | None = None
        self._table = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # Grids rather than a container per row: fewer widgets makes every layout pass cheaper.
        yield AppHeader()
        with Vertical(id="ce-form"):
            yield Slot("batch: loading…", id="batch-panel")
            with Horizontal(classes="ce-row"):
                yield Static("Patient ", classes="ce-label", markup=False)
                patient = PatientPicker(id="patient", list_id="patient-matches")
                yield patient
                yield Slot("", id="patient-info", classes="ce-info")
            yield patient.match_list
            with Horizontal(classes="ce-row"):
                yield Static("Prov ", classes="ce-label-s", markup=False)
                provider = LookupInput(id="provider", list_id="provider-matches", max_length=30)
                yield provider
                yield Static(" DOS ", classes="ce-label-s4", markup=False)
                yield DateInput(self.today.isoformat(), id="dos")
                yield Static(" POS ", classes="ce-label-s4", markup=False)
                yield CodeInput("11", id="pos", max_length=2)
                yield Static(" Payer ", classes="ce-label-s6", markup=False)
                payer = LookupInput(id="payer", list_id="payer-matches", max_length=20)
                yield payer
                row2 = Slot("", id="row2-info", classes="ce-info")
                yield row2
            yield provider.match_list
            yield payer.match_list
            # The patient list covers this row but for its right end: blank the provider and payer
            # names there while it shows, or their tail reads as part of the list.
            patient.match_list.on_shown = lambda shown: setattr(row2.styles, "visibility",
                                                                "hidden" if shown else "visible")
            with Horizontal(id="msg-row"):
                yield Slot("", id="msg")
                yield Slot("Total 0.00", id="total")
        # The encounter list (a DataTable) is mounted just after the first paint: the form is
        # ready to type into sooner, and the table's import and styling come off the start-up path.
        yield Static("", id="encounters-slot", markup=False)
        yield KeyBar()

    def _rest_widgets(self) -> list:
        """The diagnosis grid and the service lines, mounted just after the first frame."""
        dx: list = []
        for n in range(1, DX_COUNT + 1):
            dx += [Static(f"{n:>2}", classes="dx-num", markup=False), CodeInput(id=f"dx-{n}", max_length=8, classes="dx"),
                   Slot("", id=f"dxd-{n}", classes="dx-desc")]
        lines: list = []
        codes_: list[ProcedureLookup] = []
        for i in range(1, LINE_COUNT + 1):
            code = ProcedureLookup(id=f"l{i}-code", list_id=f"l{i}-matches", classes="line-code")
            code.schedule = self.schedule
            codes_.append(code)
            lines += [Static(f"{i:>2}", classes="line-num", markup=False), code, Slot("", id=f"l{i}-desc", classes="line-desc")]
            lines += [CodeInput(id=f"l{i}-m{m}", max_length=2, classes="mod") for m in range(1, MOD_COUNT + 1)]
            lines += [FormInput(id=f"l{i}-units", restrict=r"[0-9]*", max_length=3, classes="units"),
                      MoneyInput(id=f"l{i}-fee", classes="fee"),
                      FormInput(id=f"l{i}-ptr", restrict=r"[0-9, ]*", max_length=11, classes="ptr")]
        # Aligned with the grid's columns at 80 wide (the description column takes what is left).
        head = Static(f"{'#':>2} {'Code':<6} {'Description':<31} Mod Mod Mod Mod Un  {'Fee':>10} Ptr", id="lines-head",
                      markup=False)
        return [Container(*dx, id="dx-grid"), head, Container(*lines, id="line-grid"), *(c.match_list for c in codes_)]

    def on_mount(self) -> None:
        self.query_one("#patient").focus()
        self._load()
        # First frame: the header rows, focus in the patient field (the clerk can type at once).
        # The diagnosis grid and the lines follow in the next frame; an Enter that needs one of
        # them before then waits for it (see _focus), so nothing typed ahead is lost.
        self.call_after_refresh(self.set_timer, 0.01, self._mount_rest)

    async def _mount_rest(self) -> None:
        form = self.query_one("#ce-form")
        await form.mount(*self._rest_widgets(), before=self.query_one("#msg-row"))
        self._rest_ready = True
        if self._pending_focus:
            fid, self._pending_focus = self._pending_focus, None
            self.set_focus(self._input(fid))
            self.app.release_keys()  # type: ignore[attr-defined]
        self._mount_table()

    @property
    def table(self):
        """The encounter list (None until mounted just after the first paint)."""
        return self._table

    def _mount_table(self) -> None:
        from textual.widgets import DataTable

        table = DataTable(id="encounters", cursor_type="row", zebra_stripes=False)
        self._table = table
        self.mount(table, after=self.query_one("#encounters-slot"))
        table.add_columns("Enc", "Account", "Patient", "Prov", "DOS", "Ln", "Total", "")
        self._fill_table()

    def on_screen_resume(self) -> None:
        if self._batch_note is not None and self.batch is None and self.loaded:
            note, self._batch_note = self._batch_note, None
            self._ask_batch(note)

    # ------------------------------------------------------------------ helpers

    @property
    def today(self) -> dt.date:
        from ..store.validate import today

        return today()

    def _input(self, fid: str) -> Input:
        widget = self._widgets.get(fid)
        if widget is None:  # looked up once: a DOM query per keystroke would walk ~130 widgets
            widget = self._widgets[fid] = self.query_one(f"#{fid}", Input)
        return widget

    def _mounted(self, fid: str) -> bool:
        return self._rest_ready or not (fid.startswith("dx-") or fid.startswith("l"))

    def _val(self, fid: str) -> str:
        if not self._mounted(fid):
            return ""
        return self._input(fid).value.strip()

    def _set(self, fid: str, value: str) -> None:
        if not self._mounted(fid):
            return
        widget = self._input(fid)
        if widget.value != value:
            with widget.prevent(Input.Changed):
                widget.value = value
            widget.cursor_position = len(value)

    def _field_ids(self) -> list[str]:
        ids = ["patient", "provider", "dos", "pos", "payer"] + [f"dx-{n}" for n in range(1, DX_COUNT + 1)]
        for i in range(1, LINE_COUNT + 1):
            ids += [f"l{i}-code"] + [f"l{i}-m{m}" for m in range(1, MOD_COUNT + 1)]
            ids += [f"l{i}-units", f"l{i}-fee", f"l{i}-ptr"]
        return ids

    def _slot(self, fid: str) -> Slot:
        """Where a field's message shows: beside it on its own row."""
        if fid == "patient":
            return self.query_one("#patient-info", Slot)
        if fid in STICKY:
            return self.query_one("#row2-info", Slot)
        if fid.startswith("dx-"):
            return self.query_one(f"#dxd-{fid[3:]}", Slot)
        if fid.startswith("l"):
            return self.query_one(f"#l{fid[1:].split('-')[0]}-desc", Slot)
        return self.query_one("#msg", Slot)

    def _error(self, fid: str, message: str) -> None:
        self.errors[fid] = message
        if fid in self._field_ids():
            self._input(fid).add_class("-bad")
        slot = self._slot(fid)
        slot.update(Text(message))
        slot.add_class("-error")
        self._msg(message, error=True)

    def _ok(self, fid: str) -> None:
        if self.errors.pop(fid, None) is not None:
            self._input(fid).remove_class("-bad")
            self._slot(fid).remove_class("-error")
            self._refresh_slot(fid)
            self._msg("")

    def _msg(self, text: str, *, error: bool = False) -> None:
        msg = self.query_one("#msg", Slot)
        msg.update(Text(text))
        msg.set_class(error, "-error")

    def _refresh_slot(self, fid: str) -> None:
        """Put a field's normal description back in its slot."""
        if fid == "patient":
            self._show_patient()
        elif fid in STICKY:
            self._show_row2()
        elif fid.startswith("dx-"):
            self._check_dx(int(fid[3:]), quiet=True)
        elif fid.startswith("l"):
            self._show_line_desc(int(fid[1:].split("-")[0]))

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="charges-load", exit_on_error=False)
    def _load(self) -> None:
        app = self.app
        provs, pays, sched = lookups.providers(), lookups.payers(), lookups.procedures()
        batch = lookups.open_charge_batch(app.operator, app.posting_date)  # type: ignore[attr-defined]
        rows = lookups.batch_encounters(batch.id) if batch else []
        self.app.call_from_thread(self._loaded, provs, pays, sched, batch, rows)

    def _loaded(self, provs: list[ProviderRow], pays: list[PayerRow], sched: dict[str, ProcedureRow],
                batch: OpenBatch | None, rows: list[BatchEncounter]) -> None:
        self.providers, self.payers = provs, pays
        self.schedule.clear()
        self.schedule.update(sched)
        self.loaded = True
        self._show_batch(batch, rows)
        if batch is None:
            self._ask_batch()
        # Warm the ICD-10-CM tables (about 2 s in a thread) only once the form is up and painted:
        # started earlier, that thread would hold the interpreter while the first frame is drawn.
        self.call_after_refresh(self._warm_codes)

    def _warm_codes(self) -> None:
        self._await_codes()

    @work(thread=True, exclusive=True, group="icd10-warm", exit_on_error=False)
    def _await_codes(self) -> None:
        codes.warm_icd10()  # thread-safe: a second caller waits for the one load
        self.app.call_from_thread(self._codes_ready)
        # F3 and F4 import their screens on first use (nothing before the first keystroke);
        # importing them now, off the UI thread, takes that cost off their first opening.
        import_module("tui_billing.screens.receipts")
        import_module("tui_billing.screens.balancing")

    def _codes_ready(self) -> None:
        if not self._rest_ready:
            self.call_after_refresh(self._codes_ready)
            return
        for n in range(1, DX_COUNT + 1):
            if self._val(f"dx-{n}"):
                self._check_dx(n)

    # ------------------------------------------------------------------ batch

    def _show_batch(self, batch: OpenBatch | None, rows: list[BatchEncounter] | None = None) -> None:
        self.batch = batch
        panel = self.query_one("#batch-panel", Slot)
        if batch is None:
            panel.update(Text("No open charge batch: F8 opens one (control count and total from the stack)"))
            panel.set_class(True, "-unbalanced")
        else:
            diff = difference_text(batch.count_difference, batch.total_difference)
            panel.update(Text(
                f"Batch {batch.id}  control {batch.control_count} / {format_cents(batch.control_total)}"
                f"  entered {batch.entered_count} / {format_cents(batch.entered_total)}  diff {diff}"
                + ("  balanced" if batch.balanced else "")
            ))
            panel.set_class(not batch.balanced, "-unbalanced")
        if rows is not None:
            self.encounters = rows
            self._fill_table()

    def _fill_table(self) -> None:
        table = self._table
        if table is None:
            return
        table.clear()
        for r in self.encounters:
            status = "void" if r.voided else ("rev" if r.reverses_id else "")
            table.add_row(Text(str(r.id)), Text(inert(r.account)), Text(inert(r.patient_name[:22])), Text(r.provider_code),
                          Text(r.dos), Text(str(r.lines)), Text(format_cents(r.total), justify="right"),
                          Text(status), key=str(r.id))

    def _ask_batch(self, note: str = "") -> None:
        if self.asking_batch:
            return
        if not self.is_current:
            # Another screen (F3/F4) is in front: ask when the clerk comes back to charge entry,
            # never over someone else's screen.
            self._batch_note = note
            return
        self.asking_batch = True
        self.app.push_screen(BatchDialog(self.app.posting_date, note), callback=self._batch_answer)  # type: ignore[attr-defined]

    def _batch_answer(self, answer: tuple[int, int] | None) -> None:
        self.asking_batch = False
        self.query_one("#patient").focus()
        if answer is None:
            self._msg("No batch open: F8 opens one before you save", error=True)
            return
        self._open_batch(*answer)

    @work(thread=True, exclusive=True, group="charges-batch", exit_on_error=False)
    def _open_batch(self, count: int, total: int) -> None:
        try:
            bid = operations.open_batch("charge", count, total, posting_date=self.app.posting_date,  # type: ignore[attr-defined]
                                        operator=self.app.operator)  # type: ignore[attr-defined]
        except BillingError as exc:
            self.app.call_from_thread(self._batch_refused, str(exc))
            return
        batch = lookups.batch_figures(bid)
        self.app.call_from_thread(self._show_batch, batch, [])
        self.app.call_from_thread(self._msg, f"Batch {bid} open")

    def _batch_refused(self, message: str) -> None:
        self._msg(message, error=True)
        self._ask_batch(message)

    def action_new_batch(self) -> None:
        if self.batch is not None:
            self._msg(f"Batch {self.batch.id} is still open: F9 closes it first", error=True)
            return
        self._ask_batch()

    def action_close_batch(self) -> None:
        if self.batch is None:
            self._msg("No open batch to close", error=True)
            return
        self._close_batch(self.batch.id)

    @work(thread=True, exclusive=True, group="charges-batch", exit_on_error=False)
    def _close_batch(self, batch_id: int) -> None:
        try:
            operations.close_batch(batch_id, operator=self.app.operator)  # type: ignore[attr-defined]
        except BillingError as exc:
            figures = lookups.batch_figures(batch_id)
            if figures is not None and not figures.balanced:
                # The difference first: the message line is 60 columns at 80x24.
                message = (f"Batch {batch_id} does not balance, difference "
                           f"{difference_text(figures.count_difference, figures.total_difference)}: entered "
                           f"{figures.entered_count} / {format_cents(figures.entered_total)}, control "
                           f"{figures.control_count} / {format_cents(figures.control_total)}")
            else:
                message = str(exc)
            self.app.call_from_thread(self._msg, message, error=True)
            return
        self.app.call_from_thread(self._batch_closed, batch_id)

    def _batch_closed(self, batch_id: int) -> None:
        self._show_batch(None, [])
        self._msg(f"Batch {batch_id} closed in balance")
        self._ask_batch(f"Batch {batch_id} closed in balance. Next batch:")

    # ------------------------------------------------------------------ field events

    def on_input_changed(self, event: Input.Changed) -> None:
        fid = event.input.id or ""
        if fid in self.errors:
            self._ok(fid)  # the clerk is fixing it: the message goes until the next check
        if fid == "patient":
            if self.patient is not None and event.value.strip() != self.patient.account:
                self.patient = None
                self._show_patient()
        elif fid == "provider":
            self.query_one("#provider", LookupInput).show_matches(self._provider_matches(event.value))
        elif fid == "payer":
            self.payer_typed = True
            self.query_one("#payer", LookupInput).show_matches(self._payer_matches(event.value))
        elif fid.startswith("dx-"):
            self._check_dx(int(fid[3:]), quiet=True)
        elif fid.endswith("-units") or fid.endswith("-fee") or fid.endswith("-code"):
            i = int(fid[1:].split("-")[0])
            if fid.endswith("-code"):
                self._code_changed(i)
            elif fid.endswith("-units"):
                self._refill_fee(i)
            self._update_total()

    # ------------------------------------------------------------------ form keys (type-ahead safe)

    def action_key(self, command: str) -> None:
        """Enter, Tab, Shift+Tab, Ctrl+S, F6: acted on at once, on values every earlier key has set."""
        if command == "advance":
            if self._enter():
                self.app.hold_keys()  # type: ignore[attr-defined]  # released by _resume_enter
        elif command == "next":
            self._move(+1)
        elif command == "previous":
            self._move(-1)
        elif command == "save":
            self.action_save()
        elif command == "ditto":
            self.action_ditto()

    def _move(self, step: int) -> None:
        focused = self.app.focused
        if isinstance(focused, Input) and focused.id in self._field_ids():
            self._check(focused.id)
        if isinstance(focused, LookupInput):
            focused.close_list()
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def _focus(self, fid: str) -> None:
        """Move focus now (not after the queued keys), so typed-ahead keys land in the new field."""
        if not self._mounted(fid):  # in the first few ms only: hold keys until the field exists
            if self._pending_focus is None:
                self.app.hold_keys()  # type: ignore[attr-defined]
            self._pending_focus = fid
            return
        self.set_focus(self._input(fid))

    def _enter(self) -> bool:
        """Enter: take the highlighted match, or check the field and move on. True: wait for a lookup."""
        focused = self.app.focused
        if not isinstance(focused, Input):
            return False
        if isinstance(focused, LookupInput):
            # A typed-ahead Enter must take a match for what was typed, never a stale one shown
            # for a shorter prefix: while the list is behind the field, Enter waits for it.
            if isinstance(focused, PatientPicker) and self.patient is None and focused.pending:
                focused.on_results = self._resume_enter
                return True
            match = focused.highlighted_match()
            if match is not None:
                focused.close_list()
                self._take(focused, match)
                self._advance(focused)
                return False
        self._advance(focused)
        return False

    def _resume_enter(self) -> None:
        try:
            if self.app.focused is self.query_one("#patient"):
                self._enter()
        finally:
            self.app.release_keys()  # type: ignore[attr-defined]

    def _take(self, lookup: LookupInput, match: Match) -> None:
        fid = lookup.id or ""
        value = match.value
        if fid == "patient":
            self._take_patient(value)
        elif fid == "provider":
            self._set("provider", value.code)
        elif fid == "payer":
            self._set("payer", value.code if value else SELF_PAY)
            self.payer_typed = True
        elif fid.endswith("-code"):
            self._set(fid, value.code)
            self._code_changed(int(fid[1:].split("-")[0]))
            self._update_total()

    @on(LookupInput.Picked)
    def _picked(self, event: LookupInput.Picked) -> None:
        event.stop()
        self._take(event.lookup, event.match)
        self._advance(event.lookup)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._advance(event.input)

    def on_input_blurred(self, event: Input.Blurred) -> None:
        fid = event.input.id or ""
        if fid not in self._field_ids() or self.saving:
            return
        # An empty field left behind is only re-checked if it showed an error: a save clears the
        # form and moves focus, and the blur that arrives after must not call the new, empty
        # encounter's first line missing (Ctrl+S straight from the procedure code did that).
        if self._val(fid) or fid in self.errors:
            self._check(fid)

    def _advance(self, widget: Input) -> None:
        """Enter: check the field, then move to the next useful one (skipping empty tails)."""
        fid = widget.id or ""
        if fid not in self._field_ids():
            return
        if not self._check(fid):
            return
        nxt = self._next_field(fid)
        if nxt:
            self._focus(nxt)
        else:
            self._msg("Ctrl+S saves the encounter")

    def _next_field(self, fid: str) -> str | None:
        ids = self._field_ids()
        if fid.startswith("dx-") and not self._val(fid):
            return "l1-code"  # an empty diagnosis ends the list
        m = re.fullmatch(r"l(\d)-(\w+)", fid)
        if m:
            i, part = int(m[1]), m[2]
            if part == "code" and not self._val(fid):
                return None if i > 1 else fid  # an empty line ends the encounter
            if part.startswith("m") and not self._val(fid):
                return f"l{i}-units"
            if part == "ptr":
                return f"l{i + 1}-code" if i < LINE_COUNT else None
        pos = ids.index(fid)
        return ids[pos + 1] if pos + 1 < len(ids) else None

    # ------------------------------------------------------------------ checks (client side)

    def _check(self, fid: str) -> bool:
        """Check one field; show its error beside it. Returns True if it is acceptable."""
        message = self._problem(fid)
        if message:
            self._error(fid, message)
            return False
        self._ok(fid)
        return True

    def _problem(self, fid: str) -> str | None:
        value = self._val(fid)
        if fid == "patient":
            if self.patient is None:
                if not value:
                    return "choose a patient: account number or last,first"
                hits = self.query_one("#patient", PatientPicker).matches
                exact = [m.value for m in hits if m.value.account == value.upper()]
                if len(exact) == 1:
                    self._take_patient(exact[0])
                    return None
                return f"no patient picked for '{value}': Up/Down and Enter choose from the list"
            return None
        if fid == "provider":
            if not value:
                return "provider is required (short code or name)"
            found = self._provider_matches(value)
            exact = [m.value for m in found if m.value.code.upper() == value.upper()]
            if exact or len(found) == 1:
                self._set("provider", (exact or [found[0].value])[0].code)
                self._show_row2()
                return None
            return f"no provider '{value}'" if not found else f"'{value}' matches {len(found)} providers"
        if fid == "dos":
            try:
                date = parse_service_date(value, self.today)
            except ValueError as exc:
                return str(exc)
            self._set("dos", date.isoformat())
            return None
        if fid == "pos":
            try:
                self._set("pos", codes.validate_pos(value or "11"))
            except codes.CodeError as exc:
                return str(exc)
            return None
        if fid == "payer":
            if self._payer_id() is False:
                return f"no payer '{value}' (type a payer code, or SELF for self-pay)"
            self._show_row2()
            return None
        if fid.startswith("dx-"):
            return self._check_dx(int(fid[3:]))
        m = re.fullmatch(r"l(\d)-(\w+)", fid)
        if m:
            return self._line_problem(int(m[1]), m[2])
        return None

    def _check_dx(self, n: int, quiet: bool = False) -> str | None:
        """Validate diagnosis n; show its description as soon as it is a valid code."""
        fid = f"dx-{n}"
        value = self._val(fid)
        slot = self.query_one(f"#dxd-{n}", Slot)
        if not value:
            slot.update("")
            return None
        if not codes.icd10_format_ok(value):
            slot.update("")
            return None if quiet else f"'{value}' is not shaped like an ICD-10-CM code (e.g. E11.9)"
        if not codes.icd10_ready():
            slot.update(Text("loading codes…"))
            return None if quiet else "loading codes… (a moment, then Enter again)"
        try:
            dx = codes.validate_icd10(value)
        except codes.CodeError as exc:
            slot.update("")
            return None if quiet else str(exc)
        for k in range(1, DX_COUNT + 1):
            if k != n and self._val(f"dx-{k}") and self._val(f"dx-{k}").replace(".", "") == dx.code:
                return None if quiet else f"{dx.dotted} is already diagnosis {k}"
        if not quiet and self._val(fid) != dx.dotted:
            self._set(fid, dx.dotted)
        if fid not in self.errors:
            slot.update(Text(dx.description))
        return None

    def _line_used(self, i: int) -> bool:
        return any(self._val(f"l{i}-{p}") for p in ("code", "m1", "m2", "m3", "m4"))

    def _dx_count(self) -> int:
        return sum(1 for n in range(1, DX_COUNT + 1) if self._val(f"dx-{n}"))

    def _line_problem(self, i: int, part: str) -> str | None:
        value = self._val(f"l{i}-{part}")
        if part == "code":
            if not value:
                if i == 1:
                    return "at least one service line: type a procedure code"
                return None
            try:
                code = codes.validate_procedure_code(value)
            except codes.CodeError as exc:
                return str(exc)
            if code not in self.schedule:
                return f"{code} is not in the office's fee schedule"
            return None
        if not self._line_used(i):
            return None
        if part.startswith("m"):
            if not value:
                return None
            try:
                codes.validate_modifier(value)
            except codes.CodeError as exc:
                return str(exc)
            return None
        if part == "units":
            if not value or int(value) < 1:
                return "units must be at least 1"
            return None
        if part == "fee":
            try:
                amount = parse_cents(value or "0")
            except MoneyError as exc:
                return str(exc)
            units = int(self._val(f"l{i}-units") or "1") or 1
            if amount % units:
                return f"fee {format_cents(amount)} does not split into {units} equal units"
            return None
        if part == "ptr":
            try:
                parse_pointers(value, self._dx_count())
            except ValueError as exc:
                return str(exc)
            return None
        return None

    # ------------------------------------------------------------------ patient, provider, payer

    def _take_patient(self, hit: PatientHit) -> None:
        self.patient = hit
        self._set("patient", hit.account)
        self._ok("patient")
        self._show_patient()
        if not self.payer_typed or not self._val("payer"):
            self._set("payer", hit.payer_code or SELF_PAY)
            self.payer_typed = False
            self._show_row2()

    def _show_patient(self) -> None:
        if "patient" in self.errors:
            return
        slot = self.query_one("#patient-info", Slot)
        hit = self.patient
        if hit is None:
            slot.update("")
            return
        slot.update(Text(inert(f"{hit.account}  {hit.name}  {hit.dob}  {hit.payer_code or 'self-pay'}")))

    def _provider_matches(self, text: str) -> list[Match]:
        return [Match(f"{p.code:<8} {p.name}", p) for p in lookups.find_providers(text, self.providers)[:8]]

    def _payer_matches(self, text: str) -> list[Match]:
        q = text.strip().lower()
        if not q:
            return []
        out = [Match(f"{SELF_PAY:<10} self-pay (the patient)", None)] if SELF_PAY.lower().startswith(q) else []
        out += [Match(f"{p.code:<10} {p.name}", p) for p in self.payers
                if p.code.lower().startswith(q) or p.name.lower().startswith(q)]
        if len(out) == 1 and (out[0].value is None and q == SELF_PAY.lower()
                              or out[0].value is not None and out[0].value.code.lower() == q):
            return []  # exactly typed: nothing to pick
        return out[:8]

    def _provider(self) -> ProviderRow | None:
        value = self._val("provider").upper()
        return next((p for p in self.providers if p.code.upper() == value), None)

    def _payer_id(self) -> int | None | bool:
        """The payer's id, None for self-pay, False if the text names no payer."""
        value = self._val("payer").upper()
        if value in ("", SELF_PAY):
            return None
        return next((p.id for p in self.payers if p.code.upper() == value), False)

    def _show_row2(self) -> None:
        if any(f in self.errors for f in STICKY):
            return
        prov = self._provider()
        pid = self._payer_id()
        payer = "self-pay" if pid is None else next((p.name for p in self.payers if p.id == pid), "")
        self.query_one("#row2-info", Slot).update(Text(inert(f"{prov.name if prov else ''} | {payer}")))

    # ------------------------------------------------------------------ service lines

    def _code_changed(self, i: int) -> None:
        row = self.schedule.get(self._val(f"l{i}-code").upper())
        if row is not None:
            if not self._val(f"l{i}-units"):
                self._set(f"l{i}-units", str(row.default_units))
            if not self._val(f"l{i}-ptr"):
                self._set(f"l{i}-ptr", "1")
            self.fee_auto.pop(i, None) if self._val(f"l{i}-fee") != self.fee_auto.get(i) else None
            self._refill_fee(i, force=True)
        self._show_line_desc(i)

    def _refill_fee(self, i: int, force: bool = False) -> None:
        """Fee = schedule fee × units, unless the clerk typed a fee of their own."""
        row = self.schedule.get(self._val(f"l{i}-code").upper())
        current = self._val(f"l{i}-fee")
        overridden = bool(current) and current != self.fee_auto.get(i)
        if row is None or (overridden and not force):
            return
        if overridden and force and i in self.fee_auto:
            return
        try:
            units = max(1, int(self._val(f"l{i}-units") or "1"))
        except ValueError:
            return
        text = format_cents(row.fee * units)
        self.fee_auto[i] = text
        self._set(f"l{i}-fee", text)

    def _show_line_desc(self, i: int) -> None:
        if any(k.startswith(f"l{i}-") for k in self.errors):
            return
        row = self.schedule.get(self._val(f"l{i}-code").upper())
        self.query_one(f"#l{i}-desc", Slot).update(Text(row.description if row else ""))

    def _line_amount(self, i: int) -> int:
        if not self._val(f"l{i}-code"):
            return 0
        try:
            return parse_cents(self._val(f"l{i}-fee") or "0")
        except MoneyError:
            return 0

    def _update_total(self) -> None:
        total = sum(self._line_amount(i) for i in range(1, LINE_COUNT + 1))
        self.query_one("#total", Slot).update(Text(f"Total {format_cents(total)}"))

    # ------------------------------------------------------------------ save

    def action_save(self) -> None:
        if self.saving or self.asking_batch or not self._rest_ready:
            return
        if not isinstance(self.focused, (Input,)) and self.focused is not None and self.focused.id == "encounters":
            self.query_one("#patient").focus()
        for lookup in self.query(LookupInput):
            lookup.close_list()
        bad = [fid for fid in self._field_ids() if not self._check(fid)]
        if bad:
            self._focus(bad[0])
            self._msg(f"Not saved: {self.errors[bad[0]]}", error=True)
            return
        if self.batch is None:
            self._msg("Not saved: no open charge batch (F8 opens one)", error=True)
            self._ask_batch()
            return
        form = self._build()
        self.saving = True
        self._msg("Saving…")
        self._post(form)

    def _build(self) -> EncounterForm:
        diagnoses = [self._val(f"dx-{n}") for n in range(1, DX_COUNT + 1) if self._val(f"dx-{n}")]
        lines, where = [], []
        for i in range(1, LINE_COUNT + 1):
            code = self._val(f"l{i}-code").upper()
            if not code:
                continue
            units = int(self._val(f"l{i}-units") or "1")
            amount = parse_cents(self._val(f"l{i}-fee") or "0")
            sched = self.schedule[code]
            fee = None if amount == sched.fee * units else amount // units
            mods = tuple(self._val(f"l{i}-m{m}").upper() for m in range(1, MOD_COUNT + 1) if self._val(f"l{i}-m{m}"))
            lines.append(operations.ChargeLine(code=code, units=units, fee=fee, modifiers=mods,
                                               dx_pointers=parse_pointers(self._val(f"l{i}-ptr"), len(diagnoses))))
            where.append(i)
        provider = self._provider()
        assert self.patient is not None and provider is not None  # checked above
        payer = self._payer_id()
        return EncounterForm(
            patient_id=self.patient.id, provider_id=provider.id, payer_id=None if payer is False else payer,
            dos=self._val("dos"), pos=self._val("pos"), diagnoses=diagnoses, lines=lines,
            batch_id=self.batch.id if self.batch else None, line_fields=where,
            posting_date=self.app.posting_date,  # type: ignore[attr-defined]
        )

    @work(thread=True, exclusive=True, group="charges-save", exit_on_error=False)
    def _post(self, form: EncounterForm) -> None:
        try:
            posted = operations.post_encounter(
                patient_id=form.patient_id, provider_id=form.provider_id, dos=form.dos, diagnoses=form.diagnoses,
                lines=form.lines, pos=form.pos, payer_id=form.payer_id, batch_id=form.batch_id,
                posting_date=form.posting_date, operator=self.app.operator,  # type: ignore[attr-defined]
            )
        except BillingError as exc:
            self.app.call_from_thread(self._refused, exc, form)
            return
        finally:
            self.saving = False
        batch = lookups.batch_figures(form.batch_id) if form.batch_id else None
        rows = lookups.batch_encounters(form.batch_id) if form.batch_id else []
        self.app.call_from_thread(self._saved, posted, batch, rows)

    def _refused(self, exc: BillingError, form: EncounterForm) -> None:
        fid = self._field_for(exc.field, form)
        if fid:
            self._error(fid, exc.message)
            self._input(fid).focus()
        self._msg(f"Not saved: {exc.message}", error=True)

    def _field_for(self, store_field: str | None, form: EncounterForm) -> str | None:
        """Map the store's field name (``lines[2].code``) to the form field that caused it."""
        if not store_field:
            return None
        if store_field in ("patient", "provider", "payer", "dos", "pos"):
            return store_field
        m = re.fullmatch(r"diagnoses\[(\d+)\]", store_field)
        if m:
            filled = [n for n in range(1, DX_COUNT + 1) if self._val(f"dx-{n}")]
            k = int(m[1])
            return f"dx-{filled[k]}" if k < len(filled) else "dx-1"
        m = re.fullmatch(r"lines\[(\d+)\]\.(\w+)", store_field)
        if m:
            k = int(m[1])
            i = form.line_fields[k] if k < len(form.line_fields) else 1
            part = {"code": "code", "units": "units", "fee": "fee", "modifiers": "m1", "dx_pointers": "ptr"}[m[2]]
            return f"l{i}-{part}"
        if store_field.startswith("lines"):
            return "l1-code"
        return None

    def _saved(self, posted: operations.PostedEncounter, batch: OpenBatch | None, rows: list[BatchEncounter]) -> None:
        self.saves += 1
        self.previous = {fid: self._input(fid).value for fid in self._field_ids()}
        self.previous_patient = self.patient
        self._show_batch(batch, rows)
        self._reset_form(keep_sticky=True)
        self._msg(f"Saved encounter {posted.encounter_id}: {len(posted.charge_ids)} line(s), "
                  f"{format_cents(posted.total)}")
        self._focus("patient")

    # ------------------------------------------------------------------ clear, ditto

    def _reset_form(self, *, keep_sticky: bool) -> None:
        if not self._rest_ready:
            return
        for fid in self._field_ids():
            if keep_sticky and fid in STICKY:
                continue
            self._set(fid, "")
        if not keep_sticky:
            self._set("pos", "11")
            self._set("dos", self.today.isoformat())
            self.payer_typed = False
        for fid in list(self.errors):
            self._ok(fid)
        self.errors.clear()
        for w in self.query(".-bad"):
            w.remove_class("-bad")
        for w in self.query(".-error"):
            w.remove_class("-error")
        self.patient = None
        self.fee_auto.clear()
        for lookup in self.query(LookupInput):
            lookup.show_matches([])
        self._show_patient()
        self._show_row2()
        for n in range(1, DX_COUNT + 1):
            self.query_one(f"#dxd-{n}", Slot).update("")
        for i in range(1, LINE_COUNT + 1):
            self._show_line_desc(i)
        self._update_total()

    def _typed(self) -> bool:
        return any(self._val(fid) for fid in self._field_ids() if fid not in STICKY)

    def action_clear(self) -> None:
        if not self._typed():
            self._reset_form(keep_sticky=True)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._reset_form(keep_sticky=True)
                self._msg("Form cleared")
            self.query_one("#patient").focus()

        self.app.push_screen(ConfirmDialog("Clear this encounter? What was typed is lost."), callback=answer)

    def action_ditto(self) -> None:
        """F6: copy the previous encounter's value of the focused field."""
        focused = self.focused
        fid = focused.id if isinstance(focused, Input) else None
        if not fid or fid not in self.previous:
            self._msg("F6: nothing to copy here (save an encounter first)")
            return
        if fid == "patient" and self.previous_patient is not None:
            self._take_patient(self.previous_patient)
            return
        focused.value = self.previous[fid]  # type: ignore[union-attr]
        focused.cursor_position = len(focused.value)  # type: ignore[union-attr]
        if isinstance(focused, LookupInput):
            focused.close_list()
        self._check(fid)

    # ------------------------------------------------------------------ encounter list, void

    def action_toggle_list(self) -> None:
        table = self._table
        if table is None:
            return
        if table.has_focus:
            self.query_one("#patient").focus()
        else:
            table.focus()

    def action_void(self) -> None:
        table = self._table
        if table is None or not table.has_focus or not self.encounters:
            self._msg("Ctrl+D voids the highlighted encounter in the list (F5 goes to the list)")
            return
        row = self.encounters[table.cursor_row] if 0 <= table.cursor_row < len(self.encounters) else None
        if row is None:
            return
        if row.voided or row.reverses_id:
            self._msg(f"Encounter {row.id} is {'already voided' if row.voided else 'a reversal'}", error=True)
            return

        def answer(reason: str | None) -> None:
            table.focus()
            if reason:
                self._void(row.id, reason)

        self.app.push_screen(ReasonDialog(f"Void encounter {row.id} ({inert(row.patient_name)}, "
                                          f"{format_cents(row.total)})? Why:"), callback=answer)

    @work(thread=True, exclusive=True, group="charges-void", exit_on_error=False)
    def _void(self, encounter_id: int, reason: str) -> None:
        try:
            new = operations.void("encounter", encounter_id, reason, posting_date=self.app.posting_date,  # type: ignore[attr-defined]
                                  operator=self.app.operator)  # type: ignore[attr-defined]
        except BillingError as exc:
            self.app.call_from_thread(self._msg, str(exc), error=True)
            return
        bid = self.batch.id if self.batch else None
        batch = lookups.batch_figures(bid) if bid else None
        rows = lookups.batch_encounters(bid) if bid else []
        self.app.call_from_thread(self._show_batch, batch, rows)
        self.app.call_from_thread(self._msg, f"Encounter {encounter_id} voided by reversal {new}")
