"""A real headless Chromium and a throwaway OS account for the browser tests (issue 18).

Chromium and its driver come from Debian (`apt-get install chromium chromium-driver`, with nginx
and openssl for the TLS proxy example), installed here when missing (CI runs as root); Selenium
drives them through the system chromedriver, so nothing is downloaded at test time. Where that
cannot be done (no root, no apt-get) the tests skip with a reason that says the browser was NOT
tested, and a warning in the summary says so too; with ``TUI_BILLING_REQUIRE_BROWSER=1`` (set by
.ci/run) they fail instead, so CI never passes without them.

The OS account is made with useradd + chpasswd (root only) and removed afterwards: sign-in goes
through the real PAM stack, and the server really starts the app as that account.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from apt_tools import apt_install

PACKAGES = ("chromium", "chromium-driver", "nginx-light", "openssl")
#: The host name the TLS proxy test serves (mapped to 127.0.0.1 inside the test browser only).
PROXY_NAME = "billing.test"


def _cannot(message: str) -> None:
    """Skip loudly, or fail where the browser tests are required (CI)."""
    if os.environ.get("TUI_BILLING_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (TUI_BILLING_REQUIRE_BROWSER=1: the browser tests must run here)")
    warnings.warn(message, pytest.PytestWarning, stacklevel=3)
    pytest.skip(message)


def _install() -> str:
    return apt_install(PACKAGES)


def tool(name: str) -> str:
    """The path of a system tool from PACKAGES (nginx, openssl), installing them when missing."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if not found:
        why = _install()
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
        if not found:
            _cannot(f"{name} is NOT installed and could not be ({why}): the TLS proxy example was NOT tested")
    assert found is not None
    return found


def chromium() -> tuple[str, str]:
    """(chromium, chromedriver) paths, installing Debian's packages when missing, else a loud skip."""
    def found() -> tuple[str | None, str | None]:
        return shutil.which("chromium"), shutil.which("chromedriver")

    browser, driver = found()
    if browser and driver:
        return browser, driver
    why = _install()
    browser, driver = found()
    if browser and driver:
        return browser, driver
    _cannot(f"chromium/chromedriver are NOT installed and could not be ({why}): the browser was NOT tested")
    raise AssertionError("unreachable")


def headless_chrome(browser: str, driver: str):
    """A headless Chromium under Selenium, with the performance log for keydown timings."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,800",
                "--disable-gpu", "--no-first-run", "--disable-extensions",
                # the TLS proxy test: its throwaway certificate, and a name that is this machine
                "--ignore-certificate-errors", f"--host-resolver-rules=MAP {PROXY_NAME} 127.0.0.1"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def _can_run_us(name: str) -> None:
    """The app runs as the account: it must be able to run this interpreter and import the project."""
    entry = pwd.getpwnam(name)
    try:  # started the way the server starts the app (tui_billing/web/server.py), not through setpriv
        probe = subprocess.run([sys.executable, "-c", "import textual, textual_serve, tui_billing.app"],
                               capture_output=True, text=True, cwd="/", user=entry.pw_uid, group=entry.pw_gid,
                               extra_groups=os.getgrouplist(name, entry.pw_gid))
    except PermissionError as exc:
        probe = subprocess.CompletedProcess([], 126, "", str(exc))
    if probe.returncode != 0:
        _cannot(f"another OS account cannot run {sys.executable} with the project (a virtual environment in a "
                f"private directory such as /root?): the browser was NOT tested ({probe.stderr.strip()[-200:]})")


@contextmanager
def throwaway_account(prefix: str = "tbweb") -> Iterator[tuple[str, str]]:
    """(name, password) of a new OS account that exists only for the block."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        _cannot("not root (or no useradd): cannot make a throwaway OS account, so signing in through PAM "
                "and running the app as that account was NOT tested")
    name = f"{prefix}{secrets.token_hex(3)}"
    password = "Pw-" + secrets.token_urlsafe(12)
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True, capture_output=True)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
        _can_run_us(name)
        yield name, password
    finally:
        _remove_account(name)


def _processes_of(uid: int) -> list[int]:
    """Pids running as ``uid`` (the apps the server started for the account)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def _remove_account(name: str) -> None:
    """userdel refuses while the account runs anything: let its apps end (they are quitting), then remove it."""
    uid = pwd.getpwnam(name).pw_uid
    deadline = time.monotonic() + 10
    while _processes_of(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in _processes_of(uid):  # only this throwaway account's processes, each by its pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for _ in range(50):
        if subprocess.run(["userdel", name], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    warnings.warn(f"could not remove the throwaway account {name}: remove it with userdel", pytest.PytestWarning,
                  stacklevel=2)
