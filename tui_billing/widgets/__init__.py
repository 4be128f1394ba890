"""The one form kit: inputs (money, count, date, code, lookup, patient), dialogs, readers.

Names load on first use (PEP 562): the pure readers (:mod:`.parse`, :mod:`.store_error`) can be
imported by a form model without loading Textual.
"""

from __future__ import annotations

import importlib

_HOME = {
    **dict.fromkeys(["DateInput"], "dates"),
    **dict.fromkeys(["LookupInput", "Match", "MatchList"], "lookup"),
    **dict.fromkeys(["CountInput", "MoneyInput"], "fields"),
    **dict.fromkeys(["PatientPicker", "patient_label"], "patient_picker"),
    **dict.fromkeys(["parse_amount", "parse_count", "parse_day", "parse_service_date"], "parse"),
    **dict.fromkeys(["FieldPath", "field_path"], "store_error"),
    **dict.fromkeys(["BatchDialog", "BatchFigures", "ConfirmDialog", "ReasonDialog"], "dialogs"),
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
