"""`lmmlasso fit-null`: the null LMM y = Cα + u + ε for one or many phenotypes."""

import click

from lmmlasso_cli.cli.common import (
    bfile_option,
    covar_options,
    kinship_option,
    pheno_options,
    run_command,
    run_options,
    sample_options,
)


def log_delta_range(ctx, param, value):
    try:
        lo, hi = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("expected LO,HI, e.g. -5,5") from None
    if not lo < hi:
        raise click.BadParameter("LO must be below HI")
    return lo, hi


null_search_options = [
    click.option("--reml", is_flag=True, help="REML instead of ML (ML is the LMM-Lasso default)."),
    click.option(
        "--n-grid",
        type=click.IntRange(2),
        default=100,
        show_default=True,
        help="Number of grid intervals over the log δ range (then Brent refinement).",
    ),
    click.option(
        "--log-delta-range",
        default="-5,5",
        show_default=True,
        metavar="LO,HI",
        callback=log_delta_range,
        help="Search range of log δ = log(σe²/σg²).",
    ),
]


def with_null_search(func):
    for option in reversed(null_search_options):
        func = option(func)
    return func


@click.command("fit-null")
@bfile_option
@kinship_option
@pheno_options
@covar_options
@sample_options
@with_null_search
@run_options
@run_command
def fit_null(log, **kw):
    """Fit the null LMM y = Cα + u + ε, u ~ N(0, σg²K), ε ~ N(0, σe²I).

    K is eigendecomposed once per set of analysed individuals; log δ (δ = σe²/σg²) is searched
    on a grid and every interior local optimum refined with Brent. Reports δ, σg², σe², h² =
    σg²/(σg²+σe²) with its standard error, the log-likelihood (ML or REML) and the covariate
    coefficients, on the transformed phenotype's scale. Writes PREFIX.null.tsv (one row per
    phenotype) and PREFIX.null.npz (eigendecompositions and δ, for `lmmlasso fit`).
    """
    from lmmlasso_cli.cli.null_runner import fit_null_models, write_null_outputs

    fits = fit_null_models(log, kw)
    write_null_outputs(log, kw, fits)
