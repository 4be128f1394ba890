"""Issue 15, automatic logoff: after N idle minutes the TUI hides everything behind a lock that only
the user's own password opens (a checker stands in for PAM here); what was typed is kept."""

from __future__ import annotations

import time

from test_charge_entry import db, make_app, send, settle, template, type_text, with_batch  # noqa: F401,F811 (fixtures)

from tui_billing.screens import lock
from tui_billing.store.identity import os_user


def shown(app) -> str:
    """The text on the terminal now (the screenshot's SVG escapes spaces, so compare without them)."""
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape("".join(re.findall(r">([^<]*)</text>", svg))).replace("\xa0", " ")


class Checker:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def __call__(self, user: str, password: str) -> bool:
        self.asked.append((user, password))
        return password == "s3cret"


async def test_idle_lock_hides_and_keeps_what_was_typed(db):  # noqa: F811
    with_batch(1, 12000)  # else the batch dialog comes first
    checker = Checker()
    app = make_app(db)
    app.lock_checker = checker
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.focused.id == "patient"
        assert app.idle_lock.minutes == lock.DEFAULT_IDLE_MINUTES
        await type_text(pilot, "A100")
        typed_in = app.focused
        assert typed_in.value == "A100"

        assert "A100" in shown(app)
        app.idle_lock.tick(now=time.monotonic() + 9 * 60)  # not yet
        assert not app.idle_lock.locked
        app.idle_lock.tick(now=time.monotonic() + 10 * 60 + 1)
        await settle(pilot)
        assert isinstance(app.screen, lock.LockScreen)
        # nothing from the form shows through the lock: the lock screen is opaque
        assert app.screen.styles.background.a == 1 and "A100" not in shown(app) and "Locked" in shown(app)
        assert app.focused.id == "lock-password"

        await type_text(pilot, "wrong")
        await send(pilot, "enter")
        await settle(pilot)
        assert app.idle_lock.locked and checker.asked == [(os_user(), "wrong")]
        await send(pilot, "escape")
        assert app.idle_lock.locked  # Esc does not unlock

        await type_text(pilot, "s3cret")
        await send(pilot, "enter")
        await settle(pilot)
        assert not app.idle_lock.locked
        assert app.focused is typed_in and typed_in.value == "A100"


async def test_idle_minutes_configurable(db, monkeypatch):  # noqa: F811
    monkeypatch.setenv("TUI_BILLING_IDLE_MINUTES", "2")
    app = make_app(db)
    app.lock_checker = Checker()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.idle_lock.tick(now=time.monotonic() + 121)
        await settle(pilot)
        assert app.idle_lock.locked
    monkeypatch.setenv("TUI_BILLING_IDLE_MINUTES", "0")
    assert lock.idle_minutes() == 0
    monkeypatch.setenv("TUI_BILLING_IDLE_MINUTES", "soon")
    assert lock.idle_minutes() == lock.DEFAULT_IDLE_MINUTES


def test_the_default_checker_asks_pam():
    """The real PAM stack (login service) refuses a wrong password; it answers, it does not raise."""
    assert lock.pam_checker(os_user(), "not the password \u2603") is False
