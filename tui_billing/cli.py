"""The command line: bare `tui-billing` opens the TUI; subcommands work headless.

Heavy imports (Textual, the store, the code sets) are deferred into the commands that need
them, so `--help` and the report commands start fast and never load Textual.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from .claims_cli import register as register_claims
from .claims_print_cli import register as register_claims_print
from .cli_context import Context, fail, pass_ctx
from .pg_cli import register as register_pg
from .reports.cli import register as register_headless

DB_HELP = "Database file (or sqlite:///path). Default: $TUI_BILLING_DB, else the user data directory."




class DbAnywhere(click.Group):
    """Takes ``--db PATH`` after the command too (``tui-billing report daysheet --db X``):
    the clerk types it where it reads naturally; it is moved in front of the command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        front: list[str] = []
        rest: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                rest += args[i:]
                break
            if arg == "--db" and i + 1 < len(args):
                front += args[i:i + 2]
                i += 2
                continue
            if arg.startswith("--db="):
                front.append(arg)
            else:
                rest.append(arg)
            i += 1
        return super().parse_args(ctx, front + rest)


@click.group(cls=DbAnywhere, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", envvar="TUI_BILLING_DB", metavar="PATH", help=DB_HELP)
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Keyboard-driven billing for a medical office.

    Run with no command to open the billing screens.
    """
    obj = ctx.ensure_object(Context)  # run() hands down a standalone one; a test gets a fresh one
    obj.db = db
    if ctx.invoked_subcommand is None:
        _confirm_new_book(db)
        path = ctx.obj.open(create=True)
        from .app import BillingApp

        BillingApp(db_path=path).run()


def _confirm_new_book(db: str | None) -> None:
    """A mistyped --db must not quietly open an empty book: ask before creating one."""
    from .store.db import resolve_db_path
    from .store.errors import DatabaseFileError

    if (db or os.environ.get("TUI_BILLING_DB") or "").startswith(("postgresql://", "postgres://")):
        return  # a server's books are made by `pg setup`, never by opening them
    try:
        path = resolve_db_path(db)
    except DatabaseFileError as exc:
        fail(str(exc))
    if path.exists():
        return
    if not click.confirm(f"{path} does not exist. Create an empty book there?", default=False):
        fail(f"nothing created; check the path (or run `tui-billing --db {path} init` to start a new book)")


@main.command()
@click.option("--practice", metavar="NAME", help="The practice name printed on reports.")
@pass_ctx
def init(obj: Context, practice: str | None) -> None:
    """Create the database (mode 0600) with the standard adjustment reasons."""
    from .store import BillingError, operations

    path = obj.open(create=True)
    try:
        from .store import roles

        admin = roles.bootstrap()  # the first `init` user is the books' admin
        if admin:
            click.echo(f"{admin} is the admin of these books (tui-billing users add NAME to add clerks)")
        added = operations.seed_standard_reasons()
        if practice:
            operations.set_practice(practice)
    except BillingError as exc:
        fail(str(exc))
    where = obj.db if str(obj.db or "").startswith(("postgresql://", "postgres://")) else path  # (a URL as a Path loses its //)
    click.echo(f"database ready at {where} ({added} adjustment reasons added)")


@main.command()
@click.option("--quick", is_flag=True, help="Skip SQLite's page-level integrity check.")
@click.option("--witness", "witness", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="A file of day digests saved outside the books (syslog lines or day sheets) to prove them against.")
@pass_ctx
def check(obj: Context, quick: bool, witness: Path | None) -> None:
    """Prove the books: integrity, every invariant, the guards, the stored closes and digests, the audit chain."""
    from .store import run_check

    obj.open()
    report = run_check(integrity=not quick)
    if witness is not None:
        from .store.digests import witness_problems

        found, days = witness_problems(witness.read_text(encoding="utf-8", errors="replace"))
        report.problems.extend(found)
        report.facts["witnessed_days"] = days
    facts = ", ".join(f"{k} {v}" for k, v in report.facts.items())
    if report.ok:
        click.echo(f"ok: {facts}")  # first: scripts read the verdict's line
        for notice in report.notices:
            click.echo(f"note: {notice}")
        return
    for notice in report.notices:
        click.echo(f"note: {notice}", err=True)
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

    if (obj.db or "").startswith(("postgresql://", "postgres://")):
        fail("books on a PostgreSQL server are backed up by the server's own tools: pg_dump -Fc (nightly) and, for "
             "point-in-time recovery, WAL archiving with pg_basebackup; see the README's PostgreSQL section")
    obj.open()
    try:
        pages = backup_to(dest, force=force)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"backed up {pages} pages to {dest}")


@main.command()
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def restore(obj: Context, backup_file: Path) -> None:
    """Replace the books with BACKUP (checked first); the current file and its -wal are kept aside.

    Refused while anyone has the books open: everyone quits tui-billing first.
    """
    from .store import BillingError, resolve_db_path
    from .store.backup import restore_from

    try:
        path = resolve_db_path(obj.db)
        kept = restore_from(backup_file, path)
    except BillingError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot restore {backup_file}: {exc.strerror or exc}; nothing was changed")
    where = f"; the replaced books are kept as {kept}" if kept else ""
    click.echo(f"restored {backup_file} to {path}{where}")


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

    if (obj.db or "").startswith(("postgresql://", "postgres://")):  # built as a file, then moved (pg_cli.py)
        from .pg_cli import demo_on_server

        moved = demo_on_server(obj.db or "", charges=charges, patients=patients or max(50, charges // 10), days=days,
                               seed=seed)
        click.echo(", ".join(f"{k} {v}" for k, v in moved.items()))
        return
    path = resolve_db_path(obj.db)
    try:
        stats = build_demo(path, charges=charges, patients=patients or max(50, charges // 10), days=days,
                           seed=seed, force=force)
    except Exception as exc:  # the build's temporary file is gone (build_demo removes it); say why in one line
        from .files import DiskFullError, disk_full_message, is_disk_full

        if isinstance(exc, DiskFullError) or is_disk_full(exc):
            fail(f"{disk_full_message(path, exc)} (the demo database was not built)")
        if isinstance(exc, BillingError):
            fail(str(exc))
        raise
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
    from .store import digests

    sealed = digests.day_digest(totals["start"])
    if sealed:  # keep it outside the books: `tui-billing check --witness FILE` proves them against it
        click.echo(digests.witness_line(totals["start"], sealed))


@close.command("batch")
@click.argument("batch_id", metavar="BATCH", type=int)
@pass_ctx
def close_batch_cmd(obj: Context, batch_id: int) -> None:
    """Close a balanced batch: your own, or (a supervisor) one another clerk left open."""
    from .money import format_cents
    from .store import BillingError, operations

    obj.open()
    try:
        status = operations.close_batch(batch_id)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"{status.kind} batch {status.id} ({status.operator}) closed: {status.entered_count} / "
               f"{format_cents(status.entered_total)}")


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


@main.group()
def users() -> None:
    """Who may use these books and in which role (admin, supervisor, clerk); an admin changes them."""


def _users_write(obj: Context, name: str, role: str, *, new: bool = False) -> None:
    from .store import BillingError, roles

    obj.open()
    try:
        got = roles.grant(name, role, new=new)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"{name}: {got if got != 'none' else 'no role (revoked)'}")


@users.command("list")
@pass_ctx
def users_list(obj: Context) -> None:
    """Everyone who was ever given a role, with their role now."""
    from .store import roles
    from .text import inert

    obj.open()
    for user, role, by, at in roles.users():
        click.echo(f"{inert(user):<20} {role:<10} granted by {inert(by)} at {at[:16].replace('T', ' ')}")


@users.command("add")
@click.argument("name")
@click.argument("role", type=click.Choice(["clerk", "supervisor", "admin"]), default="clerk")
@pass_ctx
def users_add(obj: Context, name: str, role: str) -> None:
    """Add a user (an OS account) to these books, as a clerk unless told."""
    _users_write(obj, name, role, new=True)


@users.command("grant")
@click.argument("name")
@click.argument("role", type=click.Choice(["clerk", "supervisor", "admin"]))
@pass_ctx
def users_grant(obj: Context, name: str, role: str) -> None:
    """Change a user's role (a new grant; the old one stays in the history)."""
    _users_write(obj, name, role)


@users.command("revoke")
@click.argument("name")
@pass_ctx
def users_revoke(obj: Context, name: str) -> None:
    """Take a user's role away: they can still read, no longer post."""
    _users_write(obj, name, "none")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback: a TLS proxy in front "
              "for anything else).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--behind-tls", is_flag=True, help="A TLS reverse proxy is in front: Secure cookies, https/wss origins.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="A host name browsers use besides localhost (the proxy's public name); repeatable.")
@pass_ctx
def serve(obj: Context, host: str, port: int, behind_tls: bool, allow_hosts: tuple[str, ...]) -> None:
    """The billing screens in a browser: each user signs in with their own account (issue 18)."""
    from .web.server import LOOPBACK

    if host.strip("[]") not in LOOPBACK and not behind_tls:
        fail(f"passwords would cross the network in clear on {host}: listen on 127.0.0.1 with a TLS proxy in "
             "front (README, In a browser) and pass --behind-tls")
    path = obj.open()  # the books must exist; sign-ins are audited in them
    from .web.server import BillingServer

    BillingServer(path, host=host, port=port, behind_tls=behind_tls, allow_hosts=allow_hosts).serve()


def run() -> None:
    """The ``tui-billing`` program's entry point (this process is the program, not a test)."""
    main(obj=Context(standalone=True))


# The report, export and import groups live in tui_billing.reports (click only at import).
register_headless(main)
# The claims group (issue 13) lives in tui_billing.claims_cli (click only at import).
register_claims(main)
# CMS-1500 printing (issue 13) joins that group: after it, or the group made there replaces it.
register_claims_print(main)

# PostgreSQL books: `pg setup`, `pg login`, `migrate --to` (tui_billing/pg_cli.py).
register_pg(main)
