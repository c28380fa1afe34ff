"""``PREFIX.model.npz`` and the TSV outputs of `fit`: weights, path, and a plink2 score file.

A model (`lmmlasso_cli.model.FittedModel`) holds, for each μ of its path, the fixed SNP effects
(standardized scale, for the union of SNPs selected at any μ), the covariate effects, and the
per-SNP BLUP weights of the background over the kinship SNPs, each SNP with its ID, alleles and
training mean and sd. That is all `predict` needs: never the training .bed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.io.artifacts import load_npz, save_npz, write_tsv
from lmmlasso_cli.model import FittedModel
from lmmlasso_cli.snps import SnpSet
from lmmlasso_cli.transforms import PhenoTransform


@dataclass(frozen=True)
class Model:
    """A fitted model as `predict` sees it (arrays indexed by μ first)."""

    path: str
    meta: dict
    pheno: str
    fid: np.ndarray
    iid: np.ndarray
    mus: np.ndarray  # (n_mu,)
    fixed: SnpSet
    fixed_coefs: np.ndarray  # (n_mu, n_fixed) standardized scale
    covariate_names: list
    covariate_coefs: np.ndarray  # (n_mu, n_cov)
    background: SnpSet | None
    background_weights: np.ndarray | None  # (n_mu, n_background)
    transform: PhenoTransform

    @property
    def n_mu(self) -> int:
        return len(self.mus)


def _snpset_arrays(prefix: str, s: SnpSet) -> dict:
    return {f"{prefix}_{f}": getattr(s, f) for f in SnpSet.field_names()}


def _snpset_from(art, prefix: str) -> SnpSet:
    return SnpSet(*(art[f"{prefix}_{f}"] for f in SnpSet.field_names()))


def save_model(
    path: str, meta: dict, fid, iid, model: FittedModel, transform: PhenoTransform
) -> None:
    arrays = {
        "fid": fid,
        "iid": iid,
        "mus": model.mus,
        "fixed_coefs": model.fixed_coefs,
        "covariate_coefs": model.covariate_coefs,
        "transform_kind": np.array(transform.kind),
        "transform_params": np.array([transform.mean, transform.sd, transform.boxcox_lambda]),
        "transform_ranks": transform.ranks_x if transform.ranks_x is not None else np.zeros(0),
        **_snpset_arrays("fixed", model.fixed),
    }
    if model.background is not None:
        arrays.update(_snpset_arrays("background", model.background.snps))
        arrays["background_weights"] = model.background.weights
    save_npz(path, "model", meta, arrays)


def load_model(path: str) -> Model:
    art = load_npz(
        path,
        "model",
        ("fid", "iid", "mus", "fixed_snp", "fixed_coefs", "covariate_coefs", "transform_kind"),
    )
    mean, sd, lam = art["transform_params"]
    kind = str(art["transform_kind"])
    transform = PhenoTransform(
        kind, float(mean), float(sd), float(lam), art["transform_ranks"] if kind == "rint" else None
    )
    has_bg = "background_snp" in art.arrays
    return Model(
        path=path,
        meta=art.meta,
        pheno=art.meta.get("pheno", ""),
        fid=art["fid"].astype(str),
        iid=art["iid"].astype(str),
        mus=art["mus"],
        fixed=_snpset_from(art, "fixed"),
        fixed_coefs=art["fixed_coefs"],
        covariate_names=list(art.meta.get("covariate_names", [])),
        covariate_coefs=art["covariate_coefs"],
        background=_snpset_from(art, "background") if has_bg else None,
        background_weights=art["background_weights"] if has_bg else None,
        transform=transform,
    )


def write_weights(
    path: str, fixed: SnpSet, coefs: np.ndarray, mus: np.ndarray, header: list[str]
) -> None:
    """One row per selected SNP (per μ in long format when the path has several μ)."""
    rows = []
    for k, mu in enumerate(mus):
        nz = np.flatnonzero(coefs[k])
        frame = pd.DataFrame(
            {
                "CHR": fixed.chrom[nz],
                "SNP": fixed.snp[nz],
                "BP": fixed.bp[nz],
                "A1": fixed.a1[nz],
                "A2": fixed.a2[nz],
                "BETA_STD": coefs[k, nz],
                "BETA": coefs[k, nz] / fixed.sds[nz],
            }
        )
        if len(mus) > 1:
            frame.insert(0, "MU", mu)
            frame.insert(0, "MU_INDEX", k)
        rows.append(frame)
    table = pd.concat(rows, ignore_index=True)
    if len(mus) == 1:
        table = table.reindex(table.BETA_STD.abs().sort_values(ascending=False).index)
    write_tsv(path, table, header)


def write_path(path: str, fit_path, header: list[str]) -> None:
    write_tsv(
        path,
        pd.DataFrame(
            {
                "MU_INDEX": np.arange(len(fit_path.mus)),
                "MU": fit_path.mus,
                "N_ACTIVE": fit_path.n_active,
                "OBJECTIVE": fit_path.objectives,
                "GAP": fit_path.gaps,
                "CONVERGED": fit_path.converged.astype(int),
                "N_EPOCHS": fit_path.n_epochs,
                "TRAIN_EXPLAINED_VARIANCE": fit_path.explained_variance,
            }
        ),
        header,
    )


def write_score(path: str, snps: SnpSet, per_allele: np.ndarray, header: list[str]) -> None:
    """plink2 --score file: SNP, A1, then one weight column per μ (SCORE_MU<k>)."""
    table = pd.DataFrame({"SNP": snps.snp, "A1": snps.a1})
    for k in range(per_allele.shape[0]):
        table[f"SCORE_MU{k}"] = per_allele[k]
    write_tsv(path, table, [], float_format="%.12g")
