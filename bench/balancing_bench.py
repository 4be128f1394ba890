"""Balancing dashboard benchmark: F4 to figures on screen, and another clerk's posting to a refresh.

    python bench/balancing_bench.py --db bench/data/demo-1000000.db [--rounds 10]

The database is copied first (the benchmark posts receipts into the copy). Figures, in ms:

- ``snapshot_ms``: the floor, day_snapshot() alone (every figure the screen shows, one read).
- ``f4_cold_ms``: F4 pressed the first time (the screen is built) until its figures are painted.
- ``f4_warm_ms``: a receipt is posted while F2 is up, then F4 until the new receipts total is painted.
- ``refresh_ms``: another connection commits a receipt until the dashboard paints the new total
  (the app's live refresh + recompute + paint).
- ``floor_f4_*_ms``: the same screen with its figures already in memory (no database, no thread):
  what Textual's switch and paint cost on this machine in the same run.

The app runs as a real process in a pseudo-terminal at 80x24 and the time is taken when the
bytes arrive, as a clerk would see them. Medians over ``rounds``.
``run(db)`` returns the figures as a dict for bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PtyProcess


def _copy(db: Path, into: Path) -> Path:
    """Copy the database (and a leftover -wal, if any) so the original is never written."""
    dest = into / db.name
    shutil.copyfile(db, dest)
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, dest.with_name(dest.name + "-wal"))
    dest.chmod(0o600)
    return dest


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def _terminal(argv: list[str], env: dict[str, str]) -> PtyProcess:
    """The real app in a pseudo-terminal at 80x24: keys in, the bytes it paints out."""
    return PtyProcess(argv, cols=80, rows=24, env=env)


def _painted(term: PtyProcess, marker: bytes, since: int, timeout: float = 30.0) -> float:
    """Read until ``marker`` is painted after offset ``since``; returns the moment it arrived."""
    term.wait_for(marker, timeout=timeout, since=since)
    return time.perf_counter()


QUIT = b"\x11"  # Ctrl+Q
F2, F4 = b"\x1bOQ", b"\x1bOS"


def _measure(path: Path, rounds: int) -> dict:
    """F4 and live refresh as the clerk sees them, in a real pseudo-terminal."""
    import os

    from tui_billing.money import format_cents
    from tui_billing.store import database
    from tui_billing.store import operations as ops
    from tui_billing.store.summary import day_summary

    patient = database.execute_sql("SELECT id FROM patient ORDER BY id LIMIT 1").fetchone()[0]
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="", TUI_BILLING_OPERATOR="bench")
    term = _terminal([sys.executable, "-m", "tui_billing", "--db", str(path)], env)
    cold, warm, refresh = [], [], []
    amount = 100

    def post() -> str:
        """Another clerk's receipt (this process is another connection); returns the new total as painted."""
        nonlocal amount
        amount += 1
        ops.record_receipt(amount=amount, method="cash", patient_id=patient, operator="bench")
        return format_cents(day_summary(ops.v.current_posting_date()).receipts)

    try:
        term.wait_for(b"Charges", timeout=60)  # the app is up (footer painted)
        time.sleep(0.5)  # let start-up settle before timing keys
        mark = term.mark()
        sent = term.send(F4)
        cold.append((_painted(term, b"proof", mark) - sent) * 1000)
        for _ in range(rounds):
            mark = term.mark()
            term.send(F2)
            _painted(term, b"Charge", mark)
            total = post()  # posted while the dashboard is hidden: F4 must show it
            mark = term.mark()
            sent = term.send(F4)
            warm.append((_painted(term, total.encode(), mark) - sent) * 1000)
        for _ in range(rounds):
            mark = term.mark()
            total = post()
            committed = time.perf_counter()
            refresh.append((_painted(term, total.encode(), mark) - committed) * 1000)
            time.sleep(0.05)
    finally:
        term.close(QUIT, grace=10)
    return {"f4_cold_ms": _median(cold), "f4_warm_ms": _median(warm), "refresh_ms": _median(refresh),
            "refresh_max_ms": round(max(refresh), 1) if refresh else float("nan")}


def _floor_app(path: str) -> None:
    """The same dashboard with its figures already in memory: F4 costs only Textual's switch and paint."""
    from tui_billing.app import BillingApp
    from tui_billing.screens.balancing import BalancingScreen
    from tui_billing.store import open_database
    from tui_billing.store.summary import day_snapshot

    open_database(path)
    snap = day_snapshot()

    class FloorScreen(BalancingScreen):
        def on_mount(self) -> None:
            self._show(snap, 0.0)

        def on_screen_resume(self) -> None:
            self._visible = True

    class FloorApp(BillingApp):
        CSS_PATH = str(Path(sys.modules[BillingApp.__module__].__file__).with_name("styles.tcss"))
        MODES = {**BillingApp.MODES, "balancing": FloorScreen}

    FloorApp(db_path=Path(path)).run()


def _measure_floor(path: Path, rounds: int) -> dict:
    import os

    env = dict(os.environ, TERM="xterm-256color", COLORTERM="")
    term = _terminal([sys.executable, str(Path(__file__).resolve()), "--floor-app", "--db", str(path)], env)
    cold, warm = [], []
    try:
        term.wait_for(b"Charges", timeout=60)
        time.sleep(0.5)
        mark = term.mark()
        sent = term.send(F4)
        cold.append((_painted(term, b"proof", mark) - sent) * 1000)
        for _ in range(rounds):
            mark = term.mark()
            term.send(F2)
            _painted(term, b"Charge", mark)
            mark = term.mark()
            sent = term.send(F4)
            warm.append((_painted(term, b"proof", mark) - sent) * 1000)
    finally:
        term.close(QUIT, grace=10)
    return {"floor_f4_cold_ms": _median(cold), "floor_f4_warm_ms": _median(warm)}


def run(db: str | Path, *, rounds: int = 10) -> dict:
    """Measure the dashboard on a copy of ``db``; returns the figures (ms) and what was measured."""
    from tui_billing.store import close_database, database, open_database
    from tui_billing.store.summary import day_snapshot

    source = Path(db)
    with tempfile.TemporaryDirectory(prefix="balancing-bench-") as tmp:
        path = _copy(source, Path(tmp))
        started = time.perf_counter()
        open_database(path)  # brings an older copy's schema up to date (index builds count here)
        opened_ms = round((time.perf_counter() - started) * 1000, 1)
        try:
            charges = database.execute_sql("SELECT COUNT(*) FROM charge").fetchone()[0]
            floor = []
            for _ in range(rounds):
                started = time.perf_counter()
                snap = day_snapshot()
                floor.append((time.perf_counter() - started) * 1000)
            figures = {"db": str(source), "charges": charges, "open_ms": opened_ms, "date": snap.date,
                       "day_charge_lines": snap.summary.charge_lines, "rounds": rounds,
                       "snapshot_ms": _median(floor)}
            figures.update(_measure(path, rounds))
            figures.update(_measure_floor(path, rounds))
            figures["f4_warm_over_floor"] = round(figures["f4_warm_ms"] / figures["floor_f4_warm_ms"], 2)
        finally:
            close_database()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database to measure (copied first)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--floor-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_app:
        _floor_app(args.db)
        return 0
    print(json.dumps(run(args.db, rounds=args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
