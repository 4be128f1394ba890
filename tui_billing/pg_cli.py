"""`tui-billing pg setup|login` and `tui-billing migrate --to postgresql://...`: the server's own commands.

Its own module so the main command file only registers it (click only at import; the store and
psycopg load inside the commands).
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_context import Context, fail, pass_ctx


@click.group()
def pg() -> None:
    """PostgreSQL books: set up the schema and its roles, add clerks' logins (run as the owner or a superuser)."""


@pg.command("setup")
@click.option("--owner", required=True, metavar="ROLE", help="The role that owns the schema (migrations only).")
@pass_ctx
def pg_setup(obj: Context, owner: str) -> None:
    """Create the books' schema (or upgrade it) in the --db postgresql://... database, owned by ROLE,
    with the group roles tb_clerk, tb_supervisor and tb_admin and their rights."""
    from .store.errors import DatabaseFileError
    from .store.pg_admin import setup

    url = _server_url(obj)
    try:
        version = setup(url, owner=owner)
    except DatabaseFileError as exc:
        fail(str(exc))
    click.echo(f"the books at {url} are at schema {version}, owned by {owner}")


@pg.command("login")
@click.argument("name")
@click.argument("role", type=click.Choice(["clerk", "supervisor", "admin"]))
@pass_ctx
def pg_login(obj: Context, name: str, role: str) -> None:
    """Give OS user NAME a login role (peer authentication) in the group of ROLE."""
    from .store.errors import DatabaseFileError
    from .store.pg_admin import add_login

    try:
        add_login(_server_url(obj), name, role)
    except DatabaseFileError as exc:
        fail(str(exc))
    click.echo(f"{name} logs in as a {role} (peer authentication over the local socket)")


@click.command("migrate")
@click.option("--to", "target", required=True, metavar="URL", help="postgresql://... books made by `pg setup`, empty.")
@pass_ctx
def migrate(obj: Context, target: str) -> None:
    """Move these SQLite books to PostgreSQL in one transaction (the SQLite file is left as it was)."""
    from .store.errors import BillingError
    from .store.pg_migrate import copy_books

    if not target.startswith(("postgresql://", "postgres://")):
        fail("--to takes a postgresql://... URL")
    source = obj.open()  # brings an older file's schema up to date first
    try:
        counts = copy_books(source, target)
    except BillingError as exc:
        fail(str(exc))
    click.echo(f"moved {sum(counts.values())} rows in {len(counts)} tables to {target}; "
               "run `tui-billing check` on both")


def demo_on_server(url: str, *, charges: int, patients: int, days: int, seed: int) -> dict[str, int]:
    """The demo practice into empty server books, in one transaction: built by the same bulk load into a
    private temporary file (the fast path the demo has, and the same books to the byte), its history
    sent to the server as it is written and the rest copied from the file at the end.

    The sample 837P and 835 files (and the 999/277CA answers) are kept where a SQLite demo in the
    clerk's data folder would have them: ``<data folder>/<database name>.claims`` and ``.era``
    (the books record the 837P files' paths, so they must outlive the temporary file)."""
    import tempfile
    import time

    from .demo import build_demo
    from .store.db import server_files_stem
    from .store.errors import BillingError
    from .store.pg_migrate import DemoMirror

    samples = server_files_stem(url)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tui-billing-demo-") as folder:
        mirror = DemoMirror(url)  # before the file is opened: its child is forked
        try:
            stats = build_demo(Path(folder) / "demo.db", charges=charges, patients=patients, days=days, seed=seed,
                               samples=samples, mirror=mirror)
            built = time.monotonic()
            mirror.finish(Path(folder) / "demo.db")
        except BillingError as exc:
            mirror.abort()
            fail(str(exc))
        except BaseException:
            mirror.abort()
            raise
    stats["seconds"] = round(time.monotonic() - started)
    stats["of which finishing on the server"] = round(time.monotonic() - built)
    click.echo(f"sample files: 837P and 999/277CA in {samples}.claims, 835 in {samples}.era", err=True)
    return stats


def _server_url(obj: Context) -> str:
    url = obj.db or ""
    if not url.startswith(("postgresql://", "postgres://")):
        fail("give the server's books with --db postgresql://... (or TUI_BILLING_DB)")
    return url


def register(main: click.Group) -> None:
    main.add_command(pg)
    main.add_command(migrate)
