"""FormInput: a compact one-line Input whose keystrokes repaint only itself.

A stock Input sets its ``virtual_size`` (a layout reactive) on every change of value, so every
keystroke re-lays-out the whole screen; on a form of ~150 widgets that is most of the echo time.
A one-line field scrolls its own text (``max_scroll_x`` reads ``virtual_size`` directly), so the
screen's layout does not need to know: here the reactive repaints instead of re-laying-out.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input

__all__ = ["FormInput"]


class FormInput(Input):
    """A compact Input for forms (height 1, no border); see the module note on layout."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs["compact"] = True
        super().__init__(value, **kwargs)
        # A blinking cursor repaints twice a second forever: needless traffic over SSH.
        self.cursor_blink = False
