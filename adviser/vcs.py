"""Git dependencies (``attrs = {git = "https://host/attrs.git", ref = "main"}``) on the server.

The ref (branch, tag, full commit; the remote's HEAD without one) is resolved to a commit with
``git ls-remote``; that commit alone is fetched (``--depth 1``) into a temporary directory and its
metadata prepared by ``sourcebuild`` in the same sandbox as sdists (adviser.index.builds). The
outcome is cached forever in the index cache, keyed by the repository URL without credentials,
the commit (and subdirectory) and the target's Python X.Y, so a commit is never built twice. The
lock records the commit as pipenv does: ``{"git": url, "ref": "<40 hex>"}``.

Repositories on the server's own file system (``file://`` URLs, paths) are read only when
THAMOS_GIT_ALLOW_LOCAL=1 (the embedded server, which runs on the user's machine, sets it): a team
server must not be made to read its own files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.version import Version

from adviser.direct import DirectPackage, metadata_for
from adviser.index.sources import IndexSource, without_credentials
from adviser.project import DirectRequirement, ProjectError
from stackfiles.flags import parse_flag

Log = Callable[[str], None]
GIT_TIMEOUT = 120.0
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_USERINFO = re.compile(r"(://)[^/@\s]+@")
ALLOW_LOCAL = "THAMOS_GIT_ALLOW_LOCAL"


class GitError(ProjectError):
    """A git dependency cannot be resolved (missing git, unknown ref, unreachable repository)."""


def git_packages(
    requirements: list[DirectRequirement], *, cache: Any, options: Any, python: str, log: Log
) -> dict[str, DirectPackage]:
    """The git dependencies of the Pipfile, each built (or read from the cache) at its commit."""
    found: dict[str, DirectPackage] = {}
    for requirement in requirements:
        if requirement.direct and "git" in requirement.direct:
            found[requirement.name] = _package(requirement, cache, options, python, log)
    return found


def _package(requirement: DirectRequirement, cache: Any, options: Any, python: str, log: Log) -> DirectPackage:
    where = requirement.where()
    direct = requirement.direct or {}
    url = direct["git"]
    remote = _remote(url, where)
    commit = resolve_ref(remote, direct.get("ref"), where)
    subdirectory = direct.get("subdirectory")
    origin = f"git {_shown(url)} at {commit}" + (f" (ref {direct['ref']})" if direct.get("ref") else "")
    key = f"git:{without_credentials(remote)}@{commit}" + (f"#{subdirectory}" if subdirectory else "")
    # A private repository's metadata is not shared: another user naming the commit would read it
    # without proving access to the repository.
    private = without_credentials(remote) != remote
    cached = None if private else cache.get_built(key, python)
    if cached is not None and cached.available:
        log(f"{where}: metadata of {origin} from the cache")
        text = _metadata_text(cached.data or {})
    else:
        text = _build(requirement, remote, commit, subdirectory, key, cache, options, python, log)
    metadata = metadata_for(requirement, text, origin, where)
    entry: dict[str, Any] = {"git": url, "ref": commit}
    if direct.get("editable"):
        entry["editable"] = True
    if subdirectory:
        entry["subdirectory"] = subdirectory
    return DirectPackage(
        requirement.name, Version(metadata.version), metadata, entry, origin,
        IndexSource(name="git", url=f"git:{_shown(url)}@{commit}"),
    )


def _remote(url: str, where: str) -> str:
    """The URL git is given (without pip's ``git+`` prefix); local repositories only when allowed."""
    remote = url[len("git+"):] if url.startswith("git+") else url
    local = remote.startswith("file:") or "://" not in remote and not re.match(r"^[\w.-]+@[\w.-]+:", remote)
    if local and not _local_repositories_allowed(where):
        raise GitError(
            f"{where}: the git repository {url} is on the server's file system, which this server does not "
            f"read ({ALLOW_LOCAL}=1 allows it, for a server on your own machine)"
        )
    return remote


def _local_repositories_allowed(where: str) -> bool:
    try:
        return parse_flag(os.environ.get(ALLOW_LOCAL), name=ALLOW_LOCAL)
    except ValueError as exc:  # the server's setting, named in the analysis' error
        raise GitError(f"{where}: {exc}") from None


def _git(args: list[str], where: str, what: str, cwd: Path | None = None) -> str:
    """Run git; its output, or a GitError with git's own first error line (credentials removed)."""
    git = shutil.which("git")
    if git is None:
        raise GitError(f"{where}: git is not installed on the server (Debian package git); it is needed for git dependencies")
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
    try:
        completed = subprocess.run(
            [git, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"{where}: {what}: git gave no answer within {GIT_TIMEOUT:.0f} s") from None
    if completed.returncode != 0:
        lines = [line.strip() for line in completed.stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1] if lines else "")
        reason = _USERINFO.sub(r"\1***@", reason.removeprefix("fatal: ").removeprefix("error: "))
        raise GitError(f"{where}: {what}: {reason or f'git exited with status {completed.returncode}'}")
    return completed.stdout


def resolve_ref(remote: str, ref: str | None, where: str) -> str:
    """The commit a branch, tag or full commit names (the remote's HEAD when ``ref`` is None)."""
    if ref and _COMMIT.match(ref.lower()):
        return ref.lower()
    # An annotated tag names a tag object: its commit is listed as the peeled "<tag>^{}" entry.
    output = _git(["ls-remote", "--", remote, *([ref, ref + "^{}"] if ref else ["HEAD"])], where,
                  f"cannot read git repository {_shown(remote)}")
    refs = {}
    for line in output.splitlines():
        commit, _, name = line.partition("\t")
        refs[name.strip()] = commit.strip()
    if not ref:
        if "HEAD" in refs:
            return refs["HEAD"]
        raise GitError(f"{where}: git repository {_shown(remote)} has no HEAD; give a ref")
    for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", ref):
        if name in refs:
            return refs[name]
    hint = " (give a commit as its full 40 hex digits)" if re.fullmatch(r"[0-9a-fA-F]{4,39}", ref) else ""
    raise GitError(f"{where}: ref {ref!r} is not a branch or tag of git repository {_shown(remote)}{hint}")


def checkout(remote: str, commit: str, target: Path, where: str) -> None:
    """The tree of ``commit`` in ``target`` (only that commit fetched when the server allows it)."""
    _git(["init", "-q", str(target)], where, "cannot create a work tree")
    what = f"cannot fetch commit {commit} of {_shown(remote)}"
    try:
        _git(["fetch", "-q", "--depth", "1", "--", remote, commit], where, what, cwd=target)
    except GitError:  # servers that refuse fetching a commit by name: fetch everything
        _git(["fetch", "-q", "--", remote, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
             where, what, cwd=target)
    _git(["-c", "advice.detachedHead=false", "checkout", "-q", commit], where, what, cwd=target)


def _build(requirement: DirectRequirement, remote: str, commit: str, subdirectory: str | None, key: str,
           cache: Any, options: Any, python: str, log: Log) -> bytes:
    from adviser.index.builds import _file_lock, _slots
    from adviser.index.cache import CachedBuild, FileRecord

    where = requirement.where()
    refusal = options.refusal(requirement.name)
    if refusal is not None:
        raise GitError(f"{where}: the metadata of a git dependency needs a build, and {refusal} on this server")
    try:
        import sourcebuild
    except ImportError as exc:
        raise GitError(f"{where}: the build tools are missing on the server ({exc})") from None
    with _slots, _file_lock(cache.path.parent / "build-locks", f"{key} {python}"):
        found = cache.get_built(key, python)  # built by another process meanwhile
        if found is not None and found.available:
            return _metadata_text(found.data or {})
        with tempfile.TemporaryDirectory(prefix="thamos-git-") as scratch:
            tree = Path(scratch) / "checkout"
            checkout(remote, commit, tree, where)
            source = (tree / subdirectory).resolve() if subdirectory else tree
            if not source.is_relative_to(tree.resolve()) or not source.is_dir():
                raise GitError(f"{where}: subdirectory {subdirectory!r} is not a directory of the repository")
            interpreter = sourcebuild.find_interpreter(python, extra_paths=options.pythons)
            log(f"{where}: building metadata of {commit} with {interpreter.describe()}")
            try:
                built = sourcebuild.prepare_metadata(
                    source, interpreter=interpreter, indexes=_index_config(sourcebuild, options),
                    limits=sourcebuild.BuildLimits(timeout=options.timeout, memory_mb=options.memory_mb,
                                                   max_source_mb=options.max_source_mb),
                    log=lambda line: log(f"  {requirement.name}: {line}"),
                )
            except sourcebuild.BuildFailed as failure:
                raise GitError(f"{where}: building the metadata of commit {commit} failed: {failure.reason}") from None
    from adviser.index.core_metadata import parse_core_metadata

    parsed = parse_core_metadata(built.metadata, source="build", origin=f"commit {commit}")
    if without_credentials(remote) != remote:
        return built.metadata  # a private repository's metadata stays out of the shared cache
    record = FileRecord(key, requirement.name, parsed.version, key, without_credentials(remote))
    cache.put_built(record, python, CachedBuild(True, {**parsed.to_json(), "_raw": built.metadata.decode(
        "utf-8", "replace")}, None, interpreter.describe(), interpreter.version, interpreter.matched, built.via))
    return built.metadata


def _index_config(sourcebuild: Any, options: Any) -> Any:
    from adviser.index.sources import ca_bundle

    urls = options.index_urls
    return sourcebuild.IndexConfig(index_url=urls[0] if urls else "", extra_index_urls=tuple(urls[1:]),
                                   ca_bundle=ca_bundle())


def _metadata_text(data: dict[str, Any]) -> bytes:
    return str(data.get("_raw") or "").encode("utf-8")


def _shown(url: str) -> str:
    return _USERINFO.sub(r"\1***@", url)
