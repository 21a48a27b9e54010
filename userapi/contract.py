"""The API contract as the worker sees it: documents are checked before they are stored.

The server validates its answers against the spec; a document that broke it would be refused
with a 500 on every read. Checking it once, when the analysis finishes, turns such a document
into a failed analysis whose error says what was wrong, so clients always get an answer.

The check is jsonschema's Draft 4 validator with OpenAPI 3.0's `nullable` (null is accepted
where a schema says so), as connexion validates the server's answers. connexion itself is not
imported: it would add ~20 MB to every worker process.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match
from jsonschema.validators import extend

from userapi.spec import load_spec

DOCUMENT_SCHEMAS = {"adviser": "AdviserResultResponse", "provenance-checker": "ProvenanceResultResponse"}


def _nullable(check: Any) -> Any:
    def checked(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from check(validator, value, instance, schema)

    return checked


_Validator = extend(
    Draft4Validator,
    {"type": _nullable(Draft4Validator.VALIDATORS["type"]), "enum": _nullable(Draft4Validator.VALIDATORS["enum"])},
)


def _inline_refs(node: Any, schemas: dict[str, Any]) -> Any:
    """The schema with every `#/components/schemas/X` reference replaced by X (the spec has no cycles)."""
    if isinstance(node, dict):
        reference = node.get("$ref")
        if isinstance(reference, str):
            return _inline_refs(schemas[reference.rsplit("/", 1)[-1]], schemas)
        return {key: _inline_refs(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, schemas) for item in node]
    return node


@lru_cache(maxsize=1)
def contract_schemas() -> dict[str, Any]:
    """The schemas of the analysis documents, references resolved."""
    schemas = load_spec()["components"]["schemas"]
    return {name: _inline_refs(schemas[name], schemas) for name in DOCUMENT_SCHEMAS.values()}


def contract_violation(kind: str, document: dict[str, Any]) -> str | None:
    """Where and how `document` breaks the spec's schema for its kind; None when it conforms."""
    schema = contract_schemas()[DOCUMENT_SCHEMAS[kind]]
    error = best_match(_Validator(schema).iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(document)"
    return f"{where}: {error.message[:300]}"
