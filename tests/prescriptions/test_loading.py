"""Loading and compiling prescription repositories: the real sample, several namespaced
repositories, and bad ones reported by file, unit and key while the rest loads."""

from __future__ import annotations

import json
import os
import subprocess
import time

from adviser.prescriptions.compiled import KnowledgeBase, Source, compile_sources, index_path
from adviser.prescriptions.loader import load_tree
from adviser.prescriptions.sources import resolve_sources
from tests.prescriptions.support import SAMPLE, compiled, knowledge, write_repository

GOOD = """
units:
  wraps:
  - name: GoodWrap
    type: wrap
    should_include: {adviser_pipeline: true}
    run:
      justification: [{type: INFO, message: fine}]
"""


def _errors(root) -> list[str]:
    return [e for repository in load_tree(root) for e in repository.errors]


def test_the_sample_loads_whole_with_every_type_it_uses():
    (repository,) = load_tree(SAMPLE)
    assert (repository.name, repository.release, repository.errors) == ("thoth", "dev+git", [])
    assert repository.counts() == {"boot": 8, "pseudonym": 2, "sieve": 12, "sieve.SkipPackage": 1, "step": 3,
                                   "step.Group": 4, "step.SkipPackage": 1, "wrap": 101, "wrap.GHReleaseNotes": 1}
    by_name = {u["name"]: u for u in repository.units}
    # Anchors and merge keys: the sieve's stack_info is the step's.
    assert by_name["thoth.Jinja2300Flask100Sieve"]["run"]["stack_info"] == by_name["thoth.Jinja2300Flask100Step"]["run"]["stack_info"]
    assert by_name["thoth.TensorFlowRMSciPyStep"]["match"][0]["state"]["package_version_from"][0]["name"] == "tensorflow"
    assert "metadata" not in by_name["thoth.NumpyCVEWarningWrap"]  # timestamps in metadata are dropped
    assert by_name["thoth.GPUNoCUDABoot"]["should_include"]["runtime_environments"]["cuda_version"] is None


def test_bad_files_are_reported_by_file_unit_and_key_and_skipped(tmp_path):
    root = write_repository(tmp_path / "bad", {
        "a/invalid.yaml": "units:\n  wraps: [\n",
        "a/unknown_key.yaml": GOOD.replace("type: wrap", "type: wrap\n    colour: red"),
        "a/wrong_type.yaml": GOOD.replace("adviser_pipeline: true", "adviser_pipeline: 'yes'"),
        "a/bad_type.yaml": GOOD.replace("type: wrap", "type: step"),
        "a/duplicate.yaml": GOOD + GOOD.split("wraps:\n", 1)[1],
        "a/unnormalized.yaml": GOOD.replace("run:", "match:\n      state:\n        resolved_dependencies: [{name: Django}]\n    run:"),
        "a/exclusive.yaml": "units:\n  steps:\n  - {name: S, type: step, should_include: {}, match: {package_version: {name: a}},"
                            " run: {score: 0.1, not_acceptable: no}}\n",
        "a/bad_link.yaml": GOOD.replace("message: fine}", "message: fine, link: 'not a slug'}"),
        "a/not_a_mapping.yaml": "- just a list\n",
        "a/good.yaml": GOOD,
        "a/README.rst": "ignored",
        ".hidden/x.yaml": "units: [broken",
    })
    errors = _errors(root)
    assert len(errors) == 9, errors
    text = "\n".join(errors)
    assert "a/invalid.yaml: invalid YAML" in text
    assert "a/unknown_key.yaml: unit GoodWrap: unit: unknown key colour" in text
    assert "a/wrong_type.yaml: unit GoodWrap: should_include.adviser_pipeline: must be true or false, got 'yes'" in text
    assert "a/bad_type.yaml: unit GoodWrap: type: 'step' is not allowed in wraps" in text
    assert "a/duplicate.yaml: unit GoodWrap: name: duplicate unit name in wraps of this file" in text
    assert "a/unnormalized.yaml: unit GoodWrap: match.state.resolved_dependencies[0].name: package name 'Django' is not in normalized form" in text
    assert "a/exclusive.yaml: unit S: run: score and not_acceptable exclude each other" in text
    assert "run.justification[0].link: 'not a slug' is neither an http(s) URL nor a slug" in text
    assert "a/not_a_mapping.yaml: must be a mapping with a 'units' mapping" in text
    assert all(e.endswith("(file skipped)") for e in errors)
    (repository,) = load_tree(root)
    assert [u["name"] for u in repository.units] == ["team.GoodWrap"]


def test_missing_metadata_and_legacy_specifiers_are_reported_not_fatal(tmp_path):
    root = write_repository(tmp_path / "plain", {"w.yaml": GOOD}, name=None)
    (repository,) = load_tree(root)
    assert repository.name == "UNKNOWN" and "no _prescription_metadata.yaml at its top" in repository.errors[0]
    assert [u["name"] for u in repository.units] == ["UNKNOWN.GoodWrap"]
    legacy = GOOD.replace("run:", "match:\n      state:\n        resolved_dependencies: [{name: a, version: ==git-unknown}]\n    run:")
    (repository,) = load_tree(write_repository(tmp_path / "legacy", {"w.yaml": legacy}))
    assert repository.errors == [] and "'==git-unknown' is not a PEP 440 specifier" in repository.warnings[0]
    partial = write_repository(tmp_path / "partial", {"w.yaml": GOOD}, name=None)
    (partial / "_prescription_metadata.yaml").write_text("prescription:\n  name: half\n")
    (repository,) = load_tree(partial)
    assert (repository.name, repository.release) == ("half", "UNKNOWN") and "release missing" in repository.warnings[0]


def test_nested_roots_and_several_repositories_keep_their_namespaces(tmp_path, tmp_cache_dir):
    outer = write_repository(tmp_path / "outer", {"w.yaml": GOOD}, name="outer")
    write_repository(outer / "inner", {"w.yaml": GOOD}, name="inner", release="2")
    other = write_repository(tmp_path / "other", {"w.yaml": GOOD}, name="other")
    kb = knowledge(tmp_cache_dir, outer, other)
    names = {(r["name"], r["release"]) for r in kb.repositories()}
    assert names == {("outer", "1.0"), ("inner", "2"), ("other", "1.0")}
    assert {u["name"] for u in kb.units("always")} == {"outer.GoodWrap", "inner.GoodWrap", "other.GoodWrap"}


def test_units_are_stored_under_their_packages_and_static_selectors(tmp_cache_dir):
    kb = knowledge(tmp_cache_dir, SAMPLE)
    assert {u["name"] for u in kb.units("pkg:click")} == set()
    flask = {u["name"] for u in kb.units("pkg:flask")}
    assert flask == {"thoth.Jinja2300Flask100Step"}  # the sieve names flask in a base image only
    assert "thoth.TensorFlow21H5pyStep" in {u["name"] for u in kb.units("pkg:tensorflow")}
    assert {u["name"] for u in kb.units("image:quay.io/thoth-station/ps-cv-ocr")} == {
        "thoth.PsCvOcrV011QuayImageSizeBoot", "thoth.PsCvOcrV012QuayImageSizeBoot"}
    assert {u["name"] for u in kb.units("label:pypi-index=solely")} == {"thoth.PyPIIndexSieve"}
    assert "thoth.RecommendationTypeLatestWrap" in {u["name"] for u in kb.units("rtype:latest")}
    assert "thoth.PrescriptionInfoBoot" in {u["name"] for u in kb.units("always")}
    assert kb.units("pkg:numpy") == []  # nothing acts on numpy while resolving
    finished = {u["name"] for u in kb.units("fin:numpy")}
    assert "thoth.NumpyGitHubURLWrap" in finished and "thoth.NumpyGitHubReleaseNotesWrap" in finished
    # The artifact sizes, one unit per version: only the version chosen is read (1.11.3 == 1.11.3.0).
    assert [u["name"] for u in kb.units("ver:numpy==1.11.3")] == ["thoth.Numpyx1x11x3PyPIArtifactSizeWrap"]
    assert [u["name"] for u in kb.units_of(["ver:numpy==1.11.3", "fin:numpy"])][0].endswith("ArtifactSizeWrap")
    assert not any("ArtifactSize" in name for name in finished)


def test_the_index_is_rebuilt_only_when_a_source_changes(tmp_path, tmp_cache_dir):
    root = write_repository(tmp_path / "team", {"w.yaml": GOOD})
    first = compiled(tmp_cache_dir, root)
    stamp = first.stat().st_mtime_ns
    time.sleep(0.01)
    assert compiled(tmp_cache_dir, root) == first and first.stat().st_mtime_ns == stamp
    (root / "w.yaml").write_text(GOOD.replace("GoodWrap", "BetterWrap"))
    os.utime(root / "w.yaml", ns=(time.time_ns(), time.time_ns() + 10_000_000))
    assert compiled(tmp_cache_dir, root) == first and first.stat().st_mtime_ns != stamp
    assert [u["name"] for u in KnowledgeBase(first).units("always")] == ["team.BetterWrap"]


def test_a_recompilation_reads_only_the_files_that_changed(tmp_path, tmp_cache_dir):
    files = {f"p{i}/w.yaml": GOOD.replace("GoodWrap", f"Wrap{i}") for i in range(5)}
    files["bad.yaml"] = "units: [\n"
    root = write_repository(tmp_path / "team", files)
    lines: list[str] = []
    sources = resolve_sources([str(root)], tmp_cache_dir)
    path = compile_sources(sources, tmp_cache_dir, lines.append)
    assert "(6 files read, 0 unchanged since the last compilation)" in lines[-1]
    (root / "p3" / "w.yaml").write_text(GOOD.replace("GoodWrap", "Renamed"))
    os.utime(root / "p3" / "w.yaml", ns=(time.time_ns(), time.time_ns() + 10_000_000))
    compile_sources(resolve_sources([str(root)], tmp_cache_dir), tmp_cache_dir, lines.append)
    assert "(1 files read, 5 unchanged since the last compilation)" in lines[-1]
    kb = KnowledgeBase(path)
    assert sorted(u["name"] for u in kb.units("always")) == [
        "team.Renamed", "team.Wrap0", "team.Wrap1", "team.Wrap2", "team.Wrap4"]
    (listed,) = kb.repositories()
    assert listed["units"] == {"wrap": 5} and "bad.yaml: invalid YAML" in listed["errors"][0]


def _git(*args, cwd):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_a_git_source_is_cloned_refreshed_and_its_last_good_copy_kept(tmp_path, tmp_cache_dir):
    origin = write_repository(tmp_path / "origin", {"w.yaml": GOOD}, name="gitted")
    _git("init", "-q", "-b", "main", cwd=origin)
    _git("add", ".", cwd=origin)
    _git("commit", "-q", "-m", "first", cwd=origin)
    url = f"file://{origin}"
    (source,) = resolve_sources([url], tmp_cache_dir, refresh=0)
    assert source.problem is None and len(source.commit) == 40
    path = compile_sources([source], tmp_cache_dir)
    (listed,) = KnowledgeBase(path).repositories()
    assert (listed["name"], listed["source"], listed["commit"]) == ("gitted", url, source.commit)
    (origin / "w.yaml").write_text(GOOD.replace("GoodWrap", "NewWrap"))
    _git("commit", "-q", "-am", "second", cwd=origin)
    (refreshed,) = resolve_sources([url], tmp_cache_dir, refresh=0)
    assert refreshed.commit != source.commit
    compile_sources([refreshed], tmp_cache_dir)
    assert [u["name"] for u in KnowledgeBase(path).units("always")] == ["gitted.NewWrap"]
    os.rename(origin, tmp_path / "gone")
    (kept,) = resolve_sources([url], tmp_cache_dir, refresh=0)
    assert kept.commit == refreshed.commit and "git fetch failed" in kept.problem and "last good copy" in kept.problem
    (fresh,) = resolve_sources([url], tmp_cache_dir, refresh=3600)
    assert fresh.problem is None  # within the interval: no fetch tried


def test_an_unreachable_git_url_is_reported_without_its_credentials(tmp_cache_dir):
    url = "https://user:s3cret@127.0.0.1:9/team/prescriptions.git"
    (source,) = resolve_sources([url], tmp_cache_dir, refresh=0)
    assert source.path == "" and "git fetch failed" in source.problem
    path = compile_sources([source], tmp_cache_dir)
    listing = KnowledgeBase(path).repositories()
    assert "s3cret" not in json.dumps(listing) and listing[0]["source"] == "https://***@127.0.0.1:9/team/prescriptions.git"
    assert index_path(tmp_cache_dir, [source]) == path
    assert compile_sources([Source("x", "", None, "x: no such directory")], tmp_cache_dir).is_file()
