"""The target environment: marker values and wheel tags come from the request, never the host."""

import pytest
from packaging.tags import Tag

from adviser.environment import EnvironmentError_, build_target


def test_linux_target_gets_manylinux_tags_down_to_2_17_and_legacy_aliases():
    target = build_target(
        {
            "platform": "linux-x86_64",
            "python_version": "3.11",
            "operating_system": {"name": "ubi", "version": "8"},
        }
    )
    platforms = [t.platform for t in target.tags if t.interpreter == "cp311" and t.abi == "cp311"]
    assert platforms[0] == "manylinux_2_28_x86_64"
    assert "manylinux_2_17_x86_64" in platforms and "manylinux_2_18_x86_64" in platforms
    assert "manylinux_2_29_x86_64" not in platforms
    for legacy in ("manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"):
        assert legacy in platforms
    assert Tag("py3", "none", "any") in target.tag_rank
    assert target.markers["sys_platform"] == "linux"
    assert target.markers["python_full_version"].startswith("3.11.")
    assert any("python_full_version evaluated as 3.11." in n["message"] for n in target.notes)
    assert target.libc == "glibc 2.28"


@pytest.mark.parametrize(
    ("os_name", "os_version", "glibc"),
    [("rhel", "9", "2.34"), ("fedora", "40", "2.39"), ("ubuntu", "22.04", "2.35"), ("debian", "12", "2.36")],
)
def test_operating_system_fixes_the_glibc_level(os_name, os_version, glibc):
    target = build_target(
        {
            "platform": "linux-x86_64",
            "python_version": "3.12",
            "operating_system": {"name": os_name, "version": os_version},
        }
    )
    assert target.libc == f"glibc {glibc}"


def test_unknown_distribution_falls_back_with_a_warning():
    target = build_target(
        {
            "platform": "linux-aarch64",
            "python_version": "3.11",
            "operating_system": {"name": "plan9", "version": "4"},
        }
    )
    assert target.libc == "glibc 2.28"
    assert any(n["type"] == "WARNING" and "plan9" in n["message"] for n in target.notes)
    assert target.tags[0].platform == "manylinux_2_28_aarch64"
    assert not any("manylinux1" in t.platform for t in target.tags)  # never existed for aarch64


def test_alpine_uses_musllinux():
    target = build_target(
        {
            "platform": "linux-x86_64",
            "python_version": "3.12",
            "operating_system": {"name": "alpine", "version": "3.20"},
        }
    )
    assert target.tags[0].platform.startswith("musllinux_1_2_x86_64")
    assert not any(t.platform.startswith("manylinux") for t in target.tags)


def test_windows_and_macos_targets():
    windows = build_target({"platform": "win-amd64", "python_version": "3.12"})
    assert Tag("cp312", "cp312", "win_amd64") in windows.tag_rank
    assert not any("linux" in t.platform for t in windows.tags)
    assert windows.markers["sys_platform"] == "win32" and windows.markers["os_name"] == "nt"
    mac = build_target({"platform": "macosx-11.0-arm64", "python_version": "3.12"})
    assert mac.tags[0] == Tag("cp312", "cp312", "macosx_11_0_arm64")
    assert mac.markers["platform_system"] == "Darwin"


def test_stated_patch_level_is_used_as_given():
    target = build_target({"platform": "linux-x86_64", "python_version": "3.11.4"})
    assert target.markers["python_full_version"] == "3.11.4"
    assert target.markers["python_version"] == "3.11"


@pytest.mark.parametrize("bad", [{"platform": "solaris-sparc"}, {"python_version": "three"}])
def test_bad_runtime_environment_is_a_clear_error(bad):
    with pytest.raises(EnvironmentError_) as error:
        build_target({"platform": "linux-x86_64", "python_version": "3.11", **bad})
    assert str(next(iter(bad.values()))) in str(error.value)
