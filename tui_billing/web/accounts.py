"""Who may sign in to the served screens, the brake on guessing, and the audit of every attempt.

A browser user signs in with their own OS account, checked by PAM (the service the idle lock uses:
``TUI_BILLING_PAM_SERVICE``, default ``login``), exactly as they would over SSH; the app then runs
as that account, so the operator on every posting is the process's real uid (store/identity.py)
and the role is that account's grant in these books (store/roles.py). An office already has these
accounts and their passwords; a second password list in the books would be one more thing to leak.

Refused: a wrong password, root (the screens never run as root), an account with no role in these
books (it could read patient data and post nothing), and, when the server does not run as root and
so cannot start a process as anyone else, every account but its own. Failures are rate-limited per
account name and per client address, and each attempt is an audit event written by the server's
own OS account. Nothing here imports aiohttp or Textual.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..ledger.checks import text
from ..store import audit, identity, roles
from ..store.db import write
from ..store.errors import BillingError

#: Failed sign-ins allowed per account name, and per client address, within WINDOW_S.
MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
#: What a refused browser is told: never which part was wrong (the audit event says).
REFUSED = "Sign-in refused: wrong name or password, or no access to these books."
THROTTLED = "Too many failed sign-ins: wait 15 minutes, or ask an admin."

Checker = Callable[[str, str], bool]


def pam_checker(user: str, password: str) -> bool:
    """True when PAM accepts ``password`` for ``user`` (and the account is not expired or locked)."""
    import pam

    return bool(pam.pam().authenticate(user, password, service=os.environ.get("TUI_BILLING_PAM_SERVICE", "login")))


@dataclass(frozen=True)
class Account:
    """A signed-in OS account: what the app process is started as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    role: str


class Throttle:
    """Counts failures per key (account name, client address) in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, keys: tuple[str, ...], now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in keys)

    def failed(self, keys: tuple[str, ...], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def forget(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@write
def record(action: str, detail: dict[str, str | int | None]) -> None:
    """One audit event, by the server's own OS account (the one process that saw the attempt)."""
    audit.record(_now(), identity.os_user(), action, "web_session", None, detail)


class SignIn:
    """Checks one attempt; call from a thread (PAM and the books block)."""

    def __init__(self, checker: Checker | None = None, throttle: Throttle | None = None, *,
                 only: str | None | bool = True) -> None:
        self.checker = checker or pam_checker
        self.throttle = throttle or Throttle()
        #: Without root the server can start processes only as itself: only its own account signs in
        #: (``only=True``: decide by this process's uid; a name or None: say so, for the tests).
        self.only = (None if os.geteuid() == 0 else identity.os_user()) if only is True else (only or None)

    def attempt(self, name: str, password: str, client: str) -> Account | str:
        """The account, or the message for the browser (every outcome audited)."""
        try:
            name = text(name, "user", max_len=64)
        except BillingError:
            name = ""
        keys = (f"user:{name}", f"client:{client}")
        if self.throttle.blocked(keys):
            record("web_login_throttled", {"login": name[:64], "client": client})
            return THROTTLED
        why = self._refusal(name, password)
        if why is not None:
            self.throttle.failed(keys)
            record("web_login_failed", {"login": name[:64], "client": client, "why": why})
            return REFUSED
        entry = pwd.getpwnam(name)
        role = roles.role_of(name)
        self.throttle.forget(f"user:{name}")
        record("web_login", {"login": name, "client": client, "role": role})
        return Account(name, entry.pw_uid, entry.pw_gid, tuple(os.getgrouplist(name, entry.pw_gid)),
                       entry.pw_dir or "/", role)

    def _refusal(self, name: str, password: str) -> str | None:
        """Why this attempt is refused (for the audit), or None."""
        if not name or not password:
            return "name or password empty"
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return "no such account"
        if entry.pw_uid == 0:
            return "root may not sign in"
        if self.only is not None and name != self.only:
            return f"the server runs as {self.only}, not root, and can start the screens only as {self.only}"
        try:
            ok = self.checker(name, password)
        except Exception as exc:  # PAM missing or misconfigured: refused, and the audit says why
            return f"cannot check the password: {exc}"[:200]
        if not ok:
            return "wrong password"
        if roles.role_of(name) == "none":
            return "no role in these books"
        return None
