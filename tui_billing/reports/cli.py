"""A minimal `report` click group carrying `report receipt NUMBER`.

Placeholder for the reports branch's full group (same ``register(main)`` entry point), which
already calls :func:`tui_billing.reports.receipt.render_receipt`; on merge, keep that one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def report() -> None:
    """Print a report headless (for cron, scripts and the printer)."""


@report.command()
@click.argument("number", type=click.IntRange(1))
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write to FILE instead of standard output.")
@click.pass_context
def receipt(ctx: click.Context, number: int, output: Path | None) -> None:
    """A printed receipt for receipt NUMBER: practice, patient, amount, method, what it paid, balance after."""
    from ..store.errors import BillingError
    from .receipt import render_receipt

    ctx.find_root().obj.open(create=False)
    try:
        text = render_receipt(number)
    except BillingError as exc:
        click.echo(f"tui-billing: {exc}", err=True)
        sys.exit(1)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def register(main: click.Group) -> None:
    """Add the headless groups to the top-level command."""
    main.add_command(report)
