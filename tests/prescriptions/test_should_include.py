"""``should_include``: each key, positive and negative, with the documented meanings (``null``
versions mean absent, hardware entries OR-ed, any used symbol matches), and ``dependencies``
between units resolved through the knowledge base."""

from __future__ import annotations

from dataclasses import replace

import pytest

from adviser.prescriptions.context import Context, context_for, library_usage_of, should_include
from adviser.prescriptions.evaluator import PrescriptionUnit
from adviser.prescriptions.schema import UnitError, check_unit
from tests.prescriptions.support import knowledge, write_repository

BASE = Context(recommendation_type="stable", versions={"python_version": "3.11", "cuda_version": None})


def rules(text: dict) -> dict:
    """The compiled should_include of a wrap with these rules (validated like a loaded unit)."""
    return check_unit("wraps", {"name": "W", "type": "wrap", "should_include": text, "run": {}}, [])["should_include"]


def included(text: dict, context: Context = BASE, others: dict | None = None) -> bool:
    return should_include(rules(text), context, lambda name: (others or {}).get(name, False))


ADVISER = {"adviser_pipeline": True}


def test_pipelines_and_types():
    assert not included({}) and included(ADVISER)
    assert not included({**ADVISER, "times": 0})
    assert included({**ADVISER, "recommendation_types": ["stable", "latest"]})
    assert not included({**ADVISER, "recommendation_types": ["latest"]})
    assert not included({**ADVISER, "recommendation_types": {"not": ["stable"]}})
    monkey = replace(BASE, recommendation_type=None, decision_type="random")
    assert not included(ADVISER, monkey)
    assert included({"dependency_monkey_pipeline": True, "decision_types": ["random"]}, monkey)
    assert not included({"dependency_monkey_pipeline": True, "decision_types": {"not": ["random"]}}, monkey)
    with pytest.raises(UnitError, match="recommendation_types\\[0\\]: 'fast' is not one of"):
        rules({"recommendation_types": ["fast"]})


def test_authenticated_labels_and_library_usage():
    assert included({**ADVISER, "authenticated": False}) and not included({**ADVISER, "authenticated": True})
    assert included({**ADVISER, "authenticated": True}, replace(BASE, authenticated=True))
    labelled = replace(BASE, labels={"team": "ml", "tier": "gold"})
    assert included({**ADVISER, "labels": {"team": "web", "tier": "gold"}}, labelled)  # any pair
    assert not included({**ADVISER, "labels": {"team": "web"}}, labelled)
    assert not included({**ADVISER, "labels": {"team": "ml"}})
    usage = replace(BASE, library_usage=library_usage_of({"report": {"numpy": ["numpy.linalg.inv", "numpy.random.seed"]}}))
    assert included({**ADVISER, "library_usage": {"numpy": ["numpy.random.*"]}}, usage)  # not only the first symbol
    assert included({**ADVISER, "library_usage": {"numpy": ["numpy.linalg.inv"]}}, usage)
    assert not included({**ADVISER, "library_usage": {"numpy": ["numpy.fft.*"]}}, usage)
    assert not included({**ADVISER, "library_usage": {"numpy": ["numpy.random.*"], "scipy": ["scipy.*"]}}, usage)
    assert not included({**ADVISER, "library_usage": {"numpy": ["numpy.random.*"]}})
    assert library_usage_of({"numpy": ["numpy.array"]}) == {"numpy": ["numpy.array"]}  # sent bare


def environment(**rules_) -> dict:
    return {**ADVISER, "runtime_environments": rules_}


def test_versions_null_means_absent_and_specifiers_need_a_value():
    cuda = replace(BASE, versions={"python_version": "3.11", "cuda_version": "11.8"})
    assert included(environment(cuda_version=None)) and not included(environment(cuda_version=None), cuda)
    assert included(environment(cuda_version=">=0.0"), cuda) and not included(environment(cuda_version=">=0.0"))
    assert included(environment(cuda_version="==11.8"), cuda) and not included(environment(cuda_version="==11.1"), cuda)
    assert included(environment(python_version=">=3.10")) and not included(environment(python_version="==3.6"))
    assert not included(environment(cudnn_version=">=8"))


def test_operating_systems_platforms_and_base_images():
    rhel = replace(BASE, os_name="rhel", os_version="8.2", platform="linux-x86_64", base_image="quay.io/org/img:v1.2")
    assert included(environment(operating_systems=[{"name": "fedora"}, {"name": "rhel", "version": "8.2"}]), rhel)
    assert not included(environment(operating_systems=[{"name": "rhel", "version": "9"}]), rhel)
    assert included(environment(operating_systems=[{"version": "8.2"}]), rhel)
    assert included(environment(platforms=["linux-x86_64"]), rhel)
    assert not included(environment(platforms={"not": ["linux-x86_64"]}), rhel)
    assert included(environment(base_images=["quay.io/org/img"]), rhel)
    assert included(environment(base_images=["quay.io/org/img:v1.*"]), rhel)
    assert not included(environment(base_images=["quay.io/org/img:v2*"]), rhel)
    assert not included(environment(base_images=["quay.io/org/img:v1.3"]), rhel)
    assert not included(environment(base_images={"not": ["quay.io/org/img"]}), rhel)
    assert included(environment(base_images={"not": ["quay.io/org/img"]}))
    assert included(environment(base_images=[None])) and not included(environment(base_images=[None]), rhel)


def test_hardware_entries_are_or_ed_and_fields_and_ed():
    intel = replace(BASE, cpu_family=6, cpu_model=85, cpu_flags=frozenset({"avx2", "sse4_2"}), gpu_model=None)
    two = [{"cpu_families": [13], "cpu_models": [6]}, {"cpu_families": [6], "cpu_models": [85]}]
    assert included(environment(hardware=two), intel)
    assert not included(environment(hardware=[{"cpu_families": [6], "cpu_models": [1]}]), intel)
    assert included(environment(hardware=[{"cpu_flags": ["avx2"]}]), intel)
    assert not included(environment(hardware=[{"cpu_flags": ["avx512f"]}]), intel)
    assert included(environment(hardware=[{"cpu_flags": {"not": ["avx512f"]}}]), intel)
    assert not included(environment(hardware=[{"cpu_flags": {"not": ["avx2"]}}]), intel)
    assert not included(environment(hardware=[{"cpu_flags": {"not": ["avx2"]}}]))  # flags unknown: no verdict
    assert included(environment(hardware=[{"gpu_models": [None]}]), intel)
    assert not included(environment(hardware=[{"gpu_models": {"not": [None]}}]), intel)
    assert included(environment(hardware=[{"gpu_models": {"not": [None]}}]), replace(intel, gpu_model="A100"))


def test_abi_rpm_and_python_packages_of_the_base_image():
    image = replace(BASE, abi=frozenset({"GLIBC_2.28", "GLIBCXX_3.4"}),
                    rpm_packages=[{"package_name": "openssl", "arch": "x86_64", "epoch": None}],
                    python_packages=[{"name": "Flask", "version": "2.3.3", "location": "/opt/app-root/lib"}])
    assert included(environment(abi=["GLIBC_2.28"]), image) and not included(environment(abi=["GLIBC_2.34"]), image)
    assert included(environment(abi={"not": ["GLIBC_2.34"]}), image) and not included(environment(abi=["GLIBC_2.28"]))
    assert included(environment(rpm_packages=[{"package_name": "openssl", "arch": "x86_64"}]), image)
    assert not included(environment(rpm_packages=[{"package_name": "openssl", "arch": "aarch64"}]), image)
    assert not included(environment(rpm_packages={"not": [{"package_name": "openssl"}]}), image)
    flask = {"name": "flask", "version": ">1.0.0", "location": "^/opt/app-root/.*"}
    assert included(environment(python_packages=[flask]), image)
    assert not included(environment(python_packages=[dict(flask, location="^/usr/.*")]), image)
    assert not included(environment(python_packages={"not": [flask]}), image)
    assert not included(environment(python_packages=[flask]))


def test_context_from_a_request():
    context = context_for(
        {"labels": {"a": "b"}, "authenticated": True, "library_usage": {"report": {"x": ["x.y"]}, "version": "1"}},
        "performance",
        {"operating_system": {"name": "ubi", "version": "9"}, "cuda_version": "12.1", "base_image": "img:1",
         "hardware": {"cpu_family": "6", "cpu_model": 85, "cpu_flags": ["AVX2"]}, "platform": "linux-x86_64"},
        "3.11.4",
    )
    assert (context.os_name, context.cpu_family, context.cpu_flags, context.authenticated) == ("ubi", 6, frozenset({"avx2"}), True)
    assert context.versions["python_version"] == "3.11" and context.versions["cuda_version"] == "12.1"
    assert context.library_usage == {"x": ["x.y"]}


DEPENDENT = """
units:
  boots:
  - name: First
    type: boot
    should_include: {adviser_pipeline: true}
    run: {stack_info: [{type: INFO, message: first}], log: {type: WARNING, message: first fired}}
  - name: Second
    type: boot
    should_include: {adviser_pipeline: true, dependencies: {boots: [team.First]}}
    run: {stack_info: [{type: INFO, message: second}]}
  - name: Orphan
    type: boot
    should_include: {adviser_pipeline: true, dependencies: {boots: [team.Missing]}}
    run: {stack_info: [{type: INFO, message: orphan}]}
  - name: LoopA
    type: boot
    should_include: {adviser_pipeline: true, dependencies: {boots: [team.LoopB]}}
    run: {}
  - name: LoopB
    type: boot
    should_include: {adviser_pipeline: true, dependencies: {boots: [team.LoopA]}}
    run: {}
"""


def test_dependencies_between_units(tmp_path, tmp_cache_dir):
    kb = knowledge(tmp_cache_dir, write_repository(tmp_path / "team", {"b.yaml": DEPENDENT}))
    lines: list[str] = []
    unit = PrescriptionUnit(kb, BASE, log=lines.append)
    assert unit.run_boots(set()) is None
    assert [i["message"] for i in unit.fired_stack_info] == ["first", "second"]
    unit.run_boots(set())  # log and stack_info once per request
    assert lines == ["prescription team.First: WARNING: first fired"] and len(unit.fired_stack_info) == 2
    denied = PrescriptionUnit(kb, BASE, denied={"team.First": "no"})
    denied.run_boots(set())
    assert denied.fired_stack_info == []
    assert "Prescription team.First disabled by the server: no" in [i["message"] for i in denied.report_stack_info()]
