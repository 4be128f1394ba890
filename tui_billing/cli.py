"""The command line: bare `tui-billing` opens the TUI; subcommands work headless.

Heavy imports (Textual, the store, the code sets) are deferred into the commands that need
them, so `--help` and the report commands start fast and never load Textual.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_context import Context, fail, pass_ctx
from .reports.cli import register as register_headless

DB_HELP = "Database file (or sqlite:///path). Default: $TUI_BILLING_DB, else the user data directory."




@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="TUI_BILLING_DB", metavar="PATH", help=DB_HELP)
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Keyboard-driven billing for a medical office.

    Run with no command to open the billing screens.
    """
    obj = ctx.ensure_object(Context)  # run() hands down a standalone one; a test gets a fresh one
    obj.db = db
    if ctx.invoked_subcommand is None:
        path = ctx.obj.open(create=True)
        from .app import BillingApp

        BillingApp(db_path=path).run()


@main.command()
@click.option("--practice", metavar="NAME", help="The practice name printed on reports.")
@pass_ctx
def init(obj: Context, practice: str | None) -> None:
    """Create the database (mode 0600) with the standard adjustment reasons."""
    from .store import BillingError, operations

    path = obj.open(create=True)
    try:
        added = operations.seed_standard_reasons()
        if practice:
            operations.set_practice(practice)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"database ready at {path} ({added} adjustment reasons added)")


@main.command()
@click.option("--quick", is_flag=True, help="Skip SQLite's page-level integrity check.")
@pass_ctx
def check(obj: Context, quick: bool) -> None:
    """Prove the books: integrity, every invariant, the stored closes and the audit chain."""
    from .store import run_check

    obj.open()
    report = run_check(integrity=not quick)
    facts = ", ".join(f"{k} {v}" for k, v in report.facts.items())
    if report.ok:
        click.echo(f"ok: {facts}")
        return
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    fail(f"{len(report.problems)} problem(s) found")


@main.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace DEST if it exists.")
@pass_ctx
def backup(obj: Context, dest: Path, force: bool) -> None:
    """Copy the database to DEST with SQLite's online backup (safe while clerks are posting)."""
    from .store import BillingError
    from .store.backup import backup_to

    obj.open()
    try:
        pages = backup_to(dest, force=force)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"backed up {pages} pages to {dest}")


@main.command()
@click.option("--charges", default=20_000, show_default=True, type=click.IntRange(0, 20_000_000))
@click.option("--patients", default=None, type=click.IntRange(1, 5_000_000), help="Default: charges / 10.")
@click.option("--days", default=250, show_default=True, type=click.IntRange(1, 3650),
              help="Business days of history, ending today (250 is about a year).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--force", is_flag=True, help="Replace an existing database file.")
@pass_ctx
def demo(obj: Context, charges: int, patients: int | None, days: int, seed: int, force: bool) -> None:
    """Build a realistic synthetic practice (deterministic for a seed and day) to try the screens on.

    Past days and months are closed, today is open with some of its work keyed. Refuses an
    existing database unless --force. TUI_BILLING_TODAY pins the day the history ends on.
    """
    from .demo import build_demo
    from .store import BillingError, resolve_db_path

    path = resolve_db_path(obj.db)
    try:
        stats = build_demo(path, charges=charges, patients=patients or max(50, charges // 10), days=days,
                           seed=seed, force=force)
    except BillingError as exc:
        fail(str(exc))
    click.echo(", ".join(f"{k} {v}" for k, v in stats.items()))


# --------------------------------------------------------------------------- closes


def _money_option(value: str | None, name: str) -> int:
    """A counted amount typed on the command line (exit 2, like any bad flag, if it is not money)."""
    from .money import MoneyError, parse_cents

    if value is None:
        return 0
    try:
        return parse_cents(value, allow_zero=True)
    except MoneyError as exc:
        fail(f"--{name} {value!r}: {exc}", 2)


@main.group()
def close() -> None:
    """Close a posting day (with the counted deposit) or a month, with the same rules as F4."""


@close.command("day")
@click.argument("date", required=False, metavar="[DATE]")
@click.option("--cash", metavar="AMOUNT", help="Cash counted in the drawer.")
@click.option("--checks", metavar="AMOUNT", help="The check tape total.")
@click.option("--check-count", type=click.IntRange(0, 99999), default=None,
              help="How many checks are on the tape. Default: the number of check receipts posted.")
@click.option("--card", metavar="AMOUNT", help="The card terminal's batch total.")
@click.option("--eft", metavar="AMOUNT", help="EFTs on the bank statement.")
@pass_ctx
def close_day_cmd(obj: Context, date: str | None, cash: str | None, checks: str | None, check_count: int | None,
                  card: str | None, eft: str | None) -> None:
    """Close DATE (default: the current posting date): refused while a batch is open or the deposit differs."""
    from .money import format_cents
    from .store import BillingError, DepositCount, close_day, current_posting_date, day_summary

    counted_money = {name: _money_option(value, name) for name, value in
                     (("cash", cash), ("checks", checks), ("card", card), ("eft", eft))}
    obj.open()
    try:
        when = date or current_posting_date()
        if check_count is None:
            # The tape's count defaults to what was posted, so only a typed count can differ.
            from .store.validate import iso_date

            check_count = day_summary(iso_date(when, "the date to close")).check_count
        totals = close_day(when, DepositCount(check_count=check_count, **counted_money))
    except BillingError as exc:
        fail(str(exc))
    deposit = sum(totals["deposit"].values())
    click.echo(f"day {totals['start']} closed: charges {format_cents(totals['charges'])}, receipts "
               f"{format_cents(sum(totals['receipts_by_method'].values()))}, deposit {format_cents(deposit)}, "
               f"closing A/R {format_cents(totals['closing_ar'])}; postings now go to {current_posting_date()}")


@close.command("month")
@click.argument("month", metavar="YYYY-MM")
@pass_ctx
def close_month_cmd(obj: Context, month: str) -> None:
    """Close a month once every day of it with postings is closed; stores its roll-forward."""
    from .money import format_cents
    from .store import BillingError, close_month

    obj.open()
    try:
        totals = close_month(month)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"month {month} closed: opening A/R {format_cents(totals['opening_ar'])} + charges "
               f"{format_cents(totals['charges'])} - applied {format_cents(totals['applications'])} - adjustments "
               f"{format_cents(totals['adjustments'])} = closing A/R {format_cents(totals['closing_ar'])}")


def run() -> None:
    """The ``tui-billing`` program's entry point (this process is the program, not a test)."""
    main(obj=Context(standalone=True))


# The report, export and import groups live in tui_billing.reports (click only at import).
register_headless(main)
