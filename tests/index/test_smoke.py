"""Quick check that the session sample index answers (details are in the other test modules)."""

import json
import urllib.request


def test_sample_index_lists_projects(sample_index):
    request = urllib.request.Request(
        sample_index.url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request) as answer:
        document = json.load(answer)
    names = {project["name"] for project in document["projects"]}
    assert {"webapp-framework", "templating", "signals", "data-tools"} <= names
