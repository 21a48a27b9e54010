"""Realistic requests and answers pass the validators the server runs (connexion's).

The server validates every request and response against the contract; a null the contract
allows but the validator refuses would turn a valid answer into a 500.
"""

from __future__ import annotations

import copy

import pytest
from connexion.json_schema import Draft4RequestValidator
from jsonschema.exceptions import ValidationError

from tests.spec.conftest import check_response
from tests.spec.documents import (
    ADVISER_DOCUMENT,
    FAILED_ADVISER_DOCUMENT,
    LOCK,
    PENDING,
    PROVENANCE_DOCUMENT,
)


def check_request(schemas: dict, name: str, document: object) -> None:
    Draft4RequestValidator(schemas[name]).validate(document)


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("AdviserResultResponse", ADVISER_DOCUMENT),
        ("AdviserResultResponse", FAILED_ADVISER_DOCUMENT),
        ("AdviserResultResponse", {"result": {"error": True, "error_msg": "crashed", "report": None}}),
        ("ProvenanceResultResponse", PROVENANCE_DOCUMENT),
        ("AnalysisUnfinishedResultResponse", PENDING),
        ("AnalysisStatusResponse", PENDING["status"]),
        ("AnalysisLogResponse", {"log": None, "parameters": None}),
        ("AnalysisResponseError", {"error": "unknown analysis id", "parameters": None}),
        (
            "AnalysisResponse",
            {
                "analysis_id": "adviser-240101120000-0123456789abcdef",
                "cached": False,
                "authenticated": False,
                "parameters": {},
            },
        ),
    ],
)
def test_answer_with_nulls_passes(schemas: dict, name: str, document: object) -> None:
    check_response(schemas, name, document)


def test_full_advise_request_with_nulls_passes(schemas: dict) -> None:
    check_request(
        schemas,
        "AdviseInput",
        {
            "application_stack": {
                "requirements": '[packages]\nflask = "*"\n',
                "requirements_lock": None,
                "requirements_format": "pipenv",
                "constraints": None,
            },
            "runtime_environment": {
                "name": "ubi9",
                "operating_system": {"name": "ubi", "version": "9"},
                "hardware": {"cpu_family": None, "cpu_model": None, "gpu_model": None},
                "python_version": "3.11",
                "cuda_version": None,
                "platform": "linux-x86_64",
                "recommendation_type": None,
                "base_image": None,
                "an_unknown_key": "is accepted",
            },
            "library_usage": None,
            "labels": None,
            "justification": None,
            "stack_info": None,
            "kebechet_metadata": None,
            "source_type": None,
        },
    )
    check_request(
        schemas,
        "AdviseInput",
        {"application_stack": {"requirements": "flask\n"}, "runtime_environment": None},
    )
    check_request(
        schemas, "PythonStack", {"requirements": "[packages]\n", "requirements_lock": '{"_meta": {}}'}
    )


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("result", "report", "products", 0, "score"), None),
        (("result", "report", "products", 0, "dependency_graph"), None),
        (("result", "report", "products", 0, "justification"), None),
        (("result", "report", "products", 0, "advised_manifest_changes"), None),
        (("result", "report", "products", 0, "project", "runtime_environment"), None),
        (("result", "report", "products", 0, "project", "requirements_locked"), None),
        (("result", "report", "stack_info", 0, "type"), "NOTICE"),
        (("metadata",), None),
    ],
)
def test_null_or_bad_value_in_a_fixed_place_is_refused(schemas: dict, where: tuple, value: object) -> None:
    document = copy.deepcopy(ADVISER_DOCUMENT)
    node = document
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(ValidationError):
        check_response(schemas, "AdviserResultResponse", document)


def test_request_without_requirements_is_refused(schemas: dict) -> None:
    with pytest.raises(ValidationError):
        check_request(schemas, "AdviseInput", {"application_stack": {"requirements_lock": LOCK}})
