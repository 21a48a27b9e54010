"""The User API contract (openapi/openapi.yaml): validity, shape and nullability."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.spec.conftest import SPEC_PATH

# (operationId, method, path, tag) as the shared interface fixes them.
OPERATIONS = [
    ("post_advise_python", "post", "/advise/python", "Advise"),
    ("get_advise_python", "get", "/advise/python/{analysis_id}", "Advise"),
    ("get_advise_python_status", "get", "/advise/python/{analysis_id}/status", "Advise"),
    ("get_advise_python_log", "get", "/advise/python/{analysis_id}/log", "Advise"),
    ("post_provenance_python", "post", "/provenance/python", "Provenance"),
    ("get_provenance_python", "get", "/provenance/python/{analysis_id}", "Provenance"),
    ("get_provenance_python_status", "get", "/provenance/python/{analysis_id}/status", "Provenance"),
    ("get_provenance_python_log", "get", "/provenance/python/{analysis_id}/log", "Provenance"),
    ("list_python_environments", "get", "/python/environment", "PythonPackages"),
    ("list_python_package_indexes", "get", "/python-package-index", "PythonPackages"),
    ("get_python_package_dependencies", "get", "/python/package/dependencies", "PythonPackages"),
    ("get_python_package_versions", "get", "/python/package/versions", "PythonPackages"),
    ("get_python_platform", "get", "/python/platform", "PythonPackages"),
    ("get_package_from_imported_packages", "get", "/python/imports", "PythonPackages"),
    ("list_thoth_container_images", "get", "/container-images", "ContainerImages"),
    ("api_discovery", "get", "/", "Service"),
    ("get_version", "get", "/version", "Service"),
]

# Fields the server always fills (DESIGN.md): required and never nullable.
NEVER_NULL = {
    "AdviserResultResponse": ["result"],
    "AdviserResult": ["error"],
    "AdviserProduct": ["project", "score", "justification", "advised_manifest_changes", "dependency_graph"],
    "DependencyGraph": ["nodes", "edges"],
    "ProjectDef": ["constraints", "requirements", "requirements_locked", "runtime_environment"],
    "AdviserResult.report": ["products", "stack_info"],
    "AnalysisResponse": ["analysis_id", "cached", "authenticated", "parameters"],
    "AnalysisStatusResponse": ["status"],
    "AnalysisStatus": ["state"],
    "JustificationItem": ["type", "message", "link"],
    "ProvenanceReportItem": ["type", "id", "justification"],
    "AnalysisResponseError": ["error"],
    "PythonEnvironmentsResponse": ["environment"],
    "PythonPackageIndexesResponse": ["indexes"],
    "ContainerImagesResponse": ["container_images", "parameters"],
    "ImportedPackagesResponse": ["package_names", "parameters"],
    "PythonPackageDependenciesResponse": ["dependencies", "parameters"],
    "PythonPackageVersionsResponse": ["versions", "parameters"],
    "PythonPlatformsResponse": ["platform"],
    "ServiceVersion": ["version", "service_version"],
}

# Fields the server may leave null: they must say so.
MAY_BE_NULL = {
    "AdviserResult": ["error_msg", "report", "parameters"],
    "AdviserProduct": ["advised_runtime_environment"],
    "AdviserResult.report": ["pipeline", "resolver_iterations", "accepted_final_states_count"],
    "AnalysisStatus": ["started_at", "finished_at", "reason", "exit_code"],
    "AnalysisLogResponse": ["log"],
    "AnalysisResponseError": ["parameters"],
    "PythonStack": ["requirements_lock", "constraints"],
    "AdviseInput": [
        "runtime_environment",
        "library_usage",
        "labels",
        "justification",
        "stack_info",
        "kebechet_metadata",
        "source_type",
    ],
    "ProjectRuntimeEnvironment": [
        "name",
        "operating_system",
        "hardware",
        "python_version",
        "cuda_version",
        "cudnn_version",
        "mkl_version",
        "openblas_version",
        "openmpi_version",
        "platform",
        "recommendation_type",
        "base_image",
    ],
    "ProjectRuntimeEnvironment.operating_system": ["name", "version"],
    "ProjectRuntimeEnvironment.hardware": ["cpu_family", "cpu_model", "cpu_model_name", "gpu_model"],
    "AdviseInput.runtime_environment": ["python_version", "platform", "operating_system", "hardware"],
    "JustificationItem": ["package_name"],
    "ProvenanceResult": ["error_msg", "report"],
    "ProvenanceReportItem": ["package_name", "package_version", "package_index", "source"],
    "PythonPackageIndex": ["warehouse_api_url", "name"],
    "PythonEnvironment": ["cuda_version", "image"],
}


def schema_at(spec: dict, dotted: str) -> dict:
    """The schema of `Component.property.property...`, following `$ref`s on the way."""
    schemas = spec["components"]["schemas"]
    first, *rest = dotted.split(".")
    node = schemas[first]
    for name in rest:
        node = node["properties"][name]
        if "$ref" in node:
            node = schemas[node["$ref"].rsplit("/", 1)[1]]
    return node


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, Any]]:
    """Yield (json-pointer-ish path, node) for every mapping in the document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def schemas_in(spec: dict) -> Iterator[tuple[str, dict]]:
    """Every schema object: components, their nested properties and items, inline bodies."""
    for path, node in walk(spec):
        if path.endswith("/schema") or "/schemas/" in path:
            yield path, node


def test_spec_passes_openapi_spec_validator(spec: dict) -> None:
    validate(spec, base_uri=SPEC_PATH.as_uri())


def test_spec_header_facts(spec: dict) -> None:
    assert spec["openapi"] == "3.0.3"
    assert spec["info"]["version"] == "1.0.0"
    assert spec["info"]["description"].strip()
    assert spec["servers"] == [{"url": "/api/v1"}]


@pytest.mark.parametrize(("operation_id", "method", "path", "tag"), OPERATIONS)
def test_operation_is_where_the_interface_says(
    spec: dict, operation_id: str, method: str, path: str, tag: str
) -> None:
    operation = spec["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert operation["tags"] == [tag]


def test_operation_ids_are_unique(spec: dict) -> None:
    ids = [
        op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op
    ]
    assert len(ids) == len(set(ids))


def test_only_the_interface_tags_are_used(spec: dict) -> None:
    used = {tag for item in spec["paths"].values() for op in item.values() for tag in op["tags"]}
    assert used == {"Advise", "Provenance", "PythonPackages", "ContainerImages", "Service"}


def test_discovery_declares_thoth_headers_on_get_and_head(spec: dict) -> None:
    for method in ("get", "head"):
        headers = spec["paths"]["/"][method]["responses"]["200"]["headers"]
        assert set(headers) == {"X-Thoth-Version", "X-Thoth-Search-Ui-Url"}
    listing = spec["paths"]["/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert spec["components"]["schemas"][listing["$ref"].rsplit("/", 1)[1]] == {
        "description": "Paths served under the API base.",
        "type": "array",
        "items": {"type": "string"},
    }


def test_advise_query_parameters(spec: dict) -> None:
    parameters = {}
    for parameter in spec["paths"]["/advise/python"]["post"]["parameters"]:
        if "$ref" in parameter:
            parameter = spec["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        parameters[parameter["name"]] = parameter
    assert set(parameters) == {"recommendation_type", "dev", "force", "debug", "origin", "count", "limit"}
    assert parameters["recommendation_type"]["schema"]["enum"] == [
        "latest",
        "testing",
        "stable",
        "performance",
        "security",
    ]
    assert all(p["in"] == "query" and not p.get("required", False) for p in parameters.values())


def test_token_authentication_is_optional(spec: dict) -> None:
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["security"] == [{}, {"bearerAuth": []}]
    for path in ("/advise/python", "/provenance/python"):
        assert {"202", "400", "401", "403"} <= set(spec["paths"][path]["post"]["responses"])


def test_analysis_gets_answer_202_while_pending_and_400_on_wrong_prefix(spec: dict) -> None:
    for path in ("/advise/python/{analysis_id}", "/provenance/python/{analysis_id}"):
        responses = spec["paths"][path]["get"]["responses"]
        assert {"200", "202", "400", "404"} <= set(responses)


@pytest.mark.parametrize(("schema_name", "fields"), sorted(NEVER_NULL.items()))
def test_never_null_fields_are_required_and_not_nullable(
    spec: dict, schema_name: str, fields: list[str]
) -> None:
    schema = schema_at(spec, schema_name)
    for field in fields:
        assert field in schema["required"], f"{schema_name}.{field} should be required"
        assert not schema["properties"][field].get("nullable", False), f"{schema_name}.{field} is never null"


def test_adviser_metadata_is_never_null_when_present(spec: dict) -> None:
    for name in ("AdviserResultResponse", "ProvenanceResultResponse"):
        metadata = spec["components"]["schemas"][name]["properties"]["metadata"]
        assert metadata == {"$ref": "#/components/schemas/AnalysisMetadata"}


@pytest.mark.parametrize(("schema_name", "fields"), sorted(MAY_BE_NULL.items()))
def test_fields_that_may_be_null_are_declared_nullable(
    spec: dict, schema_name: str, fields: list[str]
) -> None:
    properties = schema_at(spec, schema_name)["properties"]
    for field in fields:
        assert properties[field].get("nullable") is True, f"{schema_name}.{field} must be nullable"


def test_no_ref_has_siblings(spec: dict) -> None:
    offenders = [path for path, node in walk(spec) if "$ref" in node and len(node) > 1]
    assert offenders == []


def test_nullable_stands_beside_a_type(spec: dict) -> None:
    """The server's validator honours `nullable` only beside `type` (not through allOf)."""
    offenders = [path for path, node in schemas_in(spec) if "nullable" in node and "type" not in node]
    assert offenders == []
    assert [path for path, node in walk(spec) if {"allOf", "anyOf", "oneOf"} & set(node)] == []


def test_nullable_and_never_null_runtime_environments_share_one_shape(spec: dict) -> None:
    optional = schema_at(spec, "AdviseInput.runtime_environment")
    assert schema_at(spec, "AdviserProduct.advised_runtime_environment") == optional
    assert optional["nullable"] is True and optional["title"] == "RuntimeEnvironment"
    project = schema_at(spec, "ProjectDef.runtime_environment")
    assert "nullable" not in project
    assert project["properties"] == optional["properties"]


def test_strings_carry_no_properties_or_items(spec: dict) -> None:
    offenders = [
        path
        for path, node in schemas_in(spec)
        if node.get("type") == "string" and ({"properties", "items"} & set(node))
    ]
    assert offenders == []


def test_x_body_name_only_on_request_bodies(spec: dict) -> None:
    misplaced = [
        path for path, node in walk(spec) if "x-body-name" in node and not path.endswith("/requestBody")
    ]
    assert misplaced == []
    bodies = {
        path: item["post"]["requestBody"]["x-body-name"]
        for path, item in spec["paths"].items()
        if "post" in item
    }
    assert bodies == {"/advise/python": "input", "/provenance/python": "application_stack"}


def test_free_form_objects_allow_any_keys(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    for schema, field in [
        ("ProjectDef", "requirements"),
        ("ProjectDef", "requirements_locked"),
        ("AnalysisResponse", "parameters"),
        ("AdviserResult", "parameters"),
        ("ContainerImagesResponse", "parameters"),
    ]:
        node = schemas[schema]["properties"][field]
        assert node["type"] == "object" and node["additionalProperties"] is True, f"{schema}.{field}"


def test_every_error_answer_uses_the_common_error_schema(spec: dict) -> None:
    components = spec["components"]["responses"]
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                if "$ref" in response:
                    response = components[response["$ref"].rsplit("/", 1)[1]]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/AnalysisResponseError"}, (
                    f"{method} {path} {status}"
                )


def test_spec_names_no_hosts(spec: dict) -> None:
    text = SPEC_PATH.read_text(encoding="utf-8")
    assert "://" not in text


# Every status code the server emits besides the success answers, by operation: token refusals
# (TokenAuthMiddleware), body limits and media types (BodyLimitMiddleware, connexion), request
# validation, and the package catalogue's own answers (userapi/listings.py).
ANALYSIS_GET_ERRORS = {"400", "401", "404"}
POST_ERRORS = {"400", "401", "413", "415"}
CATALOGUE_ERRORS = {"400", "404", "501", "503"}
EMITTED_ERRORS = {
    ("post", "/advise/python"): POST_ERRORS,
    ("post", "/provenance/python"): POST_ERRORS,
    **{
        ("get", f"/{kind}/python/{{analysis_id}}{suffix}"): ANALYSIS_GET_ERRORS
        for kind in ("advise", "provenance")
        for suffix in ("", "/status", "/log")
    },
    ("get", "/python/imports"): CATALOGUE_ERRORS,
    ("get", "/python/package/versions"): CATALOGUE_ERRORS,
    ("get", "/python/package/dependencies"): CATALOGUE_ERRORS,
    ("get", "/container-images"): {"400"},
}


@pytest.mark.parametrize(("method", "path"), sorted(EMITTED_ERRORS))
def test_every_error_the_server_emits_is_declared(spec: dict, method: str, path: str) -> None:
    declared = set(spec["paths"][path][method]["responses"])
    assert EMITTED_ERRORS[(method, path)] <= declared, EMITTED_ERRORS[(method, path)] - declared


def test_unknown_import_is_a_declared_404(spec: dict) -> None:
    operation = spec["paths"]["/python/imports"]["get"]
    answer = operation["responses"]["404"]
    assert "module" in answer["description"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AnalysisResponseError"
    }
    assert "at least one" in operation["responses"]["200"]["description"]
