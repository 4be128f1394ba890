"""Issue 18: the billing screens in a real headless Chromium, behind `tui-billing serve`.

One server, one browser and one throwaway OS account for the whole module (see browser_tools.py):
sign in through PAM, key an encounter with F-keys and Ctrl+S, and find it on the day sheet under
the signed-in account; a page from another origin, a client without a session and a wrong
password are refused, and the refusal is audited.
"""

from __future__ import annotations

import asyncio
import csv
import http.server
import io
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import browser_tools  # noqa: E402

from tui_billing.store import close_database, open_database, roles  # noqa: E402
from tui_billing.store import operations as op  # noqa: E402
from tui_billing.store.operations import CoverageIn  # noqa: E402

TODAY = "2026-11-26"
READY = "Total 0.00"  # painted once the charge form takes keys (as bench/tui_keys.py waits for)

#: Run in every page before its own scripts: keeps what the server sent (text), what the page sent as
#: keys, and each keydown with whether the page kept it from the browser (after the terminal saw it).
TAP_JS = """
(() => {
  const Native = window.WebSocket;
  window.__tb = {out: "", opened: 0, closed: 0, sent: "", keys: []};
  // captured before the terminal sees it; read after (the terminal also stops it from bubbling)
  window.addEventListener("keydown", (e) => { window.__tb.keys.push(e); }, true);
  window.WebSocket = class extends Native {
    send(data) {
      try { const m = JSON.parse(data); if (m[0] === "stdin") window.__tb.sent += m[1]; } catch (e) {}
      return super.send(data);
    }
    constructor(...args) {
      super(...args);
      const decoder = new TextDecoder();
      this.addEventListener("open", () => { window.__tb.opened++; });
      this.addEventListener("close", () => { window.__tb.closed++; });
      this.addEventListener("message", (e) => {
        window.__tb.out += typeof e.data === "string" ? e.data : decoder.decode(e.data, {stream: true});
      });
    }
  };
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="module")
def account() -> Iterator[tuple[str, str]]:
    with browser_tools.throwaway_account() as made:
        yield made


@pytest.fixture(scope="module")
def books(account) -> Iterator[Path]:
    """A test book the account may post in (a clerk with an open batch of its own), owned by it."""
    name, _ = account
    folder = Path(tempfile.mkdtemp(prefix="tb-web-"))
    folder.chmod(0o711)  # the app process runs as the account: it must reach the file
    path = folder / "books.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUI_BILLING_TODAY", TODAY)
        mp.setenv("TUI_BILLING_OPERATOR", "admin1")
        open_database(path)
        try:
            op.set_practice("Maple Family Medicine")
            op.add_provider("JS", "Jane Smith MD", "1234567893")
            bcbs = op.add_payer("BCBS", "Blue Cross", "commercial")
            op.set_procedure("99213", "Office visit est, low", 12000)
            op.add_patient("A1002", "Smith", "John", "1980-05-06", "M", coverages=[CoverageIn(bcbs, "XYZ1")])
            roles.grant(name, "clerk")
            mp.setenv("TUI_BILLING_OPERATOR", name)
            op.open_batch("charge", 1, 12000)
        finally:
            close_database()
    entry = pwd.getpwnam(name)
    for file in folder.iterdir():
        os.chown(file, entry.pw_uid, entry.pw_gid)
    yield path
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def serving(books: Path, *args: str, idle_minutes: str = "10", port: int | None = None) -> Iterator[int]:
    """`tui-billing serve` on a free loopback port, as root (it starts each app as the signed-in user)."""
    port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if k != "TUI_BILLING_OPERATOR"}
    env.update({"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_IDLE_MINUTES": idle_minutes})
    log_path = books.parent / f"serve-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "tui_billing", "--db", str(books), "serve", "--port", str(port),
                             *args], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError("serve exited: " + log_path.read_text())
        return _listening(port)

    try:
        _wait_for(listening, 30, "tui-billing serve to listen")
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(books) -> Iterator[str]:
    with serving(books) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def chrome():
    browser, driver = browser_tools.chromium()
    session = browser_tools.headless_chrome(browser, driver)
    session.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TAP_JS})
    yield session
    session.quit()


def _readme_nginx_block() -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    return readme.split("```nginx\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def tls_proxy(books) -> Iterator[str]:
    """The README's nginx example, run: TLS on a free port in front of a `serve --behind-tls`."""
    nginx, openssl = browser_tools.tool("nginx"), browser_tools.tool("openssl")
    name = browser_tools.PROXY_NAME
    folder = books.parent / "proxy"
    folder.mkdir()
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")], check=True,
                   capture_output=True)
    app_port, tls_port = _free_port(), _free_port()
    block = _readme_nginx_block()
    for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;"),
                     ("server_name billing.example.org;", f"server_name {name};"),
                     ("/etc/ssl/billing.example.org/fullchain.pem", str(folder / "cert.pem")),
                     ("/etc/ssl/billing.example.org/privkey.pem", str(folder / "key.pem")),
                     ("proxy_pass http://127.0.0.1:8000;", f"proxy_pass http://127.0.0.1:{app_port};")):
        assert old in block, f"the README's nginx example no longer has {old!r}"
        block = block.replace(old, new)
    conf = folder / "nginx.conf"
    conf.write_text(f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nevents {{ worker_connections 64; }}\n"
                    f"http {{\n  access_log off;\n{block}}}\n")
    with serving(books, "--behind-tls", "--allow-host", name, port=app_port):
        started = subprocess.run([nginx, "-c", str(conf)], capture_output=True, text=True)
        assert started.returncode == 0, started.stderr
        try:
            _wait_for(lambda: _listening(tls_port), 30, "nginx to listen")
            yield f"https://{name}:{tls_port}"
        finally:
            subprocess.run([nginx, "-c", str(conf), "-s", "quit"], capture_output=True)


def sign_in(chrome, base: str, name: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    chrome.execute_cdp_cmd("Network.clearBrowserCookies", {})  # every site's: the last test may have left another page
    chrome.get(base + "/")
    assert chrome.current_url == base + "/login", "the screens were shown before signing in"
    chrome.find_element(By.ID, "user").send_keys(name)
    chrome.find_element(By.ID, "password").send_keys(password)
    chrome.find_element(By.ID, "sign-in").click()


def screen_text(chrome) -> str:
    return chrome.execute_script("return window.__tb ? window.__tb.out : ''")


def wait_screen(chrome, text: str, timeout: float = 60) -> None:
    try:
        _wait_for(lambda: text in screen_text(chrome), timeout, f"{text!r} on the screen")
    except AssertionError as exc:  # say what the browser had instead
        raise AssertionError(f"{exc}; at {chrome.current_url}, the screen's last output: {screen_text(chrome)[-600:]!r}; "
                             f"page: {chrome.page_source[:300]!r}") from None


def _read(books: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(f"file:{books}?mode=ro", uri=True) as con:
        return con.execute(sql, params).fetchall()


def test_sign_in_key_an_encounter_and_the_day_sheet_names_the_account(server, books, account, chrome):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    name, password = account
    sign_in(chrome, server, name, password)
    wait_screen(chrome, READY)
    wait_screen(chrome, name)  # the header names the operator: the account, not the server's root
    chrome.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").click()
    before = _read(books, "SELECT COUNT(*) FROM encounter")[0][0]
    burst = ActionChains(chrome)
    for text in ("A1002", Keys.ENTER, "js", Keys.ENTER, "t", Keys.ENTER, Keys.ENTER, Keys.ENTER, "E11.9"):
        burst.send_keys(text)
    mark = len(screen_text(chrome))
    burst.perform()
    # as a clerk would: the code's description shows once the code set has loaded (a first start)
    _wait_for(lambda: "diabetes" in screen_text(chrome)[mark:], 60, "E11.9's description")
    burst = ActionChains(chrome)
    for text in (Keys.ENTER, Keys.ENTER, "99213", Keys.ENTER):
        burst.send_keys(text)
    burst.key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()  # Ctrl+S saves
    try:
        _wait_for(lambda: _read(books, "SELECT COUNT(*) FROM encounter")[0][0] > before, 30, "the encounter to be saved")
    except AssertionError:
        chrome.get_screenshot_as_file(os.environ.get("TB_SHOT", "/dev/null"))
        raise
    rows = _read(books, "SELECT e.operator, c.code, c.amount FROM encounter e JOIN charge c ON c.encounter_id = e.id "
                        "ORDER BY e.id DESC LIMIT 1")
    assert rows == [(name, "99213", 12000)]
    mark = len(screen_text(chrome))
    ActionChains(chrome).send_keys(Keys.F1).perform()  # an F-key reaches the app: the keyboard map
    _wait_for(lambda: "Keyboard map" in screen_text(chrome)[mark:], 30, "F1's keyboard map")
    ActionChains(chrome).key_down(Keys.CONTROL).send_keys("q").key_up(Keys.CONTROL).perform()  # quit signs out
    _wait_for(lambda: chrome.execute_script("return window.__tb.closed"), 30, "the app to end")
    chrome.get(server + "/")
    assert chrome.current_url == server + "/login"

    env = {k: v for k, v in os.environ.items() if k != "TUI_BILLING_OPERATOR"}
    env["TUI_BILLING_TODAY"] = TODAY
    report = subprocess.run([sys.executable, "-m", "tui_billing", "--db", str(books), "report", "daysheet",
                             "--date", TODAY, "--format", "csv"], capture_output=True, text=True, env=env, timeout=60)
    assert report.returncode == 0, report.stderr
    entries = [r for r in csv.reader(io.StringIO(report.stdout)) if len(r) == 8 and r[0] == "charge"]  # the Entries table
    assert entries and {r[2] for r in entries} == {name}, report.stdout
    # the server (root) writes sign-in events into the same books: it must leave no file the clerk cannot open
    uid = pwd.getpwnam(name).pw_uid
    assert {f.name: f.stat().st_uid for f in books.parent.glob("books.db*")} == \
        {f.name: uid for f in books.parent.glob("books.db*")}
    check = subprocess.run([sys.executable, "-m", "tui_billing", "--db", str(books), "check"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr  # the audit chain holds across both writers


#: The keyboard contract's keys and what the terminal in the page sends the app for each.
CONTRACT_KEYS = [("F1", "\x1bOP"), ("F2", "\x1bOQ"), ("F3", "\x1bOR"), ("F4", "\x1bOS"), ("F5", "\x1b[15~"),
                 ("F6", "\x1b[17~"), ("F7", "\x1b[18~"), ("F8", "\x1b[19~"), ("F9", "\x1b[20~"), ("F10", "\x1b[21~"),
                 ("ctrl+s", "\x13"), ("ctrl+p", "\x10"), ("ctrl+d", "\x04"), ("ctrl+o", "\x0f"), ("ctrl+g", "\x07"),
                 ("shift+tab", "\x1b[Z"), ("ctrl+q", "\x11")]


def test_the_keyboard_contract_goes_to_the_screen_not_the_browser(server, account, chrome):
    """Each key becomes the app's input, and the page cancels its keydown, so the browser does not also
    act on it (print for Ctrl+P, save for Ctrl+S, reload for F5, bookmark for Ctrl+D...). Keys a browser
    never gives a page (Ctrl+W, Ctrl+T, Ctrl+N) are in the README with what to use instead."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    name, password = account
    sign_in(chrome, server, name, password)
    wait_screen(chrome, READY)
    chrome.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").click()
    chrome.execute_script("window.__tb.sent = ''; window.__tb.keys = [];")
    chain = ActionChains(chrome)
    for key, _ in CONTRACT_KEYS:  # nothing is answered yes and nothing is saved: every step asks or refuses
        *mods, base = key.split("+")
        held = [{"ctrl": Keys.CONTROL, "shift": Keys.SHIFT}[m] for m in mods]
        for m in held:
            chain.key_down(m)
        chain.send_keys(getattr(Keys, base.upper()) if len(base) > 1 else base)
        for m in reversed(held):
            chain.key_up(m)
    chain.perform()
    expected = "".join(seq for _, seq in CONTRACT_KEYS)
    _wait_for(lambda: expected in chrome.execute_script("return window.__tb.sent"), 10, "every key sent")
    keys = [k for k in chrome.execute_script("return window.__tb.keys.map(e => [e.key, e.defaultPrevented])")
            if k[0] not in ("Control", "Shift")]
    assert len(keys) == len(CONTRACT_KEYS)
    assert [k for k in keys if not k[1]] == [], "a key the browser would also act on"
    chrome.get("about:blank")  # the tab closes: its app ends


def test_a_page_from_another_origin_cannot_open_the_screens(server, account, chrome):
    """Same host, another port: the browser sends the session cookie along (cookies ignore ports),
    so only the Origin check stands between that page and the books."""
    name, password = account
    sign_in(chrome, server, name, password)
    wait_screen(chrome, READY)
    page = f"""<!DOCTYPE html><script>
      window.result = "pending";
      const ws = new WebSocket("{server.replace('http', 'ws')}/ws?width=80&height=24");
      ws.onopen = () => {{ window.result = "open"; }};
      ws.onclose = (e) => {{ if (window.result === "pending") window.result = "refused"; }};
    </script>"""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (the http.server name)
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        chrome.get(f"http://127.0.0.1:{other.server_address[1]}/")
        result = _wait_for(lambda: chrome.execute_script("return window.result") != "pending"
                           and chrome.execute_script("return window.result"), 20, "the socket to open or close")
    finally:
        other.shutdown()
    assert result == "refused"
    assert "tb_session" not in chrome.execute_script("return document.cookie")  # HttpOnly: no page reads it


def test_a_client_without_a_session_or_from_another_origin_is_refused(server, account):
    import aiohttp

    name, password = account

    async def probe() -> dict[str, object]:
        seen: dict[str, object] = {}
        # unsafe: aiohttp's jar otherwise keeps no cookie for an IP address such as 127.0.0.1
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
            async with client.get(server + "/", allow_redirects=False) as r:
                seen["page"] = (r.status, r.headers.get("Location"))
            for label, headers in (("no session", {"Origin": server}),):
                try:
                    async with client.ws_connect(server + "/ws", headers=headers):
                        seen[label] = "open"
                except aiohttp.WSServerHandshakeError as exc:
                    seen[label] = exc.status
            async with client.post(server + "/login", data={"user": name, "password": password},
                                   headers={"Origin": server}, allow_redirects=False) as r:
                seen["login"] = r.status
                cookie = r.headers.get("Set-Cookie", "")
                seen["cookie"] = cookie
            for label, origin in (("evil origin", "http://evil.example"), ("no origin", None),
                                  ("other port", server.rsplit(":", 1)[0] + ":1")):
                headers = {"Origin": origin} if origin else {}
                try:
                    async with client.ws_connect(server + "/ws", headers=headers):
                        seen[label] = "open"
                except aiohttp.WSServerHandshakeError as exc:
                    seen[label] = exc.status
            async with client.ws_connect(server + "/ws", headers={"Origin": server}) as ws:
                seen["own origin"] = "open"
                await ws.close()
        return seen

    seen = asyncio.run(probe())
    assert seen["page"] == (302, "/login")
    assert seen["no session"] == 403
    assert seen["login"] == 302
    cookie = str(seen["cookie"]).lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert seen["evil origin"] == 403 and seen["no origin"] == 403 and seen["other port"] == 403
    assert seen["own origin"] == "open"


def test_a_wrong_password_is_refused_and_audited(server, books, account, chrome):
    from selenium.webdriver.common.by import By

    name, password = account
    before = _read(books, "SELECT COALESCE(MAX(id), 0) FROM audit_event")[0][0]
    sign_in(chrome, server, name, password + "x")
    _wait_for(lambda: chrome.find_elements(By.CSS_SELECTOR, ".msg"), 30, "the refusal")
    assert "Sign-in refused" in chrome.find_element(By.CSS_SELECTOR, ".msg").text
    assert not [c for c in chrome.get_cookies() if c["name"] == "tb_session"]
    chrome.get(server + "/")
    assert chrome.current_url == server + "/login"
    events = _read(books, "SELECT user, action, detail FROM audit_event WHERE id > ? AND action LIKE 'web_login%'",
                   (before,))
    assert len(events) == 1
    user, action, detail = events[0]
    assert action == "web_login_failed" and user == "root"
    assert json.loads(detail)["login"] == name and json.loads(detail)["why"] == "wrong password"


def test_through_the_readmes_tls_proxy_the_cookie_is_secure(tls_proxy, books, account, chrome):
    name, password = account
    before = _read(books, "SELECT COALESCE(MAX(id), 0) FROM audit_event")[0][0]
    sign_in(chrome, tls_proxy, name, password)
    wait_screen(chrome, READY)
    cookies = [c for c in chrome.get_cookies() if "tb_session" in c["name"]]
    assert [(c["name"], c["secure"], c["httpOnly"], c["sameSite"]) for c in cookies] == \
        [("__Host-tb_session", True, True, "Strict")]
    events = _read(books, "SELECT detail FROM audit_event WHERE id > ? AND action = 'web_login'", (before,))
    assert [json.loads(d)["client"] for d, in events] == ["127.0.0.1"]  # the proxy's X-Forwarded-For


def test_a_session_idle_for_the_lock_minutes_is_closed_and_signed_out(books, account, chrome):
    """With the idle lock at 12 seconds: the screen is closed (its app ends) and the next visit signs in again."""
    name, password = account
    with serving(books, idle_minutes="0.2") as port:
        base = f"http://127.0.0.1:{port}"
        sign_in(chrome, base, name, password)
        _wait_for(lambda: chrome.execute_script("return window.__tb.opened"), 30, "the screen to open")
        _wait_for(lambda: chrome.execute_script("return window.__tb.closed"), 60, "the idle session to be closed")
        chrome.get(base + "/")
        assert chrome.current_url == base + "/login"
        assert f"session of {name} expired" in (books.parent / f"serve-{port}.log").read_text()
