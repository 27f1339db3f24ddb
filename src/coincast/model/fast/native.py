"""Build (once per machine) and load the compiled LSTM loops: ``lstm_native.cpp`` (the
layer-by-layer time loop) and ``lstm_step.cpp`` (a one-layer model's fused training step),
with their shared arithmetic in ``lstm_math.h``.

Why compiled at first use rather than shipped as a wheel: the loop is worth having only
when built for the CPU it runs on (AVX2/FMA and glibc's vectorised ``exp``), and PyTorch's
own extension builder (``torch.utils.cpp_extension``, ninja + the system C++ compiler)
does exactly that, caching the build under the user's cache directory. ``make install``
builds it ahead of time so the first training run does not pay the ~15 s.

When there is no compiler, the build fails or ``COINCAST_NATIVE_KERNEL=0``, training
uses the Python kernel in ``coincast.model.fast.kernels`` (same results, about 3x slower at
the paper model's size); ``native_status()`` says which one is in use and why.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import platformdirs
import torch

from coincast.settings import Settings

__all__ = ["native_ops", "native_status"]

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
SOURCES = [_HERE / "lstm_native.cpp", _HERE / "lstm_step.cpp"]
HEADERS = [_HERE / "lstm_math.h"]  # not compiled on their own, but part of the build's name
_lock = threading.Lock()
_state: dict[str, Any] = {}


def _flags() -> tuple[list[str], str]:
    """Compiler flags for this CPU, and a tag naming them (part of the build's name)."""
    capability = torch.backends.cpu.get_cpu_capability()  # "DEFAULT", "AVX2", "AVX512", ...
    # FMA for a * b + c (C++17 mode turns it off); no FP traps, so GCC may vectorise the
    # clamps in tanh (NaN still propagates: no -ffast-math).
    # -fopenmp: at::parallel_for is a header template whose `omp parallel` is compiled
    # here; without the flag every "parallel" loop of the extension ran on one thread
    # (measured: the fused step took 1.55 ms on 2 threads, 0.63 ms with the flag, against
    # 1.23 ms on 1). The runtime is torch's own libgomp (same soname, already loaded).
    flags = ["-O3", "-ffp-contract=fast", "-fno-trapping-math", "-fno-math-errno", "-fopenmp"]
    if capability.startswith("AVX"):
        flags += ["-mavx2", "-mfma"]
    if capability.startswith("AVX512"):
        # 32 vector registers and 16-wide element-wise loops: 100 models' epoch on one
        # thread 6.9 s against 7.1 s with AVX2 alone (best of 8 alternating runs each).
        flags += ["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw"]
    return flags, capability.lower()


def _build_dir(tag: str, flags: list[str]) -> tuple[Path, str]:
    code = b"".join(path.read_bytes() for path in [*SOURCES, *HEADERS])
    digest = hashlib.sha256(code + " ".join(flags).encode()).hexdigest()[:10]
    version = torch.__version__.replace("+", "_").replace(".", "_")
    name = f"coincast_lstm_{digest}_{tag}"
    cache = Path(platformdirs.user_cache_dir("coincast", appauthor=False))
    return cache / "native" / f"torch_{version}" / name, name


def _load() -> tuple[Any | None, str]:
    if not Settings().native_kernel:
        return None, "disabled by COINCAST_NATIVE_KERNEL=0"
    missing = [path.name for path in [*SOURCES, *HEADERS] if not path.exists()]
    if missing:
        return None, f"source {', '.join(missing)} is not installed"
    try:
        from torch.utils import cpp_extension

        flags, tag = _flags()
        build_dir, name = _build_dir(tag, flags)
        build_dir.mkdir(parents=True, exist_ok=True)
        # ninja from the venv (pinned) when the venv is not on PATH (e.g. `.venv/bin/python`).
        bin_dir = str(Path(sys.executable).parent)
        if shutil.which("ninja") is None and (Path(bin_dir) / "ninja").exists():
            os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
        cpp_extension.load(
            name=name,
            sources=[str(path) for path in SOURCES],
            extra_cflags=flags,
            extra_ldflags=["-fopenmp"],
            build_directory=str(build_dir),
            is_python_module=False,
            verbose=False,
        )
        return torch.ops.coincast_lstm, f"native ({tag}, {build_dir})"
    except Exception as exc:  # any build or load failure: fall back, say why once
        reason = f"build failed ({type(exc).__name__}: {str(exc).strip().splitlines()[-1:]})"
        log.warning(
            "coincast: the compiled LSTM loop is unavailable, using the slower Python kernel: "
            "%s. Install a C++ compiler (g++) and ninja, or set COINCAST_NATIVE_KERNEL=0 to "
            "silence this.",
            reason,
        )
        return None, reason


def native_ops() -> Any | None:
    """``torch.ops.coincast_lstm`` (forward, backward, adam, train_step), or None: use the
    Python kernel."""
    with _lock:
        if "ops" not in _state:
            _state["ops"], _state["status"] = _load()
        return _state["ops"]


def native_status() -> str:
    """Which LSTM kernel training uses, and why (for benchmarks and ``coincast doctor``)."""
    native_ops()
    return str(_state["status"])


if __name__ == "__main__":  # `python -m coincast.model.fast.native`: build now, say which loop
    sys.stdout.write(f"coincast LSTM kernel: {native_status()}\n")
