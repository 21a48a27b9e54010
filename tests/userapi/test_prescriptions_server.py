"""The server's prescriptions: --prescriptions (directories and git URLs, good and bad), the
settings file and THAMOS_PRESCRIPTIONS, GET /prescriptions, thamos prescriptions, and analyses
that apply them while the bad sources are reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.prescriptions.support import write_repository
from tests.support.index_server import Dist
from tests.thamos.conftest import thamos_env
from tests.userapi.conftest import advise_body, request, wait_for_document

TEAM_SIEVE = """
units:
  sieves:
  - name: NoDep3Sieve
    type: sieve
    should_include:
      adviser_pipeline: true
    match:
      package_version:
        name: dep
        version: ==3.0
    run:
      stack_info:
      - type: WARNING
        message: dep 3.0 corrupts our data
        link: dep_3
"""
CONFIG = """host: {host}
tls_verify: false
requirements_format: pipenv
runtime_environments:
  - name: test
    operating_system:
      name: debian
      version: '12'
    python_version: '3.11'
"""


def _repositories(tmp_path: Path) -> tuple[Path, Path, Path]:
    team = write_repository(tmp_path / "team", {"de_/dep/broken.yaml": TEAM_SIEVE}, name="team", release="7")
    bad = write_repository(tmp_path / "bad", {
        "x/invalid.yaml": "units: [unclosed\n",
        "x/unknown.yaml": "units:\n  sieves:\n  - {name: A, type: sieve, should_include: {}, match: "
                          "{package_version: {name: dep}}, run: {}, colour: red}\n",
        "x/good.yaml": TEAM_SIEVE.replace("NoDep3Sieve", "Other").replace("==3.0", "==9.9"),
    }, name="bad", release="1")
    unnamed = write_repository(tmp_path / "unnamed", {"y/wrap.yaml": "units:\n  wraps: []\n"}, name=None)
    return team, bad, unnamed


def test_the_server_lists_its_prescriptions_reports_bad_sources_and_applies_the_good_ones(
    start_server, package_index, tmp_path
):
    index = package_index([Dist("app", "1.0", requires_dist=("dep",)), Dist("dep", "2.0"), Dist("dep", "3.0")])
    team, bad, unnamed = _repositories(tmp_path)
    server = start_server("--prescriptions", str(team), "--prescriptions", str(bad),
                          "--prescriptions", "file:///nonexistent/prescriptions.git", index_url=index.url,
                          env={"THAMOS_PRESCRIPTIONS": str(unnamed)})
    status, _, listing = request("GET", server.api_url + "/prescriptions")
    assert status == 200, listing
    by_name = {r["name"]: r for r in listing["repositories"]}
    assert by_name["team"]["release"] == "7" and by_name["team"]["units"] == {"sieve": 1}
    assert by_name["team"]["source"] == str(team) and by_name["team"]["compiled_at"]
    errors = " | ".join(by_name["bad"]["errors"])
    assert "x/invalid.yaml: invalid YAML" in errors
    assert "x/unknown.yaml: unit A: unit: unknown key colour" in errors
    assert by_name["bad"]["units"] == {"sieve": 1}
    unreachable = [r for r in listing["repositories"] if r["source"].startswith("file://")]
    assert "git fetch failed" in unreachable[0]["errors"][0]

    body = advise_body(index.url, {"app": "*"})
    status, _, accepted = request("POST", server.api_url + "/advise/python?recommendation_type=latest", body)
    assert status == 202, accepted
    document = wait_for_document(server.api_url, "/advise/python", accepted["analysis_id"])
    report = document["result"]["report"]
    lock = report["products"][0]["project"]["requirements_locked"]["default"]
    assert lock["dep"]["version"] == "==2.0"
    infos = [i["message"] for i in report["stack_info"]]
    assert "Prescriptions team release 7 used" in infos and "dep 3.0 corrupts our data" in infos
    linked = [i for i in report["stack_info"] if i["message"] == "dep 3.0 corrupts our data"]
    assert linked[0]["link"] == "https://thoth-station.ninja/j/dep_3"
    notes = [i["message"] for i in report["products"][0]["justification"]]
    assert any("dep 3.0 removed" in m and "team.NoDep3Sieve" in m for m in notes)

    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(host=server.base_url))
    shown = subprocess.run([sys.executable, "-m", "thamos", "prescriptions"], cwd=project,
                           env=thamos_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "team" in shown.stdout and "sieve 1" in shown.stdout
    assert "x/invalid.yaml: invalid YAML" in shown.stderr
    as_json = subprocess.run([sys.executable, "-m", "thamos", "prescriptions", "-o", "json"], cwd=project,
                             env=thamos_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert {r["name"] for r in json.loads(as_json.stdout)["repositories"]} >= {"team", "bad", "UNKNOWN"}


def test_the_settings_file_key_and_units_denied_by_name(start_server, package_index, tmp_path):
    index = package_index([Dist("app", "1.0", requires_dist=("dep",)), Dist("dep", "2.0"), Dist("dep", "3.0")])
    team, _bad, _unnamed = _repositories(tmp_path)
    settings = tmp_path / "server.yaml"
    settings.write_text(f"prescriptions: ['{team}']\nprescriptions_denied:\n  team.NoDep3Sieve: we fixed the data\n")
    server = start_server("--config", str(settings), index_url=index.url)
    body = advise_body(index.url, {"app": "*"})
    status, _, accepted = request("POST", server.api_url + "/advise/python?recommendation_type=latest", body)
    document = wait_for_document(server.api_url, "/advise/python", accepted["analysis_id"])
    report = document["result"]["report"]
    assert report["products"][0]["project"]["requirements_locked"]["default"]["dep"]["version"] == "==3.0"
    infos = [i["message"] for i in report["stack_info"]]
    assert "Prescription team.NoDep3Sieve disabled by the server: we fixed the data" in infos


def test_no_prescriptions_configured_lists_none(start_server):
    server = start_server()
    status, _, listing = request("GET", server.api_url + "/prescriptions")
    assert status == 200 and listing == {"repositories": [], "problem": None}


def test_thamos_prescriptions_variable_and_library_usage_as_sent(start_server, package_index, tmp_path):
    index = package_index([Dist("app", "1.0", requires_dist=("dep",)), Dist("dep", "2.0"), Dist("dep", "3.0")])
    wrap = ("units:\n  wraps:\n  - name: DepApiWrap\n    type: wrap\n    should_include:\n      adviser_pipeline: true\n"
            "      library_usage: {dep: [dep.api.*]}\n    run:\n      justification: [{type: INFO, message: dep.api "
            "changed in 3.0, package_name: dep}]\n")
    team = write_repository(tmp_path / "team", {"w.yaml": wrap}, name="team")
    server = start_server(index_url=index.url, env={"THAMOS_PRESCRIPTIONS": str(team)})
    status, _, listing = request("GET", server.api_url + "/prescriptions")
    assert [(r["name"], r["units"]) for r in listing["repositories"]] == [("team", {"wrap": 1})]
    body = dict(advise_body(index.url, {"app": "*"}), library_usage={"report": {"dep": ["dep.api.call"]}})
    status, _, accepted = request("POST", server.api_url + "/advise/python?recommendation_type=latest", body)
    assert status == 202, accepted
    document = wait_for_document(server.api_url, "/advise/python", accepted["analysis_id"])
    notes = [i["message"] for i in document["result"]["report"]["products"][0]["justification"]]
    assert "dep.api changed in 3.0" in notes


def test_a_first_compilation_does_not_hold_the_start_and_analyses_say_so(tmp_path, package_index):
    from adviser import AdviserSettings, advise
    from userapi.prescriptions import PrescriptionService
    from userapi.settings import ServerSettings, prescription_options

    team, _bad, _unnamed = _repositories(tmp_path)
    settings = ServerSettings(cache_dir=tmp_path / "cache", prescriptions=(str(team),))
    index = package_index([Dist("app", "1.0", requires_dist=("dep",)), Dist("dep", "2.0"), Dist("dep", "3.0")])
    # Before any compilation: the analysis goes on without prescriptions and says why.
    options = prescription_options(settings)
    early = advise(dict(advise_body(index.url, {"app": "*"}), recommendation_type="latest"),
                   AdviserSettings(cache_dir=tmp_path / "adviser", prescriptions=options["prescriptions"]))
    assert early["error"] is False
    warnings = [i["message"] for i in early["report"]["stack_info"] if i["type"] == "WARNING"]
    assert any("The prescriptions are not compiled yet" in m for m in warnings)
    service = PrescriptionService(settings)
    service.start(first_wait=0)
    try:
        assert service._thread_ready.wait(60)
        listing = service.listing()
        assert listing["problem"] is None and [r["name"] for r in listing["repositories"]] == ["team"]
    finally:
        service.stop()


def test_prescription_settings_are_read_and_checked(tmp_path, monkeypatch):
    import pytest

    from userapi.cli import load_from_flags
    from userapi.options import SettingsError
    from userapi.settings import load_settings

    monkeypatch.setenv("THAMOS_PRESCRIPTIONS", "/srv/a, https://git.example/b.git")
    monkeypatch.setenv("THAMOS_PRESCRIPTIONS_DENIED", "thoth.A=too broad;team.B")
    settings = load_settings(cache_dir=str(tmp_path))
    assert settings.prescriptions == ("/srv/a", "https://git.example/b.git")
    assert settings.prescriptions_denied == (("thoth.A", "too broad"), ("team.B", "disabled by the server's settings"))
    options = settings.adviser_options()
    assert options["prescriptions_denied"] == {"thoth.A": "too broad", "team.B": "disabled by the server's settings"}
    assert options["prescriptions"].startswith(str(tmp_path / "prescriptions" / "index-"))
    flags = load_from_flags({"prescriptions": ("/srv/c",), "prescriptions_denied": ("thoth.C=no",),
                             "prescriptions_refresh": "60", "cache_dir": str(tmp_path)})
    assert flags.prescriptions == ("/srv/c",) and flags.prescriptions_denied == (("thoth.C", "no"),)
    assert flags.prescriptions_refresh == 60.0
    with pytest.raises(SettingsError, match=r"'Flask100' is not a full unit name .*\(set by --deny-prescription\)"):
        load_from_flags({"prescriptions_denied": ("Flask100",)})
    monkeypatch.delenv("THAMOS_PRESCRIPTIONS")
    monkeypatch.delenv("THAMOS_PRESCRIPTIONS_DENIED")
    assert load_settings(cache_dir=str(tmp_path)).adviser_options().get("prescriptions") is None
