"""File serving: PEP 658 metadata files, HTTP ranges, HEAD, and broken metadata."""

from __future__ import annotations

import email.parser
import hashlib
import zipfile

import pytest

from tests.index.helpers import JSON_TYPE, RangeReader, fetch, html_links, json_page, resolve
from tests.support.index_server import Dist


def _parse_metadata(data: bytes) -> email.message.Message:
    return email.parser.BytesParser().parsebytes(data)


def test_pep658_metadata_served_and_advertised_only_when_enabled(sample_index):
    page_url = sample_index.project_url("signals")
    for entry in json_page(page_url)["files"]:
        metadata_answer = fetch(resolve(page_url, entry["url"]) + ".metadata")
        if entry["filename"].endswith(".whl"):
            digest = hashlib.sha256(metadata_answer.body).hexdigest()
            assert metadata_answer.status == 200
            assert entry["core-metadata"] == entry["dist-info-metadata"] == {"sha256": digest}
        else:  # sdists get no PEP 658 file here
            assert entry["core-metadata"] is False and metadata_answer.status == 404

    legacy_url = sample_index.project_url("legacy-tool")
    for entry in json_page(legacy_url)["files"]:
        assert entry["core-metadata"] is False and entry["dist-info-metadata"] is False
        assert fetch(resolve(legacy_url, entry["url"]) + ".metadata").status == 404
    links, _ = html_links(fetch(legacy_url).body.decode())
    assert links and all("data-core-metadata" not in link for link in links)
    assert all("data-dist-info-metadata" not in link for link in links)


def test_html_metadata_attributes_match_the_metadata_file(sample_index):
    page_url = sample_index.project_url("markup-escape")
    links, _ = html_links(fetch(page_url).body.decode())
    wheels = [link for link in links if (link["text"] or "").endswith(".whl")]
    assert len(wheels) == 3  # 1.0 pure, 1.1 pure + manylinux
    for link in wheels:
        body = fetch(resolve(page_url, link["href"] or "") + ".metadata").body
        expected = "sha256=" + hashlib.sha256(body).hexdigest()
        assert link["data-core-metadata"] == link["data-dist-info-metadata"] == expected


def test_metadata_file_equals_the_wheels_metadata_and_declares_everything(sample_index):
    filename = "webapp_framework-2.1-py3-none-any.whl"
    metadata_bytes = fetch(sample_index.file_url(filename) + ".metadata").body
    wheel_path = sample_index.files[filename].path
    with zipfile.ZipFile(wheel_path) as wheel:
        assert wheel.read("webapp_framework-2.1.dist-info/METADATA") == metadata_bytes
    metadata = _parse_metadata(metadata_bytes)
    assert metadata["Metadata-Version"] == "2.1"
    assert metadata["Name"] == "webapp-framework"
    assert metadata["Version"] == "2.1"
    assert metadata["Requires-Python"] == ">=3.8"
    assert metadata.get_all("Requires-Dist") == [
        "templating<4,>=2",
        "signals>=1.1",
        "http-client>=1.0",
        'http-client[socks]>=1.1; extra == "async"',
    ]
    assert metadata.get_all("Provides-Extra") == ["async"]
    assert "Programming Language :: Python :: 3" in metadata.get_all("Classifier")
    assert metadata["Summary"]


def test_extra_requirement_with_its_own_marker_is_combined(package_index):
    server = package_index([Dist("marked", "1.0", extras={"win": ['winlib>=1; sys_platform == "win32"']})])
    metadata = _parse_metadata(fetch(server.file_url("marked-1.0-py3-none-any.whl") + ".metadata").body)
    assert metadata.get_all("Requires-Dist") == ['winlib>=1; (sys_platform == "win32") and extra == "win"']


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-22", -22, None), ("bytes=5-5", 5, 5)],
)
def test_range_reads_return_exactly_the_requested_bytes(sample_index, header, first, last):
    filename = "templating-3.0-py3-none-any.whl"
    whole = sample_index.files[filename].path.read_bytes()
    answer = fetch(sample_index.file_url(filename), headers={"Range": header})
    assert answer.status == 206
    expected = whole[first:] if last is None else whole[first : last + 1]
    assert answer.body == expected
    start = first if first >= 0 else len(whole) + first
    end = len(whole) - 1 if last is None else last
    assert answer.headers["Content-Range"] == f"bytes {start}-{end}/{len(whole)}"
    assert answer.headers["Content-Length"] == str(len(expected))


def test_range_past_the_end_is_clamped_and_unsatisfiable_is_416(sample_index):
    filename = "signals-1.0.tar.gz"
    whole = sample_index.files[filename].path.read_bytes()
    url = sample_index.file_url(filename)
    clamped = fetch(url, headers={"Range": f"bytes=10-{len(whole) + 500}"})
    assert clamped.status == 206 and clamped.body == whole[10:]
    longer_suffix = fetch(url, headers={"Range": f"bytes=-{len(whole) * 2}"})
    assert longer_suffix.status == 206 and longer_suffix.body == whole
    for header in (f"bytes={len(whole)}-", f"bytes={len(whole) + 7}-{len(whole) + 9}", "bytes=-0"):
        answer = fetch(url, headers={"Range": header})
        assert answer.status == 416, header
        assert answer.headers["Content-Range"] == f"bytes */{len(whole)}"


def test_malformed_or_multiple_ranges_get_the_whole_file(sample_index):
    filename = "signals-1.0.tar.gz"
    whole = sample_index.files[filename].path.read_bytes()
    for header in ("bytes=0-1,4-5", "items=0-3", "bytes=9-3"):
        answer = fetch(sample_index.file_url(filename), headers={"Range": header})
        assert answer.status == 200 and answer.body == whole, header


def test_head_on_a_file(sample_index):
    filename = "signals-1.1-py3-none-any.whl"
    answer = fetch(sample_index.file_url(filename), method="HEAD")
    assert answer.status == 200 and answer.body == b""
    assert answer.headers["Content-Length"] == str(sample_index.files[filename].size)
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["Content-Type"] == "application/zip"


def test_zip_central_directory_read_through_ranges_finds_metadata(package_index):
    dist = Dist("bulky", "1.0", requires_dist=("signals>=1",), metadata_file=False, payload_bytes=300_000)
    server = package_index([dist])
    filename = "bulky-1.0-py3-none-any.whl"
    reader = RangeReader(server.file_url(filename))
    try:
        with zipfile.ZipFile(reader) as wheel:
            metadata = _parse_metadata(wheel.read("bulky-1.0.dist-info/METADATA"))
    finally:
        reader.close()
    assert metadata["Name"] == "bulky" and metadata.get_all("Requires-Dist") == ["signals>=1"]
    assert reader.size == server.files[filename].size > 300_000
    assert reader.transferred < 20_000  # the payload itself was never fetched
    ranged = [record for record in server.requests if record.method == "GET"]
    assert ranged and all(record.range and record.range.startswith("bytes=") for record in ranged)


def test_range_support_can_be_switched_off(package_index):
    server = package_index([Dist("plain", "1.0")], range_requests=False)
    filename = "plain-1.0-py3-none-any.whl"
    whole = server.files[filename].path.read_bytes()
    answer = fetch(server.file_url(filename), headers={"Range": "bytes=0-9"})
    assert answer.status == 200 and answer.body == whole
    assert "Accept-Ranges" not in answer.headers and "Content-Range" not in answer.headers
    assert "Accept-Ranges" not in fetch(server.file_url(filename), method="HEAD").headers

    server.set_range_requests(True)
    answer = fetch(server.file_url(filename), headers={"Range": "bytes=0-9"})
    assert answer.status == 206 and answer.body == whole[:10]


@pytest.mark.parametrize("mode", [True, "mismatch"])
def test_broken_metadata_names_another_release_in_file_and_wheel(package_index, mode):
    server = package_index([Dist("shaky", "1.0", broken_metadata=mode)])
    filename = "shaky-1.0-py3-none-any.whl"
    served = fetch(server.file_url(filename) + ".metadata").body
    with zipfile.ZipFile(server.files[filename].path) as wheel:
        assert wheel.read("shaky-1.0.dist-info/METADATA") == served
    metadata = _parse_metadata(served)
    assert (metadata["Name"], metadata["Version"]) != ("shaky", "1.0")
    entry = json_page(server.project_url("shaky"))["files"][0]
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(served).hexdigest()}  # advertised honestly


def test_garbage_metadata_is_not_text(package_index):
    server = package_index([Dist("shaky", "1.0", broken_metadata="garbage")])
    served = fetch(server.file_url("shaky-1.0-py3-none-any.whl") + ".metadata").body
    with pytest.raises(UnicodeDecodeError):
        served.decode("utf-8")
    assert b"Name:" not in served and b"Metadata-Version" not in served


def test_json_accept_header_is_irrelevant_for_files(sample_index):
    filename = "signals-1.0.tar.gz"
    answer = fetch(sample_index.file_url(filename), headers={"Accept": JSON_TYPE})
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/gzip"
