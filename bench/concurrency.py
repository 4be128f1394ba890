"""Several clerks posting into one SQLite file at once: nothing lost, nothing doubled.

N worker processes each post a fixed number of cycles as fast as they can; a cycle is an
encounter, a payer's check receipt, a distribution applying it to that encounter's charge, and
(every ``VOID_EVERY``-th cycle) a void of that distribution. After every store call returns, the
worker prints an acknowledgement line (what a clerk sees as "saved"). The parent then proves:

- every acknowledged entry is in the database exactly once, and nothing unacknowledged is
  (counted per operator, so a retried transaction that committed twice would show up);
- one audit event per acknowledged operation;
- no worker saw an unhandled error (a "database is locked" included);
- ``tui-billing check`` passes.

Run standalone: ``python bench/concurrency.py --procs 8 --cycles 200`` (makes its own database).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tui_billing` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PY, ROOT, child_env

VOID_EVERY = 7
FEE = 12_000  # cents: the fee-schedule price of the procedure every cycle posts
PAID = 5_000  # cents: each receipt, applied in full to that cycle's charge


def make_npi(first9: str) -> str:
    from tui_billing.codes import npi_check_digit

    return first9 + str(npi_check_digit(first9))


def seed_practice(path: str | os.PathLike[str], patients: int = 8) -> dict[str, object]:
    """A minimal practice for the workload: one provider, one payer, a fee schedule, patients.

    Opens (and leaves open) the store on ``path`` in this process. Returns the ids a worker needs.
    """
    from tui_billing.store import identity, open_database
    from tui_billing.store import operations as ops

    open_database(path, create=True)
    identity.mark_test_book("reliability workload")  # only a test book believes operator="w0"
    ops.seed_standard_reasons(operator="setup")
    ops.set_practice("Reliability Test Practice", operator="setup")
    provider = ops.add_provider("REL", "Rel Iability", make_npi("123456789"), operator="setup")
    payer = ops.add_payer("RELPAY", "Reliable Mutual", "commercial", "REL01", operator="setup")
    ops.set_procedure("99213", "Office visit, established, low", FEE, operator="setup")
    ops.set_procedure("99214", "Office visit, established, moderate", FEE + 5_000, operator="setup")
    ids = [
        ops.add_patient(f"REL{n:05d}", f"Worker{n}", "Test", "1970-01-01", "F",
                        coverages=[ops.CoverageIn(payer, f"M{n:06d}")], operator="setup")
        for n in range(patients)
    ]
    return {"provider": provider, "payer": payer, "patients": ids}


def post_cycle(setup: dict, worker: int, n: int, ack) -> int:
    """One cycle of posting for ``worker``; ``ack(kind, id)`` after each call returns. Returns calls made."""
    from tui_billing.store import operations as ops

    who = f"w{worker}"
    patients = setup["patients"]
    patient = patients[worker % len(patients)]
    enc = ops.post_encounter(patient_id=patient, provider_id=setup["provider"], dos=ops.v.today(),
                             diagnoses=["J06.9"], lines=[ops.ChargeLine("99213")], operator=who)
    ack("E", enc.encounter_id)
    rec = ops.record_receipt(amount=PAID, method="check", payer_id=setup["payer"], reference=f"{who}-{n}",
                             received_date=ops.v.today(), operator=who)  # the check came in today
    ack("R", rec.receipt_id)
    did = ops.distribute(rec.receipt_id, [ops.DistributionLine(enc.charge_ids[0], applied=PAID)], operator=who)
    ack("D", did)
    calls = 3
    if n % VOID_EVERY == VOID_EVERY - 1:
        ack("V", ops.void("distribution", did, "bench: keyed against the wrong charge", operator=who))
        calls += 1
    return calls


def worker_main(db: str, worker: int, cycles: int, setup_json: str) -> int:
    """A child: open the store, warm up, say ``ready``, wait for ``go`` on stdin, post, ack on stdout."""
    from tui_billing import codes
    from tui_billing.store import open_database

    setup = json.loads(setup_json)
    open_database(db, create=False)
    codes.validate_icd10("J06.9")  # load the code set before the clock starts

    def ack(kind: str, entry_id: int) -> None:
        sys.stdout.write(f"{kind} {entry_id}\n")
        sys.stdout.flush()

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    start = time.perf_counter()
    calls = 0
    try:
        for n in range(cycles):
            calls += post_cycle(setup, worker, n, ack)
    except BaseException as exc:  # report anything, then fail: the parent counts these
        print(f"ERR {type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
        return 1
    print(f"DONE {calls} {time.perf_counter() - start:.6f}", flush=True)
    return 0


@dataclass
class WorkerResult:
    worker: int
    acks: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    returncode: int | None = None


def spawn_worker(db: str, worker: int, cycles: int, setup: dict, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [PY, str(ROOT / "bench" / "concurrency.py"), "--worker", str(worker), "--db", db,
         "--cycles", str(cycles), "--setup", json.dumps(setup)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT, **popen)


class ForkedWorker:
    """A worker forked from this (warm) process: the same protocol as :func:`spawn_worker`'s child.

    Forking skips a fresh interpreter and the 2 s code-set load per worker, which is what makes
    the quick test quick. The child forgets any inherited connection and opens its own.
    """

    def __init__(self, db: str, worker: int, cycles: int, setup: dict) -> None:
        out_r, out_w = os.pipe()
        in_r, in_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # child: never return into the caller's code
            status = 1
            try:
                os.close(out_r)
                os.close(in_w)
                os.dup2(out_w, 1)
                os.dup2(in_r, 0)
                sys.stdout = open(1, "w", closefd=False)
                sys.stdin = open(0, closefd=False)
                from tui_billing.store import database

                database._state.reset()  # never touch the parent's connection
                status = worker_main(db, worker, cycles, json.dumps(setup))
                sys.stdout.flush()
            finally:
                os._exit(status)
        os.close(out_w)
        os.close(in_r)
        self.stdout = os.fdopen(out_r, "r")
        self.stdin = os.fdopen(in_w, "w")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


def run_workers(db: str, procs: int, cycles: int, setup: dict, timeout: float = 600,
                *, fork: bool = False, during: Callable[[], object] | None = None) -> tuple[list[WorkerResult], float]:
    """Start ``procs`` workers, release them together, collect their acks. Returns (results, wall seconds).

    ``fork=True`` forks them from this process (load the code set first: ``codes.validate_icd10``).
    ``during`` runs in a thread once they are released (a backup while clerks post, say).
    """
    children = [ForkedWorker(db, w, cycles, setup) if fork else spawn_worker(db, w, cycles, setup)
                for w in range(procs)]
    results = [WorkerResult(w) for w in range(procs)]
    try:
        for child, res in zip(children, results, strict=False):
            line = child.stdout.readline().strip()
            if line != "ready":
                res.errors.append(f"worker did not start: {line!r}")
        start = time.perf_counter()
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        side = threading.Thread(target=during, name="during") if during else None
        if side:
            side.start()
        open_fds = {child.stdout.fileno(): (child, res) for child, res in zip(children, results, strict=False)}
        while open_fds:
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"workers still running after {timeout} s")
            ready, _, _ = select.select(list(open_fds), [], [], 5)
            for fd in ready:
                child, res = open_fds[fd]
                line = child.stdout.readline()
                if not line:
                    del open_fds[fd]
                    continue
                kind, _, rest = line.strip().partition(" ")
                if kind in ("E", "R", "D", "V"):
                    res.acks.append((kind, int(rest)))
                elif kind == "ERR":
                    res.errors.append(rest)
        wall = time.perf_counter() - start
        if side:
            side.join(timeout)
        for child, res in zip(children, results, strict=False):
            res.returncode = child.wait(timeout=30)
            if res.returncode:
                res.errors.append(f"exit status {res.returncode}")
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return results, wall


#: ack kind -> (table holding the row, SQL that picks that worker's rows of that kind)
ACK_TABLES = {
    "E": ("encounter", "SELECT id FROM encounter WHERE operator = ? AND reverses_id IS NULL"),
    "R": ("receipt", "SELECT id FROM receipt WHERE operator = ? AND reverses_id IS NULL"),
    "D": ("distribution", "SELECT id FROM distribution WHERE operator = ? AND reverses_id IS NULL"),
    "V": ("distribution", "SELECT id FROM distribution WHERE operator = ? AND reverses_id IS NOT NULL"),
}


def is_server(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


class _ServerReader:
    """The books on a PostgreSQL server read with plain psycopg, the SQL written for SQLite translated."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.con = psycopg.connect(url, autocommit=True)

    def execute(self, sql: str, params: object = ()):  # noqa: ANN201 (a psycopg cursor)
        from tui_billing.store.pg_dialect import translate

        query = translate(sql)
        return self.con.execute(query.sql, query.params(params))  # type: ignore[arg-type]

    def close(self) -> None:
        self.con.close()


@contextmanager
def read_books(db: str) -> Iterator[object]:
    """A plain read connection outside the store: sqlite3 on a file (read-only), psycopg on a server URL."""
    import sqlite3

    con = _ServerReader(db) if is_server(db) else sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        yield con
    finally:
        con.close()


def verify(db: str, results: list[WorkerResult], *, exact: bool = True) -> list[str]:
    """Every acknowledged entry present exactly once (and, if ``exact``, nothing unacknowledged).

    Reads the books with the backend's plain driver in this process (sqlite3, or psycopg for a
    server URL). ``exact=False`` is for the crash test, where a writer killed between its commit
    and its ack leaves one unacknowledged entry.
    """
    problems: list[str] = []
    with read_books(db) as con:
        for res in results:
            who = f"w{res.worker}"
            by_kind: dict[str, list[int]] = {}
            for kind, entry_id in res.acks:
                by_kind.setdefault(kind, []).append(entry_id)
            for kind, (table, sql) in ACK_TABLES.items():
                acked = by_kind.get(kind, [])
                if len(set(acked)) != len(acked):
                    problems.append(f"{who}: the same {table} id was acknowledged twice")
                stored = [r[0] for r in con.execute(sql, (who,))]
                missing = set(acked) - set(stored)
                if missing:
                    problems.append(f"{who}: acknowledged {table} ids missing: {sorted(missing)[:5]}")
                extra = len(stored) - len(acked)
                if extra < 0 or (exact and extra) or extra > 1:
                    problems.append(f"{who}: {len(acked)} {table} ({kind}) acknowledged, {len(stored)} stored")
            refs = con.execute("SELECT reference, COUNT(*) FROM receipt WHERE operator = ? AND reverses_id IS NULL "
                               "GROUP BY reference HAVING COUNT(*) > 1", (who,)).fetchall()
            if refs:
                problems.append(f"{who}: receipts doubled: {refs[:3]}")
            events = con.execute("SELECT COUNT(*) FROM audit_event WHERE user = ?", (who,)).fetchone()[0]
            if events < len(res.acks) or (exact and events != len(res.acks)) or events > len(res.acks) + 1:
                problems.append(f"{who}: {len(res.acks)} operations acknowledged but {events} audit events")
    return problems


def cli_check(db: str) -> tuple[bool, str]:
    """``tui-billing check`` as a clerk would run it. Returns (passed, output)."""
    proc = subprocess.run([PY, "-m", "tui_billing", "--db", db, "check"], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, timeout=600)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def run(db: str | None = None, *, procs: int = 8, cycles: int = 100, quick: bool = False,
        fork: bool | None = None) -> dict:
    """The concurrency figures: N processes and, as the floor, one process posting the same per-process load.

    Builds its own small database (``db`` names the file to create; a temporary one otherwise).
    Raises AssertionError if anything was lost, doubled or failed. ``quick`` forks the workers
    from this process (no interpreter start and code-set load each) and caps the cycles.
    """
    if fork is None:
        fork = quick
    if quick:
        cycles = min(cycles, 20)
    if fork:
        from tui_billing import codes

        codes.validate_icd10("J06.9")
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="tb-conc-") as tmp:
        for label, n in (("single", 1), ("concurrent", procs)):
            path = str(Path(db).with_suffix(f".{label}.db")) if db else os.path.join(tmp, f"{label}.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            setup = _seed_in_child(path, max(n, 1))
            results, wall = run_workers(path, n, cycles, setup, fork=fork)
            problems = [e for r in results for e in r.errors] + verify(path, results)
            ok, text = cli_check(path)
            if not ok:
                problems.append(f"tui-billing check failed: {text[-400:]}")
            if problems:
                raise AssertionError(f"{label} run: " + "; ".join(problems[:10]))
            calls = sum(len(r.acks) for r in results)
            out[f"{label}_procs"] = n
            out[f"{label}_calls"] = calls
            out[f"{label}_seconds"] = wall
            out[f"{label}_calls_per_s"] = calls / wall
    return out


def _seed_in_child(path: str, patients: int) -> dict:
    """Seed in a fresh process so this one never holds the store open while workers write."""
    code = ("import json,sys; sys.path.insert(0, sys.argv[2]); from bench.concurrency import seed_practice; "
            "print(json.dumps(seed_practice(sys.argv[1], int(sys.argv[3]))))")
    proc = subprocess.run([PY, "-c", code, path, str(ROOT), str(patients)], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="file to create (a temporary one by default)")
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--cycles", type=int, default=100, help="cycles per process (3-4 store calls each)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--setup", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return worker_main(args.db, args.worker, args.cycles, args.setup)
    figures = run(args.db, procs=args.procs, cycles=args.cycles, quick=args.quick)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
