"""The session sample index serves the graph its docstring promises (other areas rely on it)."""

from __future__ import annotations

from tests.index.helpers import json_page


def _files(sample_index, project: str) -> dict[str, dict]:
    return {entry["filename"]: entry for entry in json_page(sample_index.project_url(project))["files"]}


def test_platform_only_and_sdist_only_projects(sample_index):
    assert set(_files(sample_index, "fast-parser")) == {
        "fast_parser-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    }
    assert set(_files(sample_index, "win-console")) == {"win_console-1.0-cp311-cp311-win_amd64.whl"}
    assert set(_files(sample_index, "plain-sdist")) == {"plain_sdist-1.0.tar.gz"}
    assert set(_files(sample_index, "dynamic-sdist")) == {"dynamic_sdist-0.3.tar.gz"}
    assert {
        name for name in _files(sample_index, "markup-escape") if name.startswith("markup_escape-1.1-")
    } == {
        "markup_escape-1.1-py3-none-any.whl",
        "markup_escape-1.1-cp311-cp311-manylinux_2_17_x86_64.whl",
    }


def test_documented_peculiarities(sample_index):
    assert all(entry["core-metadata"] is False for entry in _files(sample_index, "legacy-tool").values())
    assert (
        _files(sample_index, "signals")["signals-1.2-py3-none-any.whl"]["yanked"]
        == "dispatch broken, use 1.1"
    )
    assert _files(sample_index, "http-client")["http_client-1.2.tar.gz"]["requires-python"] == ">=3.12"
    assert "3.1rc1" in json_page(sample_index.project_url("templating"))["versions"]
    dynamic = sample_index.files["dynamic_sdist-0.3.tar.gz"].dist
    assert dynamic.dynamic_deps and not dynamic.wheel
