"""What every numba kernel of the package shares: fastmath flags and a writable cache.

Kernels are compiled with ``cache=True``. numba writes its cache beside the source files
(``lmmlasso_cli/**/__pycache__``) or in ``NUMBA_CACHE_DIR``; on a read-only install (a shared
cluster module) neither may be writable, and numba would then refuse to compile. The CLI calls
`configure_cache` before numba is imported: it keeps a writable location, else points
``NUMBA_CACHE_DIR`` at a per-user folder (``$XDG_CACHE_HOME`` or ``~/.cache``, then
``lmmlasso-cli/numba``), else at a temporary one, and returns a note for the log.

`prepare_in_background` compiles kernels (or loads them from the cache) in a thread while the
command reads its data, so that a first run does not wait for the compiler after the reading.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping

# SIMD reductions and fused multiply-add; NaN and inf semantics are kept. Results are
# deterministic for a given machine and input, whatever the thread count (a kernel with
# prange gives each output element to one thread).
FASTMATH = {"reassoc", "contract"}

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
CACHE_NOTE: str | None = None  # set by `configure_cache`, logged by the CLI


def _writable(folder: str) -> bool:
    """True if files can be created in ``folder`` (made if absent). A real probe, not
    ``os.access``: that says yes to root on read-only mounts and no-permission folders alike."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lmmlasso-probe-"):
            pass
    except OSError:
        return False
    return True


def user_cache_dir(environ: MutableMapping[str, str] = os.environ) -> str:
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lmmlasso-cli", "numba")


def configure_cache(
    environ: MutableMapping[str, str] = os.environ, package_dir: str = PACKAGE_DIR
) -> str | None:
    """Make sure numba can cache (module docstring); return a note when it had to move the
    cache, None when the default location works. Call it before numba is imported."""
    global CACHE_NOTE
    current = environ.get("NUMBA_CACHE_DIR")
    if current:
        if _writable(current):
            return None
        why = f"NUMBA_CACHE_DIR={current} is not writable"
    elif _writable(os.path.join(package_dir, "__pycache__")):
        return None
    else:
        why = f"the package folder {package_dir} is read-only"
    fallback = user_cache_dir(environ)
    if _writable(fallback):
        note = f"numba cache: {why}; compiled kernels are cached in {fallback}"
    else:
        fallback = tempfile.mkdtemp(prefix="lmmlasso-numba-")
        note = f"numba cache: {why} and so is {user_cache_dir(environ)}; kernels are compiled "
        note += f"anew in each run (temporary cache {fallback}); set NUMBA_CACHE_DIR"
    environ["NUMBA_CACHE_DIR"] = fallback
    CACHE_NOTE = note
    return note


def prepare_in_background(calls):
    """Start a thread that makes each ``kernel(*args)`` call of ``calls`` once: numba compiles
    the kernel for those argument types, or loads it from its cache. Give tiny arguments of
    exactly the types of the real calls (layout, dtype, int or float scalars, omitted
    defaults), or numba compiles a second specialization there. The real call waits for a
    compilation under way (numba's compiler lock) and then finds it done; an error here is
    left for the real call to raise. Not a daemon thread: an early exit waits for the
    compiler rather than killing it. Returns the thread."""
    import threading

    def prepare():
        for kernel, args in calls:
            try:
                kernel(*args)
            except Exception:  # noqa: BLE001  the real call compiles again and raises
                return

    thread = threading.Thread(target=prepare, name="lmmlasso-numba-prepare")
    thread.start()
    return thread
