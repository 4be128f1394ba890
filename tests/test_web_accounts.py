"""Issue 18 without a browser: who may sign in, the brake on guessing, session expiry, `serve`'s refusals.

The password check itself is PAM's (exercised for real in test_web_serve.py); here a checker that
knows one password stands in for it, so the rules around it can be driven quickly.
"""

from __future__ import annotations

import asyncio
import json
import time

from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import database, roles
from tui_billing.web import accounts
from tui_billing.web.accounts import REFUSED, THROTTLED, Account, SignIn, Throttle


def test_the_throttle_blocks_after_the_limit_and_forgets_after_the_window():
    throttle = Throttle(limit=3, window_s=60)
    keys = ("user:ann", "client:10.0.0.9")
    for i in range(3):
        assert not throttle.blocked(keys, now=100.0 + i)
        throttle.failed(keys, now=100.0 + i)
    assert throttle.blocked(keys, now=103.0)
    assert throttle.blocked(("user:bob", "client:10.0.0.9"), now=103.0)  # the same client guessing another name
    assert not throttle.blocked(("user:bob", "client:10.0.0.7"), now=103.0)
    assert not throttle.blocked(keys, now=163.0)  # the window has passed the first failures


def _events(action: str) -> list[dict]:
    rows = database.execute_sql("SELECT user, detail FROM audit_event WHERE action = ? ORDER BY id", (action,)).fetchall()
    return [{"by": user, **json.loads(detail)} for user, detail in rows]


def test_failures_are_audited_then_throttled_without_asking_pam(db):
    asked: list[str] = []

    def checker(user: str, password: str) -> bool:
        asked.append(password)
        return password == "right"

    sign_in = SignIn(checker, Throttle(limit=accounts.MAX_FAILURES), only=None)  # as a root server
    for _ in range(accounts.MAX_FAILURES):
        assert sign_in.attempt("nobody", "wrong", "10.0.0.9") == REFUSED
    assert sign_in.attempt("nobody", "right", "10.0.0.9") == THROTTLED  # even the right password, for now
    assert len(asked) == accounts.MAX_FAILURES
    failed = _events("web_login_failed")
    assert [e["why"] for e in failed] == ["wrong password"] * accounts.MAX_FAILURES
    assert {e["login"] for e in failed} == {"nobody"} and {e["client"] for e in failed} == {"10.0.0.9"}
    assert [e["login"] for e in _events("web_login_throttled")] == ["nobody"]
    # another address may still sign in with the right password: the throttle keys the client too,
    # but the account's own failures count as well, so it waits
    assert sign_in.attempt("nobody", "right", "10.0.0.7") == THROTTLED


def test_who_is_refused_and_why_is_audited(db):
    sign_in = SignIn(lambda user, password: password == "right", only=None)  # as a root server
    # each from its own address: five failures from one would throttle it (the test above)
    assert sign_in.attempt("root", "right", "c1") == REFUSED
    assert sign_in.attempt("no-such-account-here", "right", "c2") == REFUSED
    assert sign_in.attempt("nobody", "", "c3") == REFUSED
    assert sign_in.attempt("nobody\x1b[2J", "right", "c4") == REFUSED  # a control character is no name
    roles.grant("nobody", "none")  # revoked in these books: may not sign in
    assert sign_in.attempt("nobody", "right", "c5") == REFUSED
    whys = [e["why"] for e in _events("web_login_failed")]
    assert whys == ["root may not sign in", "no such account", "name or password empty", "name or password empty",
                    "no role in these books"]
    roles.grant("nobody", "clerk")
    got = sign_in.attempt("nobody", "right", "c")
    assert isinstance(got, Account) and got.name == "nobody" and got.uid == 65534 and got.role == "clerk"
    assert [(e["login"], e["role"]) for e in _events("web_login")] == [("nobody", "clerk")]


def test_a_server_not_run_as_root_lets_only_its_own_account_in(db):
    sign_in = SignIn(lambda user, password: True, only="daemon")
    assert sign_in.attempt("nobody", "right", "c") == REFUSED
    assert [e["why"] for e in _events("web_login_failed")] == [
        "the server runs as daemon, not root, and can start the screens only as daemon"]


def test_a_session_idle_past_the_lock_minutes_is_signed_out(db, tmp_path):
    from aiohttp import CookieJar
    from aiohttp.test_utils import TestClient, TestServer

    from tui_billing.web.server import BillingServer, Session

    server = BillingServer(db, idle_minutes=0.5 / 60)  # half a second
    account = Account("nobody", 65534, 65534, (65534,), "/", "clerk")

    async def probe() -> tuple[int, int, str | None, str]:
        client = TestClient(TestServer(await server._make_app(), host="127.0.0.1"), cookie_jar=CookieJar(unsafe=True))
        await client.start_server()
        try:
            now = time.monotonic()
            server.sessions["tok"] = Session(account, now, now)
            client.session.cookie_jar.update_cookies({"tb_session": "tok"})
            fresh = await client.get("/", allow_redirects=False)
            await asyncio.sleep(0.8)
            stale = await client.get("/", allow_redirects=False)
            headers = fresh.headers.get("X-Frame-Options", "") + " " + fresh.headers.get("Content-Security-Policy", "")
            return fresh.status, stale.status, stale.headers.get("Location"), headers
        finally:
            await client.close()

    fresh, stale, location, headers = asyncio.run(probe())
    assert fresh == 200 and (stale, location) == (302, "/login")
    assert "tok" not in server.sessions
    assert "DENY" in headers and "frame-ancestors 'none'" in headers


def test_serve_refuses_plain_http_off_loopback(db):
    result = CliRunner().invoke(main, ["--db", str(db), "serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1 and "TLS proxy" in result.output
