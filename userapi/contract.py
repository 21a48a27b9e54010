"""The API contract as the worker sees it: documents are checked before they are stored.

The server validates its answers against the spec; a document that broke it would be refused
with a 500 on every read. Checking it once, when the analysis finishes, turns such a document
into a failed analysis whose error says what was wrong, so clients always get an answer.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from userapi.spec import load_spec

DOCUMENT_SCHEMAS = {"adviser": "AdviserResultResponse", "provenance-checker": "ProvenanceResultResponse"}


@lru_cache(maxsize=1)
def _schemas() -> dict[str, Any]:
    # connexion is imported on the first check: ~0.7 s of a spawned worker's start (the server has it).
    from connexion.json_schema import resolve_refs

    spec = resolve_refs(load_spec())
    return spec["components"]["schemas"]


def contract_violation(kind: str, document: dict[str, Any]) -> str | None:
    """Where and how `document` breaks the spec's schema for its kind; None when it conforms."""
    # Imported on the first check, as in _schemas (jsonschema comes with connexion).
    from connexion.json_schema import Draft4ResponseValidator
    from jsonschema.exceptions import best_match

    schema = _schemas()[DOCUMENT_SCHEMAS[kind]]
    error = best_match(Draft4ResponseValidator(schema).iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(document)"
    return f"{where}: {error.message[:300]}"
