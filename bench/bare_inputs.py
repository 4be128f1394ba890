"""The floor for the charge-entry benchmark: a bare Textual app with the same number of Inputs.

Run as ``python bench/bare_inputs.py N``; it paints N compact Inputs and a READY marker line.
"""

from __future__ import annotations

import sys

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static


class BareInputs(App[None]):
    CSS = "Input { height: 1; width: 20; } Vertical { layout: grid; grid-size: 4; grid-rows: 1; height: auto; }"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        yield Static("bare-ready", markup=False)
        with Vertical():
            for i in range(self.count):
                yield Input(compact=True, id=f"i{i}")


if __name__ == "__main__":
    BareInputs(int(sys.argv[1]) if len(sys.argv) > 1 else 65).run()
