"""The receipts queue's dialogs: new receipt, refund and void (the batch dialog is the kit's).

Each is a ``ModalScreen`` that posts through one store operation in a thread worker and shows a
refusal beside the field it names; it dismisses with a short result for the queue to show.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..store import operations as ops
from ..store import receipts_queries as q
from ..store.errors import BillingError
from ..text import inert
from ..widgets.dialogs import ConfirmDialog
from ..widgets.store_error import field_path
from .receipt_common import METHOD_HINT, ReceiptField, after_pending_keys, money, parse_date, parse_method, parse_money


@dataclass(frozen=True)
class Posted:
    """What a dialog did, for the queue's notice and cursor."""

    message: str
    receipt_id: int | None = None
    batch_id: int | None = None


class ReceiptForm(ModalScreen[Posted | None]):
    """A keyboard form: Enter/Tab next field, Shift+Tab back, Ctrl+S post, Esc leave (twice if typed)."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Post", id="save", priority=True),
        Binding("escape", "leave", "Back", id="leave"),
        # Synchronous Enter so type-ahead lands in the field Enter moved to.
        Binding("enter", "enter_key", "Next field", id="next", priority=True, show=False),
    ]
    TITLE_TEXT = ""

    def __init__(self) -> None:
        super().__init__()
        self._esc_armed = False
        self._busy = False

    def compose_title(self) -> ComposeResult:
        yield Static(self.TITLE_TEXT, classes="title", markup=False)

    def fields(self) -> list[ReceiptField]:
        return list(self.query(ReceiptField))

    def field(self, name: str) -> ReceiptField:
        return self.query_one(f"#f-{name}", ReceiptField)

    def on_mount(self) -> None:
        fields = self.fields()
        if fields:
            self.set_focus(fields[0].input)

    def status(self, text: str) -> None:
        self.query_one("#form-status", Static).update(text)

    def action_enter_key(self) -> None:
        if not isinstance(self.focused, Input):
            raise SkipAction()
        self.enter_on(self.focused)

    def enter_on(self, field: Input) -> None:
        """Enter in a field: move to the next one now, so type-ahead lands there."""
        if field.id == "i-method":  # "2" or "ch" shows as the word it was read as: "check"
            try:
                field.value = parse_method(field.value)
            except ValueError:
                pass  # said beside the field on Ctrl+S
        self.focus_next()

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        self._esc_armed = False

    def unsaved_work(self) -> str | None:
        """For Ctrl+Q: this form's typing, if any."""
        typed = any(f.value.strip() for f in self.fields() if not f.has_class("prefilled"))
        return f"the {self.TITLE_TEXT.split(':')[0].lower() or 'receipt form'} on receipts (F3)" if typed else None

    def action_leave(self) -> None:
        typed = any(f.value.strip() for f in self.fields() if not f.has_class("prefilled"))
        if not typed:
            self.dismiss(self.result_on_leave())
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.dismiss(self.result_on_leave())

        # The kit's one way of asking before Esc discards (Enter means No; the cursor stays put).
        self.app.push_screen(ConfirmDialog("Discard what is typed in this form?"), answer)

    def result_on_leave(self) -> Posted | None:
        """What the queue hears when the clerk leaves with Esc."""
        return None

    def show_error(self, exc: BillingError, fallback: str | None = None) -> None:
        """Put a store refusal beside its field (or on the status line)."""
        self._busy = False
        path = field_path(exc.field)
        name = path.last if path else ""
        aliases = {"payer": "from", "patient": "from", "source": "from", "received_date": "received",
                   "control_count": "count", "control_total": "total", "id": fallback or "", "receipt": fallback or ""}
        name = aliases.get(name, name)
        if fallback and not (name and self.query(f"#f-{name}")):
            name = fallback
        matches = list(self.query(f"#f-{name}").results(ReceiptField)) if name else []
        if matches:
            box = matches[0]
            box.error(str(exc))
            self.set_focus(box.input)
        else:
            self.status(str(exc))

    def focus_first_error(self) -> None:
        """Put the cursor in the first field that says what is wrong."""
        for f in self.fields():
            if f.query_one(".rf-error").has_class("shown"):
                self.set_focus(f.input)
                return

    def clear_errors(self) -> None:
        for f in self.fields():
            f.ok()
        self.status("")

    def action_save(self) -> None:
        after_pending_keys(list(self.query(Input)), self._save_now)

    def _save_now(self) -> None:
        if not self._busy:
            self.save()

    def save(self) -> None:
        raise NotImplementedError


class NewReceiptDialog(ReceiptForm):
    """Record one receipt in the current batch: from, method, reference, amount, received date."""

    TITLE_TEXT = "New receipt"
    BINDINGS = [
        Binding("down", "match(1)", "Next match", show=False),
        Binding("up", "match(-1)", "Previous match", show=False),
        Binding("f6", "ditto", "Ditto", id="receipt.ditto"),
    ]
    #: Fields that keep their value for the next receipt of the stack (typing replaces it).
    STICKY = ("method", "received")

    def __init__(self, batch_id: int | None) -> None:
        super().__init__()
        self.batch_id = batch_id
        self.source: q.Source | None = None
        self._matches: list[q.Source] = []
        self._matches_for: str | None = None
        self._take_when_ready = False
        self._save_when_ready = False
        self._dup_ok_for: tuple | None = None
        self._last: Posted | None = None
        self._previous: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="rcpt-dialog"):
            yield Static(f"New receipt (batch {self.batch_id})", id="receipt-title", classes="title", markup=False)
            yield ReceiptField("From", name="from", placeholder="payer code, account or last,first")
            yield OptionList(id="source-matches")
            yield ReceiptField("Method", name="method", placeholder=METHOD_HINT, width=34)
            yield ReceiptField("Reference", name="reference", placeholder="check / trace number", width=24)
            yield ReceiptField("Amount", name="amount", placeholder="0.00", width=14)
            yield ReceiptField("Received", name="received", placeholder="blank = today", width=14)
            yield Static("", id="form-status", markup=False)
            yield Static("↑↓ pick · Enter next · Ctrl+S post · Esc back", classes="hint", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#source-matches", OptionList).display = False
        self.query_one("#source-matches", OptionList).can_focus = False

    @on(Input.Changed, "#i-from")
    def _lookup(self, event: Input.Changed) -> None:
        self.source = None
        self._matches_for = None
        self.field("from").note("")
        self._find(event.value)

    @work(thread=True, exclusive=True, group="lookup", exit_on_error=False)
    def _find(self, text: str) -> None:
        found = q.find_sources(text)
        self.app.call_from_thread(self._show_matches, text, found)

    def _show_matches(self, text: str, found: list[q.Source]) -> None:
        if text != self.field("from").value:
            return  # typed on since; a newer lookup is coming
        self._matches = found
        self._matches_for = text
        box = self.query_one("#source-matches", OptionList)
        box.clear_options()
        box.add_options([Option(s.label.replace("[", "\\["), id=str(i)) for i, s in enumerate(found)])
        box.display = bool(found)
        if found:
            box.highlighted = 0
        if self._take_when_ready:
            self._take_match()

    def action_match(self, step: int) -> None:
        box = self.query_one("#source-matches", OptionList)
        if self.focused is self.field("from").input and box.option_count:
            box.highlighted = ((box.highlighted or 0) + step) % box.option_count

    def enter_on(self, field: Input) -> None:
        if field.id == "i-from" and self.source is None:
            # Take the highlighted match once the lookup has caught up with what was typed.
            self._take_when_ready = True
            field.call_later(self._take_match)
        super().enter_on(field)

    def _take_match(self) -> None:
        box = self.query_one("#source-matches", OptionList)
        if self._matches_for == self.field("from").value and self._matches and box.highlighted is not None:
            self._take_when_ready = False
            self._choose(self._matches[box.highlighted])
            if self._save_when_ready:  # Ctrl+S was typed before the lookup caught up
                self._save_when_ready = False
                self._save_now()
        elif self._matches_for == self.field("from").value and not self._matches:
            self._take_when_ready = False
            self.field("from").error("no payer or patient matches: Shift+Tab back and retype")

    def _choose(self, source: q.Source) -> None:
        self.source = source
        box = self.query_one("#source-matches", OptionList)
        box.display = False
        inp = self.field("from").input
        with inp.prevent(Input.Changed):
            inp.value = source.code
        self.field("from").note(source.label)
        self.field("from").ok()

    def save(self) -> None:
        if self.source is None and self._take_when_ready:
            self._save_when_ready = True
            self.status("Looking up who paid...")
            return
        self.clear_errors()
        bad = False
        if self.source is None:
            self.field("from").error("pick who paid: type a payer code or account, then Enter")
            bad = True
        try:
            method = parse_method(self.field("method").value)
        except ValueError as exc:
            self.field("method").error(str(exc))
            bad, method = True, ""
        reference = self.field("reference").value.strip()
        if method in ("check", "eft") and not reference:
            self.field("reference").error(f"a {method} needs its {'check' if method == 'check' else 'trace'} number")
            bad = True
        try:
            amount = parse_money(self.field("amount").value, allow_zero=False, blank_is_zero=False)
        except ValueError as exc:
            self.field("amount").error(str(exc))
            bad, amount = True, 0
        try:
            received = parse_date(self.field("received").value)
        except ValueError as exc:
            self.field("received").error(str(exc))
            bad, received = True, None
        if bad or self.source is None:
            self.focus_first_error()
            return
        self._busy = True
        self._post(self.source, method, reference, amount, received)

    @work(thread=True, exclusive=True, group="post", exit_on_error=False)
    def _post(self, source: q.Source, method: str, reference: str, amount: int, received: str | None) -> None:
        payer_id = source.id if source.kind == "payer" else None
        patient_id = source.id if source.kind == "patient" else None
        key = (source.kind, source.id, reference, method)
        if method in ("check", "eft") and self._dup_ok_for != key:
            dups = q.duplicate_receipts(payer_id=payer_id, patient_id=patient_id, reference=reference)
            if dups:
                self.app.call_from_thread(self._flag_duplicate, key, dups)
                return
        try:
            posted = ops.record_receipt(amount=amount, method=method, payer_id=payer_id, patient_id=patient_id,
                                        reference=reference, received_date=received, batch_id=self.batch_id)
        except BillingError as exc:
            self.app.call_from_thread(self.show_error, exc)
            return
        note = f" (same reference as receipt {', '.join(map(str, posted.possible_duplicates))})" \
            if posted.possible_duplicates else ""
        batch = ops.batch_status(self.batch_id) if self.batch_id is not None else None
        self.app.call_from_thread(self._posted, Posted(
            f"Receipt {posted.receipt_id} posted: {money(amount)} {method} from {source.code}{note}",
            receipt_id=posted.receipt_id), batch)

    def _posted(self, posted: Posted, batch: ops.BatchStatus | None) -> None:
        """Ready for the next receipt of the stack: clear the form, keep the sticky fields."""
        self._busy = False
        self._last = posted
        self._previous = {f.field_name: f.value for f in self.fields()}
        self.source = None
        self._dup_ok_for = None
        self._matches, self._matches_for = [], None
        self.query_one("#source-matches", OptionList).display = False
        for f in self.fields():
            f.ok()
            f.note("")
            if f.field_name in self.STICKY:
                f.add_class("prefilled")
            else:
                with f.input.prevent(Input.Changed):
                    f.value = ""
        if batch is not None:
            self.query_one("#receipt-title", Static).update(
                f"New receipt · batch {batch.id}: {batch.entered_count} of {batch.control_count}, "
                f"{money(batch.entered_total)} of {money(batch.control_total)}"
                + (" · balanced" if batch.balanced else ""))
        self.status(posted.message + " · next receipt, or Esc")
        self.set_focus(self.field("from").input)

    def result_on_leave(self) -> Posted | None:
        return self._last

    def action_ditto(self) -> None:
        """F6: the previous receipt's value into the focused field."""
        for f in self.fields():
            if self.focused is f.input and self._previous.get(f.field_name):
                f.value = self._previous[f.field_name]
                f.input.cursor_position = len(f.value)

    def _flag_duplicate(self, key: tuple, dups: tuple[int, ...]) -> None:
        self._busy = False
        self._dup_ok_for = key
        which = "check" if key[3] == "check" else "trace"
        self.field("reference").error(
            f"Possible duplicate: {which} {key[2]} from {self.source.code if self.source else ''} is already "
            f"receipt {', '.join(map(str, dups))}. Ctrl+S again posts it anyway.")


class RefundDialog(ReceiptForm):
    """Pay some or all of a receipt's unapplied credit back out."""

    def __init__(self, receipt: q.QueueRow) -> None:
        super().__init__()
        self.receipt = receipt

    def compose(self) -> ComposeResult:
        r = self.receipt
        with Vertical(classes="rcpt-dialog"):
            yield Static(inert(f"Refund from receipt {r.receipt_id}: {r.from_label} (credit {money(r.unapplied)})"),
                         classes="title", markup=False)
            amount = ReceiptField("Amount", name="amount", value=money(r.unapplied), width=14)
            amount.add_class("prefilled")
            yield amount
            yield ReceiptField("Method", name="method", placeholder=METHOD_HINT, width=34)
            yield ReceiptField("Reference", name="reference", placeholder="refund check number", width=24)
            yield ReceiptField("Reason", name="reason", placeholder="why the money goes back")
            yield Static("", id="form-status", markup=False)
            yield Static("Ctrl+S post the refund · Esc back", classes="hint", markup=False)

    def save(self) -> None:
        """Check every field, so one Ctrl+S shows everything to fix; the store checks again."""
        self.clear_errors()
        amount = method = None
        try:
            amount = parse_money(self.field("amount").value, allow_zero=False, blank_is_zero=False)
            if amount > self.receipt.unapplied:
                amount = None
                self.field("amount").error(f"more than the receipt's credit {money(self.receipt.unapplied)}")
        except ValueError as exc:
            self.field("amount").error(str(exc))
        try:
            method = parse_method(self.field("method").value)
        except ValueError as exc:
            self.field("method").error(str(exc))
        reference = self.field("reference").value
        if method in ("check", "eft") and not reference.strip():
            self.field("reference").error("the refund check's number" if method == "check" else "the EFT trace number")
            method = None
        if amount is None or method is None:
            self.focus_first_error()
            return
        self._busy = True
        self._post(amount, method, reference, self.field("reason").value)

    @work(thread=True, exclusive=True, group="post", exit_on_error=False)
    def _post(self, amount: int, method: str, reference: str, reason: str) -> None:
        try:
            fid = ops.refund(self.receipt.receipt_id, amount, method=method, reference=reference, reason=reason)
        except BillingError as exc:
            self.app.call_from_thread(self.show_error, exc)
            return
        self.app.call_from_thread(self.dismiss, Posted(
            f"Refund {fid}: {money(amount)} {method} from receipt {self.receipt.receipt_id}",
            receipt_id=self.receipt.receipt_id))


class VoidDialog(ReceiptForm):
    """Void the receipt itself, or one of its distributions or refunds, with a reason."""

    BINDINGS = [
        Binding("down", "pick(1)", "Next", show=False),
        Binding("up", "pick(-1)", "Previous", show=False),
    ]

    def __init__(self, receipt: q.QueueRow) -> None:
        super().__init__()
        self.receipt = receipt
        self._choices: list[tuple[str, int, str]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="rcpt-dialog"):
            yield Static(inert(f"Void: receipt {self.receipt.receipt_id} {self.receipt.from_label} "
                               f"{money(self.receipt.amount)}"), classes="title", markup=False)
            yield Static("What to reverse (↑↓):", markup=False)
            yield OptionList(id="void-choices")
            yield ReceiptField("Reason", name="reason", placeholder="required: why it is voided")
            yield Static("", id="form-status", markup=False)
            yield Static("Ctrl+S post the reversal · Esc back", classes="hint", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#void-choices", OptionList).can_focus = False
        self._load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        detail = q.receipt_detail(self.receipt.receipt_id)
        self.app.call_from_thread(self._show, detail)

    def _show(self, detail: q.ReceiptDetail | None) -> None:
        choices: list[tuple[str, int, str]] = []
        if detail is not None and not detail.receipt.voided:
            choices.append(("receipt", detail.receipt.receipt_id,
                            f"The whole receipt {detail.receipt.receipt_id} (and every distribution of it)"))
            for d in detail.distributions:
                if not d.voided:
                    choices.append(("distribution", d.distribution_id,
                                    f"Distribution {d.distribution_id} {d.posting_date} {d.operator}: applied "
                                    f"{money(d.applied)}, adjusted {money(d.adjusted)} on {d.lines} line(s)"))
            for f in detail.refunds:
                if not f.voided:
                    choices.append(("refund", f.refund_id, f"Refund {f.refund_id} {f.posting_date} {f.method} "
                                                           f"{money(f.amount)}"))
        self._choices = choices
        box = self.query_one("#void-choices", OptionList)
        box.clear_options()
        box.add_options([Option(label.replace("[", "\\["), id=str(i)) for i, (_, _, label) in enumerate(choices)])
        if choices:
            box.highlighted = 0
        else:
            self.status("Nothing left to void on this receipt.")

    def action_pick(self, step: int) -> None:
        box = self.query_one("#void-choices", OptionList)
        if box.option_count:
            box.highlighted = ((box.highlighted or 0) + step) % box.option_count

    def save(self) -> None:
        self.clear_errors()
        box = self.query_one("#void-choices", OptionList)
        if not self._choices or box.highlighted is None:
            self.status("Nothing chosen to void.")
            return
        if not self.field("reason").value.strip():
            self.field("reason").error("say why it is voided")
            return
        kind, entry_id, _ = self._choices[box.highlighted]
        self._busy = True
        self._post(kind, entry_id, self.field("reason").value)

    @work(thread=True, exclusive=True, group="post", exit_on_error=False)
    def _post(self, kind: str, entry_id: int, reason: str) -> None:
        try:
            new = ops.void(kind, entry_id, reason)
        except BillingError as exc:
            self.app.call_from_thread(self.show_error, exc, "reason" if exc.field == "void reason" else None)
            return
        self.app.call_from_thread(self.dismiss, Posted(
            f"Voided {kind} {entry_id} (reversal {new})", receipt_id=self.receipt.receipt_id))
