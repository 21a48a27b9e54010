"""Rendering of tables: user and backend text is printed as it is, never read as rich markup."""

from __future__ import annotations

import io

from rich.console import Console

from thamos.render import Ui, emit


def test_table_cells_and_title_are_not_markup() -> None:
    ui = Ui()
    buffer = io.StringIO()
    ui.out = Console(file=buffer, width=200, highlight=False)
    rows = [{"type": "INFO", "message": "The Pipfile states no [[source]]; using [bold]the default[/bold]"}]
    emit(ui, rows, "table", columns=[("Type", "type"), ("Message", "message")], title="Results of [red]x[/red]")
    printed = buffer.getvalue()
    assert "The Pipfile states no [[source]]; using [bold]the default[/bold]" in printed
    assert "Results of [red]x[/red]" in printed
