"""requirements.in / requirements.txt / constraints.txt: lines read the way pip reads them, and a lock rendered.

Reading keeps what each line is (a requirement with its ``--hash`` options, or an option such as
``--index-url``) and where it was, so the client and the adviser give the same messages for the
same file. Rendering a requirements.txt from a Pipfile.lock is micropipenv's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from stackfiles.errors import StackFileError

_HASH_OPTION = re.compile(r"--hash[=\s]+(\S+)")
# pip: a comment starts with "#" at the beginning of a line or after whitespace (URL fragments stay).
_COMMENT = re.compile(r"(?:^|\s)#.*$")
_OPTION = re.compile(r"^(-{1,2}[A-Za-z][\w-]*)(?:\s*=\s*|\s+)?(\S.*)?$")


@dataclass(frozen=True)
class RequirementsLine:
    """One logical line: a requirement (with its hashes) or an option (``-i URL``, ``--pre``, ``-e PATH``)."""

    number: int  # first physical line
    text: str  # the line without comments and --hash options
    requirement: Requirement | None = None
    hashes: tuple[str, ...] = field(default=())

    @property
    def is_option(self) -> bool:
        return self.requirement is None

    @property
    def option(self) -> tuple[str, str | None]:
        """(flag, value) of an option line: ``("--index-url", "https://...")``, ``("--pre", None)``."""
        match = _OPTION.match(self.text)
        if match is None:
            return self.text, None
        return match.group(1), match.group(2)

    @property
    def pinned_version(self) -> str | None:
        """The version of a ``name==version`` pin, else None."""
        if self.requirement is None:
            return None
        specifiers = list(self.requirement.specifier)
        if len(specifiers) == 1 and specifiers[0].operator in ("==", "===") and "*" not in specifiers[0].version:
            return specifiers[0].version
        return None


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Backslash continuations joined and comments dropped; each with its first line number."""
    lines: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        stripped = _COMMENT.sub("", raw).rstrip()
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        buffer += stripped
        if buffer.strip():
            lines.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        lines.append((start, buffer.strip()))
    return lines


def split_hashes(line: str) -> tuple[str, tuple[str, ...]]:
    """A requirement line without its ``--hash`` options, and those hashes."""
    return _HASH_OPTION.sub("", line).strip(), tuple(_HASH_OPTION.findall(line))


def read_requirements(text: str, source: str) -> list[RequirementsLine]:
    """Every logical line of a requirements file; StackFileError naming the line pip could not read."""
    result = []
    for number, line in logical_lines(text):
        body, hashes = split_hashes(line)
        if body.startswith("-"):
            result.append(RequirementsLine(number, body))
            continue
        result.append(RequirementsLine(number, body, parse_requirement(body, f"{source} line {number}"), hashes))
    return result


def parse_requirement(text: str, where: str) -> Requirement:
    """One PEP 508 requirement; StackFileError naming ``where`` and pip's reason otherwise."""
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        reason = " ".join(str(exc).splitlines()[0].split())
        raise StackFileError(f"{where}: {text!r} is not a valid requirement ({reason})") from None


def render_requirements_txt(lock: dict[str, Any], *, dev: bool = False) -> str:
    """requirements.txt (pinned, with hashes and index options) from a Pipfile.lock, via micropipenv.

    micropipenv expands ``${VAR}`` in index URLs; the file keeps them as written (pip expands them
    when it reads the file, and thamos install does too), so they go through it masked.
    """
    import micropipenv  # imported here: it is only needed when writing pip-format locks

    sources = ((lock.get("_meta") or {}).get("sources")) or []
    masked = [{**s, "url": s["url"].replace("$", _DOLLAR)} if isinstance(s.get("url"), str) else s for s in sources]
    lock = {**lock, "_meta": {**(lock.get("_meta") or {}), "sources": masked}}
    sections = micropipenv.get_requirements_sections(pipfile_lock=lock, no_dev=not dev)
    header = "#\n# This file was written by `thamos advise`; edit requirements.in instead.\n#\n"
    try:
        return header + micropipenv.requirements_str(sections).replace(_DOLLAR, "$")
    except micropipenv.MicropipenvException as exc:
        raise StackFileError(f"cannot render requirements.txt from the advised lock: {exc}") from None


_DOLLAR = "__thamos_dollar__"
