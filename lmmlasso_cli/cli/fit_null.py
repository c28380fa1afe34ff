"""`lmmlasso fit-null`: the null LMM y = Cα + u + ε for one or many phenotypes."""

import click

from lmmlasso_cli.cli.options import (
    BFILE,
    COVAR,
    NULL_SEARCH,
    PHENO,
    RUN,
    SAMPLES,
    SCHEDULER,
    data_options_from,
    kinship_option,
    null_search_from,
    options,
)
from lmmlasso_cli.cli.runner import run_command

PARAMS = (
    "bfile",
    "kinship",
    "pheno",
    "pheno_names",
    "mpheno",
    "covar",
    "covar_names",
    "no_intercept",
    "transform",
    "reml",
    "n_grid",
    "log_delta_range",
    "keep",
    "remove",
)


@click.command("fit-null")
@options(BFILE, kinship_option(), PHENO, COVAR, SAMPLES, NULL_SEARCH, SCHEDULER, RUN)
@run_command
def fit_null(log, **kw):
    """Fit the null LMM y = Cα + u + ε, u ~ N(0, σg²K), ε ~ N(0, σe²I).

    K is eigendecomposed once per set of analysed individuals; log δ (δ = σe²/σg²) is searched
    on a grid and every interior local optimum refined with Brent. Reports δ, σg², σe², h² =
    σg²/(σg²+σe²) with its standard error, the log-likelihood (ML or REML) and the covariate
    coefficients, on the transformed phenotype's scale. Writes PREFIX.null.tsv (one row per
    phenotype) and PREFIX.null.npz (eigendecompositions and δ, for `lmmlasso fit`). With
    --scheduler, each phenotype's δ search is a unit on a Dask cluster (same results).
    """
    from lmmlasso_cli.cli.pipeline import backend_for, iter_phenotypes, load_inputs
    from lmmlasso_cli.io.artifacts import provenance
    from lmmlasso_cli.io.null_file import save_null, write_null_table

    data, kin = load_inputs(log, data_options_from(kw), kw["kinship"])
    from lmmlasso_cli.cli.pipeline import plan_for_data

    plan_for_data(log, kw, "fit-null", data, kin, n_snps=0)
    search = null_search_from(kw)
    with backend_for(log, kw, len(data.pheno_names), processes=True) as backend:
        fits = list(iter_phenotypes(log, data, kin, kw["transform"], search, backend=backend))
    meta = provenance("fit-null", {k: kw.get(k) for k in PARAMS})
    meta["covariate_names"] = data.covariate_names
    groups, rows, table = [], [], []
    seen = {}
    for fit in fits:
        if fit.group not in seen:
            seen[fit.group] = len(groups)
            groups.append((fit.fid, fit.iid, fit.eig))
        rows.append((fit.pheno.name, seen[fit.group], fit.null))
        table.append((fit.pheno, fit.null))
    order = {name: i for i, name in enumerate(data.pheno_names)}
    table.sort(key=lambda item: order[item[0].name])  # the order the user asked for
    out = kw["out"]
    write_null_table(out + ".null.tsv", table, kin.n_snps, data.covariate_names)
    save_null(out + ".null.npz", meta, groups, rows)
    log.info(
        f"wrote {out}.null.tsv and {out}.null.npz "
        f"({len(fits)} phenotype(s), {len(groups)} eigendecomposition(s))"
    )
