"""What every command module shares: the context the top-level group hands down, and `fail`.

Its own module so that `cli.py` (the group) and `reports/cli.py` (the report, export and
import groups) both import it and never each other. Only click is imported here: `--help`
stays quick and nothing headless ever loads Textual.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click


class Context:
    """What the top-level group passes to its subcommands.

    ``standalone`` is True only when this process is the program itself (the console script
    or ``python -m``), not a test calling the group in its own process: only then may a
    command tune the interpreter (see reports/cli.py). It travels on the context, not in a
    process-global flag, so a test's invocation can never inherit it from another.
    """

    def __init__(self, db: str | None = None, *, standalone: bool = False) -> None:
        self.db = db
        self.standalone = standalone

    def open(self, *, create: bool = False, reader: bool = False) -> Path:
        """Open the database or exit 1 with the store's one-line reason (``reader``: for
        reading only, on a plain sqlite3 connection, as the reports do)."""
        from .store.db import open_database, open_reader
        from .store.errors import DatabaseFileError

        try:
            return open_reader(self.db) if reader else open_database(self.db, create=create)
        except DatabaseFileError as exc:
            fail(str(exc))


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit: never a traceback for a user's mistake. The message
    may quote a file's or a user's text: inert, so it can never drive the terminal."""
    from .text import inert

    click.echo(f"tui-billing: {inert(message)}", err=True)
    sys.exit(code)


def current() -> Context:
    """The running command's :class:`Context` (the nearest one up the click context chain)."""
    obj = click.get_current_context().find_object(Context)
    if obj is None:  # a subgroup invoked on its own, outside the top-level group
        raise click.UsageError("run this through the tui-billing command")
    return obj


pass_ctx = click.make_pass_decorator(Context)
