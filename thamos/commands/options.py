"""What the command groups share: the state of the root group, the common options and arguments, and
what they select (a runtime environment with its project files, an analysis id)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import click

from .. import settings
from ..config import config
from ..exceptions import NoAnalysisIdError
from ..project_files import ProjectFiles
from ..render import OUTPUT_FORMATS, Ui


@dataclass
class State:
    """Set by the root group's options; ``main`` reads ``ui`` to report a failure the same way."""

    ui: Ui = field(default_factory=Ui)
    debug: bool = False


def state() -> State:
    return click.get_current_context().ensure_object(State)


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


def selected(runtime_environment: str | None) -> tuple[dict[str, Any], ProjectFiles]:
    """The runtime environment named by --runtime-environment and its project files."""
    environment = config.get_runtime_environment(runtime_environment)
    files = ProjectFiles(config.files_dir(environment["name"]), config.requirements_format)
    return environment, files


def resolve_analysis_id(analysis_id: str | None, runtime_environment: str | None, kind: str | None = None) -> str:
    """The analysis id given, else the last one remembered for the runtime environment (the last of
    ``kind`` when given: `diff` and `graph` want the last advise even after a provenance check)."""
    if analysis_id:
        return analysis_id.strip()
    _, files = selected(runtime_environment)
    remembered = files.recall_analysis_id(kind)
    if remembered is None:
        what = f"no {kind} analysis" if kind else "none"
        raise NoAnalysisIdError(
            f"No analysis id given and {what} remembered in {files.last_analysis_id}; pass one explicitly"
        )
    return remembered


def interactive() -> bool:
    return not settings.flag("THAMOS_NO_INTERACTIVE") and sys.stdin.isatty()
