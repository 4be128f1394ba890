"""Validate X12 text with pyx12 (4.x), in process: ``assert_valid_x12(text)`` fails with every
error pyx12 reports (segment, element, code, message), and ``x12_errors(text)`` returns them.

pyx12 reads the map for the file's own guide (GS08: 005010X222A1 for an 837P, 005010X231A1 for a
999, ...) so any 5010 file the project writes or reads can be checked here. The basic character
set is enforced (what our writers promise), and the 999 pyx12 writes is read too: a file with
errors but no exception is still caught by its IK5/AK9 codes.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pyx12.params
import pyx12.x12n_document

__all__ = ["assert_valid_x12", "x12_errors"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _walk(node: Any, where: str, found: list[str]) -> None:
    if isinstance(node, dict):
        here = where
        if "seg_id" in node:
            here = f"{where} line {node.get('cur_line', '?')} {node['seg_id']}"
        for err in node.get("errors", ()):
            found.append(f"{here}: {err}")
        for key, value in node.items():
            if key != "errors":
                _walk(value, here, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, where, found)


def x12_errors(text: str, *, charset: str = "B") -> list[str]:
    """Every error pyx12 finds in ``text`` ('' list when it is clean)."""
    params = pyx12.params.params()
    params.set("charset", charset)
    fd_999, fd_json = io.StringIO(), io.StringIO()
    handler = _Collect()
    logger = logging.getLogger("pyx12")
    logger.addHandler(handler)
    try:
        ok = pyx12.x12n_document.x12n_document(param=params, src_file=io.StringIO(text), fd_997=fd_999, fd_html=None,
                                               fd_json=fd_json)
    finally:
        logger.removeHandler(handler)
    found: list[str] = []
    if fd_json.getvalue():
        _walk(json.loads(fd_json.getvalue()), "", found)
    # In basic-charset mode pyx12 also checks ISA11 as data, but ISA11 *is* the repetition
    # separator ('^' in every 5010 file): that one message is about pyx12, not the file.
    pyx12_quirk = [m for m in handler.messages if "(ISA11)" in m and "character(^)" in m]
    found += [f"log: {m}" for m in handler.messages if m not in pyx12_quirk]
    ack = fd_999.getvalue()
    # the 999 pyx12 wrote: IK5*A / AK9*A say accepted; anything else (R, E, X) is an error
    for seg in ack.replace("\n", "").split("~"):
        parts = seg.split("*")
        if parts[0] in ("IK5", "AK9") and len(parts) > 1 and parts[1] != "A":
            found.append(f"999: {seg}")
    if not ok and not found and not pyx12_quirk:
        found.append("pyx12 says the file is not valid (no detail given)")
    return found


def assert_valid_x12(text: str) -> None:
    """Fail with pyx12's errors unless ``text`` is a clean X12 file."""
    errors = x12_errors(text)
    assert not errors, "pyx12 found errors:\n" + "\n".join(errors)
