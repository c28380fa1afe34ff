"""Shared by `fit-null` and `fit`: align inputs, eigendecompose K per sample set, fit null models.

Phenotypes with the same non-missing individuals share one eigendecomposition, so a batch of
phenotypes costs one O(n³) eigh per distinct sample set.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.cli.common import data_options_from
from lmmlasso_cli.errors import ConvergenceWarning, InputError


@dataclass(frozen=True)
class PhenotypeFit:
    """One phenotype ready for modelling: its individuals, data, kinship eigensystem, null."""

    pheno: object  # PreparedPhenotype
    group: int
    fid: np.ndarray
    iid: np.ndarray
    fam_index: np.ndarray  # positions in the .fam
    covariates: np.ndarray  # (n, c)
    eig: object  # KinshipEigen
    null: object  # NullModel or None (when taken from --null)


def load_inputs(log, kw: dict):
    """Dataset plus kinship restricted to the aligned individuals."""
    from lmmlasso_cli.io.dataset import load_dataset
    from lmmlasso_cli.io.kinship_file import load_kinship

    data = load_dataset(data_options_from(kw))
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"phenotypes from {data.pheno_source}: {', '.join(data.pheno_names)}")
    log.info(f"individuals: {samples.n_samples} aligned; dropped: {samples.describe_drops()}")
    log.info(f"covariates: {', '.join(data.covariate_names) or 'none'}")
    kin = load_kinship(kw["kinship"]) if kw.get("kinship") else None
    if kin is not None:
        kin.submatrix(samples.fid, samples.iid)  # raises if any individual is not covered
        log.info(f"kinship {kin.path}: {len(kin.iid)} individuals, {kin.n_snps} SNPs")
    return data, kin


def iter_phenotypes(log, kw: dict, data, kin, fit_models: bool = True, need_eig: bool = True):
    """Yield a `PhenotypeFit` per phenotype, sharing eigendecompositions across phenotypes."""
    from lmmlasso_cli.io.dataset import phenotype_groups
    from lmmlasso_cli.nullmodel import eigendecompose
    from lmmlasso_cli.phenotypes import prepare_phenotype

    source = os.path.basename(data.pheno_source)
    for name in data.pheno_names:
        j = data.pheno_names.index(name)
        n_missing = int(np.isnan(data.phenotypes[:, j]).sum())
        if n_missing:
            log.info(f"{name}: {n_missing} individuals dropped with a missing value in {source}")
    groups = phenotype_groups(np.isfinite(data.phenotypes))
    for g, (mask, columns) in enumerate(groups):
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            name = data.pheno_names[columns[0]]
            raise InputError(
                f"{data.pheno_source}: phenotype {name} is missing for every analysed individual"
            )
        fid, iid = data.samples.fid[rows], data.samples.iid[rows]
        covariates = data.covariates[rows]
        eig = None
        if kin is not None and need_eig:
            eig = eigendecompose(kin.submatrix(fid, iid))
            log.info(
                f"eigendecomposition {g}: {len(rows)} individuals, phenotypes "
                f"{', '.join(data.pheno_names[c] for c in columns)}"
            )
        for c in columns:
            name = data.pheno_names[c]
            pheno = prepare_phenotype(
                data.phenotypes[:, c], name, data.pheno_source, kw["transform"]
            )
            null = None
            if fit_models and eig is not None:
                null = _fit_one(log, pheno, eig, covariates, kw)
            yield PhenotypeFit(
                pheno, g, fid, iid, data.samples.fam_index[rows], covariates, eig, null
            )


def _fit_one(log, pheno, eig, covariates, kw):
    from lmmlasso_cli.nullmodel import fit_null_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        null = fit_null_model(
            pheno.values,
            eig,
            covariates,
            reml=kw.get("reml", False),
            n_grid=kw.get("n_grid", 100),
            log_delta_range=kw.get("log_delta_range", (-5.0, 5.0)),
        )
    for w in caught:
        log.warning(f"{pheno.name}: {w.message}")
    log.info(
        f"{pheno.name}: n={null.n_samples} {null.method} log δ={null.log_delta:.4f} "
        f"h²={null.h2:.4f} (se {null.h2_se:.4f}) σg²={null.sigma2_g:.4g} "
        f"σe²={null.sigma2_e:.4g} logL={null.loglik:.4f}"
    )
    return null


def fit_null_models(log, kw: dict) -> list:
    data, kin = load_inputs(log, kw)
    fits = list(iter_phenotypes(log, kw, data, kin))
    return [(data, kin, fits)]


def write_null_outputs(log, kw: dict, packed) -> None:
    import pandas as pd

    from lmmlasso_cli.io.artifacts import provenance, write_tsv
    from lmmlasso_cli.io.null_file import save_null

    ((data, kin, fits),) = packed
    rows, groups, seen = [], [], {}
    table = []
    for fit in fits:
        null = fit.null
        if fit.group not in seen:
            seen[fit.group] = len(groups)
            groups.append((fit.fid, fit.iid, fit.eig))
        rows.append(
            {
                "pheno": fit.pheno.name,
                "group": seen[fit.group],
                "log_delta": null.log_delta,
                "sigma2_g": null.sigma2_g,
                "sigma2_e": null.sigma2_e,
                "h2": null.h2,
                "method": null.method,
            }
        )
        record = {
            "PHENO": fit.pheno.name,
            "N": null.n_samples,
            "N_SNPS_KINSHIP": kin.n_snps,
            "METHOD": null.method,
            "LOG_DELTA": null.log_delta,
            "DELTA": null.delta,
            "SIGMA2_G": null.sigma2_g,
            "SIGMA2_E": null.sigma2_e,
            "H2": null.h2,
            "H2_SE": null.h2_se,
            "LOGLIK": null.loglik,
            "BOUNDARY": int(null.at_boundary),
            "TRANSFORM": fit.pheno.transform.kind,
        }
        for name, coef, se in zip(data.covariate_names, null.coefs, null.coefs_se, strict=True):
            record[f"BETA_{name}"] = coef
            record[f"SE_{name}"] = se
        table.append(record)
    params = {
        k: kw.get(k)
        for k in (
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
    }
    meta = provenance("fit-null", params)
    meta["covariate_names"] = data.covariate_names
    order = {name: i for i, name in enumerate(data.pheno_names)}
    table.sort(key=lambda record: order[record["PHENO"]])  # the order the user asked for
    write_tsv(kw["out"] + ".null.tsv", pd.DataFrame(table))
    save_null(kw["out"] + ".null.npz", meta, groups, rows)
    log.info(
        f"wrote {kw['out']}.null.tsv and {kw['out']}.null.npz "
        f"({len(fits)} phenotype(s), {len(groups)} eigendecomposition(s))"
    )
