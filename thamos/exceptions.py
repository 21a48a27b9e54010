"""Errors raised by the thamos library; each carries the CLI exit code it maps to."""

from __future__ import annotations

from . import exit_codes


class ThamosError(Exception):
    """Base of all expected errors: the CLI prints the message (one line) and exits with ``exit_code``."""

    exit_code = exit_codes.GENERIC_ERROR

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Extra context shown only in verbose mode.
        self.detail = detail


class BadInputError(ThamosError):
    """A file or argument given by the user cannot be used (malformed Pipfile, bad labels...)."""

    exit_code = exit_codes.BAD_INPUT


class ConfigurationError(ThamosError):
    """``.thoth.yaml`` (or its template) is missing, malformed or invalid."""

    exit_code = exit_codes.CONFIGURATION_ERROR


class NoConfigurationError(ConfigurationError):
    """No ``.thoth.yaml`` was found in the working directory or any parent."""


class NoRuntimeEnvironmentError(ConfigurationError):
    """The requested runtime environment is not configured."""


class ConfigExistsError(ConfigurationError):
    """``thamos config`` refused to overwrite an existing configuration file."""


class ProjectWriteError(ThamosError):
    """A project file cannot be written (read-only directory, full disk); nothing was changed."""


class BackendUnreachableError(ThamosError):
    """Connection failures or persistent server errors (5xx)."""

    exit_code = exit_codes.BACKEND_UNREACHABLE


class BackendRequestError(ThamosError):
    """The backend rejected the request (4xx)."""

    def __init__(self, message: str, *, status: int, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.status = status
        if status in (400, 422):
            self.exit_code = exit_codes.BAD_INPUT


class AnalysisFailedError(ThamosError):
    """The analysis finished but reported an error (e.g. an unresolvable stack)."""

    exit_code = exit_codes.ANALYSIS_FAILED

    def __init__(self, message: str, *, document: dict | None = None, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.document = document


class AnalysisTimeoutError(ThamosError):
    """The analysis did not finish within the configured time."""

    exit_code = exit_codes.TIMEOUT


class LockMismatchError(ThamosError):
    """A lock file does not belong to its input, or the environment differs from the lock."""

    exit_code = exit_codes.LOCK_MISMATCH


class NoAnalysisIdError(ThamosError):
    """No analysis id was given and none was remembered for this project."""

    exit_code = exit_codes.BAD_INPUT
