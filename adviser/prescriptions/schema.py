"""The prescription language (version 1): which keys each unit type takes and what their values are.

``check_unit`` validates one unit and returns it in the compiled form the evaluator reads: the
``match`` always a list, index URLs without a trailing slash, ``metadata`` dropped. A problem is
a ``UnitError`` whose message names the key (``run.score``); the loader adds the file and unit.
Specifiers are checked here but kept as text (parsed once per process by ``matching``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

SECTIONS = {
    "boots": ("boot",),
    "pseudonyms": ("pseudonym",),
    "sieves": ("sieve", "sieve.SkipPackage"),
    "steps": ("step", "step.SkipPackage", "step.AddPackage", "step.Group"),
    "strides": ("stride",),
    "wraps": ("wrap", "wrap.GHReleaseNotes"),
}
RECOMMENDATION_TYPES = ("stable", "testing", "latest", "performance", "security")
DECISION_TYPES = ("all", "random")
MESSAGE_TYPES = ("INFO", "WARNING", "ERROR")
VERSION_KEYS = ("python_version", "cuda_version", "cudnn_version", "openblas_version", "openmpi_version",
                "mkl_version")
_NORMALIZED = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SLUG = re.compile(r"^[a-z0-9_-]+$")


class UnitError(ValueError):
    """A unit breaks the language; the message names the key."""


def _fail(key: str, problem: str) -> UnitError:
    return UnitError(f"{key}: {problem}")


def _mapping(value: Any, key: str, allowed: tuple[str, ...] | None = None, required: tuple[str, ...] = ()) -> dict:
    if not isinstance(value, dict):
        raise _fail(key, f"must be a mapping, got {type(value).__name__}")
    if allowed is not None:
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            raise _fail(key, f"unknown key {', '.join(unknown)} (allowed: {', '.join(allowed)})")
    missing = [k for k in required if k not in value]
    if missing:
        raise _fail(key, f"missing {', '.join(missing)}")
    return value


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, f"must be a non-empty string, got {value!r}")
    return value


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, f"must be true or false, got {value!r}")
    return value


def _list(value: Any, key: str, non_empty: bool = False) -> list:
    if not isinstance(value, list):
        raise _fail(key, f"must be a list, got {type(value).__name__}")
    if non_empty and not value:
        raise _fail(key, "must not be empty")
    return value


def _package_name(value: Any, key: str) -> str:
    name = _text(value, key)
    if not _NORMALIZED.match(name):
        raise _fail(key, f"package name {name!r} is not in normalized form (lowercase, '-' between parts)")
    return name


def _specifier(value: Any, key: str, warnings: list[str]) -> str:
    text = _text(value, key) if not isinstance(value, (int, float)) else str(value)
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        # A few real pins (==git-unknown) were legacy versions: kept, they match nothing.
        warnings.append(f"{key}: {text!r} is not a PEP 440 specifier; it matches no version")
    return text


def _listed(value: Any, key: str, item: Callable[[Any, str], Any]) -> dict:
    """A list, or ``{not: list}``: ``{"not": bool, "items": [...]}``."""
    negated = isinstance(value, dict)
    if negated:
        _mapping(value, key, ("not",), ("not",))
        value = value["not"]
        key = f"{key}.not"
    items = [item(entry, f"{key}[{i}]") for i, entry in enumerate(_list(value, key))]
    return {"not": negated, "items": items}


def _any(value: Any, _key: str) -> Any:
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, key: str) -> str:
        if value not in choices:
            raise _fail(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


# -- should_include ---------------------------------------------------------------------------


def _hardware_entry(value: Any, key: str) -> dict:
    fields = ("cpu_families", "cpu_models", "cpu_flags", "gpu_models")
    _mapping(value, key, fields)
    return {name: _listed(value[name], f"{key}.{name}", _any) for name in fields if name in value}


def _operating_system(value: Any, key: str) -> dict:
    _mapping(value, key, ("name", "version"))
    return {k: str(v) if v is not None else None for k, v in value.items()}


def _rpm(value: Any, key: str) -> dict:
    fields = ("package_name", "arch", "epoch", "package_identifier", "package_version", "release", "src")
    _mapping(value, key, fields, ("package_name",))
    return dict(value)


def _python_package(value: Any, key: str, warnings: list[str]) -> dict:
    _mapping(value, key, ("name", "version", "location"), ("name",))
    entry = {"name": _package_name(value["name"], f"{key}.name")}
    if value.get("version") is not None:
        entry["version"] = _specifier(value["version"], f"{key}.version", warnings)
    if value.get("location") is not None:
        pattern = _text(value["location"], f"{key}.location")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(f"{key}.location", f"not a regular expression ({exc})") from None
        entry["location"] = pattern
    return entry


def _runtime_environments(value: Any, key: str, warnings: list[str]) -> dict:
    keys = ("operating_systems", "hardware", "platforms", "base_images", "abi", "rpm_packages", "python_packages",
            *VERSION_KEYS)
    _mapping(value, key, keys)
    out: dict[str, Any] = {}
    for name in VERSION_KEYS:
        if name in value:
            given = value[name]
            out[name] = None if given is None else _specifier(given, f"{key}.{name}", warnings)
    if "operating_systems" in value:
        systems = _list(value["operating_systems"], f"{key}.operating_systems")
        out["operating_systems"] = [_operating_system(v, f"{key}.operating_systems[{i}]") for i, v in enumerate(systems)]
    if "hardware" in value:
        entries = _list(value["hardware"], f"{key}.hardware", non_empty=True)
        out["hardware"] = [_hardware_entry(v, f"{key}.hardware[{i}]") for i, v in enumerate(entries)]
    for name in ("platforms", "base_images", "abi"):
        if name in value:
            out[name] = _listed(value[name], f"{key}.{name}", _any)
    if "rpm_packages" in value:
        out["rpm_packages"] = _listed(value["rpm_packages"], f"{key}.rpm_packages", _rpm)
    if "python_packages" in value:
        out["python_packages"] = _listed(
            value["python_packages"], f"{key}.python_packages", lambda v, k: _python_package(v, k, warnings)
        )
    return out


def _library_usage(value: Any, key: str) -> dict:
    _mapping(value, key)
    out = {}
    for library, symbols in value.items():
        entries = _list(symbols, f"{key}.{library}", non_empty=True)
        out[str(library)] = [_text(symbol, f"{key}.{library}[{i}]") for i, symbol in enumerate(entries)]
    return out


def _dependencies(value: Any, key: str) -> dict:
    _mapping(value, key, tuple(SECTIONS))
    return {
        section: [_text(n, f"{key}.{section}[{i}]") for i, n in enumerate(_list(names, f"{key}.{section}"))]
        for section, names in value.items()
    }


def _labels(value: Any, key: str) -> dict:
    _mapping(value, key)
    return {str(k): _text(str(v) if isinstance(v, (int, float)) else v, f"{key}.{k}") for k, v in value.items()}


def _should_include(value: Any, warnings: list[str]) -> dict:
    key = "should_include"
    keys = ("times", "adviser_pipeline", "dependency_monkey_pipeline", "recommendation_types", "decision_types",
            "authenticated", "labels", "library_usage", "runtime_environments", "dependencies")
    _mapping(value, key, keys)
    out: dict[str, Any] = {}
    if "times" in value:
        if value["times"] not in (0, 1) or isinstance(value["times"], bool):
            raise _fail(f"{key}.times", f"must be 0 or 1, got {value['times']!r}")
        out["times"] = value["times"]
    for name in ("adviser_pipeline", "dependency_monkey_pipeline", "authenticated"):
        if name in value:
            out[name] = _bool(value[name], f"{key}.{name}")
    if "recommendation_types" in value:
        out["recommendation_types"] = _listed(value["recommendation_types"], f"{key}.recommendation_types",
                                              _one_of(RECOMMENDATION_TYPES))
    if "decision_types" in value:
        out["decision_types"] = _listed(value["decision_types"], f"{key}.decision_types", _one_of(DECISION_TYPES))
    if "labels" in value:
        out["labels"] = _labels(value["labels"], f"{key}.labels")
    if "library_usage" in value:
        out["library_usage"] = _library_usage(value["library_usage"], f"{key}.library_usage")
    if "runtime_environments" in value:
        out["runtime_environments"] = _runtime_environments(value["runtime_environments"],
                                                            f"{key}.runtime_environments", warnings)
    if "dependencies" in value:
        out["dependencies"] = _dependencies(value["dependencies"], f"{key}.dependencies")
    return out


# -- match ------------------------------------------------------------------------------------


def package_version(value: Any, key: str, warnings: list[str], name_required: bool = False) -> dict:
    _mapping(value, key, ("name", "version", "index_url", "develop"), ("name",) if name_required else ())
    out: dict[str, Any] = {}
    if "name" in value:
        out["name"] = _package_name(value["name"], f"{key}.name")
    if value.get("version") is not None:
        out["version"] = _specifier(value["version"], f"{key}.version", warnings)
    if "index_url" in value:
        url = value["index_url"]
        if isinstance(url, dict):
            _mapping(url, f"{key}.index_url", ("not",), ("not",))
            out["index_url"] = {"not": _text(url["not"], f"{key}.index_url.not").rstrip("/")}
        else:
            out["index_url"] = _text(url, f"{key}.index_url").rstrip("/")
    if "develop" in value:
        out["develop"] = _bool(value["develop"], f"{key}.develop")
    return out


def _state(value: Any, key: str, warnings: list[str], step: bool) -> dict:
    allowed = ("resolved_dependencies",) + (("package_version_from", "package_version_from_allow_other") if step else ())
    _mapping(value, key, allowed)
    out: dict[str, Any] = {}
    for name in ("resolved_dependencies", "package_version_from"):
        if name in value:
            entries = value[name] if isinstance(value[name], list) else [value[name]]
            out[name] = [package_version(v, f"{key}.{name}[{i}]", warnings, True) for i, v in enumerate(entries)]
    if "package_version_from_allow_other" in value:
        out["package_version_from_allow_other"] = _bool(value["package_version_from_allow_other"],
                                                        f"{key}.package_version_from_allow_other")
    return out


def _match_entry(kind: str, value: Any, key: str, warnings: list[str]) -> dict:
    if kind in ("boot", "sieve.SkipPackage"):
        _mapping(value, key, ("package_name",), ("package_name",) if kind == "sieve.SkipPackage" else ())
        return {"package_name": _package_name(value["package_name"], f"{key}.package_name")} if value else {}
    if kind in ("sieve", "pseudonym"):
        _mapping(value, key, ("package_version",), ("package_version",))
        return {"package_version": package_version(value["package_version"], f"{key}.package_version", warnings,
                                                   kind == "pseudonym")}
    if kind == "step.Group":
        _mapping(value, key, ("group",), ("group",))
        members = _list(value["group"], f"{key}.group")
        if len(members) < 2:
            raise _fail(f"{key}.group", "needs at least two members")
        group = []
        for i, member in enumerate(members):
            _mapping(member, f"{key}.group[{i}]", ("package_version",), ("package_version",))
            group.append(package_version(member["package_version"], f"{key}.group[{i}].package_version", warnings, True))
        return {"group": group}
    if kind.startswith("step"):
        _mapping(value, key, ("package_version", "state"), ("package_version",))
        out = {"package_version": package_version(value["package_version"], f"{key}.package_version", warnings)}
        if "state" in value:
            out["state"] = _state(value["state"], f"{key}.state", warnings, True)
        return out
    required = ("state",) if kind in ("stride", "wrap.GHReleaseNotes") else ()
    _mapping(value, key, ("state",), required)
    out = {"state": _state(value["state"], f"{key}.state", warnings, False)} if "state" in value else {}
    if kind == "wrap.GHReleaseNotes" and len(out["state"].get("resolved_dependencies", [])) != 1:
        raise _fail(f"{key}.state.resolved_dependencies", "must name exactly one package")
    return out


_MATCH_REQUIRED = {"boot": False, "wrap": False}


def _match(kind: str, unit: dict, warnings: list[str]) -> list[dict]:
    if "match" not in unit:
        if _MATCH_REQUIRED.get(kind, True):
            raise _fail("match", f"required for a {kind}")
        return [{}]
    value = unit["match"]
    if isinstance(value, list):
        if kind == "step.SkipPackage":
            raise _fail("match", "a step.SkipPackage takes one match, not a list")
        entries = _list(value, "match", non_empty=True)
        return [_match_entry(kind, v, f"match[{i}]", warnings) for i, v in enumerate(entries)]
    return [_match_entry(kind, value, "match", warnings)]


# -- run --------------------------------------------------------------------------------------


def _message(value: Any, key: str, justification: bool) -> dict:
    fields = ("type", "message", "link")
    if justification:
        fields += ("package_name", "advisory", "cve_id", "cve_name", "version_range")
    _mapping(value, key, fields, ("type", "message"))
    item = {"type": _one_of(MESSAGE_TYPES)(value["type"], f"{key}.type"), "message": _text(value["message"], f"{key}.message")}
    if value.get("link") is not None:
        link = _text(value["link"], f"{key}.link")
        if not link.startswith(("http://", "https://")) and not _SLUG.match(link):
            raise _fail(f"{key}.link", f"{link!r} is neither an http(s) URL nor a slug [a-z0-9_-]")
        item["link"] = link
    for name in fields[3:]:
        if value.get(name) is not None:
            item[name] = _package_name(value[name], f"{key}.{name}") if name == "package_name" else str(value[name])
    return item


_RUN_KEYS = {
    "boot": ("not_acceptable", "eager_stop_pipeline"),
    "pseudonym": ("yield",),
    "sieve": (),
    "sieve.SkipPackage": (),
    "step": ("score", "justification", "not_acceptable", "eager_stop_pipeline", "multi_package_resolution"),
    "step.SkipPackage": ("multi_package_resolution",),
    "step.AddPackage": ("package_version", "multi_package_resolution"),
    "step.Group": ("score", "justification", "not_acceptable", "eager_stop_pipeline"),
    "stride": ("not_acceptable", "eager_stop_pipeline"),
    "wrap": ("justification", "advised_manifest_changes"),
    "wrap.GHReleaseNotes": ("release_notes",),
}
_EXCLUSIVE = [("score", "not_acceptable"), ("score", "eager_stop_pipeline"), ("justification", "not_acceptable"),
              ("justification", "eager_stop_pipeline"), ("not_acceptable", "eager_stop_pipeline")]


def _yield(value: Any, key: str, warnings: list[str]) -> dict:
    _mapping(value, key, ("yield_matched_version", "package_version"), ("package_version",))
    pv = _mapping(value["package_version"], f"{key}.package_version", ("name", "locked_version", "index_url"), ("name",))
    out = {"name": _package_name(pv["name"], f"{key}.package_version.name")}
    matched = _bool(value.get("yield_matched_version", False), f"{key}.yield_matched_version")
    if matched and pv.get("locked_version") is not None:
        raise _fail(key, "yield_matched_version and locked_version exclude each other")
    out["yield_matched_version"] = matched
    if pv.get("locked_version") is not None:
        out["locked_version"] = _locked(pv["locked_version"], f"{key}.package_version.locked_version")
    if pv.get("index_url") is not None:
        out["index_url"] = _text(pv["index_url"], f"{key}.package_version.index_url").rstrip("/")
    return out


def _locked(value: Any, key: str) -> str:
    text = _text(value, key)
    if not text.startswith(("==", "===")):
        raise _fail(key, f"{text!r} must start with == or ===")
    return text


def _added_package(value: Any, key: str) -> dict:
    pv = _mapping(value, key, ("name", "locked_version", "index_url", "develop"),
                  ("name", "locked_version", "index_url", "develop"))
    return {"name": _package_name(pv["name"], f"{key}.name"), "locked_version": _locked(pv["locked_version"], f"{key}.locked_version"),
            "index_url": _text(pv["index_url"], f"{key}.index_url").rstrip("/"), "develop": _bool(pv["develop"], f"{key}.develop")}


def _run(kind: str, value: Any, warnings: list[str]) -> dict:
    allowed = ("log", "stack_info") + _RUN_KEYS[kind]
    _mapping(value, "run", allowed, ("release_notes",) if kind == "wrap.GHReleaseNotes" else
             (("yield",) if kind == "pseudonym" else (("package_version",) if kind == "step.AddPackage" else ())))
    for first, second in _EXCLUSIVE:
        if first in value and second in value:
            raise _fail("run", f"{first} and {second} exclude each other")
    out: dict[str, Any] = {}
    if "log" in value:
        log = _mapping(value["log"], "run.log", ("type", "message"), ("type", "message"))
        out["log"] = {"type": _one_of(MESSAGE_TYPES)(log["type"], "run.log.type"), "message": _text(log["message"], "run.log.message")}
    for name in ("stack_info", "justification"):
        if name in value:
            items = _list(value[name], f"run.{name}")
            out[name] = [_message(v, f"run.{name}[{i}]", name == "justification") for i, v in enumerate(items)]
    for name in ("not_acceptable", "eager_stop_pipeline"):
        if name in value:
            out[name] = _text(value[name], f"run.{name}")
    if "score" in value:
        score = value["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise _fail("run.score", f"must be a number, got {score!r}")
        out["score"] = max(-1.0, min(1.0, float(score)))
    if "multi_package_resolution" in value:
        out["multi_package_resolution"] = _bool(value["multi_package_resolution"], "run.multi_package_resolution")
    if "yield" in value:
        out["yield"] = _yield(value["yield"], "run.yield", warnings)
    if kind == "step.AddPackage":
        out["package_version"] = _added_package(value["package_version"], "run.package_version")
    if "advised_manifest_changes" in value:
        out["advised_manifest_changes"] = _list(value["advised_manifest_changes"], "run.advised_manifest_changes")
    if "release_notes" in value:
        notes = _mapping(value["release_notes"], "run.release_notes", ("organization", "repository", "tag_version_prefix"),
                         ("organization", "repository"))
        out["release_notes"] = {k: _text(str(v), f"run.release_notes.{k}") for k, v in notes.items()}
    return out


def check_unit(section: str, unit: Any, warnings: list[str]) -> dict:
    """The compiled form of one unit of ``section``, or a UnitError naming the key."""
    _mapping(unit, "unit", ("name", "type", "should_include", "match", "run", "metadata"),
             ("name", "type", "should_include", "run"))
    _text(unit["name"], "name")
    kind = unit["type"]
    if kind not in SECTIONS[section]:
        raise _fail("type", f"{kind!r} is not allowed in {section} (allowed: {', '.join(SECTIONS[section])})")
    if "metadata" in unit and unit["metadata"] is not None:
        _mapping(unit["metadata"], "metadata")
    return {
        "name": unit["name"],
        "type": kind,
        "should_include": _should_include(unit["should_include"], warnings),
        "match": _match(kind, unit, warnings),
        "run": _run(kind, unit["run"], warnings),
    }
