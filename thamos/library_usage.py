"""Which symbols of which libraries the project's code uses (``library_usage`` of an advise request).

Static only: the sources are read, never run or imported. The result has the shape thamos 1.x sent
(invectio's report merged over files): ``{"report": {"flask": ["flask.Flask", "flask.jsonify"]},
"version": "thamos X"}``; the standard library and the project's own modules are left out.

Parsing whole files with ``ast`` costs about 0.6 s per MB of source (a project of 500 files holds
several MB), so only the import statements are parsed with ``ast``: comments and string literals
are blanked out first, and the names the imports bind are then followed through attribute chains
(``np.linalg.norm``) by one regular expression per file. An import statement that does not parse,
or a file that is not UTF-8, is skipped and named with --verbose.
"""

from __future__ import annotations

import ast
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .project_imports import iter_python_files, local_module_names

_LOGGER = logging.getLogger(__name__)

# Comments and string literals (any prefix, triple-quoted too): blanked before looking for names.
_NOISE = re.compile(
    r"#[^\n]*"
    r"|(?<!\w)[rRbBuUfF]{0,2}(?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''"
    r"|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')"
)
_IMPORT_START = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import\b|import[ \t])", re.MULTILINE)
_SPACES = re.compile(r"\s+")


@dataclass
class LibraryUsage:
    usage: dict[str, set[str]] = field(default_factory=dict)
    files: int = 0
    skipped: list[str] = field(default_factory=list)

    def document(self) -> dict[str, object]:
        """The request's ``library_usage`` (sorted, so equal projects send equal requests)."""
        report = {library: sorted(symbols) for library, symbols in sorted(self.usage.items())}
        return {"report": report, "version": f"thamos {__version__}"}


def _blank(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("#"):
        return ""
    return '""' + "\n" * text.count("\n")  # a multi-line string keeps its lines


def _statement_end(text: str, start: int) -> int:
    """End of the logical line starting at ``start`` (brackets and backslashes continue it)."""
    depth, position = 0, start
    while position < len(text):
        char = text[position]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "\\" and text.startswith("\n", position + 1):
            position += 1
        elif char == "\n" and depth <= 0:
            return position
        position += 1
    return position


def _imports(text: str) -> tuple[dict[str, str], set[str], int]:
    """(name bound -> dotted name it stands for, names imported, statements that did not parse)."""
    bound: dict[str, str] = {}
    used: set[str] = set()
    failed = 0
    for match in _IMPORT_START.finditer(text):
        statement = text[match.start():_statement_end(text, match.start())].strip()
        try:
            tree = ast.parse(statement)
        except SyntaxError:
            failed += 1
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    used.add(alias.name)
                    top = alias.name.split(".", 1)[0]  # `import a.b` binds `a`
                    bound[alias.asname or top] = alias.name if alias.asname else top
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    target = node.module if alias.name == "*" else f"{node.module}.{alias.name}"
                    used.add(target)
                    if alias.name != "*":
                        bound[alias.asname or alias.name] = target
    return bound, used, failed


def file_usage(source: str) -> tuple[set[str], int]:
    """Dotted names a module imports or reaches through an imported name (``np.linalg.norm`` after
    ``import numpy as np`` is ``numpy.linalg.norm``), and how many import statements did not parse."""
    text = _NOISE.sub(_blank, source)
    bound, used, failed = _imports(text)
    if bound:
        names = "|".join(sorted(map(re.escape, bound), key=len, reverse=True))
        chain = re.compile(rf"(?<![\w.])({names})((?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*)(?!\w)")
        for match in chain.finditer(text):
            used.add(bound[match.group(1)] + _SPACES.sub("", match.group(2)))
    return used, failed


def gather_library_usage(root: Path) -> LibraryUsage:
    """Library usage of the Python sources under ``root`` (virtualenvs, caches and VCS data skipped)."""
    root = Path(root)
    files = list(iter_python_files(root))
    excluded = set(sys.stdlib_module_names) | local_module_names(root) | {"__future__"}
    result = LibraryUsage(files=len(files))
    for path in files:
        relative = path.relative_to(root)
        try:
            symbols, failed = file_usage(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, OSError) as exc:
            result.skipped.append(str(relative))
            _LOGGER.info("Library usage: skipped %s (%s)", relative, getattr(exc, "reason", None) or exc)
            continue
        if failed:
            result.skipped.append(str(relative))
            _LOGGER.info("Library usage: skipped %d import statement(s) of %s that do not parse", failed, relative)
        for symbol in symbols:
            library = symbol.split(".", 1)[0]
            if library not in excluded:
                result.usage.setdefault(library, set()).add(symbol)
    return result
