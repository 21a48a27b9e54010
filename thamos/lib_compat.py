"""The functions of thamos 1.x's ``thamos.lib`` that programs imported, with their names, arguments
and return values; ``thamos.lib`` re-exports them. Each is built on this thamos' workflows.

Arguments 1.x passed only to Thoth's own services (GitHub and Kebechet metadata, ``source_type``,
``justification``, ``stack_info``) are accepted and ignored. ``verify_tls`` is the configuration's
``tls_verify`` (a False here turns verification off for the call, as in 1.x).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .backend import (
    Backend,
    Deadline,
    default_timeout,
    get_analysis_log,
    get_analysis_status,
    list_environments,
    list_images,
    list_indexes,
    submit_advise,
    submit_provenance_check,
    wait_for_results,
)
from .backend import whatprovides as whatprovides_one
from .config import config
from .exceptions import BadInputError, NoAnalysisIdError, ThamosError
from .library_usage import gather_library_usage
from .project_files import ProjectFiles, Stack

# 1.x's keyword arguments meant for Thoth's own services: accepted, not used.
_SERVICE_ONLY = {"github_event_type", "github_check_run_id", "github_installation_id", "github_base_repo_url",
                 "source_type", "justification", "stack_info", "kebechet_metadata"}

Outcome = tuple[dict[str, Any], bool, dict[str, Any]] | str | None


def _check_service_only(extra: dict[str, Any]) -> None:
    unknown = sorted(set(extra) - _SERVICE_ONLY)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")


def _tls(verify_tls: bool) -> None:
    if not verify_tls:
        config.tls_verify = False


def _files(runtime_environment_name: str | None) -> ProjectFiles:
    environment = config.get_runtime_environment(runtime_environment_name)
    return ProjectFiles(config.files_dir(environment["name"]), config.requirements_format)


def get_last_analysis_id(runtime_environment_name: str | None = None) -> str:
    remembered = _files(runtime_environment_name).recall_analysis_id()
    if remembered is None:
        raise NoAnalysisIdError("No analysis id remembered; pass one explicitly")
    return remembered


def _outcome(document: dict[str, Any]) -> Outcome:
    """1.x's answer: (the result, whether it is an error, the metadata)."""
    result = dict(document.get("result") or {})
    return result, bool(result.get("error")), dict(document.get("metadata") or {})


def _environment(runtime_environment: dict | None, runtime_environment_name: str | None) -> dict[str, Any]:
    if runtime_environment is not None:
        if runtime_environment_name and runtime_environment.get("name") not in (None, runtime_environment_name):
            raise BadInputError("runtime_environment and runtime_environment_name name different environments")
        return dict(runtime_environment)
    environment = config.get_runtime_environment(runtime_environment_name)
    return {key: value for key, value in environment.items() if key != "thoth"}


def advise(pipfile: str, pipfile_lock: str | None = None, *, constraints: str | None = None,
           recommendation_type: str | None = None, runtime_environment: dict | None = None, src_path: str = ".",
           runtime_environment_name: str | None = None, dev: bool = False, no_static_analysis: bool = False,
           no_user_stack: bool = False, nowait: bool = False, force: bool = False, debug: bool = False,
           origin: str | None = None, timeout: float | None = None, verify_tls: bool = True,
           labels: dict[str, str] | None = None, **service_only: Any) -> Outcome:
    """Advise the given Pipfile (and lock): the analysis id with ``nowait``, else 1.x's tuple."""
    _check_service_only(service_only)
    _tls(verify_tls)
    environment = _environment(runtime_environment, runtime_environment_name)
    stack = Stack(pipfile, None if no_user_stack else pipfile_lock or None, config.requirements_format, constraints)
    usage = None if no_static_analysis else gather_library_usage(Path(src_path)).document()
    backend = Backend()
    deadline = Deadline(default_timeout() if timeout is None else timeout)
    submitted = submit_advise(
        stack, environment, recommendation_type=recommendation_type or config.get_recommendation_type(environment),
        dev=dev, labels={**config.get_labels(environment), **(labels or {})} or None, force=force, debug=debug,
        origin=origin, library_usage=usage, backend=backend, deadline=deadline,
    )
    if nowait:
        return submitted.analysis_id
    return _outcome(wait_for_results(submitted.analysis_id, backend=backend, deadline=deadline))


def advise_here(recommendation_type: str | None = None, *, runtime_environment: dict | None = None,
                src_path: str = ".", runtime_environment_name: str | None = None, dev: bool = False,
                no_static_analysis: bool = False, no_user_stack: bool = False, nowait: bool = False,
                force: bool = False, debug: bool = False, timeout: float | None = None, origin: str | None = None,
                verify_tls: bool = True, labels: dict[str, str] | None = None, **service_only: Any) -> Outcome:
    """1.x's advise of the project in the working directory: its files are read, not written (the
    analysis id is remembered, as 1.x did)."""
    name = runtime_environment_name or (runtime_environment or {}).get("name")
    files = _files(name)
    stack = files.read_stack(with_lock=not no_user_stack)
    outcome = advise(stack.requirements, stack.requirements_lock, constraints=stack.constraints,
                  recommendation_type=recommendation_type, runtime_environment=runtime_environment,
                  src_path=src_path, runtime_environment_name=name, dev=dev, no_static_analysis=no_static_analysis,
                  no_user_stack=no_user_stack, nowait=nowait, force=force, debug=debug, origin=origin,
                  timeout=timeout, verify_tls=verify_tls, labels=labels, **service_only)
    if isinstance(outcome, str):
        files.remember_analysis_id(outcome)
    elif outcome is not None and outcome[2].get("document_id"):
        files.remember_analysis_id(str(outcome[2]["document_id"]))
    return outcome


def provenance_check_here(*, nowait: bool = False, force: bool = False, debug: bool = False,
                          origin: str | None = None, timeout: float | None = None, verify_tls: bool = True,
                          **service_only: Any) -> Outcome:
    """1.x's provenance check of the project's Pipfile and Pipfile.lock."""
    _check_service_only(service_only)
    _tls(verify_tls)
    files = _files(None)
    stack = files.read_stack(with_lock=True)
    backend = Backend()
    deadline = Deadline(default_timeout() if timeout is None else timeout)
    submitted = submit_provenance_check(stack, force=force, debug=debug, origin=origin, backend=backend,
                                        deadline=deadline)
    files.remember_analysis_id(submitted.analysis_id)
    if nowait:
        return submitted.analysis_id
    return _outcome(wait_for_results(submitted.analysis_id, backend=backend, deadline=deadline))


def get_log(analysis_id: str | None = None) -> str:
    return get_analysis_log(analysis_id or get_last_analysis_id())


def get_status(analysis_id: str | None = None) -> dict[str, Any]:
    return dict(get_analysis_status(analysis_id or get_last_analysis_id()).get("status") or {})


def list_thoth_container_images(**filters: str | None) -> list[dict[str, Any]]:
    return list_images(**filters)


def list_python_environments() -> list[dict[str, Any]]:
    return list_environments()


def list_python_package_indexes() -> list[dict[str, Any]]:
    return list_indexes()


def whatprovides(import_names: str | Iterable[str], backend: Backend | None = None) -> list[dict[str, Any]]:
    """The packages providing an importable module, or several (each answer then names its module
    in ``import_name``)."""
    if isinstance(import_names, str):
        return whatprovides_one(import_names, backend=backend)
    backend = backend or Backend()
    answers = []
    for name in import_names:
        if not isinstance(name, str):
            raise BadInputError(f"whatprovides: {name!r} is not a module name")
        answers.extend({"import_name": name, **item} for item in whatprovides_one(name, backend=backend))
    return answers


def get_package_from_imported_packages(import_name: str) -> list[dict[str, Any]]:
    return whatprovides(import_name)


def get_static_analysis(src_path: str = ".", **_options: bool) -> dict[str, Any]:
    """1.x's library usage of the sources under ``src_path`` (standard library left out)."""
    return gather_library_usage(Path(src_path)).document()


def image_analysis(image: str, **_options: Any) -> Any:
    """Thoth analysed container images on its cluster; this backend does not."""
    raise ThamosError(f"Image analysis ({image}) is not offered by this backend: it analyses Python stacks only")
