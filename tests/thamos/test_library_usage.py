"""thamos.library_usage: what `advise` sends as library_usage (thamos 1.x's shape), read statically."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from thamos.library_usage import file_usage, gather_library_usage


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_imports_aliases_and_attribute_chains(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "app/__init__.py": "",
        "app/main.py": (
            "import os\nimport numpy as np\nimport tensorflow.keras\nfrom flask import Flask, jsonify as j\n"
            "from . import local\nfrom app import helpers\nimport yaml, requests.adapters\n"
            "from torch import (\n    nn,\n    optim as o)\n"
            "x = np . linalg.norm(np.array([1]))\nm = tensorflow.keras.layers.Dense(3)\n"
            "app = Flask(__name__)\nj({})\nnn.Linear; o.SGD(); yaml.safe_load\n"
            "requests.adapters.HTTPAdapter\nself.np.ignored\n"
        ),
        "app/helpers.py": "import numpy\n",
        "script.py": "from pandas import *\n",
    })
    usage = gather_library_usage(root).document()
    assert usage["version"].startswith("thamos ")
    assert usage["report"] == {
        "flask": ["flask.Flask", "flask.jsonify"],
        "numpy": ["numpy", "numpy.array", "numpy.linalg.norm"],
        "pandas": ["pandas"],
        "requests": ["requests.adapters", "requests.adapters.HTTPAdapter"],
        "tensorflow": ["tensorflow.keras", "tensorflow.keras.layers.Dense"],
        "torch": ["torch.nn", "torch.nn.Linear", "torch.optim", "torch.optim.SGD"],
        "yaml": ["yaml", "yaml.safe_load"],
    }  # os (standard library) and app (the project's own) are left out


def test_comments_and_strings_are_not_code() -> None:
    source = (
        "import numpy as np\n# import fakelib\nx = 'np.fake'  # np.comment\n"
        "doc = '''\nimport otherfake\nnp.in_docstring\n'''\ny = f\"{1}\" + np.real\n"
    )
    used, failed = file_usage(source)
    assert used == {"numpy", "numpy.real"} and failed == 0


def test_code_is_never_run_and_what_does_not_parse_is_skipped(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    marker = tmp_path / "ran"
    root = _write(tmp_path / "project", {
        "main.py": f"import signals\nopen({str(marker)!r}, 'w').write('ran')\nsignals.connect()\n",
        "broken.py": "import (broken\n",
        "latin1.py": "",
    })
    (root / "latin1.py").write_bytes(b"import numpy\nx = '\xe9'\n")
    with caplog.at_level(logging.INFO, logger="thamos.library_usage"):
        result = gather_library_usage(root)
    assert not marker.exists()
    assert result.document()["report"] == {"signals": ["signals", "signals.connect"]}
    assert sorted(result.skipped) == ["broken.py", "latin1.py"]
    assert "broken.py that do not parse" in caplog.text and "skipped latin1.py" in caplog.text


def test_five_hundred_files_in_under_a_second(tmp_path: Path) -> None:
    libraries = ["numpy", "flask", "requests", "tensorflow", "pandas", "yaml", "click", "attr", "django", "scipy"]
    for number in range(500):
        imports = [f"import {libraries[(number + k) % 10]} as m{k}" for k in range(4)]
        functions = [
            f"def f{k}(x):\n    \"\"\"Uses m{k % 4}.\"\"\"\n    y = m{k % 4}.sub{k}.call(x)  # a comment\n"
            f"    for z in range(10):\n        y = y + m{(k + 1) % 4}.attr.value * z\n    return str(y) + 'text'\n"
            for k in range(40)
        ]
        _write(tmp_path, {f"pkg{number % 20}/mod{number}.py": "\n".join(["import os", *imports, "", *functions])})
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        result = gather_library_usage(tmp_path)
        best = min(best, time.perf_counter() - start)
    assert result.files == 500 and set(result.usage) == set(libraries)
    assert "numpy.sub0.call" in result.usage["numpy"]
    assert best < 1.0, f"{best:.2f} s for 500 files"
