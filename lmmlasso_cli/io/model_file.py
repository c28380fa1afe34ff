"""``PREFIX.model.npz`` and the TSV outputs of `fit`: weights, path, and a plink2 score file.

A model holds, for each μ of its path, the fixed SNP effects (standardized scale, for the
union of SNPs selected at any μ), the covariate effects, and the per-SNP BLUP weights of the
background over the kinship SNPs, each SNP with its ID, alleles and training mean and sd. That
is all `predict` needs: never the training .bed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmmlasso_cli.io.artifacts import load_npz, save_npz, write_tsv
from lmmlasso_cli.transforms import PhenoTransform


@dataclass(frozen=True)
class SnpSet:
    """SNPs with identity and training scale: IDs, chromosome, position, alleles, mean, sd."""

    snp: np.ndarray
    chrom: np.ndarray
    bp: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    means: np.ndarray
    sds: np.ndarray

    def take(self, idx) -> SnpSet:
        return SnpSet(
            *(getattr(self, f)[idx] for f in ("snp", "chrom", "bp", "a1", "a2", "means", "sds"))
        )

    def __len__(self) -> int:
        return len(self.snp)


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
    return {
        f"{prefix}_{f}": getattr(s, f) for f in ("snp", "chrom", "bp", "a1", "a2", "means", "sds")
    }


def _snpset_from(art, prefix: str) -> SnpSet:
    return SnpSet(
        *(art[f"{prefix}_{f}"] for f in ("snp", "chrom", "bp", "a1", "a2", "means", "sds"))
    )


def save_model(
    path: str,
    meta: dict,
    fid,
    iid,
    mus,
    fixed: SnpSet,
    fixed_coefs,
    covariate_coefs,
    background: SnpSet | None,
    background_weights,
    transform: PhenoTransform,
) -> None:
    arrays = {
        "fid": fid,
        "iid": iid,
        "mus": mus,
        "fixed_coefs": fixed_coefs,
        "covariate_coefs": covariate_coefs,
        "transform_kind": np.array(transform.kind),
        "transform_params": np.array([transform.mean, transform.sd, transform.boxcox_lambda]),
        "transform_ranks": transform.ranks_x if transform.ranks_x is not None else np.zeros(0),
        **_snpset_arrays("fixed", fixed),
    }
    if background is not None:
        arrays.update(_snpset_arrays("background", background))
        arrays["background_weights"] = background_weights
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


def per_allele_scores(
    fixed: SnpSet,
    fixed_coefs,
    background: SnpSet | None,
    background_weights,
    covariate_constant: np.ndarray,
):
    """Per-allele weights over the union of SNPs and the constant offset, per μ.

    On the standardized scale a SNP of set s contributes (g − m_s)/s_s · c_s; per copy of A1 that
    is c_s/s_s, and −m_s c_s/s_s goes into the offset with the intercept. A SNP in both sets
    (fixed effect and kinship) gets the sum of both, each with its own mean and sd (the fit's
    over the training individuals, the kinship's over its individuals). Returns (SnpSet of the
    union, weights (n_mu, n_union), offsets (n_mu,)).
    """
    sets = [(fixed, fixed_coefs)]
    if background is not None:
        sets.append((background, background_weights))
    ids = np.concatenate([s.snp for s, _ in sets])
    _, first = np.unique(ids, return_index=True)
    order = np.sort(first)
    allsnps = SnpSet(
        *(
            np.concatenate([getattr(s, f) for s, _ in sets])[order]
            for f in ("snp", "chrom", "bp", "a1", "a2", "means", "sds")
        )
    )
    position = {snp: i for i, snp in enumerate(allsnps.snp)}
    per_allele = np.zeros((fixed_coefs.shape[0], len(allsnps)))
    offsets = np.array(covariate_constant, dtype=np.float64)
    for snps, coefs in sets:
        cols = np.array([position[x] for x in snps.snp], dtype=np.int64)
        weights = coefs / snps.sds
        np.add.at(per_allele, (slice(None), cols), weights)
        offsets = offsets - weights @ snps.means
    return allsnps, per_allele, offsets


def write_score(path: str, snps: SnpSet, per_allele: np.ndarray, header: list[str]) -> None:
    """plink2 --score file: SNP, A1, then one weight column per μ (SCORE_MU<k>)."""
    table = pd.DataFrame({"SNP": snps.snp, "A1": snps.a1})
    for k in range(per_allele.shape[0]):
        table[f"SCORE_MU{k}"] = per_allele[k]
    write_tsv(path, table, [], float_format="%.12g")
