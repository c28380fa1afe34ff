"""The run context of every subcommand: its log, thread limits, progress bars and errors.

Every subcommand body runs inside `run_command`, which opens ``PREFIX.log``, fixes BLAS and
LAPACK to one thread, turns `LmmLassoError` into a one-line message with exit code 1 (a
traceback only with ``--debug``), and writes the error to the log too. Core messages name
parameters in backquotes (`` `n_folds` ``); here they become the flags (``--folds``, see
`options.FLAGS`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from collections import Counter
from collections.abc import Callable

import click

from lmmlasso_cli.cli.options import FLAGS
from lmmlasso_cli.errors import LmmLassoError, parameter_names_as

EXIT_ERROR = 1


def as_flags(text: str) -> str:
    """A core message with its backquoted parameter names shown as CLI flags."""
    return parameter_names_as(text, FLAGS)


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS and LAPACK on one thread: OpenBLAS's gemm, gemv and syevd change their last bits
    with the thread count, so results would depend on --threads. --threads drives worker
    processes, .bed decoding and the kinship's syrk (thread-invariant) instead."""
    import numpy  # noqa: F401  threadpoolctl limits only the BLAS libraries already loaded,
    import scipy.linalg  # noqa: F401  and scipy ships its own OpenBLAS
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _numba_threads(threads: int | None) -> None:
    """The genotype kernels' threads (numba prange over SNPs, thread-invariant): --threads."""
    if not threads:
        return
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    else:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


def run_command(body: Callable) -> Callable:
    """Wrap a command body ``body(log, **kwargs)`` with logging, threads and error handling."""

    @functools.wraps(body)
    def wrapper(**kwargs):
        from lmmlasso_cli.io.logfile import RunLog

        debug = kwargs.get("debug", False)
        log = None
        try:
            log = RunLog(kwargs["out"], quiet=kwargs.get("quiet", False), render=as_flags)
            log.versions()
            _genotype_source(kwargs)
            _numba_threads(kwargs.get("threads"))
            from lmmlasso_cli._numba import CACHE_NOTE

            if CACHE_NOTE:
                log.info(CACHE_NOTE)
            with _one_blas_thread():
                log.blas()
                body(log, **kwargs)
        except LmmLassoError as exc:
            message = as_flags(str(exc))
            if log is not None:
                log.close(error=message)
                log = None
            if debug:
                traceback.print_exc()
            click.echo(f"Error: {message}", err=True)
            sys.exit(EXIT_ERROR)
        except (OSError, MemoryError) as exc:
            if log is not None:
                log.close(error=str(exc))
                log = None
            if debug:
                raise
            click.echo(f"Error: {exc}; re-run with --debug for details", err=True)
            sys.exit(EXIT_ERROR)
        finally:
            if log is not None:
                log.close()

    return wrapper


def _genotype_source(kwargs: dict) -> None:
    """--bfile or --pfile (exactly one, unless merging shards): the prefix goes to ``bfile``
    and the format to ``genotype_format``."""
    from lmmlasso_cli.errors import InputError

    if "pfile" not in kwargs:
        return
    pfile = kwargs.pop("pfile")
    if pfile and kwargs.get("bfile"):
        raise InputError("--bfile and --pfile: give the genotypes once, as one of them")
    kwargs["genotype_format"] = "pgen" if pfile else "bed"
    if pfile:
        kwargs["bfile"] = pfile
    elif not kwargs.get("bfile") and not (kwargs.get("merge") or kwargs.get("merge_parts")):
        raise InputError(
            "no genotypes: give --bfile PREFIX (PLINK 1 .bed/.bim/.fam) or --pfile PREFIX "
            "(PLINK 2 .pgen/.pvar/.psam)"
        )


def progress_bar(total: int, desc: str, quiet: bool, unit: str = "it"):
    """A tqdm bar on stderr (silent with --quiet); call ``update(k)`` on it."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=quiet,
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
        leave=False,
    )


def log_messages(log, messages, noun: str) -> None:
    """One warning per distinct message ("fold 3: text"), with how many folds/replicates
    raised it."""
    counts = Counter(m.split(": ", 1)[-1] for m in messages)
    for text, count in counts.items():
        log.warning(f"{count} {noun}(s): {text}")


def log_caught(log, caught, prefix: str = "") -> None:
    """Write the warnings recorded by ``warnings.catch_warnings(record=True)`` to the log."""
    for w in caught:
        log.warning(prefix + str(w.message))
