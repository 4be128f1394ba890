"""Receipts queue benchmark in a real pseudo-terminal at 80x24.

Measures what a clerk feels on a big database:

* ``queue_open_ms``: from pressing F3 to the queue's rows and totals on screen;
* ``distribute_open_ms``: from Enter on a payer's check to its first page of open charges;
* ``scroll_echo_ms_*``: from a Down key in that payer's open-charge list to the first repaint
  (the list pages in from the database as the cursor nears its end);
* ``filter_echo_ms_*``: from typing a character into the account filter to the first repaint;
* ``filter_result_ms``: from the keys that finish an account number to the narrowed list on
  screen (includes the 150 ms typing pause; median of 5);
* the same echo figures for a floor: a bare Textual app with an Input and a DataTable of the
  same size, measured in the same run, and the ratios to it.

Usable as ``measure(db_path) -> dict`` (bench/run.py calls it) or standalone:
``python bench/receipts_bench.py --db bench/data/demo-1000000.db``. The database is copied first and
the copy gets one payer check to distribute (the original is never written).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `tui_billing` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, PtyProcess, child_env, percentile

DOWN, F3, ENTER, SLASH = b"\x1b[B", b"\x1bOR", b"\r", b"/"


def _env(**extra: str) -> dict[str, str]:
    return child_env(**{"TERM": "xterm-256color", **extra})


def prepare(db: Path, workdir: Path) -> dict:
    """Copy the books and record one payer check to distribute (on the copy only)."""
    copy = workdir / "receipts-bench.db"
    shutil.copyfile(db, copy)
    copy.chmod(0o600)
    sys.path.insert(0, str(ROOT))
    from tui_billing.store import close_database, open_database
    from tui_billing.store import operations as ops
    from tui_billing.store.db import database

    open_database(copy)
    try:
        payer_id, open_count = database.execute_sql(
            "SELECT payer_id, COUNT(*) FROM charge_balance WHERE balance > 0 AND payer_id IS NOT NULL "
            "GROUP BY payer_id ORDER BY 2 DESC LIMIT 1").fetchone()
        account = database.execute_sql(
            "SELECT p.account FROM charge_balance cb INDEXED BY charge_balance_open_payer JOIN patient p "
            "ON p.id = cb.patient_id WHERE cb.payer_id = ? AND cb.balance > 0 ORDER BY cb.dos LIMIT 1 OFFSET 150",
            (payer_id,)).fetchone()[0]
        # The filter result is timed from the keys that finish the account to the list's count
        # for it. Type first the longest prefix whose count reads differently, so the count
        # already on screen (repainted with the echo on the same line) can never be the answer.
        from tui_billing.store import receipts_queries as rq

        def shown(prefix: str) -> str:
            n = len(rq.open_charges_page(payer_id=payer_id, f=rq.ChargeFilter(account=prefix), limit=rq.PAGE + 1))
            return f"{min(n, rq.PAGE)}{'+' if n > rq.PAGE else ''} open" if n else "no open charges"

        final = shown(account)
        split = next(k for k in range(len(account) - 1, -1, -1) if shown(account[:k]) != final)
        # Received long ago, so it is the first receipt in the oldest-first queue.
        rid = ops.record_receipt(amount=100_000, method="check", payer_id=payer_id, reference="BENCH-1",
                                 received_date="2000-01-03", operator="bench").receipt_id
        open_receipts = database.execute_sql("SELECT COUNT(*) FROM receipt_balance WHERE unapplied > 0").fetchone()[0]
        charges = database.execute_sql("SELECT COUNT(*) FROM charge").fetchone()[0]
    finally:
        close_database()
    return {"copy": copy, "payer_id": payer_id, "payer_open_charges": open_count, "account": account,
            "receipt_id": rid, "open_receipts": open_receipts, "charges": charges,
            "filter_split": split, "filter_final": final}


def _open_samples(argv: list[str], ready: str, runs: int) -> list[float]:
    """Seconds from F3 to the queue's figures on screen, one fresh process per sample."""
    out = []
    for _ in range(runs):
        app = PtyProcess(argv, env=_env(TUI_BILLING_OPERATOR="bench"), cwd=ROOT)
        try:
            app.wait_for(re.compile(ready), timeout=60)
            app.drain(0.5)
            start = time.perf_counter()
            app.send(F3)
            app.wait_for(re.compile(r"\d+ open receipts?"))
            out.append(time.perf_counter() - start)
        finally:
            app.close()
    return out


def _measure_app(copy: Path, account: str, keys: int, split: int, final: str) -> dict:
    app = PtyProcess([sys.executable, "-m", "tui_billing", "--db", str(copy)],
                     env=_env(TUI_BILLING_OPERATOR="bench"), cwd=ROOT)
    try:
        app.wait_for(re.compile(r"Receipts|Charge"), timeout=60)
        app.drain(0.5)
        start = time.perf_counter()
        app.send(F3)
        app.wait_for(re.compile(r"\d+ open receipts?"))
        queue_open = time.perf_counter() - start
        app.drain(0.3)
        start = time.perf_counter()
        app.send(ENTER)
        app.wait_for(re.compile(r"\d+\+? open"))
        distribute_open = time.perf_counter() - start
        app.drain(0.3)
        # Past the first 100-row page, so paging in from the database is part of the figure.
        scroll = [app.echo_time(DOWN) for _ in range(keys + 100)]
        app.send(SLASH)
        app.drain(0.3)
        typing: list[float] = []
        prefix = account[: max(3, min(len(account), 6))]
        while len(typing) < keys // 2:
            for ch in prefix:
                typing.append(app.echo_time(ch.encode()))
            app.wait_for(re.compile(r"\d+\+? open|no open charges"))
            for _ in prefix:
                typing.append(app.echo_time(b"\x7f"))
        app.drain(0.3)
        # The narrowed list: from the keys that finish the account to its count on screen (see
        # prepare: the count shown before those keys reads differently, so it cannot match).
        answer = re.compile(r"(?<![\d+])" + re.escape(final) + r"(?!\S)")
        results = []
        for _ in range(5):
            app.send(account[:split].encode())
            app.drain(0.5)
            start = time.perf_counter()
            app.send(account[split:].encode())
            app.wait_for(answer)
            results.append(time.perf_counter() - start)
            app.send(b"\x7f" * len(account))
            app.drain(0.5)
        filter_result = statistics.median(results)
    finally:
        app.close()
    return {"queue_open": queue_open, "distribute_open": distribute_open, "scroll": scroll, "typing": typing,
            "filter_result": filter_result}


def _measure_floor(keys: int) -> dict:
    app = PtyProcess([sys.executable, str(Path(__file__).resolve()), "--floor-app"], env=_env(), cwd=ROOT)
    try:
        app.wait_for(re.compile(r"floor ready"), timeout=60)
        app.drain(0.5)
        start = time.perf_counter()
        app.send(F3)
        app.wait_for(re.compile(r"\d+ open receipts?"))
        queue_open = time.perf_counter() - start
        app.drain(0.3)
        scroll = [app.echo_time(DOWN) for _ in range(keys + 100)]
        app.send(SLASH)
        app.drain(0.3)
        typing = []
        while len(typing) < keys // 2:
            for ch in "A1234":
                typing.append(app.echo_time(ch.encode()))
            for _ in "A1234":
                typing.append(app.echo_time(b"\x7f"))
    finally:
        app.close()
    return {"queue_open": queue_open, "scroll": scroll, "typing": typing}


def measure(db: str | os.PathLike[str], *, keys: int = 60, opens: int = 5) -> dict:
    """Run the whole measurement on a copy of ``db``; returns figures in milliseconds.

    Queue opening is sampled ``opens`` times (a fresh process each) for app and floor,
    alternating so both see the same machine load; the medians are quoted.
    """
    with tempfile.TemporaryDirectory(prefix="receipts-bench-") as tmp:
        info = prepare(Path(db), Path(tmp))
        got = _measure_app(info["copy"], info["account"], keys, info["filter_split"], info["filter_final"])
        floor = _measure_floor(keys)
        app_argv = [sys.executable, "-m", "tui_billing", "--db", str(info["copy"])]
        floor_argv = [sys.executable, str(Path(__file__).resolve()), "--floor-app"]
        app_opens, floor_opens = [got["queue_open"]], [floor["queue_open"]]
        for _ in range(max(0, opens - 1)):
            app_opens += _open_samples(app_argv, r"Receipts|Charge", 1)
            floor_opens += _open_samples(floor_argv, r"floor ready", 1)
        got["queue_open"] = statistics.median(app_opens)
        floor["queue_open"] = statistics.median(floor_opens)
    ms = lambda s: round(s * 1000, 1)  # noqa: E731
    out = {
        "charges": info["charges"], "open_receipts": info["open_receipts"],
        "payer_open_charges": info["payer_open_charges"],
        "queue_open_ms_median": ms(got["queue_open"]), "distribute_open_ms": ms(got["distribute_open"]),
        "filter_result_ms": ms(got["filter_result"]),
        "floor_queue_open_ms_median": ms(floor["queue_open"]),
        "queue_open_ratio_to_floor": round(got["queue_open"] / max(floor["queue_open"], 1e-6), 2),
        "queue_open_samples": len(app_opens),
    }
    for name in ("scroll", "typing"):
        label = "scroll_echo" if name == "scroll" else "filter_echo"
        out[f"{label}_ms_median"] = ms(statistics.median(got[name]))
        out[f"{label}_ms_p95"] = ms(percentile(got[name], 95))
        out[f"floor_{label}_ms_median"] = ms(statistics.median(floor[name]))
        out[f"floor_{label}_ms_p95"] = ms(percentile(floor[name], 95))
        out[f"{label}_p95_ratio_to_floor"] = round(percentile(got[name], 95) / max(percentile(floor[name], 95), 1e-6), 2)
    out["scroll_samples"] = len(got["scroll"])
    out["filter_samples"] = len(got["typing"])
    return out


def _floor_app() -> None:
    """The floor: a bare Textual app with the queue's widgets and nothing behind them.

    F3 switches to a screen with the same header, filter inputs, DataTable (300 rows), total
    line and footer as the receipts queue, its rows made in memory; no database, no workers.
    """
    from textual.app import App
    from textual.binding import Binding
    from textual.containers import Horizontal
    from textual.screen import Screen
    from textual.widgets import DataTable, Footer, Header, Input, Label, Static

    class Start(Screen[None]):
        def compose(self):
            yield Header()
            yield Static("floor ready")
            yield Footer()

    class Queue(Screen[None]):
        BINDINGS = [Binding("slash", "filter", "Filter"), Binding("n", "bell", "New"), Binding("r", "bell", "Refund")]

        def compose(self):
            yield Header()
            with Horizontal(id="rq-filters"):
                for name in ("payer", "patient", "method", "operator"):
                    yield Label(name)
                    yield Input(id=name, compact=True, placeholder="any")
            yield Static("batch")
            yield DataTable(id="t", cursor_type="row", cell_padding=0)
            yield Static("100 open receipts")
            yield Footer()

        def on_mount(self) -> None:
            t = self.query_one(DataTable)
            for c in ("DOS", "Patient", "Code", "Amount", "Balance", "Applied", "Adj", "Rsn", "X"):
                t.add_column(c, width=8)
            for i in range(300):  # enough to scroll as far as the measured app does
                t.add_row(f"2026-01-{i % 28 + 1:02d}", f"A{i:05d} Name", "99213", "100.00", "100.00", "", "", "", "")
            self.set_focus(t)

        def action_filter(self) -> None:
            self.set_focus(self.query_one(Input))

    class Floor(App[None]):
        CSS = "#rq-filters { height: 1; } #rq-filters Input { width: 8; } #t { height: 1fr; }"
        MODES = {"start": Start, "queue": Queue}
        BINDINGS = [Binding("f3", "switch_mode('queue')", "Queue")]

        def on_mount(self) -> None:
            self.switch_mode("start")

    Floor().run()


def make_books(path: Path, charges: int = 3000) -> None:
    """Small books for trying the bench before the demo database exists: one payer, many open lines."""
    import datetime as dt

    sys.path.insert(0, str(ROOT))
    from tui_billing.store import close_database, open_database
    from tui_billing.store import operations as ops

    for old in path.parent.glob(path.name + "*"):
        old.unlink()
    open_database(path, create=True)
    ops.seed_standard_reasons()
    prov = ops.add_provider("DRA", "Ann Able", "1234567893")
    payer = ops.add_payer("ACME", "Acme Health", "commercial")
    ops.set_procedure("99213", "Office visit", 10000)
    patients = [ops.add_patient(f"A{i:05d}", f"Last{i}", "First", "1980-01-01", "F",
                                coverages=[ops.CoverageIn(payer, f"M{i}")]) for i in range(max(1, charges // 30))]
    today = dt.date.today()
    for n in range(charges // 6):
        ops.post_encounter(patient_id=patients[n % len(patients)], provider_id=prov,
                           dos=today - dt.timedelta(days=400 - n * 400 // max(1, charges // 6)),
                           diagnoses=["J06.9"], lines=[ops.ChargeLine("99213")] * 6)
    close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="the books to measure (copied first; never written)")
    parser.add_argument("--keys", type=int, default=60, help="keystrokes per echo figure")
    parser.add_argument("--opens", type=int, default=5, help="fresh processes per queue-open figure")
    parser.add_argument("--make-db", metavar="PATH", help="build small books at PATH (no demo needed) and exit")
    parser.add_argument("--charges", type=int, default=3000, help="charge lines for --make-db")
    parser.add_argument("--floor-app", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_app:
        _floor_app()
        return
    if args.make_db:
        make_books(Path(args.make_db), args.charges)
        return
    if not args.db:
        parser.error("--db is required")
    print(json.dumps(measure(args.db, keys=args.keys, opens=args.opens), indent=2))


if __name__ == "__main__":
    main()
