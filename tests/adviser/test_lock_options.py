"""A user lock made under other resolver options that pipenv's hash does not cover ([pipenv]
allow_prereleases, [thoth] tables, constraints): the locked versions are checked against the
current options; what no longer holds is resolved again, and the justification says why."""

import json

from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run
from tests.support.index_server import Dist


def lock_of(document):
    return json.dumps(product(document)["project"]["requirements_locked"])


def test_a_locked_pre_release_is_replaced_once_pre_releases_are_off(package_index, tmp_cache_dir):
    index = package_index([Dist("tool", "1.0"), Dist("tool", "2.0rc1")])
    allowing = pipfile([("main", index.url)], 'tool = "*"', extra="[pipenv]\nallow_prereleases = true\n")
    first = run(allowing, tmp_cache_dir)
    assert locked_versions(first) == {"tool": "2.0rc1"}
    strict = pipfile([("main", index.url)], 'tool = "*"')
    again = run(strict, tmp_cache_dir, requirements_lock=lock_of(first))
    assert locked_versions(again) == {"tool": "1.0"}
    why = ("tool 2.0rc1 -> 1.0: locked version is a pre-release and pre-releases of it are not allowed now "
           "([pipenv] allow_prereleases, [thoth.allow_prereleases])")
    assert why in messages(again)


def test_a_locked_pre_release_is_replaced_once_the_thoth_table_no_longer_allows_it(package_index, tmp_cache_dir):
    index = package_index([Dist("tool", "1.0"), Dist("tool", "2.0rc1")])
    allowing = pipfile([("main", index.url)], 'tool = "*"', extra="[thoth.allow_prereleases]\ntool = true\n")
    first = run(allowing, tmp_cache_dir)
    assert locked_versions(first) == {"tool": "2.0rc1"}
    again = run(pipfile([("main", index.url)], 'tool = "*"'), tmp_cache_dir, requirements_lock=lock_of(first))
    assert locked_versions(again) == {"tool": "1.0"}
    assert any(m.startswith("tool 2.0rc1 -> 1.0: locked version is a pre-release") for m in messages(again))


def test_a_locked_version_a_new_constraint_excludes_is_replaced_saying_which(package_index, tmp_cache_dir):
    index = package_index([Dist("tool", "1.0"), Dist("tool", "1.1")])
    text = pipfile([("main", index.url)], 'tool = "*"')
    first = run(text, tmp_cache_dir)
    assert locked_versions(first) == {"tool": "1.1"}
    again = run(text, tmp_cache_dir, requirements_lock=lock_of(first), constraints="tool<1.1\n")
    assert locked_versions(again) == {"tool": "1.0"}
    assert "tool 1.1 -> 1.0: locked version is excluded by the constraint tool<1.1 (constraints line 1)" \
           in messages(again)
