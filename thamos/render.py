"""Output: tables (rich), JSON and YAML on stdout; messages on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from . import settings
from .redact import redact_url_credentials

if TYPE_CHECKING:
    from rich.console import Console

OUTPUT_FORMATS = ("table", "json", "yaml")

_EMOJI = {"ok": "\u2705", "warn": "\u26a0\ufe0f", "error": "\u274c", "info": "\U0001f4a1", "wait": "\u23f3"}
_PLAIN = {"ok": "OK:", "warn": "WARNING:", "error": "ERROR:", "info": "-", "wait": "..."}


class Ui:
    """Where and how thamos talks to the user."""

    def __init__(self, *, verbose: bool | None = None, no_emoji: bool | None = None) -> None:
        # Given by the command's options; left out (an error before they are read), the variables.
        # (An error before they are read must still be reported: a bad word there counts as no.)
        self.no_emoji = settings.lenient_flag("THAMOS_NO_EMOJI") if no_emoji is None else no_emoji
        self.verbose = settings.lenient_flag("THAMOS_VERBOSE") if verbose is None else verbose

    # rich is imported for tables, trees and spinners only: ~50 ms of every command's start.
    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True)

    def symbol(self, kind: str) -> str:
        return (_PLAIN if self.no_emoji else _EMOJI)[kind]

    def message(self, kind: str, text: str) -> None:
        click.echo(f"{self.symbol(kind)} {redact_url_credentials(str(text))}", err=True)

    def error(self, text: str, detail: str | None = None) -> None:
        # click drops the colour when stderr is not a terminal.
        click.secho(f"{self.symbol('error')} {redact_url_credentials(str(text))}", fg="red", err=True)
        if detail and self.verbose:
            click.echo(redact_url_credentials(detail), err=True)

    def show_progress(self) -> bool:
        """A spinner only for people watching a terminal, never in logs or pipes."""
        return not settings.flag("THAMOS_NO_PROGRESSBAR") and sys.stdout.isatty() and sys.stderr.isatty()

    def status(self, text: str):
        """A context manager showing a spinner (or nothing) while waiting."""
        if self.show_progress():
            return self.err.status(text, spinner="dots")
        return _NoStatus()


class _NoStatus:
    def __enter__(self) -> _NoStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def dump(data: Any, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(data, indent=2, sort_keys=True, default=str)
    if output_format == "yaml":
        import yaml  # ~15 ms of every command's start, for --output yaml only

        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True).rstrip("\n")
    raise ValueError(f"not a data format: {output_format}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_cell(item)}" for key, item in value.items())
    return str(value)


def emit(
    ui: Ui,
    data: Any,
    output_format: str,
    *,
    rows: Iterable[dict[str, Any]] | None = None,
    columns: Sequence[tuple[str, str]] = (),
    title: str | None = None,
) -> None:
    """Print ``data`` as JSON/YAML, or ``rows`` as a table with ``columns`` ((header, key) pairs)."""
    if output_format in ("json", "yaml"):
        # Plain print: rich would re-wrap long lines and break machine-readable output.
        print(dump(data, output_format))
        return
    from rich.table import Table  # see Ui.out
    from rich.text import Text

    # Cells are Text, not strings: messages such as "no [[source]]" must not be read as rich markup.
    table = Table(title=Text(title) if title else None, show_lines=False)
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    count = 0
    for row in rows if rows is not None else (data or []):
        table.add_row(*(Text(_cell(row.get(key))) for _, key in columns))
        count += 1
    if count == 0:
        ui.message("info", f"{title or 'Nothing'}: no entries")
        return
    ui.out.print(table)


def key_value_rows(mapping: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """Flatten a nested mapping to ``{"key": "a.b", "value": ...}`` rows for a two-column table."""
    rows: list[dict[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(key_value_rows(value, name + "."))
        else:
            rows.append({"key": name, "value": value})
    return rows
