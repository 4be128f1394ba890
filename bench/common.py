"""Shared helpers for the benchmarks: whole-process timing, a pseudo-terminal driver, stats.

Kept small and dependency-free (stdlib only) so every bench module and the reliability tests
can import it. Figures are measured as a user feels them: a whole process from exec to exit,
a screen from spawn to its first meaningful paint in a real pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import math
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

# CSI / OSC / two-byte escape sequences; stripping them leaves the words a clerk would read.
_ANSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def median(values: Sequence[float]) -> float:
    """The median (the figure quoted everywhere: these machines are noisy)."""
    data = sorted(values)
    if not data:
        raise ValueError("median of nothing")
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p50, p95) of a sample."""
    data = sorted(values)
    if not data:
        raise ValueError("percentile of nothing")
    rank = max(1, min(len(data), math.ceil(pct / 100 * len(data))))
    return data[rank - 1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: the project on the path, a fixed terminal, and
    compiled modules cached as on a user's machine (a shell with PYTHONDONTWRITEBYTECODE would
    recompile every edited module in every timed process)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TERM", "xterm-256color")
    env.update(extra)
    return env


def time_process(argv: Sequence[str], runs: int = 5, *, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, check: bool = True) -> list[float]:
    """Wall seconds of each of ``runs`` whole-process runs (output discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(list(argv), env=env or child_env(), cwd=cwd or ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-400:]}")
    return times


def vm_hwm_kb(pid: int) -> int:
    """Peak resident memory (VmHWM) of a live process, in KiB, from /proc."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for pid {pid}")


def screen_text(raw: bytes) -> str:
    """Terminal output with escape sequences removed (enough to find words on screen)."""
    return _ANSI.sub(b"", raw).decode("utf-8", "replace")


class PtyProcess:
    """A child process on a real pseudo-terminal of a fixed size, as a clerk's SSH session sees it.

    ``wait_for(text)`` reads output until ``text`` appears on screen (escape sequences
    stripped) and returns the seconds it took; ``send`` writes keys and returns the moment it
    did (``time.perf_counter()``); ``mark()`` is the output's length now, for a later
    ``wait_for(..., since=mark)``. Use as a context manager: leaving it kills the child if it is
    still running; ``close(quit_keys=b"\x11")`` asks the app to quit first. The one pseudo-terminal
    driver of every benchmark (and of the reliability tests that drive a screen).
    """

    def __init__(self, argv: Sequence[str], *, cols: int = 80, rows: int = 24,
                 env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None) -> None:
        self.argv = list(argv)
        self.output = bytearray()
        self._seen = 0  # how much of ``output`` earlier waits consumed
        pid, fd = pty.fork()
        if pid == 0:  # child: exec at once, nothing else
            try:
                if cwd:
                    os.chdir(cwd)
                os.execvpe(self.argv[0], self.argv, env or child_env())
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.started = time.perf_counter()
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def read_some(self, timeout: float) -> bytes:
        """Whatever output arrives within ``timeout`` seconds (b'' on timeout or EOF)."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return b""
        self.output += chunk
        return chunk

    def wait_for(self, text: str | bytes | re.Pattern[str], timeout: float = 30.0, *, new_only: bool = True,
                 since: int | None = None) -> float:
        """Seconds until ``text`` shows in the output after the last wait (or after offset
        ``since``, or anywhere when not ``new_only``); raise TimeoutError."""
        start = time.perf_counter()
        if isinstance(text, bytes):
            text = text.decode()
        pattern = text if isinstance(text, re.Pattern) else re.compile(re.escape(text))
        origin = since if since is not None else self._seen if new_only else 0
        while True:
            view = screen_text(bytes(self.output[origin:]))
            if pattern.search(view):
                self._seen = len(self.output)
                return time.perf_counter() - start
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                raise TimeoutError(f"{text!r} did not appear within {timeout} s; last output: {view[-300:]!r}")
            if not self.read_some(min(left, 0.5)) and not self.alive():
                view = screen_text(bytes(self.output))
                raise RuntimeError(f"{self.argv} exited before showing {text!r}: {view[-600:]!r}")

    def echo_time(self, keys: bytes, timeout: float = 10.0) -> float:
        """Seconds from writing ``keys`` until the first byte of output in response."""
        self.drain()
        start = time.perf_counter()
        os.write(self.fd, keys)
        while time.perf_counter() - start < timeout:
            if self.read_some(timeout - (time.perf_counter() - start)):
                return time.perf_counter() - start
        raise TimeoutError(f"no echo for {keys!r} within {timeout} s")

    def drain(self, quiet: float = 0.05, limit: float | None = None) -> None:
        """Read until the terminal has been quiet for ``quiet`` seconds (or ``limit`` s have passed:
        an app with a blinking cursor is never quiet for long)."""
        start = time.perf_counter()
        while self.read_some(quiet):
            if limit is not None and time.perf_counter() - start >= limit:
                break
        self._seen = len(self.output)

    def mark(self) -> int:
        """The output's length now: ``wait_for(..., since=mark)`` looks only at what comes after."""
        return len(self.output)

    def send(self, keys: bytes | str) -> float:
        """Write keys; returns the moment they were written (``time.perf_counter()``)."""
        sent = time.perf_counter()
        os.write(self.fd, keys.encode() if isinstance(keys, str) else keys)
        return sent

    def alive(self) -> bool:
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return pid == 0

    def peak_memory_kb(self) -> int:
        return vm_hwm_kb(self.pid)

    def close(self, quit_keys: bytes | None = None, grace: float = 3.0) -> None:
        """End the child: first ``quit_keys`` (Ctrl+Q for the app) and up to ``grace`` seconds for
        it to exit on its own, if given; then SIGKILL."""
        if quit_keys is not None and self.alive():
            try:
                os.write(self.fd, quit_keys)
            except OSError:
                pass
            deadline = time.perf_counter() + grace
            while self.alive() and time.perf_counter() < deadline:
                self.read_some(0.1)  # keep reading: a child blocked on a full terminal never exits
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        try:
            os.close(self.fd)
        except OSError:
            pass

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fmt_seconds(value: float) -> str:
    """A duration for the table: ms under a second, s above."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
