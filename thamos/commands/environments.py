"""Commands on this machine and its runtime environments: .thoth.yaml (config, check, list, show),
the project's imports (discover) and reports for bug reports (support, version)."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from packaging.utils import canonicalize_name

from .. import __version__, lib, manifest
from ..config import CONFIG_NAME, config, find_config_file
from ..exceptions import ConfigExistsError, ConfigurationError, ThamosError
from ..machine import discover_runtime_environment
from ..project_files import atomic_write
from ..project_imports import imported_modules
from ..redact import redact_secrets
from ..render import OUTPUT_FORMATS, emit, key_value_rows
from .options import interactive, output_format_option, runtime_environment_option, selected, state


@click.command("config")
@click.option("-t", "--template", type=click.Path(dir_okay=False), envvar="THAMOS_CONFIG_TEMPLATE",
              help="Configuration template to fill (THAMOS_CONFIG_TEMPLATE).")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Replace an existing .thoth.yaml (THAMOS_FORCE).")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the configuration instead of writing it.")
@click.option("-I", "--no-interactive", is_flag=True,
              help="Never ask (= THAMOS_NO_INTERACTIVE): an existing .thoth.yaml is kept unless --force.")
def config_command(template: str | None, force: bool, to_stdout: bool, no_interactive: bool) -> None:
    """Create .thoth.yaml from this machine's hardware and software (or from a template)."""
    ui = state().ui
    if to_stdout:
        click.echo(config.create_default_config(template, nowrite=True), nl=False)
        return
    target = Path.cwd() / CONFIG_NAME
    if target.exists() and not force:
        if no_interactive or not interactive() or not click.confirm(f"{target} exists, replace it?", default=False, err=True):
            raise ConfigExistsError(f"{target} already exists; use --force (or THAMOS_FORCE=1) to replace it")
        force = True
    config.create_default_config(template, force=force)
    ui.message("ok", f"Configuration written to {target}")


def environment_differences(environment: dict[str, Any]) -> list[dict[str, Any]]:
    """Where a configured runtime environment differs from this machine (key, configured, discovered)."""
    here = discover_runtime_environment(environment["name"])
    differences = []
    for row in key_value_rows({k: v for k, v in environment.items() if k not in ("name", "labels")}):
        discovered: Any = here
        for part in row["key"].split("."):
            discovered = discovered.get(part) if isinstance(discovered, dict) else None
        if row["key"] in ("recommendation_type",) or row["value"] in (None, ""):
            continue
        if discovered is not None and str(discovered) != str(row["value"]):
            differences.append({"key": row["key"], "configured": row["value"], "discovered": discovered})
    return differences


@click.command("check")
@runtime_environment_option
@click.option("-o", "--output-format", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True,
              help="table: messages; json or yaml: the runtime environment and its differences from this machine.")
def check_command(runtime_environment: str | None, output_format: str) -> None:
    """Validate .thoth.yaml and compare a runtime environment with this machine."""
    ui = state().ui
    config.load_config()
    environment = config.get_runtime_environment(runtime_environment)
    differences = environment_differences(environment)
    if output_format != "table":
        emit(ui, {"config_file": str(config.config_path), "runtime_environment": environment,
                  "differences": differences}, output_format)
        return
    ui.message("ok", f"{config.config_path} is valid; checking runtime environment {environment['name']!r}")
    for item in differences:
        ui.message("warn", f"{item['key']}: configured {item['configured']!r}, this machine has {item['discovered']!r}")
    if not differences:
        ui.message("ok", "This machine matches the runtime environment")


@click.command("list")
@output_format_option
def list_command(output_format: str) -> None:
    """List the configured runtime environments."""
    environments = config.list_runtime_environments()
    rows = [
        {
            "name": env.get("name"),
            "os": " ".join(filter(None, [(env.get("operating_system") or {}).get("name"),
                                         (env.get("operating_system") or {}).get("version")])) or None,
            "python": env.get("python_version"),
            "cuda": env.get("cuda_version"),
            "platform": env.get("platform"),
            "recommendation_type": config.get_recommendation_type(env),
        }
        for env in environments
    ]
    columns = [("Name", "name"), ("OS", "os"), ("Python", "python"), ("CUDA", "cuda"), ("Platform", "platform"),
               ("Recommendation", "recommendation_type")]
    emit(state().ui, environments, output_format, rows=rows, columns=columns, title="Runtime environments")


@click.command("show")
@runtime_environment_option
@output_format_option
def show_command(runtime_environment: str | None, output_format: str) -> None:
    """Show one runtime environment's configuration."""
    environment = config.get_runtime_environment(runtime_environment)
    emit(state().ui, environment, output_format, rows=key_value_rows(environment),
         columns=[("Key", "key"), ("Value", "value")], title=f"Runtime environment {environment['name']}")


@click.command("discover")
@click.option("--no-lookup", is_flag=True, help="Only list imported modules, do not ask the backend.")
@click.option("-s", "--src-path", type=click.Path(file_okay=False, exists=True), envvar="THAMOS_SOURCE_PATH",
              help="Directory of the sources (= PATH; THAMOS_SOURCE_PATH).")
@click.option("--add", "add_found", is_flag=True,
              help="Add the packages found to the requirements (as thamos 1.x's discover did).")
@click.option("-r", "--runtime-environment", metavar="NAME",
              help="Add the packages found to this runtime environment's requirements (implies --add).")
@click.argument("path", required=False, type=click.Path(file_okay=False, exists=True))
@output_format_option
def discover_command(no_lookup: bool, src_path: str | None, add_found: bool, runtime_environment: str | None,
                     path: str | None, output_format: str) -> None:
    """Find the third-party modules the project imports and the packages providing them."""
    ui = state().ui
    root = Path(path or src_path) if (path or src_path) else config.project_root
    modules = imported_modules(root)
    rows = []
    backend = None if no_lookup else lib.Backend()
    for module, where in modules.items():
        providers = [] if backend is None else lib.whatprovides(module, backend=backend)
        names = sorted({p.get("package_name") for p in providers if p.get("package_name")})
        rows.append({"module": module, "packages": names, "files": where})
    emit(ui, rows, output_format, columns=[("Module", "module"), ("Packages", "packages"),
                                           ("Imported in", "files")], title=f"Imports in {root}")
    unknown = [row["module"] for row in rows if not row["packages"]]
    if backend is not None and unknown:
        ui.message("warn", f"No known package provides: {', '.join(unknown)}")
    if add_found or runtime_environment:
        _add_discovered(rows, runtime_environment)


def _add_discovered(rows: list[dict[str, Any]], runtime_environment: str | None) -> None:
    """Add a providing package per module (the one named like the module when several do)."""
    wanted: list[str] = []
    for row in rows:
        if row["packages"]:
            same = [name for name in row["packages"] if canonicalize_name(name) == canonicalize_name(row["module"])]
            wanted.append((same or row["packages"])[0])
    if not wanted:
        state().ui.message("info", "Nothing to add")
        return
    _, files = selected(runtime_environment)
    path = manifest.add(files, sorted(set(wanted)), keep_existing=True)
    state().ui.message("ok", f"Added {', '.join(sorted(set(wanted)))} to {path}")


@click.command("support")
@click.option("-o", "--output-format", "output_format", metavar="FORMAT|FILE", default="table",
              help="yaml (table), json; any other value is a FILE to write the YAML report to (thamos 1.x's -o).")
@click.option("--output", "output", metavar="FILE", help="Write the report to FILE ('-': standard output).")
def support_command(output_format: str, output: str | None) -> None:
    """A report for bug reports: versions, configuration and environment (secrets redacted)."""
    if output_format not in OUTPUT_FORMATS:
        output, output_format = output or output_format, "table"
    report = _support_report()
    text_format = "yaml" if output_format == "table" else output_format
    if output and output != "-":
        text = json.dumps(report, indent=2, sort_keys=True) + "\n" if text_format == "json" else yaml.safe_dump(
            report, sort_keys=False, default_flow_style=False)
        atomic_write(Path(output), text)
        state().ui.message("ok", f"Support report written to {output}")
        return
    emit(state().ui, report, text_format)


def _support_report() -> dict[str, Any]:
    # A broken .thoth.yaml is a common reason to ask for support: report it instead of failing.
    try:
        configuration: Any = redact_secrets(config.content)
        configuration_error = None
    except ConfigurationError as exc:
        configuration, configuration_error = None, exc.message
    found = find_config_file()
    report: dict[str, Any] = {
        "thamos": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "config_file": str(found) if found else None,
        "configuration": configuration,
        "configuration_error": configuration_error,
        "environment_variables": redact_secrets({k: v for k, v in sorted(os.environ.items()) if k.startswith("THAMOS_")}),
        "discovered": discover_runtime_environment(),
    }
    try:
        import swagger_client  # about 0.12 s: only this report needs it among the local commands

        report["swagger_client"] = getattr(swagger_client, "__version__", None)
    except ImportError:
        report["swagger_client"] = None
    return report


@click.command("version")
@output_format_option
@click.option("-j", "--json", "as_json", is_flag=True, help="Print as JSON (= -o json).")
def version_command(output_format: str, as_json: bool) -> None:
    """Print the client's and the backend's versions."""
    if as_json:
        output_format = "json"
    ui = state().ui
    failure: ThamosError | None = None
    try:
        versions = lib.get_versions()
    except ThamosError as exc:
        failure = exc
        versions = {"client_version": __version__, "server_version": None, "error": exc.message}
    emit(ui, versions, output_format, rows=key_value_rows(versions), columns=[("Key", "key"), ("Value", "value")],
         title="Versions")
    if failure is not None:
        click.get_current_context().exit(failure.exit_code)


COMMANDS = (config_command, check_command, list_command, show_command, discover_command, support_command,
            version_command)
