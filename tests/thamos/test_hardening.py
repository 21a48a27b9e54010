"""Bad input of every kind, through the real ``thamos`` entry point (``thamos.cli.main``).

Each case is a small project (files written byte for byte) and a command line. The configured host
refuses connections, so a case that wrongly reaches the network ends with exit code 4 instead of
the expected one. Every case must give its documented exit code, name the problem in one line,
print no traceback and leave every file as it was. The cases run in-process (a subprocess per
case would triple the run time); the configuration singleton is reset between them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.thamos.conftest import snapshot
from thamos import cli, exit_codes
from thamos.config import config

DEAD_HOST = "http://127.0.0.1:9"
ANALYSIS_ID = "adviser-260101000000-0123456789abcdef"
PIPFILE = '[[source]]\nurl = "http://127.0.0.1:9/simple/"\nverify_ssl = true\nname = "local"\n\n' \
          '[packages]\nflask = "*"\n\n[requires]\npython_version = "3.11"\n'


def _config(requirements_format: str = "pipenv", host: str = DEAD_HOST) -> str:
    return (f"host: {host}\nrequirements_format: {requirements_format}\n"
            "runtime_environments:\n  - name: local\n    python_version: '3.11'\n")


def _lock(**changes: object) -> str:
    lock: dict = {"_meta": {"hash": {"sha256": "0" * 64}, "pipfile-spec": 6, "requires": {}, "sources": []},
                  "default": {"flask": {"version": "==3.0.0", "hashes": ["sha256:" + "a" * 64]}}, "develop": {}}
    lock.update(changes)
    return json.dumps(lock)


PIPENV = {".thoth.yaml": _config(), "Pipfile": PIPFILE}
PIP_TOOLS = {".thoth.yaml": _config("pip-tools"), "requirements.in": "flask>=2\n"}

CASES = [
    # (id, files, arguments, exit code, text the error line must contain)
    ("add-to-pipfile-of-wrong-shape", {**PIPENV, "Pipfile": "packages = 3\n"}, ["add", "click"],
     exit_codes.BAD_INPUT, "[packages] must be a table"),
    ("remove-from-binary-pipfile", {**PIPENV, "Pipfile": b"\xff\xfe\x00"}, ["remove", "flask"],
     exit_codes.BAD_INPUT, "not UTF-8 text"),
    ("add-to-binary-requirements-in", {**PIP_TOOLS, "requirements.in": b"\xff\xfe"}, ["add", "click"],
     exit_codes.BAD_INPUT, "not UTF-8 text"),
    ("pipfile-is-a-directory", {**PIPENV, "Pipfile": None}, ["add", "click"],
     exit_codes.BAD_INPUT, "is a directory"),
    ("binary-thoth-yaml", {**PIPENV, ".thoth.yaml": b"\xff\xfe"}, ["list"],
     exit_codes.CONFIGURATION_ERROR, "not UTF-8 text"),
    ("lock-hash-not-an-object", {**PIPENV, "Pipfile.lock": _lock(_meta={"hash": 5})}, ["verify", "--lock-only"],
     exit_codes.BAD_INPUT, "_meta.hash must be an object"),
    ("lock-section-not-a-mapping", {**PIPENV, "Pipfile.lock": _lock(default=[])}, ["install"],
     exit_codes.BAD_INPUT, "'default' must map package names"),
    ("lock-version-not-a-string", {**PIPENV, "Pipfile.lock": _lock(default={"flask": {"version": 3}})},
     ["advise"], exit_codes.BAD_INPUT, "default.flask.version must be a string"),
    ("lock-without-hash", {**PIPENV, "Pipfile.lock": _lock(_meta={})}, ["verify", "--lock-only"],
     exit_codes.LOCK_MISMATCH, "has no _meta.hash.sha256"),
    ("requirements-lock-bad-line", {**PIP_TOOLS, "requirements.txt": "flask==\n"}, ["advise"],
     exit_codes.BAD_INPUT, "requirements.txt line 1: 'flask==' is not a valid requirement"),
    ("requirements-in-bad-line", {**PIP_TOOLS, "requirements.in": "flask\nnot valid here\n"}, ["advise"],
     exit_codes.BAD_INPUT, "requirements.in line 2"),
    ("requirements-lock-not-pinned", {**PIP_TOOLS, "requirements.txt": "flask>=2\n"}, ["verify", "--lock-only"],
     exit_codes.LOCK_MISMATCH, "is not pinned"),
    ("requirements-lock-misses-a-package", {**PIP_TOOLS, "requirements.txt": "click==8.0\n"},
     ["verify", "--lock-only"], exit_codes.LOCK_MISMATCH, "flask is missing"),
    ("requirements-lock-wrong-version", {**PIP_TOOLS, "requirements.txt": "flask==1.0 --hash=sha256:00\n"},
     ["install"], exit_codes.LOCK_MISMATCH, "flask is pinned to 1.0, not >=2"),
    ("provenance-of-requirements-without-hashes", {**PIP_TOOLS, "requirements.txt": "flask==2.0\n"},
     ["provenance-check"], exit_codes.BAD_INPUT, "requirements.txt line 1: flask has no --hash"),
    ("bad-filter-before-any-request", {**PIPENV, ".thoth_last_analysis_id": ANALYSIS_ID}, ["results", "--filter",
     "badfilter"], exit_codes.BAD_INPUT, "expected KEY=REGEX"),
    ("bad-filter-regex", PIPENV, ["results", ANALYSIS_ID, "--filter", "x=("], exit_codes.BAD_INPUT,
     "bad regular expression"),
    ("labels-without-value", PIPENV, ["advise", "--labels", "novalue"], exit_codes.BAD_INPUT, "key=value"),
    ("images-unknown-option", PIPENV, ["images", "--page", "abc"], exit_codes.BAD_INPUT, "No such option"),
    ("run-without-command", PIPENV, ["run"], exit_codes.BAD_INPUT, "Missing argument"),
    ("install-unknown-environment", PIPENV, ["install", "-r", "unknown"], exit_codes.CONFIGURATION_ERROR,
     "No runtime environment named 'unknown'"),
    ("remembered-id-not-an-id", {**PIPENV, ".thoth_last_analysis_id": "adviser-nonsense"}, ["status"],
     exit_codes.BAD_INPUT, "is not an analysis id"),
    ("host-with-bad-port", {**PIPENV, ".thoth.yaml": _config(host="http://localhost:abc")}, ["indexes"],
     exit_codes.CONFIGURATION_ERROR, "invalid port"),
    ("host-not-a-url", {**PIPENV, ".thoth.yaml": _config(host="https://[::1")}, ["environments"],
     exit_codes.CONFIGURATION_ERROR, "is not a valid address"),
    ("missing-ca-bundle", {**PIPENV, ".thoth.yaml": _config(host="https://127.0.0.1:9") + "tls_ca_bundle: x.pem\n"},
     ["images"], exit_codes.CONFIGURATION_ERROR, "x.pem is not a file"),
    ("serve-zero-workers", PIPENV, ["serve", "--workers", "0"], exit_codes.BAD_INPUT, "--workers"),
    ("unreachable-backend", PIPENV, ["environments"], exit_codes.BACKEND_UNREACHABLE, "connection refused"),
]


def _project(tmp_path: Path, files: dict) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name, content in files.items():
        path = project / name
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return project


@pytest.fixture
def fresh_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("THAMOS_RUNTIME_ENVIRONMENT", "THAMOS_REQUIREMENTS_FORMAT", "THAMOS_CONFIG_TEMPLATE",
                 "THAMOS_CONFIG_EXPAND_ENV", "THAMOS_TOKEN", "THAMOS_DEV", "THAMOS_FORCE", "THAMOS_VERBOSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("THAMOS_NO_EMOJI", "1")
    monkeypatch.setenv("THAMOS_NO_PROGRESSBAR", "1")
    monkeypatch.setenv("THAMOS_RETRY_ON_ERROR_SLEEP", "0")
    monkeypatch.setenv("THAMOS_DATA_DIR", str(tmp_path / "data"))
    config.reset()
    config.explicit_host = config.tls_verify = config.token = None
    yield
    config.reset()
    config.explicit_host = config.tls_verify = config.token = None


@pytest.mark.parametrize(("files", "args", "code", "text"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_its_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                                 fresh_config, files: dict, args: list[str], code: int,
                                                 text: str) -> None:
    project = _project(tmp_path, files)
    monkeypatch.chdir(project)
    before = snapshot(project)
    assert cli.main(args) == code
    stderr = capsys.readouterr().err
    assert text in stderr
    assert "Traceback" not in stderr and "Unexpected error" not in stderr
    assert snapshot(project) == before


def test_support_reports_a_broken_configuration_instead_of_failing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys, fresh_config) -> None:
    project = _project(tmp_path, {**PIPENV, ".thoth.yaml": "host: [unclosed\ntoken: s3cr3t-value\n"})
    monkeypatch.chdir(project)
    assert cli.main(["support", "-o", "json"]) == exit_codes.OK
    report = json.loads(capsys.readouterr().out)
    assert report["config_file"] == str(project / ".thoth.yaml")
    assert report["configuration"] is None and "not valid YAML" in report["configuration_error"]
    assert "s3cr3t-value" not in json.dumps(report)


@pytest.mark.parametrize(
    ("variable", "value", "text"),
    [
        ("THAMOS_EMBEDDED_PORT", "abc", "THAMOS_EMBEDDED_PORT must be a port number"),
        ("THAMOS_EMBEDDED_PORT", "70000", "between 1 and 65535"),
        ("THAMOS_EMBEDDED_IDLE_TIMEOUT", "soon", "THAMOS_EMBEDDED_IDLE_TIMEOUT must be a number of seconds"),
        ("THAMOS_TIMEOUT", "-5", "THAMOS_TIMEOUT must not be negative"),
    ],
)
def test_bad_embedded_settings_are_configuration_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,
                                                        fresh_config, variable: str, value: str, text: str) -> None:
    # No .thoth.yaml: the embedded backend would be used, but nothing starts with a bad setting.
    project = _project(tmp_path, {"Pipfile": PIPFILE})
    monkeypatch.chdir(project)
    monkeypatch.setenv("THAMOS_EMBEDDED_PORT", "9")
    monkeypatch.setenv(variable, value)
    assert cli.main(["advise"]) == exit_codes.CONFIGURATION_ERROR
    stderr = capsys.readouterr().err
    assert text in stderr and "Traceback" not in stderr
    assert not (tmp_path / "data" / "embedded-server.pid").exists()


@pytest.mark.parametrize(
    ("variable", "files", "args"),
    [
        ("THAMOS_CONFIG_EXPAND_ENV", PIPENV, ["list"]),
        ("THAMOS_DISABLE_CUDA", {}, ["config", "--stdout"]),
        ("THAMOS_NO_INTERACTIVE", PIPENV, ["config"]),
        ("THAMOS_NO_PROGRESSBAR", PIPENV, ["advise"]),
        ("THAMOS_DISABLE_TLS_WARNING",
         {**PIPENV, ".thoth.yaml": _config(host="https://127.0.0.1:9") + "tls_verify: false\n"}, ["environments"]),
    ],
)
def test_a_yes_no_variable_with_another_word_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, fresh_config, variable: str, files: dict,
    args: list[str],
) -> None:
    project = _project(tmp_path, files)
    monkeypatch.chdir(project)
    before = snapshot(project)
    monkeypatch.setenv(variable, "maybe")
    assert cli.main(args) == exit_codes.CONFIGURATION_ERROR
    stderr = capsys.readouterr().err
    assert stderr.strip().splitlines() == [f"ERROR: {variable} must be one of 1, on, true, yes or 0, false, no, "
                                           "none, off, not 'maybe'"]
    assert snapshot(project) == before
    monkeypatch.setenv(variable, "Off")  # the words of stackfiles.flags, in any case, still work
    assert cli.main(["list"] if files else ["config", "--stdout"]) == exit_codes.OK


def test_global_options_reach_the_error_line_and_stay_out_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, fresh_config,
) -> None:
    # --no-emoji and --verbose are handed to the Ui main() reports failures with, not written into
    # os.environ, where they would outlive the invocation (and reach child processes).
    monkeypatch.delenv("THAMOS_NO_EMOJI")
    project = _project(tmp_path, PIPENV)
    monkeypatch.chdir(project)
    assert cli.main(["--no-emoji", "-v", "status"]) == exit_codes.BAD_INPUT
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("ERROR: No analysis id given")
    assert "THAMOS_NO_EMOJI" not in os.environ and "THAMOS_VERBOSE" not in os.environ
    assert cli.main(["status"]) == exit_codes.BAD_INPUT
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("\u274c No analysis id given")
