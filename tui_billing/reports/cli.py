"""The headless `report`, `export` and `import` command groups.

Only click is imported at module level: queries, tabulate and the store load inside each
command, so `tui-billing --help` stays quick and nothing here ever imports Textual.

Usage mistakes (an unknown flag, a bad date) print one line on stderr and exit 2; a report
that cannot run for what was asked (no such patient) exits 1; never a traceback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..cli_context import Context, current, fail

if TYPE_CHECKING:
    from .render import Report

EXTRA_FORMATS = ("csv", "json")
#: Formats the renderer writes itself (the default among them): checking them needs no tabulate.
OWN_FORMATS = EXTRA_FORMATS + ("simple", "plain")


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line: scripts and cron mail read the first line only."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click's hook
        where = f" (see `{self.ctx.command_path} --help`)" if self.ctx else ""
        from ..text import inert

        click.echo(f"tui-billing: {inert(self.format_message())}{where}", err=True)


def _one_line(exc: click.UsageError) -> OneLineUsageError:
    new = OneLineUsageError(exc.format_message(), ctx=exc.ctx)
    return new


class Command(click.Command):
    """A click command whose parse errors come out as one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except OneLineUsageError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None


class Group(click.Group):
    """A click group whose commands (and unknown-command errors) speak in one line."""

    command_class = Command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except OneLineUsageError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except OneLineUsageError:
            raise
        except click.UsageError as exc:
            raise _one_line(exc) from None


Group.group_class = Group


class IsoDate(click.ParamType):
    """A calendar date written YYYY-MM-DD."""

    name = "YYYY-MM-DD"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            self.fail(f"{value!r} is not a date like 2026-11-26", param, ctx)


class Month(click.ParamType):
    name = "YYYY-MM"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}", text):
            try:
                dt.date.fromisoformat(text + "-01")
                return text
            except ValueError:
                pass
        self.fail(f"{value!r} is not a month like 2026-11", param, ctx)


class TableFormat(click.ParamType):
    """Any tabulate table format, csv or json (tabulate's list is read only when checking)."""

    name = "FORMAT"

    def convert(self, value, param, ctx):
        if value in OWN_FORMATS:
            return value  # these never import tabulate
        from tabulate import tabulate_formats

        if value in tabulate_formats:
            return value
        self.fail(f"{value!r} is not a format; use csv, json or one of: {', '.join(tabulate_formats)}", param, ctx)


DATE = IsoDate()


def output_options(fn: Callable) -> Callable:
    """--format, --output and --page-length, shared by every report (and by `report receipt`)."""
    fn = click.option("--page-length", type=click.IntRange(10, 1000), default=None, metavar="N",
                      help="Printer pages of N lines: a header with page X of Y on each, form feed between.")(fn)
    fn = click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
                      help="Write to FILE instead of standard output.")(fn)
    fn = click.option("--format", "-f", "fmt", type=TableFormat(), default="simple", show_default=True,
                      help="Any tabulate table format (simple, grid, github, psql, plain, html, ...), csv or json.")(fn)
    return fn


def emit(report, fmt: str, output: Path | None, page_length: int | None) -> None:
    """Render a :class:`~tui_billing.reports.render.Report` and write it where asked."""
    from .render import render

    if page_length and fmt in EXTRA_FORMATS:
        raise OneLineUsageError(f"--page-length is for printed tables, not {fmt}",
                                ctx=click.get_current_context(silent=True))
    try:
        text = render(report, fmt, page_length=page_length)
    except ValueError as exc:
        raise OneLineUsageError(str(exc), ctx=click.get_current_context(silent=True)) from None
    write_text(text, output)


@contextlib.contextmanager
def open_output(output: Path | None):
    """A write function for standard output or FILE: FILE is private (0600) and appears only when
    complete (tui_billing.files); exit 1 with one line if it cannot be written."""
    if output is None:
        yield lambda text: click.echo(text, nl=False)
        return
    from ..files import atomic_output
    from ..store.errors import BillingError

    try:
        with atomic_output(output) as fh:
            yield fh.write
    except BillingError as exc:
        fail(str(exc))


def write_text(text: str, output: Path | None) -> None:
    if output is None:
        # the text is already inert (no escape sequences for click.echo to strip, which it
        # would scan a megabyte for when the output is not a terminal); a closed pipe (`| head`)
        # is click's to handle: exit 1, no traceback
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with open_output(output) as write:
        write(text)


def open_books(*, reader: bool = False) -> None:
    """Open the database given to the top-level command (exit 1 if it is missing)."""
    current().open(create=False, reader=reader)


def run_report(fn: Callable | None = None, *, snapshot: bool = True) -> Callable:
    """Open the books, run the command, and turn a store or report refusal into exit 1.

    A report reads inside one snapshot (its entries and totals always agree), on a read-only
    connection; an import (``snapshot=False``) writes, in its own transaction.
    """
    if fn is None:
        return functools.partial(run_report, snapshot=snapshot)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..store.access import record_command as record_read
        from ..store.db import close_reader, read_snapshot
        from ..store.errors import BillingError
        from .queries import ReportError

        # a report reads on its own plain connection (no Peewee to load); an import writes
        open_books(reader=snapshot)
        try:
            record_read(click.get_current_context().command_path, kwargs)  # patient data: audited before shown
            with read_snapshot() if snapshot else contextlib.nullcontext():
                return fn(*args, **kwargs)
        except (ReportError, BillingError) as exc:
            fail(str(exc))
        finally:
            close_reader()

    return wrapper


def _today() -> str:
    from ..store.clock import today

    return today().isoformat()


# --------------------------------------------------------------------------- report


def _short_lived_gc(ctx: click.Context) -> None:
    """A report is a short process that builds tens of thousands of small rows and exits.

    The cyclic collector walks every loaded module's objects on each full pass while the rows
    are built, and once more at exit, for garbage that reference counting frees anyway: freeze
    what is loaded now, run the young-object pass far less often, and freeze everything again
    before exit (~15 ms of a 1M-charge day sheet). New cycles are still collected. Only in the
    program's own process, never in a test's."""
    import gc

    obj = ctx.find_object(Context)
    if obj is None or not obj.standalone:
        return
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)  # a young-object pass per 100,000 new objects, not per 700
    ctx.call_on_close(gc.freeze)


@click.group(cls=Group)
@click.pass_context
def report(ctx: click.Context) -> None:
    """Print a report headless (for cron, scripts and the printer)."""
    _short_lived_gc(ctx)


@report.command()
@click.option("--date", "date", type=DATE, default=None, help="Posting date (default: today).")
@click.option("--by", type=click.Choice(["operator", "provider"]), default=None, help="Group the entries.")
@output_options
@run_report
def daysheet(date: str | None, by: str | None, fmt: str, output: Path | None, page_length: int | None) -> None:
    """Every entry posted on a day, with operator, and the balancing totals and A/R roll-forward."""
    from .queries import daysheet as build

    emit(build(date or _today(), by), fmt, output, page_length)


@report.command()
@click.option("--date", "date", type=DATE, default=None, help="Posting date (default: today).")
@output_options
@run_report
def deposit(date: str | None, fmt: str, output: Path | None, page_length: int | None) -> None:
    """The deposit slip: receipts by method with check numbers and payers, totals, counted figures."""
    from .queries import deposit as build

    emit(build(date or _today()), fmt, output, page_length)


@report.command()
@click.option("--as-of", "as_of", type=DATE, default=None, help="Count only what was posted by this date.")
@click.option("--by", type=click.Choice(["payer", "patient"]), default="payer", show_default=True)
@click.option("--basis", type=click.Choice(["service", "posting"]), default="service", show_default=True,
              help="Age from the date of service or from the posting date.")
@output_options
@run_report
def aging(as_of: str | None, by: str, basis: str, fmt: str, output: Path | None, page_length: int | None) -> None:
    """Balances in 0-30, 31-60, 61-90, 91-120 and 121+ day buckets, patient and each payer apart."""
    from .queries import aging as build

    emit(build(as_of or _today(), by, basis), fmt, output, page_length)


@report.command()
@click.option("--month", "month", type=Month(), default=None, help="Default: the current month.")
@output_options
@run_report
def month(month: str | None, fmt: str, output: Path | None, page_length: int | None) -> None:
    """The month's roll-forward, and charges, receipts and adjustments by provider, payer and code."""
    from .queries import month as build

    emit(build(month or _today()[:7]), fmt, output, page_length)


@report.command()
@output_options
@run_report
def unapplied(fmt: str, output: Path | None, page_length: int | None) -> None:
    """Receipts with money not yet distributed, oldest first."""
    from .queries import unapplied as build

    emit(build(_today()), fmt, output, page_length)


@report.command()
@click.option("--from", "start", type=DATE, default=None)
@click.option("--to", "end", type=DATE, default=None)
@click.option("--user", default=None, help="Only this operator's events.")
@output_options
@run_report
def audit(start: str | None, end: str | None, user: str | None, fmt: str, output: Path | None,
          page_length: int | None) -> None:
    """The audit trail: who did what, when, on which record."""
    from .queries import audit as build

    if start and end and start > end:
        raise OneLineUsageError(f"--from {start} is after --to {end}", ctx=click.get_current_context())
    emit(build(start, end, user), fmt, output, page_length)


@report.command()
@click.option("--patient", "account", metavar="ACCT", default=None, help="One patient's account number.")
@click.option("--all", "all_due", is_flag=True, help="Every patient with a balance due (one per page).")
@output_options
@run_report
def statement(account: str | None, all_due: bool, fmt: str, output: Path | None, page_length: int | None) -> None:
    """Itemised patient statements with aging and amount due, page-separated for printing."""
    from .queries import statements

    if bool(account) == all_due:
        raise OneLineUsageError("give --patient ACCT or --all", ctx=click.get_current_context())
    if account:
        emit(statements(account, _today()), fmt, output, page_length)
        return
    from .queries import statement_reports
    from .render import render_stream

    if page_length and fmt in EXTRA_FORMATS:
        raise OneLineUsageError(f"--page-length is for printed tables, not {fmt}", ctx=click.get_current_context())
    # streamed: one statement in memory at a time, however many patients owe
    with open_output(output) as write:
        if not render_stream(statement_reports(None, _today()), fmt, write, page_length=page_length,
                             name="statements"):
            write("no patient owes a balance\n" if fmt not in EXTRA_FORMATS else "")


@report.command()
@click.option("--as-of", "as_of", type=DATE, default=None, help="Age claims as of this day (default: today).")
@click.option("--basis", type=click.Choice(["created", "service"]), default="created", show_default=True,
              help="Age from the day the claim was made or from its date of service.")
@output_options
@run_report
def claims(as_of: str | None, basis: str, fmt: str, output: Path | None, page_length: int | None) -> None:
    """Claim status aging: counts and amounts by status in 0-30 ... 121+ day buckets."""
    from .claims_report import claims_aging

    emit(claims_aging(as_of or _today(), basis), fmt, output, page_length)


@report.command()
@click.argument("number", type=click.IntRange(1))
@output_options
@run_report
def receipt(number: int, fmt: str, output: Path | None, page_length: int | None) -> None:
    """A patient receipt for receipt NUMBER (printed text; csv/json give its figures)."""
    try:
        from . import receipt as receipt_module  # written on the receipts branch
    except ImportError:
        fail("patient receipts are not available in this build (tui_billing/reports/receipt.py is missing)")
    data = receipt_module.receipt_rows(number)
    if fmt in EXTRA_FORMATS:
        emit(receipt_report(data), fmt, output, page_length)
        return
    text = receipt_module.render_receipt(data)
    write_text(paginate_text(text, page_length) if page_length else text, output)


def receipt_report(data) -> Report:
    """The figures of a printed receipt (the receipts branch's ReceiptPrint) as a Report."""
    import dataclasses

    from .render import Money, Report, Section

    fields = dataclasses.asdict(data)
    paid = fields.pop("paid", [])
    money = {"amount", "refunded", "unapplied", "account_balance", "charge_amount", "paid", "adjusted", "balance_now"}
    wrap = lambda k, v: Money(v) if k in money and isinstance(v, int) else v  # noqa: E731
    report = Report("receipt", f"Receipt {fields.get('receipt_id', '')}", practice=fields.get("practice_name", ""))
    report.sections.append(Section("Receipt", ["field", "value"], [[k, wrap(k, v)] for k, v in fields.items()],
                                   key="receipt"))
    if paid:
        cols = list(paid[0])
        report.sections.append(Section("Paid", cols, [[wrap(c, line[c]) for c in cols] for line in paid], key="paid"))
    return report


def paginate_text(text: str, page_length: int) -> str:
    """Plain text cut into printer pages of ``page_length`` lines with a form feed between."""
    lines = text.rstrip("\n").split("\n")
    pages = ["\n".join(lines[i:i + page_length]) + "\n" for i in range(0, len(lines), page_length)]
    return "\f".join(pages)


# --------------------------------------------------------------------------- export


@click.group(cls=Group)
@click.pass_context
def export(ctx: click.Context) -> None:
    """Export the books for other tools."""
    _short_lived_gc(ctx)


@export.command()
@click.option("--from", "start", type=DATE, default=None, help="First posting date (default: the beginning).")
@click.option("--to", "end", type=DATE, default=None, help="Last posting date (default: today).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None)
@run_report
def journal(start: str | None, end: str | None, output: Path | None) -> None:
    """The books as a double-entry plain-text journal (hledger and ledger read it)."""
    from .journal import write_journal

    if start and end and start > end:
        raise OneLineUsageError(f"--from {start} is after --to {end}", ctx=click.get_current_context())
    if output is None:
        write_journal(sys.stdout, start, end or _today())
        return
    from ..files import atomic_output
    from ..store.errors import BillingError

    try:
        with atomic_output(output, newline=None) as fh:
            write_journal(fh, start, end or _today())
    except BillingError as exc:
        fail(str(exc))


@export.command(name="patients")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None)
@run_report
def patients_export(output: Path | None) -> None:
    """Patients with demographics, guarantor and coverages in force, as `import patients` reads them."""
    from ..account_io import write_patients_csv

    try:
        write_patients_csv(output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}")


# --------------------------------------------------------------------------- import


@click.group(name="import", cls=Group)
def import_() -> None:
    """Load a CSV file through the posting rules: the whole file or nothing."""


def _import_command(kind: str, doc: str) -> None:
    @import_.command(name=kind, help=doc)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check every row and report; save nothing.")
    @click.option("--posting-date", type=DATE, default=None, help="Posting date for charges and receipts.")
    @click.option("--allow-duplicates", is_flag=True,
                  help="Import a file that was imported before" + (
                      "; post a check or EFT whose payer and reference match an earlier receipt."
                      if kind == "receipts" else "."))
    @run_report(snapshot=False)
    def command(file: Path, dry_run: bool, posting_date: str | None, allow_duplicates: bool) -> None:
        from ..imports import ImportFileError, run_import

        try:
            result = run_import(kind, file, dry_run=dry_run, posting_date=posting_date,
                                allow_duplicates=allow_duplicates)
        except ImportFileError as exc:
            fail(str(exc))
        from ..text import inert

        for line, message in result.errors:  # a row's error quotes the file's cells: inert
            click.echo(inert(f"{file}:{line}: {message}"), err=True)
        if result.errors:
            fail(f"{len(result.errors)} bad row(s) of {result.rows}: nothing was imported")
        verb = "would import" if dry_run else "imported"
        click.echo(inert(f"{verb} {result.summary()} from {result.rows} row(s) of {file}"))


for _kind, _doc in (
    ("fees", "The fee schedule: code, description, fee, units."),
    ("patients", "Patients with up to three coverages."),
    ("charges", "Encounters from an EHR superbill export (rows sharing an encounter key post together)."),
    ("receipts", "Receipts from patients and payers."),
):
    _import_command(_kind, _doc)


def register(main: click.Group) -> None:
    """Add the report, export and import groups to the top-level command."""
    main.add_command(report)
    main.add_command(export)
    main.add_command(import_)


# --------------------------------------------------------------------------- import ack (issue 13)


@import_.command(name="ack")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@run_report(snapshot=False)
def import_ack(file: Path) -> None:
    """A 999 or 277CA acknowledgement of claims sent: rejected, accepted (with the payer's claim number)."""
    from ..store.claim_paper import import_ack as record
    from ..text import inert

    result = record(file)
    for claim_id, status, reason in result.events:
        click.echo(inert(f"{claim_id}  {status}  {reason}"))  # inert turns a tab into U+FFFD: spaces
    for what in result.unknown:  # the file's own text: inert
        click.echo(inert(f"{file}: not in the books: {what}"), err=True)
    if result.unchanged:
        click.echo(inert(f"{file}: already past what this file says: {', '.join(result.unchanged)}"), err=True)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.counts().items()))
    if result.confirmed:
        counts += (", " if counts else "") + f"{len(result.confirmed)} sent claim(s) accepted by the 999"
    counts = counts or "no claim changed"
    click.echo(inert(f"imported {result.kind} {file} (file {result.file_id}): {counts}"))
