"""The simple repository API: PEP 691 JSON pages, with PEP 503 HTML pages as the fallback.

Both forms are parsed into the same ``FileLink`` objects: URLs are absolute (resolved against the
page's final URL after redirects) and carry no fragment; a ``#sha256=...`` fragment becomes a hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from html.parser import HTMLParser
from json.scanner import make_scanner
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from adviser.index.errors import IndexUnreachable
from adviser.index.models import FileLink, ListedFiles, PageFiles, version_text
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
    return page_files(body, content_type, page_url, index).all_files()


def page_files(body: bytes, content_type: str | None, page_url: str, index: IndexSource) -> PageFiles:
    """The files of a project page of either form; JSON pages are decoded lazily (JsonPageFiles)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in JSON_CONTENT_TYPES or (not media_type and body.lstrip()[:1] == b"{"):
        return JsonPageFiles.scan(body, page_url, index)
    if media_type.endswith("json"):
        raise PageFormatError(f"unsupported page format {media_type!r} at {page_url}")
    return ListedFiles(
        parse_html_page(body.decode(_charset(content_type), errors="replace"), page_url, index)
    )


def cached_page_files(cached: Any, index: IndexSource) -> PageFiles:
    """The files of a page stored by the cache (a ``CachedPage``): no rescan when its layout is known."""
    if cached.layout is not None:
        return JsonPageFiles.from_layout(cached.body, cached.layout, cached.page_url, index, cached.stored)
    return page_files(cached.body or b"", cached.content_type, cached.page_url or index.url, index)


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
    return JsonPageFiles.scan(body, page_url, index).all_files()


def link_from_item(item: dict[str, Any], page_url: str, index: IndexSource) -> FileLink:
    """The FileLink of one entry of a PEP 691 page's ``files`` list."""
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
    return FileLink.fast(
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


_SCANNER = make_scanner(json.JSONDecoder())
_SPACE = re.compile(r"[ \t\n\r]*")


class JsonPageFiles:
    """A PEP 691 page kept as the JSON text it came as, with where each file's entry lies in it.

    Pages of big projects list thousands of files (megabytes of JSON) while a resolution looks at
    one or two of their versions. So a page is scanned once, cheaply, to learn the span of every
    file entry and the version its file name carries; entries become FileLinks only when their
    version is asked for. The layout (spans by version) is small and is cached beside the page,
    so a cached page is never scanned again. Once the cache holds the body (``keep_in_store``), or
    when it was read from there, only the layout stays in memory: entries are read from the cache
    file as their versions are asked for.
    """

    __slots__ = ("_text", "_page_url", "_index", "_place")

    def __init__(
        self,
        text: bytes | str | None,
        page_url: str,
        index: IndexSource,
        array: tuple[int, int],
        groups: dict[str, list[int]],
        stored: Any = None,
    ) -> None:
        self._text = text  # ASCII pages stay bytes (offsets are the same); others are decoded
        self._page_url = page_url
        self._index = index
        # One tuple, replaced whole (another fetch may replace the stored page): the StoredPageBody
        # (or None), the span of the "files" list (brackets included) and version text -> [start,
        # end, start, end, ...] of its entries.
        self._place: tuple[Any, tuple[int, int], dict[str, list[int]]] = (stored, array, groups)

    @classmethod
    def scan(cls, body: bytes, page_url: str, index: IndexSource) -> JsonPageFiles:
        text = _json_text(body)
        try:
            array, groups = _scan_files(text, page_url, index)
        except (ValueError, StopIteration, IndexError) as exc:
            raise PageFormatError(f"invalid simple-API JSON page at {page_url}: {exc}") from None
        return cls(body if body.isascii() else text, page_url, index, array, groups)

    @classmethod
    def from_layout(
        cls, body: bytes | None, layout: str, page_url: str, index: IndexSource, stored: Any = None
    ) -> JsonPageFiles:
        """A page as stored by the cache: its layout (``layout()``) and its body, or where it lies."""
        data = json.loads(layout)
        if body is None:
            if stored is None or data.get("offsets") != "bytes":
                raise PageFormatError(f"the cached page at {page_url} has no body")
            text = None
        else:
            text = body if body.isascii() else _json_text(body)
        return cls(text, page_url, index, tuple(data["files"]), data["versions"], stored)

    @property
    def offsets_are_bytes(self) -> bool:
        return not isinstance(self._text, str)

    def layout(self) -> str:
        _stored, array, groups = self._place
        data = {"files": list(array), "versions": groups}
        if self.offsets_are_bytes:  # first: IndexCache tells such layouts by their first characters
            data = {"offsets": "bytes", **data}
        return json.dumps(data, separators=(",", ":"))

    def keep_in_store(self, stored: Any) -> None:
        """The cache now holds this page's body at ``stored``: read entries from there, free the body."""
        if self.offsets_are_bytes:
            self._place = (stored, *self._place[1:])
            self._text = None

    def all_files(self) -> list[FileLink]:
        (array,) = self._entries(lambda _groups, array: list(array))
        return [link_from_item(item, self._page_url, self._index) for item in json.loads(array)]

    def version_texts(self) -> list[str]:
        return list(self._place[2])

    def files_of(self, texts: Collection[str]) -> list[FileLink]:
        entries = self._entries(lambda groups, _array: _spans_of(groups, texts))
        page_url, index = self._page_url, self._index
        return [link_from_item(json.loads(entry), page_url, index) for entry in entries]

    def _entries(self, spans_in: Callable[[dict[str, list[int]], tuple[int, int]], list[int]]) -> list:
        """The text of the spans ``spans_in(groups, array)`` gives (ascending), from memory or the cache."""
        for _attempt in range(3):
            text = self._text
            stored, array, groups = self._place
            spans = spans_in(groups, array)
            if text is not None:
                return [text[spans[i] : spans[i + 1]] for i in range(0, len(spans), 2)]
            entries = _read_spans(stored, spans)
            if entries is not None:
                return entries
            self._follow_replacement(stored)
        changing = f"the cached page at {self._page_url} kept changing; run again"
        raise IndexUnreachable(self._index.url, changing)

    def _follow_replacement(self, stored: Any) -> None:
        """Another fetch replaced the page in the cache: go on with the page stored now."""
        current = stored.current()
        if current is None or current.status != 200 or current.layout is None:
            gone = f"the cached page at {self._page_url} was removed during the analysis; run again"
            raise IndexUnreachable(self._index.url, gone)
        replacement = JsonPageFiles.from_layout(
            current.body, current.layout, self._page_url, self._index, current.stored
        )
        self._text, self._place = replacement._text, replacement._place


def _spans_of(groups: dict[str, list[int]], texts: Collection[str]) -> list[int]:
    found = [groups[text] for text in texts if text in groups]
    if len(found) == 1:
        return found[0]
    # several spellings of one version: back to page order
    pairs = sorted((group[i], group[i + 1]) for group in found for i in range(0, len(group), 2))
    return [offset for pair in pairs for offset in pair]


# Entries closer than this are read from the cache file as one range (fewer reads, a little more text).
_READ_GAP = 4096


def _read_spans(stored: Any, spans: list[int]) -> list[bytes] | None:
    """The text of each span, read from the cache file; None when the stored page was replaced."""
    if not spans:
        return []
    ranges: list[list[int]] = []
    for i in range(0, len(spans), 2):
        start, end = spans[i], spans[i + 1]
        if ranges and start - ranges[-1][1] <= _READ_GAP:
            ranges[-1][1] = max(ranges[-1][1], end)
        else:
            ranges.append([start, end])
    chunks = stored.read([(start, end) for start, end in ranges])
    if chunks is None:
        return None
    entries, r = [], 0
    for i in range(0, len(spans), 2):
        while spans[i] >= ranges[r][1]:
            r += 1
        base = ranges[r][0]
        entries.append(chunks[r][spans[i] - base : spans[i + 1] - base])
    return entries


def _json_text(body: bytes) -> str:
    # As json.loads does with bytes: UTF-8, -16 or -32, told apart by the first bytes.
    return body.decode(json.detect_encoding(body), "surrogatepass")


def _scan_files(text: str, page_url: str, index: IndexSource) -> tuple[tuple[int, int], dict[str, list[int]]]:
    """Walk the page's top-level object with the json module's own scanner; see JsonPageFiles."""
    scan, space = _SCANNER, _SPACE.match
    position = space(text, 0).end()
    if text[position] != "{":
        raise ValueError("the page is not a JSON object")
    position = space(text, position + 1).end()
    array: tuple[int, int] | None = None
    groups: dict[str, list[int]] = {}
    while text[position] != "}":
        key, position = scan(text, position)
        if not isinstance(key, str):
            raise ValueError("object keys must be strings")
        position = space(text, position).end()
        if text[position] != ":":
            raise ValueError(f"':' expected at character {position}")
        position = space(text, position + 1).end()
        if key == "files":
            array_start, groups = position, {}
            position = _scan_entries(text, position, groups, page_url, index)
            array = (array_start, position)
        else:
            _value, position = scan(text, position)
        position = space(text, position).end()
        if text[position] == ",":
            position = space(text, position + 1).end()
        elif text[position] != "}":
            raise ValueError(f"',' or '}}' expected at character {position}")
    if space(text, position + 1).end() != len(text):
        raise ValueError(f"extra data after character {position}")
    if array is None:
        raise ValueError("no 'files' list")
    return array, groups


def _scan_entries(
    text: str, position: int, groups: dict[str, list[int]], page_url: str, index: IndexSource
) -> int:
    """Record the span of each entry of the ``files`` list starting at ``position``; returns its end."""
    scan, space = _SCANNER, _SPACE.match
    if text[position] != "[":
        raise ValueError("'files' is not a list")
    position = space(text, position + 1).end()
    if text[position] == "]":
        return position + 1
    whitespace = " \t\n\r"
    while True:
        item, end = scan(text, position)
        if item.__class__ is not dict or item.get("url").__class__ is not str:
            raise ValueError(f"a file entry without a URL at character {position}")
        filename = item.get("filename") or link_from_item(item, page_url, index).filename
        if filename.__class__ is not str:
            raise ValueError(f"a file entry whose filename is not a string at character {position}")
        # version_text(), inlined: this loop runs once per file of every page fetched.
        if filename.endswith(".whl"):
            parts = filename.split("-")
            version = parts[1] if len(parts) in (5, 6) else None
        else:
            version = version_text(filename)
        if version is not None:
            spans = groups.get(version)
            if spans is None:
                groups[version] = [position, end]
            else:
                spans += (position, end)
        separator = text[end]
        if separator in whitespace:
            end = space(text, end).end()
            separator = text[end]
        if separator == "]":
            return end + 1
        if separator != ",":
            raise ValueError(f"',' or ']' expected at character {end}")
        position = end + 1
        if text[position] in whitespace:
            position = space(text, position).end()


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
