"""hledger and ledger for the journal tests: installed when missing, never a silent skip.

CI runs as root on Debian, where `apt-get install -y hledger ledger` gives both. Elsewhere (no
root, no apt-get, no network) the tests that need them skip with a reason that says the journal
was NOT checked by that tool, and a warning in the summary says so too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import pytest

_tried: dict[str, str] = {}


def _install() -> str:
    """Try once per session; returns why it failed ("" when it ran)."""
    if "result" in _tried:
        return _tried["result"]
    apt = shutil.which("apt-get")
    if apt is None:
        why = "no apt-get on this machine"
    elif os.geteuid() != 0:
        why = "not root, so apt-get cannot install it"
    else:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run = subprocess.run([apt, "install", "-y", "-q", "hledger", "ledger"], capture_output=True, text=True,
                             env=env, timeout=600)
        if run.returncode != 0:  # a fresh container has no package lists yet
            subprocess.run([apt, "update", "-q"], capture_output=True, text=True, env=env, timeout=600)
            run = subprocess.run([apt, "install", "-y", "-q", "hledger", "ledger"], capture_output=True, text=True,
                                 env=env, timeout=600)
        why = "" if run.returncode == 0 else f"apt-get install failed: {run.stderr.strip()[-300:]}"
    _tried["result"] = why
    return why


def require(tool: str) -> str:
    """The path of ``tool`` (hledger or ledger), installing both if needed, else a loud skip."""
    found = shutil.which(tool)
    if found:
        return found
    why = _install()
    found = shutil.which(tool)
    if found:
        return found
    message = f"{tool} is NOT installed and could not be installed ({why}): the journal was NOT checked by {tool}"
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)
