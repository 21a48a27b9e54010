"""Pure parsing: simple-API pages, distribution file names, core metadata, sdist PKG-INFO."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import pytest
from packaging.tags import Tag
from packaging.version import Version

from adviser.index import FileLink, IndexSource, MetadataUnavailable, ProjectPage
from adviser.index.core_metadata import parse_core_metadata
from adviser.index.sdist_metadata import check_static_dependencies, extract_pkg_info
from adviser.index.simple_api import (
    JsonPageFiles,
    PageFormatError,
    parse_html_page,
    parse_json_page,
    parse_project_page,
)

SOURCE = IndexSource("main", "http://127.0.0.1:1/simple/")
PAGE = "http://127.0.0.1:1/simple/demo/"

HTML = """<!DOCTYPE html>
<html><head><base href="/mirror/demo/"></head><body>
<a href="../../files/demo-1.0-py3-none-any.whl#sha256=aa11" data-requires-python="&gt;=3.8,&lt;4"
   data-core-metadata="sha256=bb22">demo-1.0-py3-none-any.whl</a>
<a href="http://127.0.0.1:2/elsewhere/demo-1.0.tar.gz#md5=cc33" data-yanked="">demo-1.0.tar.gz</a>
<a href="demo-1.1-py3-none-any.whl" data-yanked="do not use &amp; see 1.2" data-dist-info-metadata="true">
  demo-1.1-py3-none-any.whl</a>
<a>no href is skipped</a>
</body></html>
"""


def test_html_page_attributes_base_and_fragments():
    links = parse_html_page(HTML, PAGE, SOURCE)
    assert [link.filename for link in links] == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
        "demo-1.1-py3-none-any.whl",
    ]
    wheel, sdist, yanked = links
    assert wheel.url == "http://127.0.0.1:1/files/demo-1.0-py3-none-any.whl"  # resolved against <base>
    assert wheel.hashes == {"sha256": "aa11"} and wheel.requires_python == ">=3.8,<4"
    assert wheel.core_metadata == {"sha256": "bb22"} and not wheel.yanked
    assert sdist.url == "http://127.0.0.1:2/elsewhere/demo-1.0.tar.gz" and sdist.hashes == {"md5": "cc33"}
    assert sdist.yanked and sdist.yanked_reason is None and sdist.core_metadata is False
    assert yanked.url == "http://127.0.0.1:1/mirror/demo/demo-1.1-py3-none-any.whl"
    assert yanked.yanked_reason == "do not use & see 1.2" and yanked.core_metadata is True
    assert all(link.index == SOURCE and link.size is None and link.upload_time is None for link in links)


def test_json_page_fields_and_legacy_metadata_key():
    document = {
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": [
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "../../files/demo-1.0-py3-none-any.whl",
                "hashes": {"sha256": "aa11"},
                "requires-python": ">=3.8",
                "dist-info-metadata": {"sha256": "bb22"},
                "yanked": "broken",
                "size": 1234,
                "upload-time": "2024-01-01T00:00:00Z",
            },
            {
                "filename": "demo-1.0.tar.gz",
                "url": "http://127.0.0.1:2/f/demo-1.0.tar.gz#sha256=dd44",
                "hashes": {},
            },
        ],
    }
    wheel, sdist = parse_json_page(json.dumps(document).encode(), PAGE, SOURCE)
    assert wheel.url == "http://127.0.0.1:1/files/demo-1.0-py3-none-any.whl"
    assert (wheel.yanked, wheel.yanked_reason, wheel.core_metadata) == (True, "broken", {"sha256": "bb22"})
    assert (wheel.size, wheel.upload_time, wheel.requires_python) == (1234, "2024-01-01T00:00:00Z", ">=3.8")
    assert sdist.url == "http://127.0.0.1:2/f/demo-1.0.tar.gz" and sdist.hashes == {"sha256": "dd44"}
    assert (sdist.yanked, sdist.core_metadata, sdist.requires_python) == (False, False, None)


def test_page_format_is_chosen_by_content_type():
    body = json.dumps({"meta": {}, "files": []}).encode()
    assert parse_project_page(body, "application/vnd.pypi.simple.v1+json", PAGE, SOURCE) == []
    assert parse_project_page(body, None, PAGE, SOURCE) == []  # sniffed
    html = HTML.encode("latin-1")
    assert len(parse_project_page(html, "text/html; charset=latin-1", PAGE, SOURCE)) == 3
    with pytest.raises(PageFormatError, match="invalid simple-API JSON"):
        parse_project_page(b"{not json", "application/vnd.pypi.simple.v1+json", PAGE, SOURCE)
    with pytest.raises(PageFormatError, match="unsupported page format"):
        parse_project_page(b"{}", "application/json", PAGE, SOURCE)


@pytest.mark.parametrize(
    ("filename", "project", "version", "tags"),
    [
        ("Foo_Bar-1.0-py3-none-any.whl", "foo-bar", "1.0", {"py3-none-any"}),
        (
            "foo-2.0-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "foo",
            "2.0",
            {"cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"},
        ),
        ("foo-1.0-py2.py3-none-any.whl", "foo", "1.0", {"py2-none-any", "py3-none-any"}),
        ("foo-bar-1.0rc1.tar.gz", "foo-bar", "1.0rc1", set()),
        ("foo-1.0.zip", "foo", "1.0", set()),
        ("foo-notaversion.tar.gz", None, None, set()),
        ("foo-1.0.tar.bz2", None, None, set()),
        ("foo-1.0-py3.8.egg", None, None, set()),
        ("broken.whl", None, None, set()),
    ],
)
def test_filenames(filename, project, version, tags):
    link = FileLink(filename, "http://x/" + filename, {}, None, False, None, False, None, None, SOURCE)
    assert link.project_name == project
    assert link.version == (Version(version) if version else None)
    assert {str(tag) for tag in link.tags} == tags
    assert link.is_wheel == (filename.endswith(".whl") and version is not None)
    assert link.is_sdist == (version is not None and not filename.endswith(".whl"))


def test_file_links_are_hashable_values_and_pages_group_versions():
    def link(filename: str, sha: str) -> FileLink:
        return FileLink(
            filename,
            "http://x/" + filename,
            {"sha256": sha},
            None,
            False,
            None,
            {"sha256": "1"},
            None,
            1,
            SOURCE,
        )

    a, b = link("demo-1.0-py3-none-any.whl", "aa"), link("demo-1.0-py3-none-any.whl", "aa")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert FileLink.from_row(a.to_row(), SOURCE) == a
    page = ProjectPage("demo", SOURCE, [a, link("demo-1.1.tar.gz", "bb"), link("demo.exe", "cc")])
    assert {str(v): [f.filename for f in files] for v, files in page.versions().items()} == {
        "1.0": ["demo-1.0-py3-none-any.whl"],
        "1.1": ["demo-1.1.tar.gz"],
    }
    assert Tag("py3", "none", "any") in a.tags


METADATA = b"""Metadata-Version: 2.1
Name: Demo
Version: 1.0
Summary: A demo
Requires-Python: >=3.8
Requires-Dist: alpha>=1
Requires-Dist: beta; extra == "x"
Provides-Extra: x
Classifier: Topic :: Utilities

Long description with Requires-Dist: not-a-header
"""


def test_core_metadata_fields():
    metadata = parse_core_metadata(METADATA, source="pep658", origin="demo")
    assert (metadata.name, metadata.version, metadata.summary) == ("Demo", "1.0", "A demo")
    assert metadata.requires_dist == ("alpha>=1", 'beta; extra == "x"')
    assert metadata.provides_extra == ("x",) and metadata.classifiers == ("Topic :: Utilities",)
    assert metadata.requires_python == ">=3.8" and metadata.source == "pep658"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Metadata-Version: 2.1\nVersion: 1.0\n", "Name or Version is missing"),
        (b"Metadata-Version: 2.1\nName: x\nVersion: not a version\n", "invalid version"),
        (
            b"Metadata-Version: 2.1\nName: x\nVersion: 1\nRequires-Dist: alpha >>= 1\n",
            "cannot parse requirement",
        ),
        (b"\xff\xfe\x00 garbage", "is broken"),
    ],
)
def test_broken_core_metadata(data, reason):
    with pytest.raises(MetadataUnavailable, match=reason) as caught:
        parse_core_metadata(data, source="sdist", origin="x-1.tar.gz")
    assert caught.value.permanent and "x-1.tar.gz" in caught.value.reason


def pkg_info(version: str, dynamic: tuple[str, ...] = ()) -> bytes:
    lines = [f"Metadata-Version: {version}", "Name: demo", "Version: 1.0", "Requires-Dist: alpha"]
    lines += [f"Dynamic: {field}" for field in dynamic]
    return ("\n".join(lines) + "\n").encode()


def test_sdist_dependencies_must_be_static():
    check_static_dependencies(pkg_info("2.2", ("Classifier",)), "demo-1.0.tar.gz")
    with pytest.raises(MetadataUnavailable, match="declares its dependencies dynamically"):
        check_static_dependencies(pkg_info("2.3", ("requires-dist",)), "demo-1.0.tar.gz")
    with pytest.raises(MetadataUnavailable, match="metadata version 2.1"):
        check_static_dependencies(pkg_info("2.1"), "demo-1.0.tar.gz")


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_pkg_info_is_read_from_the_top_directory_only():
    members = {"demo-1.0/src/demo.egg-info/PKG-INFO": b"nested", "demo-1.0/PKG-INFO": pkg_info("2.2")}
    assert extract_pkg_info(tar_gz(members), "demo-1.0.tar.gz") == pkg_info("2.2")
    assert extract_pkg_info(zip_bytes(members), "demo-1.0.zip") == pkg_info("2.2")
    with pytest.raises(MetadataUnavailable, match="has no PKG-INFO"):
        extract_pkg_info(tar_gz({"demo-1.0/setup.py": b""}), "demo-1.0.tar.gz")
    with pytest.raises(MetadataUnavailable, match="cannot be opened"):
        extract_pkg_info(b"not an archive", "demo-1.0.tar.gz")


def _entry(filename: str, **extra) -> dict:
    return {"filename": filename, "url": f"../../files/{filename}", "hashes": {"sha256": filename}, **extra}


def test_json_page_files_are_decoded_per_version_in_page_order():
    files = [
        _entry("demo-1.0-py3-none-any.whl"),
        _entry("demo-2.0-py3-none-any.whl", **{"yanked": "señal rota"}),  # escaped by json.dumps below
        _entry("demo-1.0.0.tar.gz"),  # another spelling of 1.0
        _entry("demo-2.0.tar.gz"),
        _entry("README.txt"),  # no version: only in the full list
    ]
    # Keys in any order, odd spacing: the page is walked as JSON, not searched as text.
    body = (
        '{ "versions" : ["1.0", "2.0"],\n "files" :\n'
        + json.dumps(files, indent=1)
        + ', "meta": {"x": "files"} }'
    )
    page_files = JsonPageFiles.scan(body.encode("utf-8"), PAGE, SOURCE)
    page = ProjectPage("demo", SOURCE, source=page_files)
    assert page.version_texts() == ["1.0", "2.0", "1.0.0"]
    assert [f.filename for f in page.files_of(["1.0.0", "1.0"])] == [
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.0.tar.gz",
    ]
    assert [f.yanked_reason for f in page.files_of(["2.0"])] == ["señal rota", None]
    assert page.files == parse_json_page(body.encode("utf-8"), PAGE, SOURCE)
    assert [f.filename for f in page.files] == [entry["filename"] for entry in files]
    assert page.files[0].url == "http://127.0.0.1:1/files/demo-1.0-py3-none-any.whl"
    # The layout the cache keeps gives the same files without scanning again.
    again = JsonPageFiles.from_layout(body.encode("utf-8"), page_files.layout(), PAGE, SOURCE)
    assert again.files_of(["2.0"]) == page.files_of(["2.0"]) and again.all_files() == page.files
    # An ASCII page (json.dumps escaped the ñ) is read by byte offsets, so later from the cache file;
    # one that is not counts characters, and its layout says nothing of bytes.
    assert json.loads(page_files.layout())["offsets"] == "bytes"
    utf8 = body.replace("se\\u00f1al", "señal").encode("utf-8")
    assert not utf8.isascii()
    utf8_page = JsonPageFiles.scan(utf8, PAGE, SOURCE)
    assert "offsets" not in json.loads(utf8_page.layout())
    assert [f.yanked_reason for f in utf8_page.files_of(["2.0"])] == ["señal rota", None]


@pytest.mark.parametrize(
    "body",
    [
        b'{"files": [{"filename": "a-1.0.tar.gz", "url": "a"}] trailing',
        b'{"files": [{"filename": "a-1.0.tar.gz", "url": "a"}]} extra',
        b'{"files": [{"filename": "a-1.0.tar.gz"}]}',  # no url
        b'{"files": [{"filename": 10, "url": "a-1.0.tar.gz"}]}',
        b'{"files": ["a-1.0.tar.gz"]}',
        b'{"files": {}}',
        b'{"meta": {}}',
        b"[]",
        b'{"files": [',
        b"",
    ],
)
def test_malformed_json_pages_are_refused(body):
    with pytest.raises(PageFormatError, match="invalid simple-API JSON"):
        parse_project_page(body, "application/vnd.pypi.simple.v1+json", PAGE, SOURCE)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_core_metadata_headers_end_at_the_first_empty_line(newline):
    text = newline.join(
        [
            "Metadata-Version: 2.1",
            "Name: demo",
            "Version: 1.0",
            "Requires-Dist: a>=1",
            "Summary: first",
            "  folded",
            "",
            "Requires-Dist: not-a-header (the long description)",
            "",
        ]
    )
    metadata = parse_core_metadata(text.encode(), source="pep658", origin="demo.metadata")
    assert metadata.requires_dist == ("a>=1",)
    assert metadata.summary.split() == ["first", "folded"]
