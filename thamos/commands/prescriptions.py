"""``thamos prescriptions``: the prescription repositories the backend applies to recommendations."""

from __future__ import annotations

import click

from ..render import emit
from .options import output_format_option, state


def _rows(listing: dict) -> list[dict]:
    rows = []
    for repository in listing.get("repositories") or []:
        units = repository.get("units") or {}
        rows.append({
            "name": repository.get("name"),
            "release": repository.get("release"),
            "source": repository.get("source"),
            "commit": (repository.get("commit") or "")[:12],
            "units": ", ".join(f"{kind} {count}" for kind, count in sorted(units.items())) or "none",
            "errors": len(repository.get("errors") or []),
            "compiled_at": repository.get("compiled_at"),
        })
    return rows


@click.command("prescriptions")
@output_format_option
def prescriptions_command(output_format: str) -> None:
    """List the prescription repositories the backend applies: release, source, units, load errors."""
    from ..backend import list_prescriptions

    ui = state().ui
    listing = list_prescriptions()
    emit(ui, listing, output_format, rows=_rows(listing),
         columns=[("Name", "name"), ("Release", "release"), ("Source", "source"), ("Commit", "commit"),
                  ("Units", "units"), ("Errors", "errors"), ("Compiled at", "compiled_at")],
         title="Prescriptions")
    if output_format in ("json", "yaml"):
        return
    for repository in listing.get("repositories") or []:
        for error in repository.get("errors") or []:
            ui.message("warn", f"{repository.get('name')}: {error}")
    if listing.get("problem"):
        ui.message("warn", listing["problem"])
    if not listing.get("repositories"):
        ui.message("info", "The backend applies no prescriptions (thamos serve --prescriptions PATH|GIT_URL)")


COMMANDS = (prescriptions_command,)
