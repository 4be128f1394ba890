"""The command modules share one context module and never import each other.

`tui_billing/cli.py` (the group) and `tui_billing/reports/cli.py` (report, export, import)
both take `Context` and `fail` from `tui_billing/cli_context.py`. Whether this process is the
program itself travels on the click context (``Context.standalone``), not in a global flag.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tui_billing import cli_context
from tui_billing.cli import main
from tui_billing.reports import cli as reports_cli
from tui_billing.store import close_database

ROOT = Path(__file__).resolve().parent.parent


def test_both_command_modules_share_one_context_and_fail():
    from tui_billing import cli

    assert cli.Context is cli_context.Context is reports_cli.Context
    assert cli.fail is cli_context.fail is reports_cli.fail
    assert not hasattr(cli, "STANDALONE")


def test_an_in_process_invocation_leaves_the_interpreter_alone(today, tmp_path):
    """A test (or any caller of `main` in its own process) is not the program: no GC tuning."""
    books = tmp_path / "books.db"
    runner = CliRunner()
    before = gc.get_threshold()
    try:
        assert runner.invoke(main, ["--db", str(books), "init"]).exit_code == 0
        result = runner.invoke(main, ["--db", str(books), "report", "unapplied"])
    finally:
        close_database()
    assert result.exit_code == 0, result.output
    assert gc.get_threshold() == before


def test_the_program_itself_tunes_the_collector_for_a_report(today, tmp_path):
    """`run()` (the console script and `python -m`) marks its context standalone; a report then
    runs the young-object pass per 100,000 new objects."""
    books = tmp_path / "books.db"
    env = {k: v for k, v in os.environ.items() if k != "TUI_BILLING_DB"}
    env["PYTHONPATH"] = str(ROOT)
    code = ("import atexit, gc, sys\n"
            "from tui_billing.cli import run\n"
            "atexit.register(lambda: print('threshold', gc.get_threshold()[0]))\n"
            "sys.argv = ['tui-billing', *sys.argv[1:]]\n"
            "run()\n")
    init = subprocess.run([sys.executable, "-c", code, "--db", str(books), "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert init.stdout.strip().endswith("threshold 700")  # init is no report: untouched
    report = subprocess.run([sys.executable, "-c", code, "--db", str(books), "report", "unapplied"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    assert report.stdout.strip().endswith("threshold 100000")


def test_a_missing_database_fails_in_one_line_through_the_shared_fail(today, tmp_path):
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "nope.db"), "report", "unapplied"])
    assert result.exit_code == 1
    assert result.stderr.startswith("tui-billing: ") and len(result.stderr.strip().splitlines()) == 1
