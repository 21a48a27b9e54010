"""What the client can judge about a project's files before sending anything (exit 2 naming the
file, the line or the key): their size, an empty Pipfile, package entries of the wrong type, invalid
package names and version specifiers, and pip options a requirements file may not hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .exceptions import BadInputError

# The server's default request limit: a larger project file cannot be sent, so it is not read.
MAX_FILE_BYTES = 4 * 1024 * 1024
# A project name as PEP 508 allows it.
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# The options pip reads from a requirements file (per file, and per requirement).
PIP_FILE_OPTIONS = frozenset({
    "-i", "--index-url", "--extra-index-url", "--no-index", "-c", "--constraint", "-r", "--requirement",
    "-e", "--editable", "-f", "--find-links", "--no-binary", "--only-binary", "--prefer-binary",
    "--require-hashes", "--pre", "--trusted-host", "--use-feature", "--hash", "--config-settings",
    "--global-option",
})


def check_size(path: Path) -> None:
    """BadInputError for a file too big to send, before reading it."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # reading it will say what is wrong
    if size > MAX_FILE_BYTES:
        raise BadInputError(f"{path} is {size / 1024 / 1024:.1f} MB: larger than the "
                            f"{MAX_FILE_BYTES // 1024 // 1024} MB a request may carry")


def check_pipfile(data: dict[str, Any], path: str) -> None:
    """BadInputError naming the section and key of the first package entry the backend would refuse."""
    if not (data.get("packages") or data.get("dev-packages")):
        raise BadInputError(f"{path} lists no packages: add them under [packages]")
    for section in ("packages", "dev-packages"):
        for name, value in (data.get(section) or {}).items():
            where = f"{path}: [{section}] {name}"
            if not _NAME.match(str(name)):
                raise BadInputError(f"{where}: {str(name)!r} is not a valid package name")
            if isinstance(value, dict):
                version = value.get("version", "*")
                if not isinstance(version, str):
                    raise BadInputError(f"{where}: version = {version!r} must be a string such as \"==1.0\" or \"*\"")
            elif isinstance(value, str):
                version = value
            else:
                raise BadInputError(f"{where} = {value!r}: a package is a version string (\"*\", \">=1.0\") "
                                    "or a table ({version = \"...\", ...})")
            _check_specifier(version, where)


def _check_specifier(version: str, where: str) -> None:
    text = version.strip()
    if text in ("", "*"):
        return
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise BadInputError(f"{where}: {version!r} is not a valid version specifier") from None


def check_requirements_options(lines: list[Any], path: str) -> None:
    """BadInputError naming the line of an option pip does not accept in a requirements file."""
    for line in lines:
        if not line.is_option:
            continue
        flag = line.option[0]
        if flag not in PIP_FILE_OPTIONS:
            raise BadInputError(f"{path} line {line.number}: {flag} is not an option pip accepts in a "
                                "requirements file")
