"""The simple repository API: PEP 691 JSON pages, with PEP 503 HTML pages as the fallback.

Both forms are parsed into the same ``FileLink`` objects: URLs are absolute (resolved against the
page's final URL after redirects) and carry no fragment; a ``#sha256=...`` fragment becomes a hash.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from adviser.index.models import FileLink
from adviser.index.sources import IndexSource

# JSON preferred, HTML accepted; plain text/html last for indexes that predate PEP 691.
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

JSON_CONTENT_TYPES = ("application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.latest+json")


class PageFormatError(ValueError):
    """A page that is neither valid simple-API JSON nor HTML."""


def parse_project_page(
    body: bytes, content_type: str | None, page_url: str, index: IndexSource
) -> list[FileLink]:
    """Parse a project page of either form, chosen by its content type (or its first byte)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in JSON_CONTENT_TYPES or (not media_type and body.lstrip()[:1] == b"{"):
        return parse_json_page(body, page_url, index)
    if media_type.endswith("json"):
        raise PageFormatError(f"unsupported page format {media_type!r} at {page_url}")
    return parse_html_page(body.decode(_charset(content_type), errors="replace"), page_url, index)


def _charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def _absolute(base: str, url: str) -> str:
    # Most indexes give absolute URLs; skipping urljoin for them matters on pages of thousands of files.
    return url if url.startswith(("https://", "http://")) else urljoin(base, url)


def _split_fragment(url: str) -> tuple[str, dict[str, str]]:
    """Drop the fragment of a file URL, returning a ``<hashname>=<value>`` fragment as a hash."""
    if "#" not in url:
        return url, {}
    clean, fragment = urldefrag(url)
    name, sep, value = fragment.partition("=")
    return clean, ({name.lower(): value} if sep and name and value else {})


def _core_metadata_value(value: Any) -> bool | dict[str, str]:
    if isinstance(value, dict):
        return {str(k).lower(): str(v) for k, v in value.items()} or True
    return bool(value)


def parse_json_page(body: bytes, page_url: str, index: IndexSource) -> list[FileLink]:
    try:
        document = json.loads(body)
        files = document["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PageFormatError(f"invalid simple-API JSON page at {page_url}: {exc}") from None
    links = []
    fast = FileLink.fast
    # One pass over possibly thousands of files: plain lookups, no per-file copies.
    for item in files:
        url = item["url"]
        if not url.startswith(("https://", "http://")):
            url = urljoin(page_url, url)
        hashes = item.get("hashes") or {}
        if "#" in url:
            url, fragment_hashes = _split_fragment(url)
            hashes = hashes or fragment_hashes
        yanked = item.get("yanked", False)
        core_metadata = item.get("core-metadata")
        if core_metadata is None:
            core_metadata = item.get("dist-info-metadata", False)
        if core_metadata is not False:
            core_metadata = _core_metadata_value(core_metadata)
        size = item.get("size")
        links.append(
            fast(
                item.get("filename") or unquote(urlsplit(url).path.rsplit("/", 1)[-1]),
                url,
                hashes,
                item.get("requires-python") or None,
                yanked is not False and (yanked is True or isinstance(yanked, str)),
                yanked if yanked and isinstance(yanked, str) else None,
                core_metadata,
                item.get("upload-time"),
                size if isinstance(size, int) else None,
                index,
            )
        )
    return links


class _AnchorCollector(HTMLParser):
    """Collects ``<a>`` elements (attributes and text) and an optional ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")
        elif tag == "a":
            self._current, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def parse_html_page(text: str, page_url: str, index: IndexSource) -> list[FileLink]:
    collector = _AnchorCollector()
    collector.feed(text)
    collector.close()
    base = urljoin(page_url, collector.base) if collector.base else page_url
    links = []
    for attrs, anchor_text in collector.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, hashes = _split_fragment(_absolute(base, href))
        filename = anchor_text or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        yanked = "data-yanked" in attrs
        core = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata", False))
        links.append(
            FileLink(
                filename=filename,
                url=url,
                hashes=hashes,
                requires_python=attrs.get("data-requires-python") or None,
                yanked=yanked,
                yanked_reason=(attrs.get("data-yanked") or None) if yanked else None,
                core_metadata=_html_core_metadata(core),
                upload_time=None,
                size=None,
                index=index,
            )
        )
    return links


def _html_core_metadata(value: str | None | bool) -> bool | dict[str, str]:
    if value is False:
        return False
    if value is None or value.strip().lower() in ("", "true"):
        return True  # attribute present without a hash
    if value.strip().lower() == "false":
        return False
    name, sep, digest = value.partition("=")
    if sep and name and digest:
        return {name.strip().lower(): digest.strip()}
    return True
