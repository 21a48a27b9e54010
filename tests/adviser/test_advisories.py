"""OSV advisories: version ranges, explicit version lists, archives, and the parsed-index cache."""

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

from adviser.advisories import AdvisoryDatabaseError, load_advisories

ADVISORY = """id: PYSEC-0000-1
summary: Something bad in demo
affected:
- package:
    name: Demo_Pkg
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: '1.0'
    - fixed: '1.2'
    - introduced: '2.0'
    - last_affected: '2.1'
  versions:
  - '0.5'
references:
- type: WEB
  url: https://advisories.invalid/demo
- type: ADVISORY
  url: https://advisories.invalid/PYSEC-0000-1
aliases:
- CVE-0000-0001
modified: '2024-01-02T00:00:00Z'
"""


def write_db(root: Path) -> Path:
    (root / "demo-pkg").mkdir(parents=True)
    (root / "demo-pkg" / "PYSEC-0000-1.yaml").write_text(ADVISORY)
    (root / "other").mkdir()
    (root / "other" / "GHSA-x.json").write_text(
        json.dumps(
            {
                "id": "GHSA-x",
                "modified": "2025-03-04T00:00:00Z",
                "affected": [
                    {"package": {"name": "other", "ecosystem": "PyPI"}, "versions": ["3.0"]},
                    {"package": {"name": "other", "ecosystem": "npm"}, "versions": ["9.9"]},
                ],
            }
        )
    )
    return root


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("0.5", True),
        ("0.9", False),
        ("1.0", True),
        ("1.1.5", True),
        ("1.2", False),
        ("1.9", False),
        ("2.0", True),
        ("2.1", True),
        ("2.1.1", False),
    ],
)
def test_ranges_and_versions(tmp_path, version, affected):
    db = load_advisories(write_db(tmp_path / "db"), tmp_path / "cache")
    hits = db.lookup("demo-pkg", Version(version))
    assert bool(hits) is affected
    if hits:
        assert hits[0].link == "https://advisories.invalid/PYSEC-0000-1"
        assert "CVE-0000-0001" in hits[0].names()


def test_per_package_layout_is_read_on_demand(tmp_path):
    db = load_advisories(write_db(tmp_path / "db"), tmp_path / "cache")
    assert db.count == 2
    assert "2 documents for 2 packages" in db.describe()
    assert db.lookup("other", Version("3.0"))[0].id == "GHSA-x"
    assert db.lookup("other", Version("9.9")) == []  # the npm entry is not ours
    cached = sorted(p.name for p in (tmp_path / "cache" / "advisories").rglob("*.json"))
    assert cached == ["other.json"]  # parsed records of the packages looked up, kept for the next run
    assert load_advisories(tmp_path / "db", tmp_path / "cache").lookup("other", Version("3.0"))


def flat_db(root: Path) -> Path:
    """Documents side by side (not one directory per package): parsed whole, then cached."""
    root.mkdir(parents=True)
    (root / "PYSEC-0000-1.yaml").write_text(ADVISORY)
    (root / "GHSA-x.json").write_text(
        json.dumps(
            {
                "id": "GHSA-x",
                "modified": "2025-03-04T00:00:00Z",
                "affected": [{"package": {"name": "other", "ecosystem": "PyPI"}, "versions": ["3.0"]}],
            }
        )
    )
    return root


def test_flat_snapshot_identity(tmp_path):
    db = load_advisories(flat_db(tmp_path / "db"), tmp_path / "cache")
    assert db.count == 2
    assert db.newest_modified.startswith("2025-03-04")
    assert "2 PyPI advisories" in db.describe()
    assert db.lookup("demo-pkg", Version("1.1"))


def test_cache_is_reused_and_refreshed_when_the_snapshot_changes(tmp_path):
    root = flat_db(tmp_path / "db")
    first = load_advisories(root, tmp_path / "cache")
    cached = list((tmp_path / "cache" / "advisories").glob("*.json"))
    assert len(cached) == 1
    again = load_advisories(root, tmp_path / "cache")
    assert again.signature == first.signature
    assert list((tmp_path / "cache" / "advisories").glob("*.json")) == cached
    (root / "GHSA-x.json").write_text(
        json.dumps(
            {
                "id": "GHSA-x",
                "affected": [{"package": {"name": "other", "ecosystem": "PyPI"}, "versions": ["4.0"]}],
            }
        )
    )
    changed = load_advisories(root, tmp_path / "cache")
    assert changed.signature != first.signature
    assert changed.lookup("other", Version("4.0")) and not changed.lookup("other", Version("3.0"))


def test_archives(tmp_path):
    root = write_db(tmp_path / "db")
    with zipfile.ZipFile(tmp_path / "db.zip", "w") as archive:
        for path in root.rglob("*.*"):
            archive.write(path, path.relative_to(root))
    with tarfile.open(tmp_path / "db.tar.gz", "w:gz") as archive:
        data = ADVISORY.encode()
        info = tarfile.TarInfo("vulns/demo-pkg/PYSEC-0000-1.yaml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert load_advisories(tmp_path / "db.zip", None).lookup("demo-pkg", Version("1.1"))
    assert load_advisories(tmp_path / "db.tar.gz", tmp_path / "c").lookup("demo-pkg", Version("2.0"))


def test_missing_or_unreadable_snapshot_is_an_error(tmp_path):
    with pytest.raises(AdvisoryDatabaseError):
        load_advisories(tmp_path / "absent", None)
    (tmp_path / "bad" / "pkg").mkdir(parents=True)
    (tmp_path / "bad" / "pkg" / "x.yaml").write_text("id: [unclosed")
    with pytest.raises(AdvisoryDatabaseError) as error:
        load_advisories(tmp_path / "bad", None).lookup("pkg", Version("1.0"))
    assert "x.yaml" in str(error.value)
