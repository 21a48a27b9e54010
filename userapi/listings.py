"""Answers of the listing endpoints: environments, platforms, indexes, container images and
what the adviser's catalogue knows about packages (imports, versions, dependencies)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from adviser import wire
from userapi.settings import ServerSettings, SettingsError

if TYPE_CHECKING:
    from userapi.runtime import ServerRuntime

LOGGER = logging.getLogger(__name__)

Answer = tuple[Any, int]

CONTAINER_IMAGE_KEYS = (
    "environment_name",
    "environment_type",
    "os_name",
    "os_version",
    "python_version",
    "cuda_version",
    "image_name",
    "image_tag",
    "image_sha",
    "env_image_name",
    "env_image_tag",
    "thoth_image_name",
    "thoth_image_version",
    "package_extract_document_id",
    "datetime",
    "image_analysis_url",
    "quay_repo_url",
)

# Thoth 1.x clients refuse an image whose fields of these names are null: unknown is "".
CONTAINER_IMAGE_TEXT_KEYS = (
    "package_extract_document_id",
    "datetime",
    "image_analysis_url",
    "quay_repo_url",
)


def environments(settings: ServerSettings) -> list[dict[str, Any]]:
    keys = ("os_name", "os_version", "python_version", "cuda_version", "platform", "image")
    return [{key: _text(env.get(key)) for key in keys} for env in settings.environments]


def platforms(settings: ServerSettings) -> list[str]:
    return sorted({str(env["platform"]) for env in settings.environments if env.get("platform")})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def default_index_entry(settings: ServerSettings) -> dict[str, Any]:
    """The index resolutions use when a request names none."""
    if settings.default_index is not None:
        return settings.default_index.as_dict()
    try:
        # Imported on the first question: the index client adds ~0.1 s to the server's start.
        from adviser.index import default_index_source

        source = default_index_source()
        return {"name": source.name, "url": source.url, "verify_ssl": source.verify_ssl}
    except Exception:  # the adviser is not importable here: fall back to pip's own default
        from pip._internal.models.index import PyPI  # pip's internals, only for this fallback

        return {"name": "pypi", "url": PyPI.simple_url, "verify_ssl": True}


def indexes(settings: ServerSettings) -> list[dict[str, Any]]:
    entries = [default_index_entry(settings)] + [index.as_dict() for index in settings.known_indexes]
    seen: set[str] = set()
    answer = []
    for entry in entries:
        if entry["url"] in seen:
            continue
        seen.add(entry["url"])
        answer.append(
            {
                "name": entry["name"],
                "url": entry["url"],
                "warehouse_api_url": None,
                "verify_ssl": bool(entry["verify_ssl"]),
                "enabled": True,
                # Thoth 1.x clients require it; every index here is consulted for any package.
                "only_if_package_seen": False,
            }
        )
    return answer


def load_container_images(path: Path) -> list[dict[str, Any]]:
    """Read the catalogue (a YAML or JSON list of images); a bad file is a SettingsError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except OSError as exc:
        raise SettingsError(f"cannot read the container images catalogue {path}: {exc.strerror}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise SettingsError(f"the container images catalogue {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, list):
        raise SettingsError(f"the container images catalogue {path} must be a list of images")
    images = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise SettingsError(f"entry {number} of {path} is not a mapping")
        missing = [key for key in ("os_name", "os_version", "python_version") if not item.get(key)]
        if missing:
            raise SettingsError(f"entry {number} of {path} lacks {', '.join(missing)}")
        image = {key: _text(item.get(key)) for key in CONTAINER_IMAGE_KEYS}
        # Thoth spelled the type RUNTIME or BUILDTIME, and 1.x clients accept nothing else.
        image["environment_type"] = (image["environment_type"] or "runtime").upper()
        if image["environment_type"] not in ("RUNTIME", "BUILDTIME"):
            raise SettingsError(
                f"entry {number} of {path} has environment_type {item.get('environment_type')!r}:"
                " use runtime or buildtime"
            )
        contents = _image_contents(item, f"entry {number} of {path}")
        images.append({**image, **{key: image[key] or "" for key in CONTAINER_IMAGE_TEXT_KEYS},
                       **({CONTENTS: contents} if contents else {})})
    return images


# What an image ships, when the catalogue lists it: the filters thamos 1.x sends (package_name,
# rpm_package_name, library_name, symbol) match these lists; kept out of the answers.
CONTENTS = "_contents"
CONTENT_FILTERS = {"package_name": "python_packages", "rpm_package_name": "rpm_packages",
                   "library_name": "libraries", "symbol": "symbols"}


def _image_contents(item: dict[str, Any], where: str) -> dict[str, list[str]]:
    contents = {}
    for key in CONTENT_FILTERS.values():
        value = item.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise SettingsError(f"{where}: {key} must be a list of names")
        contents[key] = sorted({canonicalize_name(name) for name in value} if key == "python_packages" else set(value))
    return contents


def _ships(image: dict[str, Any], params: dict[str, Any]) -> bool:
    contents = image.get(CONTENTS) or {}
    for parameter, key in CONTENT_FILTERS.items():
        wanted = params.get(parameter)
        if wanted in (None, ""):
            continue
        wanted = canonicalize_name(wanted) if key == "python_packages" else wanted
        if wanted not in contents.get(key, ()):
            return False
    return True


def _page(params: dict[str, Any]) -> tuple[int, int]:
    page = int(params.get("page") or 0)
    per_page = int(params.get("per_page") or 25)
    return max(page, 0), max(per_page, 1)


def container_images(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    page, per_page = _page(params)
    filters = {key: params.get(key) for key in ("os_name", "os_version", "python_version", "cuda_version")}
    image_name = params.get("image_name")
    selected = [
        image
        for image in runtime.container_images
        if all(value in (None, "") or image.get(key) == value for key, value in filters.items())
        and (not image_name or image_name in (image.get("image_name") or ""))
        and _ships(image, params)
    ]
    chunk = [{k: v for k, v in image.items() if k != CONTENTS}
             for image in selected[page * per_page : (page + 1) * per_page]]
    asked = {key: params[key] for key in CONTENT_FILTERS if params.get(key) not in (None, "")}
    parameters = {"page": page, "per_page": per_page, "image_name": image_name, **filters, **asked}
    return {"container_images": chunk, "parameters": parameters}, 200


# -- the adviser's catalogue ------------------------------------------------------------------------
# adviser.catalog answers from the adviser's cache only: a package no resolution on this backend
# has read is unknown (404), never fetched from an index while the client waits.


class CatalogUnavailable(Exception):
    """The adviser offers no catalogue function for this question."""


def _catalog_function(name: str):
    try:
        from adviser import catalog  # imported on the first question: ~80 ms of the server's start
    except ImportError as exc:
        raise CatalogUnavailable(f"the adviser's package catalogue is not available ({exc})") from None
    function = getattr(catalog, name, None)
    if function is None:
        raise CatalogUnavailable(f"the adviser's package catalogue cannot answer {name.replace('_', ' ')}")
    return function


def _ask_catalog(runtime: ServerRuntime, name: str, parameters: dict[str, Any], *args: Any):
    """(answer, None) from adviser.catalog.<name>(cache_dir, *args), or (None, error answer)."""
    try:
        function = _catalog_function(name)
    except CatalogUnavailable as exc:
        return None, (wire.error_answer(str(exc), parameters), 501)
    try:
        return function(runtime.settings.cache_dir, *args), None
    except ValueError as exc:  # a name or version that does not parse
        return None, (wire.error_answer(str(exc) or "the request cannot be answered", parameters), 400)
    except Exception as exc:
        LOGGER.exception("the catalogue failed on %s", name)
        message = f"the package catalogue could not be read ({type(exc).__name__})"
        return None, (wire.error_answer(message, parameters), 503)


UNKNOWN_HINT = "this backend knows the packages its resolutions have read"


def imported_packages(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    import_name = str(params.get("import_name") or "").strip()
    parameters = {"import_name": import_name}
    if not import_name:
        return wire.error_answer("import_name is empty: name a module, for example 'yaml'", parameters), 400
    found, failure = _ask_catalog(runtime, "packages_providing_import", parameters, import_name)
    if failure:
        return failure
    if not found:
        found, tried = _look_up_import(runtime, import_name)
    if not found:
        message = (
            f"no package known to this backend provides the module {import_name!r}: no resolution has read "
            f"one, and the projects {', '.join(tried)} on its indexes do not install it"
        )
        return wire.error_answer(message, parameters), 404
    names = [
        {
            "package_name": str(project),
            "version": str(version),
            # The same facts under the names Thoth 1.x clients read (and require).
            "package_version": str(version),
            "package_import": import_name,
            "index_url": str(index_url),
        }
        for project, version, index_url in found
    ]
    return {"package_names": names, "parameters": parameters}, 200


def _look_up_import(runtime: ServerRuntime, import_name: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(providers, projects tried) from the indexes, for a module the cache does not know."""
    try:
        from adviser.import_lookup import candidate_projects, look_up_import
        from userapi.jobs import build_adviser_settings
    except ImportError:
        return [], []
    tried = candidate_projects(import_name)
    try:
        return look_up_import(build_adviser_settings(runtime.settings.adviser_options()), import_name), tried
    except Exception:  # an index failing is "still unknown", never a failed request
        LOGGER.warning("looking up the module %r on the indexes failed", import_name, exc_info=True)
        return [], tried


def _environment(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params.get(key) for key in ("os_name", "os_version", "python_version")}


def package_versions(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    page, per_page = _page(params)
    name = str(params.get("name") or "").strip()
    parameters = {"name": name, "page": page, "per_page": per_page, **_environment(params)}
    found, failure = _ask_catalog(runtime, "package_versions", parameters, name)
    if failure:
        return failure
    if not found:
        message = f"no released versions of {name!r} are known ({UNKNOWN_HINT})"
        return wire.error_answer(message, parameters), 404
    versions = [
        {"package_name": str(project), "package_version": str(version), "index_url": str(index_url)}
        for project, version, index_url in found
    ]
    return {"versions": versions[page * per_page : (page + 1) * per_page], "parameters": parameters}, 200


def _marker_environment(params: dict[str, Any]) -> dict[str, str] | None:
    """Marker variables for the environment named in the query; None when no Python version is given."""
    python_version = params.get("python_version")
    if not python_version:
        return None
    return {
        "python_version": str(python_version),
        "python_full_version": f"{python_version}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "os_name": "posix",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "extra": "",
    }


def _dependency(requirement_text: str, environment: dict[str, str] | None) -> dict[str, Any]:
    try:
        requirement = Requirement(requirement_text)
    except InvalidRequirement:
        return {
            "name": requirement_text,
            "version": "",
            "extra": None,
            "environment_marker": None,
            "marker_evaluation_result": None,
        }
    marker = requirement.marker
    extra = None
    for part in str(marker or "").split(" and "):
        key, _, value = part.partition("==")
        if key.strip() == "extra":
            extra = value.strip().strip("'\"")
    evaluation = None
    if environment is not None:
        evaluation = True if marker is None else bool(marker.evaluate(environment))
    name = requirement.name + (f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else "")
    return {
        "name": name,
        "version": str(requirement.specifier),
        "extra": extra,
        "environment_marker": str(marker) if marker is not None else None,
        "marker_evaluation_result": evaluation,
    }


def package_dependencies(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    name = str(params.get("name") or "").strip()
    version = str(params.get("version") or "").strip()
    index = str(params.get("index") or "").strip()
    wanted = params.get("marker_evaluation_result")
    parameters = {"name": name, "version": version, "index": index, **_environment(params)}
    parameters["marker_evaluation_result"] = wanted
    found, failure = _ask_catalog(runtime, "package_dependencies", parameters, name, version, index or None)
    if failure:
        return failure
    if not found and not package_is_known(runtime, name, version):
        message = f"nothing is known about {name} {version} on {index or 'any index'} ({UNKNOWN_HINT})"
        return wire.error_answer(message, parameters), 404
    environment = _marker_environment(params)
    dependencies = []
    for item in found:
        dependency = _dependency(str(item["requirement"]), environment)
        if (
            wanted is not None
            and environment is not None
            and dependency["marker_evaluation_result"] != wanted
        ):
            continue
        dependencies.append(dependency)
    return {"dependencies": dependencies, "parameters": parameters}, 200


def package_is_known(runtime: ServerRuntime, name: str, version: str) -> bool:
    """Whether the catalogue lists this release (a release without dependencies is still known)."""
    found, failure = _ask_catalog(runtime, "package_versions", {}, name)
    if failure or not found:
        return False

    def same(left: str, right: str) -> bool:
        try:
            return Version(left) == Version(right)
        except InvalidVersion:
            return left == right

    return any(same(str(item[1]), version) for item in found)
