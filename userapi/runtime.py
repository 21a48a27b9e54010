"""What the handlers share while the server runs: settings, store, job runner, the spec's facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from userapi.long_poll import FinishWatch
from userapi.middleware import ActivityClock
from userapi.queue import JobQueue
from userapi.settings import ServerSettings
from userapi.store import AnalysisStore

WEB_BASE = "/web/"  # where userapi.web serves its pages


@dataclass
class ServerRuntime:
    settings: ServerSettings
    store: AnalysisStore
    runner: JobQueue  # the in-process pool (embedded) or the team's queue
    api_version: str
    api_paths: list[str]
    container_images: list[dict[str, Any]] = field(default_factory=list)
    clock: ActivityClock = field(default_factory=ActivityClock)
    prescriptions: Any = None  # userapi.prescriptions.PrescriptionService when prescriptions are configured
    finish_watch: FinishWatch = field(init=False)  # the long polls held (userapi.long_poll)

    def __post_init__(self) -> None:
        self.finish_watch = FinishWatch(self.store.finished_among)

    def search_ui_url(self, scope: dict[str, Any]) -> str:
        """The web view's base URL (ends in /) on this very server, as the client reached it.

        Thoth clients append ``advise/<id>``, ``provenance/<id>`` or ``image/<name>`` to it.
        """
        host = None
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1")
                break
        if not host:
            server = scope.get("server") or (self.settings.host, self.settings.port)
            host = f"{server[0]}:{server[1]}"
        scheme = scope.get("scheme") or ("https" if self.settings.tls else "http")
        return f"{scheme}://{host}{WEB_BASE}"
