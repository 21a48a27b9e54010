"""CUDA: for a target stating cuda_version, a build needing a newer CUDA (its dependencies on NVIDIA's
CUDA runtime packages, or its +cuXYZ label) is left out by performance and stable, and a WARNING
under latest."""

import pytest

from adviser.cuda import parse_cuda
from tests.adviser.engine_support import locked_versions, messages, pipfile, run
from tests.support.index_server import Dist

MANYLINUX = "cp311-cp311-manylinux_2_17_x86_64"
CUDA_124 = {"platform": "linux-x86_64", "python_version": "3.11", "cuda_version": "12.4"}


@pytest.fixture
def torch_index(package_index):
    return package_index([
        Dist("torch", "2.4.0", wheel_tags=(MANYLINUX,), sdist=False,
             requires_dist=("nvidia-cuda-runtime-cu12==12.4.127",)),
        Dist("torch", "2.5.0", wheel_tags=(MANYLINUX,), sdist=False,
             requires_dist=("nvidia-cuda-runtime-cu12==12.6.77",)),
        Dist("torch", "2.6.0", wheel_tags=(MANYLINUX,), sdist=False,
             requires_dist=("nvidia-cuda-runtime-cu13==13.0.48",)),
        Dist("nvidia-cuda-runtime-cu12", "12.4.127"),
        Dist("nvidia-cuda-runtime-cu12", "12.6.77"),
        Dist("nvidia-cuda-runtime-cu13", "13.0.48"),
    ])


@pytest.mark.parametrize("kind", ["performance", "stable"])
def test_performance_and_stable_leave_out_builds_needing_a_newer_cuda(torch_index, tmp_cache_dir, kind):
    document = run(pipfile([("main", torch_index.url)], 'torch = "*"'), tmp_cache_dir, runtime=CUDA_124,
                   recommendation_type=kind)
    assert locked_versions(document)["torch"] == "2.4.0"
    notes = messages(document, "INFO")
    assert ("torch 2.6.0 not recommended: needs CUDA 13.0 (depends on nvidia-cuda-runtime-cu13==13.0.48), newer than "
            "the target's CUDA 12.4") in notes
    assert any(m.startswith("torch 2.5.0 not recommended: needs CUDA 12.6") for m in notes)


def test_latest_keeps_the_newest_build_with_a_warning(torch_index, tmp_cache_dir):
    document = run(pipfile([("main", torch_index.url)], 'torch = "*"'), tmp_cache_dir, runtime=CUDA_124)
    assert locked_versions(document)["torch"] == "2.6.0"
    assert ("torch 2.6.0 needs CUDA 13.0 (depends on nvidia-cuda-runtime-cu13==13.0.48), newer than the target's "
            "CUDA 12.4") in messages(document, "WARNING")


def test_a_local_version_label_names_the_cuda_release(package_index, tmp_cache_dir):
    index = package_index([
        Dist("torchvision", "0.20.0+cu124", wheel_tags=(MANYLINUX,), sdist=False),
        Dist("torchvision", "0.20.0+cu126", wheel_tags=(MANYLINUX,), sdist=False),
    ])
    text = pipfile([("main", index.url)], 'torchvision = "*"')
    strict = run(text, tmp_cache_dir, runtime=CUDA_124, recommendation_type="performance")
    assert locked_versions(strict) == {"torchvision": "0.20.0+cu124"}
    assert any("0.20.0+cu126 not recommended: built for CUDA 12.6 (+cu126)" in m for m in messages(strict, "INFO"))
    latest = run(text, tmp_cache_dir, runtime=CUDA_124)
    assert locked_versions(latest) == {"torchvision": "0.20.0+cu126"}
    assert any("built for CUDA 12.6" in m for m in messages(latest, "WARNING"))
    no_cuda = run(text, tmp_cache_dir, recommendation_type="performance")
    assert not any("CUDA" in m for m in messages(no_cuda))


def test_cuda_versions_are_read_loosely():
    assert parse_cuda("12.4") == (12, 4) and parse_cuda("13") == (13, None) and parse_cuda("none") is None
