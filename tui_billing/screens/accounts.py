"""Accounts (F7): find a patient, read the account, register and edit.

Type in *Find* an account (leading zeros optional), ``last,first`` (accents and punctuation do not
matter), a birth date as written (01/02/1980, 1980-01-02, 01021980) or a phone number; Up/Down
picks among every match, Enter opens it. The account shows the demographics, the coverages in
priority order (ended ones after), who owes what (each payer, the patient, credit on account),
and the ledger of every charge line: what was applied and adjusted, what it still owes and to
whom, with a running balance. Enter on a line shows the encounter's whole history
(``encounter_detail``, the view charge entry's encounter list opens too).

Ctrl+N registers a new patient from anywhere on the screen.
With the ledger focused: N new patient, E edit, I add insurance, X end a coverage, O make the
secondary primary, T add a note, A show the record as of a date, H the record's history,
S the statement, R the patient's receipts, P take a payment (F3), C correct a coverage, M master data (payers, providers,
practice, fees, adjustment reasons).
Every store call runs in a thread worker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from ..money import format_cents
from ..store import account_queries as aq
from ..store import accounts as acc
from ..store.access import record_read
from ..store.clock import today
from ..store.errors import BillingError
from ..text import inert
from ..widgets.app_header import AppHeader
from ..widgets.form_input import FormInput
from ..widgets.key_bar import KeyBar
from ..widgets.ledger_view import LedgerView
from ..widgets.lookup import LookupInput
from ..widgets.patient_picker import PatientPicker
from .account_dialogs import Field, FormDialog, TextDialog
from .base import BillingScreen
from .encounter_detail import EncounterDetail

__all__ = ["AccountScreen", "AccountData", "load_account"]

COLUMNS = (("DOS", 11, False), ("Enc", 8, True), ("Code", 6, False), ("Charged", 9, True), ("Paid", 9, True),
           ("Adjusted", 9, True), ("Balance", 9, True), ("Owed by", 8, False), ("Running", 9, True))


def money(cents: int) -> str:
    return format_cents(cents)


class AccountData:
    """Everything the screen shows for one patient, read in one worker call."""

    def __init__(self, patient_id: int, as_of: str | None) -> None:
        self.patient_id = patient_id
        self.as_of = as_of
        self.view = aq.patient_view(patient_id, as_of)
        current = aq.patient_view(patient_id) if as_of else self.view
        if current is None:  # patients are never removed: an id from the list exists
            raise BillingError(f"patient {patient_id} is not in these books", "patient")
        self.current: aq.PatientView = current
        self.coverages = aq.coverages(patient_id, as_of)
        self.ledger = aq.account_ledger(patient_id)
        self.notes = aq.notes(patient_id)
        payers = aq.payer_list()
        self.payer_codes = [p["code"] for p in payers][:14]
        self.payer_ids = {p["id"]: p["code"] for p in payers}


def load_account(patient_id: int, as_of: str | None = None) -> AccountData:
    """The account, once its reading is in the audit trail (HIPAA: who looked at which account, when)."""
    record_read("read_account", {"patient_id": patient_id, "as_of": as_of})
    return AccountData(patient_id, as_of)


def _patient_in(values: dict[str, str]) -> acc.PatientIn:
    return acc.PatientIn(**{k: v for k, v in values.items()})


def _coverage_in(values: dict[str, str]) -> acc.CoverageDetails:
    code = values.pop("payer", "").strip().upper()
    payer = next((p for p in aq.payer_list() if p["code"] == code), None)
    if payer is None:
        raise BillingError(f"no payer with code {code or '(blank)'}: type its code, e.g. "
                           + ", ".join(p["code"] for p in aq.payer_list()[:6]), "payer")
    prio = values.pop("priority", "1").strip() or "1"
    if not prio.isdigit():
        raise BillingError("priority must be 1, 2 or 3", "priority")
    yes = lambda s: (s or "y").strip().lower() not in ("n", "no", "0")  # noqa: E731
    assignment = yes(values.pop("assignment", "y"))
    signature = yes(values.pop("signature_on_file", "y"))
    effective = values.pop("effective", "").strip() or None  # blank: from today
    return acc.CoverageDetails(payer_id=payer["id"], priority=int(prio), assignment=assignment,
                               signature_on_file=signature, effective=effective, **values)


PATIENT_FIELDS = (
    ("last_name", "Last name", 30), ("first_name", "First name", 30), ("middle_name", "Middle", 20),
    ("dob", "Birth date", 12), ("sex", "Sex F/M/U/X", 3), ("address", "Address", 40),
    ("address2", "Address 2", 40), ("city", "City", 30), ("state", "State", 4), ("zip", "ZIP / ZIP+4", 11),
    ("phone", "Phone", 15), ("guarantor_relationship", "Guarantor", 8), ("guarantor_last", "Guar. last", 30),
    ("guarantor_first", "Guar. first", 30), ("guarantor_address", "Guar. address", 40),
    ("guarantor_city", "Guar. city", 30), ("guarantor_state", "Guar. state", 4), ("guarantor_zip", "Guar. ZIP", 11),
    ("guarantor_phone", "Guar. phone", 15),
)
COVERAGE_FIELDS = (
    ("payer", "Payer code", 10), ("member_id", "Member id", 20), ("group_no", "Group", 20),
    ("priority", "Priority 1-3", 3), ("relationship", "Patient is", 8), ("subscriber_last", "Subscriber last", 30),
    ("subscriber_first", "Subscriber first", 30), ("subscriber_dob", "Subscriber DOB", 12),
    ("subscriber_sex", "Subscriber sex", 3), ("subscriber_address", "Subscr. address", 40),
    ("subscriber_city", "Subscr. city", 30), ("subscriber_state", "Subscr. state", 4),
    ("subscriber_zip", "Subscr. ZIP", 11), ("effective", "Effective", 15), ("end_date", "End date", 15),
    ("assignment", "Assign benefits", 3), ("signature_on_file", "Signature file", 3),
)
HINTS = {"dob": "01/02/1980", "sex": "F", "zip": "12345-6789", "relationship": "self/spouse/child/other",
         "guarantor_relationship": "self", "assignment": "Y", "signature_on_file": "Y", "priority": "1",
         "effective": "blank = today", "subscriber_dob": "01/02/1980"}


class AccountScreen(BillingScreen[None]):
    """One patient's account, found by any of the ways a caller identifies themself."""

    DEFAULT_CSS = """
    AccountScreen #acct-find-row { height: 1; }
    AccountScreen #acct-find-row Static { width: auto; }
    AccountScreen #acct-find { width: 34; }
    AccountScreen #acct-asof { width: 12; }
    AccountScreen #acct-demo { height: 3; }
    AccountScreen #acct-cov { height: 3; }
    AccountScreen #acct-owed { height: 1; background: $panel; }
    AccountScreen #acct-table { height: 1fr; }
    AccountScreen #acct-note { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("slash", "find", "Find", id="accounts.find"),
        Binding("n", "new_patient", "New", id="accounts.new", show=False),
        # From any field, the find box included: a walk-in is registered without finding anyone first.
        Binding("ctrl+n", "new_patient", "New patient", id="accounts.new_anywhere", priority=True),
        Binding("e", "edit", "Edit", id="accounts.edit"),
        Binding("i", "add_coverage", "Insurance", id="accounts.insurance"),
        Binding("c", "fix_coverage", "Fix cov", id="accounts.fix_coverage", show=False),
        Binding("x", "end_coverage", "End cov", id="accounts.end_coverage", show=False),
        Binding("o", "swap_coverages", "Swap 1/2", id="accounts.swap", show=False),
        Binding("t", "note", "Note", id="accounts.note"),
        Binding("a", "as_of", "As of", id="accounts.as_of"),
        Binding("h", "history", "History", id="accounts.history", show=False),
        Binding("s", "statement", "Statement", id="accounts.statement"),
        Binding("r", "receipts", "Receipts", id="accounts.receipts", show=False),
        Binding("p", "payment", "Pay (F3)", id="accounts.payment"),
        Binding("m", "master", "Master data", id="accounts.master", show=False),
        Binding("escape", "find", "Find", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.data: AccountData | None = None
        self.patient_id: int | None = None
        self.as_of: str | None = None
        self.loads = 0  # accounts shown (tests and the bench watch it)
        self.why: str | None = None  # what the clerk was sent here to fix (shown with the account)

    def compose(self) -> ComposeResult:
        yield AppHeader("Accounts (F7)")
        picker = PatientPicker(id="acct-find", list_id="acct-matches")
        with Horizontal(id="acct-find-row"):
            yield Static("Find ", markup=False)
            yield picker
            yield Static("  As of ", markup=False)
            yield FormInput(id="acct-asof", placeholder="today", max_length=10)
        yield picker.match_list  # floats over what follows (overlay), just under the find row
        yield Static("", id="acct-demo", markup=False)
        yield Static("", id="acct-cov", markup=False)
        yield Static("", id="acct-owed", markup=False)
        yield LedgerView(COLUMNS, id="acct-table")
        yield Static("", id="acct-note", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Accounts (F7)"
        picker = self._find()
        picker.match_list.styles.width = "100%"  # nothing of the account shows through at its right
        picker.focus()
        self._status("Find a patient: account, last,first, birth date or phone. Ctrl+N: new patient")

    def _find(self) -> PatientPicker:
        return self.query_one("#acct-find", PatientPicker)

    def _status(self, text: str) -> None:
        self.query_one("#acct-note", Static).update(Text(inert(text)))

    # ------------------------------------------------------------------ finding

    @on(LookupInput.Submitted, "#acct-find")
    def _find_enter(self, event: LookupInput.Submitted) -> None:
        event.stop()
        picker = self._find()
        if picker.pending:
            picker.on_results = self._after_results
            return
        self._no_pick(picker)

    def _after_results(self) -> None:
        picker = self._find()
        match = picker.highlighted_match()
        if match is not None:
            self._open(match.value.id)
        else:
            self._no_pick(picker)

    def _no_pick(self, picker: PatientPicker) -> None:
        n = len(picker.matches)
        if n == 1:
            self._open(picker.matches[0].value.id)
        elif n:
            self._status(f"{n}{'+' if picker.more else ''} patients match: Up/Down to one and Enter")
        elif picker.value.strip():
            self._status("no patient matches: Ctrl+N registers a new one")

    @on(LookupInput.Picked, "#acct-find")
    def _picked(self, event: LookupInput.Picked) -> None:
        event.stop()
        self._open(event.match.value.id)

    @on(FormInput.Submitted, "#acct-asof")
    def _as_of_entered(self, event: FormInput.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.as_of = None
        else:
            day = acc.clerk_date(text)
            if day is None:
                self._status("as of: type a date like 11/16/2026 (blank = now)")
                return
            self.as_of = day.isoformat()
        if self.patient_id is not None:
            self._open(self.patient_id)

    def show_patient(self, patient_id: int, why: str | None = None) -> None:
        """Open a patient's account (another screen sends the clerk here: a held claim's fix, ``why``)."""
        self.as_of = None
        self.why = why
        self._open(patient_id)

    def _open(self, patient_id: int) -> None:
        self.patient_id = patient_id
        self._find().close_list()
        self._status("opening...")
        self._load(patient_id, self.as_of)

    @work(thread=True, exclusive=True, group="account-load", exit_on_error=False)
    def _load(self, patient_id: int, as_of: str | None) -> None:
        data = load_account(patient_id, as_of)
        self.app.call_from_thread(self._show, data)

    def reload(self) -> None:
        if self.patient_id is not None:
            self._load(self.patient_id, self.as_of)

    # ------------------------------------------------------------------ showing

    def _show(self, data: AccountData) -> None:
        if data.patient_id != self.patient_id:
            return
        self.data = data
        self.loads += 1
        cur = data.current
        v = data.view
        demo = self.query_one("#acct-demo", Static)
        if v is None:
            demo.update(Text(inert(f"{cur.account}  {cur.last_name}, {cur.first_name}: not registered yet "
                                   f"on {data.as_of}")))
        else:
            addr = ", ".join(x for x in (v.address, v.address2, v.city, f"{v.state} {v.zip}".strip()) if x)
            guar = "self" if v.guarantor_relationship == "self" else (
                f"{v.guarantor_relationship} {v.guarantor_last}, {v.guarantor_first}")
            when = f"  [as of {data.as_of}: version {v.version}]" if data.as_of else (
                f"  v{v.version} {v.changed_on} {v.changed_by}" if v.version else "")
            demo.update(Text("\n".join(inert(line)[:80] for line in (
                f"{v.account}  {v.last_name}, {v.first_name} {v.middle_name}".rstrip() + f"  {v.sex}  DOB {v.dob}",
                f"{addr or '(no address)'}  {v.phone}",
                f"Guarantor: {guar}{when}",
            ))))
        lines = []
        day = data.as_of or today().isoformat()
        for c in data.coverages[:3]:
            state = "" if c.in_force(day) else f" ENDED {c.end_date}" if c.end_date and c.end_date < day else " not yet"
            who = f"{c.relationship} of {c.subscriber.split(' (')[0]}" if c.subscriber else "self"
            since = f"from {c.effective}" if c.effective else ""
            lines.append(f"{c.priority} {c.payer_code:<7} {c.member_id:<13} {c.group_no or '-':<7} {since}"
                         f"{state or (' to ' + c.end_date if c.end_date else '')}  {who}")
        if len(data.coverages) > 3:
            lines[-1] = lines[-1][:60] + f"  (+{len(data.coverages) - 2} more: H)"
        self.query_one("#acct-cov", Static).update(
            Text("\n".join(inert(x)[:80] for x in lines) if lines else "self-pay (no coverage): I adds insurance"))
        ledger = data.ledger
        owed = "  ".join(f"{party} {money(cents)}" for party, cents in ledger.by_party) or "nothing owed"
        self.query_one("#acct-owed", Static).update(Text(inert(
            f"Owed{' now' if data.as_of else ''}: {owed}  | credit {money(ledger.unapplied)}"
            f"  | balance {money(ledger.total - ledger.unapplied)}")))
        table = self.query_one("#acct-table", LedgerView)
        rows, running = [], 0
        for line in ledger.lines:
            running += line.balance
            amounts = (line.amount if not line.voided else 0, line.applied, line.adjusted, line.balance)
            rows.append((line.dos, str(line.encounter_id), line.code, *(money(c) for c in amounts),
                         "VOID" if line.voided else line.owed_by, money(running)))
        table.set_rows(rows, [str(line.charge_id) for line in ledger.lines])
        note = data.notes[0] if data.notes else None
        if self.why is not None:  # sent here to fix something: say what, until the next account
            self._status(self.why)
            self.why = None
        else:
            self._status(f"Note {note.on_date} {note.operator}: {note.text}" if note else
                         f"{len(ledger.lines)} lines. Enter on a line: its history. T adds a note.")
        if self.focused is self._find() or self.focused is None:
            table.focus()

    # ------------------------------------------------------------------ actions

    def action_find(self) -> None:
        picker = self._find()
        picker.focus()

    def _need_patient(self) -> AccountData | None:
        """The account on screen (an action works on it), or None with the clerk told to find one."""
        if self.data is None or self.patient_id is None:
            self._status("find a patient first (/)")
            return None
        return self.data

    def action_new_patient(self) -> None:
        fields = [Field(n, lbl, w, "self" if n == "guarantor_relationship" else "", HINTS.get(n, ""))
                  for n, lbl, w in PATIENT_FIELDS]
        dialog = FormDialog("Register a new patient", fields, self._register,
                            note="Checked for a patient of the same name and birth date.")
        self.app.push_screen(dialog, self._registered)

    def _register(self, values: dict[str, str], override: bool) -> int:
        return acc.register_patient(_patient_in(values), allow_duplicate=override, operator=self.billing.operator or None)

    def _registered(self, pid: Any) -> None:
        if isinstance(pid, int):
            self.as_of = None
            self._open(pid)

    def action_edit(self) -> None:
        data = self._need_patient()
        if data is None:
            return
        cur = data.current
        fields = [Field(n, lbl, w, str(cur.data.get(n, "")), HINTS.get(n, "")) for n, lbl, w in PATIENT_FIELDS]
        pid = data.patient_id  # the patient whose record the form shows
        self.app.push_screen(FormDialog(f"Edit {cur.account} (the old version is kept)", fields,
                                        lambda values, _o: acc.update_patient(pid, operator=self.billing.operator or None,
                                                                              **values)),
                             self._changed)

    def _changed(self, result: Any) -> None:
        if result is not None:
            self.reload()

    def action_add_coverage(self) -> None:
        data = self._need_patient()
        if data is None:
            return
        taken = {c.priority for c in data.coverages if c.in_force(today().isoformat())}
        prio = next((str(n) for n in (1, 2, 3) if n not in taken), "3")
        cur = data.current
        start = {"priority": prio, "relationship": "self", "assignment": "Y", "signature_on_file": "Y",
                 # a spouse or parent usually lives at the patient's address: typed over if not
                 "subscriber_address": cur.address, "subscriber_city": cur.city, "subscriber_state": cur.state,
                 "subscriber_zip": cur.zip, "subscriber_last": cur.last_name}
        fields = [Field(n, lbl, w, str(start.get(n, "")), HINTS.get(n, "")) for n, lbl, w in COVERAGE_FIELDS]
        pid = data.patient_id
        codes = "Payers: " + " ".join(data.payer_codes) if data.payer_codes else ""
        self.app.push_screen(FormDialog("Add insurance", fields,
                                        lambda values, _o: acc.add_coverage(pid, _coverage_in(dict(values)),
                                                                            operator=self.billing.operator or None),
                                        note=codes or "Subscriber fields only when the patient is not the subscriber."),
                             self._changed)

    def action_fix_coverage(self) -> None:
        """Correct the coverage in force of a priority (a mistyped member id, say): asks which first."""
        if not self._need_patient():
            return
        self.app.push_screen(FormDialog("Correct which coverage?", [Field("priority", "Priority", 3, "1")],
                                        lambda values, _o: self._pick_coverage(values["priority"])),
                             self._fix_form)

    def _pick_coverage(self, text: str) -> aq.CoverageView:
        cov = self._coverage_by_priority(text)
        if cov is None:
            raise BillingError("no coverage in force has that priority", "priority")
        return cov

    def _fix_form(self, cov: Any) -> None:
        if not isinstance(cov, aq.CoverageView):
            return
        self._coverage_form_load(cov.id)

    @work(thread=True, group="account-read", exit_on_error=False)
    def _coverage_form_load(self, coverage_id: int) -> None:
        data = aq.record_as_of("coverage", coverage_id)[0]
        self.app.call_from_thread(self._coverage_form, coverage_id, data)

    def _coverage_form(self, coverage_id: int, data: dict[str, Any] | None) -> None:
        if data is None or self.data is None:
            return
        codes = {p_id: code for p_id, code in self.data.payer_ids.items()}
        start = {**{k: str(v or "") for k, v in data.items()}, "payer": codes.get(data["payer_id"], ""),
                 "assignment": "Y" if data["assignment"] else "N",
                 "signature_on_file": "Y" if data["signature_on_file"] else "N"}
        fields = [Field(n, lbl, w, start.get(n, ""), HINTS.get(n, "")) for n, lbl, w in COVERAGE_FIELDS]

        def save(values: dict[str, str], _o: bool) -> Any:
            cov = _coverage_in(dict(values))
            changes = {f: getattr(cov, f) for f in cov.__dataclass_fields__}
            if changes["effective"] is None:
                changes["effective"] = data["effective"]
            return acc.update_coverage(coverage_id, operator=self.billing.operator or None, **changes) or True

        self.app.push_screen(FormDialog("Correct the coverage (the old version is kept)", fields, save),
                             self._changed)

    def _coverage_by_priority(self, text: str) -> aq.CoverageView | None:
        if self.data is None:
            return None
        day = self.as_of or today().isoformat()
        return next((c for c in self.data.coverages if str(c.priority) == text.strip() and c.in_force(day)), None)

    def action_end_coverage(self) -> None:
        if not self._need_patient():
            return
        fields = [Field("priority", "Priority to end", 3, "1"), Field("end_date", "Last day covered", 12, "",
                                                                      "01/31/2026")]

        def end(values: dict[str, str], _o: bool) -> Any:
            cov = self._coverage_by_priority(values["priority"])
            if cov is None:
                raise BillingError("no coverage in force has that priority", "priority")
            if not values["end_date"].strip():
                raise BillingError("type the last day the plan covered", "end_date")
            return acc.end_coverage(cov.id, values["end_date"], operator=self.billing.operator or None)

        self.app.push_screen(FormDialog("End a coverage (it stays on the account as history)", fields, end),
                             self._changed)

    def action_swap_coverages(self) -> None:
        data = self._need_patient()
        if data is None:
            return
        day = today().isoformat()
        live = [c for c in data.coverages if c.in_force(day)]
        if len(live) < 2:
            self._status("swap needs two coverages in force")
            return
        order = [live[1].id, live[0].id] + [c.id for c in live[2:]]
        pid = data.patient_id
        self._write(lambda: acc.reorder_coverages(pid, order, operator=self.billing.operator or None),
                    f"{live[1].payer_code} is now primary")

    @work(thread=True, group="account-write", exit_on_error=False)
    def _write(self, fn: Callable[[], object], done: str) -> None:
        try:
            fn()
        except BillingError as exc:
            self.app.call_from_thread(self._status, exc.message)
            return
        self.app.call_from_thread(self._status, done)
        self.app.call_from_thread(self.reload)

    def action_note(self) -> None:
        data = self._need_patient()
        if data is None:
            return
        pid = data.patient_id
        self.app.push_screen(FormDialog("Account note (dated, by you; never edited)", [Field("note", "Note", 56)],
                                        lambda values, _o: acc.add_note(pid, values["note"],
                                                                        operator=self.billing.operator or None)),
                             self._changed)

    def action_as_of(self) -> None:
        self.query_one("#acct-asof", FormInput).focus()

    def action_history(self) -> None:
        data = self._need_patient()
        if data is None:
            return
        self._history(data.patient_id)

    @work(thread=True, group="account-read", exit_on_error=False)
    def _history(self, pid: int) -> None:
        out = []
        for h in aq.history("patient", pid):
            out.append(f"version {h.version}  {h.on_date or 'before versions'}  {h.operator}")
            out.append(f"   {h.data['last_name']}, {h.data['first_name']}  {h.data['address']} {h.data['city']} "
                       f"{h.data['state']} {h.data['zip']}  {h.data['phone']}")
        out.append("")
        out.append("Coverages:")
        for c in aq.coverages(pid):
            out.append(f" {c.priority} {c.payer_code} {c.member_id} grp {c.group_no} {c.relationship} "
                       f"{c.subscriber} {c.effective}..{c.end_date} assign {'Y' if c.assignment else 'N'}"
                       f" sig {'Y' if c.signature_on_file else 'N'}")
            for h in aq.history("coverage", c.id)[1:]:
                out.append(f"    changed {h.on_date} by {h.operator}")
        out.append("")
        out.append("Notes:")
        out += [f" {n.on_date} {n.operator}: {n.text}" for n in aq.notes(pid)]
        self.app.call_from_thread(self.app.push_screen, TextDialog("History of the account", "\n".join(out)))

    def action_statement(self) -> None:
        data = self._need_patient()
        if data is None:
            return
        self._statement(data.current.account)

    @work(thread=True, group="account-read", exit_on_error=False)
    def _statement(self, account: str) -> None:
        from ..reports import queries
        from ..reports.render import render

        text = render(queries.statements(account, today().isoformat()), "simple")
        self.app.call_from_thread(self.app.push_screen, TextDialog(f"Statement {account} (print: tui-billing report "
                                                                   f"statement --patient {account})", text))

    def action_receipts(self) -> None:
        """Reprint the patient's receipts (the latest ten, newest first)."""
        data = self._need_patient()
        if data is None:
            return
        self._receipts(data.patient_id)

    @work(thread=True, group="account-read", exit_on_error=False)
    def _receipts(self, pid: int) -> None:
        from ..reports.receipt import render_receipt

        ids = aq.patient_receipts(pid)
        body = ("\f\n".join(render_receipt(rid) for rid in ids) if ids else "No receipts from this patient.")
        hint = f" (print one: tui-billing report receipt {ids[0]})" if ids else ""
        self.app.call_from_thread(self.app.push_screen, TextDialog(f"Receipts, newest first{hint}",
                                                                   body.replace("\f", "")))

    def action_payment(self) -> None:
        """F3 with a new receipt whose From is this patient (when a receipt batch is open)."""
        data = self._need_patient()
        if data is None:
            return
        account = data.current.account
        self.app.switch_mode("receipts")
        self.app.call_after_refresh(self._open_receipt, account)

    def _open_receipt(self, account: str, tries: int = 0) -> None:
        from .receipt_dialogs import NewReceiptDialog

        receipts = self.app.screen
        if not hasattr(receipts, "action_new_receipt"):
            return
        if not getattr(receipts, "batch_known", True) and tries < 100:
            # F3 just mounted: its open batch is still being looked up (a worker). Asking now would
            # offer to open a batch when one is open.
            self.app.set_timer(0.05, lambda: self._open_receipt(account, tries + 1))
            return
        receipts.action_new_receipt()

        def prefill() -> None:
            dialog = self.app.screen
            if isinstance(dialog, NewReceiptDialog):
                dialog.field("from").input.value = account  # its own lookup runs as if typed
            else:  # a receipt batch is asked for first: From is typed after it
                self.app.notify(f"After the batch: From {account}", markup=False, timeout=8)

        self.app.call_after_refresh(prefill)

    def action_master(self) -> None:
        from .master_data import MasterMenu

        self.app.push_screen(MasterMenu())

    @on(LedgerView.Selected, "#acct-table")
    def _line(self, event: LedgerView.Selected) -> None:
        if self.data is None:
            return
        charge_id = int(event.key)
        line = next((ln for ln in self.data.ledger.lines if ln.charge_id == charge_id), None)
        if line is not None:
            self.app.push_screen(EncounterDetail(line.encounter_id))
