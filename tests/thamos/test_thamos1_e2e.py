"""thamos 1.x's options that change what happens, end to end: the real command against a real
``python -m userapi`` resolving from the sample index (library usage sent and kept with the
analysis, ``advise --diff``, ``--scoring``, ``--write-advised-manifest-changes``, the last id of
each kind after a provenance check, ``graph --fold``, ``add -i``, ``remove --dev``, ``log -o``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.thamos.conftest import thamos_env
from tests.thamos.test_e2e import _config, _pipfile, backend  # noqa: F401 - the module's server
from thamos.project_files import parse_pipfile


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return thamos_env(tmp_path)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def advised(backend: str, sample_index, project: Path, run_thamos, env: dict[str, str]) -> Path:  # noqa: F811
    (project / ".thoth.yaml").write_text(_config(backend))
    (project / "Pipfile").write_text(_pipfile(sample_index.url))
    (project / "app").mkdir()
    (project / "app" / "__init__.py").write_text(
        "import webapp_framework as wf\nfrom signals import connect\n"
        "wf.routing.Router()\nconnect()\nimport os.path\nfrom app import helpers\n"
    )
    (project / "app" / "helpers.py").write_text("open('ran', 'w')\n")  # never run
    (project / "broken.py").write_text("import (broken\n")
    result = _ok(run_thamos("-v", "advise", cwd=project, env=env))
    assert "broken.py that do not parse" in result.stderr
    assert not (project / "ran").exists()
    return project


def _results(project: Path, run_thamos, env: dict[str, str], *args: str) -> dict:
    return json.loads(_ok(run_thamos("results", *args, "-o", "json", cwd=project, env=env)).stdout)


def test_library_usage_is_sent_and_kept_with_the_analysis(advised: Path, run_thamos, env: dict[str, str]) -> None:
    usage = _results(advised, run_thamos, env)["result"]["parameters"]["library_usage"]
    assert usage["report"] == {"signals": ["signals.connect"],
                               "webapp_framework": ["webapp_framework", "webapp_framework.routing.Router"]}
    assert usage["version"].startswith("thamos ")
    _ok(run_thamos("advise", "--no-static-analysis", "--force", cwd=advised, env=env))
    assert _results(advised, run_thamos, env)["result"]["parameters"]["library_usage"] is None
    _ok(run_thamos("advise", "--force", cwd=advised, env=env, THAMOS_NO_STATIC_ANALYSIS="1"))
    assert _results(advised, run_thamos, env)["result"]["parameters"]["library_usage"] is None


def test_diff_scoring_and_manifest_changes(advised: Path, run_thamos, env: dict[str, str]) -> None:
    first = (advised / ".thoth_last_analysis_id").read_text().strip()
    pipfile = (advised / "Pipfile").read_text().replace('webapp-framework = "*"',
                                                        'webapp-framework = "*"\nlegacy-tool = "*"')
    (advised / "Pipfile").write_text(pipfile)
    result = _ok(run_thamos("advise", "--diff", "--scoring", "--write-advised-manifest-changes", "changes.json",
                            cwd=advised, env=env))
    second = (advised / ".thoth_last_analysis_id").read_text().strip()
    assert second != first
    assert f"vs {first}" in result.stdout and "legacy-tool" in result.stdout and "added" in result.stdout
    assert "Scoring (" in result.stdout and "locked packages have no warning or error" in result.stdout
    assert json.loads((advised / "changes.json").read_text()) == []
    difference = json.loads(_ok(run_thamos("diff", second, first, "-j", cwd=advised, env=env)).stdout)
    assert {row["package"]: row["change"] for row in difference["packages"]} == {"legacy-tool": "added"}
    assert difference["old_analysis_id"] == first


def test_last_id_per_kind_and_provenance_results(advised: Path, run_thamos, env: dict[str, str]) -> None:
    advise_id = (advised / ".thoth_last_analysis_id").read_text().strip()
    _ok(run_thamos("provenance-check", "--debug", cwd=advised, env=env))
    provenance_id = (advised / ".thoth_last_analysis_id").read_text().strip()
    assert provenance_id.startswith("provenance-checker-")
    # graph and diff still find the advise; status, log and results the provenance check.
    assert "webapp-framework" in _ok(run_thamos("graph", "--fold", cwd=advised, env=env)).stdout
    assert json.loads(_ok(run_thamos("diff", "-j", cwd=advised, env=env)).stdout) == []
    log = json.loads(_ok(run_thamos("log", "-o", "json", cwd=advised, env=env)).stdout)
    assert log["analysis_id"] == provenance_id and log["log"]
    assert "found nothing to report" in _ok(run_thamos("results", cwd=advised, env=env)).stderr
    lock = json.loads((advised / "Pipfile.lock").read_text())
    lock["default"]["signals"]["hashes"] = ["sha256:" + "0" * 64]
    (advised / "Pipfile.lock").write_text(json.dumps(lock))
    assert run_thamos("provenance-check", "-j", cwd=advised, env=env).returncode != 0
    rows = _results(advised, run_thamos, env, "--filter", "category=provenance")
    assert rows and all(row["message"] for row in rows)
    assert any(row["package_name"] == "signals" for row in rows)
    table = " ".join(_ok_or_failed(run_thamos("results", cwd=advised, env=env)).stdout.split())
    assert rows[0]["message"].split()[0] in table and " - " not in table.split("Link")[-1][:40]
    assert advise_id in _ok(run_thamos("graph", cwd=advised, env=env)).stdout


def _ok_or_failed(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert "Traceback" not in result.stderr and result.stdout
    return result


def test_add_with_an_index_and_remove_dev(backend: str, sample_index, project: Path, run_thamos,  # noqa: F811
                                          env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend))
    (project / "Pipfile").write_text(_pipfile(sample_index.url).replace("[dev-packages]\n",
                                                                        '[dev-packages]\nsignals = "*"\n'))
    _ok(run_thamos("add", "-i", sample_index.url, "templating>=2", cwd=project, env=env))
    _ok(run_thamos("add", "--index-url", "http://127.0.0.1:9/other/simple/", "socks-lib", cwd=project, env=env))
    pipfile = parse_pipfile((project / "Pipfile").read_text(), "Pipfile")
    assert [source["name"] for source in pipfile["source"]] == ["sample", "127-0-0-1"]
    assert pipfile["packages"]["templating"] == {"version": ">=2", "index": "sample"}
    assert pipfile["packages"]["socks-lib"]["index"] == "127-0-0-1"
    result = run_thamos("remove", "--dev", "templating", cwd=project, env=env)
    assert result.returncode != 0 and "[dev-packages]" in result.stderr
    _ok(run_thamos("remove", "--dev", "signals", cwd=project, env=env))
    pipfile = parse_pipfile((project / "Pipfile").read_text(), "Pipfile")
    assert "signals" not in pipfile.get("dev-packages", {}) and "templating" in pipfile["packages"]


LIBRARY_SCRIPT = """
import json
from thamos import lib
from thamos.exceptions import ThamosError
analysis_id = lib.advise_here("stable", nowait=True, force=True)
result, error, metadata = lib.advise_here("stable", runtime_environment_name="local", labels={"via": "lib"})
try:
    lib.image_analysis("quay.io/some/image")
    image = "no error"
except ThamosError as exc:
    image = exc.message
print(json.dumps({
    "nowait": analysis_id, "error": error, "locked": sorted(result["report"]["products"][0]["project"]
                                                             ["requirements_locked"]["default"]),
    "status": lib.get_status(), "log": bool(lib.get_log()), "last": lib.get_last_analysis_id(),
    "providers": lib.whatprovides(["legacy_tool", "no_such_module_here"]),
    "images": lib.list_thoth_container_images(os_name="debian"), "usage": lib.get_static_analysis("app"),
    "image_analysis": image,
}))
"""


def test_the_library_of_thamos1(advised: Path, env: dict[str, str]) -> None:
    before = (advised / "Pipfile.lock").read_bytes()
    # legacy-tool has no PEP 658 file: its wheel is read by range requests, which tells its modules.
    pipfile = (advised / "Pipfile").read_text().replace('webapp-framework = "*"',
                                                        'webapp-framework = "*"\nlegacy-tool = "*"')
    (advised / "Pipfile").write_text(pipfile)
    result = subprocess.run([sys.executable, "-c", LIBRARY_SCRIPT], cwd=advised, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["nowait"].startswith("adviser-") and answer["error"] is False
    assert "webapp-framework" in answer["locked"]
    assert answer["status"]["state"] == "terminated" and answer["log"]
    assert answer["last"].startswith("adviser-") and answer["last"] != answer["nowait"]
    assert answer["providers"] and {item["import_name"] for item in answer["providers"]} == {"legacy_tool"}
    assert answer["images"] and all(image["os_name"] == "debian" for image in answer["images"])
    assert "signals" in answer["usage"]["report"]
    assert "not offered by this backend" in answer["image_analysis"]
    assert (advised / "Pipfile.lock").read_bytes() == before  # 1.x's advise_here wrote nothing


@pytest.mark.parametrize("requirements_format", ["pip", "pip-tools"])
def test_provenance_check_of_a_hashed_requirements_txt(backend: str, sample_index, project: Path,  # noqa: F811
                                                       run_thamos, env: dict[str, str],
                                                       requirements_format: str) -> None:
    (project / ".thoth.yaml").write_text(_config(backend, requirements_format=requirements_format))
    (project / "requirements.txt").write_text("webapp-framework>=1\n")
    result = run_thamos("provenance-check", cwd=project, env=env)
    assert result.returncode == 2 and "line 1: webapp-framework>=1 is not pinned with ==" in result.stderr
    _ok(run_thamos("advise", "--no-static-analysis", cwd=project, env=env))
    assert (project / "requirements.in").read_text() == "webapp-framework>=1\n"  # the input is kept
    result = _ok(run_thamos("provenance-check", cwd=project, env=env))
    assert "checked, no errors" in result.stderr
    text = (project / "requirements.txt").read_text()
    first_hash = text.split("--hash=sha256:", 1)[1][:64]
    (project / "requirements.txt").write_text(text.replace(first_hash, "0" * 64))
    result = run_thamos("provenance-check", "-j", cwd=project, env=env)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["result"]["report"]
    assert any(item["type"] == "ERROR" for item in findings)


def test_thoth_settings_in_thoth_yaml_or_once_noted_in_the_pipfile(backend: str, sample_index,  # noqa: F811
                                                                   project: Path, run_thamos,
                                                                   env: dict[str, str]) -> None:
    settings = "    thoth:\n      allow_prereleases:\n        templating: true\n"
    (project / ".thoth.yaml").write_text(_config(backend).replace("    recommendation_type: stable\n",
                                                                  "    recommendation_type: stable\n" + settings))
    (project / "Pipfile").write_text(_pipfile(sample_index.url))
    before = (project / "Pipfile").read_text()
    result = _ok(run_thamos("advise", "--no-static-analysis", cwd=project, env=env))
    lock = json.loads((project / "Pipfile.lock").read_text())
    assert lock["default"]["templating"]["version"] == "==3.1rc1"  # the pre-release .thoth.yaml allowed
    assert (project / "Pipfile").read_text() == before and "[thoth]" not in result.stderr
    (project / "Pipfile").write_text(before + "\n[thoth.allow_prereleases]\ntemplating = false\n")
    first = _ok(run_thamos("advise", "--no-static-analysis", cwd=project, env=env)).stderr
    assert "has a [thoth] table: current pipenv refuses it in `pipenv install --deploy` and `pipenv verify`" in first
    assert "thoth: settings of runtime environment 'local' in .thoth.yaml are not used" in first
    lock = json.loads((project / "Pipfile.lock").read_text())
    assert lock["default"]["templating"]["version"] == "==3.0"  # the Pipfile's table wins
    second = _ok(run_thamos("advise", "--no-static-analysis", cwd=project, env=env)).stderr
    assert "current pipenv refuses it" not in second  # said once


def test_debug_logs_the_resolver_decisions(advised: Path, run_thamos, env: dict[str, str]) -> None:
    plain = _ok(run_thamos("log", cwd=advised, env=env)).stdout
    assert "debug: round" not in plain
    _ok(run_thamos("advise", "--debug", "--force", "--no-static-analysis", cwd=advised, env=env))
    log = _ok(run_thamos("log", cwd=advised, env=env)).stdout
    assert "pinned webapp-framework 2.1 from sample" in log
    assert "pinned signals" in log
    # 1.x's spelling of the same: the variable and the global option
    _ok(run_thamos("--debug", "advise", "--force", "--no-static-analysis", cwd=advised, env=env))
    assert "debug: round" in _ok(run_thamos("log", cwd=advised, env=env)).stdout


def test_whatprovides_and_discover_look_unknown_modules_up(advised: Path, run_thamos, env: dict[str, str],
                                                            sample_index) -> None:
    # webapp-framework has a PEP 658 file: resolving it never opened its wheel, so its modules were
    # unknown; the server now reads the wheel's directory with range requests.
    result = _ok(run_thamos("whatprovides", "webapp_framework", "surely_not_a_module", "-o", "json",
                            cwd=advised, env=env))
    rows = json.loads(result.stdout)
    assert {(row["import"], row["package_name"], row["index_url"]) for row in rows} == {
        ("webapp_framework", "webapp-framework", sample_index.url)}
    assert "No package known to the backend provides: surely_not_a_module" in " ".join(result.stderr.split())
    discovered = json.loads(_ok(run_thamos("discover", "-s", ".", "-o", "json", cwd=advised, env=env)).stdout)
    assert {row["module"]: row["packages"] for row in discovered} == {"signals": ["signals"],
                                                                     "webapp_framework": ["webapp-framework"]}
