"""Read ``*.dist-info/METADATA`` of a remote wheel with HTTP range requests.

A wheel is a ZIP archive whose central directory sits at its end. One suffix range request for
the tail usually brings the End Of Central Directory record, the whole central directory and,
since wheel builders write ``.dist-info`` last, often METADATA itself. Otherwise one more ranged
GET fetches what is missing. The whole wheel is never downloaded (except when the server ignores
ranges and the wheel is small enough that its full body costs less than a failure).
"""

from __future__ import annotations

import re
import struct
import threading
import zlib
from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name

from adviser.index.errors import MetadataUnavailable
from adviser.index.http import HttpSession, ResponseTooLarge

TAIL_BYTES = 64 * 1024
# A server that ignores Range answers 200 with the whole file: accept that only for small wheels.
WHOLE_BODY_LIMIT = 1024 * 1024
# Local file headers carry their own "extra" field; read this much past the central's idea of it.
LOCAL_EXTRA_SLACK = 256

EOCD = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EOCD = b"PK\x06\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXTENSION_MODULE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\..*(so|pyd)$")


@dataclass(frozen=True)
class ZipEntry:
    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    extra_length: int


@dataclass
class WheelMetadata:
    metadata: bytes
    import_names: list[str]
    requests: int  # ranged GETs it took


class _RemoteFile:
    """Bytes of a remote file known so far, addressed by absolute offset."""

    def __init__(self, http: HttpSession, url: str, verify: bool, name: str) -> None:
        self.http, self.url, self.verify, self.name = http, url, verify, name
        self.size = 0
        self.chunks: list[tuple[int, bytes]] = []
        self.requests = 0
        self._lock = threading.Lock()  # two ranges may be read at once (see read_wheel_metadata)

    def fetch_tail(self) -> None:
        try:
            response = self.http.get(
                self.url,
                headers={"Range": f"bytes=-{TAIL_BYTES}", "Accept-Encoding": "identity"},
                verify=self.verify,
                max_bytes=max(WHOLE_BODY_LIMIT, TAIL_BYTES),
            )
        except ResponseTooLarge as exc:
            size = f" ({exc.size} bytes)" if exc.size else ""
            raise MetadataUnavailable(
                f"the server of {self.name} ignores HTTP range requests and the wheel is too large{size} "
                "to download just for its metadata"
            ) from None
        self.requests += 1
        if response.status == 206:
            total = _content_range_total(response.headers.get("content-range", ""))
            if total is None:
                raise MetadataUnavailable(f"the server of {self.name} sent no usable Content-Range header")
            self.size = total
            self.chunks.append((total - len(response.body), response.body))
        elif response.status == 200:
            self.size = len(response.body)  # whole file, small enough (see max_bytes)
            self.chunks.append((0, response.body))
        else:
            raise _HttpStatus(response.status)

    def read(self, start: int, length: int) -> bytes:
        """Bytes [start, start+length) from what is known, fetching one range when missing."""
        if start < 0 or length < 0 or start + length > self.size:
            raise MetadataUnavailable(
                f"{self.name} is not a valid wheel: offsets point outside the file", permanent=True
            )
        for chunk_start, data in self.chunks:
            if chunk_start <= start and start + length <= chunk_start + len(data):
                return data[start - chunk_start : start + length - chunk_start]
        end = start + length - 1
        response = self.http.get(
            self.url,
            headers={"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"},
            verify=self.verify,
            max_bytes=length + 1024,
        )
        with self._lock:
            self.requests += 1
        if response.status != 206 or len(response.body) != length:
            raise _HttpStatus(response.status)
        with self._lock:
            self.chunks.append((start, response.body))
        return response.body


class _HttpStatus(Exception):
    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"HTTP {status}")


def _content_range_total(value: str) -> int | None:
    match = re.match(r"bytes\s+\d+-\d+/(\d+)", value.strip())
    return int(match.group(1)) if match else None


def read_wheel_metadata(http: HttpSession, url: str, filename: str, *, verify: bool = True) -> WheelMetadata:
    """METADATA and top-level import names of the wheel at ``url``.

    Raises MetadataUnavailable with a reason; transport failures propagate as TransportError.
    """
    remote = _RemoteFile(http, url, verify, filename)
    try:
        remote.fetch_tail()
        count, cd_size, cd_offset = _end_record(remote)
        early = _metadata_entry_in_tail(remote, cd_offset, cd_size, filename)
        if early is not None:
            # Big wheels: the directory runs past the tail, but its last records (where wheel
            # builders put .dist-info) are in it. METADATA and the rest of the directory (for
            # the import names) are then read at the same time, not one after the other.
            metadata, directory = _entry_and_directory(remote, early, cd_offset, cd_size, count)
            entry = _metadata_entry(directory, filename)
            if entry.header_offset != early.header_offset:  # the whole directory prefers another
                metadata = _read_entry(remote, entry)
        else:
            directory = _CentralDirectory(remote.read(cd_offset, cd_size), count, remote.name)
            entry = _metadata_entry(directory, filename)
            metadata = _read_entry(remote, entry)
    except _HttpStatus as exc:
        raise MetadataUnavailable(
            f"reading {filename} with range requests failed: HTTP {exc.status}"
        ) from None
    except (struct.error, zlib.error, UnicodeDecodeError) as exc:
        raise MetadataUnavailable(f"{filename} is not a valid wheel ({exc})", permanent=True) from None
    return WheelMetadata(metadata, top_level_import_names(directory.names), remote.requests)


def _end_record(remote: _RemoteFile) -> tuple[int, int, int]:
    """Entry count, size and offset of the central directory, from the (ZIP64) end records."""
    tail_start, tail = remote.chunks[0]
    position = tail.rfind(EOCD)
    if position < 0 or len(tail) - position < 22:
        raise MetadataUnavailable(
            f"{remote.name} is not a valid wheel: no end of central directory record", permanent=True
        )
    (_, _, _, _, count, cd_size, cd_offset, _) = struct.unpack("<4s4H2LH", tail[position : position + 22])
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        locator_at = tail_start + position - 20
        locator = remote.read(locator_at, 20)
        if locator[:4] != ZIP64_LOCATOR:
            raise MetadataUnavailable(
                f"{remote.name} is not a valid wheel: broken ZIP64 locator", permanent=True
            )
        (record_offset,) = struct.unpack("<Q", locator[8:16])
        record = remote.read(record_offset, 56)
        if record[:4] != ZIP64_EOCD:
            raise MetadataUnavailable(
                f"{remote.name} is not a valid wheel: broken ZIP64 end record", permanent=True
            )
        count, cd_size, cd_offset = struct.unpack("<3Q", record[32:56])
    return count, cd_size, cd_offset


def _metadata_entry_in_tail(
    remote: _RemoteFile, cd_offset: int, cd_size: int, filename: str
) -> ZipEntry | None:
    """METADATA's record when the directory starts before the tail but that record lies within it.

    The records in the tail are found by walking from a record signature to the directory's end:
    only a walk that lands exactly on the end is trusted (a signature inside a name would not).
    """
    tail_start, tail = remote.chunks[0]
    end = cd_offset + cd_size - tail_start
    if cd_offset >= tail_start or not 0 < end <= len(tail):
        return None
    position = tail.find(CENTRAL)
    while 0 <= position < end:
        count, walk = 0, position
        while walk + 46 <= end and tail[walk : walk + 4] == CENTRAL:
            name_len, extra_len, comment_len = struct.unpack_from("<3H", tail, walk + 28)
            walk += 46 + name_len + extra_len + comment_len
            count += 1
        if walk == end:
            try:
                return _metadata_entry(_CentralDirectory(tail[position:end], count, remote.name), filename)
            except MetadataUnavailable:
                return None  # not among the records in the tail: read the whole directory first
        position = tail.find(CENTRAL, position + 1)
    return None


def _entry_and_directory(
    remote: _RemoteFile, entry: ZipEntry, cd_offset: int, cd_size: int, count: int
) -> tuple[bytes, _CentralDirectory]:
    outcome: dict[str, Any] = {}

    def read_directory() -> None:
        try:
            outcome["directory"] = remote.read(cd_offset, cd_size)
        except BaseException as exc:  # raised in the caller's thread below
            outcome["error"] = exc

    reader = threading.Thread(target=read_directory, name="wheel-directory", daemon=True)
    reader.start()
    try:
        metadata = _read_entry(remote, entry)
    finally:
        reader.join()
    if "error" in outcome:
        raise outcome["error"]
    return metadata, _CentralDirectory(outcome["directory"], count, remote.name)


_CENTRAL_NAME_FIELDS = struct.Struct("<4s4xH18x3H")  # signature, flags, name/extra/comment lengths


class _CentralDirectory:
    """The entries of a ZIP central directory: every name, and the full record of the few asked for.

    Wheels of big projects hold tens of thousands of files and only METADATA's record is needed,
    so a pass over the directory reads names alone.
    """

    def __init__(self, data: bytes, count: int, name: str) -> None:
        self._data = data
        self.names: list[str] = []
        self._positions: list[int] = []
        fields, pos = _CENTRAL_NAME_FIELDS.unpack_from, 0
        for _ in range(count):
            try:
                signature, flags, name_len, extra_len, comment_len = fields(data, pos)
            except struct.error:
                signature = b""
            if signature != CENTRAL:
                raise MetadataUnavailable(
                    f"{name} is not a valid wheel: broken central directory", permanent=True
                )
            raw_name = data[pos + 46 : pos + 46 + name_len]
            self.names.append(raw_name.decode("utf-8") if flags & 0x800 else _decode_legacy_name(raw_name))
            self._positions.append(pos)
            pos += 46 + name_len + extra_len + comment_len

    def entry(self, number: int) -> ZipEntry:
        data, pos = self._data, self._positions[number]
        (_flags, method, _time, _date, crc, csize, usize, name_len, extra_len, _comment_len) = struct.unpack(
            "<4H3L3H", data[pos + 8 : pos + 34]
        )
        (offset,) = struct.unpack("<L", data[pos + 42 : pos + 46])
        extra = data[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        usize, csize, offset = _apply_zip64_extra(extra, usize, csize, offset)
        return ZipEntry(self.names[number], method, crc, csize, usize, offset, extra_len)


def _decode_legacy_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")  # most writers use UTF-8 without setting the flag
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _apply_zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<2H", extra[pos : pos + 4])
        if tag == 0x0001:
            values = extra[pos + 4 : pos + 4 + length]
            cursor = 0
            # Only the fields saturated in the fixed header appear, in this order.
            if usize == 0xFFFFFFFF:
                (usize,), cursor = struct.unpack("<Q", values[cursor : cursor + 8]), cursor + 8
            if csize == 0xFFFFFFFF:
                (csize,), cursor = struct.unpack("<Q", values[cursor : cursor + 8]), cursor + 8
            if offset == 0xFFFFFFFF:
                (offset,), cursor = struct.unpack("<Q", values[cursor : cursor + 8]), cursor + 8
            break
        pos += 4 + length
    return usize, csize, offset


def _metadata_entry(directory: _CentralDirectory, filename: str) -> ZipEntry:
    candidates = [
        number
        for number, name in enumerate(directory.names)
        if name.endswith("/METADATA")
        and name.count("/") == 1
        and name.split("/", 1)[0].endswith(".dist-info")
    ]
    if not candidates:
        raise MetadataUnavailable(
            f"{filename} is not a valid wheel: it has no .dist-info/METADATA", permanent=True
        )
    if len(candidates) > 1:
        # Prefer the .dist-info directory named after the wheel's own project.
        project = canonicalize_name(filename.split("-", 1)[0])
        named = [n for n in candidates if canonicalize_name(directory.names[n].split("-", 1)[0]) == project]
        candidates = named or candidates
    return directory.entry(candidates[0])


def _read_entry(remote: _RemoteFile, entry: ZipEntry) -> bytes:
    wanted = (
        30 + len(entry.name.encode("utf-8")) + entry.extra_length + LOCAL_EXTRA_SLACK + entry.compressed_size
    )
    length = min(wanted, remote.size - entry.header_offset)
    block = remote.read(entry.header_offset, length)
    if block[:4] != LOCAL:
        raise MetadataUnavailable(
            f"{remote.name} is not a valid wheel: broken local file header", permanent=True
        )
    name_len, extra_len = struct.unpack("<2H", block[26:30])
    data_start = 30 + name_len + extra_len
    if data_start + entry.compressed_size > len(block):
        # A local extra field longer than the slack: read exactly what is missing.
        block = remote.read(entry.header_offset, data_start + entry.compressed_size)
    data = block[data_start : data_start + entry.compressed_size]
    if entry.method == 0:
        content = data
    elif entry.method == 8:
        content = zlib.decompressobj(-15).decompress(data)
    else:
        raise MetadataUnavailable(
            f"{remote.name}: METADATA uses unsupported compression method {entry.method}", permanent=True
        )
    if zlib.crc32(content) != entry.crc:
        raise MetadataUnavailable(
            f"{remote.name} is not a valid wheel: METADATA fails its CRC check", permanent=True
        )
    return content


def top_level_import_names(names) -> list[str]:
    """Top-level modules and packages a wheel installs, from its archive member names.

    ``foo/__init__.py`` and namespace directories give ``foo``; ``bar.py`` and ``baz.cpython-311-...so``
    give ``bar`` and ``baz``; ``*.dist-info`` and ``*.data`` directories are not importable.
    """
    found: set[str] = set()
    not_importable: set[str] = set()
    for name in names:
        first, sep, rest = name.partition("/")
        if sep:
            # Big wheels list thousands of files under a few top-level directories: decide each once.
            if first in found or first in not_importable:
                continue
            if first.endswith((".dist-info", ".data")) or not _IDENTIFIER.match(first):
                not_importable.add(first)
                continue
            if rest.endswith((".py", ".pyc", ".so", ".pyd", ".pyi")) or rest.endswith("/"):
                found.add(first)
        elif first.endswith(".py") and _IDENTIFIER.match(first[:-3]):
            found.add(first[:-3])
        else:
            match = _EXTENSION_MODULE.match(first)
            if match:
                found.add(match.group(1))
    return sorted(found)
