"""`python -m tui_billing` is the same as the `tui-billing` command."""

from .cli import run

run()
