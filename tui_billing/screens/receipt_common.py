"""Small pieces the receipts screens share: compact labelled fields, method parsing, worker errors.

Named ``Receipt*`` so they can later give way to the shared widgets package (money input, date
input, patient picker) without touching the screens' logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from ..money import MoneyError, format_cents, parse_cents
from ..text import inert
from ..widgets.parse import parse_day
from .base import billing_app

if TYPE_CHECKING:
    from textual.screen import Screen

from ..ledger.vocab import METHODS

METHOD_HINT = "cash, check, card or eft (1-4)"


def parse_method(text: str) -> str:
    """``cash``/``check``/``card``/``eft``, a unique prefix (``ch``, ``ca``... ``cas``), or 1-4."""
    t = text.strip().lower()
    if t in ("1", "2", "3", "4"):
        return METHODS[int(t) - 1]
    matches = [m for m in METHODS if m.startswith(t)] if t else []
    if len(matches) == 1:
        return matches[0]
    if t in METHODS:
        return t
    raise ValueError(f"method: {METHOD_HINT}" if not matches else f"{t!r} could be {' or '.join(matches)}")


def parse_money(text: str, *, allow_zero: bool = True, blank_is_zero: bool = True, allow_negative: bool = False) -> int:
    """Cents from what was typed (blank means 0 where that makes sense). Raises ValueError."""
    if not text.strip():
        if blank_is_zero:
            return 0
        raise ValueError("an amount is required")
    try:
        return parse_cents(text, allow_zero=allow_zero, allow_negative=allow_negative)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def parse_date(text: str) -> str | None:
    """A received date in the kit's one date grammar (``2026-11-26``, ``11/26``, ``1126``, ``t``, ``-3``).

    Blank is None: the store then takes the business day (never the wall clock, which a pinned
    or rolled-over posting day does not follow).
    """
    if not text.strip():
        return None
    from ..store.validate import today

    return parse_day(text, today(), "received date").isoformat()


def money(cents: int) -> str:
    return format_cents(cents)


def cell(value: str, *, right: bool = False, style: str = "") -> Text:
    """A table cell as plain text (user data is never markup).

    Tables use ``cell_padding=0`` to fit 80 columns, so a left-aligned cell carries its own
    one-space gutter (right-aligned ones get it from the column being one wider).
    """
    value = inert(value)
    return Text(value if right else " " + value, style=style, justify="right" if right else "left", no_wrap=True,
                overflow="ellipsis")


def filter_inputs(prefix: str, specs: tuple[tuple[str, str, int], ...]) -> Iterator[Widget]:
    """A compact filter bar's labels and inputs: ids ``{prefix}-{name}``, empty means "any"."""
    for name, label, width in specs:
        yield Label(label, markup=False)
        inp = Input(id=f"{prefix}-{name}", compact=True, placeholder="any")
        inp.styles.width = width
        yield inp


class FilterBar:
    """Enter in a screen's filter bar (mixed into the screen, before ``Screen``).

    A filled filter searches at once and takes the cursor to the list, and keys typed ahead (an
    Enter to open the top row) wait until the new list is on screen, so they never act on a row
    of the old one. An empty filter passes Enter on to the next; the last goes to the list.
    The screen gives ``FILTER_TABLE`` and ``FILTER_LAST`` (ids), ``_filter_timer``, an
    ``_apply_filter()`` that returns False when a filter is refused, and calls ``_list_shown()``
    once a new list is shown.
    """

    FILTER_TABLE = ""
    FILTER_LAST = ""
    _keys_held_for_list = False

    def _filter_next(self, field: Input) -> None:
        screen = cast("Screen", self)
        if not field.value.strip() and field.id != self.FILTER_LAST:
            screen.focus_next()
            return
        timer = getattr(self, "_filter_timer", None)
        if timer is not None:
            timer.stop()
        if not self._apply_filter():
            return  # refused (said on screen): the cursor stays in the filter to fix it
        screen.set_focus(screen.query_one(f"#{self.FILTER_TABLE}"))
        if not self._keys_held_for_list:
            self._keys_held_for_list = True
            billing_app(screen).hold_keys()

    def _apply_filter(self) -> bool:
        raise NotImplementedError

    def _list_shown(self) -> None:
        if self._keys_held_for_list:
            self._keys_held_for_list = False
            billing_app(cast("Screen", self)).release_keys()  # mixed into a screen (see the class)


class ReceiptField(Widget):
    """A one-line labelled input with its own inline error line underneath.

    A stand-in for the shared form widgets: ``field.value``, ``field.error(msg)``, ``field.ok()``.
    """

    DEFAULT_CSS = """
    ReceiptField { height: auto; }
    ReceiptField > Horizontal { height: 1; }
    ReceiptField Label { width: 14; }
    ReceiptField .rf-error { height: auto; color: $error; display: none; padding-left: 14; }
    ReceiptField .rf-error.shown { display: block; }
    ReceiptField .rf-note { height: auto; color: $warning; display: none; padding-left: 14; }
    ReceiptField .rf-note.shown { display: block; }
    """

    def __init__(self, label: str, *, name: str, placeholder: str = "", value: str = "", width: int | None = None) -> None:
        super().__init__(id=f"f-{name}")
        self.field_name = name
        self._label = label
        self._placeholder = placeholder
        self._value = value
        self._width = width

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self._label, markup=False)
            inp = Input(value=self._value, placeholder=self._placeholder, id=f"i-{self.field_name}", compact=True)
            if self._width:
                inp.styles.width = self._width
            yield inp
        yield Static("", classes="rf-error", markup=False)
        yield Static("", classes="rf-note", markup=False)

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> str:
        return self.input.value

    @value.setter
    def value(self, text: str) -> None:
        self.input.value = text

    def error(self, message: str) -> None:
        box = self.query_one(".rf-error", Static)
        box.update(message)
        box.set_class(bool(message), "shown")

    def note(self, message: str) -> None:
        box = self.query_one(".rf-note", Static)
        box.update(message)
        box.set_class(bool(message), "shown")

    def ok(self) -> None:
        self.error("")


def after_pending_keys(widgets: list[Widget], callback, *args) -> None:
    """Run ``callback`` once each widget has handled the keys already queued to it.

    A priority binding (Enter, Ctrl+S) runs before the focused field has processed keys typed
    just ahead of it; chaining through each field's own queue reads what was really typed.
    """
    chain = [w for w in widgets if w.is_attached]

    def step(i: int = 0) -> None:
        if i == len(chain):
            callback(*args)
        else:
            chain[i].call_later(step, i + 1)

    step()
