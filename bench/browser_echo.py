"""Key echo in the browser (`tui-billing serve` + headless Chromium) beside the same app over a pty.

Browser: in the page, from the ``keydown`` of the character (``performance.now()``) to

- ``message``: the WebSocket message that carries the character back (server, app, network), and
- ``painted``: the end of the first animation frame requested after that message, the frame in
  which xterm.js draws it (its renderer paints in requestAnimationFrame).

The pty figure is bench/tui_keys.py's: writing the character to the terminal until it comes back
in the app's output (no terminal emulator paints it). Both type into the charge form's first
diagnosis field of the same small test book, Backspace (untimed) between samples.

Needs root (a throwaway OS account signs in through PAM and the app runs as it) and Debian's
chromium + chromium-driver: ``sudo .venv/bin/python bench/browser_echo.py [--samples 60]``.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench`, `tui_billing` and the test tools importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench.tui_keys import ECHO_CHAR, QUIT, READY_MARK, _echo_samples, _env, _pct, _term  # noqa: E402

TODAY = "2026-11-26"
CHAR = ECHO_CHAR.decode()

#: Before the page's scripts: the output as text, and the echo timings (see the module docstring).
PAGE_JS = """
(() => {
  const Native = window.WebSocket;
  const echo = window.__echo = {armed: false, t0: 0, got: 0, paint: 0};
  window.__tb = {out: ""};
  document.addEventListener("keydown", (e) => {
    if (echo.armed && e.key === "__CHAR__" && !echo.t0) echo.t0 = performance.now();
  }, true);
  const nativeRaf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) => {
    const after = echo.got > 0 && !echo.paint;  // requested once the echo arrived: xterm's render
    return nativeRaf((ts) => { cb(ts); if (after && !echo.paint) echo.paint = performance.now(); });
  };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const decoder = new TextDecoder();
      this.addEventListener("message", (e) => {
        const text = typeof e.data === "string" ? e.data : decoder.decode(e.data, {stream: true});
        window.__tb.out += text;
        if (echo.armed && echo.t0 && !echo.got && text.includes("__CHAR__")) echo.got = performance.now();
      });
    }
  };
})();
""".replace("__CHAR__", CHAR)


def _book(folder: Path, account: str) -> Path:
    """A small test book where ``account`` is a clerk with an open batch (the form shows first)."""
    os.environ["TUI_BILLING_TODAY"] = TODAY
    os.environ["TUI_BILLING_OPERATOR"] = "admin1"
    from tui_billing.store import close_database, identity, open_database, roles
    from tui_billing.store import operations as op

    identity.make_new_books_test_books(True)
    path = folder / "books.db"
    open_database(path)
    op.set_practice("Maple Family Medicine")
    op.add_provider("JS", "Jane Smith MD", "1234567893")
    op.set_procedure("99213", "Office visit est, low", 12000)
    op.add_patient("A1002", "Smith", "John", "1980-05-06", "M")
    roles.grant(account, "clerk")
    os.environ["TUI_BILLING_OPERATOR"] = account
    op.open_batch("charge", 10, 100000)
    close_database()
    del os.environ["TUI_BILLING_OPERATOR"]
    entry = pwd.getpwnam(account)
    for file in folder.iterdir():
        os.chown(file, entry.pw_uid, entry.pw_gid)
    return path


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.01)
    raise TimeoutError(what)


def browser_echo(base: str, account: str, password: str, samples: int) -> tuple[list[float], list[float]]:
    from browser_tools import chromium, headless_chrome
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    chrome = headless_chrome(*chromium())
    try:
        chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PAGE_JS})
        chrome.get(base + "/login")
        chrome.find_element(By.ID, "user").send_keys(account)
        chrome.find_element(By.ID, "password").send_keys(password)
        chrome.find_element(By.ID, "sign-in").click()
        out = lambda: chrome.execute_script("return window.__tb.out")  # noqa: E731
        _wait(lambda: READY_MARK.decode() in out(), 60, "the form")
        chrome.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").click()
        time.sleep(4.0)  # as bench/tui_keys.py: the ICD-10 tables finish loading in their thread
        ActionChains(chrome).send_keys(Keys.TAB * 5).perform()  # to the first diagnosis field
        time.sleep(0.3)
        message, painted = [], []
        for _ in range(samples):
            chrome.execute_script("Object.assign(window.__echo, {armed: true, t0: 0, got: 0, paint: 0})")
            ActionChains(chrome).send_keys(CHAR).perform()
            timing = _wait(lambda: chrome.execute_script("const e = window.__echo; return e.paint && e;"), 5, "echo")
            message.append(timing["got"] - timing["t0"])
            painted.append(timing["paint"] - timing["t0"])
            chrome.execute_script("window.__echo.armed = false")
            ActionChains(chrome).send_keys(Keys.BACKSPACE).perform()
            time.sleep(0.05)
        return message, painted
    finally:
        chrome.quit()


def pty_echo(db: Path, account: str, samples: int) -> list[float]:
    env = _env({"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": account})
    term = _term([sys.executable, "-m", "tui_billing", "--db", str(db)], env)
    try:
        term.wait_for(b"control ", new_only=False)
        time.sleep(4.0)
        term.drain(0.2, limit=2.0)
        term.send(b"\t" * 5)
        term.drain(0.2, limit=2.0)
        return _echo_samples(term, samples)
    finally:
        term.close(QUIT)


def _figures(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(_pct(values, 95), 2), "n": len(values)}


def measure(samples: int = 60) -> dict:
    from browser_tools import throwaway_account

    with throwaway_account("tbbench") as (account, password):
        folder = Path(tempfile.mkdtemp(prefix="tb-echo-"))
        folder.chmod(0o711)
        server = None
        try:
            db = _book(folder, account)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            env = {k: v for k, v in os.environ.items() if k != "TUI_BILLING_OPERATOR"}
            env["TUI_BILLING_TODAY"] = TODAY
            server = subprocess.Popen([sys.executable, "-m", "tui_billing", "--db", str(db), "serve", "--port",
                                       str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 30, "the server")
            message, painted = browser_echo(f"http://127.0.0.1:{port}", account, password, samples)
            server.terminate()
            server.wait(15)
            server = None
            pty = pty_echo(db, account, samples)
        finally:
            if server is not None:
                server.kill()
            shutil.rmtree(folder, ignore_errors=True)
    result = {"browser_message": _figures(message), "browser_painted": _figures(painted), "pty": _figures(pty)}
    result["ratio_painted_to_pty_p50"] = round(result["browser_painted"]["p50_ms"] / result["pty"]["p50_ms"], 2)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    print(json.dumps(measure(parser.parse_args().samples), indent=2))
