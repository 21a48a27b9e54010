"""The deployment files in deploy/ ask thamos for what it has: every command line parses with the
real CLI and every THAMOS_ variable is one the server reads."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
import yaml

from thamos.cli import cli
from userapi.options import OPTIONS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _thamos_containers():
    """(file, arguments, environment variable names) of each container that runs the thamos image."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if service.get("image", "").startswith("thamos"):
            yield f"compose.yaml:{name}", service["command"], set(service.get("environment", {}))
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            spec = (document or {}).get("spec", {}).get("template", {}).get("spec", {})
            for container in spec.get("containers", []):
                if container["image"].startswith("thamos"):
                    names = {entry["name"] for entry in container.get("env", [])}
                    yield f"{path.name}:{container['name']}", container["args"], names


def _unparsed(context: click.Context) -> list[str]:
    with warnings.catch_warnings():  # click 8.2 deprecates protected_args; click 9 puts them in args
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*context.protected_args, *context.args]


def _parse(arguments: list[str]) -> None:
    context = cli.make_context("thamos", list(arguments))
    command: click.Command = cli
    while isinstance(command, click.Group):
        _, command, rest = command.resolve_command(context, _unparsed(context))
        context = command.make_context(command.name, rest, parent=context)


def test_deployed_commands_and_variables_are_thamos_own():
    known = {option.env for option in OPTIONS.values() if option.env} | {"THAMOS_WORKER_HEARTBEAT"}
    seen = set()
    for where, arguments, variables in _thamos_containers():
        _parse(arguments)  # a click error names the flag thamos does not know
        unknown = {name for name in variables if name.startswith("THAMOS_")} - known
        assert not unknown, f"{where}: {unknown}"
        seen.add(arguments[0])
    assert seen == {"serve", "worker", "db"}
