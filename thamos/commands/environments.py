"""Commands on this machine and its runtime environments: .thoth.yaml (config, check, list, show),
the project's imports (discover) and reports for bug reports (support, version)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import click

from .. import __version__, lib
from ..config import CONFIG_NAME, config, find_config_file
from ..exceptions import ConfigExistsError, ConfigurationError, ThamosError
from ..machine import discover_runtime_environment
from ..project_imports import imported_modules
from ..redact import redact_secrets
from ..render import emit, key_value_rows
from .options import interactive, output_format_option, runtime_environment_option, state


@click.command("config")
@click.option("--template", type=click.Path(dir_okay=False), envvar="THAMOS_CONFIG_TEMPLATE",
              help="Configuration template to fill (THAMOS_CONFIG_TEMPLATE).")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Replace an existing .thoth.yaml (THAMOS_FORCE).")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the configuration instead of writing it.")
def config_command(template: str | None, force: bool, to_stdout: bool) -> None:
    """Create .thoth.yaml from this machine's hardware and software (or from a template)."""
    ui = state().ui
    if to_stdout:
        click.echo(config.create_default_config(template, nowrite=True), nl=False)
        return
    target = Path.cwd() / CONFIG_NAME
    if target.exists() and not force:
        if not interactive() or not click.confirm(f"{target} exists, replace it?", default=False, err=True):
            raise ConfigExistsError(f"{target} already exists; use --force (or THAMOS_FORCE=1) to replace it")
        force = True
    config.create_default_config(template, force=force)
    ui.message("ok", f"Configuration written to {target}")


@click.command("check")
@runtime_environment_option
def check_command(runtime_environment: str | None) -> None:
    """Validate .thoth.yaml and compare a runtime environment with this machine."""
    ui = state().ui
    config.load_config()
    environment = config.get_runtime_environment(runtime_environment)
    ui.message("ok", f"{config.config_path} is valid; checking runtime environment {environment['name']!r}")
    here = discover_runtime_environment(environment["name"])
    differences = 0
    for row in key_value_rows({k: v for k, v in environment.items() if k not in ("name", "labels")}):
        discovered: Any = here
        for part in row["key"].split("."):
            discovered = discovered.get(part) if isinstance(discovered, dict) else None
        if row["key"] in ("recommendation_type",) or row["value"] in (None, ""):
            continue
        if discovered is not None and str(discovered) != str(row["value"]):
            differences += 1
            ui.message("warn", f"{row['key']}: configured {row['value']!r}, this machine has {discovered!r}")
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
@click.argument("path", required=False, type=click.Path(file_okay=False, exists=True))
@output_format_option
def discover_command(no_lookup: bool, path: str | None, output_format: str) -> None:
    """Find the third-party modules the project imports and the packages providing them."""
    root = Path(path) if path else config.project_root
    modules = imported_modules(root)
    rows = []
    backend = None if no_lookup else lib.Backend()
    for module, where in modules.items():
        providers = [] if backend is None else lib.whatprovides(module, backend=backend)
        names = sorted({p.get("package_name") for p in providers if p.get("package_name")})
        rows.append({"module": module, "packages": names, "files": where})
    emit(state().ui, rows, output_format, columns=[("Module", "module"), ("Packages", "packages"),
                                                   ("Imported in", "files")], title=f"Imports in {root}")


@click.command("support")
@output_format_option
def support_command(output_format: str) -> None:
    """A report for bug reports: versions, configuration and environment (secrets redacted)."""
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
    emit(state().ui, report, "yaml" if output_format == "table" else output_format)


@click.command("version")
@output_format_option
def version_command(output_format: str) -> None:
    """Print the client's and the backend's versions."""
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
