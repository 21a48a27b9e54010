"""The recommendation types are the spec's enum: the adviser's and the client's lists are held to it."""

from __future__ import annotations

from adviser.policies import POLICIES, RECOMMENDATION_TYPES, policy_for
from thamos.config import RECOMMENDATION_TYPES as CLIENT_RECOMMENDATION_TYPES


def spec_enum(spec: dict) -> list[str]:
    parameters = spec["paths"]["/advise/python"]["post"]["parameters"]
    (parameter,) = [p for p in parameters if p.get("name") == "recommendation_type"]
    return parameter["schema"]["enum"]


def test_adviser_types_are_the_spec_enum(spec: dict) -> None:
    assert list(RECOMMENDATION_TYPES) == spec_enum(spec)
    assert all(policy_for(name).name == name for name in RECOMMENDATION_TYPES)
    assert set(POLICIES) == set(RECOMMENDATION_TYPES)


def test_client_copy_is_the_spec_enum(spec: dict) -> None:
    # The client never imports the adviser and the generated client has no enum for this
    # parameter, so thamos keeps a copy; this test is what keeps it right.
    assert list(CLIENT_RECOMMENDATION_TYPES) == spec_enum(spec)


def test_the_spec_default_is_the_adviser_default(spec: dict) -> None:
    from adviser.policies import DEFAULT_RECOMMENDATION_TYPE
    from thamos.config import DEFAULT_RECOMMENDATION_TYPE as CLIENT_DEFAULT

    parameters = spec["paths"]["/advise/python"]["post"]["parameters"]
    (parameter,) = [p for p in parameters if p.get("name") == "recommendation_type"]
    assert parameter["schema"]["default"] == DEFAULT_RECOMMENDATION_TYPE == CLIENT_DEFAULT
