"""Request parts the server never stores: index URLs a client expanded from its environment.

A request's ``expanded_sources`` carry credentials (``https://user:token@host/simple``). The
stored request keeps only the URLs as written (``{"url": ...}``, the mark that the analysis needs
them); the expanded ones stay in the server's memory and reach the worker process with the job.
Everything a worker writes (log lines, the result document) passes through ``Redactor``, so that
no credential reaches the store even if some message quoted one. When the server restarts before
such an analysis ends, the rerun finds no expanded URLs and fails asking the user to run it again.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, urlsplit

KEY = "expanded_sources"
LOST = (
    "this analysis reaches its package indexes with credentials the client expanded from its "
    "environment; the server keeps them only in memory and was restarted before the analysis "
    "ended: run `thamos advise` again"
)
_URL_USERINFO = re.compile(r"((?:https?|git\+https?|ssh|git\+ssh)://)[^/@\s\"']+@")
_PLACEHOLDERS = re.compile(r"(?:\$\{\w+\}|\$\w+|:)+")
# Credentials shorter than this are not searched for in free text: they would match ordinary words.
_MIN_SECRET = 6


def split_request(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]] | None]:
    """(the body to store, the expanded sources kept in memory or None)."""
    entries = body.get(KEY)
    if not entries:
        return {key: value for key, value in body.items() if key != KEY}, None
    stored = dict(body)
    stored[KEY] = [{"url": entry.get("url")} for entry in entries]
    return stored, [{"url": entry["url"], "expanded_url": entry["expanded_url"]} for entry in entries]


def needs_withheld(request: dict[str, Any]) -> bool:
    return bool(request.get(KEY))


def merged(request: dict[str, Any], withheld: list[dict[str, str]] | None) -> dict[str, Any]:
    """The request as the client sent it (the stored one plus the expanded sources)."""
    if not withheld:
        return request
    return {**request, KEY: withheld}


class Redactor:
    """Removes credentials from text and documents: any URL's user-info, and the withheld values."""

    def __init__(self, withheld: list[dict[str, str]] | None) -> None:
        secrets: set[str] = set()
        for entry in withheld or []:
            netloc = urlsplit(entry.get("expanded_url") or "").netloc
            if "@" in netloc:
                userinfo = netloc.rsplit("@", 1)[0]
                user, _, password = userinfo.partition(":")
                secrets.update(value for value in (userinfo, unquote(userinfo), password, unquote(password))
                               if len(value) >= _MIN_SECRET)
                secrets.update(value for value in (user, unquote(user)) if len(value) >= _MIN_SECRET)
        self._secrets = sorted(secrets, key=len, reverse=True)  # longest first: no partial leftovers

    def text(self, value: str) -> str:
        """A log line without credentials: URL user-info (placeholders excepted) and withheld values."""
        return self._values(_URL_USERINFO.sub(_hide_userinfo, value))

    def document(self, document: dict[str, Any]) -> dict[str, Any]:
        """A result without the withheld values. URL user-info is left: the Pipfile and the lock
        returned must stay as the user wrote them (placeholders or not) for their hash to hold."""
        if not self._secrets:
            return document
        text = json.dumps(document)
        cleaned = self._values(text)
        return document if cleaned == text else json.loads(cleaned)

    def _values(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, "***")
        return value


def _hide_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group(0)[len(match.group(1)) : -1]
    if _PLACEHOLDERS.fullmatch(userinfo):
        return match.group(0)  # ${USER}:${TOKEN}@ names variables, it holds no secret
    return match.group(1) + "***@"
