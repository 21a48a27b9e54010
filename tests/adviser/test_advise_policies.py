"""Recommendation types on purpose-built data: upload times, classifiers, wheels and advisories."""

import pytest

from tests.adviser.engine_support import LINUX_311, ago, locked_versions, messages, pipfile, product, run
from tests.support.index_server import Dist

ALPHA = ("Development Status :: 3 - Alpha",)
STABLE = ("Development Status :: 5 - Production/Stable",)
MANYLINUX = "cp311-cp311-manylinux_2_17_x86_64"


@pytest.fixture
def policy_index(package_index):
    return package_index(
        [
            # "timely": 1.0 old and stable, 1.1 old but Alpha, 1.2 three days old, 1.3 two hours old.
            Dist("timely", "1.0", upload_time=ago(days=90), classifiers=STABLE),
            Dist("timely", "1.1", upload_time=ago(days=30), classifiers=ALPHA),
            Dist("timely", "1.2", upload_time=ago(days=3), classifiers=STABLE),
            Dist("timely", "1.3", upload_time=ago(hours=2), classifiers=STABLE),
            # "speedy": the newest release has only a pure wheel, the one before a binary wheel too.
            Dist("speedy", "1.9", wheel_tags=("py3-none-any", MANYLINUX), upload_time=ago(days=60)),
            Dist("speedy", "2.0", upload_time=ago(days=30)),
            # "sourcey": only sdists, so stable cannot meet its wheel rule.
            Dist("sourcey", "1.0", wheel=False, upload_time=ago(days=60)),
            Dist("sourcey", "1.1", wheel=False, upload_time=ago(days=50)),
        ]
    )


ADVISORY = """id: PYSEC-9999-1
summary: timely 1.3 leaks secrets
affected:
- package:
    name: timely
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: '1.3'
references:
- type: ADVISORY
  url: https://advisories.invalid/PYSEC-9999-1
aliases:
- CVE-9999-0001
modified: '2025-01-01T00:00:00Z'
"""

EVERYWHERE = ADVISORY.replace("PYSEC-9999-1", "PYSEC-9999-2").replace("introduced: '1.3'", "introduced: '0'")


@pytest.fixture
def advisory_db(tmp_path):
    root = tmp_path / "osv"
    (root / "timely").mkdir(parents=True)
    (root / "timely" / "PYSEC-9999-1.yaml").write_text(ADVISORY)
    return root


def resolve(index, cache, kind, package="timely", **extra):
    return run(pipfile([("main", index.url)], f'{package} = "*"'), cache, recommendation_type=kind, **extra)


@pytest.mark.parametrize(
    ("kind", "expected"), [("latest", "1.3"), ("testing", "1.2"), ("stable", "1.0"), ("performance", "1.3")]
)
def test_types_pick_by_their_rules(policy_index, tmp_cache_dir, kind, expected):
    document = resolve(policy_index, tmp_cache_dir, kind)
    assert locked_versions(document) == {"timely": expected}
    stack_info = " ".join(messages(document, where="stack_info"))
    assert f"Recommendation type {kind}" in stack_info
    assert product(document)["score"] == 1.0


def test_performance_prefers_a_binary_wheel_and_stable_falls_back_with_a_warning(policy_index, tmp_cache_dir):
    assert locked_versions(resolve(policy_index, tmp_cache_dir, "performance", "speedy")) == {"speedy": "1.9"}
    assert locked_versions(resolve(policy_index, tmp_cache_dir, "latest", "speedy")) == {"speedy": "2.0"}
    stable = resolve(policy_index, tmp_cache_dir, "stable", "sourcey")
    assert locked_versions(stable) == {"sourcey": "1.1"}
    assert any("no wheel for the target" in m for m in messages(stable, "WARNING"))
    assert product(stable)["score"] == 0.0


def test_advisories_steer_security_and_warn_elsewhere(policy_index, tmp_cache_dir, advisory_db):
    settings = {"advisory_db": advisory_db}
    security = resolve(policy_index, tmp_cache_dir, "security", settings=settings)
    assert locked_versions(security) == {"timely": "1.2"}
    assert "1 documents for 1 packages" in " ".join(messages(security, where="stack_info"))
    latest = resolve(policy_index, tmp_cache_dir, "latest", settings=settings)
    assert locked_versions(latest) == {"timely": "1.3"}
    warnings = [i for i in product(latest)["justification"] if i["type"] == "WARNING"]
    assert any(
        "PYSEC-9999-1" in i["message"] and i["link"] == "https://advisories.invalid/PYSEC-9999-1"
        for i in warnings
    )


def test_allow_cve_label_lets_a_named_advisory_through(policy_index, tmp_cache_dir, advisory_db):
    document = resolve(
        policy_index,
        tmp_cache_dir,
        "security",
        settings={"advisory_db": advisory_db},
        labels={"allow-cve": "CVE-9999-0001"},
    )
    assert locked_versions(document) == {"timely": "1.3"}
    assert any("allow-cve" in m and "PYSEC-9999-1" in m for m in messages(document, "INFO"))
    assert "allow-cve=CVE-9999-0001" in " ".join(messages(document, where="stack_info"))


def test_security_falls_back_with_an_error_when_every_version_is_affected(
    policy_index, tmp_cache_dir, advisory_db
):
    (advisory_db / "timely" / "PYSEC-9999-2.yaml").write_text(EVERYWHERE)
    document = resolve(policy_index, tmp_cache_dir, "security", settings={"advisory_db": advisory_db})
    assert document["error"] is False
    assert locked_versions(document) == {"timely": "1.3"}
    errors = messages(document, "ERROR")
    assert any("PYSEC-9999-2" in m for m in errors)


def test_performance_notes_the_cuda_build_for_cuda_aware_packages(package_index, tmp_cache_dir):
    index = package_index([Dist("torch", "2.0", wheel_tags=(MANYLINUX,), sdist=False)])
    runtime = {"platform": "linux-x86_64", "python_version": "3.11", "cuda_version": "12.1"}
    document = run(
        pipfile([("main", index.url)], 'torch = "*"'),
        tmp_cache_dir,
        runtime=runtime,
        recommendation_type="performance",
    )
    notes = [m for m in messages(document, "INFO") if "CUDA 12.1" in m]
    assert notes and "torch-2.0-cp311-cp311-manylinux_2_17_x86_64.whl" in notes[0]
    assert "Target CUDA version 12.1" in " ".join(messages(document, where="stack_info"))


@pytest.mark.parametrize(
    ("explicit", "configured", "planned"),
    [
        ("security", "latest", "security"),  # the request names it: it wins
        ("None", "latest", "latest"),  # 1.x's literal None is no choice: .thoth.yaml's applies
        (None, " Testing ", "testing"),
        ("", None, "stable"),  # neither: the default
    ],
)
def test_recommendation_type_is_planned_once(policy_index, tmp_cache_dir, explicit, configured, planned):
    from adviser.policies import planned_recommendation_type

    runtime = {**LINUX_311, "recommendation_type": configured}
    assert planned_recommendation_type(explicit, runtime) == planned
    document = run(
        pipfile([("main", policy_index.url)], 'timely = "*"'),
        tmp_cache_dir,
        runtime=runtime,
        recommendation_type=explicit,
    )
    assert document["parameters"]["recommendation_type"] == planned
    assert document["report"]["pipeline"]["recommendation_type"] == planned
