"""Claims (F12): the queues a billing officer works every day, and the claim actions.

Queues (keys 1-6): ready to send, held by the scrubber (with its reasons), sent or built and
waiting for the acknowledgement, rejected, accepted and unpaid past N days (the follow-up list;
D sets N), denied. The highlighted claim's reasons and status show under the list.

Keys (list focused): S scrub (claims for what is posted and unbilled; held ones again), B build
the 837P files of every ready claim, P print CMS-1500 forms (the highlighted claim, or every
ready claim of a paper payer), M mark the highlighted claim's file sent, C correct (a new
claim: frequency 7 once the payer has it), V void (frequency 8 once the payer has it), J jump to
where a held claim is fixed (the account screen for the patient, master data for the payer,
the provider, the practice or a fee), Enter the claim's lines and history, F5 reload.

It sits on ``store/claims.py`` (the records and the actions) and ``store/claim_views.py`` (what
this screen reads); every store call runs in a thread worker.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from ..money import format_cents
from ..store import claim_views as views
from ..store import claims as cl
from ..store.clock import today
from ..store.errors import BillingError
from ..text import inert
from ..widgets.app_header import AppHeader
from ..widgets.dialogs import ConfirmDialog
from ..widgets.key_bar import KeyBar
from ..widgets.ledger_view import LedgerView
from .account_dialogs import Field, FormDialog, TextDialog
from .base import BillingScreen

__all__ = ["ClaimList", "ClaimsScreen", "claims_folder", "detail_text"]

COLUMNS = (("Claim", 11, False), ("Account", 9, False), ("Patient", 17, False), ("Payer", 8, False),
           ("DOS", 11, False), ("Total", 10, True), ("Days", 5, True), ("Status", 9, False))
#: What a claim in a status waits for, when no reason was recorded with it.
WAITING = {"ready": "waiting for a batch (B) or a printout (P)",
           "batched": "in a file built for sending: send it, then M marks it sent",
           "sent": "waiting for the acknowledgement (tui-billing import ack FILE)",
           "accepted": "accepted and not paid yet"}
FOLLOW_UP_DAYS = 30  # accepted and unpaid this long: time to call the payer
#: Scrubber "fix at" -> the master-data form that fixes it (the rest are fixed on the account).
MASTER_FORMS = {"payer": "payer", "provider": "provider", "practice": "practice", "fee schedule": "fee"}


#: Longest path a folder or file field takes (Linux's PATH_MAX): a deep share path is not cut short.
PATH_MAX = 4096


def private_folder(folder: Path, field: str) -> None:
    """Make ``folder`` (0700: claim files are PHI) or refuse beside ``field`` in words, never a traceback."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise BillingError(f"a file, not a folder: {folder}", field) from None
    except OSError as exc:
        raise BillingError(f"cannot make the folder {folder}: {exc.strerror}", field) from None


def claims_folder(db_path: Path | None) -> Path:
    """Where the screen writes claim files unless told otherwise: ``claims/`` beside the books; for books on
    a PostgreSQL server (no file to put it beside; the URL held as a Path would make a folder named
    ``postgresql:``) ``<data folder>/<database>.claims``, where the server demo keeps its sample files."""
    from ..store.db import database, on_server, server_files_stem

    if on_server():
        stem = server_files_stem(str(database.database))
        return stem.with_name(f"{stem.name}.claims")
    return (Path(db_path).resolve().parent if db_path else Path.cwd()) / "claims"


def detail_text(d: views.ClaimDetail) -> str:
    """A claim's lines and every status it has had, for the detail view."""
    kind = {"1": "original", "7": "replacement", "8": "void"}.get(d.frequency, d.frequency)
    out = [f"{d.account}  {d.patient}  payer {d.payer}  DOS {d.dos}  encounter {d.encounter_id}",
           f"{kind} claim, total {format_cents(d.total)}"
           + (f", replaces {d.replaces}" if d.replaces else "")
           + (f", payer's claim number {d.payer_claim_number}" if d.payer_claim_number else ""),
           "", f"{'line':<5}{'code':<16}{'charge':>10}  control number (REF*6R)"]
    for n, code, mods, amount, ctl in d.lines:
        shown = code + ("-" + mods.replace(",", "-") if mods else "")
        out.append(f"{n:<5}{shown:<16}{format_cents(amount):>10}  {ctl}")
    out += ["", f"{'on':<11}{'status':<13}{'by':<10}{'file':<12}reason"]
    for on_date, status, reason, who, file in d.events:
        out.append(f"{on_date:<11}{status:<13}{who[:9]:<10}{file:<12}{reason}")
    return "\n".join(out)


class ClaimList(LedgerView):
    """The queue's claims; says when the highlighted one changes (the reasons panel follows it)."""

    class Moved(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def _follow(self) -> None:
        super()._follow()
        self.post_message(self.Moved(self.cursor))

    def set_rows(self, rows: Any, keys: Any, *, cursor: int | None = None) -> None:
        super().set_rows(rows, keys, cursor=cursor)
        self.post_message(self.Moved(self.cursor))


class ClaimsScreen(BillingScreen[None]):
    """The claim queues and what a billing officer does with a claim."""

    DEFAULT_CSS = """
    ClaimsScreen #claims-queues { height: 1; background: $panel; }
    ClaimsScreen #claims-table { height: 1fr; }
    ClaimsScreen #claims-why { height: 3; border-top: solid $accent; }
    ClaimsScreen #claims-note { height: 1; color: $text-muted; }
    """

    BINDINGS = [
        *(Binding(q.key, f"queue('{q.key}')", q.label, id=f"claims.queue{q.key}", show=False) for q in views.QUEUES),
        Binding("s", "scrub", "Scrub", id="claims.scrub"),
        Binding("b", "build", "Build", id="claims.build"),
        Binding("p", "print", "Print", id="claims.print"),
        Binding("m", "mark_sent", "Sent", id="claims.sent"),
        Binding("c", "correct", "Correct", id="claims.correct"),
        Binding("v", "void", "Void", id="claims.void"),
        Binding("j", "jump", "Fix", id="claims.jump"),
        Binding("d", "days", "Days", id="claims.days", show=False),
        Binding("f5", "reload", "Reload", id="claims.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue = "1"
        self.follow_up_days = FOLLOW_UP_DAYS
        self.rows: list[cl.QueueRow] = []
        self.counts: dict[str, int] = {}
        self.loads = 0  # queue readings shown (tests wait on it)
        self._holding = False  # keys are held while a queue is read (see action_reload)

    def compose(self) -> ComposeResult:
        yield AppHeader("Claims (F12)")
        yield Static("", id="claims-queues", markup=False)
        yield ClaimList(COLUMNS, id="claims-table")
        yield Static("", id="claims-why", markup=False)
        yield Static("", id="claims-note", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Claims (F12)"
        self.query_one(ClaimList).focus()
        self._status("1-6 queues · Enter a claim's detail · D follow-up days · F5 reload · F1 all keys")
        self.action_reload()

    def on_screen_resume(self) -> None:
        if self.loads:  # back from the account screen or master data: what was fixed shows
            self.action_reload()

    def _status(self, text: str) -> None:
        self.query_one("#claims-note", Static).update(Text(inert(text)))

    # ------------------------------------------------------------------ reading

    def action_reload(self) -> None:
        # Keys typed ahead (4 then J) wait for the list they act on: J must take a claim of queue 4,
        # not the one highlighted before it was read (the app's type-ahead hold; it lets go after 2 s).
        if not self._holding:
            self._holding = True
            self.billing.hold_keys()
        self._read(self.queue, self.follow_up_days)

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self.billing.release_keys()

    def action_queue(self, key: str) -> None:
        self.queue = key
        self.action_reload()

    @work(thread=True, exclusive=True, group="claims-read", exit_on_error=False)
    def _read(self, key: str, days: int) -> None:
        try:
            counts = views.queue_counts(days)
            rows = views.queue_rows(key, days)
        except BaseException:
            self.app.call_from_thread(self._release)  # the failure is shown by the app; the keys go on
            raise
        self.app.call_from_thread(self._show, key, days, counts, rows)

    def _show(self, key: str, days: int, counts: dict[str, int], rows: list[cl.QueueRow]) -> None:
        if key != self.queue or days != self.follow_up_days:
            return  # the clerk moved on while it read: the newer read releases the keys
        self._release()
        self.counts, self.rows = counts, rows
        self.loads += 1
        line = Text(no_wrap=True, overflow="crop")
        for q in views.QUEUES:  # one space between: six queues of three-digit counts fit 80 columns
            label = f"{q.key} {q.label}{f'>{days}d' if q.follow_up else ''} {counts.get(q.key, 0)}"
            if q.key != "1":
                line.append(" ")
            line.append(label, style="reverse bold" if q.key == key else "")
        self.query_one("#claims-queues", Static).update(line)
        table = self.query_one(ClaimList)
        table.set_rows([(r.claim_id, r.account, r.patient, r.payer, r.dos, format_cents(r.total), str(r.age),
                         r.status) for r in rows], [str(r.id) for r in rows], cursor=0)
        if not rows:
            self._why(None)

    @on(ClaimList.Moved)
    def _moved(self, event: ClaimList.Moved) -> None:
        self._why(self.rows[event.index] if 0 <= event.index < len(self.rows) else None)

    def _why(self, row: cl.QueueRow | None) -> None:
        if row is None:
            label = next(q.label for q in views.QUEUES if q.key == self.queue)
            text = f"No claims in {label}." + (" S scrubs what is posted and unbilled." if self.queue == "1" else "")
        else:
            kind = {"7": " (replacement)", "8": " (void)"}.get(row.frequency, "")
            why = row.reasons or WAITING.get(row.status, "no reason recorded")
            if row.status == "accepted" and self.queue == "5":
                why = f"accepted {row.age} days ago and still unpaid: call {row.payer}. {row.reasons}".rstrip()
            text = f"{row.claim_id}{kind} {row.status} since {row.since}: {why}"
            if row.status == "held":
                text += "  [J: go fix it, then S]"
        self.query_one("#claims-why", Static).update(Text(inert(text)))

    def _current(self) -> cl.QueueRow | None:
        table = self.query_one(ClaimList)
        if not self.rows or not 0 <= table.cursor < len(self.rows):
            self._status("no claim highlighted")
            return None
        return self.rows[table.cursor]

    @on(LedgerView.Selected, "#claims-table")
    def _selected(self, event: LedgerView.Selected) -> None:
        self._detail(int(event.key))

    @work(thread=True, group="claims-detail", exit_on_error=False)
    def _detail(self, claim_row: int) -> None:
        d = views.claim_detail(claim_row)
        self.app.call_from_thread(self.app.push_screen, TextDialog(f"Claim {d.claim_id}", detail_text(d)))

    # ------------------------------------------------------------------ actions

    @work(thread=True, group="claims-write", exit_on_error=False)
    def _act(self, fn: Any, done: Any) -> None:
        """Run a store action; ``done(result)`` says what it did. A refusal is shown, not raised."""
        try:
            result = fn()
        except BillingError as exc:
            self.app.call_from_thread(self._status, exc.message)
            return
        self.app.call_from_thread(self._status, done(result))
        self.app.call_from_thread(self.action_reload)

    def _operator(self) -> str | None:
        return self.billing.operator or None

    def action_scrub(self) -> None:
        self._status("scrubbing...")

        def done(r: cl.ScrubResult) -> str:
            return (f"{len(r.created)} new claim(s); {len(r.ready)} ready, {len(r.held)} held"
                    + (" (2 shows why)" if r.held else ""))

        self._act(lambda: cl.scrub_claims(operator=self._operator()), done)

    def action_build(self) -> None:
        folder = claims_folder(self.billing.db_path)

        def build(values: dict[str, str], _o: bool) -> cl.BatchResult:
            where = Path(values["folder"].strip() or folder).expanduser()
            private_folder(where, "folder")
            return cl.build_batch(output_dir=where, operator=self._operator())

        self.app.push_screen(FormDialog("Build the 837P files of every ready claim (one per receiver)",
                                        [Field("folder", "Into folder", 50, str(folder), max_length=PATH_MAX)], build,
                                        note="Then send each file and mark it sent (M)."), self._built)

    def _built(self, result: Any) -> None:
        if not isinstance(result, cl.BatchResult):
            return
        if not result.files and not result.held:
            self._status("no ready claims to build")
        else:
            claims = sum(len(f.claims) for f in result.files)
            where = Path(result.files[0].path).parent if result.files else ""
            held = f"; {len(result.held)} held at build" if result.held else ""
            first = Path(result.files[0].path).name if len(result.files) == 1 else f"{len(result.files)} files"
            self._status(f"built {first}: {claims} claim(s), {format_cents(sum(f.total for f in result.files))}"
                         f" in {where}{held}. Send, then M")
        self.action_reload()

    def action_print(self) -> None:
        cursor = self.query_one(ClaimList).cursor
        row = self.rows[cursor] if 0 <= cursor < len(self.rows) else None  # a claim not ready prints as a copy
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = claims_folder(self.billing.db_path)
        fields = [Field("claim", "Claim", 12, row.claim_id if row else "", "blank: all paper"),
                  Field("format", "text or pdf", 6, "pdf"),
                  Field("file", "To file", 50, str(folder / f"cms1500-{stamp}"), "", max_length=PATH_MAX)]

        def printed(values: dict[str, str], _o: bool) -> Any:
            fmt = values["format"].strip().lower() or "pdf"
            if fmt not in ("text", "pdf"):
                raise BillingError("text (a line printer) or pdf", "format")
            path = Path(values["file"].strip() or folder / f"cms1500-{stamp}").expanduser()
            path = path.with_suffix(".pdf" if fmt == "pdf" else ".txt")
            private_folder(path.parent, "file")
            from ..store import claim_paper as paper  # the CMS-1500 printer's store side, when first used
            claim = values["claim"].strip().upper()
            result = paper.print_claims([claim] if claim else [], fmt=fmt, output=path, operator=self._operator())
            return f"printed {result.forms} form(s) of {len(result.claims)} claim(s) to {path}"

        self.app.push_screen(FormDialog("Print CMS-1500 forms (red forms: 10 cpi, 6 lpi)", fields, printed),
                             self._done_dialog)

    def _done_dialog(self, result: Any) -> None:
        if isinstance(result, str):
            self._status(result)
        self.action_reload()

    def action_mark_sent(self) -> None:
        row = self._current()
        if row is not None:
            self._ask_sent(row.id, row.claim_id)

    @work(thread=True, group="claims-read", exit_on_error=False)
    def _ask_sent(self, claim_row: int, claim_id: str) -> None:
        found = views.claim_file(claim_row)
        if found is None:
            self.app.call_from_thread(self._status, f"{claim_id} is in no file waiting to be sent (B builds one)")
            return
        file_id, kind, path = found

        def answer(yes: bool | None) -> None:
            if yes:
                self._act(lambda: cl.mark_sent(file_id, operator=self._operator()),
                          lambda n: f"file {file_id}: {n} claim(s) marked sent")

        self.app.call_from_thread(self.app.push_screen, ConfirmDialog(
            f"Mark {kind} file {file_id} ({Path(path).name}) sent, with every claim in it?"), answer)

    def action_correct(self) -> None:
        row = self._current()
        if row is None:
            return
        fields = [Field("reason", "Why", 50), Field("payer_claim_number", "Payer claim no.", 20, "",
                                                    "blank: the one on file")]

        def correct(values: dict[str, str], _o: bool) -> str:
            new, verdict = cl.correct(row.id, reason=values["reason"], payer_claim_number=values["payer_claim_number"],
                                      operator=self._operator())
            return f"{row.claim_id} replaced by {cl.claim_number(new)} ({verdict})"

        self.app.push_screen(FormDialog(f"Correct {row.claim_id}: a new claim with the lines owed now", fields,
                                        correct), self._done_dialog)

    def action_void(self) -> None:
        row = self._current()
        if row is None:
            return
        fields = [Field("reason", "Why", 50), Field("payer_claim_number", "Payer claim no.", 20, "",
                                                    "blank: the one on file")]

        def void(values: dict[str, str], _o: bool) -> str:
            if not values["reason"].strip():
                raise BillingError("say why the claim is voided", "reason")
            new = cl.void(row.id, reason=values["reason"], payer_claim_number=values["payer_claim_number"],
                          operator=self._operator())
            return f"{row.claim_id} voided" + (f" by {cl.claim_number(new)} (send it)" if new else "")

        self.app.push_screen(FormDialog(f"Void {row.claim_id}", fields, void), self._done_dialog)

    def action_days(self) -> None:
        def days(values: dict[str, str], _o: bool) -> int:
            text = values["days"].strip()
            if not text.isdigit() or not 1 <= int(text) <= 999:
                raise BillingError("a number of days, 1 to 999", "days")
            return int(text)

        def set_days(result: Any) -> None:
            if isinstance(result, int):
                self.follow_up_days = result
                self.queue = "5"
                self.action_reload()

        self.app.push_screen(FormDialog("Follow-up: accepted and unpaid for more than", [
            Field("days", "Days", 5, str(self.follow_up_days))], days), set_days)

    # ------------------------------------------------------------------ jump to the fix

    def action_jump(self) -> None:
        row = self._current()
        if row is None:
            return
        self._status(f"scrubbing {row.claim_id} to find where it is fixed...")
        self._find_fix(row)

    @work(thread=True, group="claims-read", exit_on_error=False)
    def _find_fix(self, row: cl.QueueRow) -> None:
        found = views.findings(row.id, today().isoformat())
        d = views.claim_detail(row.id)
        self.app.call_from_thread(self._jump_to, row, d, found)

    def _jump_to(self, row: cl.QueueRow, d: views.ClaimDetail, found: list[views.Finding]) -> None:
        errors = [f for f in found if not f.warning]  # a warning alone holds nothing
        if not errors:
            if row.status in ("rejected", "denied"):
                # the payer's reason is about the patient or the coverage (a member id, eligibility)
                # far more often than anything else: the account, where the coverage is corrected
                why = f"{d.claim_id} {row.status}: {row.reasons} (fix it here, then F12 and C: a corrected claim)"
                self._status(why)
                self.app.switch_mode("accounts")
                self.app.call_after_refresh(self._open_account, d.patient_id, why)
            elif row.status == "held":
                self._status(f"{d.claim_id} passes the scrubber now: S moves it to Ready")
            else:
                self._status(f"{d.claim_id} passes the scrubber: nothing to fix" +
                             (" (C makes a new claim for the next batch)" if row.status == "file_rejected" else ""))
            return
        first = errors[0]
        why = f"{d.claim_id} {first.field}: {first.message} (then F12, S)"
        self._status(why)
        if first.fix_at in MASTER_FORMS:
            from .master_data import MasterMenu

            code = {"payer": d.payer, "provider": d.provider}.get(first.fix_at, "")
            self.app.push_screen(MasterMenu(start=(MASTER_FORMS[first.fix_at], code)))
        elif first.fix_at in ("account", "charge"):
            self.app.switch_mode("accounts")
            self.app.call_after_refresh(self._open_account, d.patient_id, why)
        # "claim": nothing to fix elsewhere: correct (C) or void (V) it here

    def _open_account(self, patient_id: int, why: str) -> None:
        screen = self.app.screen
        show = getattr(screen, "show_patient", None)
        if callable(show):
            show(patient_id, why)
