"""Extra-free markers for the lock, requirements.txt rendering and Pipfile TOML writing."""

import pytest
from packaging.markers import Marker

from adviser.markers import strip_extra
from stackfiles.pipfile import pipfile_hash, render_pipfile
from stackfiles.pipfile_lock import build_pipfile_lock as build_lock
from stackfiles.pipfile_lock import package_entry as lock_entry
from stackfiles.requirements import render_requirements_txt
from stackfiles.toml import load_toml


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('extra == "socks"', None),
        ('python_version < "3.12" and extra == "socks"', 'python_version < "3.12"'),
        (
            '(python_version < "3.12" and extra == "a") or sys_platform == "win32"',
            'python_version < "3.12" or sys_platform == "win32"',
        ),
        ('sys_platform == "linux" and (extra == "a" or extra == "b")', 'sys_platform == "linux"'),
        ('os_name == "nt"', 'os_name == "nt"'),
    ],
)
def test_strip_extra(marker, expected):
    assert strip_extra(Marker(marker)) == expected


PIPFILE = {
    "source": [
        {"url": "http://127.0.0.1:9/simple/", "verify_ssl": True, "name": "main"},
        {"url": "http://127.0.0.1:8/simple/", "verify_ssl": False, "name": "other"},
    ],
    "packages": {"flask": "*", "requests": {"version": ">=2", "extras": ["socks"]}},
    "dev-packages": {},
    "requires": {"python_version": "3.11"},
    "thoth": {"allow_prereleases": {"flask": True}},
}


def test_lock_meta_and_requirements_rendering():
    default = {
        "flask": lock_entry("3.1.0", ["bb", "aa"], "main", None, []),
        "requests": lock_entry("2.32.0", ["cc"], "other", None, ["socks"]),
        "colorama": lock_entry("0.4.6", ["dd"], "main", 'sys_platform == "win32"', []),
    }
    develop = {"pytest": lock_entry("8.0.0", ["ee"], "main", None, [])}
    lock = build_lock(PIPFILE, default, develop)
    assert lock["_meta"]["hash"]["sha256"] == pipfile_hash(PIPFILE)
    assert lock["_meta"]["pipfile-spec"] == 6
    assert [s["name"] for s in lock["_meta"]["sources"]] == ["main", "other"]
    assert lock["default"]["flask"] == {
        "hashes": ["sha256:aa", "sha256:bb"],
        "index": "main",
        "version": "==3.1.0",
    }
    # The lock converts as thamos writes requirements.txt (micropipenv): indexes, extras, markers.
    text = render_requirements_txt(lock, dev=False)
    lines = text.splitlines()
    assert "--index-url http://127.0.0.1:9/simple/" in lines
    assert "--extra-index-url http://127.0.0.1:8/simple/" in lines
    assert "--trusted-host 127.0.0.1:8" in lines
    assert "requests[socks]==2.32.0 \\" in lines
    assert 'colorama==0.4.6; sys_platform == "win32" \\' in lines
    assert "    --hash=sha256:aa \\" in lines and "    --hash=sha256:bb" in lines
    assert "pytest" not in text
    assert "pytest==8.0.0 \\" in render_requirements_txt(lock, dev=True)


def test_lock_refuses_an_index_missing_from_sources():
    with pytest.raises(ValueError):
        build_lock(PIPFILE, {"flask": lock_entry("1", ["a"], "nowhere", None, [])}, {})


def test_pipfile_toml_round_trip_keeps_the_hash():
    text = render_pipfile(PIPFILE, None)
    assert 'requests = {version = ">=2", extras = ["socks"]}' in text
    assert text.startswith("[[source]]")
    again = load_toml(text, "Pipfile")
    assert again["thoth"] == PIPFILE["thoth"]
    assert pipfile_hash(again) == pipfile_hash(PIPFILE)
