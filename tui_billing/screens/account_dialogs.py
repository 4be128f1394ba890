"""Dialogs of the account screen (F7): register/edit a patient, coverages, notes, master data.

Each is a ``ModalScreen`` whose result comes back through ``push_screen(..., callback=...)``.
:class:`FormDialog` is the one form: labelled one-line fields in a scrolling column, Enter and
Tab move on, Ctrl+S saves in a thread worker (never on the event loop), Esc cancels. A refusal
from the store is shown beside the field it names, focus goes there, and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..store.errors import BillingError
from ..text import inert
from ..widgets.dialogs import SCREEN_KEYS
from ..widgets.form_input import FormInput

__all__ = ["Field", "FormDialog", "TextDialog", "SCREEN_KEYS"]



@dataclass(frozen=True)
class Field:
    """One form field: the store's field name, its label, width and starting value."""

    name: str
    label: str
    width: int = 30
    value: str = ""
    hint: str = ""
    #: what may be typed: 80 for names and addresses; a path needs room (a folder deep in a share)
    max_length: int = 80


class FormDialog(ModalScreen["Any | None"]):
    """A form over the current screen; ``save(values)`` runs in a worker and returns the result.

    ``save`` may raise :class:`BillingError` (shown beside its field). ``retry_hint``: a refusal
    the clerk may override by pressing Ctrl+S again (a duplicate name and birth date) sets
    ``self.override`` for the next save.
    """

    DEFAULT_CSS = """
    FormDialog { align: center middle; background: $background 60%; }
    FormDialog > Vertical { width: 78; height: auto; max-height: 23; border: round $accent; background: $panel;
                            padding: 0 1; }
    FormDialog VerticalScroll { height: auto; max-height: 17; }
    FormDialog .form-row { height: 1; }
    FormDialog .form-label { width: 20; }
    FormDialog .form-error { color: $error; width: 1fr; padding-left: 1; }
    FormDialog .form-title { text-style: bold; }
    FormDialog #form-status { color: $error; height: auto; }
    FormDialog .form-hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
        Binding("enter", "next", "Next", show=False, priority=True),
        *SCREEN_KEYS,
    ]

    def __init__(self, title: str, fields: Sequence[Field], save: Callable[[dict[str, str], bool], Any],
                 *, note: str = "", lookup: Callable[[str, str], dict | None] | None = None) -> None:
        super().__init__()
        #: ``lookup(field, value)``, run in a worker when Enter leaves a field: a dict it returns
        #: fills the form (an existing payer's code typed: its record, to change)
        self.lookup = lookup
        self.title_text = title
        self.fields = list(fields)
        self.save_fn = save
        self.note = note
        self.override = False
        self.saving = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="form-title", markup=False)
            if self.note:
                yield Static(self.note, classes="form-hint", markup=False)
            with VerticalScroll():
                for f in self.fields:
                    with Horizontal(classes="form-row"):
                        yield Static(f.label, classes="form-label", markup=False)
                        box = FormInput(f.value, id=f"f-{f.name}", placeholder=f.hint, max_length=f.max_length)
                        box.styles.width = f.width
                        yield box
                        yield Static("", id=f"e-{f.name}", classes="form-error", markup=False)
            yield Static("", id="form-status", markup=False)
            yield Static("Enter/Tab next · Ctrl+S save · Esc cancel", classes="form-hint", markup=False)

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#f-{self.fields[0].name}", FormInput).focus()

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#f-{f.name}", FormInput).value for f in self.fields}

    def unsaved_work(self) -> str | None:
        """For Ctrl+Q: this form, when anything in it differs from what it opened with."""
        changed = any(value != f.value for f, value in zip(self.fields, self.values().values(), strict=True))
        return f"the form '{self.title_text}' on accounts (F7)" if changed else None

    def action_next(self) -> None:
        focused = self.focused
        if isinstance(focused, FormInput) and focused.id == f"f-{self.fields[-1].name}":
            self.action_save()
            return
        if self.lookup is not None and isinstance(focused, FormInput) and focused.id and focused.value.strip():
            self._lookup(focused.id[2:], focused.value.strip())
        self.focus_next()

    @work(thread=True, exclusive=True, group="form-lookup", exit_on_error=False)
    def _lookup(self, name: str, value: str) -> None:
        found = self.lookup(name, value) if self.lookup else None
        if found:
            self.app.call_from_thread(self._fill, found)

    def _fill(self, values: dict) -> None:
        for f in self.fields:
            if f.name in values and values[f.name] is not None:
                self.query_one(f"#f-{f.name}", FormInput).value = str(values[f.name])
        self.query_one("#form-status", Static).update("on file: change what differs, Ctrl+S saves a new version")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        for f in self.fields:
            self.query_one(f"#e-{f.name}", Static).update("")
        self.query_one("#form-status", Static).update("saving...")
        self._save(self.values(), self.override)

    @work(thread=True, exclusive=True, group="form-save", exit_on_error=False)
    def _save(self, values: dict[str, str], override: bool) -> None:
        try:
            result = self.save_fn(values, override)
        except BillingError as exc:
            self.app.call_from_thread(self._refused, exc)
            return
        except Exception:
            self.app.call_from_thread(setattr, self, "saving", False)
            raise
        self.app.call_from_thread(self._saved, result)

    def _saved(self, result: Any) -> None:
        self.saving = False
        self.dismiss(result if result is not None else True)

    def _refused(self, exc: BillingError) -> None:
        self.saving = False
        name = (exc.field or "").rsplit(".", 1)[-1].split("[")[0]
        names = [f.name for f in self.fields]
        self.override = bool(getattr(exc, "accounts", None))
        status = self.query_one("#form-status", Static)
        message = inert(exc.message) + ("  (Ctrl+S again registers anyway)" if self.override else "")
        if name in names:
            self.query_one(f"#e-{name}", Static).update(Text(inert(exc.message[:40])))
            status.update(Text(message))
            box = self.query_one(f"#f-{name}", FormInput)
            box.focus()
            box.scroll_visible()
        else:
            status.update(Text(message))


class TextDialog(ModalScreen[None]):
    """Plain text to read (an encounter's detail, a statement, a record's history); Esc closes."""

    DEFAULT_CSS = """
    TextDialog { align: center middle; background: $background 60%; }
    TextDialog > Vertical { width: 80; height: 23; border: round $accent; background: $panel; }
    TextDialog ScrollableContainer { height: 1fr; }
    TextDialog #text-static { width: auto; }
    TextDialog .form-hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,q,enter", "close", "Close"), *SCREEN_KEYS]

    def __init__(self, title: str, body: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, markup=False)
            with ScrollableContainer(id="text-body"):
                yield Static(Text("\n".join(inert(line) for line in self.body.split("\n")), no_wrap=True),
                             id="text-static", markup=False)
            yield Static("PgUp/PgDn/↑↓←→ scroll · Esc close", classes="form-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#text-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
