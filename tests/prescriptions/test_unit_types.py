"""Each unit type applied by the adviser on a local index, with prescriptions written for the tests:
its documented effect when it matches, and nothing when it does not."""

from __future__ import annotations

import pytest

from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run
from tests.prescriptions.support import compiled, write_repository
from tests.support.index_server import Dist

DISTS = [
    Dist("app", "1.0", requires_dist=("dep", "helper")),
    Dist("dep", "1.0"),
    Dist("dep", "2.0", requires_dist=("leaf",)),
    Dist("dep", "3.0", requires_dist=("leaf",)),
    Dist("dep", "3.1rc1", requires_dist=("leaf",)),
    Dist("helper", "1.0", requires_dist=("dep",)),
    Dist("leaf", "1.0"),
    Dist("extra", "1.0"),
    Dist("extra", "2.0"),
    Dist("lone", "1.0"),
]
ADVISER = "should_include:\n      adviser_pipeline: true\n"


def unit(section: str, text: str) -> str:
    return f"units:\n  {section}:\n" + "\n".join("  " + line if line else line for line in text.splitlines()) + "\n"


@pytest.fixture
def advise(package_index, tmp_path, tmp_cache_dir):
    index = package_index(DISTS)
    counter = iter(range(1000))

    def go(files: dict[str, str], packages: str = 'app = "*"', **options):
        repository = write_repository(tmp_path / f"repo{next(counter)}", files, name="team")
        settings = {"prescriptions": compiled(tmp_cache_dir, repository), **options.pop("settings", {})}
        return run(pipfile([("main", index.url)], packages), tmp_cache_dir, settings=settings, **options)

    go.index = index
    return go


def test_boot_fires_for_a_direct_dependency_only(advise):
    boot = unit("boots", f"""- name: AppBoot
  type: boot
  {ADVISER}  match:
    package_name: app
  run:
    stack_info:
    - {{type: INFO, message: app is direct, link: app_boot}}
    log: {{type: INFO, message: app seen}}""")
    assert "app is direct" in messages(advise({"a.yaml": boot}), where="stack_info")
    assert "app is direct" not in messages(advise({"a.yaml": boot.replace("app\n", "leaf\n", 1)}), where="stack_info")
    document = advise({"a.yaml": boot}, packages='lone = "*"')
    assert "app is direct" not in messages(document, where="stack_info")


def test_boot_not_acceptable_and_eager_stop_end_the_request(advise):
    refusing = unit("boots", f"""- name: NoAppBoot
  type: boot
  {ADVISER}  match: {{package_name: app}}
  run:
    stack_info: [{{type: ERROR, message: app is banned here}}]
    not_acceptable: app is banned here""")
    document = advise({"a.yaml": refusing})
    assert document["error"] is True
    assert "Prescription team.NoAppBoot does not accept this request: app is banned here" in document["error_msg"]
    assert "app is banned here" in [i["message"] for i in document["report"]["stack_info"]]
    stopping = refusing.replace("not_acceptable", "eager_stop_pipeline")
    assert "team.NoAppBoot stopped the request" in advise({"a.yaml": stopping})["error_msg"]


def test_sieve_removes_matching_versions_prereleases_included(advise):
    sieve = unit("sieves", f"""- name: NoDep3Sieve
  type: sieve
  {ADVISER}  match:
    package_version: {{name: dep, version: ">=3.0"}}
  run:
    stack_info: [{{type: WARNING, message: dep 3 is broken}}]""")
    document = advise({"s.yaml": sieve}, packages='dep = ">=2.0"', allow_prereleases=True)
    assert locked_versions(document)["dep"] == "2.0"
    assert any("dep 3.1rc1 removed" in m or "dep 3.0 removed" in m for m in messages(document))
    assert locked_versions(advise({"s.yaml": sieve.replace(">=3.0", "==9.0")}))["dep"] == "3.0"


def test_sieve_index_url_is_compared_normalised_and_not_inverts(advise):
    url = advise.index.url  # ends with a slash; the unit's does not, and its scheme is in capitals
    written = url.rstrip("/").replace("http://", "HTTP://")
    sieve = unit("sieves", f"""- name: MainIndexSieve
  type: sieve
  {ADVISER}  match:
    package_version: {{name: dep, version: "==3.0", index_url: "{written}"}}
  run: {{}}""")
    assert locked_versions(advise({"s.yaml": sieve}))["dep"] == "2.0"
    negated = sieve.replace(f'index_url: "{written}"', f'index_url: {{not: "{url}"}}')
    assert locked_versions(advise({"s.yaml": negated}))["dep"] == "3.0"


def test_sieve_skip_package_leaves_out_the_package_and_what_it_brings(advise):
    skip = unit("sieves", f"""- name: NoDepSkip
  type: sieve.SkipPackage
  {ADVISER}  match: {{package_name: dep}}
  run: {{}}""")
    versions = locked_versions(advise({"s.yaml": skip}))
    assert "dep" not in versions and "leaf" not in versions and versions["helper"] == "1.0"
    assert "dep" in locked_versions(advise({"s.yaml": skip.replace("name: dep", "name: lone")}))


def test_step_score_orders_versions(advise):
    score = unit("steps", f"""- name: PreferDep1Step
  type: step
  {ADVISER}  match:
    package_version: {{name: dep, version: "==1.0"}}
  run:
    score: 0.2""")
    document = advise({"s.yaml": score})
    assert locked_versions(document)["dep"] == "1.0"
    assert any("dep 1.0 scored +0.2 (prescription team.PreferDep1Step)" in m for m in messages(document))
    lower = score.replace("==1.0", "==3.0").replace("0.2", "-0.1")
    assert locked_versions(advise({"s.yaml": lower}))["dep"] == "2.0"
    assert locked_versions(advise({"s.yaml": lower.replace("==3.0", "==7.0")}))["dep"] == "3.0"


def test_step_not_acceptable_backtracks_and_justification_attaches(advise):
    step = unit("steps", f"""- name: Dep3WithAppStep
  type: step
  {ADVISER}  match:
    package_version: {{name: dep, version: ">=3.0"}}
    state:
      resolved_dependencies:
      - {{name: app, version: "==1.0"}}
  run:
    stack_info: [{{type: WARNING, message: dep 3 breaks app 1.0}}]
    not_acceptable: dep 3 breaks app 1.0""")
    document = advise({"s.yaml": step})
    assert locked_versions(document)["dep"] == "2.0"
    assert any("dep 3.0 not used with app 1.0: dep 3 breaks app 1.0 (prescription team.Dep3WithAppStep)" in m
               for m in messages(document))
    assert locked_versions(advise({"s.yaml": step.replace("==1.0", "==0.5")}))["dep"] == "3.0"
    stopping = step.replace("not_acceptable:", "eager_stop_pipeline:")
    assert locked_versions(advise({"s.yaml": stopping}))["dep"] == "2.0"  # this resolver rejects the candidate
    informing = unit("steps", f"""- name: DepNoteStep
  type: step
  {ADVISER}  match:
    package_version: {{name: dep}}
  run:
    justification: [{{type: INFO, message: dep is watched, link: dep_watch}}]""")
    notes = [i for i in product(advise({"s.yaml": informing}))["justification"] if i["message"] == "dep is watched"]
    assert notes == [{"type": "INFO", "message": "dep is watched", "link": "https://thoth-station.ninja/j/dep_watch",
                      "package_name": "dep"}]


def test_step_group_forbids_the_combination_whatever_the_order(advise):
    group = unit("steps", f"""- name: LeafDep3Group
  type: step.Group
  {ADVISER}  match:
    group:
    - package_version: {{name: leaf, version: "==1.0"}}
    - package_version: {{name: dep, version: ">=3.0"}}
  run:
    not_acceptable: leaf 1.0 and dep 3 do not mix""")
    assert locked_versions(advise({"g.yaml": group}))["dep"] == "2.0"
    assert locked_versions(advise({"g.yaml": group}, packages='leaf = "*"\ndep = ">=2.0"'))["dep"] == "2.0"
    assert locked_versions(advise({"g.yaml": group.replace("==1.0", "==2.0")}))["dep"] == "3.0"


def test_step_skip_package_with_package_version_from(advise):
    skip = unit("steps", f"""- name: DepFromAppSkip
  type: step.SkipPackage
  {ADVISER}  match:
    package_version: {{name: dep}}
    state:
      package_version_from:
      - {{name: app}}
  run: {{}}""")
    # dep is also introduced by helper: "no other introducer" keeps it.
    assert "dep" in locked_versions(advise({"s.yaml": skip}))
    allowed = skip.replace("state:\n", "state:\n        package_version_from_allow_other: true\n")
    document = advise({"s.yaml": allowed})
    assert "dep" not in locked_versions(document) and locked_versions(document)["helper"] == "1.0"
    assert any("dep (a dependency of app 1.0) left out" in m and "team.DepFromAppSkip" in m for m in messages(document))
    assert "dep" in locked_versions(advise({"s.yaml": allowed}, packages='helper = "*"'))


def test_step_add_package_adds_an_exact_package(advise):
    add = unit("steps", f"""- name: AddExtraStep
  type: step.AddPackage
  {ADVISER}  match:
    package_version: {{name: helper}}
  run:
    package_version: {{name: extra, locked_version: ==1.0, index_url: "{advise.index.url}", develop: false}}""")
    document = advise({"s.yaml": add})
    assert locked_versions(document)["extra"] == "1.0"
    assert any("extra==1.0 added next to helper 1.0" in m for m in messages(document))
    assert "extra" not in locked_versions(advise({"s.yaml": add}, packages='lone = "*"'))


def test_stride_rejects_the_final_stack(advise):
    stride = unit("strides", f"""- name: NoLeafStride
  type: stride
  {ADVISER}  match:
    state:
      resolved_dependencies: [{{name: leaf}}]
  run:
    not_acceptable: stacks with leaf are not accepted here""")
    document = advise({"s.yaml": stride})
    assert document["error"] is True
    assert "team.NoLeafStride rejects the resolved stack: stacks with leaf are not accepted here" in document["error_msg"]
    assert advise({"s.yaml": stride}, packages='lone = "*"')["error"] is False


def test_wraps_add_justification_and_manifest_changes(advise):
    wraps = unit("wraps", f"""- name: DepWrap
  type: wrap
  {ADVISER}  match:
    state:
      resolved_dependencies: [{{name: dep, version: ">=3"}}]
  run:
    justification: [{{type: INFO, message: dep 3 needs DEP_MODE, package_name: dep}}]
    advised_manifest_changes:
    - apiVersion: apps/v1
      kind: Deployment
      patch: {{op: add, path: /spec/template/spec/containers/0/env/0, value: {{name: DEP_MODE, value: "3"}}}}
- name: EveryStackWrap
  type: wrap
  {ADVISER}  run:
    justification: [{{type: INFO, message: reviewed by the platform team}}]
- name: DepNotes
  type: wrap.GHReleaseNotes
  {ADVISER}  match:
    state:
      resolved_dependencies: {{name: dep}}
  run:
    release_notes: {{organization: example, repository: dep, tag_version_prefix: v}}""")
    result = product(advise({"w.yaml": wraps}))
    texts = [i["message"] for i in result["justification"]]
    assert "dep 3 needs DEP_MODE" in texts and "reviewed by the platform team" in texts
    assert result["advised_manifest_changes"][0]["patch"]["value"] == {"name": "DEP_MODE", "value": "3"}
    notes = [i for i in result["justification"] if i["message"] == "Release notes for dep 3.0 are available on GitHub"]
    assert notes[0]["link"] == "https://github.com/example/dep/releases/tag/v3.0"
    older = product(advise({"w.yaml": wraps}, packages='dep = "<3"'))
    assert older["advised_manifest_changes"] == [] and "dep 3 needs DEP_MODE" not in [
        i["message"] for i in older["justification"]]


def test_pseudonym_names_the_alternative(advise):
    pseudonym = unit("pseudonyms", f"""- name: DepLonePseudonym
  type: pseudonym
  {ADVISER}  match:
    package_version: {{name: dep, version: ">=2"}}
  run:
    yield:
      yield_matched_version: true
      package_version: {{name: lone}}""")
    texts = messages(advise({"p.yaml": pseudonym}))
    assert any(m.startswith("lone 3.0 is an alternative to dep 3.0 (prescription team.DepLonePseudonym)") for m in texts)
    texts = messages(advise({"p.yaml": pseudonym}, packages='dep = "<2"'))
    assert not any("is an alternative" in m for m in texts)
    locked = pseudonym.replace("yield_matched_version: true", "yield_matched_version: false").replace(
        "{name: lone}", "{name: lone, locked_version: ==1.0}")
    assert any(m.startswith("lone 1.0 is an alternative to dep 3.0") for m in messages(advise({"p.yaml": locked})))


def test_labels_opt_in_a_sieve_without_pipeline_flags(advise):
    sieve = unit("sieves", """- name: LabelledSieve
  type: sieve
  should_include:
    labels: {dep-channel: old}
  match:
    package_version: {name: dep, version: ">=2"}
  run: {}""")
    assert locked_versions(advise({"s.yaml": sieve}, labels={"dep-channel": "old"}))["dep"] == "1.0"
    assert locked_versions(advise({"s.yaml": sieve}, labels={"dep-channel": "new"}))["dep"] == "3.0"
    document = advise({"s.yaml": sieve})
    assert locked_versions(document)["dep"] == "3.0"
    assert "Prescriptions team release 1.0 consulted (none of its units applied)" in messages(document, where="stack_info")


def test_library_usage_reaches_should_include(advise):
    wrap = unit("wraps", """- name: DepSubWrap
  type: wrap
  should_include:
    adviser_pipeline: true
    library_usage:
      dep: [dep.sub.*]
  run:
    justification: [{type: INFO, message: dep.sub is deprecated, package_name: dep}]""")
    used = {"report": {"dep": ["dep.other", "dep.sub.call"]}, "version": "0.2.0"}
    assert "dep.sub is deprecated" in messages(advise({"w.yaml": wrap}, library_usage=used))
    unused = {"report": {"dep": ["dep.other"]}}
    assert "dep.sub is deprecated" not in messages(advise({"w.yaml": wrap}, library_usage=unused))
    assert "dep.sub is deprecated" not in messages(advise({"w.yaml": wrap}))


def test_a_unit_denied_by_name_is_reported_and_does_nothing(advise):
    sieve = unit("sieves", f"""- name: NoDep3Sieve
  type: sieve
  {ADVISER}  match:
    package_version: {{name: dep, version: "==3.0"}}
  run: {{}}""")
    document = advise({"s.yaml": sieve}, settings={"prescriptions_denied": {"team.NoDep3Sieve": "not for us"}})
    assert locked_versions(document)["dep"] == "3.0"
    assert "Prescription team.NoDep3Sieve disabled by the server: not for us" in messages(document, where="stack_info")
