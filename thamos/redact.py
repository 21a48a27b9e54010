"""Hiding secrets in reports (``thamos support``): tokens, passwords, keys and URL credentials."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY_RE = re.compile(r"(token|secret|password|passwd|key|credential|auth)", re.IGNORECASE)


def redact_secrets(value: Any) -> Any:
    """A copy with secret-looking entries replaced (keys naming tokens, passwords, keys...)."""
    if isinstance(value, dict):
        return {key: ("***" if _SECRET_KEY_RE.search(str(key)) and item not in (None, "") else redact_secrets(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        return re.sub(r"(https?://)[^/@\s:]+(:[^/@\s]*)?@", r"\1***@", value)
    return value
