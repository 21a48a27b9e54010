"""Every document adviser.wire shapes passes the schema the spec gives it (as the server validates).

The documents are built by the wire module itself, with the values the adviser, the job runner
and the handlers pass it, so a change to a shape that the spec does not allow fails here before
a server answers with a 500 or a client refuses the answer.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from jsonschema.exceptions import ValidationError

from adviser import wire
from tests.spec.conftest import check_response
from tests.spec.documents import ADVISER_ID, LOCK, PROVENANCE_ID
from tests.userapi.test_thoth1_wire import (
    THOTH1_ADVISER_DOCUMENT,
    THOTH1_PROVENANCE_DOCUMENT,
    shape_problems,
)

PARAMETERS = {"recommendation_type": "stable", "dev": False, "labels": {}}
RUNTIME = {"python_version": "3.11", "platform": "linux-x86_64", "operating_system": {"name": "ubi"}}
PIPFILE = {"source": [{"name": "main", "url": "http://127.0.0.1:1/simple/", "verify_ssl": False}]}
REQUEST = {
    "application_stack": {
        "requirements": '[[source]]\nname = "main"\nurl = "http://127.0.0.1:1/simple/"\n[packages]\nflask = "*"\n',
        "requirements_lock": '{"_meta": {}, "default": {}}',
    }
}


def adviser_result() -> dict:
    justification = [
        wire.report_item("INFO", "flask 3.0.0: newest admissible version", package="flask"),
        wire.report_item(
            "WARNING", "click 8.1.7 is affected by PYSEC-1", "https://advisories.example/PYSEC-1", "click"
        ),
    ]
    # The adviser reports constraints as text; the document's completion splits them for 1.x clients.
    project = wire.project_def(PIPFILE, LOCK, RUNTIME, ['click<9; python_version >= "3.8"'])
    product = wire.product(project, 0.5, justification, ["flask", "click"], [[0, 1]])
    stack_info = [wire.report_item("INFO", "Recommendation type stable (rule set thamos-rules-1)")]
    report = wire.adviser_report([product], stack_info, {"recommendation_type": "stable"}, 7)
    return wire.result(PARAMETERS, report)


def provenance_findings() -> list[dict]:
    return [
        wire.provenance_finding("ERROR", "LOCK_HASH_MISMATCH", "the lock was not made from this Pipfile"),
        wire.provenance_finding(
            "WARNING",
            "ARTIFACT_ON_OTHER_INDEX",
            "sha256:aa of flask==3.0.0 is on index 'other'",
            package_name="flask",
            package_version="3.0.0",
            package_index="main",
            source=PIPFILE["source"][0],
            link="http://127.0.0.1:2/simple/flask/",
        ),
    ]


def metadata(analysis_id: str, kind: str) -> dict:
    return wire.metadata(analysis_id, kind, PARAMETERS, datetime.now(timezone.utc) - timedelta(seconds=2))


ADVISER_ERROR = wire.error_result(
    wire.ADVISER,
    PARAMETERS,
    "flask>=4 conflicts with flask<3",
    [wire.report_item("INFO", "Indexes consulted")],
)
PROVENANCE_ERROR = wire.error_result(wire.PROVENANCE, {}, "index http://127.0.0.1:1/simple/ is unreachable")


@pytest.mark.parametrize(
    ("schema", "document"),
    [
        ("JustificationItem", wire.report_item("ERROR", "it broke")),
        ("JustificationItem", wire.report_item("INFO", "about flask", "https://example.invalid/", "flask")),
        ("ProvenanceReportItem", provenance_findings()[0]),
        ("ProvenanceReportItem", provenance_findings()[1]),
        ("ProjectDef", wire.project_def(PIPFILE, LOCK, RUNTIME, [wire.constraint_entry("click<9")])),
        ("AdviserResult", ADVISER_ERROR),
        ("ProvenanceResult", wire.result({}, provenance_findings())),
        ("ProvenanceResult", PROVENANCE_ERROR),
        ("ProvenanceResult", wire.error_result(wire.PROVENANCE, {}, "half checked", provenance_findings())),
        ("AnalysisMetadata", metadata(ADVISER_ID, wire.ADVISER)),
        ("AnalysisMetadata", wire.complete_metadata(None, ADVISER_ID)),
        ("AnalysisResponse", wire.accepted(ADVISER_ID, False, False, PARAMETERS)),
        ("AnalysisResponse", wire.accepted(PROVENANCE_ID, True, True, {"force": False})),
        ("AnalysisStatusResponse", wire.status(ADVISER_ID, "pending", None, None, None)),
        ("AnalysisStatusResponse", wire.status(ADVISER_ID, "running", 1.7e9, None, None)),
        ("AnalysisStatusResponse", wire.status(ADVISER_ID, "succeeded", 1.7e9, 1.7e9 + 3, None)),
        ("AnalysisStatusResponse", wire.status(ADVISER_ID, "failed", 1.7e9, 1.7e9 + 3, "no stack")),
        (
            "AnalysisUnfinishedResultResponse",
            wire.unfinished(ADVISER_ID, "running", wire.status(ADVISER_ID, "running", 1.7e9, None, None)),
        ),
        ("AnalysisLogResponse", wire.log_answer(ADVISER_ID, "")),
        ("AnalysisLogResponse", wire.log_answer(ADVISER_ID, "resolving 1 direct requirements\n")),
        ("ServiceVersion", wire.version_answer("1.0.0", "2.0.0")),
        ("AnalysisResponseError", wire.error_answer("no analysis with id x is known")),
        ("AnalysisResponseError", wire.error_answer("too large", {"max_request_bytes": 10})),
    ],
)
def test_wire_document_passes_its_schema(schemas: dict, schema: str, document: dict) -> None:
    check_response(schemas, schema, document)


def test_adviser_result_and_product_pass_their_schemas(schemas: dict) -> None:
    result = adviser_result()
    document = wire.analysis_document(
        wire.ADVISER, ADVISER_ID, REQUEST, metadata(ADVISER_ID, wire.ADVISER), result
    )
    check_response(schemas, "AdviserResultResponse", document)
    check_response(schemas, "AdviserResult", document["result"])
    check_response(schemas, "AdviserProduct", document["result"]["report"]["products"][0])
    assert shape_problems(document, THOTH1_ADVISER_DOCUMENT) == []
    assert document["result"]["report"]["accepted_final_states_count"] == 1


def test_error_documents_pass_as_analysis_documents_and_as_thoth1_reads_them(schemas: dict) -> None:
    for kind, failed, schema, thoth1_shape in [
        (wire.ADVISER, ADVISER_ERROR, "AdviserResultResponse", THOTH1_ADVISER_DOCUMENT),
        (wire.PROVENANCE, PROVENANCE_ERROR, "ProvenanceResultResponse", THOTH1_PROVENANCE_DOCUMENT),
    ]:
        analysis_id = ADVISER_ID if kind == wire.ADVISER else PROVENANCE_ID
        document = wire.analysis_document(
            kind, analysis_id, REQUEST, metadata(analysis_id, kind), copy.deepcopy(failed)
        )
        check_response(schemas, schema, document)
        # 1.x requires products' fields only of products that exist: an error has none.
        assert shape_problems(document, thoth1_shape) == []
        assert document["result"]["error"] is True


def test_error_result_has_one_shape() -> None:
    assert ADVISER_ERROR["error"] is True and ADVISER_ERROR["error_msg"] == "flask>=4 conflicts with flask<3"
    report = ADVISER_ERROR["report"]
    assert report["products"] == [] and report["accepted_final_states_count"] == 0
    # What the run gathered comes first; the error closes the stack_info.
    assert [item["type"] for item in report["stack_info"]] == ["INFO", "ERROR"]
    assert report["stack_info"][-1]["message"] == ADVISER_ERROR["error_msg"]
    # A provenance check keeps its findings; the error is the document's, not a finding.
    assert PROVENANCE_ERROR["report"] == [] and PROVENANCE_ERROR["error"] is True
    assert set(ADVISER_ERROR) == set(PROVENANCE_ERROR) == {"error", "error_msg", "parameters", "report"}


def test_provenance_document_carries_the_checked_project(schemas: dict) -> None:
    document = wire.analysis_document(
        wire.PROVENANCE,
        PROVENANCE_ID,
        REQUEST,
        metadata(PROVENANCE_ID, wire.PROVENANCE),
        wire.result({}, provenance_findings()),
    )
    check_response(schemas, "ProvenanceResultResponse", document)
    project = document["result"]["parameters"]["project"]
    check_response(schemas, "ProjectDef", project)
    assert project["requirements"]["packages"] == {"flask": "*"}


def test_status_maps_store_states_to_thoth_states() -> None:
    assert wire.status(ADVISER_ID, "succeeded", 0.0, 1.0, None)["status"]["state"] == "terminated"
    assert wire.status(ADVISER_ID, "succeeded", 0.0, 1.0, None)["status"]["exit_code"] == 0
    assert wire.status(ADVISER_ID, "failed", 0.0, 1.0, "x")["status"]["exit_code"] == 1
    assert wire.status(ADVISER_ID, "pending", None, None, None)["status"]["exit_code"] is None


def test_a_shape_the_spec_refuses_is_caught(schemas: dict) -> None:
    """The check can fail: a justification item of an unknown type, a product without a score."""
    with pytest.raises(ValidationError):
        check_response(schemas, "JustificationItem", wire.report_item("NOTICE", "hm"))
    product = adviser_result()["report"]["products"][0]
    del product["score"]
    with pytest.raises(ValidationError):
        check_response(schemas, "AdviserProduct", product)
