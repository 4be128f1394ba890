"""The Textual app: small on purpose. It owns the global keys, the header facts and failures.

Each screen lives in its own module under ``screens/``; switching with F2/F3/F4 uses Textual
modes, so every screen stays alive and keeps what was typed into it.

What screens can rely on (set before any screen mounts):

- ``app.db_path``: the database file; ``app.operator``: the clerk (the real uid's account; a test
  book's ``TUI_BILLING_OPERATOR``); ``app.posting_date``: the current open posting date (ISO text);
  ``app.practice``: the practice name. After a day close call :meth:`BillingApp.refresh_context`.
- Type-ahead: keys are handled one at a time, in order, even when they arrive in a burst (SSH):
  each key is fully handled (including bindings resolved after bubbling) before the next is
  dispatched. A priority binding's action therefore sees every earlier key applied, and a focus
  change it makes with ``screen.set_focus`` takes effect for the very next key. A screen that must
  wait for a worker before the next key (Enter on a lookup still searching) calls
  :meth:`BillingApp.hold_keys` and later :meth:`BillingApp.release_keys`.
- Live refresh: the app watches the books (store/live.py: LISTEN/NOTIFY on PostgreSQL, ``PRAGMA
  data_version`` on SQLite) in one worker thread, and on every commit by any connection publishes
  ``app.books_changed`` (a Textual Signal; ``app.books_version`` counts them) after reading the
  posting date again, so another clerk's day close moves ``app.posting_date`` on here too.
- Worker failures: every ``Worker.StateChanged`` bubbles up to :meth:`BillingApp.on_worker_state_changed`,
  the ONE place that turns a failed worker into a visible error notification. Screens run the
  database in ``@work(thread=True, exit_on_error=False)`` workers and need no handler of their own;
  a worker that catches :class:`BillingError` itself (to show it beside a field) never reaches it.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

# Textual repaints on a timer capped at TEXTUAL_FPS (default 60): a change made just after a
# repaint waits up to a whole frame (17 ms) to be seen, and a patient lookup's list lands just
# after its keystroke's echo. 240 cuts that wait to 4 ms (measured: lookup p50 ~25 -> ~13 ms).
# The cap only matters while something changes: an idle screen (no blinking cursor) sends
# nothing. Read once when Textual is imported, so set it first; the environment still wins.
os.environ.setdefault("TEXTUAL_FPS", "240")
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import ModalScreen, Screen
from textual.signal import Signal
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from .screens.charge_entry import ChargeEntryScreen
from .screens.help import HelpScreen
from .store.errors import BillingError

if TYPE_CHECKING:
    from .screens.lock import IdleLock

# Worker state changes do not bubble by default; letting them reach the App gives the whole UI
# one failure handler instead of one per screen (no Textual internals handle this message).
Worker.StateChanged.bubble = True

#: Longest a key may wait behind another (a lookup still searching) before it is let through.
HOLD_LIMIT_S = 2.0
#: SQLite: how often the live refresh reads PRAGMA data_version (a commit shows within this plus a
#: screen's reload). PostgreSQL's NOTIFY wakes it at once.
WATCH_POLL_SECONDS = 0.02
#: the live refresh's longest wait before it looks whether the app is closing
WATCH_SLICE_SECONDS = 0.25
#: The smallest terminal the screens are laid out for; below it the app says so.
MIN_COLS, MIN_ROWS = 80, 24


def _receipts_screen() -> Screen:
    from .screens.receipts import ReceiptsScreen

    return ReceiptsScreen()


def _balancing_screen() -> Screen:
    from .screens.balancing import BalancingScreen

    return BalancingScreen()


def _books_label(db_path: Path | None) -> str:
    """The header's name for the books: the file's name, or a server database's (``pg:books``; the URL
    held as a Path lost its ``//``, and its last part is the socket folder's name)."""
    from .store.db import database, on_server

    if on_server():
        from urllib.parse import urlsplit

        return "pg:" + (urlsplit(str(database.database)).path.lstrip("/") or "postgres")
    return db_path.name if db_path else "?"


class BooksChanged(Message):
    """From the live refresh's thread: a commit by any connection was heard."""


class KeyDone(Message):
    """Posted behind a key to the widget it went to; reaching the App means the key was handled.

    It goes round twice: the second trip follows the messages the key itself caused (an Input's
    Changed), so their handlers have run before the next key is dispatched.
    """

    def __init__(self, target: object, trip: int = 1) -> None:
        super().__init__()
        self.target = target
        self.trip = trip


class BillingApp(App[None]):
    """tui-billing's terminal UI."""

    CSS_PATH = "styles.tcss"
    TITLE = "tui-billing"
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"
    MODES = {
        "charges": ChargeEntryScreen,
        # Imported on first F3/F4, so they add nothing to the time before the clerk can type.
        "receipts": lambda: _receipts_screen(),
        "balancing": lambda: _balancing_screen(),
        "accounts": lambda: __import__("tui_billing.screens.accounts", fromlist=["AccountScreen"]).AccountScreen(),
        # 835 remittances (issue 14): from the command palette, no global key of its own
        "remittances": lambda: __import__("tui_billing.screens.remittances",
                                          fromlist=["RemittancesScreen"]).RemittancesScreen(),
        "claims": lambda: __import__("tui_billing.screens.claims", fromlist=["ClaimsScreen"]).ClaimsScreen(),
    }
    BINDINGS = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("f2", "switch_mode('charges')", "Charges", id="app.charges"),
        Binding("f3", "switch_mode('receipts')", "Receipts", id="app.receipts"),
        Binding("f4", "switch_mode('balancing')", "Balancing", id="app.balancing"),
        Binding("f7", "switch_mode('accounts')", "Accounts", id="app.accounts"),
        # F12: the free key terminals leave alone (F10/F11 are often taken; F5, F6, F8, F9 are screens' own)
        Binding("f12", "switch_mode('claims')", "Claims", id="app.claims"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(self, db_path: Path | None = None, *, operator: str | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self.operator = ""
        self.posting_date = ""
        self.practice = ""
        self._given_operator = operator
        self._holds = 0
        self._hold_since = 0.0
        self._draining = False
        self._held: list[events.Key] = []
        self.lock_checker = None  # the idle lock's password check (None: PAM); tests inject one
        self.idle_lock: IdleLock | None = None
        #: published on the event loop after each change to the books by any connection (live screens reload)
        self.books_changed: Signal[int] = Signal(self, "books-changed")
        #: changes heard so far: a screen notes it before its first read and compares once subscribed
        self.books_version = 0
        #: set once the watch hears every later commit (tests wait for it before another process posts)
        self.watching = threading.Event()
        self.refresh_context()

    def refresh_context(self) -> None:
        """Read the posting date, operator and practice (two indexed reads; also after a day close)."""
        from .store import lookups

        self.posting_date, self.operator = lookups.posting_context(self._given_operator)
        self.practice = lookups.practice_name()
        self.title = self.practice or "tui-billing"
        db = _books_label(self.db_path)
        self.sub_title = f"posting {self.posting_date} · {self.operator} · {db}"

    def set_posting_date(self, posting_date: str) -> None:
        """A day was closed: the new open posting date (screens compare it on their next showing)."""
        self.posting_date = posting_date
        db = _books_label(self.db_path)
        self.sub_title = f"posting {self.posting_date} · {self.operator} · {db}"

    def on_mount(self) -> None:
        from .store import db

        db.on_busy_wait(self._books_busy)
        from .screens import lock

        self.idle_lock = lock.install(self, checker=self.lock_checker)  # automatic logoff (issue 15)
        self.set_interval(HOLD_LIMIT_S / 2, self._failsafe_release)
        self._watch_books()
        self.switch_mode("charges")

    @work(thread=True, exclusive=True, group="app-live", exit_on_error=False, name="live refresh")
    def _watch_books(self) -> None:
        """Wait for commits off the event loop (one watch per app, whichever screens are up)."""
        from .store.db import database
        from .store.live import BooksWatch
        from .store.validate import current_posting_date

        worker = get_current_worker()
        if not database.database:
            return  # no books open (an app built for a test of its own)
        watch = BooksWatch(poll=WATCH_POLL_SECONDS)
        self.watching.set()
        try:
            while not worker.is_cancelled:
                if watch.wait(WATCH_SLICE_SECONDS) and not worker.is_cancelled:
                    self.post_message(BooksChanged())  # the screens first (posting a message does not wait)
                    posting_date = current_posting_date()  # another clerk may have closed the day
                    if posting_date != self.posting_date:
                        self.call_from_thread(self.set_posting_date, posting_date)
        finally:
            watch.close()
            database.close()  # this thread's own connection

    def on_books_changed(self, _message: BooksChanged) -> None:
        self.books_version += 1
        self.books_changed.publish(self.books_version)

    def on_unmount(self) -> None:
        from .store import db

        db.on_busy_wait(None)

    def _books_busy(self, waited: float) -> None:
        """From a saving thread: another writer holds the lock; say so while the save keeps trying."""
        text = (f"Still saving: another clerk's work holds the books ({waited:.0f} s). "
                "Nothing is lost; it keeps trying.")
        try:
            self.call_from_thread(self.notify, text, severity="warning", timeout=5, markup=False)
        except RuntimeError:  # the write ran on the app's own thread
            self.notify(text, severity="warning", timeout=5, markup=False)

    # ------------------------------------------------------------------ type-ahead

    def hold_keys(self) -> None:
        """Keep further keys (in order) until :meth:`release_keys`; a watchdog releases after 1 s."""
        if not self._holds:
            self._hold_since = time.monotonic()
        self._holds += 1

    def release_keys(self) -> None:
        """Undo one :meth:`hold_keys`; when none remain, replay the kept keys in order."""
        self._holds = max(0, self._holds - 1)
        if self._holds == 0 and self._held and not self._draining:
            self._draining = True
            self.call_later(self._replay_keys)

    def _failsafe_release(self) -> None:
        """Never leave the keyboard dead: a hold older than HOLD_LIMIT_S is let go, unless a lookup
        it waits on is still searching (a loaded server): letting the keys through then would type
        the next fields into the patient box. A lookup that failed or ended lets the hold go."""
        if not self._holds or time.monotonic() - self._hold_since <= HOLD_LIMIT_S:
            return
        from .widgets.patient_picker import SEARCH_GROUP

        if any(w.group == SEARCH_GROUP and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
               for w in self.workers):
            return
        self._holds = 1
        self.release_keys()

    async def _replay_keys(self) -> None:
        self._draining = False
        while self._held and not self._holds:
            await self._dispatch_key(self._held.pop(0))

    async def on_event(self, event: events.Event) -> None:
        if self.idle_lock is not None and isinstance(event, (events.Key, events.MouseDown)):
            self.idle_lock.touch()
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self._holds or self._draining or self._held:
                self._held.append(event)
                return
            await self._dispatch_key(event)
            return
        await super().on_event(event)

    async def _dispatch_key(self, event: events.Key) -> None:
        """Hand one key to Textual, then hold the next until this one is fully handled.

        A key bound on a widget (Backspace, Up) is resolved only after it bubbles to the App, so
        without this a burst of keys (a paste of keystrokes over SSH) can apply out of order.
        """
        await super().on_event(event)
        if event.is_forwarded:  # went to a widget: wait for its marker to bubble back
            self.hold_keys()
            target = self.focused or self.screen
            target.post_message(KeyDone(target))

    def on_key_done(self, message: KeyDone) -> None:
        target = message.target
        if message.trip == 1 and isinstance(target, MessagePump) and getattr(target, "is_attached", False):
            target.post_message(KeyDone(target, 2))
            return
        self.release_keys()

    # ------------------------------------------------------------------ quit, size

    def unsaved(self) -> list[str]:
        """What is typed and not saved, screen by screen (each screen may say with ``unsaved_work``)."""
        found: list[str] = []
        for stack in self._screen_stacks.values():
            for screen in stack:
                say = getattr(screen, "unsaved_work", None)
                text = say() if callable(say) else None
                if text:
                    found.append(text)
        return found

    async def action_quit(self) -> None:
        """Ctrl+Q: quit, asking first when something typed would be lost (No is the default)."""
        from .widgets.dialogs import ConfirmDialog

        if isinstance(self.screen, ConfirmDialog):
            return
        lost = self.unsaved()
        if not lost:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmDialog(f"Quit? Not saved: {'; '.join(lost)}."), answer)

    def on_resize(self, event: events.Resize) -> None:
        small = event.size.width < MIN_COLS or event.size.height < MIN_ROWS
        shown = [s for s in self.screen_stack if isinstance(s, TooSmall)]
        if small and not shown:
            self.push_screen(TooSmall())
        elif shown:
            shown[0].show_size(event.size.width, event.size.height)
            if not small and shown[0] is self.screen:
                shown[0].dismiss(None)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker becomes visible: an error notification that stays."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, BillingError):
            message = error.message
        else:
            message = f"{type(error).__name__}: {error}. Nothing was lost that was saved; try again."
        self.notify(message, title=f"Failed: {event.worker.name or event.worker.group}", severity="error",
                    timeout=30, markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette offers the current screen's actions (its bindings) and the app's."""
        seen: set[str] = set()
        titles: set[str] = set()
        for active in screen.active_bindings.values():
            b = active.binding
            # Screen and app actions only (an Input's "delete left" is not a command), and not the
            # keys that move between fields.
            if (not isinstance(active.node, (Screen, App)) or not b.description or b.action in seen
                    or b.key in ("enter", "tab", "shift+tab", "escape,f1,q")):
                continue
            seen.add(b.action)
            titles.add(b.description.lower())
            yield SystemCommand(f"{b.description} ({self.get_key_display(b)})", f"{b.description}",
                                lambda node=active.node, action=b.action: self.run_action(action, node))
        yield SystemCommand("Remittances (835 ERA)", "Post an 835 after seeing its plan; the denials work queue",
                            lambda: self.switch_mode("remittances"))
        # Textual's own commands, less those listed above under their key (each action once).
        for command in super().get_system_commands(screen):
            if command.title.lower() not in titles:
                yield command


class TooSmall(ModalScreen[None]):
    """Shown while the terminal is smaller than the screens are laid out for (figures would misalign).

    Modal: the screen keys wait too (switching screens under it would leave it behind on another)."""

    DEFAULT_CSS = "TooSmall { background: $background; } TooSmall #too-small { width: 100%; padding: 1; }"

    def compose(self) -> ComposeResult:
        yield Static("", id="too-small", markup=False)

    def on_mount(self) -> None:
        self.show_size(self.app.size.width, self.app.size.height)

    def show_size(self, cols: int, rows: int) -> None:
        self.query_one("#too-small", Static).update(
            f"The window is {cols}x{rows}; tui-billing needs at least {MIN_COLS}x{MIN_ROWS}. "
            "Make it larger: nothing typed is lost.")
