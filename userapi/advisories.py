"""The server's advisory data: the refresher of a URL source, and what GET /advisories reports."""

from __future__ import annotations

import logging
from typing import Any

from userapi.settings import ServerSettings

LOGGER = logging.getLogger("userapi")


def _interval(settings: ServerSettings) -> float:
    from adviser.advisory_source import DEFAULT_INTERVAL

    return float(getattr(settings, "advisory_refresh", None) or DEFAULT_INTERVAL)


def start_refresher(settings: ServerSettings) -> Any:
    """A running AdvisoryRefresher when the advisory database is a URL, else None."""
    from adviser.advisory_source import AdvisoryRefresher, is_url

    if not is_url(settings.advisory_db):
        return None
    refresher = AdvisoryRefresher(str(settings.advisory_db), settings.cache_dir, _interval(settings),
                                  log=lambda level, message: LOGGER.log(level, "%s", message))
    refresher.start()
    return refresher


def advisory_info(settings: ServerSettings) -> dict[str, Any]:
    """Source, date, staleness and counts of the advisory data analyses use now (AdvisoryDatabaseInfo)."""
    from adviser.advisories import load_advisories
    from adviser.advisory_source import is_url, redact_url

    configured = settings.advisory_db
    database = load_advisories(configured, settings.cache_dir)
    info = database.info()
    info["configured"] = redact_url(str(configured)) if configured is not None else None
    info["refresh_interval"] = _interval(settings) if is_url(configured) else None
    info["note"] = database.note
    return info


def log_snapshot(settings: ServerSettings) -> None:
    """Say at start which advisory snapshot analyses use."""
    try:
        info = advisory_info(settings)
    except ValueError as exc:  # an unreadable snapshot: every analysis will say so too
        LOGGER.warning("advisory database: %s", exc)
        return
    if not info["advisories"]:
        LOGGER.warning("no advisory data: security recommendations cannot avoid known vulnerabilities")
        return
    LOGGER.info("advisory snapshot %s of %s: %s advisories for %s packages%s", info["source"],
                info["date"] or "unknown date", info["advisories"], info["packages"],
                " (stale)" if info["stale"] else "")
    if info["note"]:
        LOGGER.warning("%s", info["note"])
