"""Account screen (F7) benchmark in a real pseudo-terminal at 80x24.

Measures what a clerk feels on a big database:

* ``search_<way>_ms_p50/p95``: from the last key of a query typed into *Find* (the rest typed
  and its list shown first; the last key always changes the first match) to the expected first
  match painted in the list, for each way of searching: account number without its leading
  zeros, ``last,first`` prefix, date of birth as typed (MM/DD/YYYY), phone;
* ``open_ms_p50/p95``: from Enter on a patient with ~500 charge lines (the one nearest above
  500; the biggest if none reaches it) to the ledger and its line count on screen;
* the same figures for a floor: a bare Textual app with an Input, a 5-row list and a
  DataTable, filled from memory (no database), measured in the same run, and the ratios.

``python bench/accounts_bench.py --db /tmp/acct-demo.db [--samples 30] [--opens 10]``. The
database is copied first (the search keys are filled on the copy if a demo left them empty);
the original is never written.
"""

from __future__ import annotations

import argparse
import json
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

F7, ESC, ENTER, CTRL_U = b"\x1b[18~", b"\x1b", b"\r", b"\x15"


def prepare(db: Path, workdir: Path) -> dict:
    """Copy the books; choose the queries (with the first match each must paint) and the account."""
    copy = workdir / "accounts-bench.db"
    shutil.copyfile(db, copy)
    copy.chmod(0o600)
    from tui_billing.store import account_queries as aq
    from tui_billing.store import close_database, open_database
    from tui_billing.store.accounts import fill_search_keys
    from tui_billing.store.db import database

    open_database(copy)
    try:
        filled = fill_search_keys()
        q = database.execute_sql
        row = q("SELECT patient_id, COUNT(*) n FROM charge WHERE reverses_id IS NULL GROUP BY patient_id "
                "HAVING n >= 500 ORDER BY n LIMIT 1").fetchone() or q(
                "SELECT patient_id, COUNT(*) n FROM charge WHERE reverses_id IS NULL GROUP BY patient_id "
                "ORDER BY n DESC LIMIT 1").fetchone()
        big, lines = row
        acct = q("SELECT account FROM patient WHERE id = ?", (big,)).fetchone()[0]
        total = q("SELECT COUNT(*) FROM patient").fetchone()[0]
        # a patient from the middle of the file, with a phone, for the other ways
        mid = q("SELECT id, last_name, first_name, dob, phone FROM patient WHERE phone_key <> '' "
                "ORDER BY id LIMIT 1 OFFSET ?", (total // 2,)).fetchone()
        _, last, first, dob, phone = mid
        y, m, d = dob.split("-")
        queries = {
            "account": "".join(ch for ch in acct if ch.isdigit()).lstrip("0"),
            "name": f"{last.lower()},{first[:2].lower()}",
            "dob": f"{m}/{d}/{y}",
            "phone": phone,
        }
        # the last key must change the first match, or its paint could not be told from the last
        first_hit = lambda t: (aq.search_patients(t).hits or [None])[0]  # noqa: E731
        for k in range(1, len(first) + 1):
            queries["name"] = f"{last.lower()},{first[:k].lower()}"
            prev = first_hit(queries["name"][:-1])
            if prev is None or prev.account != first_hit(queries["name"]).account:
                break
        expect = {}
        for way, text in queries.items():
            page = aq.search_patients(text)
            assert page.hits, (way, text)
            expect[way] = page.hits[0].account
        charges = q("SELECT COUNT(*) FROM charge").fetchone()[0]
    finally:
        close_database()
    return {"copy": copy, "queries": queries, "expect": expect, "open_account": acct, "open_lines": lines,
            "charges": charges, "patients": total, "keys_filled": filled}


def _search_samples(app: PtyProcess, queries: dict, expect: dict, samples: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {way: [] for way in queries}
    for _ in range(samples):
        for way, text in queries.items():
            app.send(CTRL_U)
            try:
                app.wait_for("birth date", timeout=2)  # the empty field's hint: the old list is gone
            except TimeoutError:
                pass  # the field was empty already (the first query)
            app.drain(0.05)
            if len(text) > 1:  # typed up to the last key, and its list shown
                app.send(text[:-1])
                app.drain(0.3)
            start = time.perf_counter()
            app.send(text[-1])
            app.wait_for(expect[way], timeout=10)
            out[way].append(time.perf_counter() - start)
    return out


def _open_samples(app: PtyProcess, account: str, lines: int, opens: int, done: str) -> list[float]:
    out = []
    for _ in range(opens):
        app.send(b"/")
        app.send(CTRL_U)
        app.drain(0.1)
        app.send(account)
        app.wait_for(account, timeout=10)
        app.drain(0.2)
        start = time.perf_counter()
        app.send(ENTER)
        app.wait_for(done, timeout=30)
        out.append(time.perf_counter() - start)
        app.drain(0.2)
    return out


def _measure_app(info: dict, samples: int, opens: int) -> dict:
    app = PtyProcess([sys.executable, "-m", "tui_billing", "--db", str(info["copy"])],
                     env=child_env(TUI_BILLING_OPERATOR="bench"), cwd=ROOT)
    try:
        app.wait_for(re.compile(r"Charge|batch"), timeout=60)
        app.drain(0.5)
        app.send(ESC)  # the new-batch question charge entry asks a clerk with no open batch
        app.drain(0.3)
        app.send(F7)
        app.wait_for("Find", timeout=30)
        app.drain(0.5)
        got = _search_samples(app, info["queries"], info["expect"], samples)
        got["open"] = _open_samples(app, info["open_account"], info["open_lines"], opens,
                                    f"{info['open_lines']} lines.")
        return got
    finally:
        app.close()


def _measure_floor(info: dict, samples: int, opens: int) -> dict:
    app = PtyProcess([sys.executable, str(Path(__file__).resolve()), "--floor-app",
                      json.dumps({"expect": info["expect"], "lines": info["open_lines"]})], env=child_env(), cwd=ROOT)
    try:
        app.wait_for("Find", timeout=60)
        app.drain(0.5)
        got = _search_samples(app, info["queries"], info["expect"], samples)
        got["open"] = _open_samples(app, info["open_account"], info["open_lines"], opens,
                                    f"{info['open_lines']} lines.")
        return got
    finally:
        app.close()


def measure(db: Path, *, samples: int = 30, opens: int = 10) -> dict:
    with tempfile.TemporaryDirectory(dir=Path(db).resolve().parent) as tmp:
        info = prepare(Path(db), Path(tmp))
        got = _measure_app(info, samples, opens)
        floor = _measure_floor(info, samples, opens)
    ms = lambda s: round(s * 1000, 1)  # noqa: E731
    out = {"charges": info["charges"], "patients": info["patients"], "queries": info["queries"],
           "open_lines": info["open_lines"]}
    for name in list(info["queries"]) + ["open"]:
        label = f"search_{name}" if name != "open" else "open"
        out[f"{label}_ms_p50"] = ms(statistics.median(got[name]))
        out[f"{label}_ms_p95"] = ms(percentile(got[name], 95))
        out[f"floor_{label}_ms_p50"] = ms(statistics.median(floor[name]))
        out[f"floor_{label}_ms_p95"] = ms(percentile(floor[name], 95))
        out[f"{label}_p95_ratio_to_floor"] = round(percentile(got[name], 95) / max(percentile(floor[name], 95),
                                                                                     1e-6), 2)
    return out


def _floor_app(spec: str) -> None:
    """The floor: the screen's widgets (an Input, a 5-row list, a DataTable) fed from memory."""
    from textual.app import App
    from textual.widgets import DataTable, Input, Static

    conf = json.loads(spec)
    hint = "account, last,first, birth date (01/02/1980) or phone"
    # every query shows all the expected first matches at once: the floor has no search cost
    shown = "\n".join(f" {acct}   Floor, Patient   1970-01-01 PAYER" for acct in conf["expect"].values())

    class Floor(App[None]):
        def compose(self):
            yield Static("Find", id="t")
            yield Input(id="find", compact=True)
            yield Static(hint, id="list")
            yield Static("", id="status")  # above the table: a full table would push it off screen
            yield DataTable(id="tbl")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for col in ("DOS", "Enc", "Code", "Charged", "Paid", "Adjusted", "Balance", "Owed by", "Running"):
                table.add_column(col)
            self.query_one(Input).focus()

        def on_input_changed(self, event: Input.Changed) -> None:
            self.query_one("#list", Static).update(shown if event.value.strip() else hint)

        def on_input_submitted(self, event: Input.Submitted) -> None:
            table = self.query_one(DataTable)
            table.clear()
            for i in range(conf["lines"]):
                table.add_row("2026-01-01", str(i), "99213", "100.00", "0.00", "0.00", "100.00", "PAYER", "100.00")
            self.query_one("#status", Static).update(f"{conf['lines']} lines.")

    Floor().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--opens", type=int, default=10)
    parser.add_argument("--floor-app", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_app:
        _floor_app(args.floor_app)
        return
    if not args.db:
        parser.error("--db is required")
    print(json.dumps(measure(args.db, samples=args.samples, opens=args.opens), indent=2))


if __name__ == "__main__":
    main()
