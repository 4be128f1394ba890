"""Reading the field a store refusal names (``BillingError.field``), for every screen.

The store names what it refused as a path: ``patient``, ``control_total``, ``lines[2].code``,
``lines[0].dx_pointers``, ``diagnoses[1]``, ``control total``. :func:`field_path` splits that into
its parts once, so screens map it to their own fields without parsing strings of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FieldPath", "field_path"]

_PART = re.compile(r"([A-Za-z_ ]+)(?:\[(\d+)\])?")


@dataclass(frozen=True)
class FieldPath:
    """``lines[2].code`` -> name ``lines``, index 2, leaf ``code``; ``patient`` -> ``patient``."""

    name: str
    index: int | None = None
    leaf: str | None = None

    @property
    def last(self) -> str:
        """The innermost name with spaces as underscores (``control total`` -> ``control_total``)."""
        return (self.leaf or self.name).replace(" ", "_")


def field_path(store_field: str | None) -> FieldPath | None:
    """Parse a store error's field; None when the refusal names no field or an unreadable one."""
    if not store_field:
        return None
    head, _, leaf = store_field.strip().partition(".")
    m = _PART.fullmatch(head)
    if not m:
        return None
    return FieldPath(m[1].strip(), int(m[2]) if m[2] is not None else None, leaf or None)
