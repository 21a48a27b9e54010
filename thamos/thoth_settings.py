"""The adviser's own settings of a pipenv project: the Pipfile's ``[thoth]`` table, or the same keys
under ``thoth:`` of a runtime environment in ``.thoth.yaml``.

Current pipenv refuses a Pipfile with a ``[thoth]`` table in ``pipenv install --deploy`` and
``pipenv verify`` ("Unrecognized Pipfile option(s)"); ``pipenv sync`` and ``micropipenv`` accept it.
A project that uses those commands keeps the settings in ``.thoth.yaml`` instead: they are added to
the Pipfile sent with the request only, and never written into the Pipfile. Where both exist, the
Pipfile's table wins. The first advise of a Pipfile with the table says so once (remembered in the
data directory).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import tomlkit

from .embedded import data_dir

_LOGGER = logging.getLogger(__name__)

THOTH_TABLE_NOTE = (
    "{pipfile} has a [thoth] table: current pipenv refuses it in `pipenv install --deploy` and "
    "`pipenv verify` (\"Unrecognized Pipfile option(s)\"); `pipenv sync` and micropipenv accept it. "
    "The same settings can live under `thoth:` of the runtime environment in .thoth.yaml instead."
)


def settings_for_request(pipfile_text: str, pipfile: dict[str, Any], environment: dict[str, Any],
                         where: Path) -> tuple[str, bool]:
    """(Pipfile text to send, whether .thoth.yaml's settings were added to it)."""
    configured = environment.get("thoth") or {}
    if "thoth" in pipfile:
        note_thoth_table_once(where)
        if configured:
            _LOGGER.warning("%s has a [thoth] table; the thoth: settings of runtime environment %r in "
                            ".thoth.yaml are not used", where.name, environment.get("name"))
        return pipfile_text, False
    if not configured:
        return pipfile_text, False
    document = tomlkit.parse(pipfile_text)
    table = tomlkit.table()
    for key, value in configured.items():
        table[key] = value
    document["thoth"] = table
    return tomlkit.dumps(document), True


def note_thoth_table_once(pipfile: Path) -> None:
    """Say once per Pipfile which pipenv commands reject its [thoth] table, and where else it can live."""
    key = hashlib.sha256(str(pipfile.resolve()).encode()).hexdigest()[:16]
    marker = data_dir() / "notes" / f"thoth-table-{key}"
    if marker.exists():
        return
    _LOGGER.warning(THOTH_TABLE_NOTE.format(pipfile=pipfile))
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(pipfile) + "\n", encoding="utf-8")
    except OSError:  # unwritable data directory: the note is said again next time
        pass
