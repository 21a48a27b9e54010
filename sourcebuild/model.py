"""The values sourcebuild takes and gives: limits, indexes, interpreters, results and the one error."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BuildLimits:
    """Ceilings of one build; every one of them ends the build with a BuildFailed naming it."""

    timeout: float = 120.0  # seconds, wall clock, whole build incl. installing build requirements
    memory_mb: int = 2048  # address-space limit of every build process
    output_kb: int = 256  # captured stdout/stderr kept per step (the oldest output is dropped)
    max_source_mb: int = 1024  # ceiling for an sdist archive or a source tree

    def __post_init__(self) -> None:
        for name in ("timeout", "memory_mb", "output_kb", "max_source_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"BuildLimits.{name} must be a positive number, not {value!r}")


@dataclass(frozen=True)
class IndexConfig:
    """Where build requirements come from: the same indexes as the resolution.

    URLs may carry credentials: they reach only the requirements installer, never the build
    backend's environment, never a message or log line.
    """

    index_url: str
    extra_index_urls: tuple[str, ...] = ()
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_index_urls", tuple(self.extra_index_urls))

    def urls(self) -> tuple[str, ...]:
        return (self.index_url, *self.extra_index_urls)


@dataclass(frozen=True)
class Interpreter:
    """A Python that can run build backends: the target of a build."""

    path: str  # absolute path of the python executable
    version: str  # full version, e.g. "3.9.18"
    matched: bool  # False when no interpreter of the wanted version was found and this is a fallback
    implementation: str = "CPython"
    wanted: str | None = None  # the version that was asked for, when one was

    def describe(self) -> str:
        """``CPython 3.9.18 (/root/.pyenv/versions/3.9.18/bin/python)``, plus the miss of a fallback."""
        text = f"{self.implementation} {self.version} ({self.path})"
        if not self.matched and self.wanted:
            text += f", used because no usable Python {self.wanted} was found"
        return text


@dataclass(frozen=True)
class BuiltMetadata:
    metadata: bytes  # the core metadata file (METADATA) as the backend produced it
    interpreter: Interpreter
    via: str  # "prepare_metadata_for_build_wheel" or "build_wheel"


class BuildFailed(Exception):
    """A build that gave no metadata.

    ``reason`` is one line a user can act on (secrets redacted), starting with the step that
    failed; ``permanent`` is False for time-outs and index/network/machine trouble, worth retrying
    later. ``stage`` names the step alone; ``output`` is the redacted tail of what it printed.
    """

    def __init__(self, reason: str, *, permanent: bool = True, stage: str = "", output: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.stage = stage
        self.output = output

    def __str__(self) -> str:
        return self.reason

    def __reduce__(self):  # picklable across process pools despite keyword-only arguments
        return (_rebuild_failure, (self.reason, self.permanent, self.stage, self.output))


def _rebuild_failure(reason: str, permanent: bool, stage: str, output: str) -> BuildFailed:
    return BuildFailed(reason, permanent=permanent, stage=stage, output=output)
