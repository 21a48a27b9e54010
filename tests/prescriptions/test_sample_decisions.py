"""The decisions PRESCRIPTIONS.md fixes, on the real sample files and a local index that stands for
the public one (declared its alias, as a server resolving against a mirror does)."""

from __future__ import annotations

import pytest

from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run
from tests.prescriptions.support import PUBLIC_INDEX, SAMPLE, compiled, write_repository
from tests.support.index_server import Dist

FLASK_DISTS = [
    Dist("flask", "1.1.4", requires_dist=("jinja2<3.0,>=2.10.1", "click<8.0,>=5.1")),
    Dist("flask", "2.3.3", requires_dist=("jinja2>=3.1.2", "click>=8.1.3")),
    Dist("jinja2", "2.11.3", requires_dist=("markupsafe>=0.23",)),
    Dist("jinja2", "3.1.4", requires_dist=("markupsafe>=2.0",)),
    Dist("markupsafe", "2.0.1"),
    Dist("markupsafe", "2.1.5"),
    Dist("click", "7.1.2"),
    Dist("click", "8.0.4"),
    Dist("click", "8.1.7"),
    Dist("black", "22.1.0", requires_dist=("click>=8.0.0",)),
    Dist("numpy", "1.26.4"),
    Dist("mock", "5.1.0"),
    Dist("app", "1.0", requires_dist=("mock", "numpy")),
]

# What the public repository says about black and click (the unit is not in the sample).
BLACK_CLICK = """
units:
  steps:
  - name: Click810Black2210Step
    type: step.Group
    should_include:
      adviser_pipeline: true
    match:
      group:
      - package_version:
          name: click
          version: ">=8.1.0"
          index_url: https://public-index.invalid/simple
      - package_version:
          name: black
          version: "==22.1.0"
          index_url: https://public-index.invalid/simple
    run:
      stack_info:
      - type: WARNING
        message: black 22.1.0 breaks with click>=8.1.0
        link: https://github.com/psf/black/issues/2964
      not_acceptable: black 22.1.0 breaks with click>=8.1.0
"""


@pytest.fixture
def sample_settings(package_index, tmp_cache_dir, tmp_path):
    index = package_index(FLASK_DISTS)
    team = write_repository(tmp_path / "team", {"bl_/black/click.yaml": BLACK_CLICK}, name="thoth", release="test")

    def settings(**extra):
        return {"prescriptions": compiled(tmp_cache_dir, SAMPLE, team), "index_aliases": {PUBLIC_INDEX: index.url},
                **extra}

    return index, settings


def advise_with(index, settings, packages, cache, **options):
    return run(pipfile([("main", index.url)], packages), cache, settings=settings, **options)


def test_flask_gets_the_newest_release_because_the_over_broad_rule_is_disabled(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    document = advise_with(index, settings(), 'flask = "*"', tmp_cache_dir)
    assert locked_versions(document)["flask"] == "2.3.3"
    info = messages(document, where="stack_info")
    assert any("thoth.Jinja2300Flask100Step disabled by the server: over-broad" in m for m in info)
    assert "Prescriptions thoth release dev+git used" in info


def test_with_the_rule_enabled_flask_backtracks_to_1_1_4_naming_the_unit(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    document = advise_with(index, settings(prescriptions_denied={}), 'flask = "*"', tmp_cache_dir)
    versions = locked_versions(document)
    assert (versions["flask"], versions["jinja2"]) == ("1.1.4", "2.11.3")
    assert any("prescription thoth.Jinja2300Flask100Step" in m for m in messages(document))


def test_black_22_1_0_gets_a_click_below_8_1(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    document = advise_with(index, settings(), 'black = "==22.1.0"', tmp_cache_dir)
    assert locked_versions(document)["click"] == "8.0.4"
    assert any("black 22.1.0 breaks with click>=8.1.0" in m for m in messages(document, where="stack_info"))


def test_mock_is_left_out_with_its_unit_named_and_numpy_wraps_attach(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    python_310 = {"platform": "linux-x86_64", "python_version": "3.10"}
    document = advise_with(index, settings(), 'app = "*"', tmp_cache_dir, recommendation_type="stable",
                           runtime=python_310)
    versions = locked_versions(document)
    assert "mock" not in versions and versions["numpy"] == "1.26.4"
    texts = messages(document)
    assert any("mock (a dependency of app 1.0) left out" in m and "thoth.MockBackportSieve" in m for m in texts)
    assert "Package 'numpy' is hosted on GitHub" in texts
    notes = [i for i in product(document)["justification"] if i["message"].startswith("Release notes for numpy")]
    assert notes[0]["link"] == "https://github.com/numpy/numpy/releases/tag/v1.26.4"


def test_mock_stays_on_python_3_11_and_under_the_latest_type(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    assert "mock" in locked_versions(advise_with(index, settings(), 'app = "*"', tmp_cache_dir,
                                                 recommendation_type="stable"))
    python_310 = {"platform": "linux-x86_64", "python_version": "3.10"}
    assert "mock" in locked_versions(advise_with(index, settings(), 'app = "*"', tmp_cache_dir, runtime=python_310))
