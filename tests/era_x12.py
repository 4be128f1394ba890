"""pyx12 validation of an X12 text, for the 835 fixtures (until claims-x12's x12_check lands).

Returns pyx12's error lines: [] means the file passed the implementation guide's structure and
code checks as pyx12 4.x knows them.
"""

from __future__ import annotations

import io
import logging

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def x12_errors(text: str) -> list[str]:
    """pyx12's complaints about ``text`` (errors only; an empty list is a clean file)."""
    logger = logging.getLogger("pyx12")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        ok = pyx12.x12n_document.x12n_document(pyx12.params.params(), io.StringIO(text), None, None)
    finally:
        logger.removeHandler(handler)
    problems = list(handler.lines)
    if not ok and not problems:
        problems.append("pyx12 refused the file")
    return problems
