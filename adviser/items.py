"""The justification / stack_info item shape shared by every part of a report."""

from __future__ import annotations

from typing import Any


def report_item(kind: str, message: str, link: str = "", package: str | None = None) -> dict[str, Any]:
    """One report entry: ``type`` (INFO/WARNING/ERROR), ``message``, ``link`` and the package if any."""
    item = {"type": kind, "message": message, "link": link or ""}
    if package is not None:
        item["package_name"] = package
    return item
