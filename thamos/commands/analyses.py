"""Commands on analyses: submitting an advise or a provenance check, then the status, log, report,
lock difference and dependency graph of an analysis."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from stackfiles import lock_diff

from .. import exit_codes, lib, stack_summary
from ..config import RECOMMENDATION_TYPES, parse_labels
from ..exceptions import AnalysisFailedError, BadInputError, ThamosError
from ..project_files import ProjectFiles, Stack, atomic_write, read_user_file
from ..provenance_input import provenance_stack
from ..render import OUTPUT_FORMATS, Ui, emit, key_value_rows
from .options import (
    analysis_id_argument,
    output_format_option,
    resolve_analysis_id,
    runtime_environment_option,
    selected,
    state,
)
from .project import install_lock


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
        for item in stack_info:  # what limits the whole advice (no or stale advisory data...) is shown anyway
            if item.get("type") in ("WARNING", "ERROR"):
                ui.message("warn", str(item.get("message") or ""))
        return
    emit(ui, rows, "table", columns=[("Type", "type"), ("Package", "package"), ("Message", "message"),
                                     ("Link", "link")], title="Justification")
    if products:
        locked = (products[0].get("project") or {}).get("requirements_locked") or {}
        package_rows = [
            {"section": section, "package": name, "version": locked_as(entry or {}),
             "index": (entry or {}).get("index")}
            for section in ("default", "develop") for name, entry in sorted((locked.get(section) or {}).items())
        ]
        emit(ui, package_rows, "table", columns=[("Section", "section"), ("Package", "package"),
                                                 ("Version", "version"), ("Index", "index")], title="Locked stack")


def locked_as(entry: dict[str, Any]) -> Any:
    """The version of a lock entry; for local path and git packages (no version) where it comes from."""
    if entry.get("version") or not ("git" in entry or "path" in entry):
        return entry.get("version")
    return f"git {str(entry.get('ref'))[:12]}" if "git" in entry else f"path {entry['path']}"


def analysis_link(analysis_id: str, backend: lib.Backend | None = None) -> str | None:
    """The analysis' page in the backend's web view (its X-Thoth-Search-Ui-Url + advise/<id> or
    provenance/<id>, as Thoth's search UI had it); None when the backend names no web view."""
    try:
        backend = backend or lib.Backend()
        response = backend.call(backend.apis.service.api_discovery_head_with_http_info)
    except ThamosError:
        return None
    base = next((value for key, value in response.headers.items() if key.lower() == "x-thoth-search-ui-url"), "")
    if not base.startswith(("http://", "https://")):
        return None
    kind = "provenance" if analysis_id.startswith("provenance-checker-") else "advise"
    return f"{base.rstrip('/')}/{kind}/{analysis_id}"


def _print_failure(ui: Ui, document: dict[str, Any]) -> None:
    report = (document.get("result") or {}).get("report") or {}
    items = report.get("stack_info") or [] if isinstance(report, dict) else []
    error_msg = lib.result_error(document)
    for item in items:
        if item.get("message") == error_msg:
            continue  # printed once, as the command's error line
        if item.get("type") in ("ERROR", "WARNING"):
            ui.message("warn" if item.get("type") == "WARNING" else "error", item.get("message") or "")


@click.command("advise")
@runtime_environment_option
@click.option("-t", "--recommendation-type", type=click.Choice(RECOMMENDATION_TYPES),
              envvar="THAMOS_RECOMMENDATION_TYPE",
              help="Rule set choosing the versions (default: from the runtime environment, else stable; "
                   "THAMOS_RECOMMENDATION_TYPE).")
@click.option("-l", "--labels", metavar="'k=v;k2=v2'", envvar="THAMOS_LABELS",
              help="Labels for the request; win over the configured ones (THAMOS_LABELS).")
@click.option("--dev/--no-dev", envvar="THAMOS_DEV", help="Resolve the development packages too (THAMOS_DEV).")
@click.option("--no-user-stack", is_flag=True, envvar="THAMOS_NO_USER_STACK",
              help="Do not send the existing lock as the starting point (THAMOS_NO_USER_STACK).")
@click.option("--no-static-analysis", is_flag=True, envvar="THAMOS_NO_STATIC_ANALYSIS",
              help="Do not send which symbols of which libraries the sources use (THAMOS_NO_STATIC_ANALYSIS).")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Compute afresh, no cached answers (THAMOS_FORCE).")
@click.option("--debug", "debug_here", is_flag=True, envvar="THAMOS_DEBUG",
              help="Run the analysis in debug mode (= thamos --debug; THAMOS_DEBUG).")
@click.option("--no-wait", is_flag=True, help="Only submit; print the analysis id.")
@click.option("-W", "--no-write", is_flag=True, help="Do not write the lock files.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the whole result document as JSON (= -o json).")
@click.option("--short", is_flag=True, help="Print only a summary of the report.")
@click.option("--diff", "show_diff", is_flag=True, help="Afterwards compare with the previous advise of the project.")
@click.option("--scoring", is_flag=True, envvar="THAMOS_SHOW_METRICS",
              help="Summarize what the justifications say about the stack (THAMOS_SHOW_METRICS).")
@click.option("--write-advised-manifest-changes", "manifest_changes_file", metavar="FILE",
              envvar="THAMOS_WRITE_ADVISED_MANIFEST_CHANGES",
              help="Write the advised manifest changes as JSON to FILE (THAMOS_WRITE_ADVISED_MANIFEST_CHANGES).")
@click.option("--install", "then_install", is_flag=True, envvar="THAMOS_INSTALL",
              help="Install the advised stack afterwards (THAMOS_INSTALL).")
@click.option("--origin", help="Where the project comes from (kept with the analysis).")
@output_format_option
def advise_command(runtime_environment: str | None, recommendation_type: str | None, labels: str | None,
                   as_json: bool, short: bool, show_diff: bool, scoring: bool, manifest_changes_file: str | None,
                   then_install: bool, output_format: str, **options: Any) -> None:
    """Ask the backend for a recommended lock and write it for the runtime environment."""
    ui = state().ui
    if as_json:
        output_format = "json"
    if then_install and (options["no_write"] or options["no_wait"]):
        raise click.UsageError("--install needs the advised lock: it cannot go with --no-write or --no-wait")
    try:
        cli_labels = parse_labels(labels)
    except ValueError as exc:
        raise BadInputError(f"--labels: {exc}") from None
    environment, files = selected(runtime_environment)
    files.read_stack(with_lock=not options["no_user_stack"])  # bad input is reported before any request
    previous = files.recall_analysis_id("adviser") if show_diff else None
    outcome, backend = _run_advise(ui, environment, recommendation_type, cli_labels, output_format, options)
    if options["no_wait"]:
        click.echo(outcome.analysis_id)
        return
    document = outcome.document or {}
    if output_format != "table":
        emit(ui, document, output_format)
    else:
        _print_advise_report(ui, document, short)
    link = analysis_link(outcome.analysis_id, backend) if output_format == "table" else None
    if link:
        ui.message("info", f"Analysis page: {link}")
    if show_diff:
        _print_previous_difference(ui, outcome.analysis_id, document, previous)
    if scoring:
        click.echo("Scoring (what the justifications say about the stack):")
        for line in stack_summary.scoring(document) or ["no locked packages to summarize"]:
            click.echo(f"- {line}")
    if manifest_changes_file:
        _write_manifest_changes(ui, document, manifest_changes_file)
    if outcome.written:
        ui.message("ok", "Written " + ", ".join(str(path) for path in outcome.written))
    else:
        ui.message("info", "Lock not written (--no-write)")
    if then_install:
        install_lock(environment, files, dev=options["dev"], pip_args=[])


def _run_advise(ui: Ui, environment: dict[str, Any], recommendation_type: str | None, labels: dict[str, str],
                output_format: str, options: dict[str, Any]) -> tuple[lib.AdviseOutcome, lib.Backend | None]:
    """Submit and wait, with a spinner; a failed analysis' document is printed before the error."""
    used: list[lib.Backend] = []
    with ui.status(f"Submitting the {environment['name']!r} stack") as status:

        def submitted(info: lib.Submitted, backend: lib.Backend) -> None:
            used.append(backend)
            ui.message("info", f"Analysis {info.analysis_id} ({backend.base_url})")
            status.update(f"Waiting for analysis {info.analysis_id}")

        try:
            outcome = lib.advise_project(
                environment["name"], recommendation_type=recommendation_type, dev=options["dev"], labels=labels,
                no_user_stack=options["no_user_stack"], force=options["force"],
                debug=state().debug or options["debug_here"], origin=options["origin"], nowait=options["no_wait"],
                write=not options["no_write"], no_static_analysis=options["no_static_analysis"],
                on_submitted=submitted, progress=lambda text: status.update(f"Analysis: {text}"),
            )
        except AnalysisFailedError as exc:
            if exc.document is not None:
                if output_format != "table":
                    emit(ui, exc.document, output_format)
                else:
                    _print_failure(ui, exc.document)
            raise
    return outcome, used[0] if used else None


def _print_previous_difference(ui: Ui, analysis_id: str, document: dict[str, Any], previous: str | None) -> None:
    """`advise --diff`: the stack and remarks against the project's previous advise (a failure to
    fetch it is a warning: the advice itself succeeded)."""
    if not previous or previous == analysis_id:
        ui.message("warn", "No previous advise of this project to compare with (--diff)")
        return
    try:
        old = _fetch_finished(previous)
    except ThamosError as exc:
        ui.message("warn", f"Cannot compare with the previous analysis {previous}: {exc.message}")
        return
    _print_analyses_difference(ui, stack_summary.analyses_difference(document, old), analysis_id, previous, "table")


def _print_analyses_difference(ui: Ui, difference: dict[str, Any], new_id: str, old_id: str,
                               output_format: str) -> None:
    if output_format != "table":
        emit(ui, {"new_analysis_id": new_id, "old_analysis_id": old_id, **difference}, output_format)
        return
    if not any(difference.values()):
        ui.message("ok", f"{new_id} advises the same stack with the same remarks as {old_id}")
        return
    if difference["packages"]:
        emit(ui, difference["packages"], "table", columns=[("Package", "package"), ("Change", "change"),
                                                           (old_id, "current"), (new_id, "advised")],
             title=f"Stack of {new_id} vs {old_id}")
    for key, title in (("new_remarks", f"Remarks new in {new_id}"), ("gone_remarks", f"Remarks gone since {old_id}")):
        if difference[key]:
            emit(ui, difference[key], "table", columns=[("Type", "type"), ("Package", "package"),
                                                        ("Message", "message")], title=title)


def _write_manifest_changes(ui: Ui, document: dict[str, Any], path: str) -> None:
    products = lib.advise_products(document)
    changes = (products[0].get("advised_manifest_changes") if products else None) or []
    atomic_write(Path(path), json.dumps(changes, indent=2) + "\n")
    ui.message("ok", f"Written {len(changes)} advised manifest change(s) to {path}")


# ---------------------------------------------------------------------- provenance check
@click.command("provenance-check")
@runtime_environment_option
@click.option("--no-wait", is_flag=True, help="Only submit; print the analysis id.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the whole result document as JSON.")
@click.option("--force", is_flag=True, envvar="THAMOS_FORCE", help="Compute afresh (THAMOS_FORCE).")
@click.option("--debug", "debug_here", is_flag=True, envvar="THAMOS_DEBUG",
              help="Run the check in debug mode (= thamos --debug; THAMOS_DEBUG).")
@output_format_option
def provenance_check_command(runtime_environment: str | None, no_wait: bool, as_json: bool, force: bool,
                             debug_here: bool, output_format: str) -> None:
    """Check where the locked packages come from and that their hashes are right."""
    current = state()
    ui = current.ui
    debug = current.debug or debug_here
    environment, files = selected(runtime_environment)
    stack = _provenance_stack(files)
    backend = lib.Backend()
    deadline = lib.Deadline(lib.default_timeout())
    with ui.status("Submitting the provenance check") as status:
        submitted = lib.submit_provenance_check(stack, force=force, debug=debug, backend=backend,
                                                deadline=deadline)
        files.remember_analysis_id(submitted.analysis_id)
        ui.message("info", f"Analysis {submitted.analysis_id} ({backend.base_url})")
        if no_wait:
            click.echo(submitted.analysis_id)
            return
        status.update(f"Waiting for analysis {submitted.analysis_id}")
        document = lib.wait_for_results(submitted.analysis_id, backend=backend, deadline=deadline)
    if as_json:
        click.echo(json.dumps(document, indent=2, sort_keys=True))
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


def _provenance_stack(files: ProjectFiles) -> Stack:
    """The Pipfile and lock to check: the project's, or those of its hashed requirements.txt."""
    if not files.is_pipenv:
        if not files.requirements_txt.is_file():
            raise BadInputError(f"No {files.requirements_txt.name} in {files.directory} to check")
        constraints = read_user_file(files.constraints) if files.constraints.is_file() else None
        return provenance_stack(read_user_file(files.requirements_txt), str(files.requirements_txt), constraints)
    stack = files.read_stack(with_lock=True)
    if not stack.requirements_lock:
        raise BadInputError(f"No lock file ({files.lock_file.name}) in {files.directory} to check")
    return stack


# ---------------------------------------------------------------------- an analysis' state and results
@click.command("status")
@analysis_id_argument
@runtime_environment_option
@output_format_option
def status_command(analysis_id: str | None, runtime_environment: str | None, output_format: str) -> None:
    """Show the status of an analysis (default: the last one)."""
    analysis_id = resolve_analysis_id(analysis_id, runtime_environment)
    data = lib.get_analysis_status(analysis_id)
    status = data.get("status") or {}
    link = analysis_link(analysis_id) if output_format == "table" else None
    rows = key_value_rows({"analysis_id": analysis_id, **status, **({"page": link} if link else {})})
    emit(state().ui, data, output_format, rows=rows,
         columns=[("Key", "key"), ("Value", "value")], title="Analysis status")


@click.command("log")
@analysis_id_argument
@runtime_environment_option
@click.option("-o", "--output-format", type=click.Choice(OUTPUT_FORMATS), default="table", show_default=True,
              help="table: the log as text; json or yaml: {analysis_id, log}.")
def log_command(analysis_id: str | None, runtime_environment: str | None, output_format: str) -> None:
    """Print the log of an analysis (default: the last one)."""
    analysis_id = resolve_analysis_id(analysis_id, runtime_environment)
    text = lib.get_analysis_log(analysis_id).rstrip("\n")
    if output_format == "table":
        click.echo(text)
    else:
        emit(state().ui, {"analysis_id": analysis_id, "log": text}, output_format)


def _fetch_finished(analysis_id: str) -> dict[str, Any]:
    document = lib.get_analysis_results(analysis_id)
    if document is None:
        raise BadInputError(f"Analysis {analysis_id} has not finished yet; see `thamos status {analysis_id}`")
    return document


def _result_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    result = document.get("result") or {}
    report = result.get("report")
    rows: list[dict[str, Any]] = []
    if isinstance(report, list):  # provenance: a list of findings, each explained in `justification`
        for item in report:
            if isinstance(item, dict):
                rows.append({"category": "provenance", "message": item.get("justification"), **item})
        return rows
    report = report or {}
    for item in report.get("stack_info") or []:
        rows.append({"category": "stack_info", **item})
    for product in report.get("products") or []:
        for item in product.get("justification") or []:
            rows.append({"category": "justification", **item})
    return rows


def _compiled_filters(filters: tuple[str, ...]) -> list[tuple[str, re.Pattern[str]]]:
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for item in filters:
        key, sep, pattern = item.partition("=")
        if not sep or not key:
            raise BadInputError(f"--filter {item!r}: expected KEY=REGEX")
        try:
            compiled.append((key, re.compile(pattern)))
        except re.error as exc:
            raise BadInputError(f"--filter {item!r}: bad regular expression: {exc}") from None
    return compiled


@click.command("results")
@analysis_id_argument
@runtime_environment_option
@click.option("-f", "--filter", "filters", multiple=True, metavar="KEY=REGEX",
              help="Keep entries whose KEY matches REGEX (repeatable; all must match).")
@click.option("-l", "--list-categories", is_flag=True, help="List entry categories and types with their counts.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print as JSON (= -o json).")
@output_format_option
def results_command(analysis_id: str | None, runtime_environment: str | None, filters: tuple[str, ...],
                    list_categories: bool, as_json: bool, output_format: str) -> None:
    """Show the report of a finished analysis (default: the last one)."""
    if as_json:
        output_format = "json"
    compiled = _compiled_filters(filters)  # bad filters are reported before any request
    analysis_id = resolve_analysis_id(analysis_id, runtime_environment)
    document = _fetch_finished(analysis_id)
    rows = _result_rows(document)
    rows = [row for row in rows if all(regex.search(str(row.get(key, ""))) for key, regex in compiled)]
    ui = state().ui
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
    if not rows and output_format == "table" and analysis_id.startswith("provenance-checker-"):
        ui.message("ok", f"The provenance check {analysis_id} found nothing to report")
    else:
        emit(ui, rows, output_format, columns=[("Category", "category"), ("Type", "type"),
                                               ("Package", "package_name"), ("Message", "message"), ("Link", "link")],
             title=f"Results of {analysis_id}")
    error = lib.result_error(document)
    if error:
        raise AnalysisFailedError(f"Analysis {analysis_id} failed: {error}")


def _advised_document(analysis_id: str) -> dict[str, Any]:
    document = _fetch_finished(analysis_id)
    error = lib.result_error(document)
    if error:
        raise AnalysisFailedError(f"Analysis {analysis_id} failed: {error}")
    if not lib.advise_products(document):
        raise AnalysisFailedError(f"Analysis {analysis_id} holds no advised stack")
    return document


def _advised_lock(analysis_id: str) -> dict[str, Any]:
    return lib.advise_products(_advised_document(analysis_id))[0]


@click.command("diff")
@analysis_id_argument
@click.argument("old_analysis_id", required=False)
@runtime_environment_option
@output_format_option
@click.option("-j", "--json", "as_json", is_flag=True, help="Print as JSON (= -o json).")
@click.option("--exit-code", is_flag=True, help="Exit with 1 when the locks differ (like `git diff --exit-code`).")
def diff_command(analysis_id: str | None, old_analysis_id: str | None, runtime_environment: str | None,
                 output_format: str, as_json: bool, exit_code: bool) -> None:
    """Compare the current lock with the advised one (default: the last advise); with two analysis ids,
    NEW and OLD as in thamos 1.x, compare the stacks and remarks the two analyses advised."""
    if as_json:
        output_format = "json"
    ui = state().ui
    if analysis_id and old_analysis_id:
        difference = stack_summary.analyses_difference(_advised_document(analysis_id),
                                                       _advised_document(old_analysis_id))
        _print_analyses_difference(ui, difference, analysis_id, old_analysis_id, output_format)
        if exit_code and difference["packages"]:
            click.get_current_context().exit(exit_codes.GENERIC_ERROR)
        return
    analysis_id = resolve_analysis_id(analysis_id, runtime_environment, "adviser")
    _, files = selected(runtime_environment)
    product = _advised_lock(analysis_id)
    advised = lock_diff.packages_of_lock((product.get("project") or {}).get("requirements_locked") or {})
    if files.is_pipenv:
        current = lock_diff.packages_of_lock(files.read_pipfile_lock()) if files.pipfile_lock.is_file() else {}
    else:
        current = (lock_diff.packages_of_requirements_txt(read_user_file(files.requirements_txt))
                   if files.requirements_txt.is_file() else {})
    rows = lock_diff.lock_differences(current, advised)
    if not rows and output_format == "table":
        ui.message("ok", f"{files.lock_file.name} is the same as the lock advised by {analysis_id}")
    else:
        emit(ui, rows, output_format, columns=[("Package", "package"), ("Change", "change"),
                                               ("Current", "current"), ("Advised", "advised")],
             title=f"{files.lock_file.name} vs {analysis_id}")
    if exit_code and rows:
        click.get_current_context().exit(exit_codes.GENERIC_ERROR)


@click.command("graph")
@analysis_id_argument
@runtime_environment_option
@output_format_option
@click.option("--fold/--unfold", envvar="THAMOS_GRAPH_FOLD", default=False,
              help="Expand the dependencies of a package once; later occurrences say so (THAMOS_GRAPH_FOLD).")
def graph_command(analysis_id: str | None, runtime_environment: str | None, output_format: str, fold: bool) -> None:
    """Show the dependency graph of the advised stack (default: the last advise)."""
    analysis_id = resolve_analysis_id(analysis_id, runtime_environment, "adviser")
    product = _advised_lock(analysis_id)
    graph = product.get("dependency_graph") or {"nodes": [], "edges": []}
    nodes: list[str] = graph.get("nodes") or []
    edges = [(int(a), int(b)) for a, b in graph.get("edges") or [] if 0 <= a < len(nodes) and 0 <= b < len(nodes)]
    ui = state().ui
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
    from rich.tree import Tree  # rich only where it draws (see render.Ui.out)

    tree = Tree(f"{analysis_id}")

    expanded: set[int] = set()

    def grow(branch: Tree, index: int, path: frozenset[int]) -> None:
        expanded.add(index)
        for child in sorted(children.get(index, []), key=lambda i: nodes[i]):
            if child in path:
                branch.add(f"{nodes[child]} (cycle)")
            elif fold and child in expanded and children.get(child):
                branch.add(f"{nodes[child]} (dependencies shown above)")
            else:
                grow(branch.add(nodes[child]), child, path | {child})

    for root in sorted(roots, key=lambda i: nodes[i]):
        grow(tree.add(nodes[root]), root, frozenset({root}))
    if not nodes:
        ui.message("info", "The advised stack has no packages")
        return
    ui.out.print(tree)


COMMANDS = (advise_command, provenance_check_command, status_command, log_command, results_command,
            diff_command, graph_command)
