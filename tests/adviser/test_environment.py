"""The target environment: marker values and wheel tags come from the request, never the host."""

import pytest
from packaging.tags import Tag

from adviser.environment import TargetEnvironmentError, build_target


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
    with pytest.raises(TargetEnvironmentError) as error:
        build_target({"platform": "linux-x86_64", "python_version": "3.11", **bad})
    assert str(next(iter(bad.values()))) in str(error.value)


@pytest.mark.parametrize(
    ("python", "abi"), [("3.6", "cp36m"), ("3.7", "cp37m"), ("3.8", "cp38"), ("3.12", "cp312")]
)
def test_cpython_abi_has_the_pymalloc_m_before_38(python, abi):
    rhel8 = {"name": "rhel", "version": "8"}
    target = build_target({"platform": "linux-x86_64", "python_version": python, "operating_system": rhel8})
    interpreter = "cp" + python.replace(".", "")
    assert target.tags[0] == Tag(interpreter, abi, "manylinux_2_28_x86_64")
    other_abi = interpreter if abi.endswith("m") else interpreter + "m"  # the spelling that build never had
    assert Tag(interpreter, other_abi, "manylinux2014_x86_64") not in target.tag_rank


def test_python_37_tags_rank_the_interpreter_abi_before_abi3_and_pure_python():
    target = build_target({"platform": "win-amd64", "python_version": "3.7"})
    rank = target.tag_rank
    specific = rank[Tag("cp37", "cp37m", "win_amd64")]
    stable_abi = rank[Tag("cp37", "abi3", "win_amd64")]
    older_abi3 = rank[Tag("cp35", "abi3", "win_amd64")]
    no_abi = rank[Tag("cp37", "none", "win_amd64")]
    pure = rank[Tag("py3", "none", "any")]
    assert specific < stable_abi < no_abi < older_abi3 < pure
    assert Tag("cp37", "cp37", "win_amd64") not in rank
    assert target.markers["python_full_version"].startswith("3.7.")
    assert not any(n["type"] == "WARNING" for n in target.notes)  # 3.7 is a known release
