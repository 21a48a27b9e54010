"""Prescriptions for one advise request: the knowledge base of the settings, the context of the
request, and the boots and root pruning done while the request is planned."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from adviser.prescriptions.compiled import KnowledgeBase
from adviser.prescriptions.context import context_for
from adviser.prescriptions.evaluator import DEFAULT_LINK_BASE, PrescriptionUnit
from adviser.prescriptions.matching import IndexUrls

# Units switched off unless the settings say otherwise, with the reason the report gives.
DEFAULT_DENIED = {
    "thoth.Jinja2300Flask100Step": (
        "over-broad: it forbids jinja2>=3 with any flask>1.0.0, but every Flask 2 and later needs jinja2>=3, "
        "so it would hold Flask at 1.1.4; the incompatibility it was written for concerns Flask 1.x only"
    ),
}

_OPEN: dict[str, tuple[float, KnowledgeBase]] = {}
_LOCK = threading.Lock()


class PrescriptionsUnavailable(Exception):
    """The knowledge base the settings name cannot be read (not compiled yet, removed)."""


class PrescriptionStop(Exception):
    """A prescription ends the request (boot or stride ``not_acceptable``/``eager_stop_pipeline``)."""


def knowledge_for(path: str | os.PathLike) -> KnowledgeBase:
    """The compiled knowledge base at ``path``, opened once per process (again when recompiled)."""
    key = str(path)
    stamp = os.stat(key).st_mtime
    with _LOCK:
        found = _OPEN.get(key)
        if found is None or found[0] != stamp:
            if found is not None:
                found[1].close()
            found = _OPEN[key] = (stamp, KnowledgeBase(key))
        return found[1]


def aliases_of(value: Any) -> dict[str, str]:
    from adviser.aliases import parse_index_aliases

    return parse_index_aliases(value) if value else {}


def prescriptions_for(request: dict, parameters: dict, plan: Any, settings: Any,
                      log: Callable[[str], None], started: Callable[[PrescriptionUnit], None] | None = None
                      ) -> PrescriptionUnit | None:
    """The prescription unit of a planned request (None without a knowledge base); runs its boots
    (PrescriptionStop when one refuses the request) and leaves out the roots a sieve.SkipPackage drops."""
    path = getattr(settings, "prescriptions", None)
    if not path:
        return None
    if not os.path.exists(path):
        raise PrescriptionsUnavailable("The prescriptions are not compiled yet (the server's first start); "
                                       "this advice was made without them")
    try:
        knowledge = knowledge_for(path)
    except (OSError, sqlite3.Error) as exc:
        raise PrescriptionsUnavailable(f"The prescriptions cannot be read ({type(exc).__name__}); advising without them") from None
    context = context_for(request, parameters["recommendation_type"], plan.runtime, plan.target.python_version)
    denied = getattr(settings, "prescriptions_denied", None)
    unit = PrescriptionUnit(
        knowledge, context, urls=IndexUrls(aliases_of(settings.index_aliases)),
        denied=DEFAULT_DENIED if denied is None else denied,
        link_base=getattr(settings, "prescriptions_link_base", None) or DEFAULT_LINK_BASE, log=log,
    )
    if started is not None:
        started(unit)
    stop = unit.run_boots({root.name for root in plan.roots})
    if stop:
        raise PrescriptionStop(stop)
    kept = []
    for root in plan.roots:
        if unit.skip(root, None, {}):
            continue
        kept.append(root)
    plan.roots[:] = kept
    return unit
