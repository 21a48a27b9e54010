"""Small HTTP and parsing helpers for the test-index tests (no redirects followed, raw answers)."""

from __future__ import annotations

import http.client
import io
import json
from dataclasses import dataclass
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = f"{JSON_TYPE}, {HTML_TYPE}; q=0.1, text/html; q=0.01"


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def fetch(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, timeout: float = 10
) -> Answer:
    """One request on a fresh connection; redirects are returned, not followed."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.msg, response.read())
    finally:
        connection.close()


def json_page(url: str) -> dict:
    answer = fetch(url, headers={"Accept": JSON_TYPE})
    assert answer.status == 200, (url, answer.status, answer.body[:200])
    assert answer.headers["Content-Type"] == JSON_TYPE
    return answer.json()


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.meta: dict[str, str | None] = {}
        self._current: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._current["text"] = ""
        elif tag == "meta":
            attributes = dict(attrs)
            self.meta[attributes.get("name") or ""] = attributes.get("content")

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current["text"] = (self._current["text"] or "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.links.append(self._current)
            self._current = None


def html_links(text: str) -> tuple[list[dict[str, str | None]], dict[str, str | None]]:
    """Anchors (attributes, values unescaped, plus "text") and <meta> tags of an HTML page."""
    parser = _LinkParser()
    parser.feed(text)
    parser.close()
    return parser.links, parser.meta


def resolve(page_url: str, link: str) -> str:
    return urljoin(page_url, link.split("#", 1)[0])


class RangeReader(io.RawIOBase):
    """A seekable read-only file over HTTP range requests on one keep-alive connection.

    It is what a client does to read a wheel's METADATA without downloading the wheel; the test
    counts the bytes it transferred.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        self._path = parts.path
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self._connection.request("HEAD", self._path)
        head = self._connection.getresponse()
        head.read()
        assert head.status == 200 and head.headers["Accept-Ranges"] == "bytes"
        self.size = int(head.headers["Content-Length"])
        self.position = 0
        self.transferred = 0
        self.ranges: list[tuple[int, int]] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.position >= self.size or len(buffer) == 0:
            return 0
        last = min(self.position + len(buffer), self.size) - 1
        self._connection.request("GET", self._path, headers={"Range": f"bytes={self.position}-{last}"})
        answer = self._connection.getresponse()
        data = answer.read()
        assert answer.status == 206, answer.status
        assert answer.headers["Content-Range"] == f"bytes {self.position}-{last}/{self.size}"
        buffer[: len(data)] = data
        self.ranges.append((self.position, last))
        self.transferred += len(data)
        self.position += len(data)
        return len(data)

    def close(self) -> None:
        self._connection.close()
        super().close()
