"""Hiding secrets in reports (``thamos support``): tokens, passwords, keys and URL credentials."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY_RE = re.compile(r"(token|secret|password|passwd|key|credential|auth)", re.IGNORECASE)


_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact_url_credentials(text: str) -> str:
    """``text`` with user[:password]@ of every URL in it replaced by ***@ (messages, errors, logs)."""
    return _URL_CREDENTIALS.sub(r"\1***@", text) if "@" in text else text


def redact_secrets(value: Any) -> Any:
    """A copy with secret-looking entries replaced (keys naming tokens, passwords, keys...)."""
    if isinstance(value, dict):
        return {key: ("***" if _SECRET_KEY_RE.search(str(key)) and item not in (None, "") else redact_secrets(item))
                for key, item in value.items()}
    if isinstance(value, list):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str):
        return redact_url_credentials(value)  # any scheme: postgresql://user:password@... too
    return value
