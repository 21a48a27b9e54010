"""Discovery degrades to None (unknown) instead of crashing or returning a wrong type."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from thamos import machine

CPUINFO = """\
processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 94
model name\t: Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz

processor\t: 1
cpu family\t: 99
model\t\t: 1
"""


def _tool(directory: Path, name: str, script: str) -> None:
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the tools a test puts there."""
    tools = tmp_path / "bin"
    tools.mkdir()
    monkeypatch.setenv("PATH", str(tools))
    monkeypatch.delenv("THAMOS_DISABLE_CUDA", raising=False)
    return tools


def test_cpu_from_cpuinfo_gives_ints(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    assert machine.discover_cpu(str(cpuinfo)) == {
        "cpu_family": 6, "cpu_model": 94, "cpu_model_name": "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz",
    }


@pytest.mark.parametrize("content", ["", "garbage without colons\n", "cpu family : six\nmodel : x1\n", "\x00\xff"])
def test_cpu_garbage_gives_none(tmp_path: Path, content: str) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(content, errors="surrogateescape")
    result = machine.discover_cpu(str(cpuinfo))
    assert result["cpu_family"] is None and result["cpu_model"] is None


def test_cpu_missing_file_gives_none(tmp_path: Path) -> None:
    assert machine.discover_cpu(str(tmp_path / "absent"))["cpu_family"] is None


def test_no_tools_means_unknown_gpu_and_cuda(bare_path: Path) -> None:
    assert machine.discover_gpu() is None
    assert machine.discover_cuda_version() is None


def test_cuda_from_nvcc(bare_path: Path) -> None:
    _tool(bare_path, "nvcc", 'echo "Cuda compilation tools, release 11.8, V11.8.89"\n')
    assert machine.discover_cuda_version() == "11.8"


def test_cuda_from_driver_when_no_nvcc(bare_path: Path) -> None:
    _tool(bare_path, "nvidia-smi", 'echo "| NVIDIA-SMI 535.54   Driver Version: 535.54   CUDA Version: 12.2 |"\n')
    assert machine.discover_cuda_version() == "12.2"


def test_cuda_disabled(bare_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tool(bare_path, "nvcc", 'echo "release 11.8,"\n')
    monkeypatch.setenv("THAMOS_DISABLE_CUDA", "1")
    assert machine.discover_cuda_version() is None
    assert machine.discover_cudnn_version() is None


def test_broken_tools_give_none(bare_path: Path) -> None:
    _tool(bare_path, "nvcc", "echo 'something unexpected'\n")
    _tool(bare_path, "nvidia-smi", "exit 9\n")
    _tool(bare_path, "lspci", "echo '00:02.0 Host bridge: nothing to see'\n")
    assert machine.discover_cuda_version() is None
    assert machine.discover_gpu() is None


def test_gpu_from_lspci(bare_path: Path) -> None:
    _tool(bare_path, "lspci", "echo '01:00.0 VGA compatible controller: NVIDIA Corporation GK104 [GeForce GTX 680]'\n")
    assert machine.discover_gpu() == "NVIDIA Corporation GK104 [GeForce GTX 680]"


def test_base_image_from_s2i_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THOTH_S2I_NAME", "quay.io/thoth-station/s2i-thoth-ubi8-py38")
    monkeypatch.setenv("THOTH_S2I_VERSION", "0.20.1")
    assert machine.discover_base_image() == "quay.io/thoth-station/s2i-thoth-ubi8-py38:0.20.1"


def test_runtime_environment_has_the_right_types(bare_path: Path) -> None:
    environment = machine.discover_runtime_environment()
    hardware = environment["hardware"]
    for key in ("cpu_family", "cpu_model"):
        assert hardware[key] is None or isinstance(hardware[key], int)
    for key in ("python_version", "cuda_version", "platform", "cudnn_version", "mkl_version", "openblas_version",
                "base_image"):
        assert environment[key] is None or isinstance(environment[key], str)
    assert environment["python_version"].count(".") == 1
    assert environment["name"]


def test_library_version_from_resolved_soname(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "libopenblasp-r0.3.21.so"
    real.write_bytes(b"")
    os.symlink(real, tmp_path / "libopenblas.so.0")
    monkeypatch.setattr(machine, "_LIBRARY_DIRS", (str(tmp_path),))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no ldconfig: fall back to known directories
    assert machine.discover_openblas_version() == "0.3.21"
    assert machine.discover_mkl_version() is None
