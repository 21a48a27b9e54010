"""Keeping secrets out of build messages, logs and metadata.

Two nets: URL credentials (``scheme://user:password@host``) are masked wherever they appear, and
known secret values (the index URLs' credentials, the calling process's secret-looking environment
variables) are masked wherever they appear, also percent-encoded. The same idea as thamos/redact.py,
kept here because sourcebuild must not import thamos.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
_SECRET_NAME = re.compile(r"token|secret|passw|pwd|key|credential|auth|cookie|session", re.IGNORECASE)
# Shorter values are too likely to be ordinary words or numbers to mask everywhere.
_MIN_SECRET_LENGTH = 4
_MIN_ENVIRONMENT_SECRET = 8


def url_secrets(url: str) -> set[str]:
    """The password of a URL, or its user name when it has none (a token), decoded and as written.

    A user name beside a password ("aws", "__token__", "ci") is no secret and may be an ordinary
    word of a message or of metadata, so it is left alone.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    value = parts.password if parts.password else parts.username
    return {value, unquote(value)} if value else set()


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of secret-looking variables, and credentials inside any URL-valued variable."""
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in environ.items():
        # Short values ("true", "5432", "on") are settings, not secrets, and too common to mask.
        if len(value) < _MIN_ENVIRONMENT_SECRET:
            continue
        if _SECRET_NAME.search(name) or name in ("DATABASE_URL", "PGPASS"):
            found.add(value)
        if "://" in value and "@" in value:
            for piece in value.split(","):
                found |= url_secrets(piece.strip())
    return found


class Redactor:
    """Masks URL credentials and a set of known secret values in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= _MIN_SECRET_LENGTH:
                values.update({secret, quote(secret, safe=""), quote(secret)})
        # Longest first, so a secret containing another is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    def text(self, value: str) -> str:
        value = _URL_CREDENTIALS.sub(lambda match: match.group("scheme") + MASK + "@", value)
        for secret in self._values:
            value = value.replace(secret, MASK)
        return value

    def data(self, value: bytes) -> bytes:
        """The same for bytes (metadata), which are compared as UTF-8."""
        for secret in self._values:
            value = value.replace(secret.encode("utf-8", "surrogateescape"), MASK.encode())
        return value
