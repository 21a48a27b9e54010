"""Commands on the project's files: its direct requirements, the lock, the managed virtualenv and
what is installed in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stackfiles import lock_diff

from .. import install as installer
from .. import manifest
from ..config import CONFIG_NAME, config
from ..exceptions import BadInputError, ConfigurationError
from ..project_files import ProjectFiles, read_user_file
from .environments import environment_differences
from .options import runtime_environment_option, selected, state


def _target_python(environment: dict[str, Any], *, create: bool) -> tuple[Path, Path | None]:
    """(python, managed venv dir or None) for an environment."""
    if config.virtualenv:
        path = installer.venv_path(config.project_root, environment["name"])
        python = installer.create_venv(path) if create else installer.venv_python(path)
        return python, path
    return installer.current_python(), None


def install_lock(environment: dict[str, Any], files: ProjectFiles, *, dev: bool, pip_args: list[str]) -> None:
    """Install the environment's lock (also `thamos advise --install`)."""
    ui = state().ui
    installer.check_lock(files)  # a lock that does not match fails before any virtualenv is made
    python, venv_dir = _target_python(environment, create=True)
    where = f"virtual environment {venv_dir}" if venv_dir else f"{python}"
    ui.message("info", f"Installing {files.lock_file} into {where}")
    installer.install(files, python, dev=dev, pip_args=pip_args)
    ui.message("ok", f"Installed {files.lock_file.name} for {environment['name']!r}")


@click.command("install", context_settings={"ignore_unknown_options": False})
@runtime_environment_option
@click.option("--dev/--no-dev", envvar="THAMOS_DEV", help="Install the development packages too (THAMOS_DEV).")
@click.option("--force-reinstall", is_flag=True, help="Reinstall every locked package (pip --force-reinstall).")
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def install_command(runtime_environment: str | None, dev: bool, force_reinstall: bool, pip_args: tuple[str, ...]) -> None:
    """Install the lock (pip options after `--`, e.g. `thamos install -- --proxy URL`)."""
    environment, files = selected(runtime_environment)
    extra = ["--force-reinstall"] if force_reinstall and "--force-reinstall" not in pip_args else []
    install_lock(environment, files, dev=dev, pip_args=[*extra, *pip_args])


@click.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@runtime_environment_option
@click.option("--pedantic", "pedantic", flag_value="pedantic",
              help="Do not run when this machine differs from the runtime environment configured.")
@click.option("-P", "--no-pedantic", "pedantic", flag_value="quiet", envvar="THAMOS_RUN_NO_PEDANTIC",
              help="Do not compare this machine with the runtime environment (THAMOS_RUN_NO_PEDANTIC).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_command(runtime_environment: str | None, pedantic: str | None, command: tuple[str, ...]) -> None:
    """Run a command in the environment's virtualenv with its .env variables; exits with its code.

    Differences between this machine and the configured runtime environment are warnings, errors
    with --pedantic, not looked for with -P."""
    environment, files = selected(runtime_environment)
    if pedantic != "quiet":
        _compare_machine(environment, strict=pedantic == "pedantic")
    venv_dir = None
    if config.virtualenv:
        venv_dir = installer.venv_path(config.project_root, environment["name"])
        if not installer.venv_python(venv_dir).exists():
            raise BadInputError(f"No virtual environment at {venv_dir}; run `thamos install` first")
    dotenv = files.dotenv if files.dotenv.is_file() else config.project_root / ".env"
    code = installer.run(list(command), venv_dir=venv_dir, dotenv=dotenv)
    click.get_current_context().exit(code)


def _compare_machine(environment: dict[str, Any], *, strict: bool) -> None:
    differences = environment_differences(environment)
    for item in differences:
        text = f"{item['key']}: configured {item['configured']!r}, this machine has {item['discovered']!r}"
        state().ui.message("error" if strict else "warn", text)
    if strict and differences:
        raise ConfigurationError(
            f"This machine differs from runtime environment {environment['name']!r} in {len(differences)} "
            "setting(s); not run (--pedantic)"
        )


@click.command("venv")
@runtime_environment_option
@click.option("--create", is_flag=True, help="Create the virtual environment if it does not exist.")
def venv_command(runtime_environment: str | None, create: bool) -> None:
    """Print the path of the environment's managed virtualenv (create it with --create)."""
    environment = config.get_runtime_environment(runtime_environment)
    path = installer.venv_path(config.project_root, environment["name"])
    if not config.virtualenv:
        where = str(config.config_path) if config.has_config_file else f"the defaults (no {CONFIG_NAME})"
        state().ui.message("warn", f"virtualenv management is off in {where} (virtualenv: true turns it on)")
    if create:
        installer.create_venv(path)
    click.echo(str(path))


@click.command("purge")
@runtime_environment_option
@click.option("-A", "--all", "purge_all", is_flag=True, help="Act on every runtime environment.")
def purge_command(runtime_environment: str | None, purge_all: bool) -> None:
    """Remove managed virtualenv(s) and remembered analysis ids."""
    ui = state().ui
    if purge_all and runtime_environment:
        raise click.UsageError("--all and --runtime-environment exclude each other")
    environments = (config.list_runtime_environments() if purge_all
                    else [config.get_runtime_environment(runtime_environment)])
    removed: list[str] = []
    for environment in environments:
        venv_dir = installer.venv_path(config.project_root, environment["name"])
        if installer.remove_venv(venv_dir):
            removed.append(str(venv_dir))
        files = ProjectFiles(config.files_dir(environment["name"]))
        for id_file in (files.last_analysis_id, files.last_analysis_ids):
            if id_file.is_file():
                id_file.unlink()
                removed.append(str(id_file))
    venv_root = config.project_root / installer.VENV_DIR
    if purge_all and venv_root.is_dir() and not any(venv_root.iterdir()):
        venv_root.rmdir()
    for path in removed:
        ui.message("ok", f"Removed {path}")
    if not removed:
        ui.message("info", "Nothing to remove")


@click.command("verify")
@runtime_environment_option
@click.option("--dev", is_flag=True, envvar="THAMOS_DEV", help="Check the development packages too.")
@click.option("--lock-only", is_flag=True, help="Only check the lock against its Pipfile, not the installation.")
def verify_command(runtime_environment: str | None, dev: bool, lock_only: bool) -> None:
    """Check the lock matches the Pipfile and the installed packages match the lock."""
    ui = state().ui
    environment, files = selected(runtime_environment)
    lock = installer.check_lock(files)
    if lock is not None:
        ui.message("ok", f"{files.pipfile_lock.name} matches {files.pipfile.name}")
    elif files.input_file != files.requirements_txt:
        ui.message("ok", f"{files.requirements_txt.name} locks {files.input_file.name}")
    if lock_only:
        return
    if lock is None:
        lock = _lock_from_requirements_txt(files)
    python, venv_dir = _target_python(environment, create=False)
    if not python.exists():
        raise installer.LockMismatchError(f"No virtual environment at {venv_dir}; run `thamos install`")
    problems = installer.compare_installed(lock, python, dev=dev, directory=files.directory)
    if problems:
        for problem in problems:
            ui.message("error", problem)
        raise installer.LockMismatchError(f"{len(problems)} package(s) differ from {files.lock_file.name} in {python}")
    ui.message("ok", f"Installed packages of {python} match {files.lock_file.name}")


def _lock_from_requirements_txt(files: ProjectFiles) -> dict[str, Any]:
    packages = lock_diff.packages_of_requirements_txt(read_user_file(files.requirements_txt))
    return {"default": {entry["name"]: {"version": "==" + entry["version"]} for entry in packages.values()}}


@click.command("add")
@runtime_environment_option
@click.option("--dev", is_flag=True, help="Add to the development packages.")
@click.option("-i", "--index-url", metavar="URL",
              help="Take them from this index: a [[source]] with this URL is reused or added.")
@click.argument("requirements", nargs=-1, required=True)
def add_command(runtime_environment: str | None, dev: bool, index_url: str | None,
                requirements: tuple[str, ...]) -> None:
    """Add direct requirements (e.g. `thamos add 'flask>=2' requests`)."""
    _, files = selected(runtime_environment)
    path = manifest.add(files, list(requirements), dev=dev, index_url=index_url)
    state().ui.message("ok", f"Updated {path}; run `thamos advise` to lock")


@click.command("remove")
@runtime_environment_option
@click.option("--dev", "dev", flag_value=True, default=None,
              help="Only from the development packages (default: from both sections).")
@click.argument("names", nargs=-1, required=True)
def remove_command(runtime_environment: str | None, dev: bool | None, names: tuple[str, ...]) -> None:
    """Remove direct requirements by name."""
    _, files = selected(runtime_environment)
    path = manifest.remove(files, list(names), dev=dev)
    state().ui.message("ok", f"Updated {path}; run `thamos advise` to lock")


COMMANDS = (add_command, remove_command, install_command, run_command, venv_command, purge_command, verify_command)
