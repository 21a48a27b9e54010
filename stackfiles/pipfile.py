"""Pipfile: reading one, and THE lock hash (``_meta.hash.sha256`` of its Pipfile.lock).

The hash follows pipenv's definition (``Pipfile.calculate_hash`` of current pipenv): the sha256 of
the canonical JSON (sorted keys, compact separators) of ``{"_meta": {"requires", "sources"},
"default": [packages], "develop": [dev-packages], <other package categories>}``, with package
names in their PEP 503 canonical form. A Pipfile without ``[[source]]`` is hashed with pipenv's
default source (named "pypi", pip's built-in index, verify_ssl true); ``requires`` absent or empty
is ``{}``. ``[scripts]``, ``[pipenv]`` and ``[pipfile]`` never enter it. pipenv reads any other
top-level table as a package category; ``[thoth]`` is the exception here: it holds adviser
settings, not packages (pipenv refuses such Pipfiles), so editing it keeps a lock valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import tomlkit
from packaging.utils import canonicalize_name
from tomlkit.items import Comment, Whitespace

from stackfiles.errors import StackFileError
from stackfiles.toml import load_toml

DEFAULT_SOURCE_NAME = "pypi"
# The sections a lock is made from; render_pipfile edits only these.
LOCK_INPUT_SECTIONS = ("source", "packages", "dev-packages", "requires")
# Top-level tables that are not package categories.
NOT_PACKAGE_CATEGORIES = frozenset(
    {"source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv", "thoth", "default", "develop"}
)


def read_pipfile(text: str, source: str) -> dict[str, Any]:
    """The Pipfile as plain data after checking its top-level shape; StackFileError naming ``source``."""
    data = load_toml(text, source)
    for section in ("packages", "dev-packages", "requires", "pipenv", "thoth"):
        if section in data and not isinstance(data[section], dict):
            raise StackFileError(f"{source}: [{section}] must be a table")
    sources = data.get("source")
    if "source" in data and not (isinstance(sources, list) and all(isinstance(s, dict) for s in sources)):
        raise StackFileError(f"{source}: source must be an array of tables ([[source]])")
    return data


def pip_default_index_url() -> str:
    """pip's built-in default index, read from the installed pip (never written into this project)."""
    try:
        from pip._internal.models.index import PyPI
    except Exception as exc:  # pip missing or its internals moved
        raise RuntimeError(
            "no package index is configured and pip's default index cannot be read "
            f"({exc}); set PIP_INDEX_URL or `index-url` in pip.conf"
        ) from exc
    return PyPI.simple_url


def default_pipfile_source() -> dict[str, Any]:
    """The ``[[source]]`` pipenv assumes for a Pipfile that lists none."""
    return {"name": DEFAULT_SOURCE_NAME, "url": pip_default_index_url(), "verify_ssl": True}


def package_categories(pipfile: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every package table by its lock section name: default, develop and custom categories."""
    categories: dict[str, Mapping[str, Any]] = {
        "default": pipfile.get("packages") or {},
        "develop": pipfile.get("dev-packages") or {},
    }
    for name, value in pipfile.items():
        if name not in NOT_PACKAGE_CATEGORIES and isinstance(value, Mapping):
            categories[name] = value
    return categories


def hashed_content(pipfile: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a parsed Pipfile that enters the lock hash (see the module docstring)."""
    content: dict[str, Any] = {
        "_meta": {
            "requires": pipfile.get("requires") or {},
            "sources": pipfile.get("source") or [default_pipfile_source()],
        }
    }
    for category, packages in package_categories(pipfile).items():
        content[category] = {canonicalize_name(name): spec for name, spec in packages.items()}
    return content


def pipfile_hash(pipfile: Mapping[str, Any]) -> str:
    """Hex sha256 a Pipfile.lock made from ``pipfile`` carries as ``_meta.hash.sha256``."""
    canonical = json.dumps(hashed_content(pipfile), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def same_lock_inputs(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """True when both Pipfiles give the same lock hash (formatting, comments and [thoth] aside)."""
    return pipfile_hash(left) == pipfile_hash(right)


# ------------------------------------------------------------------ writing a Pipfile
def _toml_value(value: Any) -> Any:
    """A TOML item for a Pipfile value: mappings become inline tables (``{version = "*"}``), as
    Pipfiles write them, instead of tomlkit's default of a separate ``[packages.name]`` table."""
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _toml_value(item)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        for item in value:
            array.append(_toml_value(item))
        return array
    return value


def _section_text(name: str, value: Any) -> str:
    """TOML text of one new section (``[name]`` table or ``[[source]]`` array of tables)."""
    document = tomlkit.document()
    if name == "source" and isinstance(value, list):
        array = tomlkit.aot()
        for entry in value:
            table = tomlkit.table()
            for key, item in entry.items():
                table[key] = _toml_value(item)
            array.append(table)
        document[name] = array
    elif isinstance(value, dict):
        table = tomlkit.table()
        for key, item in value.items():
            table[key] = _toml_value(item)
        document[name] = table
    else:
        document[name] = _toml_value(value)
    return tomlkit.dumps(document).strip("\n") + "\n"


def _update_table(table: Any, new_value: dict[str, Any]) -> None:
    """Make ``table`` hold ``new_value``, touching only the entries that change (comments stay)."""
    for key in [key for key in table if key not in new_value]:
        del table[key]
    for key, value in new_value.items():
        if key not in table or _unwrap(table[key]) != value:
            table[key] = _toml_value(value)


def _update_sources(array: Any, wanted: list[dict[str, Any]]) -> None:
    """Make the ``[[source]]`` array hold ``wanted``, editing the user's tables where they are."""
    while len(array) > len(wanted):
        del array[len(array) - 1]
    for position, entry in enumerate(wanted):
        if position < len(array):
            _update_table(array[position], entry)
        else:
            append_source(array, entry)


def append_source(array: Any, entry: dict[str, Any]) -> None:
    """Append a ``[[source]]`` table to the array, after the last one's keys: comments and blank lines
    that close the last table belong to the section that follows it, so they move below the new one."""
    table = tomlkit.table()
    for key, value in entry.items():
        table[key] = _toml_value(value)
    trailing: list[Any] = []
    if len(array):
        body = array[len(array) - 1].value.body
        while body and body[-1][0] is None and isinstance(body[-1][1], (Comment, Whitespace)):
            trailing.insert(0, body.pop()[1])
    if not trailing:
        trailing = [tomlkit.nl()]  # the blank line before whatever section follows
    elif len(array):
        array[len(array) - 1].add(tomlkit.nl())
    for item in trailing:
        table.add(item)
    array.append(table)


def _unwrap(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def render_pipfile(advised: dict[str, Any], current_text: str | None) -> str:
    """Pipfile text for the advised Pipfile dict, keeping the user's document where it can.

    Only what differs for the lock hash is changed: entries of ``[packages]``, ``[dev-packages]``
    and ``[requires]`` are updated in place (comments, order and spacing of the rest stay), a
    changed ``[[source]]`` list is replaced, and a missing one goes to the top of the file as
    pipenv writes it. Other sections (``[thoth]``, ``[pipenv]``, ``[scripts]``...) are the user's.
    """
    document = tomlkit.parse(current_text) if current_text else tomlkit.document()
    empty: dict[str, Any] = {"source": [], "packages": {}, "dev-packages": {}, "requires": {}}
    prepend: list[str] = []
    append: list[str] = []
    for section in LOCK_INPUT_SECTIONS:
        wanted = advised.get(section, empty[section])
        present = section in document
        if (_unwrap(document[section]) if present else empty[section]) == wanted:
            continue
        if not present:
            (prepend if section == "source" else append).append(_section_text(section, wanted))
        elif wanted == empty[section]:
            del document[section]
        elif section == "source":
            _update_sources(document[section], wanted)
        else:
            _update_table(document[section], wanted)
    for section, value in advised.items():
        if section not in LOCK_INPUT_SECTIONS and section not in document:
            append.append(_section_text(section, value))
    text = tomlkit.dumps(document).rstrip("\n") + "\n"
    if append:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + "\n".join(append)
    if prepend:
        text = "\n".join(prepend) + ("\n" + text if text.strip() else "")
    return text
