"""Realistic User API documents, with nulls wherever the server may leave them."""

from __future__ import annotations

ADVISER_ID = "adviser-240101120000-0123456789abcdef"
PROVENANCE_ID = "provenance-checker-240101120000-fedcba9876543210"

LOCK = {
    "_meta": {
        "hash": {"sha256": "0" * 64},
        "pipfile-spec": 6,
        "requires": {"python_version": "3.11"},
        "sources": [{"name": "main", "url": "http://127.0.0.1:1/simple/", "verify_ssl": False}],
    },
    "default": {
        "flask": {"version": "==3.0.0", "index": "main", "hashes": ["sha256:" + "a" * 64]},
        "click": {"version": "==8.1.7", "index": "main", "hashes": ["sha256:" + "b" * 64], "markers": None},
    },
    "develop": {},
}

ADVISER_DOCUMENT = {
    "metadata": {
        "analyzer": "thamos-adviser",
        "analyzer_version": "0.1.0",
        "document_id": ADVISER_ID,
        "datetime": "2024-01-01T12:00:05.123456",
        "duration": 4.2,
        "hostname": None,
        "arguments": {"recommendation_type": "stable"},
        "distribution": None,
        "python": None,
    },
    "result": {
        "error": False,
        "error_msg": None,
        "parameters": {"recommendation_type": "stable", "dev": False, "labels": None},
        "report": {
            "products": [
                {
                    "project": {
                        "requirements": {
                            "source": [
                                {"name": "main", "url": "http://127.0.0.1:1/simple/", "verify_ssl": False}
                            ],
                            "packages": {"flask": "*"},
                            "dev-packages": {},
                        },
                        "requirements_locked": LOCK,
                        "runtime_environment": {
                            "name": None,
                            "operating_system": {"name": "ubi", "version": None},
                            "hardware": None,
                            "python_version": "3.11",
                            "cuda_version": None,
                            "platform": "linux-x86_64",
                            "recommendation_type": "stable",
                            "base_image": None,
                        },
                        "constraints": [],
                    },
                    "score": 0.75,
                    "justification": [
                        {
                            "type": "INFO",
                            "message": "flask 3.0.0 is the newest release older than the stability window",
                            "link": "stable-release-age",
                            "package_name": "flask",
                            "version": "3.0.0",
                        },
                        {
                            "type": "WARNING",
                            "message": "no wheel for the target",
                            "link": "wheels",
                            "package_name": None,
                        },
                    ],
                    "advised_runtime_environment": None,
                    "advised_manifest_changes": [],
                    "dependency_graph": {"nodes": ["flask", "click"], "edges": [[0, 1]]},
                }
            ],
            "stack_info": [{"type": "INFO", "message": "rule set: stable", "link": "recommendation-types"}],
            "pipeline": None,
            "resolver_iterations": None,
            "accepted_final_states_count": 1,
        },
    },
}

FAILED_ADVISER_DOCUMENT = {
    "metadata": ADVISER_DOCUMENT["metadata"],
    "result": {
        "error": True,
        "error_msg": "flask>=4 (direct) conflicts with flask<3 (required by legacy-app 1.0)",
        "parameters": None,
        "report": {
            "products": [],
            "stack_info": [{"type": "ERROR", "message": "resolution failed", "link": "resolution"}],
            "pipeline": None,
            "resolver_iterations": 12,
            "accepted_final_states_count": 0,
        },
    },
}

PROVENANCE_DOCUMENT = {
    "result": {
        "error": False,
        "error_msg": None,
        "parameters": {},
        "report": [
            {
                "type": "ERROR",
                "id": "ARTIFACT_HASH_NOT_FOUND",
                "justification": "the locked hash of flask is not published on main",
                "package_name": "flask",
                "package_version": "3.0.0",
                "package_index": "http://127.0.0.1:1/simple/",
                "source": None,
            },
            {
                "type": "WARNING",
                "id": "INSECURE_SOURCE",
                "justification": "main is used without TLS verification",
                "package_name": None,
                "package_version": None,
                "package_index": None,
                "source": {"name": "main", "url": "http://127.0.0.1:1/simple/", "verify_ssl": False},
            },
        ],
    }
}

PENDING = {
    "error": "Analysis is still being computed",
    "parameters": {"analysis_id": ADVISER_ID},
    "status": {
        "status": {
            "state": "pending",
            "started_at": None,
            "finished_at": None,
            "reason": None,
            "exit_code": None,
        },
        "parameters": None,
    },
}
