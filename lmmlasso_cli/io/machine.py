"""What this machine offers: the memory available to a command (for the --memory default) and
the BLAS kernels it runs."""

from __future__ import annotations

import os

DEFAULT_MEMORY_SHARE = 0.7  # --memory default: this share of the available RAM


def available_memory_bytes() -> float:
    """MemAvailable from /proc/meminfo (Linux), else free pages from sysconf, in bytes."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        return 8e9


def memory_budget_bytes(memory_gb: float | None) -> float:
    """--memory GB in bytes, or `DEFAULT_MEMORY_SHARE` of the available RAM."""
    if memory_gb is not None:
        return float(memory_gb) * 1e9
    return DEFAULT_MEMORY_SHARE * available_memory_bytes()


CORETYPE_ENV = "OPENBLAS_CORETYPE"  # OpenBLAS's kernels, when set: its own choice otherwise


def blas_kernels() -> str:
    """The BLAS libraries loaded in this process with their kernels, for the log:
    ``"OpenBLAS 0.3.31 (SkylakeX kernels), ..."``; OPENBLAS_CORETYPE noted when set."""
    from threadpoolctl import threadpool_info

    seen = dict.fromkeys(
        f"{lib['internal_api']} {lib['version']} ({lib.get('architecture', '?')} kernels)"
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    )
    text = ", ".join(seen) or "none loaded"
    if CORETYPE_ENV in os.environ:
        text += f"; {CORETYPE_ENV}={os.environ[CORETYPE_ENV]}"
    return text
