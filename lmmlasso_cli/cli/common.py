"""Options shared by the subcommands, the run context, and error handling.

Every subcommand body runs inside `run_command`, which opens ``PREFIX.log``, applies
``--threads``, turns `LmmLassoError` into a one-line message with exit code 1 (a traceback only
with ``--debug``), and writes the error to the log too.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import traceback
from collections.abc import Callable

import click

from lmmlasso_cli.errors import LmmLassoError

EXIT_ERROR = 1


def _compose(*decorators):
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def csv_list(ctx, param, value):
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def int_list(ctx, param, value):
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("expected comma-separated column numbers, like 1,3") from None


run_options = _compose(
    click.option(
        "--out",
        "out",
        required=True,
        metavar="PREFIX",
        help="Output prefix; PREFIX.log records the command line, versions and summary.",
    ),
    click.option(
        "--threads",
        type=click.IntRange(1),
        default=None,
        help="Threads for BLAS, numba and .bed decoding  [default: all cores]",
    ),
    click.option("--quiet", is_flag=True, help="Only errors and warnings on stderr."),
    click.option("--debug", is_flag=True, help="Show Python tracebacks on errors."),
)

bfile_option = click.option(
    "--bfile",
    required=True,
    metavar="PREFIX",
    help="PLINK 1 binary set PREFIX.bed/.bim/.fam; genotypes count A1 (.bim column 5).",
)

sample_options = _compose(
    click.option(
        "--keep",
        type=click.Path(),
        metavar="FILE",
        help="Keep only individuals listed (FID IID per line).",
    ),
    click.option(
        "--remove",
        type=click.Path(),
        metavar="FILE",
        help="Remove individuals listed (FID IID per line).",
    ),
)

snp_options = _compose(
    click.option(
        "--extract",
        type=click.Path(),
        metavar="FILE",
        help="Keep only SNPs whose IDs are listed (one per line).",
    ),
    click.option(
        "--exclude",
        type=click.Path(),
        metavar="FILE",
        help="Drop SNPs whose IDs are listed (one per line).",
    ),
    click.option(
        "--chr",
        "chromosomes",
        metavar="LIST",
        help="Chromosomes to use, e.g. 1,2,5-7  [default: all]",
    ),
    click.option(
        "--maf",
        type=click.FloatRange(0, 0.5),
        default=0.0,
        show_default=True,
        help="Drop SNPs with minor allele frequency below this (monomorphic and "
        "all-missing SNPs are always dropped).",
    ),
    click.option(
        "--block-size",
        type=click.IntRange(1),
        default=2048,
        show_default=True,
        help="SNPs read per block (memory: n_samples x block x 8 bytes).",
    ),
)

pheno_options = _compose(
    click.option(
        "--pheno",
        type=click.Path(),
        metavar="FILE",
        help="Phenotype table: FID IID then values; NA, -9 or empty = missing. "
        "[default: .fam column 6]",
    ),
    click.option(
        "--pheno-name",
        "pheno_names",
        callback=csv_list,
        metavar="NAME[,NAME...]",
        help="Phenotype column(s) by header name.",
    ),
    click.option(
        "--mpheno",
        callback=int_list,
        metavar="N[,N...]",
        help="Phenotype column(s) by number, 1 = first after FID IID (for a .fam: "
        "1 = column 6, 2 = column 7, GEMMA-style).",
    ),
    click.option("--all-pheno", is_flag=True, help="Analyse every phenotype column."),
    click.option(
        "--transform",
        type=click.Choice(["standardize", "boxcox", "rint", "none"]),
        default="standardize",
        show_default=True,
        help="Phenotype transform: standardize = mean 0, sd 1 (ddof 0); boxcox = "
        "Box-Cox then standardize; rint = rank-based inverse normal.",
    ),
)

covar_options = _compose(
    click.option(
        "--covar",
        type=click.Path(),
        metavar="FILE",
        help="Covariate table: FID IID then numeric columns; NA/-9 = missing "
        "(individuals with any missing covariate are dropped).",
    ),
    click.option(
        "--covar-name",
        "covar_names",
        callback=csv_list,
        metavar="NAME[,NAME...]",
        help="Covariate columns to use  [default: all]",
    ),
    click.option(
        "--no-intercept",
        is_flag=True,
        help="Fit no intercept (only to reproduce the original LMM-Lasso code).",
    ),
)

kinship_option = click.option(
    "--kinship",
    required=True,
    metavar="FILE",
    help="Kinship: PREFIX.kinship.npz from `lmmlasso kinship`, or a GCTA GRM (PREFIX.grm.bin).",
)


def data_options_from(kwargs: dict, need_pheno: bool = True):
    """Build `DataOptions` from the parsed shared options."""
    from lmmlasso_cli.io.dataset import DataOptions, parse_chromosomes
    from lmmlasso_cli.io.plink import plink_prefix

    return DataOptions(
        bfile=plink_prefix(kwargs["bfile"]),
        pheno=kwargs.get("pheno"),
        pheno_names=kwargs.get("pheno_names"),
        mpheno=kwargs.get("mpheno"),
        all_pheno=kwargs.get("all_pheno", False),
        covar=kwargs.get("covar"),
        covar_names=kwargs.get("covar_names"),
        intercept=not kwargs.get("no_intercept", False),
        keep=kwargs.get("keep"),
        remove=kwargs.get("remove"),
        extract=kwargs.get("extract"),
        exclude=kwargs.get("exclude"),
        chromosomes=parse_chromosomes(kwargs.get("chromosomes")),
        maf=kwargs.get("maf", 0.0) or 0.0,
        need_pheno=need_pheno,
    )


@contextlib.contextmanager
def _thread_limits(threads: int | None):
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def run_command(body: Callable) -> Callable:
    """Wrap a command body ``body(log, **kwargs)`` with logging, threads and error handling."""

    @functools.wraps(body)
    def wrapper(**kwargs):
        from lmmlasso_cli.io.logfile import RunLog

        debug = kwargs.get("debug", False)
        log = None
        try:
            log = RunLog(kwargs["out"], quiet=kwargs.get("quiet", False))
            log.versions()
            with _thread_limits(kwargs.get("threads")):
                body(log, **kwargs)
        except LmmLassoError as exc:
            if log is not None:
                log.close(error=str(exc))
                log = None
            if debug:
                traceback.print_exc()
            click.echo(f"Error: {exc}", err=True)
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
