"""What the pages show, as plain data built from a stored analysis document.

Everything here is pure (no HTTP, no store) so it can be tested on documents alone. The templates
escape every string they print; nothing built here is marked safe.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from packaging.utils import canonicalize_name

from stackfiles import lock_diff

SEVERITY = {"ERROR": 3, "WARNING": 2, "INFO": 1}
SECTIONS = (("default", "packages"), ("develop", "dev-packages"))
STATE_WORDS = {
    "pending": "waiting for a worker",
    "running": "running",
    "succeeded": "finished",
    "failed": "failed",
}


def when(timestamp: float | None) -> str:
    """An epoch time as a short UTC text ('' when unknown)."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def result_of(document: Any) -> dict[str, Any]:
    return _dict(_dict(document).get("result"))


def best_product(document: Any) -> dict[str, Any] | None:
    products = _list(_dict(result_of(document).get("report")).get("products"))
    return products[0] if products and isinstance(products[0], dict) else None


def locked_of(document: Any) -> dict[str, Any]:
    """The advised Pipfile.lock of an adviser document, or the checked one of a provenance check."""
    product = best_product(document)
    if product is not None:
        return _dict(_dict(product.get("project")).get("requirements_locked"))
    project = _dict(_dict(result_of(document).get("parameters")).get("project"))
    return _dict(project.get("requirements_locked"))


def version_of(entry: dict[str, Any]) -> str:
    version = str(entry.get("version") or "")
    if version:
        return version[2:] if version.startswith("==") else version
    if "git" in entry:
        return f"git {str(entry.get('ref') or '')[:12]}"
    if "path" in entry:
        return f"path {entry['path']}"
    return ""


def stack_rows(locked: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per locked package: package, version, index, section, hashes count, markers."""
    rows = []
    for section, _ in SECTIONS:
        for name, entry in sorted(_dict(locked.get(section)).items()):
            entry = _dict(entry)
            rows.append(
                {
                    "package": name,
                    "version": version_of(entry),
                    "index": entry.get("index") or "",
                    "section": section,
                    "hashes": len(_list(entry.get("hashes"))),
                    "markers": entry.get("markers") or "",
                }
            )
    return rows


def report_items(document: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(stack_info, justification of the best product) of an adviser document, as dicts."""
    report = _dict(result_of(document).get("report"))
    product = best_product(document) or {}
    stack_info = [item for item in _list(report.get("stack_info")) if isinstance(item, dict)]
    justification = [item for item in _list(product.get("justification")) if isinstance(item, dict)]
    return stack_info, justification


def findings(document: Any) -> list[dict[str, Any]]:
    """The findings of a provenance check."""
    return [item for item in _list(result_of(document).get("report")) if isinstance(item, dict)]


def direct_names(document: Any) -> set[str]:
    """Canonical names the project asks for itself (its Pipfile's [packages] and [dev-packages])."""
    product = best_product(document) or {}
    requirements = _dict(_dict(product.get("project")).get("requirements"))
    names = set()
    for _, pipfile_section in SECTIONS:
        names.update(canonicalize_name(str(name)) for name in _dict(requirements.get(pipfile_section)))
    return names


def facts(document: Any, analysis: Any) -> dict[str, Any]:
    """Recommendation type, rule set, runtime environment and parameters of an analysis."""
    result = result_of(document)
    parameters = _dict(result.get("parameters")) or _dict(analysis.parameters)
    pipeline = _dict(_dict(result.get("report")).get("pipeline"))
    product = best_product(document) or {}
    runtime = _dict(_dict(product.get("project")).get("runtime_environment")) or _dict(
        parameters.get("runtime_environment")
    )
    shown = {key: value for key, value in parameters.items() if key != "runtime_environment" and value is not None}
    return {
        "recommendation_type": pipeline.get("recommendation_type") or parameters.get("recommendation_type") or "",
        "rule_set": pipeline.get("rule_set") or "",
        "runtime_environment": flatten(runtime),
        "parameters": flatten(shown),
        "score": product.get("score"),
    }


def flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested settings as (dotted key, text) rows, for a two-column table."""
    rows: list[tuple[str, str]] = []
    for key, item in sorted(value.items()):
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            rows.extend(flatten(item, name + "."))
        elif isinstance(item, (list, tuple)):
            rows.append((name, ", ".join(str(part) for part in item) or "none"))
        else:
            rows.append((name, "none" if item in (None, "", {}) else str(item)))
    return rows


def error_text(analysis: Any, document: Any) -> str:
    """Why an analysis failed, in the words the adviser or the worker gave ('' when it did not)."""
    if analysis.state != "failed" and not result_of(document).get("error"):
        return ""
    return str(result_of(document).get("error_msg") or analysis.reason or "the analysis failed without a reason")


def lock_changes(base: Any, other: Any) -> list[dict[str, Any]]:
    """The rows `thamos diff` prints, from the lock of `base` to the lock of `other`."""
    return lock_diff.lock_differences(
        lock_diff.packages_of_lock(locked_of(base)), lock_diff.packages_of_lock(locked_of(other))
    )


def worst(items: list[dict[str, Any]]) -> str:
    """The most severe type among report items ('' when none)."""
    kinds = [str(item.get("type") or "") for item in items]
    return max(kinds, key=lambda kind: SEVERITY.get(kind, 0), default="")
