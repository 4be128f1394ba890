"""Debian packages a test needs (hledger, chromium...), installed with apt-get when missing.

CI runs as root on Debian; elsewhere (no root, no apt-get, no network) the caller skips loudly
with the reason returned here. Each set of packages is tried once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess

_tried: dict[tuple[str, ...], str] = {}


def apt_install(packages: tuple[str, ...], timeout: int = 900) -> str:
    """Install ``packages``; returns why it failed ("" when apt-get succeeded)."""
    if packages in _tried:
        return _tried[packages]
    apt = shutil.which("apt-get")
    if apt is None:
        why = "no apt-get on this machine"
    elif os.geteuid() != 0:
        why = "not root, so apt-get cannot install it"
    else:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # another test process (pytest-xdist's workers) may be installing too: wait for dpkg's lock
        locked = ["-o", "DPkg::Lock::Timeout=600"]
        install = [apt, *locked, "install", "-y", "-q", *packages]
        run = subprocess.run(install, capture_output=True, text=True, env=env, timeout=timeout)
        if run.returncode != 0:  # a fresh container has no package lists yet
            subprocess.run([apt, *locked, "update", "-q"], capture_output=True, text=True, env=env, timeout=600)
            run = subprocess.run(install, capture_output=True, text=True, env=env, timeout=timeout)
        why = "" if run.returncode == 0 else f"apt-get install failed: {run.stderr.strip()[-300:]}"
    _tried[packages] = why
    return why
