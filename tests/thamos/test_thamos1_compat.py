"""thamos 1.x's command line, as written down in data/thamos1_interface.yaml, against this thamos:
every command, every spelling of every option (with an example value) and every environment
variable 1.x read is accepted with no "No such option"; the parser of the real root group decides.
A few invocations also run for real (subprocess) to show the spelling reaches the same setting."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import click
import pytest
import yaml

from thamos import settings
from thamos.cli import cli

INTERFACE = yaml.safe_load((Path(__file__).parent / "data" / "thamos1_interface.yaml").read_text(encoding="utf-8"))


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    cases = [("(global)", spelling, option) for option in INTERFACE["global_options"]
             for spelling in option["spellings"]]
    for command, spec in INTERFACE["commands"].items():
        cases.append((command, "(none)", {"spellings": []}))
        cases.extend((command, spelling, option) for option in spec["options"] for spelling in option["spellings"])
    return cases


def _parse(argv: list[str]) -> click.Context:
    """Parse as `thamos ARGV` would, down to the subcommand, without running anything."""
    root = cli.make_context("thamos", list(argv), resilient_parsing=False)
    with warnings.catch_warnings():  # click 8.2 moves the subcommand's name out of protected_args
        warnings.simplefilter("ignore", DeprecationWarning)
        pending = [*root.protected_args, *root.args]
    name, command, rest = cli.resolve_command(root, pending)
    return command.make_context(name, rest, parent=root)


def _arguments(command: str) -> list[str]:
    return [value for argument in INTERFACE["commands"][command].get("arguments", [])
            for value in argument.get("example", [])]


@pytest.mark.parametrize(("command", "spelling", "option"), _cases(),
                         ids=[f"{c}:{s}" for c, s, _ in _cases()])
def test_every_thamos1_option_is_accepted(command: str, spelling: str, option: dict[str, Any], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    given = [] if spelling == "(none)" else [spelling]
    if "value" in option:
        given.append(str(option["value"]).replace("{dir}", str(tmp_path)))
    if command == "(global)":
        argv = [*given, "version"]
    else:
        argv = [command, *given, *_arguments(command)]
    try:
        context = _parse(argv)
    except click.UsageError as exc:  # NoSuchOption, BadParameter, MissingParameter...
        pytest.fail(f"thamos {' '.join(argv)}: {exc.format_message()}")
    if command != "(global)":
        assert context.command.name == command


def test_the_variables_of_thamos1_mean_the_same() -> None:
    """Each is in the settings table; one 1.x gave an option is read by that option here too
    (or by thamos itself: the runtime environment, --no-interactive)."""
    missing = [name for name in INTERFACE["environment_variables"] if name not in settings.VARIABLES]
    assert not missing, f"variables of thamos 1.x unknown here: {missing}"
    root = click.Context(cli)
    for command, spec in INTERFACE["commands"].items():
        ours = cli.get_command(root, command)
        for option in spec["options"]:
            if "envvar" not in option:
                continue
            spelling = option["spellings"][0]
            param = next(p for p in ours.params if spelling in (*p.opts, *getattr(p, "secondary_opts", [])))
            read_by_thamos = settings.VARIABLES[option["envvar"]].read_by == "thamos"
            assert param.envvar == option["envvar"] or read_by_thamos, (command, spelling)


def test_thamos1_spellings_do_what_they_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-t is the host globally and the recommendation type in advise; -l the labels; -W no write;
    -j JSON; -A all; -P no pedantic; -d the working directory."""
    monkeypatch.chdir(tmp_path)
    advise = _parse(["-t", "localhost:9", "advise", "-t", "security", "-l", "a=b", "-W", "-j", "--no-dev"])
    assert advise.parent.params["host"] == "localhost:9"
    assert advise.params["recommendation_type"] == "security" and advise.params["labels"] == "a=b"
    assert advise.params["no_write"] and advise.params["as_json"] and advise.params["dev"] is False
    assert _parse(["purge", "-A"]).params["purge_all"]
    assert _parse(["run", "-P", "true"]).params["pedantic"] == "quiet"
    assert _parse(["results", "-f", "type=INFO", "-l", "-j"]).params["filters"] == ("type=INFO",)
    assert _parse(["graph", "--fold"]).params["fold"] is True
    monkeypatch.setenv("THAMOS_GRAPH_FOLD", "1")
    assert _parse(["graph"]).params["fold"] is True
    monkeypatch.setenv("THAMOS_RECOMMENDATION_TYPE", "performance")
    monkeypatch.setenv("THAMOS_LABELS", "x=y")
    advise = _parse(["advise"])
    assert advise.params["recommendation_type"] == "performance" and advise.params["labels"] == "x=y"


def test_workdir_and_support_output(tmp_path: Path, run_thamos) -> None:
    project = tmp_path / "project"
    project.mkdir()
    result = run_thamos("-d", str(project), "support", "--output", "report.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "thamos" in yaml.safe_load((project / "report.yaml").read_text())
    result = run_thamos("support", "-o", "json", cwd=project)  # ours: a format; 1.x: a file name
    assert result.returncode == 0 and "thamos" in json.loads(result.stdout)
    result = run_thamos("support", "-o", "other.yaml", cwd=project)
    assert result.returncode == 0 and (project / "other.yaml").is_file()
    result = run_thamos("-d", str(tmp_path / "missing"), "list", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_images_filters_are_sent_as_thamos1_sent_them(tmp_path: Path, run_thamos, fake_backend) -> None:
    result = run_thamos("-t", fake_backend.url, "images", "-n", "debian", "-v", "12", "-p", "3.11",
                        "--package-name", "numpy", "--rpm-package-name", "glibc", "--library-name", "libssl.so.3",
                        "--symbol", "GLIBC_2.34", "-o", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    method, path = fake_backend.requests[-1]
    query = dict(parse_qsl(urlsplit(path).query))
    assert method == "GET" and urlsplit(path).path.endswith("/container-images")
    assert query == {"page": "0", "os_name": "debian", "os_version": "12", "python_version": "3.11",
                     "package_name": "numpy", "rpm_package_name": "glibc", "library_name": "libssl.so.3",
                     "symbol": "GLIBC_2.34"}
