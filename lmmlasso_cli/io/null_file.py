"""``PREFIX.null.npz``: what `fit` needs from `fit-null`.

One eigendecomposition per group of phenotypes that share their non-missing individuals
(``group{g}_eigvals``, ``group{g}_eigvecs``, ``group{g}_fid``, ``group{g}_iid``), and per phenotype
its group, log δ, variance components and covariate coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmmlasso_cli.errors import ArtifactError, SampleMismatchError
from lmmlasso_cli.io.artifacts import load_npz, save_npz, write_tsv
from lmmlasso_cli.nullmodel import KinshipEigen


@dataclass(frozen=True)
class NullEntry:
    """The stored null model of one phenotype."""

    pheno: str
    log_delta: float
    sigma2_g: float
    sigma2_e: float
    h2: float
    method: str
    fid: np.ndarray
    iid: np.ndarray
    eig: KinshipEigen
    meta: dict


def save_null(path: str, meta: dict, groups: list, rows: list) -> None:
    """``groups``: [(fid, iid, KinshipEigen)]; ``rows``: [(pheno name, group, NullModel)]."""
    nulls = [null for _, _, null in rows]
    arrays = {
        "fid": np.concatenate([g[0] for g in groups]),
        "iid": np.concatenate([g[1] for g in groups]),
        "pheno_names": np.array([name for name, _, _ in rows]),
        "pheno_group": np.array([group for _, group, _ in rows]),
        "log_delta": np.array([n.log_delta for n in nulls]),
        "sigma2_g": np.array([n.sigma2_g for n in nulls]),
        "sigma2_e": np.array([n.sigma2_e for n in nulls]),
        "h2": np.array([n.h2 for n in nulls]),
        "method": np.array([n.method for n in nulls]),
    }
    for g, (fid, iid, eig) in enumerate(groups):
        arrays[f"group{g}_fid"] = fid
        arrays[f"group{g}_iid"] = iid
        arrays[f"group{g}_eigvals"] = eig.eigvals
        arrays[f"group{g}_eigvecs"] = eig.eigvecs
    save_npz(path, "null", meta, arrays)


def write_null_table(path: str, fits: list, n_snps_kinship: int, covariate_names) -> None:
    """PREFIX.null.tsv: one row per (PreparedPhenotype, NullModel) of ``fits``."""
    import pandas as pd

    table = []
    for pheno, null in fits:
        record = {
            "PHENO": pheno.name,
            "N": null.n_samples,
            "N_SNPS_KINSHIP": n_snps_kinship,
            "METHOD": null.method,
            "LOG_DELTA": null.log_delta,
            "DELTA": null.delta,
            "SIGMA2_G": null.sigma2_g,
            "SIGMA2_E": null.sigma2_e,
            "H2": null.h2,
            "H2_SE": null.h2_se,
            "LOGLIK": null.loglik,
            "BOUNDARY": int(null.at_boundary),
            "TRANSFORM": pheno.transform.kind,
        }
        for name, coef, se in zip(covariate_names, null.coefs, null.coefs_se, strict=True):
            record[f"BETA_{name}"] = coef
            record[f"SE_{name}"] = se
        table.append(record)
    write_tsv(path, pd.DataFrame(table))


def load_nulls(path: str, phenos: list[str]) -> list[NullEntry]:
    """The null models of ``phenos`` from one read of ``path``; phenotypes of one group share
    one `KinshipEigen` (an n × n array once, however many phenotypes use it)."""
    art = load_npz(path, "null", ("fid", "iid", "pheno_names", "pheno_group", "log_delta"))
    names = [str(n) for n in art["pheno_names"]]
    absent = [pheno for pheno in phenos if pheno not in names]
    if absent:
        raise ArtifactError(
            f"{path}: has no null model for phenotype {absent[0]!r} (it has "
            f"{', '.join(names)}); run `lmmlasso fit-null` for it"
        )
    groups: dict[int, tuple] = {}
    entries = []
    for pheno in phenos:
        j = names.index(pheno)
        g = int(art["pheno_group"][j])
        if g not in groups:
            try:
                eig = KinshipEigen(art[f"group{g}_eigvals"], art[f"group{g}_eigvecs"], 0)
                fid, iid = art[f"group{g}_fid"].astype(str), art[f"group{g}_iid"].astype(str)
            except KeyError:
                raise ArtifactError(
                    f"{path}: eigendecomposition {g} is missing; re-create it"
                ) from None
            groups[g] = (eig, fid, iid)
        eig, fid, iid = groups[g]
        entries.append(
            NullEntry(
                pheno=pheno,
                log_delta=float(art["log_delta"][j]),
                sigma2_g=float(art["sigma2_g"][j]),
                sigma2_e=float(art["sigma2_e"][j]),
                h2=float(art["h2"][j]),
                method=str(art["method"][j]),
                fid=fid,
                iid=iid,
                eig=eig,
                meta=art.meta,
            )
        )
    return entries


def check_same_covariates(entry: NullEntry, covariate_names, path: str) -> None:
    """The null model must have been fitted with these covariates (by name, in this order)."""
    fitted = entry.meta.get("covariate_names")
    if fitted is not None and list(fitted) != list(covariate_names):
        raise SampleMismatchError(
            f"{path}: phenotype {entry.pheno} was fitted with the covariates "
            f"{', '.join(fitted)} but these options give {', '.join(covariate_names)}; re-run "
            f"`lmmlasso fit-null` with the same --covar/--covar-name/--pcs options"
        )


def check_same_samples(entry: NullEntry, fid, iid, path: str, bfile: str) -> None:
    """The null model must have been fitted on exactly these individuals, in this order."""
    if len(entry.iid) != len(iid) or not (
        np.array_equal(entry.fid, fid) and np.array_equal(entry.iid, iid)
    ):
        raise SampleMismatchError(
            f"{path}: phenotype {entry.pheno} was fitted on {len(entry.iid)} individuals but "
            f"{bfile} with these options gives {len(iid)} (or another order); re-run "
            f"`lmmlasso fit-null` with the same --pheno/--covar/--keep options"
        )
