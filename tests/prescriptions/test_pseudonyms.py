"""Pseudonyms on a local index: the yielded package competes with the matched one for the same
requirement; when it is taken, the lock, the graph and the justification name it instead."""

from __future__ import annotations

import pytest

from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run
from tests.prescriptions.support import compiled, write_repository
from tests.support.index_server import Dist

DISTS = [
    Dist("app", "1.0", requires_dist=("tf",)),
    Dist("capp", "1.0", requires_dist=('tf; sys_platform == "linux"',)),
    Dist("tf", "1.0", requires_dist=("leaf",)),
    Dist("tf", "2.0", requires_dist=("leaf",)),
    Dist("itf", "1.0", requires_dist=("ileaf",)),
    Dist("itf", "2.0", requires_dist=("ileaf",)),
    Dist("itf", "3.0", requires_dist=("ileaf",)),
    Dist("leaf", "1.0"),
    Dist("ileaf", "1.0"),
]
MIRROR = [Dist("itf", "2.0", requires_dist=("ileaf",))]
ADVISER = "should_include:\n      adviser_pipeline: true\n"


def pseudonym(yielded: str = "yield_matched_version: true\n        package_version: {name: itf}",
              version: str = ">=1") -> str:
    return f"""units:
  pseudonyms:
  - name: TfPseudonym
    type: pseudonym
    {ADVISER}    match:
      package_version: {{name: tf, version: "{version}"}}
    run:
      yield:
        {yielded}
      stack_info: [{{type: INFO, message: itf is tf built for this CPU, link: "https://example.invalid/itf"}}]
"""


PREFER_ITF = f"""units:
  steps:
  - name: PreferItfStep
    type: step
    {ADVISER}    match:
      package_version: {{name: itf}}
    run:
      score: 0.5
"""
SIEVE_TF = f"""units:
  sieves:
  - name: NoTfSieve
    type: sieve
    {ADVISER}    match:
      package_version: {{name: tf}}
    run: {{}}
"""


@pytest.fixture
def advise(package_index, tmp_path, tmp_cache_dir):
    main = package_index(DISTS)
    mirror = package_index(MIRROR, name="mirror")
    counter = iter(range(1000))

    def go(files: dict[str, str], packages: str = 'tf = "*"', **options):
        repository = write_repository(tmp_path / f"repo{next(counter)}", files, name="team")
        settings = {"prescriptions": compiled(tmp_cache_dir, repository)}
        sources = [("main", main.url), ("mirror", mirror.url)]
        return run(pipfile(sources, packages), tmp_cache_dir, settings=settings, **options)

    go.main, go.mirror = main, mirror
    return go


def lock(document: dict) -> dict:
    return product(document)["project"]["requirements_locked"]["default"]


def test_the_alternative_is_offered_but_the_package_stays_first_by_default(advise):
    document = advise({"p.yaml": pseudonym()})
    assert locked_versions(document) == {"tf": "2.0", "leaf": "1.0"}
    assert ("itf 2.0 is an alternative to tf 2.0 (prescription team.TfPseudonym); it was offered and tf 2.0 "
            "was preferred") in messages(document)
    unmatched = advise({"p.yaml": pseudonym(version="<1")}, packages='tf = "*"')
    assert not any("alternative" in m for m in messages(unmatched))


def test_a_step_scoring_the_alternative_swaps_the_package(advise):
    document = advise({"p.yaml": pseudonym(), "s.yaml": PREFER_ITF}, packages='app = "*"')
    entries = lock(document)
    assert set(entries) == {"app", "itf", "ileaf"}  # tf and what it brings are gone, itf's are there
    assert entries["itf"]["version"] == "==2.0" and entries["itf"]["index"] == "main"
    assert entries["itf"]["hashes"] and all(h.startswith("sha256:") for h in entries["itf"]["hashes"])
    justification = product(document)["justification"]
    swap = [i for i in justification if i["message"] == "tf 2.0 replaced by itf 2.0 (prescription team.TfPseudonym)"]
    assert swap and swap[0]["package_name"] == "itf" and swap[0]["link"] == "https://example.invalid/itf"
    graph = product(document)["dependency_graph"]
    nodes = graph["nodes"]
    assert sorted(nodes) == ["app", "ileaf", "itf"]
    edges = {(nodes[a], nodes[b]) for a, b in graph["edges"]}
    assert edges == {("app", "itf"), ("itf", "ileaf")}
    assert "itf is tf built for this CPU" in messages(document, where="stack_info")


def test_the_alternative_wins_when_the_package_is_sieved_out(advise):
    document = advise({"p.yaml": pseudonym(), "s.yaml": SIEVE_TF})
    assert locked_versions(document) == {"itf": "2.0", "ileaf": "1.0"}
    assert "tf 2.0 replaced by itf 2.0 (prescription team.TfPseudonym)" in messages(document)
    assert advise({"s.yaml": SIEVE_TF})["error"] is True  # without the pseudonym nothing fits


def test_matched_locked_or_every_version(advise):
    both = {"s.yaml": PREFER_ITF}
    assert locked_versions(advise({"p.yaml": pseudonym(), **both}))["itf"] == "2.0"
    assert locked_versions(advise({"p.yaml": pseudonym(), **both}, packages='tf = "<2"'))["itf"] == "1.0"
    locked = "yield_matched_version: false\n        package_version: {name: itf, locked_version: ==1.0}"
    document = advise({"p.yaml": pseudonym(locked), **both})
    assert locked_versions(document)["itf"] == "1.0"
    assert "tf 2.0 replaced by itf 1.0 (prescription team.TfPseudonym)" in messages(document)
    every = "package_version: {name: itf}"
    document = advise({"p.yaml": pseudonym(every), **both}, packages='tf = "==1.0"')
    assert locked_versions(document)["itf"] == "3.0"  # any version of itf stands in for tf 1.0
    assert "tf 1.0 replaced by itf 3.0 (prescription team.TfPseudonym)" in messages(document)


def test_index_url_restricts_where_the_alternative_comes_from(advise):
    mirror_url = advise.mirror.url.rstrip("/")
    on_mirror = f"package_version: {{name: itf, index_url: \"{mirror_url}\"}}"
    document = advise({"p.yaml": pseudonym(on_mirror), "s.yaml": PREFER_ITF})
    assert locked_versions(document)["itf"] == "2.0"  # the mirror only has 2.0
    assert lock(document)["itf"]["index"] == "mirror"
    nowhere = "package_version: {name: itf, index_url: \"http://127.0.0.1:9/simple\"}"
    assert "tf" in locked_versions(advise({"p.yaml": pseudonym(nowhere), "s.yaml": PREFER_ITF}))


def test_a_requirement_on_the_alternative_itself_must_agree(advise):
    # itf is also wanted as itself at 1.0: the swap must take the same itf, so tf 1.0 is swapped.
    document = advise({"p.yaml": pseudonym(), "s.yaml": PREFER_ITF}, packages='tf = "*"\nitf = "==1.0"')
    assert locked_versions(document) == {"itf": "1.0", "ileaf": "1.0"}
    assert "tf 1.0 replaced by itf 1.0 (prescription team.TfPseudonym)" in messages(document)


def test_a_conflict_through_a_stand_in_is_explained(advise):
    document = advise({"p.yaml": pseudonym(), "s.yaml": SIEVE_TF}, packages='tf = "*"\nitf = "==3.0"')
    assert document["error"] is True
    message = document["error_msg"]
    assert "the application requires itf==3.0" in message
    assert "itf 2.0 (standing in for tf 2.0) depends on itf==2.0" in message
    assert "itf 1.0 (standing in for tf 1.0) depends on itf==1.0" in message


def test_the_stand_in_carries_the_markers_of_the_requirement_it_meets(advise):
    document = advise({"p.yaml": pseudonym(), "s.yaml": PREFER_ITF}, packages='capp = "*"')
    entries = lock(document)
    assert set(entries) == {"capp", "itf", "ileaf"}
    assert entries["itf"]["markers"] == 'sys_platform == "linux"'
    assert entries["ileaf"]["markers"] == 'sys_platform == "linux"'
    assert "markers" not in entries["capp"]
