"""Helpers for the adviser engine tests: Pipfile text, requests, and reading result documents."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from adviser import AdviserSettings, advise

LINUX_311 = {"platform": "linux-x86_64", "python_version": "3.11"}


def pipfile(sources: list[tuple[str, str]], packages: str, *, extra: str = "", dev_packages: str = "") -> str:
    """Pipfile text: ``sources`` as (name, url), ``packages`` as TOML lines of [packages]."""
    text = ""
    for name, url in sources:
        text += f'[[source]]\nurl = "{url}"\nverify_ssl = false\nname = "{name}"\n\n'
    text += (
        f'[packages]\n{packages}\n\n[dev-packages]\n{dev_packages}\n\n[requires]\npython_version = "3.11"\n'
    )
    return text + ("\n" + extra if extra else "")


def run(
    requirements: str,
    cache_dir: Path,
    *,
    runtime: dict | None = None,
    recommendation_type: str = "latest",
    settings: dict | None = None,
    **stack_or_request: Any,
) -> dict:
    stack_keys = ("requirements_lock", "requirements_format", "constraints")
    stack = {"requirements": requirements, **{k: v for k, v in stack_or_request.items() if k in stack_keys}}
    request = {
        "application_stack": stack,
        "runtime_environment": dict(LINUX_311 if runtime is None else runtime),
        "recommendation_type": recommendation_type,
        **{k: v for k, v in stack_or_request.items() if k not in stack_keys},
    }
    return advise(request, AdviserSettings(cache_dir=cache_dir, **(settings or {})))


def product(document: dict) -> dict:
    assert document["error"] is False, document["error_msg"]
    return document["report"]["products"][0]


def locked_versions(document: dict, section: str = "default") -> dict[str, str]:
    lock = product(document)["project"]["requirements_locked"]
    return {name: entry["version"].lstrip("=") for name, entry in lock[section].items()}


def messages(document: dict, kind: str | None = None, where: str = "justification") -> list[str]:
    if where == "stack_info":
        items = document["report"]["stack_info"]
    else:
        items = product(document)["justification"]
    return [i["message"] for i in items if kind is None or i["type"] == kind]


def ago(**delta: float) -> str:
    """An ISO upload time ``delta`` before now (UTC)."""
    return (datetime.now(timezone.utc) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
