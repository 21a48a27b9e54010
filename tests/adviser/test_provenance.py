"""Provenance checks of Pipfile.lock files against real local indexes, one purpose-built lock per finding."""

from __future__ import annotations

import json

import micropipenv
import pytest

from adviser import AdviserSettings, check_provenance
from stackfiles.pipfile import pipfile_hash
from stackfiles.toml import load_toml
from tests.support.index_server import Dist

ALPHA = Dist("alpha", "1.0", requires_dist=("beta>=1",))
BETA = Dist("beta", "1.0")
BETA_OTHER_BUILD = Dist("beta", "1.0", summary="the same version built elsewhere")


def pipfile_text(sources: list[tuple[str, str, bool]], packages: dict[str, str]) -> str:
    lines = []
    for name, url, verify in sources:
        lines += [
            "[[source]]",
            f'name = "{name}"',
            f'url = "{url}"',
            f"verify_ssl = {str(verify).lower()}",
            "",
        ]
    lines.append("[packages]")
    lines += [f'{name} = "{spec}"' for name, spec in packages.items()]
    lines += ["", "[requires]", 'python_version = "3.11"', "", "[thoth]", "allow_prereleases = {}", ""]
    return "\n".join(lines)


def entry(server, name: str, version: str, index: str) -> dict:
    hashes = sorted(
        f"sha256:{served.sha256}" for served in server.project_files(name) if served.dist.version == version
    )
    return {"hashes": hashes, "index": index, "version": f"=={version}"}


def lock_for(pipfile: str, default: dict, develop: dict | None = None) -> dict:
    data = load_toml(pipfile, "Pipfile")
    return {
        "_meta": {
            "hash": {"sha256": pipfile_hash(data)},
            "pipfile-spec": 6,
            "requires": data.get("requires", {}),
            "sources": data["source"],
        },
        "default": default,
        "develop": develop or {},
    }


def run(settings, pipfile: str, lock: dict | str) -> dict:
    lock_text = lock if isinstance(lock, str) else json.dumps(lock)
    request = {"application_stack": {"requirements": pipfile, "requirements_lock": lock_text}}
    return check_provenance(request, settings)


def ids(document: dict) -> list[tuple[str, str, str | None]]:
    return sorted((item["type"], item["id"], item["package_name"]) for item in document["report"])


@pytest.fixture
def settings(tmp_cache_dir):
    return AdviserSettings(cache_dir=tmp_cache_dir, timeout=5.0)


@pytest.fixture
def main(package_index):
    return package_index([ALPHA, BETA], name="main")


def clean_lock(main):
    pipfile = pipfile_text([("main", main.url, True)], {"alpha": "*"})
    lock = lock_for(
        pipfile, {"alpha": entry(main, "alpha", "1.0", "main"), "beta": entry(main, "beta", "1.0", "main")}
    )
    return pipfile, lock


def test_pipfile_hash_agrees_with_micropipenv(main):
    pipfile, _lock = clean_lock(main)
    data = load_toml(pipfile, "Pipfile")
    assert pipfile_hash(data) == micropipenv._compute_pipfile_hash(data)
    # [thoth], [pipenv] and [scripts] do not enter the hash.
    assert pipfile_hash(
        {**data, "pipenv": {"allow_prereleases": True}, "scripts": {"x": "y"}}
    ) == pipfile_hash(data)


def test_clean_lock_has_no_findings(settings, main):
    pipfile, lock = clean_lock(main)
    document = run(settings, pipfile, lock)
    assert document["error"] is False and document["error_msg"] is None
    assert document["report"] == []


def test_lock_hash_mismatch(settings, main):
    pipfile, lock = clean_lock(main)
    edited = pipfile.replace('alpha = "*"', 'alpha = ">=1"')
    document = run(settings, edited, lock)
    assert ids(document) == [("ERROR", "LOCK_HASH_MISMATCH", None)]
    assert "not made from this Pipfile" in document["report"][0]["justification"]


def test_artifact_hash_not_found(settings, main):
    pipfile, lock = clean_lock(main)
    lock["default"]["beta"]["hashes"].append("sha256:" + "ab" * 32)
    document = run(settings, pipfile, lock)
    assert ids(document) == [("ERROR", "ARTIFACT_HASH_NOT_FOUND", "beta")]
    item = document["report"][0]
    assert "ab" * 32 in item["justification"]
    assert (item["package_version"], item["package_index"]) == ("1.0", "main")
    assert item["source"] == {"name": "main", "url": main.url, "verify_ssl": True}
    assert item["link"] == main.project_url("beta")


def test_artifact_on_other_index(settings, main, package_index):
    other = package_index([BETA_OTHER_BUILD], name="other")
    pipfile = pipfile_text([("main", main.url, True), ("other", other.url, True)], {"alpha": "*"})
    beta = entry(main, "beta", "1.0", "main")
    beta["hashes"] = entry(other, "beta", "1.0", "other")["hashes"]
    lock = lock_for(pipfile, {"alpha": entry(main, "alpha", "1.0", "main"), "beta": beta})
    document = run(settings, pipfile, lock)
    found = ids(document)
    assert set(found) == {("WARNING", "ARTIFACT_ON_OTHER_INDEX", "beta")}
    assert len(found) == len(beta["hashes"]) == 2  # wheel and sdist
    item = document["report"][0]
    assert "'other'" in item["justification"] and item["link"].startswith(other.base_url + "/files/beta/")


def test_hash_found_on_an_index_the_backend_knows(settings, main, package_index):
    from adviser.index import IndexSource

    known = package_index([BETA_OTHER_BUILD], name="known")
    settings.known_indexes = [IndexSource("known", known.url)]
    pipfile, lock = clean_lock(main)
    lock["default"]["beta"]["hashes"] = entry(known, "beta", "1.0", "x")["hashes"][:1]
    document = run(settings, pipfile, lock)
    assert ids(document) == [("WARNING", "ARTIFACT_ON_OTHER_INDEX", "beta")]


def test_missing_package_and_missing_version(settings, main):
    pipfile, lock = clean_lock(main)
    lock["default"]["gamma"] = {"hashes": ["sha256:" + "cd" * 32], "index": "main", "version": "==2.0"}
    lock["default"]["beta"]["version"] = "==9.9"
    document = run(settings, pipfile, lock)
    assert ids(document) == [
        ("ERROR", "ARTIFACT_HASH_NOT_FOUND", "beta"),
        ("ERROR", "ARTIFACT_HASH_NOT_FOUND", "beta"),
        ("ERROR", "ARTIFACT_HASH_NOT_FOUND", "gamma"),
        ("ERROR", "MISSING_PACKAGE", "beta"),
        ("ERROR", "MISSING_PACKAGE", "gamma"),
    ]
    messages = {
        item["package_name"]: item["justification"]
        for item in document["report"]
        if item["id"] == "MISSING_PACKAGE"
    }
    assert "has no version 9.9" in messages["beta"] and "is not on index 'main'" in messages["gamma"]


def test_unknown_source(settings, main):
    pipfile, lock = clean_lock(main)
    lock["default"]["beta"]["index"] = "mirror"
    document = run(settings, pipfile, lock)
    assert ids(document) == [("ERROR", "UNKNOWN_SOURCE", "beta")]
    assert "'mirror'" in document["report"][0]["justification"]


def test_insecure_sources(settings, main):
    # verify_ssl = false on the index in use; a plain-http source on another (unrouted, documentation)
    # address that no package uses, so it is reported but never contacted.
    pipfile = pipfile_text(
        [("main", main.url, False), ("plain", "http://192.0.2.1/simple", True)], {"alpha": "*"}
    )
    lock = lock_for(
        pipfile, {"alpha": entry(main, "alpha", "1.0", "main"), "beta": entry(main, "beta", "1.0", "main")}
    )
    document = run(settings, pipfile, lock)
    assert document["error"] is False
    report = sorted(document["report"], key=lambda item: item["package_index"])
    assert [(i["type"], i["id"], i["package_index"]) for i in report] == [
        ("WARNING", "INSECURE_SOURCE", "main"),
        ("WARNING", "INSECURE_SOURCE", "plain"),
    ]
    assert "verify_ssl = false" in report[0]["justification"] and "plain http" in report[1]["justification"]


def test_develop_section_and_vcs_entries(settings, main):
    pipfile, lock = clean_lock(main)
    lock["develop"] = {
        "beta": entry(main, "beta", "1.0", "main"),
        "tool": {"git": "https://127.0.0.1/tool.git", "ref": "abc"},
    }
    lock["develop"]["beta"]["hashes"] = []
    document = run(settings, pipfile, lock)
    assert ids(document) == [
        ("INFO", "NOT_FROM_INDEX", "tool"),
        ("WARNING", "ARTIFACT_HASHES_MISSING", "beta"),
    ]


def test_unreachable_index_is_an_error_document(settings, main):
    pipfile, lock = clean_lock(main)
    main.stop()
    document = run(settings, pipfile, lock)
    assert document["error"] is True
    assert main.url in document["error_msg"] and "unreachable" in document["error_msg"]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({}, "no application_stack"),
        (
            {"application_stack": {"requirements": "[packages]\n", "requirements_lock": None}},
            "no Pipfile.lock",
        ),
        ({"application_stack": {"requirements": "", "requirements_lock": "{}"}}, "no Pipfile"),
        ({"application_stack": {"requirements": "[packages\n", "requirements_lock": "{}"}}, "not valid TOML"),
        (
            {"application_stack": {"requirements": "[packages]\n", "requirements_lock": "{nope"}},
            "not a valid Pipfile.lock (JSON)",
        ),
        (
            {"application_stack": {"requirements": "[packages]\n", "requirements_lock": "[]"}},
            "not a Pipfile.lock document",
        ),
        (
            {
                "application_stack": {
                    "requirements": "[packages]\n",
                    "requirements_lock": '{"_meta": {}, "default": {"a": 1}}',
                }
            },
            "the Pipfile.lock: default.a must be an object",
        ),
        (
            {
                "application_stack": {
                    "requirements": "x",
                    "requirements_lock": "y",
                    "requirements_format": "pip",
                }
            },
            "need a Pipfile and Pipfile.lock",
        ),
        ("not a dict", "no application_stack"),
    ],
)
def test_malformed_input_gives_an_error_document(settings, request_body, message):
    document = check_provenance(request_body, settings)
    assert document["error"] is True and message in document["error_msg"]
    assert document["report"] == []
