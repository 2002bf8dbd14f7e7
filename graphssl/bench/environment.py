"""What a recorded result needs to say about where it was made."""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
from pathlib import Path

import torch


def versions() -> dict:
    import numpy
    import sklearn
    import torch_geometric

    from .. import __version__
    return {"graphssl": __version__, "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__, "numpy": numpy.__version__,
            "scikit_learn": sklearn.__version__, "python": platform.python_version()}


def cpu_model() -> str:
    """The processor's name (``model name`` of ``/proc/cpuinfo`` on Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: the keys :func:`device_info` may give (``gpu`` on CUDA only)
DEVICE_KEYS = ("device", "threads", "machine", "platform", "cpu", "cpu_capability", "gpu")


def device_info(device: torch.device) -> dict:
    """Where a result was computed. ``cpu_capability`` is the instruction set torch's CPU
    kernels dispatch to (``AVX2``, ``AVX512``, ...): the same code, seeds and thread count give
    float results that differ in the last bits between two of them, and over tens of epochs
    those bits grow into differences of a few tenths of a point."""
    info = {"device": str(device), "threads": torch.get_num_threads(),
            "machine": platform.machine(), "platform": sys.platform,
            "cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` would also count the
    parent's peak for a subprocess (it survives fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def script_record(results: list, script: str, **extra) -> dict:
    """The record a ``benchmarks/`` script saves: its ``results``, where they were measured
    (:func:`device_info` on the CPU, ``cpu_count``), the library versions, ``extra`` fields and
    the command that reproduces them (``python benchmarks/SCRIPT`` with this process's
    arguments)."""
    return {"results": results, **device_info(torch.device("cpu")), "cpu_count": os.cpu_count(),
            "versions": versions(), **extra,
            "command": f"python benchmarks/{script} " + " ".join(sys.argv[1:])}


def save_record(record: dict, path) -> None:
    """Write ``record`` as indented JSON to ``path`` atomically (a temporary file, then a
    rename): an interrupted write leaves the previous file, never half of one."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)
