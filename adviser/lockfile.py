"""Writers: Pipfile.lock (pipfile-spec 6) and Pipfile TOML (requirements.txt: stackfiles.requirements).

The lock's ``_meta.hash.sha256`` is the Pipfile hash computed by ``adviser.pipfile_hash`` over the
Pipfile returned alongside the lock, so ``pipenv install --deploy`` accepts the pair. Every
``index`` of a package names one of ``_meta.sources``.
"""

from __future__ import annotations

from typing import Any


def pipfile_hash(pipfile: dict[str, Any]) -> str:
    from adviser.pipfile_hash import pipfile_hash as compute

    return compute(pipfile)


def pipfile_sources(pipfile: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": s.get("name"), "url": s.get("url"), "verify_ssl": bool(s.get("verify_ssl", True))}
        for s in pipfile.get("source") or []
    ]


def build_lock(pipfile: dict[str, Any], default: dict[str, dict], develop: dict[str, dict]) -> dict[str, Any]:
    """A pipfile-spec 6 lock for ``pipfile`` with the given package entries."""
    sources = pipfile_sources(pipfile)
    names = {s["name"] for s in sources}
    for section in (default, develop):
        for name, entry in section.items():
            if "path" in entry or "git" in entry:
                continue  # a direct reference names no index
            if entry.get("index") not in names:
                raise ValueError(
                    f"lock entry {name} names index {entry.get('index')!r} missing from _meta.sources"
                )
    return {
        "_meta": {
            "hash": {"sha256": pipfile_hash(pipfile)},
            "pipfile-spec": 6,
            "requires": dict(pipfile.get("requires") or {}),
            "sources": sources,
        },
        "default": {name: default[name] for name in sorted(default)},
        "develop": {name: develop[name] for name in sorted(develop)},
    }


def lock_entry(version: str, hashes: list[str], index: str, markers: str | None, extras: list[str]) -> dict:
    entry: dict[str, Any] = {"hashes": sorted(f"sha256:{h}" for h in set(hashes)), "index": index}
    if extras:
        entry["extras"] = sorted(extras)
    if markers:
        entry["markers"] = markers
    entry["version"] = f"=={version}"
    return entry


def direct_lock_entry(reference: dict[str, Any], markers: str | None, extras: list[str]) -> dict:
    """The entry of a local path or git package, as pipenv writes it (no version, no hashes)."""
    entry = dict(reference)
    if extras:
        entry["extras"] = sorted(extras)
    if markers:
        entry["markers"] = markers
    return entry


def pipfile_to_toml(pipfile: dict[str, Any]) -> str:
    """Pipfile TOML in pipenv's layout: [[source]] tables, package tables as inline tables."""
    import tomlkit

    document = tomlkit.document()
    for key, value in pipfile.items():
        if key == "source":
            array = tomlkit.aot()
            for source in value:
                table = tomlkit.table()
                for field, item in source.items():
                    table.add(field, item)
                array.append(table)
            document.add("source", array)
        elif key in ("packages", "dev-packages"):
            table = tomlkit.table()
            for name, spec in (value or {}).items():
                if isinstance(spec, dict):
                    inline = tomlkit.inline_table()
                    inline.update(spec)
                    table.add(name, inline)
                else:
                    table.add(name, spec)
            document.add(key, table)
        else:
            document.add(key, value)
    return tomlkit.dumps(document)
