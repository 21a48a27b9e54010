"""The library API of thamos (``from thamos import lib``), as in thamos 1.x: the workflows built on the
backend facade, and the facade's calls re-exported under the names thamos 1.x documented.

A workflow reads and writes the project's files around backend calls (``advise_project``: read the
requirements, submit, wait, write the lock); the calls themselves, their retry policy and deadlines
are in ``thamos.backend``. The functions of 1.x's library keep their names, arguments and return
values (``thamos.lib_compat``: ``advise_here`` returns 1.x's tuple and writes no file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .api_client import start_backend_early
from .backend import (
    Backend,
    Deadline,
    ProgressCallback,
    Submitted,
    default_timeout,
    get_analysis_log,
    get_analysis_results,
    get_analysis_status,
    get_versions,
    list_environments,
    list_images,
    list_indexes,
    submit_advise,
    submit_provenance_check,
    wait_for_results,
)
from .config import Configuration, config
from .exceptions import AnalysisFailedError
from .lib_compat import (
    advise,
    advise_here,
    get_last_analysis_id,
    get_log,
    get_package_from_imported_packages,
    get_static_analysis,
    get_status,
    image_analysis,
    list_python_environments,
    list_python_package_indexes,
    list_thoth_container_images,
    provenance_check_here,
    whatprovides,
)
from .library_usage import gather_library_usage
from .project_files import ProjectFiles, Stack, check_writable, parse_pipfile
from .source_urls import expand_url, expanded_sources, pipfile_source_urls, requirements_source_urls
from .thoth_settings import settings_for_request

__all__ = [
    "AdviseOutcome",
    "Backend",
    "Deadline",
    "Submitted",
    "advise",
    "advise_here",
    "advise_products",
    "advise_project",
    "default_timeout",
    "get_analysis_log",
    "get_analysis_results",
    "get_analysis_status",
    "get_last_analysis_id",
    "get_log",
    "get_package_from_imported_packages",
    "get_static_analysis",
    "get_status",
    "get_versions",
    "image_analysis",
    "list_environments",
    "list_images",
    "list_indexes",
    "list_python_environments",
    "list_python_package_indexes",
    "list_thoth_container_images",
    "provenance_check_here",
    "result_error",
    "stack_extras",
    "submit_advise",
    "submit_provenance_check",
    "wait_for_results",
    "whatprovides",
]


def result_error(document: dict[str, Any]) -> str | None:
    """The error message of a finished analysis document, None when it succeeded."""
    result = document.get("result") or {}
    if result.get("error"):
        return result.get("error_msg") or "the analysis reported an error"
    return None


def advise_products(document: dict[str, Any]) -> list[dict[str, Any]]:
    report = (document.get("result") or {}).get("report") or {}
    return report.get("products") or [] if isinstance(report, dict) else []


@dataclass
class AdviseOutcome:
    analysis_id: str
    document: dict[str, Any] | None
    written: list[Any] = field(default_factory=list)


def advise_project(
    runtime_environment_name: str | None = None,
    *,
    recommendation_type: str | None = None,
    dev: bool = False,
    labels: dict[str, str] | None = None,
    no_user_stack: bool = False,
    force: bool = False,
    debug: bool = False,
    origin: str | None = None,
    nowait: bool = False,
    write: bool = True,
    timeout: float | None = None,
    no_static_analysis: bool = False,
    src_path: str | Path | None = None,
    configuration: Configuration | None = None,
    on_submitted: Callable[[Submitted, Backend], None] | None = None,
    progress: ProgressCallback | None = None,
) -> AdviseOutcome:
    """Advise the project in the working directory for one runtime environment.

    Reads the environment's requirement files (its overlay or the project root), submits them with
    the configured labels (``labels`` win) and recommendation type, waits, and writes the lock back
    atomically. Raises AnalysisFailedError (files untouched) when the analysis reports an error.
    ``.thoth.yaml`` is never written. Unless ``no_static_analysis``, the library usage of the sources
    under ``src_path`` (default: the project root) goes with the request, as thamos 1.x sent it.
    """
    configuration = configuration or config
    seconds = default_timeout() if timeout is None else timeout  # a bad THAMOS_TIMEOUT stops us here
    # The settings are valid: a fresh embedded server starts while the request is made. (Should
    # the project's files turn out wrong, it is there for the next try, and stops when idle.)
    start_backend_early(configuration)
    environment = configuration.get_runtime_environment(runtime_environment_name)
    files = ProjectFiles(configuration.files_dir(environment["name"]), configuration.requirements_format)
    stack = files.read_stack(with_lock=not no_user_stack)
    from_config = False
    if files.is_pipenv:  # the adviser's settings: the Pipfile's [thoth] table, else .thoth.yaml's thoth:
        text, from_config = settings_for_request(
            stack.requirements, parse_pipfile(stack.requirements, str(files.pipfile)), environment, files.pipfile)
        stack = replace(stack, requirements=text)
    if write and not nowait:
        check_writable(files.directory)  # before the request: an analysis nobody can save is wasted
    extras = stack_extras(files, stack, environment)
    if not no_static_analysis:
        extras["library_usage"] = gather_library_usage(Path(src_path or configuration.project_root)).document()
    backend = Backend(configuration)
    deadline = Deadline(seconds)
    submitted = submit_advise(
        stack,
        {key: value for key, value in environment.items() if key != "thoth"},
        recommendation_type=recommendation_type or configuration.get_recommendation_type(environment),
        dev=dev,
        labels={**configuration.get_labels(environment), **(labels or {})} or None,
        force=force,
        debug=debug,
        origin=origin,
        backend=backend,
        deadline=deadline,
        **extras,
    )
    files.remember_analysis_id(submitted.analysis_id)
    if on_submitted:
        on_submitted(submitted, backend)
    if nowait:
        return AdviseOutcome(submitted.analysis_id, None)
    document = wait_for_results(submitted.analysis_id, backend=backend, deadline=deadline, progress=progress)
    project = _advised_project(submitted.analysis_id, document)
    written = _write_advised(project, files, dev=dev, from_config=from_config) if write else []
    return AdviseOutcome(submitted.analysis_id, document, written)


def _advised_project(analysis_id: str, document: dict[str, Any]) -> dict[str, Any]:
    """The first product's project; an error document or one without a stack is an AnalysisFailedError."""
    error = result_error(document)
    if error:
        raise AnalysisFailedError(f"Analysis {analysis_id} failed: {error}", document=document)
    products = advise_products(document)
    if not products:
        raise AnalysisFailedError(f"Analysis {analysis_id} returned no stack", document=document)
    return products[0].get("project") or {}


def _write_advised(project: dict[str, Any], files: ProjectFiles, *, dev: bool, from_config: bool) -> list[Any]:
    """Write the advised Pipfile and lock atomically (every file stays as it was on a failure)."""
    requirements = dict(project.get("requirements") or {})
    if from_config:
        requirements.pop("thoth", None)  # sent from .thoth.yaml, never written into the Pipfile
    return files.write_advised(requirements, project.get("requirements_locked") or {}, dev=dev)


def stack_extras(files: Any, stack: Stack, environment: dict[str, Any]) -> dict[str, Any]:
    """What an advise request carries beside the files: the index URLs expanded from the environment
    (``${VAR}`` placeholders; an unset variable is a BadInputError) and the prepared metadata of
    local path packages. Computed before any request, so bad input leaves every file untouched."""
    # zipfile and email.parser: about 8 ms that only an advise of a Pipfile needs, not every command.
    from .local_packages import pipfile_path_entries, prepare_local_packages

    if not files.is_pipenv:
        urls = requirements_source_urls(stack.requirements, files.input_file.name)
        return {"expanded_sources": expanded_sources(urls)}
    pipfile = parse_pipfile(stack.requirements, str(files.pipfile))
    urls = pipfile_source_urls(pipfile)
    entries = pipfile_path_entries(pipfile)
    python_version = environment.get("python_version") or (pipfile.get("requires") or {}).get("python_version")
    local = prepare_local_packages(
        files.directory,
        entries,
        python_version=str(python_version) if python_version else None,
        index_urls=[expand_url(url, where) for where, url in urls],
    )
    return {"expanded_sources": expanded_sources(urls), "local_packages": local}


