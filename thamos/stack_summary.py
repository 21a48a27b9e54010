"""Summaries of advise documents the client computes itself (no external service): ``advise --scoring``
(what the justifications say about the stack) and the difference of two analyses (``advise --diff``,
``diff NEW OLD``)."""

from __future__ import annotations

from typing import Any

from packaging.utils import canonicalize_name

from stackfiles import lock_diff

SEVERITIES = ("ERROR", "WARNING", "INFO")


def _product(document: dict[str, Any]) -> dict[str, Any]:
    report = (document.get("result") or {}).get("report") or {}
    products = report.get("products") or [] if isinstance(report, dict) else []
    return products[0] if products else {}


def locked_packages(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    lock = (_product(document).get("project") or {}).get("requirements_locked") or {}
    return lock_diff.packages_of_lock(lock)


def scoring(document: dict[str, Any]) -> list[str]:
    """Lines of the summary: the share of packages with a remark of each severity, and the score."""
    product = _product(document)
    packages = {canonicalize_name(name) for name in locked_packages(document)}
    if not product or not packages:
        return []
    flagged: dict[str, set[str]] = {severity: set() for severity in SEVERITIES}
    for item in product.get("justification") or []:
        name = item.get("package_name")
        severity = str(item.get("type") or "INFO").upper()
        if name and severity in flagged and canonicalize_name(str(name)) in packages:
            flagged[severity].add(canonicalize_name(str(name)))
    total = len(packages)
    clean = packages - flagged["ERROR"] - flagged["WARNING"]
    lines = [f"{_percent(len(clean), total)}% of the {total} locked packages have no warning or error"]
    for severity in ("ERROR", "WARNING"):
        if flagged[severity]:
            names = ", ".join(sorted(flagged[severity]))
            lines.append(f"{_percent(len(flagged[severity]), total)}% have a {severity}: {names}")
    score = product.get("score")
    if isinstance(score, (int, float)):
        lines.append(f"score {score:g}: the share of packages resolved without falling back to less preferred "
                     "versions")
    return lines


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 100


def analyses_difference(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """How the stack advised in ``new`` differs from the one in ``old``: packages and remarks."""
    packages = lock_diff.lock_differences(locked_packages(old), locked_packages(new))

    def remarks(document: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(str(item.get("type") or ""), str(item.get("package_name") or ""), str(item.get("message") or ""))
                for item in _product(document).get("justification") or []}

    before, after = remarks(old), remarks(new)
    as_rows = [{"type": t, "package": p, "message": m} for t, p, m in sorted(after - before)]
    gone = [{"type": t, "package": p, "message": m} for t, p, m in sorted(before - after)]
    return {"packages": packages, "new_remarks": as_rows, "gone_remarks": gone}
