"""Prescriptions at the scale of the public knowledge base: compile, start, advise, memory.

Writes a synthetic repository shaped like the public one (65,000 files, 90,000 units: per package
GitHub link, popularity, scorecard, CVE and release-notes wraps, artifact sizes with one wrap per
version, plus container-image boots), then measures, each in a fresh process:

* ``compile``  -- the first compilation of the tree (seconds, peak RSS), and another one after a
  file changed;
* ``start``    -- a server start on the compiled tree (opening the index; the fingerprint of the
  sources is checked afterwards, in the background);
* ``advise``   -- the same advise (warm index cache) without and with the knowledge base loaded.

Usage: ``python benchmarks/prescriptions.py --work /tmp/pbench [--pipfile ../shared/bench/inputs/c-ds/Pipfile]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FILES = 65_000
UNITS = 90_000
WRAP = """units:
  wraps:
  - name: {cls}{topic}Wrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: {name}
    run:
      justification:
      - type: {kind}
        message: >-
          Package '{name}' {text}
        link: {link}
        package_name: {name}
"""
SIZE = """  - name: {cls}x{version}PyPIArtifactSizeWrap
    type: wrap
    should_include:
      adviser_pipeline: true
    match:
      state:
        resolved_dependencies:
        - name: {name}
          version: =={dotted}
          index_url: https://public-index.invalid/simple
    run:
      justification:
      - type: INFO
        message: Installed artifact size for package '{name}' in version '{dotted}' can have up to 1.{version}MiB
        link: https://public-index.invalid/project/{name}/{dotted}/#files
        package_name: {name}
"""
BOOT = """units:
  boots:
  - name: Image{number}QuayImageSizeBoot
    type: boot
    should_include:
      adviser_pipeline: true
      runtime_environments:
        base_images:
        - quay.io/example/image-{group}:v{number}
    run:
      stack_info:
      - type: INFO
        message: Container image 'quay.io/example/image-{group}:v{number}' has a size of 1.{number}GiB
        link: https://quay.io/example/image-{group}
"""
TOPICS = [("GitHubURL", "INFO", "is hosted on GitHub", "https://github.com/example/{name}"),
          ("GitHubPopularity", "INFO", "has high popularity on GitHub", "https://github.com/example/{name}"),
          ("CVEWarning", "WARNING", "is known to have vulnerabilities reported", "cve_warning"),
          ("FuzzingScoreCards", "WARNING", "does not use fuzzing", "https://github.com/ossf/scorecard"),
          ("MaintainedScoreCards", "INFO", "is maintained", "https://github.com/ossf/scorecard"),
          ("CodeReviewScoreCards", "INFO", "uses code review", "https://github.com/ossf/scorecard"),
          ("LicenseScoreCards", "INFO", "declares a license", "https://github.com/ossf/scorecard"),
          ("PinnedDepsScoreCards", "WARNING", "does not pin dependencies", "https://github.com/ossf/scorecard")]


def _cls(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def generate(top: Path, names: list[str]) -> tuple[int, int]:
    """Write the synthetic tree; (files, units) written."""
    top.mkdir(parents=True, exist_ok=True)
    (top / "_prescription_metadata.yaml").write_text("prescription:\n  name: thoth\n  release: bench\n")
    files = units = 0
    per_name = len(TOPICS) + 2  # topic wraps, release notes, artifact sizes
    boots = FILES - per_name * len(names)
    size_units = UNITS - boots - (per_name - 1) * len(names)
    for position, name in enumerate(names):
        directory = top / (name if len(name) <= 2 else f"{name[:2]}_") / name
        directory.mkdir(parents=True, exist_ok=True)
        cls = _cls(name)
        for topic, kind, text, link in TOPICS:
            (directory / f"{topic.lower()}.yaml").write_text(
                WRAP.format(cls=cls, topic=topic, name=name, kind=kind, text=text, link=link.format(name=name)))
        (directory / "gh_release_notes.yaml").write_text(
            f"units:\n  wraps:\n  - name: {cls}GitHubReleaseNotesWrap\n    type: wrap.GHReleaseNotes\n"
            f"    should_include:\n      adviser_pipeline: true\n    match:\n      state:\n"
            f"        resolved_dependencies:\n        - name: {name}\n    run:\n      release_notes:\n"
            f"        organization: example\n        repository: {name}\n")
        count = size_units // len(names) + (1 if position < size_units % len(names) else 0)
        body = "".join(SIZE.format(cls=cls, name=name, version=f"1x{v}x0", dotted=f"1.{v}.0") for v in range(count))
        (directory / "pypi_artifact_size.yaml").write_text("units:\n  wraps:\n" + body)
        files += per_name
        units += len(TOPICS) + 1 + count
    for number in range(boots):
        directory = top / "_containers" / f"image-{number % 500}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"size_{number}.yaml").write_text(BOOT.format(number=number, group=number % 500))
    return files + boots, units + boots


def names_for(locked: list[str]) -> list[str]:
    """The packages of the advised project first (so their units are met), then synthetic ones."""
    count = 5_700
    return list(dict.fromkeys(locked)) + [f"bench-package-{i:04d}" for i in range(count - len(set(locked)))]


def _child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line."""
    completed = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


COMPILE = """
import json, resource, sys, time
from pathlib import Path
from adviser.prescriptions.compiled import compile_sources
from adviser.prescriptions.sources import resolve_sources
started = time.monotonic()
path = compile_sources(resolve_sources([sys.argv[1]], Path(sys.argv[2])), Path(sys.argv[2]))
elapsed = time.monotonic() - started
print(json.dumps({"seconds": elapsed, "path": str(path), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ADVISE = """
import json, resource, statistics, sys, time
from pathlib import Path
from adviser import AdviserSettings, advise
pipfile, cache, index, runs = Path(sys.argv[1]).read_text(), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
request = {"application_stack": {"requirements": pipfile, "requirements_format": "pipenv"},
           "runtime_environment": {"python_version": "3.11", "platform": "linux-x86_64",
                                   "operating_system": {"name": "rhel", "version": "8"}},
           "recommendation_type": "latest", "dev": False, "labels": {}}
plain = AdviserSettings(cache_dir=cache)
loaded = AdviserSettings(cache_dir=cache, prescriptions=Path(index)) if index else plain
order = [loaded] if sys.argv[5:] == ["single"] else [plain, loaded]
first = {}
for settings in order:  # the first advise of a fresh process: imports, and the index's units read
    started = time.monotonic()
    result = advise(request, settings)
    first[id(settings)] = time.monotonic() - started
    assert not result.get("error"), result.get("error_msg")
times = {id(plain): [], id(loaded): []}
for _ in range(runs):  # interleaved, so the machine's load weighs on both alike
    for settings in (plain, loaded):
        started = time.monotonic()
        result = advise(request, settings)
        times[id(settings)].append(time.monotonic() - started)
product = result["report"]["products"][0]
def median(values):
    return statistics.median(values) if values else None
print(json.dumps({"plain": median(times[id(plain)]), "loaded": median(times[id(loaded)]),
                  "first": first[id(order[0])],
                  "names": product["dependency_graph"]["nodes"], "justification": len(product["justification"]),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

START = """
import json, sys, time
from pathlib import Path
started = time.monotonic()
from adviser.prescriptions.compiled import KnowledgeBase, index_path, fingerprint
from adviser.prescriptions.sources import resolve_sources, source_label
path = index_path(Path(sys.argv[2]), [source_label(sys.argv[1])])
assert path.is_file()
knowledge = KnowledgeBase(path)
repositories = knowledge.repositories()
opened = time.monotonic() - started
started = time.monotonic()
fingerprint(resolve_sources([sys.argv[1]], Path(sys.argv[2])))
print(json.dumps({"seconds": opened, "check": time.monotonic() - started,
                  "units": sum(sum(r["units"].values()) for r in repositories)}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="scratch directory (tree, caches)")
    parser.add_argument("--pipfile", type=Path, default=Path("../shared/bench/inputs/c-ds/Pipfile"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    cache = args.work / "cache"
    tree = args.work / "tree"
    pipfile = str(args.pipfile.resolve())
    warm = _child(ADVISE, pipfile, str(cache), "", "0")  # fills the index cache; names the packages
    if not (tree / "_prescription_metadata.yaml").is_file():
        started = time.monotonic()
        files, units = generate(tree, names_for(warm["names"]))
        print(f"generated {files} files, {units} units in {time.monotonic() - started:.1f}s")
    compiled = _child(COMPILE, str(tree), str(args.work / "compiled-cache"))
    print(f"compile: {compiled['seconds']:.1f}s, peak {compiled['peak_mb']:.0f} MB")
    changed = next((tree / "_containers").rglob("*.yaml"))
    changed.write_text(changed.read_text().replace("has a size", "has a size (changed)"))
    again = _child(COMPILE, str(tree), str(args.work / "compiled-cache"))
    print(f"recompile after one file changed: {again['seconds']:.1f}s (the others taken from the last compilation)")
    start = _child(START, str(tree), str(args.work / "compiled-cache"))
    print(f"start on the compiled tree (imports + open + listing): {start['seconds']:.2f}s ({start['units']} units); "
          f"background check of the sources' fingerprint: {start['check']:.2f}s")
    runs = _child(ADVISE, pipfile, str(cache), compiled["path"], str(args.runs))
    base, with_kb = runs["plain"], runs["loaded"]
    print(f"advise {args.pipfile.parent.name} (warm index cache, median of {args.runs} interleaved pairs): "
          f"{base:.2f}s without, {with_kb:.2f}s with the knowledge base (x{with_kb / base:.3f}); "
          f"justification items {runs['justification']}; peak {runs['peak_mb']:.0f} MB")
    fresh: dict[str, list[float]] = {"": [], compiled["path"]: []}
    for _ in range(args.runs):  # fresh processes, alternately without and with the knowledge base
        for index in fresh:
            fresh[index].append(_child(ADVISE, pipfile, str(cache), index, "0", "single")["first"])
    cold_plain, cold_loaded = statistics.median(fresh[""]), statistics.median(fresh[compiled["path"]])
    print(f"first advise of a fresh process (imports included; median of {args.runs}): {cold_plain:.2f}s without, "
          f"{cold_loaded:.2f}s with the knowledge base (x{cold_loaded / cold_plain:.3f}; its units are read then)")
    print(f"this process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
