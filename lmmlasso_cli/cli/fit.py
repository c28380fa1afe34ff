"""`lmmlasso fit`: LMM-Lasso at one μ, at a target number of SNPs, or along a μ path."""

import click

from lmmlasso_cli.cli.common import (
    bfile_option,
    covar_options,
    pheno_options,
    run_command,
    run_options,
    sample_options,
    snp_options,
)
from lmmlasso_cli.cli.fit_null import with_null_search


def float_list(ctx, param, value):
    if value is None:
        return None
    try:
        values = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("expected comma-separated numbers") from None
    if any(v <= 0 for v in values):
        raise click.BadParameter("every μ must be positive")
    return values


lasso_options = [
    click.option(
        "--l1-ratio",
        type=click.FloatRange(0, 1, min_open=True),
        default=1.0,
        show_default=True,
        help="r in μ·r·‖w‖₁ + ½μ(1−r)‖w‖²; 1 = Lasso, <1 = elastic net.",
    ),
    click.option(
        "--tol",
        type=click.FloatRange(0, min_open=True),
        default=1e-7,
        show_default=True,
        help="Stop when the duality gap ≤ tol·‖ỹ‖².",
    ),
    click.option(
        "--max-epochs",
        type=click.IntRange(1),
        default=10_000,
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


mu_grid_options = [
    click.option(
        "--n-mu",
        type=click.IntRange(1),
        default=100,
        show_default=True,
        help="μ grid: number of values, geometric from μ_max = ‖X̃ᵀỹ‖∞/r down.",
    ),
    click.option(
        "--mu-min-ratio",
        type=click.FloatRange(0, 1, min_open=True),
        default=1e-3,
        show_default=True,
        help="μ grid: smallest μ as a fraction of μ_max.",
    ),
    click.option(
        "--mu-list",
        callback=float_list,
        metavar="MU[,MU...]",
        help="μ grid: explicit absolute values instead of --n-mu.",
    ),
]


def with_mu_grid_options(func):
    for option in reversed(mu_grid_options):
        func = option(func)
    return func


def with_lasso_options(func):
    for option in reversed(lasso_options):
        func = option(func)
    return func


@click.command("fit", short_help="LMM-Lasso: sparse SNP effects plus a polygenic random effect.")
@bfile_option
@click.option(
    "--kinship",
    metavar="FILE",
    help="Kinship (PREFIX.kinship.npz or GCTA .grm.bin); required unless --no-kinship.",
)
@click.option(
    "--null",
    "null_path",
    metavar="FILE",
    help="PREFIX.null.npz from `lmmlasso fit-null` (else the null model is refitted).",
)
@click.option(
    "--no-kinship",
    is_flag=True,
    help="Plain Lasso with unpenalized covariates (no random effect): the baseline.",
)
@pheno_options
@covar_options
@sample_options
@snp_options
@with_null_search
@click.option(
    "--mu",
    type=click.FloatRange(0, min_open=True),
    help="One μ: minimize ½‖ỹ − X̃w‖² + μ‖w‖₁ (μ absolute, NOT divided by n; ỹ, X̃ "
    "the rotated phenotype and standardized SNPs).",
)
@click.option("--n-active", type=click.IntRange(1), help="Find the μ that selects this many SNPs.")
@with_mu_grid_options
@with_lasso_options
@run_options
@run_command
def fit(log, **kw):
    """LMM-Lasso (Rakitsch et al. 2013): sparse SNP effects plus a polygenic random effect.

    Genotypes and phenotype are rotated by (S+δ)^-1/2 Uᵀ from the null model's K = U S Uᵀ and
    δ = σe²/σg²; covariates (the intercept among them) are projected out, unpenalized. The
    Lasso objective is ½‖ỹ − X̃w‖² + μ·r·‖w‖₁ + ½·μ·(1−r)·‖w‖², μ absolute (not per
    sample), solved by coordinate descent and certified by the duality gap. Without --mu or
    --n-active, fits a path of --n-mu values. Writes PREFIX.weights.tsv, PREFIX.path.tsv,
    PREFIX.model.npz (for `lmmlasso predict`) and PREFIX.score.tsv (for plink2 --score).
    """
    from lmmlasso_cli.cli.fit_command import run_fit

    run_fit(log, kw)
