"""Where the analyses database is, told without ever showing its password.

The database setting is a SQLite file path (the embedded default) or a ``postgresql://`` URL. A
URL may carry a password, but it should not: ``--database-password-file`` and libpq's own
variables (PGPASSWORD, PGPASSFILE, PGHOST, PGUSER, ...) keep it out of the process list and of
settings files. Every message names the database by ``redact_url``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")
_PASSWORD_WORDS = ("password",)
_URL_IN_TEXT = re.compile(r"(postgres(?:ql)?://)([^@/\s]*)@")


class DatabaseSettingError(ValueError):
    """The database setting cannot be used; the message names the problem (never the password)."""


def is_database_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SCHEMES)


def url_has_password(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return bool(parts.password) or any(key.lower() == "password" for key, _ in parse_qsl(parts.query))
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """The URL with its password (in the user part or as a query parameter) shown as ***.

    Any scheme: a URL given by mistake (mysql://...) is named in a message too."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}{':***' if colon else ''}@{hostinfo}"
        query = [(key, "***" if key.lower() in _PASSWORD_WORDS else value) for key, value in parse_qsl(parts.query)]
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), parts.fragment))
    except ValueError:
        return "postgresql://(unreadable URL)"


def redact_text(text: str, url: str | None = None) -> str:
    """A message with any PostgreSQL URL's user part (and the given URL's password) hidden."""
    if url and is_database_url(url):
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
    return _URL_IN_TEXT.sub(lambda m: m.group(1) + _user_only(m.group(2)) + "@", text)


def _user_only(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return user + (":***" if colon else "")


def read_password_file(path: str | Path) -> str:
    """The first line of a password file (a Kubernetes secret or Docker secret mounts one)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise DatabaseSettingError(f"cannot read the database password file {path}: {exc.strerror}") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise DatabaseSettingError(f"the database password file {path} is empty")
    return lines[0]


def check_url(url: str) -> str:
    """The URL if psycopg can read it, else a DatabaseSettingError naming the redacted URL."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except Exception as exc:  # psycopg.ProgrammingError: libpq could not parse it
        reason = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable", url)
        raise DatabaseSettingError(f"the database URL {redact_url(url)} cannot be read: {reason}") from None
    return url
