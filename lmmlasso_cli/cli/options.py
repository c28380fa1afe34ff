"""Every option group of the subcommands, one way to compose them, and the settings they build.

A group is a list of click options; ``@options(GROUP, ...)`` applies groups in order, so the
help lists them as written. ``*_from(kw)`` turn parsed options into the core's frozen settings
(`lmmlasso_cli.settings`), whose defaults the options show: defaults live there only.
"""

from __future__ import annotations

import click

from lmmlasso_cli.settings import (
    REFITS,
    CvSettings,
    LassoSettings,
    MuGrid,
    NullSearch,
    PathStop,
    TrainingSettings,
)

_NULL, _LASSO, _GRID, _PATH, _CV = NullSearch(), LassoSettings(), MuGrid(), PathStop(), CvSettings()


def options(*groups):
    """Decorator applying option groups (lists of click options) in the order given."""

    def apply(func):
        for group in reversed(groups):
            for option in reversed(group):
                func = option(func)
        return func

    return apply


# --- callbacks ------------------------------------------------------------------------------


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


def positive_float_list(ctx, param, value):
    if value is None:
        return None
    try:
        values = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("expected comma-separated numbers") from None
    if any(v <= 0 for v in values):
        raise click.BadParameter("every μ must be positive")
    return values


def float_pair(ctx, param, value):
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("expected LO,HI, e.g. -5,5") from None
    if not lo < hi:
        raise click.BadParameter("LO must be below HI")
    return lo, hi


def index_range(ctx, param, value):
    if value is None:
        return None
    try:
        start, stop = (int(v) for v in value.split(":"))
    except ValueError:
        raise click.BadParameter("expected A:B, e.g. 0:50 (replicates A to B-1)") from None
    return range(start, stop)


def part_spec(ctx, param, value):
    if value is None:
        return None
    try:
        k, n = (int(v) for v in value.split("/"))
    except ValueError:
        raise click.BadParameter("expected K/N, e.g. 3/10 (part 3 of 10)") from None
    if not 1 <= k <= n:
        raise click.BadParameter(f"{value}: K must be between 1 and N")
    return k, n


def unit_interval(ctx, param, value):
    if not 0.0 <= value <= 1.0:
        raise click.BadParameter("must be between 0 and 1")
    return value


# --- groups ---------------------------------------------------------------------------------

RUN = [
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
        help="Threads for worker processes, .bed decoding and the kinship's products; other "
        "linear algebra runs on one thread so that results do not depend on this  "
        "[default: all cores]",
    ),
    click.option(
        "--memory",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="GB",
        help="Memory budget in GB (1e9 bytes): the plan printed in PREFIX.log must fit it, "
        "SNP blocks shrink to fit, and the command refuses to start when even the smallest "
        "plan does not  [default: 70% of the available RAM]",
    ),
    click.option("--quiet", is_flag=True, help="Only errors and warnings on stderr."),
    click.option("--debug", is_flag=True, help="Show Python tracebacks on errors."),
]

PFILE = click.option(
    "--pfile",
    metavar="PREFIX",
    help="PLINK 2 set PREFIX.pgen/.pvar/.psam instead of --bfile (pgenlib; A1 = ALT; "
    "dosages rounded to hard calls, counted in the log).",
)

BFILE = [
    click.option(
        "--bfile",
        metavar="PREFIX",
        help="PLINK 1 binary set PREFIX.bed/.bim/.fam; genotypes count A1 (.bim column 5). "
        "One of --bfile or --pfile is required.",
    ),
    PFILE,
]

SAMPLES = [
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
]

BLOCK_SIZE = click.option(
    "--block-size",
    type=click.IntRange(1),
    default=2048,
    show_default=True,
    help="SNPs read per block (memory: n_samples x block x 8 bytes).",
)

SNPS = [
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
    BLOCK_SIZE,
]

PHENO = [
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
        default=TrainingSettings.transform,
        show_default=True,
        help="Phenotype transform: standardize = mean 0, sd 1 (ddof 0); boxcox = "
        "Box-Cox then standardize; rint = rank-based inverse normal.",
    ),
]

COVAR = [
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
]

KINSHIP_HELP = (
    "Kinship: PREFIX.kinship.npz from `lmmlasso kinship`, or a GCTA GRM (PREFIX.grm.bin)."
)


def kinship_option(required: bool = True, help: str = KINSHIP_HELP):
    return [click.option("--kinship", required=required, metavar="FILE", help=help)]


EXACT_PCA_MAX_SAMPLES = 5000  # pca/gwas --pcs auto: exact eigendecomposition up to this n

BLOCK_SNPS = [
    click.option(
        "--block-snps",
        type=click.IntRange(2),
        default=1000,
        show_default=True,
        help="Target block size in SNPs: breakpoints are local minima of the smoothed LD "
        "profile about this far apart, and LD pairs are summed within this band.",
    )
]

# the options a model artifact records (fit, and cv's refit at its chosen μ)
MODEL_PARAMS = (
    "bfile",
    "kinship",
    "null_path",
    "no_kinship",
    "pheno",
    "covar",
    "covar_names",
    "no_intercept",
    "transform",
    "mu",
    "n_active",
    "n_mu",
    "mu_min_ratio",
    "mu_list",
    "max_active",
    "full_path",
    "l1_ratio",
    "tol",
    "max_epochs",
    "maf",
    "extract",
    "exclude",
    "chromosomes",
    "keep",
    "remove",
)

NULL_SEARCH = [
    click.option("--reml", is_flag=True, help="REML instead of ML (ML is the LMM-Lasso default)."),
    click.option(
        "--n-grid",
        type=click.IntRange(2),
        default=_NULL.n_grid,
        show_default=True,
        help="Number of grid intervals over the log δ range (then Brent refinement).",
    ),
    click.option(
        "--log-delta-range",
        default=",".join(f"{v:g}" for v in _NULL.log_delta_range),
        show_default=True,
        metavar="LO,HI",
        callback=float_pair,
        help="Search range of log δ = log(σe²/σg²).",
    ),
]

MU_GRID = [
    click.option(
        "--n-mu",
        type=click.IntRange(1),
        default=_GRID.n_mu,
        show_default=True,
        help="μ grid: number of values, geometric from μ_max = ‖X̃ᵀỹ‖∞/r down.",
    ),
    click.option(
        "--mu-min-ratio",
        type=click.FloatRange(0, 1, min_open=True),
        default=_GRID.mu_min_ratio,
        show_default=True,
        help="μ grid: smallest μ as a fraction of μ_max.",
    ),
    click.option(
        "--mu-list",
        callback=positive_float_list,
        metavar="MU[,MU...]",
        help="μ grid: explicit absolute values instead of --n-mu.",
    ),
]

LASSO = [
    click.option(
        "--l1-ratio",
        type=click.FloatRange(0, 1, min_open=True),
        default=_LASSO.l1_ratio,
        show_default=True,
        help="r in μ·r·‖w‖₁ + ½μ(1−r)‖w‖²; 1 = Lasso, <1 = elastic net.",
    ),
    click.option(
        "--tol",
        type=click.FloatRange(0, min_open=True),
        default=_LASSO.tol,
        show_default=True,
        help="Stop when the duality gap ≤ tol·‖ỹ‖².",
    ),
    click.option(
        "--max-epochs",
        type=click.IntRange(1),
        default=_LASSO.max_epochs,
        show_default=True,
        help="Coordinate-descent epochs per μ before giving up.",
    ),
    click.option(
        "--on-nonconvergence",
        type=click.Choice(["warn", "error"]),
        default="warn",
        show_default=True,
        help="A fit whose duality gap stays above tolerance: warn (and record it in "
        "PREFIX.path.tsv and the model) or fail.",
    ),
]

PATH_STOP = [
    click.option(
        "--max-active",
        type=click.IntRange(1),
        default=_PATH.max_active,
        help="Stop a μ path after the first μ with more than this many SNPs (glmnet's dfmax; "
        "that μ is kept)  [default: half the individuals the path is fitted on]",
    ),
    click.option(
        "--full-path",
        is_flag=True,
        help="Fit every μ of the grid. By default a path stops, as glmnet's, once the "
        f"training explained variance rises by less than {_PATH.ev_change:g} of itself "
        f"or exceeds {_PATH.ev_max:g} (after {_PATH.min_mus} μ), or past --max-active "
        "(cv: or past --n-abort); --mu-list turns off all but --n-abort.",
    ),
]

CV = [
    click.option(
        "--folds",
        type=click.IntRange(2),
        default=_CV.n_folds,
        show_default=True,
        help="K of K-fold cross-validation over individuals.",
    ),
    click.option(
        "--seed", type=int, default=_CV.seed, show_default=True, help="Seed of the fold split."
    ),
    click.option(
        "--rule",
        type=click.Choice(["best", "1se"]),
        default=_CV.rule,
        show_default=True,
        help="best = largest mean held-out explained variance; 1se = the largest μ "
        "(fewest SNPs) within one standard error of it; among the μ every fold reached.",
    ),
    click.option(
        "--n-abort",
        type=click.IntRange(0),
        default=_CV.n_abort,
        show_default=True,
        help="Stop a fold's path once its held-out error has risen this many times since its "
        "minimum (bigstatsr's n.abort); 0 = never.",
    ),
    click.option(
        "--refit",
        type=click.Choice(REFITS),
        default=_CV.refit,
        show_default=True,
        help="The model written: refit = LMM-Lasso on all individuals at the chosen μ; "
        "average = the mean of the fold models, each at its own best μ (bigstatsr's CMSA).",
    ),
]

SCHEDULER = [
    click.option(
        "--scheduler",
        envvar="DASK_SCHEDULER_ADDRESS",
        metavar="ADDRESS|FILE|local",
        help="Run the work units on a Dask cluster: a scheduler address (tcp://host:8786), "
        "a scheduler file, or local (a LocalCluster of --threads single-threaded workers). "
        "Also read from DASK_SCHEDULER_ADDRESS. Needs pip install 'lmmlasso-cli[dask]'. "
        "[default: this process]",
    )
]


def part_option(what: str):
    return [
        click.option(
            "--part",
            callback=part_spec,
            metavar="K/N",
            help=f"Job-array part K of N (1-based): {what}",
        )
    ]


PRECISION = [
    click.option(
        "--precision",
        type=click.Choice(["float32", "float64"]),
        default="float32",
        show_default=True,
        help="Arithmetic of the genotype block products (the kinship's Z Zᵀ, the gwas "
        "rotation UᵀZ); sums across blocks, the eigendecomposition and the models stay float64. "
        "float32 is faster and agrees with float64 to within 1e-6 in K (README, bench).",
    )
]

PLOT_HELP = "Also write the plots (PNG; needs matplotlib: pip install 'lmmlasso-cli[plot]')."
PLOT = [click.option("--plot", is_flag=True, help=PLOT_HELP)]

# Core messages name parameters as the Python API does, in backquotes; the CLI shows the flag.
FLAGS = {
    "memory": "--memory",
    "n_folds": "--folds",
    "fraction": "--fraction",
    "transform": "--transform",
    "log_delta_range": "--log-delta-range",
    "reml": "--reml",
    "covar_names": "--covar-name",
    "rule": "--rule",
    "n_reps": "--n-reps",
    "reps": "--reps",
    "threshold": "--threshold",
    "mu": "--mu",
    "n_active": "--n-active",
    "max_epochs": "--max-epochs",
    "tol": "--tol",
    "n_mu": "--n-mu",
    "mu_min_ratio": "--mu-min-ratio",
    "maf": "--maf",
    "block_snps": "--block-snps",
    "top_r": "--top-r",
    "n_replicates": "--n-replicates",
    "max_components": "--max-components",
    "restarts": "--restarts",
    "min_snps": "--min-snps",
    "window_bp": "--window-bp",
    "epsilon": "--epsilon",
    "n_pcs": "--n-pcs",
    "part": "--part",
    "scheduler": "--scheduler",
    "max_active": "--max-active",
    "n_abort": "--n-abort",
    "refit": "--refit",
}


# --- settings from parsed options -----------------------------------------------------------


def null_search_from(kw: dict) -> NullSearch:
    return NullSearch(
        reml=kw["reml"], n_grid=kw["n_grid"], log_delta_range=tuple(kw["log_delta_range"])
    )


def path_stop_from(kw: dict) -> PathStop | None:
    """glmnet's path stops, or None with --full-path or --mu-list (glmnet fits every λ a user
    lists)."""
    if kw.get("full_path") or kw.get("mu_list"):
        return None
    return PathStop(max_active=kw.get("max_active"))


def lasso_from(kw: dict) -> LassoSettings:
    return LassoSettings(
        l1_ratio=kw["l1_ratio"],
        tol=kw["tol"],
        max_epochs=kw["max_epochs"],
        path_stop=path_stop_from(kw),
    )


def cv_from(kw: dict) -> CvSettings:
    n_abort = 0 if kw.get("full_path") else kw["n_abort"]
    return CvSettings(kw["folds"], kw["seed"], kw["rule"], n_abort, kw["refit"])


def mu_grid_from(kw: dict) -> MuGrid:
    mu_list = tuple(kw["mu_list"]) if kw.get("mu_list") else None
    return MuGrid(n_mu=kw["n_mu"], mu_min_ratio=kw["mu_min_ratio"], mu_list=mu_list)


def training_from(kw: dict) -> TrainingSettings:
    return TrainingSettings(
        transform=kw["transform"], null=null_search_from(kw), lasso=lasso_from(kw)
    )


def data_options_from(kw: dict, need_pheno: bool = True):
    """`DataOptions` (what the shared options say about the inputs) from the parsed options."""
    from lmmlasso_cli.io.dataset import DataOptions, parse_chromosomes
    from lmmlasso_cli.io.plink import plink_prefix

    return DataOptions(
        bfile=plink_prefix(kw["bfile"]),
        genotype_format=kw.get("genotype_format", "bed"),
        pheno=kw.get("pheno"),
        pheno_names=kw.get("pheno_names"),
        mpheno=kw.get("mpheno"),
        all_pheno=kw.get("all_pheno", False),
        covar=kw.get("covar"),
        covar_names=kw.get("covar_names"),
        intercept=not kw.get("no_intercept", False),
        keep=kw.get("keep"),
        remove=kw.get("remove"),
        extract=kw.get("extract"),
        exclude=kw.get("exclude"),
        chromosomes=parse_chromosomes(kw.get("chromosomes")),
        maf=kw.get("maf", 0.0) or 0.0,
        need_pheno=need_pheno,
    )
