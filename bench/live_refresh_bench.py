"""Live refresh on both backends: another process commits a receipt, until the screen paints it.

    python bench/live_refresh_bench.py [--rounds 9] [--charges 300]

Starts a throwaway PostgreSQL cluster (tests/pg_server.py: needs the server binaries and root or
a user that may run them), builds the same small demo books into a SQLite file and into a
PostgreSQL database, and runs the real app in a pseudo-terminal at 80x24 on each. For the
receipts queue (F3) and the balancing dashboard (F4), this process (another connection, as
another clerk's session would be) records a receipt and times from its commit to the moment the
new figure's bytes arrive from the terminal. The refresh is told by store/live.py: LISTEN/NOTIFY
on PostgreSQL, PRAGMA data_version polled on SQLite. Beside them, the floor: the watch alone
(commit to ``BooksWatch.wait`` returning in a thread of this process), ``wake_*``.

Prints each backend's median (and max) in ms and the JSON; nothing is written to the project.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench.common import PtyProcess, child_env  # noqa: E402
from tui_billing.money import format_cents  # noqa: E402

QUIT = b"\x11"  # Ctrl+Q
F3, F4 = b"\x1bOR", b"\x1bOS"

#: the other clerk: a process of its own that records a receipt for each line read and says when it committed
OTHER_CLERK = """
import sys, time
from tui_billing.store import open_database, database
from tui_billing.store import operations as ops
open_database(sys.argv[1], create=False)
patient = database.execute_sql("SELECT id FROM patient ORDER BY id LIMIT 1").fetchone()[0]
print("ready", flush=True)
for line in sys.stdin:
    ops.record_receipt(amount=int(line), method="cash", patient_id=patient, operator="other")
    print(time.perf_counter(), flush=True)  # committed (same clock as the bench: CLOCK_MONOTONIC)
"""


def _figures(db: str) -> tuple[int, int]:
    """The two figures the screens show for the books: the queue's unapplied total and the day's receipts."""
    from tui_billing.store import open_database
    from tui_billing.store import receipts_queries as q
    from tui_billing.store.db import close_database
    from tui_billing.store.summary import day_summary
    from tui_billing.store.validate import current_posting_date

    open_database(db, create=False)
    try:
        return q.queue_totals().unapplied, day_summary(current_posting_date()).receipts
    finally:
        close_database()


def measure(db: str, rounds: int, env: dict[str, str]) -> dict[str, list[float]]:
    term = PtyProcess([sys.executable, "-m", "tui_billing", "--db", db], cols=80, rows=24, env=env)
    other = subprocess.Popen([sys.executable, "-c", OTHER_CLERK, db], cwd=ROOT, env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert other.stdin is not None and other.stdout is not None
    out: dict[str, list[float]] = {"receipts": [], "balancing": []}
    amount = 1000
    try:
        assert other.stdout.readline().strip() == "ready"
        term.wait_for(b"Charges", timeout=60)
        for key, screen, marker in ((F3, "receipts", b"open receipt"), (F4, "balancing", b"proof")):
            mark = term.mark()
            term.send(key)
            term.wait_for(marker, timeout=30, since=mark)
            time.sleep(1.0)  # the screen's first load and its watch settle
            for _ in range(rounds):
                amount += 1
                queue_total, day_receipts = _figures(db)  # before: the figure to wait for is known at the commit
                shown = (f"unapplied {format_cents(queue_total + amount)}" if screen == "receipts"
                         else format_cents(day_receipts + amount))
                mark = term.mark()
                other.stdin.write(f"{amount}\n")
                other.stdin.flush()
                committed = float(other.stdout.readline())
                term.wait_for(shown, timeout=30, since=mark)
                out[screen].append((time.perf_counter() - committed) * 1000)
                time.sleep(0.2)
    finally:
        other.stdin.close()
        other.wait(timeout=30)
        term.close(QUIT, grace=10)
    return out


def measure_wake(db: str, rounds: int, env: dict[str, str]) -> list[float]:
    """The watch alone (the floor under the screens' figures): commit to BooksWatch.wait returning, as
    the app's live-refresh thread waits (20 ms data_version poll on SQLite, NOTIFY on PostgreSQL)."""
    import threading

    from tui_billing.app import WATCH_POLL_SECONDS
    from tui_billing.store import open_database
    from tui_billing.store.db import close_database
    from tui_billing.store.live import BooksWatch

    other = subprocess.Popen([sys.executable, "-c", OTHER_CLERK, db], cwd=ROOT, env=env, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert other.stdin is not None and other.stdout is not None
    open_database(db, create=False)
    watch = BooksWatch(poll=WATCH_POLL_SECONDS)
    out = []
    try:
        assert other.stdout.readline().strip() == "ready"
        for k in range(rounds):
            woke: list[float] = []
            waiter = threading.Thread(target=lambda into=woke: watch.wait(10) and into.append(time.perf_counter()))
            waiter.start()
            time.sleep(0.05)  # waiting already
            other.stdin.write(f"{2000 + k}\n")
            other.stdin.flush()
            committed = float(other.stdout.readline())
            waiter.join()
            out.append((woke[0] - committed) * 1000)
            time.sleep(0.1)
    finally:
        watch.close()
        close_database()
        other.stdin.close()
        other.wait(timeout=30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--charges", type=int, default=300)
    args = parser.parse_args()
    from tui_billing.store import identity

    import pg_server

    identity.make_new_books_test_books(False)
    work = Path(tempfile.mkdtemp(prefix="live-bench-"))
    os.chmod(work, 0o755)
    cluster = pg_server.Cluster()
    result: dict = {"rounds": args.rounds}
    try:
        cluster.start()
        cluster.make_template()
        env = child_env(TUI_BILLING_OPERATOR="bench", COLORTERM="")
        books = {"sqlite": str(work / "live.db"), "postgresql": cluster.new_database()}
        for db in books.values():
            subprocess.run([sys.executable, "-m", "tui_billing", "--db", db, "demo", "--charges", str(args.charges),
                            "--days", "5"], cwd=ROOT, env=env, check=True, capture_output=True)
        for name, db in books.items():
            wake = measure_wake(db, args.rounds, env)
            result[f"wake_{name}_median_ms"] = round(statistics.median(wake), 1)
            result[f"wake_{name}_max_ms"] = round(max(wake), 1)
            times = measure(db, args.rounds, env)
            for screen, values in times.items():
                result[f"{screen}_{name}_median_ms"] = round(statistics.median(values), 1)
                result[f"{screen}_{name}_max_ms"] = round(max(values), 1)
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    for screen in ("wake", "receipts", "balancing"):
        what = "heard" if screen == "wake" else "painted"
        print(f"{screen}: commit to {what}, median SQLite {result[f'{screen}_sqlite_median_ms']} ms, "
              f"PostgreSQL {result[f'{screen}_postgresql_median_ms']} ms")


if __name__ == "__main__":
    main()
