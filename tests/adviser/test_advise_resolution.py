"""advise() against a real local index: target environment, markers, yanked, pre-releases, extras,
constraints, requirement formats and the error documents."""

import pytest

from adviser import AdviserSettings, advise
from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run
from tests.support.index_server import Dist


def sample_pipfile(sample_index, packages: str, extra: str = "") -> str:
    return pipfile([("sample", sample_index.url)], packages, extra=extra)


def test_newest_fitting_versions_for_the_target(sample_index, tmp_cache_dir):
    document = run(
        sample_pipfile(sample_index, 'webapp-framework = {version = "*", extras = ["async"]}'), tmp_cache_dir
    )
    versions = locked_versions(document)
    # templating 3.1rc1 is a pre-release, signals 1.2 is yanked, http-client 1.2 needs Python >= 3.12.
    assert versions == {
        "webapp-framework": "2.1",
        "templating": "3.0",
        "markup-escape": "1.1",
        "signals": "1.1",
        "http-client": "1.1",
        "socks-lib": "1.1",
    }
    result = product(document)
    lock = result["project"]["requirements_locked"]
    assert lock["default"]["webapp-framework"]["extras"] == ["async"]
    assert all(entry["index"] == "sample" for entry in lock["default"].values())
    # every file of markup-escape 1.1 on the index: the pure wheel, the manylinux wheel and the sdist
    assert len(lock["default"]["markup-escape"]["hashes"]) == 3
    nodes = result["dependency_graph"]["nodes"]
    edges = {(nodes[a], nodes[b]) for a, b in result["dependency_graph"]["edges"]}
    assert ("webapp-framework", "templating") in edges and ("http-client", "socks-lib") in edges
    assert result["score"] == 1.0
    assert len(messages(document)) >= len(versions)  # a justification per package
    stack_info = " | ".join(messages(document, where="stack_info"))
    assert "python_full_version evaluated as 3.11." in stack_info
    assert "Recommendation type latest" in stack_info and "sample (" in stack_info


def test_python_312_target_takes_the_release_that_needs_it(sample_index, tmp_cache_dir):
    document = run(
        sample_pipfile(sample_index, 'http-client = {version = "*", extras = ["socks"]}'),
        tmp_cache_dir,
        runtime={"platform": "linux-x86_64", "python_version": "3.12"},
    )
    assert locked_versions(document) == {"http-client": "1.2", "socks-lib": "1.1"}


def test_manylinux_wheel_is_chosen_for_linux_and_rejected_for_windows(sample_index, tmp_cache_dir):
    text = sample_pipfile(sample_index, 'fast-parser = "*"')
    linux = run(text, tmp_cache_dir)
    assert locked_versions(linux) == {"fast-parser": "1.0"}
    windows = run(text, tmp_cache_dir, runtime={"platform": "win-amd64", "python_version": "3.11"})
    assert windows["error"] is True
    assert (
        "fast-parser" in windows["error_msg"] and "no wheel for the target platform" in windows["error_msg"]
    )
    assert windows["report"]["products"] == []
    win_only = sample_pipfile(sample_index, 'win-console = "*"')
    assert locked_versions(
        run(win_only, tmp_cache_dir, runtime={"platform": "win-amd64", "python_version": "3.11"})
    )
    assert run(win_only, tmp_cache_dir)["error"] is True


@pytest.mark.parametrize("python", ["3.6", "3.7"])
def test_python_36_and_37_targets_take_their_m_abi_wheels(package_index, tmp_cache_dir, python):
    # Real projects of that time publish cp36m / cp37m wheels only (no sdist needed to install).
    index = package_index(
        [
            Dist(
                "yaml-speedups",
                "6.0",
                wheel_tags=(
                    "cp36-cp36m-manylinux_2_17_x86_64",
                    "cp37-cp37m-manylinux_2_17_x86_64",
                    "cp38-cp38-manylinux_2_17_x86_64",
                ),
                sdist=False,
            ),
            Dist("stable-abi-ext", "1.0", wheel_tags=("cp35-abi3-manylinux2014_x86_64",), sdist=False),
        ]
    )
    document = run(
        pipfile([("main", index.url)], 'yaml-speedups = "*"\nstable-abi-ext = "*"'),
        tmp_cache_dir,
        runtime={"platform": "linux-x86_64", "python_version": python},
    )
    assert locked_versions(document) == {"yaml-speedups": "6.0", "stable-abi-ext": "1.0"}


def test_dependency_markers_follow_the_target_python(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("app", "1.0", requires_dist=('backport; python_version < "3.12"', "core")),
            Dist("backport", "1.0"),
            Dist("core", "1.0"),
        ]
    )
    text = pipfile([("main", index.url)], 'app = "*"')
    on_311 = run(text, tmp_cache_dir)
    assert set(locked_versions(on_311)) == {"app", "backport", "core"}
    lock = product(on_311)["project"]["requirements_locked"]["default"]
    assert lock["backport"]["markers"] == 'python_version < "3.12"'
    assert "markers" not in lock["core"]
    on_312 = run(text, tmp_cache_dir, runtime={"platform": "linux-x86_64", "python_version": "3.12"})
    assert set(locked_versions(on_312)) == {"app", "core"}


def test_a_full_python_version_is_the_exact_target(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist(
                "app",
                "1.0",
                requires_dist=(
                    'old-patch-fix; python_full_version < "3.9.14"',
                    'later; python_full_version >= "3.9.14"',
                ),
            ),
            Dist("old-patch-fix", "1.0"),
            Dist("later", "1.0"),
        ]
    )
    text = pipfile([("main", index.url)], 'app = "*"')
    text = text.replace('python_version = "3.11"', 'python_version = "3.9"')
    stated = run(text, tmp_cache_dir, runtime={"platform": "linux-x86_64", "python_version": "3.9.13"})
    assert set(locked_versions(stated)) == {"app", "old-patch-fix"}
    assert stated["report"]["pipeline"]["target"]["python_full_version"] == "3.9.13"
    assert not messages(stated, "WARNING", where="stack_info")  # 3.9.13 is a 3.9: no disagreement
    # A patch level stated by the Pipfile is kept when the runtime environment names only the minor.
    text = text.replace('python_version = "3.9"', 'python_full_version = "3.9.13"')
    from_pipfile = run(text, tmp_cache_dir, runtime={"platform": "linux-x86_64", "python_version": "3.9"})
    assert set(locked_versions(from_pipfile)) == {"app", "old-patch-fix"}
    other_minor = run(text, tmp_cache_dir, runtime={"platform": "linux-x86_64", "python_version": "3.10"})
    warnings = messages(other_minor, "WARNING", where="stack_info")
    assert any("targets Python 3.10 while the Pipfile requires 3.9.13" in m for m in warnings)


def test_yanked_release_only_when_pinned_exactly(sample_index, tmp_cache_dir):
    pinned = run(sample_pipfile(sample_index, 'signals = "==1.2"'), tmp_cache_dir)
    assert locked_versions(pinned) == {"signals": "1.2"}
    assert any("yanked" in m for m in messages(pinned, "WARNING"))
    ranged = run(sample_pipfile(sample_index, 'signals = ">=1.2"'), tmp_cache_dir)
    assert ranged["error"] is True
    assert "signals" in ranged["error_msg"] and "yanked" in ranged["error_msg"]
    assert locked_versions(run(sample_pipfile(sample_index, 'signals = "*"'), tmp_cache_dir)) == {
        "signals": "1.1"
    }


def test_bare_version_is_locked_as_that_exact_version(sample_index, tmp_cache_dir):
    document = run(sample_pipfile(sample_index, 'signals = "1.0"'), tmp_cache_dir)
    assert product(document)["project"]["requirements_locked"]["default"]["signals"]["version"] == "==1.0"


def test_prereleases_for_direct_and_transitive_packages(sample_index, tmp_cache_dir):
    direct = run(
        sample_pipfile(sample_index, 'templating = "*"', "[thoth.allow_prereleases]\ntemplating = true\n"),
        tmp_cache_dir,
    )
    assert locked_versions(direct)["templating"] == "3.1rc1"
    assert any("pre-release" in m for m in messages(direct))
    transitive = run(
        sample_pipfile(
            sample_index, 'webapp-framework = "*"', "[thoth.allow_prereleases]\ntemplating = true\n"
        ),
        tmp_cache_dir,
    )
    assert locked_versions(transitive)["templating"] == "3.1rc1"
    other = run(
        sample_pipfile(sample_index, 'webapp-framework = "*"', "[thoth.allow_prereleases]\nsignals = true\n"),
        tmp_cache_dir,
    )
    assert locked_versions(other)["templating"] == "3.0"
    everything = run(
        sample_pipfile(
            sample_index,
            'templating = "*"',
            "[pipenv]\nallow_prereleases = true\n\n[thoth.allow_prereleases]\ntemplating = false\n",
        ),
        tmp_cache_dir,
    )
    assert locked_versions(everything)["templating"] == "3.1rc1"
    assert any("ignored" in m for m in messages(everything, "WARNING", where="stack_info"))


def test_exact_pin_of_a_prerelease_selects_it_direct_or_transitive_and_nothing_else(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("foo", "0.1.0"),
            Dist("foo", "0.2.0b0"),
            Dist("foo", "0.3.0"),
            Dist("bar", "1.0", requires_dist=("foo==0.2.0b0", "lib")),
            Dist("lib", "2.0"),
            Dist("lib", "2.1rc1"),
        ]
    )
    direct = run(pipfile([("main", index.url)], 'foo = "==0.2.0b0"\nlib = "*"'), tmp_cache_dir)
    assert locked_versions(direct) == {"foo": "0.2.0b0", "lib": "2.0"}
    transitive = run(pipfile([("main", index.url)], 'bar = "*"\nfoo = "*"'), tmp_cache_dir)
    assert locked_versions(transitive) == {"bar": "1.0", "foo": "0.2.0b0", "lib": "2.0"}
    assert not messages(transitive, "WARNING")  # an explicit pin is no fallback


@pytest.mark.parametrize(("allowed", "locked"), [("false", "1.0"), ("true", "2.0rc1"), ('"false"', "1.0")])
def test_a_package_named_in_allow_prereleases_follows_its_value(package_index, tmp_cache_dir, allowed, locked):
    index = package_index([Dist("toolkit", "1.0"), Dist("toolkit", "2.0rc1")])
    text = pipfile([("main", index.url)], 'toolkit = "*"', extra=f"[thoth.allow_prereleases]\ntoolkit = {allowed}\n")
    assert locked_versions(run(text, tmp_cache_dir)) == {"toolkit": locked}


def test_constraints_with_markers(sample_index, tmp_cache_dir):
    text = sample_pipfile(sample_index, 'signals = "*"')
    applies = run(text, tmp_cache_dir, constraints='signals<1.1; python_version >= "3.6"\n')
    assert locked_versions(applies) == {"signals": "1.0"}
    assert product(applies)["project"]["constraints"] == ['signals<1.1; python_version >= "3.6"']
    other_target = run(text, tmp_cache_dir, constraints='signals<1.1; sys_platform == "win32"\n')
    assert locked_versions(other_target) == {"signals": "1.1"}
    # constraints never add packages
    assert set(locked_versions(run(text, tmp_cache_dir, constraints="socks-lib<1.1\n"))) == {"signals"}


def test_unsupported_constraint_marker_is_an_error_document(sample_index, tmp_cache_dir):
    document = run(
        sample_pipfile(sample_index, 'signals = "*"'),
        tmp_cache_dir,
        constraints='signals<1.1\nsignals<2; platform_release >= "5"\n',
    )
    assert document["error"] is True
    assert "platform_release" in document["error_msg"] and "line 2" in document["error_msg"]
    assert document["report"]["stack_info"][-1]["type"] == "ERROR"


def test_conflict_with_constraints_is_explained(sample_index, tmp_cache_dir):
    document = run(
        sample_pipfile(sample_index, 'webapp-framework = "==2.1"'),
        tmp_cache_dir,
        constraints="templating<2\n",
    )
    assert document["error"] is True
    message = document["error_msg"]
    assert "webapp-framework 2.1 depends on templating" in message
    assert "the constraints say templating<2" in message


def test_conflict_between_packages_is_explained(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("alpha", "1.0", requires_dist=("shared>=2",)),
            Dist("beta", "1.0", requires_dist=("shared<2",)),
            Dist("shared", "1.0"),
            Dist("shared", "2.0"),
        ]
    )
    document = run(pipfile([("main", index.url)], 'alpha = "*"\nbeta = "*"'), tmp_cache_dir)
    assert document["error"] is True
    message = document["error_msg"]
    assert "alpha 1.0 depends on shared>=2" in message and "beta 1.0 depends on shared<2" in message


def test_no_single_version_names_every_requirement_that_collides(package_index, tmp_cache_dir):
    # resolvelib's last attempt only sees toolkit's urllib3>=2; botocore 1.29.0's urllib3<2 ruled
    # out the other version in an earlier conflict, and must be named too.
    index = package_index(
        [
            Dist("app-core", "1.0", requires_dist=("toolkit<2",)),
            Dist("botocore", "1.29.0", requires_dist=("urllib3<2",)),
            Dist("botocore", "1.30.0", requires_dist=("requests<3", "toolkit>=3")),
            Dist("requests", "2.30.0", requires_dist=("toolkit<3",)),
            Dist("requests", "2.31.0", requires_dist=("urllib3>=2",)),
            Dist("toolkit", "1.0", requires_dist=("urllib3>=2",)),
            Dist("toolkit", "2.0"),
            Dist("toolkit", "3.0"),
            Dist("urllib3", "1.26.18"),
            Dist("urllib3", "2.0.7"),
        ]
    )
    packages = 'app-core = "*"\nbotocore = "*"\nrequests = "*"\nurllib3 = "*"'
    request = {
        "application_stack": {"requirements": pipfile([("main", index.url)], packages)},
        "runtime_environment": {"platform": "linux-x86_64", "python_version": "3.11"},
        "recommendation_type": "latest",
    }
    log: list[str] = []
    document = advise(request, AdviserSettings(cache_dir=tmp_cache_dir), log=log.append)
    assert document["error"] is True
    message = document["error_msg"]
    assert message.startswith("No single version of urllib3 fits every package: ")
    assert "toolkit 1.0 depends on urllib3>=2" in message and "botocore 1.29.0 depends on urllib3<2" in message
    assert any(line.startswith("resolver: conflict on urllib3: ") for line in log)
    assert any(line.startswith("resolution impossible: No single version of urllib3") for line in log)


def test_unknown_package_names_the_package_and_index(sample_index, tmp_cache_dir):
    document = run(sample_pipfile(sample_index, 'no-such-project = "*"'), tmp_cache_dir)
    assert document["error"] is True
    assert "no-such-project" in document["error_msg"] and "not found on sample" in document["error_msg"]


def test_metadata_from_range_reads_and_static_sdists(sample_index, tmp_cache_dir):
    document = run(
        sample_pipfile(sample_index, 'legacy-tool = "*"\nplain-sdist = "*"\nData_Tools = "*"'), tmp_cache_dir
    )
    assert locked_versions(document) == {
        "legacy-tool": "1.0",
        "signals": "1.1",
        "plain-sdist": "1.0",
        "markup-escape": "1.1",
        "data-tools": "1.0",
    }


def test_dynamic_sdist_is_refused_with_the_reason_when_builds_are_off(sample_index, tmp_cache_dir):
    document = run(sample_pipfile(sample_index, 'dynamic-sdist = "*"'), tmp_cache_dir, settings={"builds": "never"})
    assert document["error"] is True
    assert "dynamic-sdist" in document["error_msg"] and "dynamic" in document["error_msg"].lower()
    assert "builds are turned off" in document["error_msg"]


def test_broken_metadata_is_reported(package_index, tmp_cache_dir):
    index = package_index([Dist("cracked", "1.0", broken_metadata="garbage", sdist=False)])
    document = run(pipfile([("main", index.url)], 'cracked = "*"'), tmp_cache_dir)
    assert document["error"] is True
    assert "cracked" in document["error_msg"] and "1.0" in document["error_msg"]


def test_index_down_or_slow(package_index, tmp_cache_dir):
    down = package_index([Dist("thing", "1.0")], fail_status=500)
    document = run(pipfile([("main", down.url)], 'thing = "*"'), tmp_cache_dir)
    assert document["error"] is True
    assert down.url in document["error_msg"] and "could not be read" in document["error_msg"]
    slow = package_index([Dist("thing", "1.0")], delay=2.0)
    document = run(pipfile([("slow", slow.url)], 'thing = "*"'), tmp_cache_dir, settings={"timeout": 0.3})
    assert document["error"] is True and slow.url in document["error_msg"]


def test_requirements_in_pip_format(sample_index, tmp_cache_dir):
    text = f"-i {sample_index.url}\nwebapp-framework[async]>=2\n"
    document = run(text, tmp_cache_dir, requirements_format="pip-tools")
    assert locked_versions(document)["webapp-framework"] == "2.1"
    requirements = product(document)["project"]["requirements"]
    assert requirements["packages"]["webapp-framework"] == {"version": ">=2", "extras": ["async"]}
    assert requirements["requires"] == {"python_version": "3.11"}


def test_dev_packages_go_to_develop_only_when_asked(sample_index, tmp_cache_dir):
    text = pipfile([("sample", sample_index.url)], 'signals = "*"', dev_packages='legacy-tool = "*"')
    without = run(text, tmp_cache_dir)
    assert locked_versions(without, "develop") == {}
    with_dev = run(text, tmp_cache_dir, dev=True)
    assert locked_versions(with_dev) == {"signals": "1.1"}
    assert locked_versions(with_dev, "develop") == {"legacy-tool": "1.0"}
    # Query-string words of Thoth 1.x clients; any other word is refused by name.
    assert locked_versions(run(text, tmp_cache_dir, dev="True"), "develop") == {"legacy-tool": "1.0"}
    assert locked_versions(run(text, tmp_cache_dir, dev="None"), "develop") == {}
    refused = run(text, tmp_cache_dir, dev="sometimes")
    assert refused["error"] is True and refused["error_msg"].startswith("dev must be one of")
    assert refused["parameters"]["dev"] is False


@pytest.mark.parametrize("bad", [{"recommendation_type": "fastest"}, {"runtime": {"platform": "amiga-68k"}}])
def test_bad_request_values_are_error_documents(sample_index, tmp_cache_dir, bad):
    document = run(sample_pipfile(sample_index, 'signals = "*"'), tmp_cache_dir, **bad)
    assert document["error"] is True
    assert ("fastest" in document["error_msg"]) or ("amiga-68k" in document["error_msg"])
