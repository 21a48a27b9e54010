"""The ``thamos`` command.

Errors are printed as one line (details with --verbose) and mapped to the exit codes documented in
``thamos.exit_codes``; no command prints a traceback for an expected failure.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__, exit_codes, lib, lockdiff, manifest
from . import install as installer
from .config import CONFIG_NAME, RECOMMENDATION_TYPES, config, env_flag, find_config_file, parse_labels
from .exceptions import (
    AnalysisFailedError,
    BadInputError,
    ConfigExistsError,
    ConfigurationError,
    NoAnalysisIdError,
    ThamosError,
)
from .project_files import ProjectFiles, read_user_file
from .redact import redact_secrets
from .render import OUTPUT_FORMATS, Ui, emit, key_value_rows

_LOGGER = logging.getLogger("thamos")


class State:
    def __init__(self, ui: Ui, debug: bool) -> None:
        self.ui = ui
        self.debug = debug


def _state() -> State:
    return click.get_current_context().find_object(State)


# ---------------------------------------------------------------------- shared options
def runtime_environment_option(func):
    return click.option(
        "-r",
        "--runtime-environment",
        "runtime_environment",
        envvar="THAMOS_RUNTIME_ENVIRONMENT",
        metavar="NAME",
        help="Runtime environment from .thoth.yaml (default: THAMOS_RUNTIME_ENVIRONMENT, else the first).",
    )(func)


def output_format_option(func):
    return click.option(
        "-o",
        "--output-format",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="How to print the result.",
    )(func)


def analysis_id_argument(func):
    return click.argument("analysis_id", required=False)(func)


def _selected(runtime_environment: str | None) -> tuple[dict[str, Any], ProjectFiles]:
    environment = config.get_runtime_environment(runtime_environment)
    files = ProjectFiles(config.files_dir(environment["name"]), config.requirements_format)
    return environment, files


def _analysis_id(analysis_id: str | None, runtime_environment: str | None) -> str:
    if analysis_id:
        return analysis_id.strip()
    _, files = _selected(runtime_environment)
    remembered = files.recall_analysis_id()
    if remembered is None:
        raise NoAnalysisIdError(
            f"No analysis id given and none remembered in {files.last_analysis_id}; pass one explicitly"
        )
    return remembered


def _interactive() -> bool:
    return not env_flag("THAMOS_NO_INTERACTIVE") and sys.stdin.isatty()


# ---------------------------------------------------------------------- the group
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("-v", "--verbose", is_flag=True, envvar="THAMOS_VERBOSE", help="Show what thamos does (THAMOS_VERBOSE).")
@click.option(
    "--debug", is_flag=True, envvar="THAMOS_DEBUG", help="Ask the backend to run analyses in debug mode (THAMOS_DEBUG)."
)
@click.option("--no-emoji", is_flag=True, envvar="THAMOS_NO_EMOJI", help="Plain text markers (THAMOS_NO_EMOJI).")
@click.option("--host", metavar="URL", help="Backend to use instead of the configured one.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, debug: bool, no_emoji: bool, host: str | None) -> None:
    """Recommended, locked and explained Python software stacks for your runtime environment."""
    if verbose:
        os.environ["THAMOS_VERBOSE"] = "1"
    if no_emoji:
        os.environ["THAMOS_NO_EMOJI"] = "1"
    ui = Ui()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # The generated client logs full bodies at DEBUG; keep it quiet unless asked.
        logging.getLogger("swagger_client").setLevel(logging.WARNING)
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    if host:
        config.explicit_host = host
    ctx.obj = State(ui, debug)


# ---------------------------------------------------------------------- configuration
@cli.command("config")
@click.option("--template", type=click.Path(dir_okay=False), envvar="THAMOS_CONFIG_TEMPLATE",
              help="Configuration template to fill (THAMOS_CONFIG_TEMPLATE).")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Replace an existing .thoth.yaml (THAMOS_FORCE).")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the configuration instead of writing it.")
def config_command(template: str | None, force: bool, to_stdout: bool) -> None:
    """Create .thoth.yaml from this machine's hardware and software (or from a template)."""
    ui = _state().ui
    if to_stdout:
        click.echo(config.create_default_config(template, nowrite=True), nl=False)
        return
    target = Path.cwd() / CONFIG_NAME
    if target.exists() and not force:
        if not _interactive() or not click.confirm(f"{target} exists, replace it?", default=False, err=True):
            raise ConfigExistsError(f"{target} already exists; use --force (or THAMOS_FORCE=1) to replace it")
        force = True
    config.create_default_config(template, force=force)
    ui.message("ok", f"Configuration written to {target}")


@cli.command("check")
@runtime_environment_option
def check_command(runtime_environment: str | None) -> None:
    """Validate .thoth.yaml and compare a runtime environment with this machine."""
    from .discover import discover_runtime_environment

    ui = _state().ui
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


@cli.command("list")
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
    emit(_state().ui, environments, output_format, rows=rows, columns=columns, title="Runtime environments")


@cli.command("show")
@runtime_environment_option
@output_format_option
def show_command(runtime_environment: str | None, output_format: str) -> None:
    """Show one runtime environment's configuration."""
    environment = config.get_runtime_environment(runtime_environment)
    emit(_state().ui, environment, output_format, rows=key_value_rows(environment),
         columns=[("Key", "key"), ("Value", "value")], title=f"Runtime environment {environment['name']}")


# ---------------------------------------------------------------------- advise
def _print_advise_report(ui: Ui, document: dict[str, Any], short: bool) -> None:
    report = (document.get("result") or {}).get("report") or {}
    stack_info = report.get("stack_info") or [] if isinstance(report, dict) else []
    products = lib.advise_products(document)
    justification = products[0].get("justification") or [] if products else []
    rows = [{"type": item.get("type"), "package": item.get("package_name"), "message": item.get("message"),
             "link": item.get("link")} for item in [*stack_info, *justification]]
    if short:
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["type"] or "INFO"] = counts.get(row["type"] or "INFO", 0) + 1
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())) or "no remarks"
        ui.message("info", f"Report: {summary}")
        return
    emit(ui, rows, "table", columns=[("Type", "type"), ("Package", "package"), ("Message", "message"),
                                     ("Link", "link")], title="Justification")
    if products:
        locked = (products[0].get("project") or {}).get("requirements_locked") or {}
        package_rows = [
            {"section": section, "package": name, "version": _locked_as(entry or {}),
             "index": (entry or {}).get("index")}
            for section in ("default", "develop") for name, entry in sorted((locked.get(section) or {}).items())
        ]
        emit(ui, package_rows, "table", columns=[("Section", "section"), ("Package", "package"),
                                                 ("Version", "version"), ("Index", "index")], title="Locked stack")


def _locked_as(entry: dict[str, Any]) -> Any:
    """The version of a lock entry; for local path and git packages (no version) where it comes from."""
    if entry.get("version") or not ("git" in entry or "path" in entry):
        return entry.get("version")
    return f"git {str(entry.get('ref'))[:12]}" if "git" in entry else f"path {entry['path']}"


def _print_failure(ui: Ui, document: dict[str, Any]) -> None:
    report = (document.get("result") or {}).get("report") or {}
    items = report.get("stack_info") or [] if isinstance(report, dict) else []
    error_msg = lib.result_error(document)
    for item in items:
        if item.get("message") == error_msg:
            continue  # printed once, as the command's error line
        if item.get("type") in ("ERROR", "WARNING"):
            ui.message("warn" if item.get("type") == "WARNING" else "error", item.get("message") or "")


@cli.command("advise")
@runtime_environment_option
@click.option("--recommendation-type", type=click.Choice(RECOMMENDATION_TYPES),
              help="Rule set choosing the versions (default: from the runtime environment, else stable).")
@click.option("--labels", metavar="'k=v;k2=v2'", help="Labels for the request; win over the configured ones.")
@click.option("--dev", is_flag=True, envvar="THAMOS_DEV", help="Resolve the development packages too (THAMOS_DEV).")
@click.option("--no-user-stack", is_flag=True, envvar="THAMOS_NO_USER_STACK",
              help="Do not send the existing lock as the starting point (THAMOS_NO_USER_STACK).")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Compute afresh, no cached answers (THAMOS_FORCE).")
@click.option("--no-wait", is_flag=True, help="Only submit; print the analysis id.")
@click.option("--no-write", is_flag=True, help="Do not write the lock files.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result document as JSON (= -o json).")
@click.option("--short", is_flag=True, help="Print only a summary of the report.")
@click.option("--install", "then_install", is_flag=True, help="Install the advised stack afterwards.")
@click.option("--origin", help="Where the project comes from (kept with the analysis).")
@output_format_option
def advise_command(
    runtime_environment: str | None,
    recommendation_type: str | None,
    labels: str | None,
    dev: bool,
    no_user_stack: bool,
    force: bool,
    no_wait: bool,
    no_write: bool,
    as_json: bool,
    short: bool,
    then_install: bool,
    origin: str | None,
    output_format: str,
) -> None:
    """Ask the backend for a recommended lock and write it for the runtime environment."""
    state = _state()
    ui = state.ui
    if as_json:
        output_format = "json"
    if then_install and (no_write or no_wait):
        raise click.UsageError("--install needs the advised lock: it cannot go with --no-write or --no-wait")
    try:
        cli_labels = parse_labels(labels)
    except ValueError as exc:
        raise BadInputError(f"--labels: {exc}") from None
    environment, files = _selected(runtime_environment)
    files.read_stack(with_lock=not no_user_stack)  # bad input is reported before any request
    with ui.status(f"Submitting the {environment['name']!r} stack") as status:

        def submitted(info: lib.Submitted, backend: lib.Backend) -> None:
            ui.message("info", f"Analysis {info.analysis_id} ({backend.base_url})")
            status.update(f"Waiting for analysis {info.analysis_id}")

        try:
            outcome = lib.advise_here(
                environment["name"],
                recommendation_type=recommendation_type,
                dev=dev,
                labels=cli_labels,
                no_user_stack=no_user_stack,
                force=force,
                debug=state.debug,
                origin=origin,
                nowait=no_wait,
                write=not no_write,
                on_submitted=submitted,
                progress=lambda text: status.update(f"Analysis: {text}"),
            )
        except AnalysisFailedError as exc:
            if exc.document is not None:
                if output_format != "table":
                    emit(ui, exc.document, output_format)
                else:
                    _print_failure(ui, exc.document)
            raise
    if no_wait:
        click.echo(outcome.analysis_id)
        return
    document = outcome.document or {}
    if output_format != "table":
        emit(ui, document, output_format)
    else:
        _print_advise_report(ui, document, short)
    if outcome.written:
        ui.message("ok", "Written " + ", ".join(str(path) for path in outcome.written))
    else:
        ui.message("info", "Lock not written (--no-write)")
    if then_install:
        _install(environment, files, dev=dev, pip_args=[])


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True)


# ---------------------------------------------------------------------- analyses
@cli.command("status")
@analysis_id_argument
@runtime_environment_option
@output_format_option
def status_command(analysis_id: str | None, runtime_environment: str | None, output_format: str) -> None:
    """Show the status of an analysis (default: the last one)."""
    analysis_id = _analysis_id(analysis_id, runtime_environment)
    data = lib.get_analysis_status(analysis_id)
    status = data.get("status") or {}
    emit(_state().ui, data, output_format, rows=key_value_rows({"analysis_id": analysis_id, **status}),
         columns=[("Key", "key"), ("Value", "value")], title="Analysis status")


@cli.command("log")
@analysis_id_argument
@runtime_environment_option
def log_command(analysis_id: str | None, runtime_environment: str | None) -> None:
    """Print the log of an analysis (default: the last one)."""
    analysis_id = _analysis_id(analysis_id, runtime_environment)
    click.echo(lib.get_analysis_log(analysis_id).rstrip("\n"))


def _fetch_finished(analysis_id: str) -> dict[str, Any]:
    document = lib.get_analysis_results(analysis_id)
    if document is None:
        raise BadInputError(f"Analysis {analysis_id} has not finished yet; see `thamos status {analysis_id}`")
    return document


def _result_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    result = document.get("result") or {}
    report = result.get("report")
    rows: list[dict[str, Any]] = []
    if isinstance(report, list):  # provenance: a list of findings
        for item in report:
            rows.append({"category": "provenance", **item})
        return rows
    report = report or {}
    for item in report.get("stack_info") or []:
        rows.append({"category": "stack_info", **item})
    for product in report.get("products") or []:
        for item in product.get("justification") or []:
            rows.append({"category": "justification", **item})
    return rows


@cli.command("results")
@analysis_id_argument
@runtime_environment_option
@click.option("--filter", "filters", multiple=True, metavar="KEY=REGEX",
              help="Keep entries whose KEY matches REGEX (repeatable; all must match).")
@click.option("--list-categories", is_flag=True, help="List entry categories and types with their counts.")
@output_format_option
def results_command(analysis_id: str | None, runtime_environment: str | None, filters: tuple[str, ...],
                    list_categories: bool, output_format: str) -> None:
    """Show the report of a finished analysis (default: the last one)."""
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for item in filters:  # bad filters are reported before any request
        key, sep, pattern = item.partition("=")
        if not sep or not key:
            raise BadInputError(f"--filter {item!r}: expected KEY=REGEX")
        try:
            compiled.append((key, re.compile(pattern)))
        except re.error as exc:
            raise BadInputError(f"--filter {item!r}: bad regular expression: {exc}") from None
    analysis_id = _analysis_id(analysis_id, runtime_environment)
    document = _fetch_finished(analysis_id)
    rows = _result_rows(document)
    rows = [row for row in rows if all(regex.search(str(row.get(key, ""))) for key, regex in compiled)]
    ui = _state().ui
    if list_categories:
        counts: dict[tuple[str, str], int] = {}
        for row in rows:
            counter_key = (row.get("category") or "-", row.get("type") or "-")
            counts[counter_key] = counts.get(counter_key, 0) + 1
        category_rows = [{"category": c, "type": t, "count": n} for (c, t), n in sorted(counts.items())]
        emit(ui, category_rows, output_format, columns=[("Category", "category"), ("Type", "type"),
                                                        ("Count", "count")], title="Categories")
        return
    if output_format != "table" and not filters:
        emit(ui, document, output_format)
        return
    emit(ui, rows, output_format, columns=[("Category", "category"), ("Type", "type"), ("Package", "package_name"),
                                           ("Message", "message"), ("Link", "link")],
         title=f"Results of {analysis_id}")
    error = lib.result_error(document)
    if error:
        raise AnalysisFailedError(f"Analysis {analysis_id} failed: {error}")


def _advised_lock(analysis_id: str) -> dict[str, Any]:
    document = _fetch_finished(analysis_id)
    error = lib.result_error(document)
    if error:
        raise AnalysisFailedError(f"Analysis {analysis_id} failed: {error}")
    products = lib.advise_products(document)
    if not products:
        raise AnalysisFailedError(f"Analysis {analysis_id} holds no advised stack")
    return products[0]


@cli.command("diff")
@analysis_id_argument
@runtime_environment_option
@output_format_option
@click.option("--exit-code", is_flag=True, help="Exit with 1 when the locks differ (like `git diff --exit-code`).")
def diff_command(analysis_id: str | None, runtime_environment: str | None, output_format: str,
                 exit_code: bool) -> None:
    """Compare the current lock with the advised one (default: the last analysis)."""
    analysis_id = _analysis_id(analysis_id, runtime_environment)
    _, files = _selected(runtime_environment)
    product = _advised_lock(analysis_id)
    advised = lockdiff.packages_of_lock((product.get("project") or {}).get("requirements_locked") or {})
    if files.is_pipenv:
        current = lockdiff.packages_of_lock(files.read_pipfile_lock()) if files.pipfile_lock.is_file() else {}
    else:
        current = (lockdiff.packages_of_requirements_txt(read_user_file(files.requirements_txt))
                   if files.requirements_txt.is_file() else {})
    rows = lockdiff.lock_differences(current, advised)
    ui = _state().ui
    if not rows and output_format == "table":
        ui.message("ok", f"{files.lock_file.name} is the same as the lock advised by {analysis_id}")
    else:
        emit(ui, rows, output_format, columns=[("Package", "package"), ("Change", "change"),
                                               ("Current", "current"), ("Advised", "advised")],
             title=f"{files.lock_file.name} vs {analysis_id}")
    if exit_code and rows:
        click.get_current_context().exit(exit_codes.GENERIC_ERROR)


@cli.command("graph")
@analysis_id_argument
@runtime_environment_option
@output_format_option
def graph_command(analysis_id: str | None, runtime_environment: str | None, output_format: str) -> None:
    """Show the dependency graph of the advised stack (default: the last analysis)."""
    from rich.tree import Tree

    analysis_id = _analysis_id(analysis_id, runtime_environment)
    product = _advised_lock(analysis_id)
    graph = product.get("dependency_graph") or {"nodes": [], "edges": []}
    nodes: list[str] = graph.get("nodes") or []
    edges = [(int(a), int(b)) for a, b in graph.get("edges") or [] if 0 <= a < len(nodes) and 0 <= b < len(nodes)]
    ui = _state().ui
    if output_format != "table":
        emit(ui, {"nodes": nodes, "edges": [list(edge) for edge in edges],
                  "dependencies": {nodes[a]: sorted(nodes[b] for x, b in edges if x == a) for a in range(len(nodes))}},
             output_format)
        return
    children: dict[int, list[int]] = {}
    has_parent = set()
    for a, b in edges:
        children.setdefault(a, []).append(b)
        has_parent.add(b)
    roots = [i for i in range(len(nodes)) if i not in has_parent] or list(range(len(nodes)))
    tree = Tree(f"{analysis_id}")

    def grow(branch: Tree, index: int, path: frozenset[int]) -> None:
        for child in sorted(children.get(index, []), key=lambda i: nodes[i]):
            if child in path:
                branch.add(f"{nodes[child]} (cycle)")
                continue
            grow(branch.add(nodes[child]), child, path | {child})

    for root in sorted(roots, key=lambda i: nodes[i]):
        grow(tree.add(nodes[root]), root, frozenset({root}))
    if not nodes:
        ui.message("info", "The advised stack has no packages")
        return
    ui.out.print(tree)


@cli.command("provenance-check")
@runtime_environment_option
@click.option("--no-wait", is_flag=True, help="Only submit; print the analysis id.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result document as JSON.")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Compute afresh (THAMOS_FORCE).")
@output_format_option
def provenance_check_command(runtime_environment: str | None, no_wait: bool, as_json: bool, force: bool,
                             output_format: str) -> None:
    """Check where the locked packages come from and that their hashes are right."""
    state = _state()
    ui = state.ui
    environment, files = _selected(runtime_environment)
    if not files.is_pipenv:
        raise BadInputError("provenance-check checks a Pipfile.lock; it needs requirements_format: pipenv")
    stack = files.read_stack(with_lock=True)
    if not stack.requirements_lock:
        raise BadInputError(f"No lock file ({files.lock_file.name}) in {files.directory} to check")
    backend = lib.Backend()
    deadline = lib.Deadline(lib.default_timeout())
    with ui.status("Submitting the provenance check") as status:
        submitted = lib.submit_provenance_check(stack, force=force, debug=state.debug, backend=backend,
                                                deadline=deadline)
        files.remember_analysis_id(submitted.analysis_id)
        ui.message("info", f"Analysis {submitted.analysis_id} ({backend.base_url})")
        if no_wait:
            click.echo(submitted.analysis_id)
            return
        status.update(f"Waiting for analysis {submitted.analysis_id}")
        document = lib.wait_for_results(submitted.analysis_id, backend=backend, deadline=deadline)
    if as_json:
        click.echo(_json(document))
    else:
        rows = _result_rows(document)
        if rows or output_format != "table":
            emit(ui, rows, output_format, columns=[("Type", "type"), ("Id", "id"), ("Package", "package_name"),
                                                   ("Version", "package_version"), ("Justification", "justification")],
                 title="Provenance findings")
    error = lib.result_error(document)
    if error:
        raise AnalysisFailedError(f"Provenance check {submitted.analysis_id} failed: {error}")
    report = (document.get("result") or {}).get("report") or []
    errors = [item for item in report if isinstance(item, dict) and item.get("type") == "ERROR"]
    if errors:
        raise AnalysisFailedError(f"Provenance check found {len(errors)} error(s) in {files.lock_file.name}")
    ui.message("ok", f"Provenance of {files.lock_file} checked, no errors")


# ---------------------------------------------------------------------- install, run, venv
def _target_python(environment: dict[str, Any], *, create: bool) -> tuple[Path, Path | None]:
    """(python, managed venv dir or None) for an environment."""
    if config.virtualenv:
        path = installer.venv_path(config.project_root, environment["name"])
        python = installer.create_venv(path) if create else installer.venv_python(path)
        return python, path
    return installer.current_python(), None


def _install(environment: dict[str, Any], files: ProjectFiles, *, dev: bool, pip_args: list[str]) -> None:
    ui = _state().ui
    installer.check_lock(files)  # a lock that does not match fails before any virtualenv is made
    python, venv_dir = _target_python(environment, create=True)
    where = f"virtual environment {venv_dir}" if venv_dir else f"{python}"
    ui.message("info", f"Installing {files.lock_file} into {where}")
    installer.install(files, python, dev=dev, pip_args=pip_args)
    ui.message("ok", f"Installed {files.lock_file.name} for {environment['name']!r}")


@cli.command("install", context_settings={"ignore_unknown_options": False})
@runtime_environment_option
@click.option("--dev", is_flag=True, envvar="THAMOS_DEV", help="Install the development packages too (THAMOS_DEV).")
@click.argument("pip_args", nargs=-1, type=click.UNPROCESSED)
def install_command(runtime_environment: str | None, dev: bool, pip_args: tuple[str, ...]) -> None:
    """Install the lock (pip options after `--`, e.g. `thamos install -- --proxy URL`)."""
    environment, files = _selected(runtime_environment)
    _install(environment, files, dev=dev, pip_args=list(pip_args))


@cli.command("run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@runtime_environment_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_command(runtime_environment: str | None, command: tuple[str, ...]) -> None:
    """Run a command in the environment's virtualenv with its .env variables; exits with its code."""
    environment, files = _selected(runtime_environment)
    venv_dir = None
    if config.virtualenv:
        venv_dir = installer.venv_path(config.project_root, environment["name"])
        if not installer.venv_python(venv_dir).exists():
            raise BadInputError(f"No virtual environment at {venv_dir}; run `thamos install` first")
    dotenv = files.dotenv if files.dotenv.is_file() else config.project_root / ".env"
    code = installer.run(list(command), venv_dir=venv_dir, dotenv=dotenv)
    click.get_current_context().exit(code)


@cli.command("venv")
@runtime_environment_option
@click.option("--create", is_flag=True, help="Create the virtual environment if it does not exist.")
def venv_command(runtime_environment: str | None, create: bool) -> None:
    """Print the path of the environment's managed virtualenv (create it with --create)."""
    environment = config.get_runtime_environment(runtime_environment)
    path = installer.venv_path(config.project_root, environment["name"])
    if not config.virtualenv:
        where = str(config.config_path) if config.has_config_file else f"the defaults (no {CONFIG_NAME})"
        _state().ui.message("warn", f"virtualenv management is off in {where} (virtualenv: true turns it on)")
    if create:
        installer.create_venv(path)
    click.echo(str(path))


@cli.command("purge")
@runtime_environment_option
@click.option("--all", "purge_all", is_flag=True, help="Act on every runtime environment.")
def purge_command(runtime_environment: str | None, purge_all: bool) -> None:
    """Remove managed virtualenv(s) and remembered analysis ids."""
    ui = _state().ui
    if purge_all and runtime_environment:
        raise click.UsageError("--all and --runtime-environment exclude each other")
    environments = (config.list_runtime_environments() if purge_all
                    else [config.get_runtime_environment(runtime_environment)])
    removed: list[str] = []
    for environment in environments:
        venv_dir = installer.venv_path(config.project_root, environment["name"])
        if installer.remove_venv(venv_dir):
            removed.append(str(venv_dir))
        id_file = ProjectFiles(config.files_dir(environment["name"])).last_analysis_id
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


@cli.command("verify")
@runtime_environment_option
@click.option("--dev", is_flag=True, envvar="THAMOS_DEV", help="Check the development packages too.")
@click.option("--lock-only", is_flag=True, help="Only check the lock against its Pipfile, not the installation.")
def verify_command(runtime_environment: str | None, dev: bool, lock_only: bool) -> None:
    """Check the lock matches the Pipfile and the installed packages match the lock."""
    ui = _state().ui
    environment, files = _selected(runtime_environment)
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
    packages = lockdiff.packages_of_requirements_txt(read_user_file(files.requirements_txt))
    return {"default": {entry["name"]: {"version": "==" + entry["version"]} for entry in packages.values()}}


# ---------------------------------------------------------------------- requirements editing
@cli.command("add")
@runtime_environment_option
@click.option("--dev", is_flag=True, help="Add to the development packages.")
@click.argument("requirements", nargs=-1, required=True)
def add_command(runtime_environment: str | None, dev: bool, requirements: tuple[str, ...]) -> None:
    """Add direct requirements (e.g. `thamos add 'flask>=2' requests`)."""
    _, files = _selected(runtime_environment)
    path = manifest.add(files, list(requirements), dev=dev)
    _state().ui.message("ok", f"Updated {path}; run `thamos advise` to lock")


@cli.command("remove")
@runtime_environment_option
@click.argument("names", nargs=-1, required=True)
def remove_command(runtime_environment: str | None, names: tuple[str, ...]) -> None:
    """Remove direct requirements by name."""
    _, files = _selected(runtime_environment)
    path = manifest.remove(files, list(names))
    _state().ui.message("ok", f"Updated {path}; run `thamos advise` to lock")


@cli.command("discover")
@click.option("--no-lookup", is_flag=True, help="Only list imported modules, do not ask the backend.")
@click.argument("path", required=False, type=click.Path(file_okay=False, exists=True))
@output_format_option
def discover_command(no_lookup: bool, path: str | None, output_format: str) -> None:
    """Find the third-party modules the project imports and the packages providing them."""
    from .imports import imported_modules

    root = Path(path) if path else config.project_root
    modules = imported_modules(root)
    rows = []
    backend = None if no_lookup else lib.Backend()
    for module, where in modules.items():
        providers = [] if backend is None else lib.whatprovides(module, backend=backend)
        names = sorted({p.get("package_name") for p in providers if p.get("package_name")})
        rows.append({"module": module, "packages": names, "files": where})
    emit(_state().ui, rows, output_format, columns=[("Module", "module"), ("Packages", "packages"),
                                                    ("Imported in", "files")], title=f"Imports in {root}")


# ---------------------------------------------------------------------- backend listings
@cli.command("environments")
@output_format_option
def environments_command(output_format: str) -> None:
    """List the runtime environments the backend resolves for."""
    items = lib.list_environments()
    emit(_state().ui, items, output_format, columns=[("OS", "os_name"), ("OS version", "os_version"),
                                                     ("Python", "python_version"), ("CUDA", "cuda_version"),
                                                     ("Platform", "platform"), ("Image", "image")],
         title="Environments")


@cli.command("images")
@click.option("--os-name")
@click.option("--os-version")
@click.option("--python-version")
@click.option("--cuda-version")
@click.option("--image-name")
@output_format_option
def images_command(os_name, os_version, python_version, cuda_version, image_name, output_format: str) -> None:
    """List container images usable as base_image."""
    items = lib.list_images(os_name=os_name, os_version=os_version, python_version=python_version,
                            cuda_version=cuda_version, image_name=image_name)
    emit(_state().ui, items, output_format, columns=[("Image", "image_name"), ("Environment", "environment_name"),
                                                     ("OS", "os_name"), ("OS version", "os_version"),
                                                     ("Python", "python_version"), ("CUDA", "cuda_version")],
         title="Container images")


@cli.command("indexes")
@output_format_option
def indexes_command(output_format: str) -> None:
    """List the package indexes the backend resolves against."""
    items = lib.list_indexes()
    emit(_state().ui, items, output_format, columns=[("Name", "name"), ("URL", "url"), ("Verify TLS", "verify_ssl"),
                                                     ("Enabled", "enabled")], title="Package indexes")


@cli.command("whatprovides")
@click.argument("imports", nargs=-1, required=True)
@output_format_option
def whatprovides_command(imports: tuple[str, ...], output_format: str) -> None:
    """Which packages provide the given importable modules."""
    backend = lib.Backend()
    rows = []
    for name in imports:
        for item in lib.whatprovides(name, backend=backend):
            rows.append({"import": name, **item})
    emit(_state().ui, rows, output_format, columns=[("Import", "import"), ("Package", "package_name"),
                                                    ("Version", "version"), ("Index", "index_url")],
         title="Providers")


# ---------------------------------------------------------------------- support and versions
@cli.command("support")
@output_format_option
def support_command(output_format: str) -> None:
    """A report for bug reports: versions, configuration and environment (secrets redacted)."""
    import platform

    from .discover import discover_runtime_environment

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
        import swagger_client

        report["swagger_client"] = getattr(swagger_client, "__version__", None)
    except ImportError:
        report["swagger_client"] = None
    emit(_state().ui, report, "yaml" if output_format == "table" else output_format)


@cli.command("version")
@output_format_option
def version_command(output_format: str) -> None:
    """Print the client's and the backend's versions."""
    ui = _state().ui
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


class _StopServing(KeyboardInterrupt):
    """SIGINT/SIGTERM asked `thamos serve` to stop (raised once the server has shut down)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signal_name = signal.Signals(signum).name


def _raise_stop(signum: int, _frame: Any) -> None:
    raise _StopServing(signum)


@cli.command("serve")
@click.option("--host", "bind_host", metavar="ADDRESS",
              help="Address to listen on (default THAMOS_SERVER_HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535),
              help="Port to listen on (default THAMOS_SERVER_PORT, else 9876).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="YAML/JSON settings file of the server (THAMOS_SERVER_CONFIG).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where analyses are stored (THAMOS_DATA_DIR).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Adviser cache (THAMOS_CACHE_DIR).")
@click.option("--token", help="Require this bearer token for analyses (THAMOS_SERVER_TOKEN).")
@click.option("--certfile", type=click.Path(dir_okay=False, exists=True), help="TLS certificate (PEM).")
@click.option("--keyfile", type=click.Path(dir_okay=False, exists=True), help="TLS private key (PEM).")
@click.option("--workers", type=click.IntRange(min=1), help="Analyses computed in parallel.")
@click.option("--builds", metavar="always|never|NAME[,NAME...]",
              help="Build sdists whose dependencies only a build tells: always (default), never, or only "
                   "these packages (THAMOS_BUILDS).")
@click.option("--build-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Time limit of one build, default 120 (THAMOS_BUILD_TIMEOUT).")
@click.option("--build-memory", type=click.IntRange(min=64), metavar="MB",
              help="Memory limit of a build, default 2048 (THAMOS_BUILD_MEMORY).")
@click.option("--build-python", "build_pythons", multiple=True, metavar="PATH",
              help="Interpreter to build with for targets of its version; repeatable (THAMOS_BUILD_PYTHONS).")
def serve_command(bind_host: str | None, port: int | None, config_file: str | None, data_dir: str | None,
                  cache_dir: str | None, token: str | None, certfile: str | None, keyfile: str | None,
                  workers: int | None, builds: str | None, build_timeout: float | None,
                  build_memory: int | None, build_pythons: tuple[str, ...]) -> None:
    """Run the User API backend (for a team, or behind TLS) until SIGINT/SIGTERM.

    Options left out fall back to the THAMOS_SERVER_* variables, then to the settings file.
    A requested shutdown (Ctrl-C, SIGTERM) exits with 0.
    """
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together")
    try:
        from userapi.server import ServerError, run_server  # imported here: the client never needs it
    except ImportError as exc:
        raise ThamosError(f"The backend is not installed (pip install 'thamos[server]'): {exc}") from None
    options: dict[str, Any] = {
        # None leaves a setting to the environment, the settings file and the server's defaults.
        "host": bind_host,
        "port": port,
        "data_dir": Path(data_dir) if data_dir else None,
        "cache_dir": Path(cache_dir) if cache_dir else None,
        "token": token,
        "certfile": Path(certfile) if certfile else None,
        "keyfile": Path(keyfile) if keyfile else None,
        "workers": workers,
        "builds": builds,
        "build_timeout": build_timeout,
        "build_memory_mb": build_memory,
        "build_pythons": list(build_pythons) or None,
    }
    # uvicorn shuts down gracefully on these signals, then raises them again; handled here, that
    # ends the command with a message and status 0 instead of a death by signal (-15) or 130.
    previous = {number: signal.signal(number, _raise_stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = run_server(config_file=config_file, **{key: value for key, value in options.items()
                                                       if value is not None})
    except ServerError as exc:
        raise BadInputError(f"Cannot start the server: {exc}") from None
    except _StopServing as stop:
        _state().ui.message("ok", f"Server stopped ({stop.signal_name})")
        return
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if code:
        raise ThamosError(f"The server stopped with an error (status {code}); see its messages above")


# ---------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the command and turn every failure into one line and an exit code."""
    ui: Ui | None = None
    try:
        result = cli.main(args=argv, prog_name="thamos", standalone_mode=False)
    except click.exceptions.Abort:
        _echo_error(ui, "Interrupted")
        return _exit(exit_codes.INTERRUPTED)
    except KeyboardInterrupt:
        _echo_error(ui, "Interrupted; files were left as they were")
        return _exit(exit_codes.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return _exit(exc.exit_code)
    except ThamosError as exc:
        _echo_error(ui, exc.message, exc.detail)
        return _exit(exc.exit_code)
    except BrokenPipeError:
        return _exit(exit_codes.GENERIC_ERROR)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only in verbose mode
        _LOGGER.debug("Unexpected error", exc_info=True)
        _echo_error(ui, f"Unexpected error: {type(exc).__name__}: {exc} (run with --verbose for details)")
        return _exit(exit_codes.GENERIC_ERROR)
    return _exit(result if isinstance(result, int) else exit_codes.OK)


def _echo_error(ui: Ui | None, message: str, detail: str | None = None) -> None:
    # One line, whatever the message carries (backend messages may hold newlines and carets).
    (ui or Ui()).error(" ".join(message.split()), detail)


def _exit(code: int) -> int:
    sys.stdout.flush()
    return code
