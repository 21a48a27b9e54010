"""Answers of the listing endpoints: environments, platforms, indexes, container images and
what the adviser's catalogue knows about packages (imports, versions, dependencies)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

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
        from adviser.index import default_index_source

        source = default_index_source()
        return {"name": source.name, "url": source.url, "verify_ssl": source.verify_ssl}
    except Exception:  # the adviser is not importable here: fall back to pip's own default
        from pip._internal.models.index import PyPI

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
        images.append({key: _text(item.get(key)) for key in CONTAINER_IMAGE_KEYS})
    return images


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
    ]
    chunk = selected[page * per_page : (page + 1) * per_page]
    parameters = {"page": page, "per_page": per_page, "image_name": image_name, **filters}
    return {"container_images": chunk, "parameters": parameters}, 200


# -- the adviser's catalogue ------------------------------------------------------------------------


class CatalogUnavailable(Exception):
    """The adviser offers no catalogue function for this question."""


def _catalog_function(name: str):
    try:
        from adviser import catalog
    except ImportError as exc:
        raise CatalogUnavailable(f"the adviser's package catalogue is not available ({exc})") from None
    function = getattr(catalog, name, None)
    if function is None:
        raise CatalogUnavailable(f"the adviser's package catalogue cannot answer {name.replace('_', ' ')}")
    return function


def _ask_catalog(runtime: ServerRuntime, name: str, parameters: dict[str, Any], *args: Any, **kwargs: Any):
    """Call adviser.catalog.<name>(*args, settings, **kwargs); map its failures to answers."""
    try:
        function = _catalog_function(name)
    except CatalogUnavailable as exc:
        return None, ({"error": str(exc), "parameters": parameters}, 501)
    try:
        return function(*args, runtime.adviser_settings(), **kwargs), None
    except LookupError as exc:  # PackageNotFound and friends
        return None, (
            {"error": _plain(exc, "nothing is known about this package"), "parameters": parameters},
            404,
        )
    except ValueError as exc:  # a version or marker that does not parse
        return None, ({"error": _plain(exc, "the request cannot be answered"), "parameters": parameters}, 400)
    except Exception as exc:
        if type(exc).__name__ in ("PackageNotFound", "MetadataUnavailable"):
            return None, (
                {"error": _plain(exc, "nothing is known about this package"), "parameters": parameters},
                404,
            )
        if type(exc).__name__ == "IndexUnreachable":
            message = _plain(exc, "the package index cannot be reached")
            return None, ({"error": message, "parameters": parameters}, 503)
        LOGGER.exception("the catalogue failed on %s", name)
        return None, ({"error": f"the catalogue failed: {type(exc).__name__}", "parameters": parameters}, 503)


def _plain(exc: Exception, fallback: str) -> str:
    text = str(exc).strip()
    return text or fallback


def imported_packages(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    import_name = str(params.get("import_name") or "").strip()
    parameters = {"import_name": import_name}
    found, failure = _ask_catalog(runtime, "packages_for_import", parameters, import_name)
    if failure:
        return failure
    if not found:
        return {
            "error": f"no known package provides the module {import_name!r}",
            "parameters": parameters,
        }, 404
    names = [
        {
            "package_name": str(item["package_name"]),
            "index_url": str(item["index_url"]),
            "version": str(item["version"]),
        }
        for item in found
    ]
    return {"package_names": names, "parameters": parameters}, 200


def _environment(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params.get(key) for key in ("os_name", "os_version", "python_version")}


def package_versions(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    page, per_page = _page(params)
    name = str(params.get("name") or "").strip()
    environment = _environment(params)
    parameters = {"name": name, "page": page, "per_page": per_page, **environment}
    found, failure = _ask_catalog(runtime, "package_versions", parameters, name, **environment)
    if failure:
        return failure
    versions = [
        {
            "package_name": str(item["package_name"]),
            "package_version": str(item["package_version"]),
            "index_url": str(item["index_url"]),
        }
        for item in found or []
    ]
    if not versions and page == 0:
        return {"error": f"no released versions of {name!r} are known", "parameters": parameters}, 404
    return {"versions": versions[page * per_page : (page + 1) * per_page], "parameters": parameters}, 200


def package_dependencies(runtime: ServerRuntime, params: dict[str, Any]) -> Answer:
    name = str(params.get("name") or "").strip()
    version = str(params.get("version") or "").strip()
    index = str(params.get("index") or "").strip()
    environment = _environment(params)
    wanted = params.get("marker_evaluation_result")
    parameters = {"name": name, "version": version, "index": index, **environment}
    parameters["marker_evaluation_result"] = wanted
    found, failure = _ask_catalog(
        runtime, "package_dependencies", parameters, name, version, index, **environment
    )
    if failure:
        return failure
    dependencies = []
    for item in found or []:
        result = item.get("marker_evaluation_result")
        if wanted is not None and result is not None and bool(result) != bool(wanted):
            continue
        dependencies.append(
            {
                "name": str(item["name"]),
                "version": str(item.get("version") or ""),
                "extra": _text(item.get("extra")),
                "environment_marker": _text(item.get("environment_marker")),
                "marker_evaluation_result": result if isinstance(result, bool) else None,
            }
        )
    return {"dependencies": dependencies, "parameters": parameters}, 200
