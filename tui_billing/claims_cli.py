"""The headless `claims` command group: scrub, build a batch, mark it sent, set up a receiver.

Only click is imported at module level; the store loads inside each command (never Textual).
Exit status: 0 when the command did what was asked, 1 when it was refused (one line on stderr),
2 for a usage mistake. `claims scrub` exits 0 even when claims are held (the ready ones can still
be built); ``--fail-on-held`` makes it exit 1 then, for a script that should stop and tell someone.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_context import current, fail
from .reports.cli import DATE, Group


def _open() -> None:
    current().open(create=False)


def _echo(line: str) -> None:
    from .text import inert  # names and reasons are user data: never terminal escapes

    click.echo(inert(line))


@click.group(cls=Group)
def claims() -> None:
    """Claims: scrub what is unbilled, build 837P batches, mark them sent."""


@claims.command()
@click.option("--posted", "posted_on", type=DATE, multiple=True, help="Only charges posted on this day (repeat it "
              "for several days).")
@click.option("--fail-on-held", is_flag=True, help="Exit 1 when any claim is held.")
def scrub(posted_on: tuple[str, ...], fail_on_held: bool) -> None:
    """Make claims for unbilled charges and scrub them (and held ones again); print the held ones with reasons."""
    from .money import format_cents
    from .store import BillingError
    from .store import claims as cl

    _open()
    try:
        result = cl.scrub_claims(posted_on=posted_on or None)
        held = cl.queue("held")
    except BillingError as exc:
        fail(str(exc))
    for row in held:
        _echo(f"held {row.claim_id} {row.account} {row.patient} {row.payer} DOS {row.dos} "
              f"{format_cents(row.total)}: {row.reasons}")
    click.echo(f"{len(result.created)} new claim(s); {len(cl.queue('ready'))} ready, {len(held)} held")
    if held and fail_on_held:
        fail(f"{len(held)} claim(s) held: fix what each reason names, then scrub again")


@claims.command()
@click.option("--receiver", default=None, help="Only this receiver's claims (a clearinghouse or payer EDI id).")
@click.option("--output", "-o", "output", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the 837P files (required unless --validate-only).")
@click.option("--validate-only", is_flag=True, help="Scrub and write the files in memory only: no control numbers, "
              "nothing recorded, nothing written.")
def build(receiver: str | None, output: Path | None, validate_only: bool) -> None:
    """One 837P file per receiver for every ready claim (0600, never over an existing file)."""
    from .money import format_cents
    from .store import BillingError
    from .store import claims as cl

    if output is None and not validate_only:
        fail("give --output DIR for the claim files (or --validate-only)", 2)
    _open()
    try:
        result = cl.build_batch(output_dir=output, receiver=receiver, validate_only=validate_only)
    except BillingError as exc:
        fail(str(exc))
    for claim_id, reasons in result.held.items():
        _echo(f"held {claim_id}: {reasons}")
    for f in result.files:
        if validate_only:
            _echo(f"would build for {f.receiver}: {len(f.claims)} claim(s), {format_cents(f.total)}, "
                  f"{f.text.count('~')} segments")
        else:
            _echo(f"file {f.file_id} {f.path}: {f.receiver}, {len(f.claims)} claim(s), {format_cents(f.total)}, "
                  f"ISA13 {f.interchange_number:09d}, sha256 {f.sha256}")
    if not result.files:
        click.echo("no claims ready to build")


@claims.command()
@click.argument("file_id", type=click.IntRange(1))
def sent(file_id: int) -> None:
    """Mark FILE_ID's claims sent (after uploading it to the receiver)."""
    from .store import BillingError
    from .store import claims as cl

    _open()
    try:
        count = cl.mark_sent(file_id)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"file {file_id}: {count} claim(s) marked sent")


@claims.command()
@click.argument("receiver")
@click.option("--name", required=True, help="The receiver's name (NM1*40).")
@click.option("--production/--test", default=False, show_default=True,
              help="ISA15: P sends claims for payment; T only tests the connection.")
def receiver(receiver: str, name: str, production: bool) -> None:
    """Set a receiver's name and whether its files are production or test (a supervisor's)."""
    from .store import BillingError
    from .store import claims as cl

    _open()
    try:
        cl.set_receiver(receiver, name, production)
    except BillingError as exc:
        fail(str(exc))
    _echo(f"receiver {receiver.upper()}: {name}, {'production' if production else 'test'}")


def register(main: click.Group) -> None:
    """Add the claims group to the top-level command."""
    main.add_command(claims)
