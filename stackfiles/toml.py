"""TOML text to plain data: the standard library's reader where it exists (3.11+), else tomlkit."""

from __future__ import annotations

from typing import Any

from stackfiles.errors import StackFileError

try:
    import tomllib as _reader

    _ERRORS: tuple[type[Exception], ...] = (_reader.TOMLDecodeError,)
except ModuleNotFoundError:  # Python 3.10
    _reader = None
    _ERRORS = ()


def load_toml(text: str, source: str) -> dict[str, Any]:
    """The document as dicts and lists; StackFileError naming ``source`` when it is not TOML."""
    if _reader is not None:
        try:
            return _reader.loads(text)
        except _ERRORS as exc:
            raise StackFileError(f"{source}: not valid TOML: {exc}") from None
    import tomlkit  # only on Python 3.10

    try:
        return tomlkit.parse(text).unwrap()
    except tomlkit.exceptions.TOMLKitError as exc:
        raise StackFileError(f"{source}: not valid TOML: {exc}") from None
