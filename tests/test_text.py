"""text.inert: what a terminal or printer receives from user data."""

from hypothesis import given
from hypothesis import strategies as st

from tui_billing.text import BIDI_CONTROLS, inert


def test_control_and_bidi_characters_become_replacement_characters():
    assert inert("\x1b]0;PWNED\x07Evil") == "\ufffd]0;PWNED\ufffdEvil"
    assert inert("abc\u202edcba") == "abc\ufffddcba"
    assert inert("[bold]O'Brien [/]") == "[bold]O'Brien [/]"  # markup is text, left for markup=False to show
    assert inert("Zoë 李") == "Zoë 李"


@given(st.text())
def test_nothing_that_drives_a_terminal_survives(value):
    out = inert(value)
    assert len(out) == len(value)
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 or ch in BIDI_CONTROLS for ch in out)
