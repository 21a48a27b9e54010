"""The real ``thamos`` command in temporary projects, without the real backend: commands that need
no server, bad input, and backend failures played by a tiny HTTP server (500s, 400s, an analysis
that never finishes, a failed analysis). Every failure: one clear line, the documented exit code,
no traceback and the user's files unchanged (compared byte for byte)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.thamos.conftest import snapshot, thamos_env
from tests.thamos.fake_backend import ANALYSIS_ID, FakeBackend
from thamos import exit_codes
from thamos.project_files import parse_pipfile, pipfile_hash

PIPFILE = """\
[[source]]
url = "http://127.0.0.1:9/simple/"
verify_ssl = false
name = "local"

[packages]
flask = "*"

[dev-packages]

[requires]
python_version = "3.11"
"""

CONFIG = """\
host: {host}
tls_verify: true
requirements_format: pipenv
labels:
  team: thoth
  requester: file
runtime_environments:
  - name: 'alpha'
    operating_system:
      name: fedora
      version: '38'
    python_version: '3.11'
    recommendation_type: security
  - name: 'beta'
    operating_system:
      name: rhel
      version: '9'
    python_version: '3.11'
"""


def _assert_clean_failure(result: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lock_document(pipfile_text: str) -> dict:
    pipfile = parse_pipfile(pipfile_text, "Pipfile")
    lock = {
        "_meta": {"hash": {"sha256": pipfile_hash(pipfile)}, "pipfile-spec": 6,
                  "requires": pipfile["requires"], "sources": pipfile["source"]},
        "default": {"flask": {"version": "==3.0.0", "hashes": ["sha256:" + "c" * 64], "index": "local"}},
        "develop": {},
    }
    return {
        "analysis_id": ANALYSIS_ID,
        "metadata": {},
        "result": {
            "error": False, "error_msg": None, "parameters": {},
            "report": {
                "products": [{
                    "project": {"requirements": pipfile, "requirements_locked": lock,
                                "runtime_environment": {}, "constraints": []},
                    "score": 1.0, "justification": [{"type": "INFO", "message": "flask 3.0.0", "link": "",
                                                      "package_name": "flask"}],
                    "advised_manifest_changes": [], "advised_runtime_environment": None,
                    "dependency_graph": {"nodes": ["flask"], "edges": []},
                }],
                "stack_info": [{"type": "INFO", "message": "rule set", "link": ""}],
            },
        },
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Pipfile").write_text(PIPFILE)
    return root


def _configure(project: Path, host: str) -> None:
    (project / ".thoth.yaml").write_text(CONFIG.format(host=host))


# ---------------------------------------------------------------------- no configuration file
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["list"], exit_codes.OK),
        (["show", "-o", "json"], exit_codes.OK),
        (["venv"], exit_codes.OK),
        (["purge"], exit_codes.OK),
        (["support"], exit_codes.OK),
        (["status"], exit_codes.BAD_INPUT),
        (["log"], exit_codes.BAD_INPUT),
        (["diff"], exit_codes.BAD_INPUT),
        (["graph"], exit_codes.BAD_INPUT),
        (["results"], exit_codes.BAD_INPUT),
        (["verify"], exit_codes.BAD_INPUT),
        (["install"], exit_codes.BAD_INPUT),
        (["check"], exit_codes.CONFIGURATION_ERROR),
        (["discover", "--no-lookup"], exit_codes.OK),
    ],
)
def test_commands_without_a_config_file_do_not_crash(project: Path, run_thamos, args: list[str], code: int) -> None:
    result = run_thamos(*args, cwd=project)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_config_is_a_configuration_error(project: Path, run_thamos) -> None:
    (project / ".thoth.yaml").write_text("runtime_environments: [\n")
    before = snapshot(project)
    result = run_thamos("advise", cwd=project)
    _assert_clean_failure(result, exit_codes.CONFIGURATION_ERROR, ".thoth.yaml", "not valid YAML")
    assert snapshot(project) == before


def test_schema_error_names_key_and_file(project: Path, run_thamos) -> None:
    (project / ".thoth.yaml").write_text(CONFIG.format(host="127.0.0.1:1").replace("python_version: '3.11'",
                                                                                   "python_version: 3.11", 1))
    result = run_thamos("advise", cwd=project)
    _assert_clean_failure(result, exit_codes.CONFIGURATION_ERROR, ".thoth.yaml",
                          "runtime_environments[0].python_version", "quote it")


@pytest.mark.parametrize("how", ["option", "variable"])
def test_unknown_runtime_environment_lists_the_known_ones(project: Path, run_thamos, how: str) -> None:
    _configure(project, "http://127.0.0.1:1")
    if how == "option":
        result = run_thamos("advise", "-r", "gamma", cwd=project)
    else:
        result = run_thamos("advise", cwd=project, THAMOS_RUNTIME_ENVIRONMENT="gamma")
    _assert_clean_failure(result, exit_codes.CONFIGURATION_ERROR, "'gamma'", "'alpha'", "'beta'")


def test_malformed_pipfile_is_bad_input(project: Path, run_thamos) -> None:
    _configure(project, "http://127.0.0.1:1")
    (project / "Pipfile").write_text("[packages\nflask = '*'\n")
    before = snapshot(project)
    result = run_thamos("advise", cwd=project)
    _assert_clean_failure(result, exit_codes.BAD_INPUT, "Pipfile")
    assert snapshot(project) == before


def test_bad_labels_are_bad_input(project: Path, run_thamos) -> None:
    _configure(project, "http://127.0.0.1:1")
    result = run_thamos("advise", "--labels", "team", cwd=project)
    _assert_clean_failure(result, exit_codes.BAD_INPUT, "--labels")


def test_config_command_never_overwrites_silently(project: Path, run_thamos) -> None:
    result = run_thamos("config", cwd=project)
    assert result.returncode == 0, result.stderr
    (project / ".thoth.yaml").write_text("# mine\n" + (project / ".thoth.yaml").read_text())
    before = snapshot(project)
    result = run_thamos("config", cwd=project)
    _assert_clean_failure(result, exit_codes.CONFIGURATION_ERROR, "already exists", "--force")
    assert snapshot(project) == before
    assert run_thamos("config", "--force", cwd=project).returncode == 0
    assert not (project / ".thoth.yaml").read_text().startswith("# mine")


def test_config_from_template_variable(project: Path, run_thamos, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("tls_verify: true\nrequirements_format: {requirements_format}\nruntime_environments:\n"
                        "  - name: '{runtime_environment_name}'\n    python_version: '{python_version}'\n"
                        "    cuda_version: {cuda_version}\n    platform: '{platform}'\n")
    result = run_thamos("config", cwd=project, THAMOS_CONFIG_TEMPLATE=str(template),
                        THAMOS_REQUIREMENTS_FORMAT="pip-tools", THAMOS_DISABLE_CUDA="1")
    assert result.returncode == 0, result.stderr
    text = (project / ".thoth.yaml").read_text()
    assert "requirements_format: pip-tools" in text and "cuda_version: null" in text
    assert f"python_version: '{sys.version_info.major}.{sys.version_info.minor}'" in text


def test_support_never_prints_the_token(project: Path, run_thamos) -> None:
    (project / ".thoth.yaml").write_text(CONFIG.format(host="https://user:pw@thoth.example.com") +
                                         "token: config-secret-123\n")
    result = run_thamos("support", cwd=project, THAMOS_TOKEN="env-secret-456")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    for secret in ("config-secret-123", "env-secret-456", "user:pw"):
        assert secret not in output
    assert "THAMOS_TOKEN" in output and "***" in output


# ---------------------------------------------------------------------- backend failures
def test_backend_down_is_backend_unreachable(project: Path, run_thamos) -> None:
    _configure(project, f"http://127.0.0.1:{_free_port()}")
    before = snapshot(project)
    result = run_thamos("advise", cwd=project, THAMOS_RETRY_ON_ERROR_COUNT="1")
    _assert_clean_failure(result, exit_codes.BACKEND_UNREACHABLE, "unreachable", "connection refused")
    assert snapshot(project) == before


def test_server_error_is_retried_then_reported(project: Path, run_thamos, fake_backend: FakeBackend) -> None:
    fake_backend.mode = "error500"
    _configure(project, fake_backend.url)
    before = snapshot(project)
    result = run_thamos("advise", cwd=project, THAMOS_RETRY_ON_ERROR_COUNT="2")
    _assert_clean_failure(result, exit_codes.BACKEND_UNREACHABLE, "HTTP 500", "internal failure for the test")
    assert len(fake_backend.requests) == 3  # the first try and two retries
    assert snapshot(project) == before


def test_client_error_is_not_retried(project: Path, run_thamos, fake_backend: FakeBackend) -> None:
    fake_backend.mode = "reject400"
    _configure(project, fake_backend.url)
    result = run_thamos("advise", cwd=project, THAMOS_RETRY_ON_ERROR_COUNT="3")
    _assert_clean_failure(result, exit_codes.BAD_INPUT, "HTTP 400", "bad request for the test")
    assert len(fake_backend.requests) == 1


def test_optional_query_values_are_omitted_not_sent_as_none(project: Path, run_thamos,
                                                            fake_backend: FakeBackend) -> None:
    _configure(project, fake_backend.url)
    result = run_thamos("advise", "--no-wait", "-r", "beta", cwd=project)
    assert result.returncode == 0, result.stderr
    method, path = fake_backend.requests[0]
    assert method == "POST" and urlsplit(path).path == "/api/v1/advise/python"
    query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
    assert "None" not in query.values() and "None" not in path
    assert "origin" not in query and "force" not in query and "debug" not in query
    assert query == {"recommendation_type": "stable"}
    body = json.loads(fake_backend.bodies[0])
    assert "None" not in json.dumps(body)
    assert result.stdout.strip() == ANALYSIS_ID
    assert (project / ".thoth_last_analysis_id").read_text().strip() == ANALYSIS_ID


def test_timeout_while_polling(project: Path, run_thamos, fake_backend: FakeBackend) -> None:
    _configure(project, fake_backend.url)
    before = snapshot(project)
    result = run_thamos("advise", cwd=project, THAMOS_TIMEOUT="1")
    _assert_clean_failure(result, exit_codes.TIMEOUT, "THAMOS_TIMEOUT")
    assert snapshot(project) == before
    assert any(method == "GET" for method, _ in fake_backend.requests)  # it did poll before giving up


def test_ctrl_c_while_polling_exits_130_and_leaves_files(project: Path, fake_backend: FakeBackend,
                                                         tmp_path: Path) -> None:
    _configure(project, fake_backend.url)
    (project / "Pipfile.lock").write_text(json.dumps(_lock_document(PIPFILE)["result"]["report"]["products"][0]
                                                     ["project"]["requirements_locked"]))
    before = snapshot(project)
    process = subprocess.Popen([sys.executable, "-m", "thamos", "advise"], cwd=project, env=thamos_env(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not any(method == "GET" for method, _ in fake_backend.requests):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == exit_codes.INTERRUPTED, stderr
    assert "Traceback" not in stderr and "Interrupted" in stderr
    assert snapshot(project) == before


def test_failed_analysis_leaves_files_unchanged(project: Path, run_thamos, fake_backend: FakeBackend) -> None:
    fake_backend.mode = "done"
    fake_backend.document = {
        "analysis_id": ANALYSIS_ID, "metadata": {},
        "result": {"error": True, "error_msg": "flask>=4 conflicts with flask<3", "parameters": {},
                   "report": {"products": [], "stack_info": [
                       {"type": "ERROR", "message": "because flask>=4 and flask<3 exclude each other", "link": ""}]}},
    }
    _configure(project, fake_backend.url)
    before = snapshot(project)
    result = run_thamos("advise", cwd=project)
    _assert_clean_failure(result, exit_codes.ANALYSIS_FAILED, "flask>=4 conflicts with flask<3",
                          "exclude each other")
    assert snapshot(project) == before


def test_advise_writes_lock_keeps_config_and_sends_labels(project: Path, run_thamos,
                                                          fake_backend: FakeBackend) -> None:
    fake_backend.mode = "done"
    fake_backend.document = _lock_document(PIPFILE)
    _configure(project, fake_backend.url)
    config_before = (project / ".thoth.yaml").read_bytes()
    result = run_thamos("advise", "--labels", "requester=ci_foo;extra=1", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / ".thoth.yaml").read_bytes() == config_before
    assert (project / "Pipfile").read_text() == PIPFILE
    lock = json.loads((project / "Pipfile.lock").read_text())
    assert lock["default"]["flask"]["version"] == "==3.0.0"
    body = json.loads(fake_backend.bodies[0])
    assert body["labels"] == {"team": "thoth", "requester": "ci_foo", "extra": "1"}
    assert body["runtime_environment"]["recommendation_type"] == "security"
    query = dict(parse_qsl(urlsplit(fake_backend.requests[0][1]).query))
    assert query["recommendation_type"] == "security"
    # The user's lock (written by the first advise) is the base of the next request...
    run_thamos("advise", cwd=project)
    assert "flask" in json.loads(fake_backend.posts()[-1][1])["application_stack"]["requirements_lock"]
    # ...unless --no-user-stack; --dev reaches the query.
    posts_before = len(fake_backend.posts())
    result = run_thamos("advise", "--no-user-stack", "--dev", cwd=project)
    assert result.returncode == 0, result.stderr
    (path, body), = fake_backend.posts()[posts_before:]
    assert json.loads(body)["application_stack"].get("requirements_lock") is None
    assert dict(parse_qsl(urlsplit(path).query))["dev"] in ("True", "true", "1")


def test_overlays_write_back_into_the_overlay(project: Path, run_thamos, fake_backend: FakeBackend) -> None:
    fake_backend.mode = "done"
    fake_backend.document = _lock_document(PIPFILE)
    (project / ".thoth.yaml").write_text(CONFIG.format(host=fake_backend.url).replace(
        "requirements_format: pipenv", "requirements_format: pipenv\noverlays_dir: overlays"))
    (project / "Pipfile").unlink()
    for name in ("alpha", "beta"):
        (project / "overlays" / name).mkdir(parents=True)
        (project / "overlays" / name / "Pipfile").write_text(PIPFILE)
    result = run_thamos("advise", "-r", "beta", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "overlays" / "beta" / "Pipfile.lock").is_file()
    assert not (project / "overlays" / "alpha" / "Pipfile.lock").exists()
    assert not (project / "Pipfile.lock").exists()
    assert (project / "overlays" / "beta" / ".thoth_last_analysis_id").read_text().strip() == ANALYSIS_ID
    assert json.loads(fake_backend.bodies[0])["runtime_environment"]["name"] == "beta"
    result = run_thamos("advise", cwd=project, THAMOS_RUNTIME_ENVIRONMENT="alpha")
    assert result.returncode == 0, result.stderr
    assert (project / "overlays" / "alpha" / "Pipfile.lock").is_file()


# ---------------------------------------------------------------------- local commands
def test_run_passes_exit_code_and_dotenv(project: Path, run_thamos) -> None:
    (project / ".env").write_text("# comment\nGREETING=hello from dotenv\n")
    result = run_thamos("run", "--", sys.executable, "-c",
                        "import os, sys; print(os.environ['GREETING']); sys.exit(7)", cwd=project)
    assert result.returncode == 7, result.stderr
    assert result.stdout.strip() == "hello from dotenv"
    result = run_thamos("run", "no-such-command-xyz", cwd=project)
    _assert_clean_failure(result, exit_codes.BAD_INPUT, "no-such-command-xyz")


def test_install_refuses_a_lock_that_does_not_match(project: Path, run_thamos, tmp_path: Path) -> None:
    lock = _lock_document(PIPFILE)["result"]["report"]["products"][0]["project"]["requirements_locked"]
    (project / "Pipfile.lock").write_text(json.dumps(lock))
    (project / "Pipfile").write_text(PIPFILE.replace('flask = "*"', 'flask = ">=3"'))
    (project / ".thoth.yaml").write_text(CONFIG.format(host="http://127.0.0.1:1") + "virtualenv: true\n")
    result = run_thamos("install", cwd=project)
    _assert_clean_failure(result, exit_codes.LOCK_MISMATCH, "does not belong to")
    assert not (project / ".venv").exists()
    result = run_thamos("verify", "--lock-only", cwd=project)
    _assert_clean_failure(result, exit_codes.LOCK_MISMATCH, "does not belong to")


def test_purge_acts_on_the_selected_environments(project: Path, run_thamos) -> None:
    (project / ".thoth.yaml").write_text(CONFIG.format(host="http://127.0.0.1:1") + "virtualenv: true\n")

    def fake_venvs() -> None:
        for name in ("alpha", "beta"):
            (project / ".venv" / name).mkdir(parents=True, exist_ok=True)
            (project / ".venv" / name / "pyvenv.cfg").write_text("home = /usr\n")

    fake_venvs()
    (project / ".thoth_last_analysis_id").write_text(ANALYSIS_ID)
    result = run_thamos("purge", "-r", "beta", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / ".venv" / "alpha").is_dir() and not (project / ".venv" / "beta").exists()
    result = run_thamos("purge", cwd=project, THAMOS_RUNTIME_ENVIRONMENT="alpha")
    assert not (project / ".venv" / "alpha").exists()
    fake_venvs()
    result = run_thamos("purge", "--all", cwd=project)
    assert result.returncode == 0, result.stderr
    assert not (project / ".venv").exists() and not (project / ".thoth_last_analysis_id").exists()
    result = run_thamos("purge", "--all", "-r", "alpha", cwd=project)
    assert result.returncode == exit_codes.BAD_INPUT


def test_venv_path_per_environment(project: Path, run_thamos) -> None:
    (project / ".thoth.yaml").write_text(CONFIG.format(host="http://127.0.0.1:1") + "virtualenv: true\n")
    result = run_thamos("venv", "-r", "beta", cwd=project)
    assert result.returncode == 0
    assert Path(result.stdout.strip()) == project.resolve() / ".venv" / "beta"


def test_add_and_remove_commands(project: Path, run_thamos) -> None:
    result = run_thamos("add", "requests>=2", cwd=project)
    assert result.returncode == 0, result.stderr
    assert 'requests = ">=2"' in (project / "Pipfile").read_text()
    result = run_thamos("remove", "requests", cwd=project)
    assert result.returncode == 0, result.stderr
    assert (project / "Pipfile").read_text() == PIPFILE
    _assert_clean_failure(run_thamos("remove", "numpy", cwd=project), exit_codes.BAD_INPUT, "numpy")


def test_discover_lists_third_party_imports(project: Path, run_thamos) -> None:
    (project / "app.py").write_text("import os\nimport flask\nfrom yaml import safe_load\nfrom . import x\n"
                                    "import helpers\n")
    (project / "helpers.py").write_text("import requests.adapters\n")
    result = run_thamos("discover", "--no-lookup", "-o", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    modules = {row["module"] for row in json.loads(result.stdout)}
    assert modules == {"flask", "yaml", "requests"}


def test_token_debug_and_user_agent_reach_the_backend(project: Path, run_thamos, fake_backend: FakeBackend) -> None:
    _configure(project, fake_backend.url)
    result = run_thamos("--debug", "advise", "--no-wait", "--force", cwd=project, THAMOS_TOKEN="s3cret")
    assert result.returncode == 0, result.stderr
    headers = fake_backend.headers[0]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["User-Agent"].startswith("thamos/")
    query = dict(parse_qsl(urlsplit(fake_backend.requests[0][1]).query))
    assert query["debug"] in ("True", "true") and query["force"] in ("True", "true")
    assert "s3cret" not in result.stdout + result.stderr


def test_list_show_and_check_with_two_environments(project: Path, run_thamos) -> None:
    _configure(project, "http://127.0.0.1:1")
    listed = json.loads(run_thamos("list", "-o", "json", cwd=project).stdout)
    assert [env["name"] for env in listed] == ["alpha", "beta"]
    shown = json.loads(run_thamos("show", "-r", "beta", "-o", "json", cwd=project).stdout)
    assert shown["operating_system"] == {"name": "rhel", "version": "9"}
    result = run_thamos("check", "-r", "beta", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stderr
    (project / ".thoth.yaml").write_text(CONFIG.format(host="x").replace("python_version: '3.11'",
                                                                         "python_version: '2.7'"))
    result = run_thamos("check", cwd=project)
    assert result.returncode == 0 and "python_version: configured '2.7'" in result.stderr
