"""The request as prescriptions see it, and ``should_include``: does a unit join this request?

Documented meanings are implemented where the original adviser's code differed: ``*_version:
null`` means the value must be absent, several ``hardware`` entries are OR-ed (AND within one),
``library_usage`` matches when any used symbol matches, and a unit declaring ``labels`` but
neither pipeline flag (the ``_indexes`` label sieves) joins adviser runs when a label matches:
the label is the user's explicit opt-in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from adviser.prescriptions.matching import specifier
from adviser.prescriptions.schema import VERSION_KEYS


@dataclass
class Context:
    """What ``should_include`` reads: the pipeline, the request's flags and the runtime environment."""

    recommendation_type: str | None = "stable"
    decision_type: str | None = None  # set for dependency-monkey runs (then no recommendation type)
    authenticated: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    library_usage: dict[str, list[str]] | None = None
    os_name: str | None = None
    os_version: str | None = None
    cpu_family: int | None = None
    cpu_model: int | None = None
    cpu_flags: frozenset[str] | None = None
    gpu_model: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)  # python_version, cuda_version, ...
    platform: str | None = None
    base_image: str | None = None
    abi: frozenset[str] | None = None
    rpm_packages: list[dict] | None = None
    python_packages: list[dict] | None = None

    @property
    def adviser(self) -> bool:
        return self.decision_type is None


def _major_minor(value: Any) -> str | None:
    if value in (None, ""):
        return None
    parts = str(value).split(".")
    return ".".join(parts[:2])


def library_usage_of(value: Any) -> dict[str, list[str]] | None:
    """``{lib: [symbols]}`` from a request's library_usage: invectio's ``{report: {...}, version}`` or bare."""
    if not isinstance(value, dict):
        return None
    report = value.get("report") if isinstance(value.get("report"), dict) else value
    usage = {str(k): [str(s) for s in v] for k, v in report.items() if isinstance(v, (list, tuple))}
    return usage or None


def context_for(request: dict, recommendation_type: str, runtime: dict, python_version: str | None) -> Context:
    """The context of an adviser request (its runtime environment as planned)."""
    hardware = runtime.get("hardware") or {}
    system = runtime.get("operating_system") or {}
    versions = {key: (str(runtime[key]) if runtime.get(key) not in (None, "") else None) for key in VERSION_KEYS}
    versions["python_version"] = _major_minor(python_version or runtime.get("python_version"))
    flags = hardware.get("cpu_flags")
    return Context(
        recommendation_type=recommendation_type,
        authenticated=bool(request.get("authenticated")),
        labels={str(k): str(v) for k, v in (request.get("labels") or {}).items()},
        library_usage=library_usage_of(request.get("library_usage")),
        os_name=str(system["name"]) if system.get("name") else None,
        os_version=str(system["version"]) if system.get("version") else None,
        cpu_family=_int(hardware.get("cpu_family")),
        cpu_model=_int(hardware.get("cpu_model")),
        cpu_flags=frozenset(str(f).lower() for f in flags) if isinstance(flags, list) else None,
        gpu_model=hardware.get("gpu_model") or None,
        versions=versions,
        platform=runtime.get("platform") or None,
        base_image=runtime.get("base_image") or None,
        abi=frozenset(runtime["abi"]) if isinstance(runtime.get("abi"), list) else None,
        rpm_packages=runtime.get("rpm_packages") if isinstance(runtime.get("rpm_packages"), list) else None,
        python_packages=runtime.get("python_packages") if isinstance(runtime.get("python_packages"), list) else None,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def selector_keys(context: Context) -> list[str]:
    """The static selectors (see ``compiled.selectors_of``) a request can meet."""
    keys = ["always"]
    if context.base_image:
        keys.append(f"image:{_image_and_tag(context.base_image)[0]}")
    keys.extend(f"label:{k}={v}" for k, v in context.labels.items())
    keys.extend(f"lib:{library}" for library in (context.library_usage or {}))
    if context.os_name:
        keys.append(f"os:{context.os_name}")
    if context.recommendation_type:
        keys.append(f"rtype:{context.recommendation_type}")
    return keys


# -- should_include ---------------------------------------------------------------------------

Included = Callable[[str], bool]  # is the unit of this full name included in the request?


def should_include(rules: dict, context: Context, included: Included) -> bool:
    """Whether a unit with these ``should_include`` rules joins a request in ``context``."""
    if rules.get("times", 1) == 0:
        return False
    if context.adviser:
        wanted = rules.get("adviser_pipeline", False)
        if not wanted and "labels" in rules and "dependency_monkey_pipeline" not in rules:
            wanted = True  # the label is the opt-in (see the module's docstring)
        if not wanted or not _in(rules.get("recommendation_types"), context.recommendation_type):
            return False
    elif not rules.get("dependency_monkey_pipeline", False) or not _in(rules.get("decision_types"), context.decision_type):
        return False
    if "authenticated" in rules and rules["authenticated"] != context.authenticated:
        return False
    if "labels" in rules and not any(context.labels.get(k) == v for k, v in rules["labels"].items()):
        return False
    if "library_usage" in rules and not _library_usage(rules["library_usage"], context.library_usage):
        return False
    if "runtime_environments" in rules and not runtime_matches(rules["runtime_environments"], context):
        return False
    dependencies = rules.get("dependencies") or {}
    return all(included(name) for names in dependencies.values() for name in names)


def _in(listed: dict | None, value: Any) -> bool:
    if listed is None:
        return True
    return (value in listed["items"]) != listed["not"]


def _library_usage(expected: dict[str, list[str]], used: dict[str, list[str]] | None) -> bool:
    if not used:
        return False
    for library, symbols in expected.items():
        if library not in used:
            return False
        for symbol in symbols:
            if not any(_symbol_matches(symbol, seen) for seen in used[library]):
                return False
    return True


def _symbol_matches(expected: str, used: str) -> bool:
    if expected.endswith(".*"):
        prefix = expected[:-2]
        return used == prefix or used.startswith(prefix + ".")
    return expected == used


def runtime_matches(rules: dict, context: Context) -> bool:
    for key in VERSION_KEYS:
        if key in rules and not _version_matches(rules[key], context.versions.get(key)):
            return False
    if "operating_systems" in rules and not any(
        all(context_value == entry[k] for k, context_value in (("name", context.os_name), ("version", context.os_version))
            if entry.get(k) is not None)
        for entry in rules["operating_systems"]
    ):
        return False
    if "hardware" in rules and not any(_hardware_matches(entry, context) for entry in rules["hardware"]):
        return False
    if "platforms" in rules and not _in(rules["platforms"], context.platform):
        return False
    if "base_images" in rules and not _base_images(rules["base_images"], context.base_image):
        return False
    if "abi" in rules and not _abi(rules["abi"], context.abi):
        return False
    if "rpm_packages" in rules and not _rpms(rules["rpm_packages"], context.rpm_packages):
        return False
    return "python_packages" not in rules or _python_packages(rules["python_packages"], context.python_packages)


def _version_matches(spec: str | None, value: str | None) -> bool:
    if spec is None:
        return value is None  # "null" means: must be absent
    if value is None:
        return False
    parsed = specifier(spec)
    try:
        return parsed is not None and parsed.contains(Version(value), prereleases=True)
    except InvalidVersion:
        return False


def _hardware_matches(entry: dict, context: Context) -> bool:
    for name, value in (("cpu_families", context.cpu_family), ("cpu_models", context.cpu_model),
                        ("gpu_models", context.gpu_model)):
        if name in entry and not _in(entry[name], value):
            return False
    if "cpu_flags" in entry:
        flags = context.cpu_flags
        if context.cpu_family is None or context.cpu_model is None or flags is None:
            return False  # flags are only known for a known CPU
        wanted = {str(f).lower() for f in entry["cpu_flags"]["items"]}
        if entry["cpu_flags"]["not"]:
            return not (wanted & flags)
        return wanted <= flags
    return True


def _image_and_tag(image: str) -> tuple[str, str | None]:
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon + 1:]
    return image, None


def _base_images(listed: dict, base_image: str | None) -> bool:
    found = False
    for entry in listed["items"]:
        if entry is None:
            found = base_image is None
        elif base_image is not None:
            image, tag = _image_and_tag(base_image)
            want_image, want_tag = _image_and_tag(str(entry))
            if image == want_image:
                if want_tag is None:
                    found = True
                elif want_tag.endswith("*"):
                    found = tag is not None and tag.startswith(want_tag[:-1])
                else:
                    found = tag == want_tag
        if found:
            break
    return found != listed["not"]


def _abi(listed: dict, abi: frozenset[str] | None) -> bool:
    if abi is None:
        return False
    symbols = set(listed["items"])
    return not (symbols & abi) if listed["not"] else symbols <= abi


def _rpm_present(wanted: dict, rpms: list[dict]) -> bool:
    return any(all(str(rpm.get(k)) == str(v) for k, v in wanted.items()) for rpm in rpms)


def _rpms(listed: dict, rpms: list[dict] | None) -> bool:
    if rpms is None:
        return False
    every = all(_rpm_present(entry, rpms) for entry in listed["items"])
    return not every if listed["not"] else every


def _python_package_present(wanted: dict, packages: list[dict]) -> bool:
    for package in packages:
        if str(package.get("name", "")).lower().replace("_", "-") != wanted["name"]:
            continue
        if "version" in wanted:
            parsed = specifier(wanted["version"])
            try:
                if parsed is None or not parsed.contains(Version(str(package.get("version"))), prereleases=True):
                    continue
            except InvalidVersion:
                continue
        if "location" in wanted and not re.fullmatch(wanted["location"], str(package.get("location") or "")):
            continue
        return True
    return False


def _python_packages(listed: dict, packages: list[dict] | None) -> bool:
    if packages is None:
        return False
    if listed["not"]:
        return not any(_python_package_present(entry, packages) for entry in listed["items"])
    return all(_python_package_present(entry, packages) for entry in listed["items"])
