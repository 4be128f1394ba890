"""Automatic logoff: after N idle minutes the screen locks until the clerk types their own password.

The lock is an opaque screen pushed over whatever was showing, so no patient data stays on an
unattended terminal; the screens beneath are left as they are, so what was typed is kept. The
password is checked through PAM (``python-pam``, the ``login`` service unless
``TUI_BILLING_PAM_SERVICE`` says otherwise) in a thread worker, never on the event loop. Only the
user who runs the program can unlock it: the name comes from the process's real uid.

``TUI_BILLING_IDLE_MINUTES`` sets N (default 10; 0 turns the lock off, for a kiosk that locks the
whole session itself).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..store.identity import os_user
from ..text import inert

DEFAULT_IDLE_MINUTES = 10.0
Checker = Callable[[str, str], bool]


def idle_minutes() -> float:
    """The configured idle limit in minutes (a bad value falls back to the default)."""
    raw = os.environ.get("TUI_BILLING_IDLE_MINUTES", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_IDLE_MINUTES
    except ValueError:
        return DEFAULT_IDLE_MINUTES
    return value if value >= 0 else DEFAULT_IDLE_MINUTES


def pam_checker(user: str, password: str) -> bool:
    """True when PAM accepts ``password`` for ``user``."""
    import pam

    return bool(pam.pam().authenticate(user, password, service=os.environ.get("TUI_BILLING_PAM_SERVICE", "login")))


class LockScreen(ModalScreen[None]):
    """Covers everything; dismissed only by the right password."""

    DEFAULT_CSS = """
    LockScreen { background: $background; align: center middle; }
    LockScreen > Vertical { width: 60; height: auto; border: heavy $primary; padding: 1 2; }
    LockScreen #lock-message { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "ignore", show=False)]  # Esc must not unlock

    def __init__(self, user: str, minutes: float, checker: Checker) -> None:
        super().__init__()
        self.user = user
        self.minutes = minutes
        self.checker = checker

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Locked after {self.minutes:g} idle minutes.\n"
                         f"{inert(self.user)}: type your password and press Enter.", id="lock-title")
            yield Input(password=True, id="lock-password")
            yield Static("", id="lock-message")

    def action_ignore(self) -> None:
        pass

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        password = event.value
        event.input.value = ""
        self.query_one("#lock-message", Static).update("checking…")
        self._check(password)

    @work(thread=True, exclusive=True, exit_on_error=False, group="unlock")
    def _check(self, password: str) -> None:
        try:
            ok = self.checker(self.user, password)
        except Exception as exc:  # PAM missing or misconfigured: say so, stay locked
            self.app.call_from_thread(self._failed, f"cannot check the password: {exc}")
            return
        self.app.call_from_thread(self.dismiss if ok else self._failed, *(() if ok else ("wrong password",)))

    def _failed(self, why: str) -> None:
        self.query_one("#lock-message", Static).update(inert(why))
        self.query_one("#lock-password", Input).focus()


class IdleLock:
    """Watches for keys and clicks; pushes the lock screen when the app has been idle too long."""

    def __init__(self, app: App, minutes: float | None = None, checker: Checker | None = None) -> None:
        self.app = app
        self.minutes = idle_minutes() if minutes is None else minutes
        self.checker = checker or pam_checker
        self.last = time.monotonic()

    @property
    def locked(self) -> bool:
        return any(isinstance(s, LockScreen) for s in self.app.screen_stack)

    def touch(self) -> None:
        self.last = time.monotonic()

    def tick(self, now: float | None = None) -> None:
        if not self.minutes or self.locked:
            return
        if (time.monotonic() if now is None else now) - self.last >= self.minutes * 60:
            self.app.push_screen(LockScreen(os_user(), self.minutes, self.checker), callback=lambda _: self.touch())


def install(app: App, minutes: float | None = None, checker: Checker | None = None) -> IdleLock:
    """Start watching (from the app's on_mount); returns the watcher for the app's event hook."""
    lock = IdleLock(app, minutes, checker)
    if lock.minutes:
        app.set_interval(min(15.0, lock.minutes * 30), lock.tick)
    return lock
