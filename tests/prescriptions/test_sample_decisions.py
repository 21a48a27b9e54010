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
    Dist("numpy", "1.23.5"),
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
    assert not any("Installed artifact size" in m for m in texts)  # the sample has sizes up to 1.24.0rc1


def test_the_artifact_size_of_the_version_chosen_is_attached(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    document = advise_with(index, settings(), 'numpy = "==1.23.5"', tmp_cache_dir)
    sizes = [m for m in messages(document) if m.startswith("Installed artifact size")]
    assert sizes == ["Installed artifact size for package 'numpy' in version '1.23.5' can have up to 17.29MiB"]


def test_mock_stays_on_python_3_11_and_under_the_latest_type(sample_settings, tmp_cache_dir):
    index, settings = sample_settings
    assert "mock" in locked_versions(advise_with(index, settings(), 'app = "*"', tmp_cache_dir,
                                                 recommendation_type="stable"))
    python_310 = {"platform": "linux-x86_64", "python_version": "3.10"}
    assert "mock" in locked_versions(advise_with(index, settings(), 'app = "*"', tmp_cache_dir, runtime=python_310))


TF_DISTS = [Dist("tensorflow", "2.3.0"), Dist("tensorflow", "2.4.0")]
INTEL = {"cpu_family": 6, "cpu_model": 85}


def test_tensorflow_2_4_0_is_sieved_only_on_a_known_cpu_without_avx2(package_index, tmp_cache_dir):
    index = package_index(TF_DISTS)
    settings = {"prescriptions": compiled(tmp_cache_dir, SAMPLE), "index_aliases": {PUBLIC_INDEX: index.url}}

    def tensorflow(hardware):
        runtime = {"platform": "linux-x86_64", "python_version": "3.11", "hardware": hardware}
        document = run(pipfile([("main", index.url)], 'tensorflow = "*"'), tmp_cache_dir, runtime=runtime,
                       settings=settings)
        return locked_versions(document)["tensorflow"], messages(document, where="stack_info")

    version, info = tensorflow(dict(INTEL, cpu_flags=["sse4_2"]))
    assert version == "2.3.0" and any("accidentally built on avx2" in m for m in info)
    assert tensorflow(dict(INTEL, cpu_flags=["avx2", "sse4_2"]))[0] == "2.4.0"
    assert tensorflow({})[0] == "2.4.0"  # flags of an unknown CPU are not guessed
    # No CUDA in the runtime environment: the CPU-only hint of the sample fires (cuda_version: null).
    assert any("Use 'tensorflow-cpu' instead of 'tensorflow'" in m for m in info)


def _sample_unit(tmp_cache_dir, **context):
    from adviser.prescriptions.compiled import KnowledgeBase
    from adviser.prescriptions.context import Context
    from adviser.prescriptions.evaluator import PrescriptionUnit

    kb = KnowledgeBase(compiled(tmp_cache_dir, SAMPLE))
    return PrescriptionUnit(kb, Context(**{"recommendation_type": "stable", **context}))


def test_sample_boots_follow_the_documented_meanings(tmp_cache_dir):
    gpu_without_cuda = _sample_unit(tmp_cache_dir, gpu_model="A100", versions={"python_version": "3.11"})
    gpu_without_cuda.run_boots(set())
    texts = [i["message"] for i in gpu_without_cuda.fired_stack_info]
    assert any("A GPU is available but no CUDA is installed" in m for m in texts)
    links = {i["link"] for i in gpu_without_cuda.fired_stack_info}
    assert "https://thoth-station.ninja/j/gpu_no_cuda" in links
    with_cuda = _sample_unit(tmp_cache_dir, gpu_model="A100", versions={"python_version": "3.11", "cuda_version": "11.8"})
    with_cuda.run_boots(set())
    assert not any("no CUDA" in i["message"] for i in with_cuda.fired_stack_info)
    image = _sample_unit(tmp_cache_dir, base_image="quay.io/thoth-station/ps-cv-ocr:v0.1.1")
    image.run_boots({"pillow"})
    texts = [i["message"] for i in image.fired_stack_info]
    assert any("has a size of 1.37GiB" in m for m in texts) and not any("Consider using" in m for m in texts)
    elsewhere = _sample_unit(tmp_cache_dir, base_image="registry.example/other:1")
    elsewhere.run_boots({"pillow"})
    assert any("prepared environment with 'pillow'" in i["message"] for i in elsewhere.fired_stack_info)


def test_sample_hardware_entries_or_ed_and_the_label_sieve_opted_in(tmp_cache_dir):
    def wraps(**context):
        unit = _sample_unit(tmp_cache_dir, **context)
        return {u["name"] for u in unit.globals}

    python36 = {"versions": {"python_version": "3.6"}, "os_name": "rhel", "os_version": "8.2", "cpu_model": 6}
    assert "thoth.NoSemanticInterpositionWrap" in wraps(cpu_family=13, **python36)
    assert "thoth.NoSemanticInterpositionWrap" in wraps(cpu_family=10, **python36)
    assert "thoth.NoSemanticInterpositionWrap" not in wraps(cpu_family=6, **python36)
    assert "thoth.PyPIIndexSieve" in wraps(labels={"pypi-index": "solely"})
    assert "thoth.PyPIIndexSieve" not in wraps()
    assert "thoth.RecommendationTypeStableWrap" in wraps() and "thoth.RecommendationTypeLatestWrap" not in wraps()
