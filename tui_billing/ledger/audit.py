"""The audit detail format: how an event's detail is written and how events chain by hash.

Apart from the rest of the vocabulary so a report that needs only the methods does not load hashlib.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

#: The previous hash of the first event.
GENESIS: Final = "0" * 64


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical(detail: Mapping[str, Any]) -> str:
    """An event's detail as stored and hashed: sorted keys, no spaces, UTF-8 text."""
    return _ENCODER.encode(detail)


def event_hash(prev_hash: str, at: str, user: str, action: str, entity: str, entity_id: int | None,
               detail: str) -> str:
    """SHA-256 over the previous hash and every field of the event, so any edit breaks the chain."""
    payload = "\x1f".join((prev_hash, at, user, action, entity, "" if entity_id is None else str(entity_id), detail))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
