"""textual-serve's Server with a door: sign-in, sessions, origin checks, one OS user per tab.

textual-serve 1.1.3 serves any visitor and lets a page from any origin open its WebSocket, and
every tab's app runs as the server's account. :class:`BillingServer` subclasses its Server (the
routes, the static files and the app protocol are still textual-serve's) and adds:

- a sign-in page (``/login``) before anything else: every other path needs the session cookie
  (HttpOnly, SameSite=Strict, Secure and ``__Host-`` named behind TLS);
- a session ends after the idle lock's minutes without a key (``TUI_BILLING_IDLE_MINUTES``), and
  after 12 hours in any case; its tabs are closed, which ends their apps;
- the WebSocket is opened only by a page of this server's own origin (the ``Origin`` header, which
  a browser always sends and a page cannot forge) with a live session; requests for any other
  host name are refused (a DNS-rebinding page would name its own);
- each tab's app is ``python -m tui_billing --db BOOKS`` started as the signed-in OS account (the
  server runs as root for this, as sshd does), with an environment the server builds: nothing the
  browser sends can name the operator.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import secrets
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .accounts import THROTTLED, Account, SignIn

log = logging.getLogger("tui-billing.serve")

TEMPLATES = Path(__file__).parent / "templates"
#: Host names always served (the machine itself); a proxy's public name is added with --allow-host.
LOOPBACK = ("localhost", "127.0.0.1", "::1")
#: A session ends this long after sign-in even if it is never idle.
MAX_SESSION_S = 12 * 3600.0
#: Tabs (app processes) one session may hold open at once.
MAX_TABS = 4
#: What the app process is given from the server's environment (never TUI_BILLING_OPERATOR).
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "PYTHONPATH", "TUI_BILLING_TODAY", "TUI_BILLING_IDLE_MINUTES",
              "TUI_BILLING_PAM_SERVICE")
#: Every response: no framing (a framed page could be fed keys), no outside scripts or sockets.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: under it a browser sends `Origin: null` with the sign-in form, and the check below fails
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Session:
    """One signed-in browser: whose it is and when it was last used."""

    account: Account
    started: float
    seen: float
    sockets: set[web.WebSocketResponse] = field(default_factory=set)

    def expired(self, now: float, idle_s: float) -> bool:
        return now - self.started > MAX_SESSION_S or bool(idle_s and now - self.seen > idle_s)


#: Where the guard leaves the request's session for the handlers.
SESSION = web.RequestKey("session", Session)


class AccountAppService(AppService):
    """textual-serve's app process, started as the signed-in account with the server's environment."""

    def __init__(self, argv: list[str], account: Account, env: dict[str, str],
                 on_quit: Callable[[], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = argv
        self.account = account
        self.env = env
        self.on_quit = on_quit

    async def on_meta(self, data: bytes) -> None:
        try:
            quit_by_user = json.loads(data).get("type") == "exit"
        except (ValueError, AttributeError):
            quit_by_user = False
        if quit_by_user:  # the app quit (Ctrl+Q): the clerk is done, so their session ends before the page learns it
            await self.on_quit()
        await super().on_meta(data)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        served = super()._build_environment(width=width, height=height)
        # textual-serve copies the server's whole environment; the app gets only what it needs
        env = {k: v for k, v in served.items()
               if k.startswith("TEXTUAL") or k in ("COLUMNS", "ROWS", "TERM_PROGRAM", "TERM_PROGRAM_VERSION")}
        env.pop("TEXTUAL_FPS", None)  # the app's own frame rate (app.py), as over a terminal
        env.update(self.env)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        env = self._build_environment(width=width, height=height)
        account = self.account
        as_account: dict[str, Any] = {}
        if os.geteuid() == 0:  # otherwise accounts.SignIn lets only the server's own account in
            as_account = {"user": account.uid, "group": account.gid, "extra_groups": list(account.groups)}
        home = account.home if os.path.isdir(account.home) else "/"
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, cwd=home, start_new_session=True, **as_account)
        assert process.stdin is not None
        self._stdin = process.stdin
        return process


class BillingServer(Server):
    """Serves the billing screens of one set of books to signed-in browsers."""

    def __init__(self, db_path: Path, *, host: str = "127.0.0.1", port: int = 8000, behind_tls: bool = False,
                 allow_hosts: tuple[str, ...] = (), idle_minutes: float | None = None,
                 sign_in: SignIn | None = None) -> None:
        super().__init__("tui-billing", host=host, port=port, title="tui-billing", templates_path=TEMPLATES)
        from ..screens.lock import idle_minutes as configured

        self.db_path = db_path
        self.behind_tls = behind_tls
        self.scheme = "https" if behind_tls else "http"
        self.allowed_hosts = {h.lower().strip("[]") for h in (*LOOPBACK, host, *allow_hosts)}
        self.idle_s = 60 * (configured() if idle_minutes is None else idle_minutes)
        self.sign_in = sign_in or SignIn()
        self.cookie = "__Host-tb_session" if behind_tls else "tb_session"
        self.sessions: dict[str, Session] = {}
        # PAM (seconds on a wrong password) and the books' audit writes never run on the event loop
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="serve-auth")
        self._reaper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the aiohttp app

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.router.add_get("/login", self.handle_login_page)
        app.router.add_post("/login", self.handle_login)
        app.router.add_post("/logout", self.handle_logout)
        app.middlewares.append(self._guard)
        app.on_response_prepare.append(self._add_headers)
        return app

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """A known host name always; a live session for everything but the sign-in page and static files."""
        if (request.url.host or "").lower().strip("[]") not in self.allowed_hosts:
            log.warning("refused a request for host %r from %s", request.host, self._client(request))
            raise web.HTTPMisdirectedRequest(text="unknown host name (see tui-billing serve --allow-host)")
        if request.path == "/login" or request.path.startswith("/static/"):
            return await handler(request)
        session = self._session(request)
        if session is None:
            if request.path == "/ws":
                log.warning("refused a WebSocket without a session from %s", self._client(request))
                raise web.HTTPForbidden(text="sign in first")
            raise web.HTTPFound("/login")
        request[SESSION] = session
        return await handler(request)

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    async def on_startup(self, app: web.Application) -> None:
        self._reaper = asyncio.create_task(self._expire_sessions())
        self.console.print(f"tui-billing: serving {self.db_path} on {self.public_url} (sign-in required; Ctrl+C stops)",
                           highlight=False, markup=False)

    async def on_shutdown(self, app: web.Application) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for token in list(self.sessions):
            await self._end(token)
        self._threads.shutdown(wait=False)

    # ------------------------------------------------------------------ sessions

    def _client(self, request: web.Request) -> str:
        """The browser's address (behind the proxy: the one it forwarded last)."""
        forwarded = request.headers.get("X-Forwarded-For", "") if self.behind_tls else ""
        return (forwarded.rsplit(",", 1)[-1].strip() or request.remote or "?")[:64]

    def _origin(self, request: web.Request) -> str:
        return f"{self.scheme}://{request.host}"

    def _session(self, request: web.Request) -> Session | None:
        token = request.cookies.get(self.cookie, "")
        session = self.sessions.get(token)
        if session is None:
            return None
        now = time.monotonic()
        if session.expired(now, self.idle_s):
            asyncio.ensure_future(self._end(token))
            return None
        session.seen = now
        return session

    async def _end(self, token: str) -> None:
        session = self.sessions.pop(token, None)
        if session is not None:
            for socket in list(session.sockets):
                await socket.close(message=b"session ended")

    async def _expire_sessions(self) -> None:
        """Close sessions idle for the idle lock's minutes (their apps end with their sockets)."""
        every = min(15.0, max(0.5, self.idle_s / 4)) if self.idle_s else 15.0
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for token, session in list(self.sessions.items()):
                if session.expired(now, self.idle_s):
                    log.info("session of %s expired", session.account.name)
                    await self._end(token)

    # ------------------------------------------------------------------ sign-in

    def _login_html(self, message: str = "") -> str:
        note = f'<p class="msg" role="alert">{html.escape(message)}</p>' if message else ""
        return LOGIN_PAGE.replace("{message}", note)

    async def handle_login_page(self, request: web.Request) -> web.Response:
        return web.Response(text=self._login_html(), content_type="text/html")

    async def handle_login(self, request: web.Request) -> web.Response:
        # a form posted from another site's page signs nobody in (login CSRF)
        if request.headers.get("Origin") != self._origin(request):
            raise web.HTTPForbidden(text="sign in from this server's own page")
        form = await request.post()
        name, password = str(form.get("user", "")), str(form.get("password", ""))
        client = self._client(request)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._threads, self.sign_in.attempt, name, password, client)
        if isinstance(result, str):
            return web.Response(text=self._login_html(result), content_type="text/html",
                                status=429 if result == THROTTLED else 401)
        token = secrets.token_urlsafe(32)  # a new token at every sign-in: a planted one is never promoted
        now = time.monotonic()
        self.sessions[token] = Session(result, now, now)
        response = web.HTTPFound("/")
        response.set_cookie(self.cookie, token, httponly=True, samesite="Strict", secure=self.behind_tls, path="/")
        raise response

    async def handle_logout(self, request: web.Request) -> web.Response:
        await self._end(request.cookies.get(self.cookie, ""))
        response = web.HTTPFound("/login")
        response.del_cookie(self.cookie, path="/")
        raise response

    # ------------------------------------------------------------------ the app page and its socket

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        # URLs from the address the browser used: the cookie is only sent back to that same host
        origin = self._origin(request)
        socket_scheme = "wss" if self.behind_tls else "ws"
        return {"font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"{socket_scheme}://{request.host}/ws",
                "config": {"static": {"url": f"{origin}/static/"}},
                "application": {"name": "tui-billing"}}

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        session = request[SESSION]
        origin = request.headers.get("Origin")
        if origin != self._origin(request):
            log.warning("refused a WebSocket from origin %r (%s) at %s", origin, session.account.name,
                        self._client(request))
            raise web.HTTPForbidden(text="a page from another origin may not open the billing screens")
        if len(session.sockets) >= MAX_TABS:
            raise web.HTTPTooManyRequests(text=f"at most {MAX_TABS} tabs per sign-in")
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: AccountAppService | None = None
        try:
            await websocket.prepare(request)
            session.sockets.add(websocket)
            token = self._token_of(session)
            service = AccountAppService(
                self.app_argv(), session.account, self.app_env(session.account), lambda: self._end(token),
                write_bytes=websocket.send_bytes, write_str=websocket.send_str, close=websocket.close,
                download_manager=self.download_manager, debug=self.debug)
            await service.start(width, height)
            try:
                await self._process_messages(websocket, service, session)
            finally:
                await service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:
            log.exception(error)
        finally:
            session.sockets.discard(websocket)
            if service is not None:
                await service.stop()
        return websocket

    def _token_of(self, session: Session) -> str:
        return next((token for token, held in self.sessions.items() if held is session), "")

    async def _process_messages(self, websocket: web.WebSocketResponse, app_service: AppService,
                                session: Session | None = None) -> None:
        """As textual-serve's, but a key keeps the session alive and a malformed message is dropped."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                kind, data = message.json()
            except (ValueError, TypeError):
                continue
            if kind == "stdin" and isinstance(data, str):
                if session is not None:
                    session.seen = time.monotonic()
                await app_service.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(to_int(str(data.get("width")), 80),
                                                    to_int(str(data.get("height")), 24))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()

    def app_argv(self) -> list[str]:
        return [sys.executable, "-m", "tui_billing", "--db", str(self.db_path)]

    def app_env(self, account: Account) -> dict[str, str]:
        """Built here, from the account and the server's settings: the operator is the process's uid."""
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": account.home, "USER": account.name,
               "LOGNAME": account.name, "SHELL": "/bin/sh", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "TUI_BILLING_DB": str(self.db_path)}
        env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
        return env


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tui-billing: sign in</title>
<style>
  body { background: #0c181f; color: #eee; font-family: monospace; display: flex; justify-content: center;
         align-items: center; height: 100vh; margin: 0; }
  form { background: #12232d; padding: 2em 3em; border: 2px solid #5e0ba7; }
  label { display: block; margin-top: 1em; }
  input { font: inherit; width: 20em; padding: .3em; }
  button { font: inherit; margin-top: 1.5em; padding: .4em 2em; background: #5e0ba7; color: #fff; border: 0; }
  .msg { color: #ff8080; }
</style>
</head>
<body>
<form method="post" action="/login" autocomplete="off">
  <h1>tui-billing</h1>
  <p>Sign in with your own account on this server.</p>
  {message}
  <label for="user">User</label>
  <input id="user" name="user" autofocus autocapitalize="none" spellcheck="false" required>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required>
  <button id="sign-in" type="submit">Sign in</button>
</form>
</body>
</html>
"""
