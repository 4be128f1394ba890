"""Charge entry (F2): key encounters from a stack of superbills, into a batch with control totals.

Layout (fits 80x24 without losing a field); the batch and list behaviour is in ``charge_batch.py``,
the form's rules in ``charge_model.py``, the two panels in ``charge_panels.py``::

    header (practice, posting date, operator, database)
    batch panel: control vs entered and the difference, live
    Patient [lookup]  account name DOB payer
    Prov [..] DOS [..] POS [..] Payer [..]  provider / payer names (or that row's error)
    12 diagnosis fields in 3 columns, each with its description (or its error)
    service lines (6 shown, up to 50 scrolled): code, description, 4 modifiers, units, fee, pointers
    message line and running total
    the batch's encounters (F5 to reach it, Enter for one's detail, Ctrl+D to void the highlighted one)
    footer (live bindings)

All database work runs in thread workers; the form never waits for the database. Errors from
the store name the field (``BillingError.field``) and are shown beside that field; a refused
save leaves the form as typed.
"""

from __future__ import annotations

import datetime as dt
from importlib import import_module

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from .. import codes, icd9
from ..money import MoneyError, format_cents, parse_cents
from ..store import batches as batch_ops
from ..store import lookups, operations
from ..store.errors import BillingError
from ..store.lookups import BatchEncounter, OpenBatch, PatientHit, PayerRow, ProcedureRow, ProviderRow
from ..text import inert
from ..widgets.app_header import AppHeader
from ..widgets.code_lookup import CodeInput, ProcedureLookup
from ..widgets.dates import DateInput, parse_service_date
from ..widgets.dialogs import ConfirmDialog
from ..widgets.fields import CountInput, MoneyInput
from ..widgets.form_input import FormInput
from ..widgets.key_bar import KeyBar
from ..widgets.lookup import LookupInput, Match
from ..widgets.patient_picker import PatientPicker
from ..widgets.slot import Slot
from .charge_batch import BatchWork
from .charge_model import (
    DX_COUNT,
    FIELD_IDS,
    FIRST_LINES,
    LINE_BLOCK,
    LINE_COUNT,
    MOD_COUNT,
    SELF_PAY,
    STICKY,
    EncounterForm,
    form_field_for,
    line_part,
    next_field,
    parse_pointers,
    repeats,
    units_and_fee,
)
from .charge_panels import BatchPanel, EncounterList

__all__ = ["ChargeEntryScreen", "EncounterForm", "parse_pointers"]


class ChargeEntryScreen(BatchWork):
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
        Binding("ctrl+o", "fix_batch", "Fix batch", id="charges.fix_batch", show=False),
        Binding("f8", "new_batch", "New batch", id="charges.new_batch", show=False),
        Binding("f9", "close_batch", "Close batch", id="charges.close_batch"),
        Binding("ctrl+d", "void", "Void", id="charges.void", show=False),
    ]

    @staticmethod
    def input_count() -> int:
        """How many Inputs the form has (the benchmark's bare floor app gets the same number)."""
        return 5 + DX_COUNT + FIRST_LINES * (MOD_COUNT + 4)

    def __init__(self) -> None:
        super().__init__()
        self.providers: list[ProviderRow] = []
        self.payers: list[PayerRow] = []
        self.schedule: dict[str, ProcedureRow] = {}
        self.open_batch: OpenBatch | None = None
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
        self._lines = 0  # service lines mounted (FIRST_LINES once the form is up; more on demand)
        self._pending_focus: str | None = None
        self._table: EncounterList | None = None
        self._icd9_offer: dict[int, str] = {}  # diagnosis n -> the ICD-9 code whose sole choice Enter takes
        self._posting_date = ""  # the posting date the batch was loaded for (follows a day close)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # Grids rather than a container per row: fewer widgets makes every layout pass cheaper.
        yield AppHeader()
        with Vertical(id="ce-form"):
            yield BatchPanel("batch: loading…", id="batch-panel")
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
        for i in range(1, FIRST_LINES + 1):
            lines += self._line_widgets(i, codes_)
        self._lines = FIRST_LINES
        # Aligned with the grid's columns at 80 wide (the description column takes what is left).
        head = Static(f"{'#':>2} {'Code':<6} {'Description':<31} Mod Mod Mod Mod Un  {'Fee':>10} Ptr", id="lines-head",
                      markup=False)
        return [Container(*dx, id="dx-grid"), head, VerticalScroll(Container(*lines, id="line-grid"), id="line-scroll"),
                *(c.match_list for c in codes_)]

    def _line_widgets(self, i: int, codes_: list[ProcedureLookup]) -> list:
        """Service line ``i``: number, code, description, 4 modifiers, units, fee, pointers."""
        code = ProcedureLookup(id=f"l{i}-code", list_id=f"l{i}-matches", classes="line-code")
        code.schedule = self.schedule
        codes_.append(code)
        widgets: list = [Static(f"{i:>2}", classes="line-num", markup=False), code,
                         Slot("", id=f"l{i}-desc", classes="line-desc")]
        widgets += [CodeInput(id=f"l{i}-m{m}", max_length=2, classes="mod") for m in range(1, MOD_COUNT + 1)]
        widgets += [CountInput(id=f"l{i}-units", what="units", max_length=3, classes="units"),
                    MoneyInput(id=f"l{i}-fee", what="fee", classes="fee"),
                    FormInput(id=f"l{i}-ptr", restrict=r"[0-9, ]*", max_length=11, classes="ptr")]
        return widgets

    async def _grow_lines(self, upto: int) -> None:
        """Mount more service lines (a block at a time, up to LINE_COUNT); focus waits for them."""
        last = min(LINE_COUNT, max(upto, self._lines + LINE_BLOCK))
        codes_: list[ProcedureLookup] = []
        widgets: list = []
        for i in range(self._lines + 1, last + 1):
            widgets += self._line_widgets(i, codes_)
        if widgets:
            await self.query_one("#line-grid").mount(*widgets)
            await self.query_one("#ce-form").mount(*(c.match_list for c in codes_), before=self.query_one("#msg-row"))
        self._lines = last
        if self._pending_focus:
            fid, self._pending_focus = self._pending_focus, None
            if self._mounted(fid):
                self.set_focus(self._input(fid))
            self.billing.release_keys()

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
            self.billing.release_keys()
        self._mount_table()

    def on_screen_resume(self) -> None:
        if self.loaded and self._posting_date != self.billing.posting_date:
            # The day was closed on F4 (or by another clerk): follow the new open day.
            self._follow_posting_date()
            return
        if self._batch_note is not None and self.open_batch is None and self.loaded:
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
        if fid.startswith("dx-"):
            return self._rest_ready
        where = line_part(fid)
        return where is None or (self._rest_ready and where[0] <= self._lines)

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

    def _field_ids(self) -> tuple[str, ...]:
        """The fields on screen, in Tab order (the service lines mounted so far)."""
        return FIELD_IDS[: 5 + DX_COUNT + (MOD_COUNT + 4) * self._lines]

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
        app = self.billing
        provs, pays, sched = lookups.providers(), lookups.payers(), lookups.procedures()
        batch = lookups.open_charge_batch(app.operator, app.posting_date)
        rows = lookups.batch_encounters(batch.id) if batch else []
        self.app.call_from_thread(self._loaded, provs, pays, sched, batch, rows)

    def _loaded(self, provs: list[ProviderRow], pays: list[PayerRow], sched: dict[str, ProcedureRow],
                batch: OpenBatch | None, rows: list[BatchEncounter]) -> None:
        self.providers, self.payers = provs, pays
        self.schedule.clear()
        self.schedule.update(sched)
        self.loaded = True
        self._posting_date = self.billing.posting_date
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
            if self._table is not None and self.app.focused is self._table:
                self.open_encounter()  # Enter on the encounter list: that encounter's detail
            elif self._enter():
                self.billing.hold_keys()  # released by _resume_enter
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
        if step > 0 and focused is not None and focused.id == f"l{self._lines}-ptr" and self._lines < LINE_COUNT:
            self._focus(f"l{self._lines + 1}-code")  # past the last line on screen: one more block
        elif step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def _focus(self, fid: str) -> None:
        """Move focus now (not after the queued keys), so typed-ahead keys land in the new field."""
        if not self._mounted(fid):  # the first few ms, or a line not mounted yet: hold keys until it exists
            where = line_part(fid)
            if self._rest_ready and where is None:
                return
            if self._pending_focus is None:
                self.billing.hold_keys()
            self._pending_focus = fid
            if self._rest_ready and where is not None and where[0] <= LINE_COUNT:
                self.call_later(self._grow_lines, where[0])
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
            self.billing.release_keys()

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
        sticky = fid == "patient" and self.patient is not None and all(
            self._val(f) and f not in self.errors for f in STICKY) and bool(self.previous)
        return next_field(fid, self._val, self._line_complete, sticky_complete=sticky)

    def _line_complete(self, i: int) -> bool:
        """A line whose code is in the fee schedule and whose units, fee and pointer are filled and fine."""
        if self._val(f"l{i}-code").upper() not in self.schedule:
            return False
        parts = ("units", "fee", "ptr")
        return all(self._val(f"l{i}-{p}") for p in parts) and not any(
            self._line_problem(i, p) for p in parts + tuple(f"m{m}" for m in range(1, MOD_COUNT + 1)))

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
        where = line_part(fid)
        if where:
            return self._line_problem(*where)
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
            if icd9.looks_like_icd9(value):
                return self._check_icd9(n, value, quiet)
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

    def _check_icd9(self, n: int, value: str, quiet: bool) -> str | None:
        """An ICD-9-CM code (250.00): the CMS GEMs' ICD-10-CM choices; Enter again takes a sole choice."""
        slot = self.query_one(f"#dxd-{n}", Slot)
        if not icd9.icd9_ready():
            slot.update(Text("loading the ICD-9-CM crosswalk…"))
            self._warm_icd9()
            return None if quiet else "loading the ICD-9-CM crosswalk… (a moment, then Enter again)"
        hit = icd9.crosswalk(value)
        if hit is None:
            slot.update("")
            return None if quiet else f"'{value}' is neither an ICD-9-CM code nor shaped like ICD-10-CM (e.g. E11.9)"
        choices = [c if len(c) <= 3 else f"{c[:3]}.{c[3:]}" for c in hit.choices]
        if not choices:
            return None if quiet else f"ICD-9-CM {hit.code} has no ICD-10-CM code in the GEMs ({hit.description})"
        if quiet:
            slot.update(Text(f"ICD-9 {hit.code} → {', '.join(choices)}"))
            return None
        if len(choices) == 1 and self._icd9_offer.get(n) == value:
            self._icd9_offer.pop(n, None)
            self._set(f"dx-{n}", choices[0])
            return self._check_dx(n)
        if len(choices) == 1:
            self._icd9_offer[n] = value
            # What to do comes first: the status line is 80 columns and the description is long.
            return f"ICD-9-CM {hit.code} → ICD-10-CM {choices[0]}: Enter takes it ({hit.description})"
        return f"ICD-9-CM {hit.code} → ICD-10-CM {' or '.join(choices[:6])}: type one ({hit.description})"

    @work(thread=True, exclusive=True, group="icd9-warm", exit_on_error=False)
    def _warm_icd9(self) -> None:
        icd9.warm_icd9()  # the crosswalk loads on first use only: never on the start-up path
        self.billing.call_from_thread(self._icd9_ready)

    def _icd9_ready(self) -> None:
        for n in range(1, DX_COUNT + 1):
            if icd9.looks_like_icd9(self._val(f"dx-{n}")):
                self._check_dx(n, quiet=True)

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
            if not value:
                return "units must be at least 1"
            try:
                units_and_fee(value, "")
            except ValueError as exc:
                return str(exc)
            return None
        if part == "fee":
            try:
                units, amount = units_and_fee(self._val(f"l{i}-units"), value)
            except ValueError as exc:
                return str(exc) if str(exc).startswith("fee") else None  # a bad units is said at units
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
        total = sum(self._line_amount(i) for i in range(1, self._lines + 1))
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
        if self.open_batch is None:
            self._msg("Not saved: no open charge batch (F8 opens one)", error=True)
            self._ask_batch()
            return
        form = self._build()
        self.saving = True
        self._msg("Saving…")
        self._post(form)

    def _build(self) -> EncounterForm:
        filled = [n for n in range(1, DX_COUNT + 1) if self._val(f"dx-{n}")]
        diagnoses = [self._val(f"dx-{n}") for n in filled]
        lines, where = [], []
        for i in range(1, self._lines + 1):
            code = self._val(f"l{i}-code").upper()
            if not code:
                continue
            units, amount = units_and_fee(self._val(f"l{i}-units"), self._val(f"l{i}-fee"))  # checked above
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
            patient_id=self.patient.id, provider_id=provider.id, payer_id=None if payer is False or payer is True else payer,
            dos=self._val("dos"), pos=self._val("pos"), diagnoses=diagnoses, lines=lines,
            batch_id=self.open_batch.id if self.open_batch else None, line_fields=where,
            posting_date=self.billing.posting_date, filled_dx=filled,
        )

    @work(thread=True, exclusive=True, group="charges-save", exit_on_error=False)
    def _post(self, form: EncounterForm) -> None:
        # ``saving`` is cleared on the UI thread only (by _saved, _refused or _repeat_answer), after
        # the form has been cleared: cleared here, a second Ctrl+S could post the same form again.
        app = self.billing
        if form.batch_id and not form.confirmed_repeat and repeats(form, batch_ops.encounter_keys(form.batch_id)):
            app.call_from_thread(self._ask_repeat, form)
            return
        try:
            posted = operations.post_encounter(
                patient_id=form.patient_id, provider_id=form.provider_id, dos=form.dos, diagnoses=form.diagnoses,
                lines=form.lines, pos=form.pos, payer_id=form.payer_id, batch_id=form.batch_id,
                posting_date=form.posting_date, operator=app.operator,
            )
        except BillingError as exc:
            app.call_from_thread(self._refused, exc, form)
            return
        batch = lookups.batch_figures(form.batch_id) if form.batch_id else None
        rows = lookups.batch_encounters(form.batch_id) if form.batch_id else []
        app.call_from_thread(self._saved, posted, batch, rows)

    def _ask_repeat(self, form: EncounterForm) -> None:
        """The same patient, DOS and codes are already in the batch: a re-keyed superbill? Ask first."""
        codes_ = ", ".join(form.key.codes)
        where = self.focused

        def answer(yes: bool | None) -> None:
            if yes:
                form.confirmed_repeat = True
                self._msg("Saving…")
                self._post(form)
                return
            self.saving = False
            self._msg("Not saved: that encounter is already in the batch", error=True)
            if where is not None and where.is_attached:
                self.set_focus(where)

        self.app.push_screen(ConfirmDialog(
            f"This batch already has an encounter for this patient on {form.dos} with {codes_}. "
            "Post this one as well?"), callback=answer)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A save that failed outside the store's refusals still frees the form (the app shows why).
        if event.worker.group == "charges-save" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self.saving = False

    def _refused(self, exc: BillingError, form: EncounterForm) -> None:
        self.saving = False
        fid = form_field_for(exc.field, form.filled_dx, form.line_fields)
        if fid:
            self._error(fid, exc.message)
            self._input(fid).focus()
        self._msg(f"Not saved: {exc.message}", error=True)

    def _saved(self, posted: operations.PostedEncounter, batch: OpenBatch | None, rows: list[BatchEncounter]) -> None:
        self.saving = False
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
        for i in range(1, self._lines + 1):
            self._show_line_desc(i)
        self._update_total()

    def unsaved_work(self) -> str | None:
        """For Ctrl+Q: the encounter typed and not saved, if any."""
        return "the encounter typed on charge entry (F2)" if self._typed() else None

    def _typed(self) -> bool:
        return any(self._val(fid) for fid in self._field_ids() if fid not in STICKY)

    def action_clear(self) -> None:
        if not self._typed():
            self._reset_form(keep_sticky=True)
            return

        where = self.focused

        def answer(yes: bool | None) -> None:
            if yes:
                self._reset_form(keep_sticky=True)
                self._msg("Form cleared")
                self.query_one("#patient").focus()
            elif where is not None and where.is_attached:
                self.set_focus(where)  # "no": back where the clerk was

        self.app.push_screen(ConfirmDialog("Clear this encounter? What was typed is lost."), callback=answer)

    def action_ditto(self) -> None:
        """F6: copy the previous encounter's value of the focused field."""
        focused = self.focused
        fid = focused.id if isinstance(focused, Input) else None
        if not isinstance(focused, Input) or not fid or fid not in self.previous:
            self._msg("F6: nothing to copy here (save an encounter first)")
            return
        if fid == "patient" and self.previous_patient is not None:
            self._take_patient(self.previous_patient)
            return
        self._set(fid, self.previous[fid])
        if fid.endswith("-code"):  # set without its Changed event: fill the line's defaults now
            self._code_changed(int(fid[1:].split("-")[0]))
            self._update_total()
        if isinstance(focused, LookupInput):
            focused.close_list()
        self._check(fid)
