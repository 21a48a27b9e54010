"""Range reads of wheels whose layout makes the reader work: a central directory beyond the tail,
METADATA at the start of the archive, ZIP64 end records, stored and deflated entries.

The archives are written here with zipfile and served by the test index in place of a built wheel
(the index serves its files from disk), so every read goes over real HTTP with real ranges.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile

import pytest

from adviser.index import MetadataUnavailable
from adviser.index.http import HttpSession
from adviser.index.wheel_metadata import TAIL_BYTES, read_wheel_metadata, top_level_import_names
from tests.support.index_server import Dist

METADATA = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: alpha>=1\n\n"
FILENAME = "big-1.0-py3-none-any.whl"


def wheel_bytes(*, entries: int, compression: int, metadata_first: bool) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        if metadata_first:
            archive.writestr("big-1.0.dist-info/METADATA", METADATA)
        archive.writestr("big/__init__.py", b"")
        archive.writestr("big_ext.cpython-311-x86_64-linux-gnu.so", os.urandom(64))
        archive.writestr("single_module.py", b"")
        archive.writestr("big-1.0.data/scripts/tool", b"")
        for number in range(entries):
            # Long names make a large central directory.
            archive.writestr(f"big/data/{'x' * 80}_{number:05d}.txt", b"")
        if not metadata_first:
            archive.writestr("big-1.0.dist-info/METADATA", METADATA)
        archive.writestr("big-1.0.dist-info/RECORD", b"")
    return buffer.getvalue()


def as_zip64(data: bytes) -> bytes:
    """The same archive ending in ZIP64 records, with the classic end record's fields saturated."""
    position = data.rfind(b"PK\x05\x06")
    _, _, _, _, count, cd_size, cd_offset, _ = struct.unpack("<4s4H2LH", data[position : position + 22])
    body = data[:position]
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(body), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + record + locator + end


@pytest.fixture
def serve(package_index):
    server = package_index([Dist("big", "1.0", metadata_file=False, sdist=False)])

    def put(data: bytes):
        server.files[FILENAME].path.write_bytes(data)
        server.clear_requests()
        return server, server.file_url(FILENAME)

    return put


def ranged_reads(server) -> list[str]:
    reads = [r for r in server.requests if r.path.startswith("/files/")]
    assert all(r.method == "GET" and r.range for r in reads), reads
    return [r.range for r in reads]


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"]
)
@pytest.mark.parametrize("zip64", [False, True], ids=["zip", "zip64"])
def test_directory_and_metadata_outside_the_tail(serve, compression, zip64):
    data = wheel_bytes(entries=1500, compression=compression, metadata_first=True)
    if zip64:
        data = as_zip64(data)
    with zipfile.ZipFile(io.BytesIO(data)) as check:  # the standard library agrees it is valid
        assert check.read("big-1.0.dist-info/METADATA") == METADATA
    server, url = serve(data)
    result = read_wheel_metadata(HttpSession(timeout=5), url, FILENAME)
    assert result.metadata == METADATA
    assert result.import_names == ["big", "big_ext", "single_module"]
    # Tail, then the rest of the central directory, then METADATA at the front: three ranged GETs.
    ranges = ranged_reads(server)
    assert ranges[0] == f"bytes=-{TAIL_BYTES}" and len(ranges) == result.requests == 3
    assert sum(int(r.split("-")[1]) - int(r.split("=")[1].split("-")[0]) + 1 for r in ranges[1:]) < len(data)


def test_small_wheel_needs_one_request(serve):
    server, url = serve(wheel_bytes(entries=3, compression=zipfile.ZIP_DEFLATED, metadata_first=False))
    result = read_wheel_metadata(HttpSession(timeout=5), url, FILENAME)
    assert result.metadata == METADATA and result.requests == 1
    assert ranged_reads(server) == [f"bytes=-{TAIL_BYTES}"]


def test_not_a_zip_is_unavailable(serve):
    _server, url = serve(b"this is no zip archive at all" * 10)
    with pytest.raises(MetadataUnavailable, match="no end of central directory") as caught:
        read_wheel_metadata(HttpSession(timeout=5), url, FILENAME)
    assert caught.value.permanent


def test_wheel_without_metadata_is_unavailable(serve):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("big/__init__.py", b"")
    _server, url = serve(buffer.getvalue())
    with pytest.raises(MetadataUnavailable, match="has no .dist-info/METADATA"):
        read_wheel_metadata(HttpSession(timeout=5), url, FILENAME)


def test_top_level_import_names():
    names = [
        "pkg/__init__.py",
        "pkg/sub/mod.py",
        "ns_pkg/only/inside.py",
        "mod.py",
        "_speedups.cpython-311-x86_64-linux-gnu.so",
        "win_ext.cp311-win_amd64.pyd",
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.data/purelib/extra.py",
        "not-an-identifier/x.py",
        "README.txt",
        "data_only/readme.txt",
    ]
    assert top_level_import_names(names) == ["_speedups", "mod", "ns_pkg", "pkg", "win_ext"]


@pytest.mark.parametrize("zip64", [False, True], ids=["zip", "zip64"])
def test_metadata_record_in_the_tail_of_a_long_directory(serve, zip64):
    # The usual layout of big wheels: .dist-info written last, so its records end the directory
    # (inside the tail) while the directory itself starts far before it.
    data = wheel_bytes(entries=1500, compression=zipfile.ZIP_DEFLATED, metadata_first=False)
    if zip64:
        data = as_zip64(data)
    server, url = serve(data)
    result = read_wheel_metadata(HttpSession(timeout=5), url, FILENAME)
    assert result.metadata == METADATA
    assert result.import_names == ["big", "big_ext", "single_module"]
    ranges = ranged_reads(server)
    assert ranges[0] == f"bytes=-{TAIL_BYTES}" and len(ranges) == result.requests == 3


def test_directory_preference_wins_over_the_record_found_in_the_tail(serve):
    # Two .dist-info directories: the one found in the tail is not the wheel's own; the whole
    # directory shows the right one, which is then read.
    own = b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\nRequires-Dist: own\n\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big-1.0.dist-info/METADATA", own)
        for number in range(1500):
            archive.writestr(f"big/data/{'x' * 80}_{number:05d}.txt", b"")
        archive.writestr(
            "vendored-2.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: vendored\nVersion: 2.0\n\n"
        )
    server, url = serve(buffer.getvalue())
    assert read_wheel_metadata(HttpSession(timeout=5), url, FILENAME).metadata == own
