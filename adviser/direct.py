"""Direct references: Pipfile packages taken from a local path or a git repository, not an index.

Each becomes one ``DirectPackage``: exactly one version, the dependencies of its core metadata, and
the lock entry pipenv writes for it (``{"editable": true, "path": "./mylib"}``,
``{"git": url, "ref": "<commit>"}``; no version, no hashes). The provider offers it as the only
candidate of its name (no index is asked), as pip does for a direct reference.

Local path packages: the client prepared their metadata on its own machine and sent it with the
request (``local_packages``); the server never reads a client's path. Git packages are fetched
and prepared here (adviser.vcs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from adviser.index.models import CoreMetadata
from adviser.index.sources import IndexSource
from adviser.project import DirectRequirement, ProjectError


@dataclass(frozen=True)
class DirectPackage:
    name: str  # canonical
    version: Version
    metadata: CoreMetadata
    lock_entry: dict[str, Any]  # without markers and extras (the report adds them)
    origin: str  # for messages: "local path ./mylib", "git https://... at <commit> (ref main)"
    # Stands where an index stands for other packages (the resolver's bookkeeping needs one).
    index: IndexSource

    def describe(self) -> str:
        return f"{self.name} {self.version} from {self.origin}"


def metadata_for(requirement: DirectRequirement, text: bytes, origin: str, where: str) -> CoreMetadata:
    """Parse prepared metadata and check it is the package the Pipfile names."""
    from adviser.index import MetadataUnavailable
    from adviser.index.core_metadata import parse_core_metadata

    try:
        metadata = parse_core_metadata(text, source="build", origin=origin)
    except MetadataUnavailable as exc:
        raise ProjectError(f"{where}: {exc.reason}") from None
    if canonicalize_name(metadata.name) != requirement.name:
        raise ProjectError(f"{where}: {origin} is the project {metadata.name!r}, not {requirement.name!r}")
    version = Version(metadata.version)
    if str(requirement.specifier) and not requirement.specifier.contains(version, prereleases=True):
        raise ProjectError(f"{where}: {origin} has version {version}, which does not match {requirement.specifier}")
    return metadata


def local_packages(requirements: list[DirectRequirement], sent: Any) -> dict[str, DirectPackage]:
    """The local path packages of the Pipfile, from the metadata the client sent (``local_packages``)."""
    wanted = [r for r in requirements if r.direct and "path" in r.direct]
    if not wanted:
        return {}
    if sent is not None and not isinstance(sent, list):
        raise ProjectError("local_packages must be a list of {name, version, path, editable, metadata}")
    by_name = {}
    for item in sent or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            by_name[canonicalize_name(item["name"])] = item
    found: dict[str, DirectPackage] = {}
    for requirement in wanted:
        where = requirement.where()
        path = requirement.direct["path"]
        item = by_name.get(requirement.name)
        if item is None or not isinstance(item.get("metadata"), str) or not item["metadata"].strip():
            raise ProjectError(
                f"{where}: the local path {path} is on the client's machine and this request carries no "
                "metadata prepared from it (local_packages); thamos prepares it when it advises"
            )
        if item.get("path") != path:
            raise ProjectError(f"{where}: local_packages names path {item.get('path')!r}, the Pipfile {path!r}")
        origin = f"local path {path}"
        try:
            text = item["metadata"].encode("utf-8")
        except (AttributeError, UnicodeEncodeError):
            raise ProjectError(f"{where}: the metadata sent for {path} is not UTF-8 text") from None
        metadata = metadata_for(requirement, text, origin, where)
        entry: dict[str, Any] = {"path": path}
        if requirement.direct.get("editable"):
            entry["editable"] = True
        found[requirement.name] = DirectPackage(
            requirement.name, Version(metadata.version), metadata, entry, origin,
            IndexSource(name="local-path", url=f"path:{path}"),
        )
    return found


def prepare_direct(requirements: list[DirectRequirement], request: dict[str, Any], *, cache: Any, options: Any,
                   python: str, log: Any) -> dict[str, DirectPackage]:
    """The direct references among ``requirements``: local paths (from the request), then git."""
    from adviser.vcs import git_packages

    requirements = [r for r in requirements if r.direct]
    found = local_packages(requirements, request.get("local_packages"))
    found.update(git_packages(requirements, cache=cache, options=options, python=python, log=log))
    return found
