"""Crash safety: kill a writer with SIGKILL at a random moment, again and again, and prove the books.

Each round forks a writer that posts the concurrency workload (encounters, receipts,
distributions, voids) and acknowledges each committed call on a pipe. The parent reads a random
number of acknowledgements, waits a random fraction of a transaction more, and sends SIGKILL, so
the kill lands anywhere: mid-transaction, mid-commit, mid-checkpoint, between commit and ack.
After every kill it checks that

- ``PRAGMA integrity_check`` says ok,
- every entry acknowledged before the kill is present exactly once (at most one more entry,
  committed but killed before its ack, may exist),
- ``tui-billing check`` passes (invariants, running balances, audit chain).

The writer is forked from a parent that has already loaded the ICD-10 code set, so a round costs
milliseconds, not the 2 s a cold start would. (SIGKILL is what a dropped SSH session or an OOM
kill does; a power cut additionally loses the OS cache, which ``synchronous=FULL`` covers.)

Run standalone: ``python bench/crash.py --kills 50``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.concurrency import WorkerResult, _seed_in_child, cli_check, is_server, post_cycle, read_books, verify


def _writer(db: str, worker: int, setup: dict, wfd: int) -> None:
    """The forked child: open the store itself, post until killed, ack each call on ``wfd``."""
    from tui_billing.store import database, open_database

    # A connection inherited across fork must never be used or closed here (closing it could
    # checkpoint and delete the parent's WAL): forget it, then open our own.
    database._state.reset()
    open_database(db, create=False)

    def ack(kind: str, entry_id: int) -> None:
        os.write(wfd, f"{kind} {entry_id}\n".encode())

    n = 0
    while True:
        post_cycle(setup, worker, n, ack)
        n += 1


def one_round(db: str, setup: dict, worker: int, rng: random.Random) -> WorkerResult:
    """Fork a writer, kill it at a random moment, return what it acknowledged."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        status = 1
        try:
            os.close(rfd)
            _writer(db, worker, setup, wfd)
        except BaseException as exc:
            os.write(wfd, f"ERR {type(exc).__name__}: {exc}\n".replace("\n", " ").encode() + b"\n")
        finally:
            os._exit(status)
    os.close(wfd)
    res = WorkerResult(worker)
    want = rng.randint(1, 25)  # acks to see before the kill
    buf = b""
    with os.fdopen(rfd, "rb", buffering=0) as pipe:
        while len(res.acks) < want:
            chunk = pipe.read(4096)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            _take(res, lines)
        # A random moment inside the next transaction or two (one call takes a few ms here).
        time.sleep(rng.uniform(0, 0.02))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        rest = buf + pipe.read()  # acks written before the kill are still in the pipe
        _take(res, rest.split(b"\n"))
    return res


def _take(res: WorkerResult, lines: list[bytes]) -> None:
    for raw in lines:
        kind, _, rest = raw.decode().strip().partition(" ")
        if kind in ("E", "R", "D", "V"):
            res.acks.append((kind, int(rest)))
        elif kind == "ERR":
            res.errors.append(rest)


def integrity(db: str) -> str:
    """SQLite's own page check of the file. A server's books have no file of ours to check: the server's
    crash recovery is its own, and ``tui-billing check`` (run below) proves the rows."""
    if is_server(db):
        return "ok"
    con = sqlite3.connect(db)
    try:
        return "; ".join(r[0] for r in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


def run(db: str | None = None, *, kills: int = 50, seed: int = 7, quick: bool = False,
        check_every: int = 1) -> dict:
    """Kill a writer ``kills`` times; raise AssertionError on the first loss or damage.

    ``tui-billing check`` runs after every ``check_every``-th kill and after the last one;
    integrity and the acknowledged entries are checked after every kill.
    """
    from tui_billing import codes

    if quick:
        kills = min(kills, 5)
    codes.validate_icd10("J06.9")  # loaded once here; every forked writer inherits it
    rng = random.Random(seed)
    acked = 0
    checks = 0
    between = 0  # kills that caught a commit in flight (WAL written, fsync or ack not yet done)
    with tempfile.TemporaryDirectory(prefix="tb-crash-") as tmp:
        path = db or os.path.join(tmp, "crash.db")
        for suffix in ("", "-wal", "-shm") if not is_server(path) else ():  # a server URL: its books are empty
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        setup = _seed_in_child(path, 4)
        start = time.perf_counter()
        for k in range(kills):
            res = one_round(path, setup, k, rng)
            where = f"after kill {k + 1}"
            if res.errors:
                raise AssertionError(f"{where}: the writer failed before the kill: {res.errors}")
            if not res.acks:
                raise AssertionError(f"{where}: the writer acknowledged nothing")
            state = integrity(path)
            if state != "ok":
                raise AssertionError(f"{where}: integrity_check says {state}")
            problems = verify(path, [res], exact=False)
            if problems:
                raise AssertionError(f"{where}: " + "; ".join(problems))
            if (k + 1) % check_every == 0 or k == kills - 1:
                ok, text = cli_check(path)
                checks += 1
                if not ok:
                    raise AssertionError(f"{where}: tui-billing check failed: {text[-600:]}")
            acked += len(res.acks)
            between += _unacknowledged(path, res)
        elapsed = time.perf_counter() - start
    return {"kills": kills, "acknowledged_entries": acked, "in_flight_found_committed": between,
            "cli_checks": checks, "seconds": elapsed}


def _unacknowledged(db: str, res: WorkerResult) -> int:
    """Entries this writer committed but never acknowledged (0 or 1: it was killed in between)."""
    from bench.concurrency import ACK_TABLES

    with read_books(db) as con:
        stored = sum(len(con.execute(sql, (f"w{res.worker}",)).fetchall()) for _, sql in ACK_TABLES.values())
    return stored - len(res.acks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="file to create (a temporary one by default)")
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--check-every", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.db, kills=args.kills, seed=args.seed, quick=args.quick,
                         check_every=args.check_every), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
