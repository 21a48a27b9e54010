"""Provenance check of a Pipfile.lock: does every locked artifact come from where the lock says?

Checks, each reported as a typed item of the report:

* LOCK_HASH_MISMATCH (ERROR): ``_meta.hash.sha256`` is not the hash of the Pipfile sent with it
  (see ``stackfiles.pipfile``), so the lock was not made from this Pipfile;
* INSECURE_SOURCE (WARNING): a source uses plain http or ``verify_ssl = false``;
* UNKNOWN_SOURCE (ERROR): a package names an ``index`` that is not among the lock's sources;
* MISSING_PACKAGE (ERROR): the package, or its locked version, is not on its index;
* ARTIFACT_HASH_NOT_FOUND (ERROR): a locked hash matches no file of that version on any index;
* ARTIFACT_ON_OTHER_INDEX (WARNING): a locked hash is not on the package's index but on another
  source (or another index the backend knows), so installing would fetch it from elsewhere;
* ARTIFACT_HASHES_MISSING (WARNING): a package is locked without hashes, so nothing can be checked;
* NOT_FROM_INDEX (INFO): a VCS, path or URL entry, which no index can vouch for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from packaging.version import InvalidVersion, Version

from adviser import wire
from adviser.index import (
    IndexClient,
    IndexSource,
    IndexUnreachable,
    PackageNotFound,
    ProjectPage,
    default_index_source,
)
from adviser.project import ProjectError, load_toml
from adviser.wire import provenance_finding as _item
from stackfiles.errors import StackFileError
from stackfiles.pipfile import pipfile_hash
from stackfiles.pipfile_lock import read_pipfile_lock

Log = Callable[[str], None]
NON_INDEX_KEYS = ("git", "hg", "svn", "bzr", "path", "file", "editable")


class ProvenanceInputError(ValueError):
    """The request does not carry a usable Pipfile and Pipfile.lock."""


def _document(parameters: dict, report: list[dict], error_msg: str | None = None) -> dict[str, Any]:
    if error_msg is None:
        return wire.result(parameters, report)
    return wire.error_result(wire.PROVENANCE, parameters, error_msg, report)


def check_provenance(request: dict[str, Any], settings: Any, log: Log | None = None) -> dict[str, Any]:
    """Check the lock in ``request["application_stack"]``; never raises, errors become the document."""
    given = log or (lambda _message: None)
    say = lambda message: given(wire.redact_urls(str(message)))  # noqa: E731 - no credentials in logs
    parameters = (
        {key: value for key, value in (request or {}).items() if key != "application_stack"}
        if isinstance(request, dict)
        else {}
    )
    try:
        pipfile, lock = _parse_input(request)
    except ProvenanceInputError as exc:
        say(f"provenance: rejected input: {exc}")
        return _document(parameters, [], str(exc))
    try:
        report, error_msg = _check(pipfile, lock, settings, say)
    except ProvenanceInputError as exc:
        say(f"provenance: rejected input: {exc}")
        return _document(parameters, [], str(exc))
    except Exception as exc:  # e.g. an unwritable cache directory: still answer with a document
        say(f"provenance: failed: {exc!r}")
        return _document(parameters, [], f"the provenance check failed: {exc}")
    return _document(parameters, report, error_msg)


def _parse_input(request: Any) -> tuple[dict, dict]:
    if not isinstance(request, dict) or not isinstance(request.get("application_stack"), dict):
        raise ProvenanceInputError("the request has no application_stack with a Pipfile and a Pipfile.lock")
    stack = request["application_stack"]
    requirements, lock_text = stack.get("requirements"), stack.get("requirements_lock")
    fmt = stack.get("requirements_format") or "pipenv"
    if fmt != "pipenv":
        raise ProvenanceInputError(
            f"provenance checks need a Pipfile and Pipfile.lock; requirements_format {fmt!r} is not supported"
        )
    if not isinstance(requirements, str) or not requirements.strip():
        raise ProvenanceInputError("the request carries no Pipfile (application_stack.requirements is empty)")
    if not isinstance(lock_text, str) or not lock_text.strip():
        raise ProvenanceInputError(
            "the request carries no Pipfile.lock (application_stack.requirements_lock is empty)"
        )
    try:
        pipfile = load_toml(requirements)
    except ProjectError as exc:
        raise ProvenanceInputError(str(exc)) from None
    try:
        lock = read_pipfile_lock(lock_text, "the Pipfile.lock")
    except StackFileError as exc:
        raise ProvenanceInputError(exc.message) from None
    if "_meta" not in lock:
        raise ProvenanceInputError("the Pipfile.lock has no _meta section; is it a Pipfile.lock?")
    return pipfile, lock


def _lock_sources(pipfile: dict, lock: dict) -> list[dict[str, Any]]:
    sources = lock["_meta"].get("sources")
    if sources is None:
        sources = pipfile.get("source") or [default_index_source().as_pipfile_source()]
    if not isinstance(sources, list) or not all(isinstance(s, dict) and s.get("url") for s in sources):
        raise ProvenanceInputError("the Pipfile.lock _meta.sources must be a list of tables with a url")
    return sources


def _check(pipfile: dict, lock: dict, settings: Any, say: Log) -> tuple[list[dict], str | None]:
    sources = _lock_sources(pipfile, lock)
    report = _lock_hash_findings(pipfile, lock)
    by_name, source_findings = _read_sources(sources)
    report += source_findings
    # Other indexes the backend knows are searched too when a hash is not where the lock says.
    lock_urls = {source.url.rstrip("/") for source in by_name.values()}
    extra = [s for s in getattr(settings, "known_indexes", None) or [] if s.url.rstrip("/") not in lock_urls]
    search_order = list(by_name.values()) + extra
    packages = [
        (section, name, entry)
        for section in ("default", "develop")
        for name, entry in (lock.get(section) or {}).items()
    ]
    client = IndexClient(
        search_order,
        Path(settings.cache_dir),
        page_ttl=getattr(settings, "page_ttl", 3600.0),
        force_refresh=getattr(settings, "force_refresh", False),
        max_workers=getattr(settings, "max_workers", 16),
        timeout=getattr(settings, "timeout", 30.0),
        log=say,
    )
    lookup = _Lookup(client, search_order)
    try:
        # Pages of each package on the source it names, in parallel; other indexes only on demand.
        for source in by_name.values():
            names = {
                n for _s, n, e in packages if not _non_index(e) and e.get("index") in (source.name, None)
            }
            client.prefetch_pages(names, [source])
        for _section, name, entry in packages:
            report += _check_package(lookup, name, entry, by_name, sources)
        say(f"provenance: checked {len(packages)} locked packages against {len(by_name)} sources")
    finally:
        client.close()
    error_msg = None
    if lookup.unreachable:
        error_msg = "could not check every package: " + "; ".join(
            f"index {url} is unreachable ({cause})" for url, cause in sorted(lookup.unreachable.items())
        )
    return report, error_msg


def _lock_hash_findings(pipfile: dict, lock: dict) -> list[dict]:
    """LOCK_HASH_MISMATCH when the lock's Pipfile hash is not the Pipfile's."""
    expected_hash = pipfile_hash(pipfile)
    recorded = lock["_meta"].get("hash")
    locked_hash = recorded.get("sha256") if isinstance(recorded, dict) else None
    if locked_hash == expected_hash:
        return []
    said = f"records {locked_hash}" if locked_hash else "records no Pipfile hash"
    message = (
        f"The Pipfile.lock {said} but the Pipfile hashes to {expected_hash}: the lock was not "
        "made from this Pipfile (re-lock it)."
    )
    return [_item("ERROR", "LOCK_HASH_MISMATCH", message)]


def _read_sources(sources: list[dict[str, Any]]) -> tuple[dict[str, IndexSource], list[dict]]:
    """The lock's sources by name, and an INSECURE_SOURCE finding for each plain-http or unverified one."""
    by_name: dict[str, IndexSource] = {}
    findings: list[dict] = []
    for position, raw in enumerate(sources, start=1):
        name = str(raw.get("name") or f"source-{position}")
        url = str(raw["url"])
        verify = bool(raw.get("verify_ssl", True))
        scheme = urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise ProvenanceInputError(f"source {name!r} has URL {url!r}: only http(s) indexes can be checked")
        where = {"package_index": name, "source": raw, "link": url}
        if scheme == "http" and not _is_loopback(url):
            message = f"Source {name!r} ({url}) uses plain http: anyone on the network path can change what is installed."
            findings.append(_item("WARNING", "INSECURE_SOURCE", message, **where))
        if not verify:
            message = f"Source {name!r} ({url}) is read with verify_ssl = false: its TLS certificate is not checked."
            findings.append(_item("WARNING", "INSECURE_SOURCE", message, **where))
        by_name[name] = IndexSource(name=name, url=url, verify_ssl=verify)
    return by_name, findings


def _is_loopback(url: str) -> bool:
    # Plain http to this machine crosses no network, so it is not reported as insecure.
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _non_index(entry: dict) -> bool:
    return any(key in entry for key in NON_INDEX_KEYS)


class _Lookup:
    """The index pages of one check, and the indexes found unreachable on the way (url -> cause)."""

    def __init__(self, client: IndexClient, search_order: list[IndexSource]) -> None:
        self.client = client
        self.search_order = search_order
        self.unreachable: dict[str, str] = {}

    def page(self, source: IndexSource, name: str) -> ProjectPage | None:
        try:
            return self.client.project_page(source, name)
        except PackageNotFound:
            return None
        except IndexUnreachable as exc:
            self.unreachable[source.url] = exc.cause
            return None

    def find_elsewhere(
        self, name: str, version: Version, digest: str, others: list[IndexSource]
    ) -> tuple[IndexSource, str] | None:
        """The first other index (and the file's URL) serving that file of that version."""
        for other in others:
            page = self.page(other, name)
            for link in page.files if page else []:
                if link.version == version and (link.sha256 or "").lower() == digest:
                    return other, link.url
        return None


def _check_package(
    lookup: _Lookup, name: str, entry: dict, by_name: dict[str, IndexSource], raw_sources: list[dict]
) -> list[dict]:
    """The findings on one locked package: where it should come from, and whether its files do."""
    index_name = entry.get("index")
    pin = str(entry.get("version") or "")
    version_text = pin[2:].strip() if pin.startswith("==") else None
    common = {"package_name": name, "package_version": version_text, "package_index": index_name}
    unchecked = _unpinned_finding(name, entry, pin, version_text, common)
    if unchecked is not None:
        return [unchecked]
    if index_name is None:
        homes = list(by_name.values())  # no index named: any of the lock's sources will do
    elif index_name not in by_name:
        known = ", ".join(by_name) or "none"
        message = f"{name} names index {index_name!r}, which is not one of the lock's sources ({known})."
        return [_item("ERROR", "UNKNOWN_SOURCE", message, **common)]
    else:
        homes = [by_name[index_name]]
        common = {**common, "source": {str(s.get("name")): s for s in raw_sources}.get(index_name)}
    hashes = [str(h) for h in entry.get("hashes") or []]
    wanted = [h.split(":", 1)[1].lower() for h in hashes if h.lower().startswith("sha256:")]
    items: list[dict] = []
    if not wanted:
        message = (
            f"{name}=={version_text} is locked without sha256 hashes; where its artifacts come from "
            "cannot be checked."
        )
        items.append(_item("WARNING", "ARTIFACT_HASHES_MISSING", message, **common))
    pages = [(home, lookup.page(home, name)) for home in homes]
    if any(home.url in lookup.unreachable for home in homes):
        return items  # reported once, as the document's error
    return items + _artifact_findings(lookup, name, Version(version_text), wanted, pages, common)


def _unpinned_finding(name: str, entry: dict, pin: str, version_text: str | None, common: dict) -> dict | None:
    """Why a locked package's artifacts cannot be checked (not from an index, no exact valid pin), or None."""
    if _non_index(entry):
        message = f"{name} is locked from a VCS, path or URL; no index can vouch for it."
        return _item("INFO", "NOT_FROM_INDEX", message, **common)
    if version_text is None:
        message = f"{name} is not pinned to one version ({pin or 'no version'}); its artifacts cannot be checked."
        return _item("WARNING", "MISSING_PACKAGE", message, **common)
    try:
        Version(version_text)
    except InvalidVersion:
        return _item("ERROR", "MISSING_PACKAGE", f"{name} is locked to an invalid version {version_text!r}.", **common)
    return None


def _artifact_findings(
    lookup: _Lookup, name: str, version: Version, wanted: list[str], pages: list, common: dict
) -> list[dict]:
    """Whether the package, its version and each locked hash are on its index (``pages``: its
    home indexes with their pages), or else on which other index a hash is."""
    homes = [home for home, _page in pages]
    version_text = common["package_version"]
    where = f"index {homes[0].name!r} ({homes[0].url})" if len(homes) == 1 else "any source of the lock"
    page_link = homes[0].page_url(name) if homes else None
    home_files = {
        link.sha256.lower(): link.url
        for _home, page in pages
        if page is not None
        for link in page.files
        if link.version == version and link.sha256
    }
    items: list[dict] = []
    if not any(page is not None for _home, page in pages):
        items.append(_item("ERROR", "MISSING_PACKAGE", f"{name} is not on {where}.", link=page_link, **common))
    elif not any(link.version == version for _home, page in pages if page for link in page.files):
        message = f"{name} has no version {version_text} on {where}."
        items.append(_item("ERROR", "MISSING_PACKAGE", message, link=page_link, **common))
    others = [source for source in lookup.search_order if source not in homes]
    for digest in wanted:
        if digest in home_files:
            continue
        elsewhere = lookup.find_elsewhere(name, version, digest, others)
        if elsewhere is not None:
            other, url = elsewhere
            message = (
                f"Artifact sha256:{digest} of {name}=={version_text} is not on {where} but on index "
                f"{other.name!r} ({other.url})."
            )
            items.append(_item("WARNING", "ARTIFACT_ON_OTHER_INDEX", message, link=url, **common))
        else:
            message = (
                f"No file of {name}=={version_text} on any known index has sha256:{digest}; the lock "
                "names an artifact no index serves."
            )
            items.append(_item("ERROR", "ARTIFACT_HASH_NOT_FOUND", message, link=page_link, **common))
    return items
