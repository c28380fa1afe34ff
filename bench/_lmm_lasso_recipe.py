"""LMM-Lasso as one would write it with numpy and scikit-learn: the peer of a warm
`lmmlasso fit --mpheno 1 --mu MU` in bench/startup.py. It imports nothing from lmmlasso_cli.

    python bench/_lmm_lasso_recipe.py PREFIX KINSHIP.npz NULL.npz MU OUT.npz

The same data and problem as `lmmlasso fit --mpheno 1 --mu MU` (lmmlasso_cli/lmmlasso.py):
the individuals with a value in .fam column 6; SNPs as A1 counts, standardized to mean 0 and
sd 1 (ddof 0, missing calls at the mean), monomorphic and all-missing SNPs dropped; y
standardized (ddof 0); K (KINSHIP.npz, `lmmlasso kinship`) restricted to those individuals;
δ = exp(log δ) from NULL.npz (`lmmlasso fit-null`, ML, as `fit` refits it). With
K = U diag(S) Uᵀ (numpy.linalg.eigh, S clipped at 0) and D = diag((S + δ)^-1/2):

    X̃ = P D Uᵀ X,  ỹ = P D Uᵀ y,  P = I − c̃c̃ᵀ/‖c̃‖²,  c̃ = D Uᵀ1 (the intercept),

every SNP rotated (one n × n by n × p product), then sklearn.linear_model.Lasso(alpha=μ/n,
fit_intercept=False, tol=1e-7, max_iter=10000) minimizes (1/2n)‖ỹ − X̃w‖² + (μ/n)‖w‖₁: ours,
½‖ỹ − X̃w‖² + μ‖w‖₁, divided by n, with the same duality-gap stopping rule (gap ≤ tol·‖ỹ‖²).

Writes OUT.npz (``snp``: the IDs of the analysed SNPs, ``coefs``: w on the standardized scale)
and prints the seconds of each phase as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import time

START = time.perf_counter()

import numpy as np  # noqa: E402
from bed_reader import open_bed  # noqa: E402
from sklearn.linear_model import Lasso  # noqa: E402

TOL, MAX_ITER = 1e-7, 10_000  # as lmmlasso's defaults (--tol, --max-epochs)
FAM_MISSING = {"NA", "-9", "nan", "NaN", ""}


def main(prefix: str, kinship_path: str, null_path: str, mu: float, out: str) -> None:
    phases = {"imports": time.perf_counter() - START}
    tick = time.perf_counter()
    fam = [line.split() for line in open(f"{prefix}.fam")]
    snp_ids = np.array([line.split()[1] for line in open(f"{prefix}.bim")])
    iid = np.array([row[1] for row in fam])
    pheno = np.array([np.nan if row[5] in FAM_MISSING else float(row[5]) for row in fam])
    rows = np.flatnonzero(np.isfinite(pheno))
    y = pheno[rows]
    y = (y - y.mean()) / y.std()
    with open_bed(f"{prefix}.bed", count_A1=True) as bed:
        G = bed.read(index=np.s_[rows, :], dtype="float64", order="F")
    observed = ~np.isnan(G)
    n_obs = observed.sum(axis=0)
    means = np.where(observed, G, 0.0).sum(axis=0) / np.maximum(n_obs, 1)
    centred = np.where(observed, G - means, 0.0)
    sds = np.sqrt((centred**2).sum(axis=0) / len(rows))
    keep = (n_obs > 0) & (sds > 1e-8)
    X = centred[:, keep] / sds[keep]
    with np.load(kinship_path) as z:
        K, kin_iid = z["K"], z["iid"].astype(str)
    at = {v: i for i, v in enumerate(kin_iid)}
    sub = np.array([at[v] for v in iid[rows]])
    K = K[np.ix_(sub, sub)]
    with np.load(null_path) as z:
        delta = float(np.exp(z["log_delta"][0]))
    phases["read"] = time.perf_counter() - tick

    tick = time.perf_counter()
    S, U = np.linalg.eigh(K)
    S = np.maximum(S, 0.0)
    phases["eigh"] = time.perf_counter() - tick

    tick = time.perf_counter()
    d = 1.0 / np.sqrt(S + delta)
    c = d * U.sum(axis=0)  # D Uᵀ1
    Xr = d[:, None] * (U.T @ X)
    yr = d * (U.T @ y)
    Xr -= np.outer(c, (c @ Xr) / (c @ c))
    yr -= c * ((c @ yr) / (c @ c))
    phases["rotation"] = time.perf_counter() - tick

    tick = time.perf_counter()
    n = len(yr)
    lasso = Lasso(alpha=mu / n, fit_intercept=False, tol=TOL, max_iter=MAX_ITER)
    lasso.fit(np.asfortranarray(Xr), yr)
    phases["lasso"] = time.perf_counter() - tick

    np.savez(out, snp=snp_ids[keep], coefs=lasso.coef_)
    phases["n_samples"], phases["n_snps"] = int(n), int(keep.sum())
    phases["n_selected"], phases["n_iter"] = int(np.count_nonzero(lasso.coef_)), int(lasso.n_iter_)
    phases["total"] = time.perf_counter() - START
    print(json.dumps(phases))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
