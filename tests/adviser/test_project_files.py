"""Parsing the application stack: Pipfile, pip / pip-tools requirements, constraints and locks."""

import json

import pytest

from adviser.project import ProjectError, Source, parse_constraints, parse_lock, parse_project

DEFAULT = Source("pypi", "http://127.0.0.1:1/simple/")

PIPFILE = """
[[source]]
url = "http://127.0.0.1:2/simple/"
verify_ssl = true
name = "main"

[[source]]
url = "http://127.0.0.1:3/simple/"
verify_ssl = false
name = "extra"

[packages]
flask = "*"
requests = {version = ">=2.8", extras = ["socks"]}
tensorflow = {version = "*", index = "extra", markers = "sys_platform == 'linux'"}
colorama = {version = "*", sys_platform = "== 'win32'"}

[dev-packages]
pytest = ">=8"

[requires]
python_version = "3.11"

[pipenv]
allow_prereleases = false

[thoth]
disable_index_adjustment = true

[thoth.allow_prereleases]
NumPy = true
"""


def test_pipfile_sections_are_normalized():
    project = parse_project(PIPFILE, "pipenv", None, DEFAULT)
    assert [s.name for s in project.sources] == ["main", "extra"]
    by_name = {r.name: r for r in project.packages}
    assert str(by_name["requests"].specifier) == ">=2.8" and by_name["requests"].extras == {"socks"}
    assert by_name["tensorflow"].index == "extra"
    assert by_name["tensorflow"].marker.evaluate({"sys_platform": "linux"})
    assert not by_name["colorama"].marker.evaluate({"sys_platform": "linux"})
    assert [r.name for r in project.dev_packages] == ["pytest"]
    assert project.python_version == "3.11"
    assert project.disable_index_adjustment is True
    assert project.prerelease_packages == {"numpy": True}
    assert project.allow_prereleases_all is False


def test_pipenv_allow_prereleases_overrides_the_thoth_table_and_says_so():
    text = PIPFILE.replace("allow_prereleases = false", "allow_prereleases = true")
    project = parse_project(text, "pipenv", None, DEFAULT)
    assert project.allow_prereleases_all is True
    assert project.prerelease_packages == {}
    assert any("ignored" in n["message"] and n["type"] == "WARNING" for n in project.notes)


def test_pipfile_without_source_uses_the_default_index():
    project = parse_project('[packages]\nflask = "*"\n', "pipenv", None, DEFAULT)
    assert project.sources == [DEFAULT]
    assert project.pipfile["source"][0]["url"] == DEFAULT.url


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[packages\nflask = 1", "not valid TOML"),
        ('[packages]\nflask = {version = "*", index = "nowhere"}\n', "nowhere"),
        ('[packages]\nflask = "=>2"\n', "not a valid version specifier"),
        ('[packages]\nflask = {hg = "https://example.invalid/flask"}\n', "not supported"),
        ("[packages]\n", "no packages"),
    ],
)
def test_bad_pipfiles_are_named(text, needle):
    with pytest.raises(ProjectError) as error:
        parse_project(text, "pipenv", None, DEFAULT)
    assert needle in str(error.value)


def test_bare_version_in_a_pipfile_is_an_exact_pin_as_pipenv_reads_it():
    text = '[packages]\ndjango = "5.0"\nflask = {version = "2.3.1", extras = ["async"]}\nold = "v1.0"\n'
    project = parse_project(text, "pipenv", None, DEFAULT)
    pins = {r.name: r.pinned_version() for r in project.packages}
    assert pins == {"django": "5.0", "flask": "2.3.1", "old": "v1.0"}
    assert [r.text for r in project.packages][:2] == ["django==5.0", "flask[async]==2.3.1"]
    assert project.pipfile["packages"]["django"] == "5.0"  # the Pipfile (and its lock hash) as written
    with pytest.raises(ProjectError, match="'5.0 beta' is not a valid version specifier"):
        parse_project('[packages]\ndjango = "5.0 beta"\n', "pipenv", None, DEFAULT)


def test_requirements_files_in_pip_format():
    text = """
# a comment
-i http://127.0.0.1:5/simple/
--extra-index-url http://127.0.0.1:6/simple/
flask>=2  # trailing comment
requests[socks]==2.31.0 \\
    --hash=sha256:aaaa
-c constraints.txt
colorama; sys_platform == "win32"
"""
    project = parse_project(text, "pip-tools", None, DEFAULT)
    assert [s.url for s in project.sources] == ["http://127.0.0.1:5/simple/", "http://127.0.0.1:6/simple/"]
    assert [r.name for r in project.packages] == ["flask", "requests", "colorama"]
    assert project.pipfile["packages"]["requests"] == {"version": "==2.31.0", "extras": ["socks"]}
    assert project.pipfile["packages"]["colorama"]["markers"] == 'sys_platform == "win32"'
    assert any("-c constraints.txt" in n["message"] for n in project.notes)


def test_bad_requirement_line_names_the_line():
    with pytest.raises(ProjectError) as error:
        parse_project("flask\nthis is not a requirement\n", "pip", None, DEFAULT)
    assert "line 2" in str(error.value)


def test_constraints_with_supported_markers():
    constraints = parse_constraints(
        '# comment\nflask<=1.0.0\nrequests>=2.8.1,<=3.0.0; python_version >= "3.6"\n'
        'numpy<2; platform_machine == "x86_64" and sys_platform == "linux"\n'
    )
    assert [c.name for c in constraints] == ["flask", "requests", "numpy"]
    assert constraints[1].marker.evaluate({"python_version": "3.11"})


@pytest.mark.parametrize("marker", ["platform_release", "platform_version"])
def test_constraints_with_unsupported_markers_are_refused(marker):
    with pytest.raises(ProjectError) as error:
        parse_constraints(f'flask<3\nrequests<3; {marker} == "5.4"\n')
    message = str(error.value)
    assert marker in message and "line 2" in message


def test_locks_in_both_formats():
    lock = {
        "_meta": {"hash": {"sha256": "abc"}},
        "default": {"flask": {"version": "==2.0.1", "index": "pypi", "hashes": ["sha256:1"]}},
        "develop": {"pytest": {"version": "==8.0"}},
    }
    parsed = parse_lock(json.dumps(lock), "pipenv")
    assert parsed.pipfile_hash == "abc"
    assert parsed.packages["flask"].version == "2.0.1" and parsed.packages["pytest"].dev
    pip_lock = parse_lock("flask==2.0.1 \\\n    --hash=sha256:1\nclick==8.0\n", "pip")
    assert {n: p.version for n, p in pip_lock.packages.items()} == {"flask": "2.0.1", "click": "8.0"}
    with pytest.raises(ProjectError):
        parse_lock("{not json", "pipenv")


@pytest.mark.parametrize(
    ("lock", "named"),
    [
        ({"_meta": {"hash": 5}, "default": {}}, "_meta.hash"),
        ({"_meta": {"hash": {"sha256": 7}}, "default": {}}, "_meta.hash.sha256"),
        ({"_meta": {}, "default": ["flask"]}, "default"),
        ({"_meta": {}, "develop": 3}, "develop"),
    ],
)
def test_locks_of_the_wrong_shape_are_refused_naming_the_key(lock, named):
    with pytest.raises(ProjectError) as error:
        parse_lock(json.dumps(lock), "pipenv")
    assert named in str(error.value)
