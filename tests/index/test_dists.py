"""The built files themselves: wheel layout, RECORD, names, tags, sdists, determinism."""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import io
import tarfile
import zipfile

import pytest
import tomlkit
from packaging.tags import parse_tag
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from tests.support.dist_builder import Dist, build_dist_files


def _record_digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_wheel_has_metadata_wheel_record_and_module(tmp_path):
    dist = Dist("Fancy.Name_Lib", "1.0.post1", requires_dist=("signals>=1",), extras={"fast": ["speedup"]})
    (wheel_file,) = [f for f in build_dist_files(dist, tmp_path) if f.kind == "wheel"]
    assert wheel_file.filename == "fancy_name_lib-1.0.post1-py3-none-any.whl"
    name, version, build, tags = parse_wheel_filename(wheel_file.filename)
    assert (name, str(version), build) == ("fancy-name-lib", "1.0.post1", ())
    assert wheel_file.sha256 == hashlib.sha256(wheel_file.path.read_bytes()).hexdigest()

    with zipfile.ZipFile(wheel_file.path) as wheel:
        assert wheel.testzip() is None
        names = wheel.namelist()
        dist_info = "fancy_name_lib-1.0.post1.dist-info"
        assert names[-1] == f"{dist_info}/RECORD"
        assert "fancy_name_lib/__init__.py" in names
        module = wheel.read("fancy_name_lib/__init__.py").decode()
        assert '__version__ = "1.0.post1"' in module

        wheel_meta = email.parser.Parser().parsestr(wheel.read(f"{dist_info}/WHEEL").decode())
        assert wheel_meta["Wheel-Version"] == "1.0"
        assert wheel_meta["Root-Is-Purelib"] == "true"
        assert wheel_meta.get_all("Tag") == ["py3-none-any"]

        metadata = email.parser.Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        assert metadata["Name"] == "Fancy.Name_Lib"
        assert metadata.get_all("Provides-Extra") == ["fast"]

        rows = list(csv.reader(io.StringIO(wheel.read(f"{dist_info}/RECORD").decode())))
        assert {row[0] for row in rows} == set(names)
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                assert (digest, size) == ("", "")
            else:
                data = wheel.read(path)
                assert digest == _record_digest(data) and int(size) == len(data)


def test_import_name_override(tmp_path):
    dist = Dist("python-dateparse", "2.0", import_name="dateparse", sdist=False)
    (wheel_file,) = build_dist_files(dist, tmp_path)
    with zipfile.ZipFile(wheel_file.path) as wheel:
        assert "dateparse/__init__.py" in wheel.namelist()


def test_arbitrary_tags_several_wheels_and_build_numbers(tmp_path):
    dist = Dist(
        "native",
        "3.2",
        wheel_tags=("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-win_amd64", "py2.py3-none-any"),
        files=2,
        sdist=False,
    )
    built = build_dist_files(dist, tmp_path)
    names = sorted(f.filename for f in built)
    assert names == [
        "native-3.2-1-cp311-cp311-manylinux_2_17_x86_64.whl",
        "native-3.2-1-cp311-cp311-win_amd64.whl",
        "native-3.2-1-py2.py3-none-any.whl",
        "native-3.2-cp311-cp311-manylinux_2_17_x86_64.whl",
        "native-3.2-cp311-cp311-win_amd64.whl",
        "native-3.2-py2.py3-none-any.whl",
    ]
    assert len({f.sha256 for f in built}) == 6  # build-numbered copies differ in content
    for wheel_file in built:
        _, _, _, tags = parse_wheel_filename(wheel_file.filename)
        with zipfile.ZipFile(wheel_file.path) as wheel:
            wheel_meta = email.parser.Parser().parsestr(wheel.read("native-3.2.dist-info/WHEEL").decode())
        assert {tag for line in wheel_meta.get_all("Tag") for tag in parse_tag(line)} == set(tags)
        assert wheel_meta["Root-Is-Purelib"] == (
            "true" if wheel_file.filename.endswith("-any.whl") else "false"
        )


def test_explicit_build_tag(tmp_path):
    (wheel_file,) = build_dist_files(Dist("native", "1.0", build_tag="7", sdist=False), tmp_path)
    assert wheel_file.filename == "native-1.0-7-py3-none-any.whl"
    assert parse_wheel_filename(wheel_file.filename)[2] == (7, "")


def test_bad_dists_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="needs a wheel or an sdist"):
        Dist("nothing", "1.0", wheel=False, sdist=False)
    with pytest.raises(ValueError, match="build tag"):
        Dist("native", "1.0", build_tag="x1")
    with pytest.raises(TypeError, match="requires_dist"):
        Dist("native", "1.0", requires_dist="signals")
    with pytest.raises(ValueError, match="python-abi-platform"):
        build_dist_files(
            Dist("native", "1.0", wheel_tags=("py3-any",)), __import__("pathlib").Path("/nonexistent")
        )


def _sdist_members(path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def test_sdist_with_static_metadata(tmp_path):
    dist = Dist(
        "Plain_Sdist",
        "1.0",
        requires_dist=("markup-escape>=1.0",),
        extras={"fast": ["speedup>=2"]},
        requires_python=">=3.9",
        classifiers=("Programming Language :: Python :: 3",),
        wheel=False,
    )
    (sdist,) = build_dist_files(dist, tmp_path)
    assert sdist.filename == "plain_sdist-1.0.tar.gz"
    assert parse_sdist_filename(sdist.filename)[0] == "plain-sdist"
    members = _sdist_members(sdist.path)
    assert set(members) == {
        "plain_sdist-1.0/PKG-INFO",
        "plain_sdist-1.0/pyproject.toml",
        "plain_sdist-1.0/setup.cfg",
        "plain_sdist-1.0/plain_sdist/__init__.py",
    }
    pkg_info = email.parser.Parser().parsestr(members["plain_sdist-1.0/PKG-INFO"].decode())
    assert pkg_info["Metadata-Version"] == "2.2"
    assert pkg_info.get_all("Dynamic") is None
    assert pkg_info.get_all("Requires-Dist") == ["markup-escape>=1.0", 'speedup>=2; extra == "fast"']
    assert pkg_info["Requires-Python"] == ">=3.9"
    project = tomlkit.loads(members["plain_sdist-1.0/pyproject.toml"].decode()).unwrap()["project"]
    assert project["name"] == "Plain_Sdist" and project["version"] == "1.0"
    assert project["dependencies"] == ["markup-escape>=1.0"]
    assert project["optional-dependencies"] == {"fast": ["speedup>=2"]}
    assert project["requires-python"] == ">=3.9"


def test_sdist_with_dynamic_dependencies(tmp_path):
    dist = Dist("dyn", "0.3", requires_dist=("signals>=1.0",), extras={"x": ["extra-lib"]}, dynamic_deps=True)
    sdist = next(f for f in build_dist_files(dist, tmp_path) if f.kind == "sdist")
    members = _sdist_members(sdist.path)
    pkg_info = email.parser.Parser().parsestr(members["dyn-0.3/PKG-INFO"].decode())
    assert pkg_info["Metadata-Version"] == "2.2"
    assert pkg_info.get_all("Dynamic") == ["Requires-Dist", "Provides-Extra"]
    assert pkg_info.get_all("Requires-Dist") is None
    project = tomlkit.loads(members["dyn-0.3/pyproject.toml"].decode()).unwrap()["project"]
    assert "dependencies" not in project and "dependencies" in project["dynamic"]
    setup_cfg = members["dyn-0.3/setup.cfg"].decode()
    assert "install_requires =\n    signals>=1.0" in setup_cfg
    assert "x =\n    extra-lib" in setup_cfg


def test_same_dist_gives_byte_identical_files(tmp_path):
    dist = Dist(
        "repeat", "1.0", requires_dist=("a", "b>=2"), wheel_tags=("py3-none-any", "cp311-cp311-win_amd64")
    )
    first = {f.filename: f.path.read_bytes() for f in build_dist_files(dist, tmp_path / "one")}
    second = {f.filename: f.path.read_bytes() for f in build_dist_files(dist, tmp_path / "two")}
    assert first == second and len(first) == 3
    with tarfile.open(tmp_path / "one" / "repeat-1.0.tar.gz") as archive:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in archive.getmembers()} == {
            (1577836800, 0, 0, "", "")
        }
