"""hledger and ledger for the journal tests: installed when missing, never a silent skip.

CI runs as root on Debian, where `apt-get install -y hledger ledger` gives both. Elsewhere (no
root, no apt-get, no network) the tests that need them skip with a reason that says the journal
was NOT checked by that tool, and a warning in the summary says so too.
"""

from __future__ import annotations

import shutil
import warnings

import pytest

from apt_tools import apt_install


def _install() -> str:
    return apt_install(("hledger", "ledger"))


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
