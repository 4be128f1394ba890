"""`tui-billing claims print`: CMS-1500 forms for payers billed on paper (issue 13).

Registered into the ``claims`` group when there is one, else it makes the group; click only at
import, the store and the form writer inside the command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli_context import Context, fail, pass_ctx


@click.command("print")
@click.argument("claim_ids", nargs=-1, metavar="[CLAIM]...")
@click.option("--format", "fmt", type=click.Choice(["text", "pdf"]), default="text", show_default=True,
              help="text: 66-line pages with form feeds for a line printer; pdf: Courier 10 cpi for a laser.")
@click.option("--output", type=click.Path(dir_okay=True, path_type=Path), default=None,
              help="The file (or printer device) to write; default stdout (text only).")
@click.option("--offset-x", type=float, default=0.0, show_default=True,
              help="PDF only: move everything right by this many points (1/72 inch); negative moves left.")
@click.option("--offset-y", type=float, default=0.0, show_default=True,
              help="PDF only: move everything down by this many points; negative moves up.")
@click.option("--calibration", is_flag=True,
              help="Print a calibration page (every box filled with its own name) to line the printer up; "
                   "alone it records nothing, with claims it comes first.")
@pass_ctx
def print_claims(obj: Context, claim_ids: tuple[str, ...], fmt: str, output: Path | None, offset_x: float,
                 offset_y: float, calibration: bool) -> None:
    """Print the ready claims of paper payers (or the CLAIMs named) on CMS-1500 (02/12) red forms.

    The ready ones become batched in the printout (mark it sent when the envelope goes out); a claim
    named that is not ready is printed as a copy."""
    from .store import BillingError
    from .store.claim_paper import print_claims as run
    from .text import inert

    if output is None and fmt == "pdf":
        fail("a PDF needs --output FILE")
    if any(abs(v) > 72 for v in (offset_x, offset_y)):
        fail("an offset of more than 72 points (an inch) is not a printer's misalignment: check the paper")
    obj.open()
    try:
        result = run(claim_ids, fmt=fmt, output=output, offset_x=offset_x, offset_y=offset_y,
                     calibration=calibration)
    except BillingError as exc:
        fail(str(exc))
    if output is None:
        sys.stdout.write(result.data.decode("ascii"))
        sys.stdout.flush()
        where = "stdout"
    else:
        where = str(output)
    what = f"{len(result.claims)} claim(s) on {result.forms} form(s)" if result.claims else "the calibration page"
    batched = f", {len(result.batched)} now batched in file {result.file_id}" if result.batched else ""
    click.echo(inert(f"printed {what} to {where}{batched}"), err=True)


def register(main: click.Group) -> None:
    """Add ``print`` to the ``claims`` group (made here if no other module made it first)."""
    group = main.commands.get("claims")
    if not isinstance(group, click.Group):
        @click.group("claims")
        def claims() -> None:
            """Claims: scrub, build, print, follow."""

        group = claims
        main.add_command(group)
    group.add_command(print_claims)
