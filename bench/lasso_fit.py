"""LMM-Lasso fit (issue 3): our working-set solver against scikit-learn and the original ADMM.

    .venv/bin/python bench/lasso_fit.py [--quick] [--repeats N] [--blas-threads T]

Data: GEMMA's example mouse set (Debian gemma-doc, gunzipped into bench/work/data): 1940 mice,
12226 SNPs read with bed_reader, monomorphic SNPs dropped, SNPs standardized (mean 0, sd 1,
ddof 0; missing calls mean-imputed). K is our realized relationship (`compute_kinship`, mean
diagonal 1); the null model is ours (`fit_null_model`, ML, intercept). The phenotype is
simulated on the real genotypes by `lmmlasso_cli.simulate`, with the design and generator of
`lmmlasso simulate --seed 20261121` (its first phenotype, SeedSequence(20261121).spawn(2)[0]):
20 causal SNPs (20% of the variance, N(0, 1) effects), a background u ~ N(0, K) (40%) and
noise (40%), made uncorrelated in the sample so that the shares are exact. The scaling
subsets draw from SeedSequence(20261121).spawn(2)[1].

With X̃ = P D Uᵀ X and ỹ = P D Uᵀ y (K = U S Uᵀ, D = (S + δ)^-1/2, P projects out the whitened
intercept), every solver minimizes ½‖ỹ − X̃w‖² + μ‖w‖₁ with μ absolute.

1. A 100-μ path (μ_max down to 1e-2·μ_max, tol 1e-7): `fit_lmm_lasso` (rotates only the SNPs
   that enter its working set) against `sklearn.linear_model.lasso_path(X̃, ỹ, alphas=μ/n)` on
   the fully rotated X̃ (rotation timed separately and added for the end-to-end figure).
   scikit-learn (1.9) stops when its duality gap of ½‖ỹ − X̃w‖² + nα‖w‖₁ (= ours with
   α = μ/n) is ≤ tol·‖ỹ‖², exactly our certificate, so both get tol = 1e-7; scikit-learn only
   evaluates its gap once the largest relative coefficient change of an epoch is ≤ tol. The
   bench recomputes both gaps itself on the full X̃.
2. One μ (the path's first μ with >= 20 SNPs): ours = eigh + null model + `fit_lmm_lasso(mu=)`
   against the original LMM-Lasso code's cost (BorgwardtLab/LMM-Lasso lmm_lasso.py, `train`
   and `train_lasso`, re-implemented here for timing): eigh + null model + rotation of all
   SNPs + Boyd's ADMM Lasso (Cholesky of I + X̃X̃ᵀ/ρ, ρ = 1, α = 1, max_iter 5000,
   abstol 1e-4, reltol 1e-2, zero_threshold 1e-3, objective monitored every iteration, and
   its stopping test as written: r_norm < eps_pri and r_norm < eps_dual). The ADMM gets the
   same X̃ (intercept projected out) so that objectives and coefficients compare.
3. Scaling: `fit_lmm_lasso` at one μ and on a 20-μ path, n in {500, 1000, 1940} random
   individuals × p in {3000, 6000, all} random SNPs (re-standardized, K and null model refitted
   on each subset), with the columns rotated and the number of X̃ᵀv products.
4. Peak RSS of `lmmlasso fit --mpheno 1 --n-mu 100` (GNU time) against one n×p float64 matrix.

Timings: best of `--repeats` (3) for runs under LONG_RUN seconds, one run otherwise; BLAS
limited to `--blas-threads` (1: the machine has 2 cores and is shared). Writes
bench/results/lasso_fit.json, or lasso_fit_quick.json with --quick (bench/report.py renders the
full run if there is one, else the quick one, into bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    LMMLASSO,
    RESULTS,
    WORK,
    ensure_tools,
    loadavg,
    machine,
    prepare_plink_set,
    rel,
    run,
    show_command,
    utc_timestamp,
    write_json,
)

RESULT_JSON = RESULTS / "lasso_fit.json"
QUICK_JSON = RESULTS / "lasso_fit_quick.json"
OUT = WORK / "lasso_fit"
SEED = 20261121
N_CAUSAL = 20
H2_SNPS, H2_BACKGROUND = 0.2, 0.4  # shares of the phenotype variance; noise has the rest
EFFECT_DIST = "normal"
N_MU = 100
MU_MIN_RATIO = 1e-2
TOL = 1e-7
MAX_EPOCHS = 10_000
SKLEARN_MAX_ITER = 10_000  # epochs per μ, as our max_epochs
SKLEARN_BUDGET = 3 * 3600.0  # seconds
TARGET_ACTIVE = 20
LONG_RUN = 30.0  # seconds: longer runs are timed once
SCALING_N = (500, 1000, 1940)
SCALING_P = (3000, 6000, 12000)  # capped at the SNPs available
SCALING_N_MU = 20
SCALING_MU_MIN_RATIO = 1e-1
# the original ADMM (lmm_lasso.py train_lasso defaults)
ADMM = {
    "rho": 1.0,
    "alpha": 1.0,
    "max_iter": 5000,
    "abstol": 1e-4,
    "reltol": 1e-2,
    "zero_threshold": 1e-3,
}


# ----------------------------------------------------------------------------- helpers


def source_hash() -> str:
    """sha256 over the package's .py files (path and content): which code was measured."""
    import hashlib

    root = Path(__file__).resolve().parent.parent / "lmmlasso_cli"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def best_of(fn, repeats: int):
    """Run fn() up to `repeats` times (once if the first run exceeds LONG_RUN seconds).

    Returns (best seconds, all seconds, result of the last run)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        if times[0] > LONG_RUN:
            break
    return min(times), times, result


def lasso_objective(X: np.ndarray, y: np.ndarray, w: np.ndarray, mu: float) -> float:
    """½‖y − Xw‖² + μ‖w‖₁ (plain numpy)."""
    support = np.flatnonzero(w)
    resid = y - X[:, support] @ w[support]
    return 0.5 * float(resid @ resid) + mu * float(np.abs(w).sum())


def lasso_gap(X: np.ndarray, y: np.ndarray, w: np.ndarray, mu: float) -> float:
    """Duality gap of ½‖y − Xw‖² + μ‖w‖₁ at w with the dual point θ = R·min(1, μ/‖XᵀR‖∞)."""
    support = np.flatnonzero(w)
    resid = y - X[:, support] @ w[support]
    dual_norm = float(np.max(np.abs(X.T @ resid)))
    const = min(1.0, mu / dual_norm) if dual_norm > 0 else 1.0
    primal = 0.5 * float(resid @ resid) + mu * float(np.abs(w).sum())
    dual = const * float(resid @ y) - 0.5 * const**2 * float(resid @ resid)
    return primal - dual


class Counting:
    """Replace `RotatedDesign` inside `lmmlasso_cli.lmmlasso` by a subclass that counts the
    X̃ᵀv products and remembers the columns rotated (a counter: no measurable overhead)."""

    def __init__(self):
        self.designs = []

    @contextlib.contextmanager
    def active(self):
        import lmmlasso_cli.lmmlasso as core
        from lmmlasso_cli.lasso.design import RotatedDesign

        designs = self.designs

        class CountingDesign(RotatedDesign):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.n_correlations = 0
                designs.append(self)

            def correlations(self, v):
                self.n_correlations += 1
                return super().correlations(v)

        original = core.RotatedDesign
        core.RotatedDesign = CountingDesign
        try:
            yield
        finally:
            core.RotatedDesign = original

    def last(self) -> dict:
        d = self.designs[-1]
        return {"n_rotated": int(d.n_rotated), "n_correlations": int(d.n_correlations)}


# ----------------------------------------------------------------------------- data


def read_counts(bfile: Path) -> np.ndarray:
    """A1 counts (n_samples, n_snps) float64 Fortran order, NaN for missing calls."""
    from bed_reader import open_bed

    with open_bed(str(bfile.with_suffix(".bed")), count_A1=True) as bed:
        return bed.read(dtype="float64", order="F")


def standardize_counts(counts: np.ndarray):
    """Standardized polymorphic SNPs (n, p) Fortran order and the kept mask (p_all,)."""
    from lmmlasso_cli.genotypes import filter_snps, snp_stats, standardize

    stats = snp_stats(counts)
    keep = filter_snps(stats).keep
    X = standardize(counts[:, keep], stats.means[keep], stats.sds[keep])
    return X, keep


def kinship_of(counts: np.ndarray) -> np.ndarray:
    from lmmlasso_cli.kinship import compute_kinship

    return compute_kinship([(np.arange(counts.shape[1]), counts)], counts.shape[0]).matrix


def simulate(X: np.ndarray, eig, rng: np.random.Generator):
    """One phenotype on the standardized SNPs X, as `lmmlasso simulate` draws it from `rng`:
    first the causal SNPs, then their effects, the background and the noise.

    Returns the lmmlasso_cli.simulate.SimulatedPhenotype and the causal columns of X."""
    from lmmlasso_cli.simulate import draw_causal, simulate_phenotype

    causal = draw_causal(X.shape[1], N_CAUSAL, rng)
    sim = simulate_phenotype(X[:, causal], eig, H2_SNPS, H2_BACKGROUND, rng, EFFECT_DIST)
    return sim, causal


def warm_up_numba() -> None:
    """Load (or compile) the numba kernels before any timing."""
    from lmmlasso_cli.lmmlasso import fit_lmm_lasso
    from lmmlasso_cli.settings import MuGrid

    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.normal(size=(60, 30)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_lmm_lasso(
            X, X[:, 0] + rng.normal(size=60), np.ones((60, 1)), None, 0.0, grid=MuGrid(n_mu=3)
        )


# ----------------------------------------------------------------------------- the original ADMM


def admm_lasso(X, y, mu, rho, alpha, max_iter, abstol, reltol, zero_threshold):
    """Boyd's ADMM Lasso as in LMM-Lasso's `train_lasso`: min ½‖y − Xw‖² + μ‖z‖₁, w = z.

    Same updates, monitor and stopping test as the original (which compares r_norm, not
    s_norm, with eps_dual); returns (w with |w| < zero_threshold set to 0, iterations).
    """
    from scipy import linalg

    n, p = X.shape
    w = np.zeros(p)
    z = np.zeros(p)
    u = np.zeros(p)
    factor = linalg.cholesky(X @ X.T / rho + np.eye(n))  # upper, as the original's factor()
    Xy = X.T @ y
    objval = []
    n_iter = 0
    for i in range(max_iter):
        n_iter = i + 1
        q = Xy + rho * (z - u)
        w = q / rho - X.T @ linalg.cho_solve((factor, False), X @ q) / rho**2
        z_old = z
        w_hat = alpha * w + (1 - alpha) * z_old
        v = w_hat + u
        kappa = mu / rho
        z = np.maximum(v - kappa, 0.0) - np.maximum(-v - kappa, 0.0)
        u = u + (w_hat - z)
        objval.append(0.5 * float(np.sum((X @ w - y) ** 2)) + mu * float(np.abs(z).sum()))
        r_norm = float(np.linalg.norm(w - z))
        float(np.linalg.norm(rho * (z - z_old)))  # s_norm: monitored, unused by the test
        eps_pri = math.sqrt(p) * abstol + reltol * max(np.linalg.norm(w), np.linalg.norm(z))
        eps_dual = math.sqrt(p) * abstol + reltol * float(np.linalg.norm(rho * u))
        if r_norm < eps_pri and r_norm < eps_dual:
            break
    w = w.copy()
    w[np.abs(w) < zero_threshold] = 0.0
    return w, n_iter


# ----------------------------------------------------------------------------- parts


def ours_path_timed(X, y, C, eig, log_delta):
    """fit_lmm_lasso on the 100-μ path; returns (fit, cumulative seconds after each μ)."""
    from lmmlasso_cli.lmmlasso import fit_lmm_lasso
    from lmmlasso_cli.settings import LassoSettings, MuGrid

    marks = []
    start = time.perf_counter()
    fit = fit_lmm_lasso(
        X,
        y,
        C,
        eig,
        log_delta,
        grid=MuGrid(n_mu=N_MU, mu_min_ratio=MU_MIN_RATIO),
        lasso=LassoSettings(tol=TOL, max_epochs=MAX_EPOCHS),
        progress=lambda k: marks.append(time.perf_counter() - start),
    )
    return fit, np.array(marks)


def sklearn_path_timed(X_rot, y_rot, mus, budget):
    """scikit-learn's lasso_path over `mus`, one μ per call, warm-started from the previous
    coefficients exactly as inside lasso_path (enet_path carries coef_ from one alpha to the
    next), so that the time after each μ is known and a wall-time budget can stop it.

    Returns (coefs (k, p), n_iter (k,), reported gaps (k,) on the n-scaled objective,
    cumulative seconds (k,)) for the k μ values done within the budget.
    """
    from sklearn.linear_model import lasso_path

    n = X_rot.shape[0]
    coef = np.zeros(X_rot.shape[1])
    coefs, iters, gaps, marks = [], [], [], []
    start = time.perf_counter()
    for mu in mus:
        _, c, g, it = lasso_path(
            X_rot,
            y_rot,
            alphas=[mu / n],
            coef_init=coef,
            tol=TOL,
            max_iter=SKLEARN_MAX_ITER,
            return_n_iter=True,
            check_input=False,
        )
        coef = np.ascontiguousarray(c[:, 0])
        coefs.append(coef.copy())
        iters.append(int(it[0]))
        gaps.append(float(g[0]) * n)  # lasso_path divides the gap by n_samples
        marks.append(time.perf_counter() - start)
        if len(marks) % 10 == 0:
            print(f"      sklearn: {len(marks)} μ, {marks[-1]:.0f} s", file=sys.stderr)
        if marks[-1] > budget:
            break
    return np.array(coefs), np.array(iters), np.array(gaps), np.array(marks)


def part_path(X, y, C, eig, log_delta, repeats, sklearn_budget):
    """1. 100-μ path: fit_lmm_lasso against sklearn lasso_path on the fully rotated matrix."""
    from lmmlasso_cli.lasso.design import RotatedDesign

    print(f"[1] {N_MU}-μ path, load {loadavg()}", file=sys.stderr)
    counter = Counting()
    with counter.active(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t_ours, all_ours, (fit, ours_marks) = best_of(
            partial(ours_path_timed, X, y, C, eig, log_delta), repeats
        )
    ours_warnings = [str(w.message) for w in caught]
    path = fit.path
    mus = path.mus
    coefs_ours = path.coefs.toarray()
    print(f"    ours {t_ours:.1f} s", file=sys.stderr)

    design = RotatedDesign(X, eig.eigvecs, eig.eigvals, math.exp(log_delta), C)
    t_rot, all_rot, X_rot = best_of(lambda: np.asfortranarray(design.rotate(X)), repeats)
    y_rot = design.rotate_target(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t_skl, all_skl, out = best_of(
            partial(sklearn_path_timed, X_rot, y_rot, mus, sklearn_budget), repeats
        )
    skl_warnings = [str(w.message)[:300] for w in caught]
    coefs_skl, iters_skl, gaps_skl, skl_marks = out
    n_done = len(coefs_skl)
    complete = n_done == len(mus)
    print(f"    sklearn {t_skl:.1f} s for {n_done} μ (+ rotation {t_rot:.1f} s)", file=sys.stderr)
    mus_all, coefs_ours_all = mus, coefs_ours
    mus, coefs_ours = mus[:n_done], coefs_ours[:n_done]
    t_ours_common = float(ours_marks[n_done - 1])
    y_norm2 = float(y_rot @ y_rot)

    def per_mu(fn, coefs):
        return np.array([fn(X_rot, y_rot, w, m) for w, m in zip(coefs, mus, strict=True)])

    gap_ours, gap_skl = per_mu(lasso_gap, coefs_ours), per_mu(lasso_gap, coefs_skl)
    obj_ours = per_mu(lasso_objective, coefs_ours)
    obj_skl = per_mu(lasso_objective, coefs_skl)
    dw = np.abs(coefs_ours - coefs_skl).max(axis=1)
    support_diff = np.array(
        [int(np.sum((coefs_ours[k] != 0) != (coefs_skl[k] != 0))) for k in range(len(mus))]
    )
    return (
        {
            "n_mu": int(len(mus_all)),
            "n_mu_sklearn_done": n_done,
            "sklearn_complete": complete,
            "sklearn_budget_seconds": sklearn_budget,
            "mu_max": float(fit.mu_max),
            "mus": mus_all,
            "tol": TOL,
            "tol_gap": TOL * y_norm2,
            "y_rot_norm2": y_norm2,
            "sklearn_tol": TOL,
            "sklearn_max_iter": SKLEARN_MAX_ITER,
            "ours_seconds": t_ours,
            "ours_all_seconds": all_ours,
            "ours_cumulative_seconds": ours_marks,
            "ours_seconds_common": t_ours_common,
            "ours_n_active": path.n_active,
            "ours_n_epochs": path.n_epochs,
            "ours_converged": bool(path.converged.all()),
            "ours_n_not_converged": int((~path.converged).sum()),
            "ours_reported_gaps": path.gaps,
            "ours_warnings": ours_warnings,
            "ours_n_rotated": counter.last()["n_rotated"],
            "ours_n_correlations": counter.last()["n_correlations"],
            "ours_coefs_last": coefs_ours_all[-1],
            "rotation_seconds": t_rot,
            "rotation_all_seconds": all_rot,
            "sklearn_seconds": t_skl,
            "sklearn_all_seconds": all_skl,
            "sklearn_cumulative_seconds": skl_marks,
            "sklearn_n_iter": iters_skl,
            "sklearn_n_at_max_iter": int(np.sum(iters_skl >= SKLEARN_MAX_ITER)),
            "sklearn_reported_gaps": gaps_skl,
            "sklearn_warnings": skl_warnings,
            "sklearn_n_active": (coefs_skl != 0).sum(axis=1),
            "gap_ours": gap_ours,
            "gap_sklearn": gap_skl,
            "max_gap_ours_rel": float(gap_ours.max() / y_norm2),
            "max_gap_sklearn_rel": float(gap_skl.max() / y_norm2),
            "n_mu_sklearn_gap_above_tol": int(np.sum(gap_skl > TOL * y_norm2)),
            "ours_gap_check_rel": float(np.max(np.abs(gap_ours - path.gaps[:n_done])) / y_norm2),
            "sklearn_gap_check_rel": float(np.max(np.abs(gap_skl - gaps_skl)) / y_norm2),
            "objective_ours": obj_ours,
            "objective_sklearn": obj_skl,
            "max_objective_diff_rel": float(np.max(np.abs(obj_ours - obj_skl)) / y_norm2),
            "max_abs_dw_per_mu": dw,
            "max_abs_dw": float(dw.max()),
            "argmax_abs_dw": int(np.argmax(dw)),
            "max_abs_w": float(np.abs(coefs_ours).max()),
            "support_differences": support_diff,
            "ratio_sklearn_over_ours": t_skl / t_ours_common,
            "ratio_sklearn_plus_rotation_over_ours": (t_skl + t_rot) / t_ours_common,
        },
        X_rot,
        y_rot,
    )


def part_single(K, X, y, C, mus, n_active, X_rot, y_rot, repeats):
    """2. One μ with ~20 SNPs: ours against the original code's cost (full rotation + ADMM)."""
    from lmmlasso_cli.lasso.design import RotatedDesign
    from lmmlasso_cli.lmmlasso import fit_lmm_lasso
    from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
    from lmmlasso_cli.settings import LassoSettings

    print(f"[2] single μ, load {loadavg()}", file=sys.stderr)
    k = int(np.argmax(n_active >= TARGET_ACTIVE))
    mu = float(mus[k])
    t_eigh, all_eigh, eig = best_of(lambda: eigendecompose(K), repeats)
    t_null, all_null, null = best_of(lambda: fit_null_model(y, eig, C), repeats)
    counter = Counting()
    with counter.active():
        t_fit, all_fit, fit = best_of(
            lambda: fit_lmm_lasso(
                X, y, C, eig, null.log_delta, mu=mu, lasso=LassoSettings(tol=TOL)
            ),
            repeats,
        )
    w_ours = fit.path.coefs.toarray().ravel()

    def rotate_all():
        # the original: SUX = Uᵀ X scaled by (S + δ)^-1/2; here also P (intercept), O(np)
        design = RotatedDesign(X, eig.eigvecs, eig.eigvals, math.exp(null.log_delta), C)
        return design.rotate(X)

    t_rot, all_rot, _ = best_of(rotate_all, repeats)
    print(f"    ours fit {t_fit:.2f} s; full rotation {t_rot:.2f} s", file=sys.stderr)
    t_admm, all_admm, (w_admm, admm_iter) = best_of(
        lambda: admm_lasso(X_rot, y_rot, mu, **ADMM), repeats
    )
    print(f"    ADMM {t_admm:.1f} s, {admm_iter} iterations", file=sys.stderr)
    y_norm2 = float(y_rot @ y_rot)
    obj_ours = lasso_objective(X_rot, y_rot, w_ours, mu)
    obj_admm = lasso_objective(X_rot, y_rot, w_admm, mu)
    ours_total = t_eigh + t_null + t_fit
    orig_total = t_eigh + t_null + t_rot + t_admm
    return {
        "mu_index": k,
        "mu": mu,
        "mu_over_mu_max": mu / float(mus[0]),
        "eigh_seconds": t_eigh,
        "eigh_all_seconds": all_eigh,
        "null_seconds": t_null,
        "null_all_seconds": all_null,
        "ours_fit_seconds": t_fit,
        "ours_fit_all_seconds": all_fit,
        "ours_n_rotated": counter.last()["n_rotated"],
        "ours_n_correlations": counter.last()["n_correlations"],
        "ours_n_epochs": int(fit.path.n_epochs[0]),
        "ours_n_active": int(fit.path.n_active[0]),
        "ours_gap": lasso_gap(X_rot, y_rot, w_ours, mu),
        "full_rotation_seconds": t_rot,
        "full_rotation_all_seconds": all_rot,
        "admm_seconds": t_admm,
        "admm_all_seconds": all_admm,
        "admm_iterations": admm_iter,
        "admm_settings": ADMM,
        "admm_n_active": int(np.count_nonzero(w_admm)),
        "admm_gap": lasso_gap(X_rot, y_rot, w_admm, mu),
        "objective_ours": obj_ours,
        "objective_admm": obj_admm,
        "objective_diff_rel": (obj_admm - obj_ours) / y_norm2,
        "y_rot_norm2": y_norm2,
        "max_abs_dw": float(np.max(np.abs(w_ours - w_admm))),
        "max_abs_w": float(np.max(np.abs(w_ours))),
        "support_ours_not_admm": int(np.sum((w_ours != 0) & (w_admm == 0))),
        "support_admm_not_ours": int(np.sum((w_admm != 0) & (w_ours == 0))),
        "ours_total_seconds": ours_total,
        "original_total_seconds": orig_total,
        "ratio_original_over_ours": orig_total / ours_total,
    }


def part_scaling(counts_all, y_all, mu_ratio, repeats, grid_n, grid_p, rng):
    """3. fit_lmm_lasso at one μ and on a 20-μ path over subsets of individuals and SNPs
    (drawn from the generator `rng`)."""
    from lmmlasso_cli.lmmlasso import fit_lmm_lasso
    from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
    from lmmlasso_cli.settings import LassoSettings, MuGrid

    rows_out = []
    n_all = counts_all.shape[0]
    for n in grid_n:
        rows = np.sort(rng.choice(n_all, n, replace=False)) if n < n_all else np.arange(n_all)
        counts = np.asfortranarray(counts_all[rows])
        X_n, _ = standardize_counts(counts)
        K = kinship_of(counts)
        y = y_all[rows]
        y = (y - y.mean()) / y.std()
        C = np.ones((n, 1))
        t_eigh, all_eigh, eig = best_of(partial(eigendecompose, K), repeats)
        t_null, _, null = best_of(partial(fit_null_model, y, eig, C), repeats)
        for p_req in grid_p:
            p = min(p_req, X_n.shape[1])
            cols = np.sort(rng.choice(X_n.shape[1], p, replace=False))
            X = np.asfortranarray(X_n[:, cols])
            print(f"[3] n={n} p={p}, load {loadavg()}", file=sys.stderr)
            counter = Counting()
            with counter.active(), warnings.catch_warnings(record=True) as caught_one:
                warnings.simplefilter("always")
                top = fit_lmm_lasso(X, y, C, eig, null.log_delta, grid=MuGrid(n_mu=1)).mu_max
                t_one, all_one, one = best_of(
                    partial(
                        fit_lmm_lasso,
                        X,
                        y,
                        C,
                        eig,
                        null.log_delta,
                        mu=mu_ratio * top,
                        lasso=LassoSettings(tol=TOL),
                    ),
                    repeats,
                )
                one_counts = counter.last()
            with counter.active(), warnings.catch_warnings(record=True) as caught_path:
                warnings.simplefilter("always")
                t_path, all_path, pth = best_of(
                    partial(
                        fit_lmm_lasso,
                        X,
                        y,
                        C,
                        eig,
                        null.log_delta,
                        grid=MuGrid(n_mu=SCALING_N_MU, mu_min_ratio=SCALING_MU_MIN_RATIO),
                        lasso=LassoSettings(tol=TOL),
                    ),
                    repeats,
                )
                path_counts = counter.last()
            rows_out.append(
                {
                    "n": n,
                    "p_requested": p_req,
                    "p": p,
                    "eigh_seconds": t_eigh,
                    "eigh_all_seconds": all_eigh,
                    "null_seconds": t_null,
                    "log_delta": null.log_delta,
                    "one_mu_seconds": t_one,
                    "one_mu_all_seconds": all_one,
                    "one_mu_n_active": int(one.path.n_active[0]),
                    "one_mu_n_epochs": int(one.path.n_epochs[0]),
                    "one_mu_converged": bool(one.path.converged[0]),
                    "one_mu_n_rotated": one_counts["n_rotated"],
                    "one_mu_n_correlations": one_counts["n_correlations"],
                    "path_seconds": t_path,
                    "path_all_seconds": all_path,
                    "path_n_active_last": int(pth.path.n_active[-1]),
                    "path_n_epochs_total": int(pth.path.n_epochs.sum()),
                    "path_converged": bool(pth.path.converged.all()),
                    "path_n_rotated": path_counts["n_rotated"],
                    "path_n_correlations": path_counts["n_correlations"],
                    "warnings": [str(w.message)[:300] for w in caught_one + caught_path],
                    "loadavg": loadavg(),
                }
            )
            r = rows_out[-1]
            print(
                f"    one μ {t_one:.2f} s ({r['one_mu_n_active']} SNPs), path {t_path:.2f} s "
                f"({r['path_n_active_last']} SNPs at the end)",
                file=sys.stderr,
            )
    return rows_out


def part_memory(bfile: Path):
    """4. Peak RSS of the CLI fit on mouse phenotype 1 against one n×p float64 matrix."""
    print(f"[4] CLI memory, load {loadavg()}", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    kin_cmd = [str(LMMLASSO), "kinship", "--bfile", str(bfile), "--out", str(OUT / "mouse")]
    kin_run = run(kin_cmd, OUT / "cli_kinship")
    fit_cmd = [
        str(LMMLASSO),
        "fit",
        "--bfile",
        str(bfile),
        "--kinship",
        str(OUT / "mouse.kinship.npz"),
        "--mpheno",
        "1",
        "--n-mu",
        str(N_MU),
        "--mu-min-ratio",
        str(MU_MIN_RATIO),
        "--out",
        str(OUT / "cli_fit"),
    ]
    fit_run = run(fit_cmd, OUT / "cli_fit_cmd")
    log = (OUT / "cli_fit.log").read_text()
    match = re.search(r"SNPs: (\d+) analysed over (\d+) individuals", log)
    p, n = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    matrix_mb = n * p * 8 / 2**20
    summary = next((line.strip() for line in log.splitlines() if "path of" in line), "")
    return {
        "kinship_command": show_command(kin_cmd),
        "fit_command": show_command(fit_cmd),
        "kinship_seconds": kin_run.seconds,
        "kinship_max_rss_mb": kin_run.max_rss_mb,
        "fit_seconds": fit_run.seconds,
        "fit_cpu_seconds": fit_run.cpu_seconds,
        "fit_max_rss_mb": fit_run.max_rss_mb,
        "n_analysed": n,
        "p_analysed": p,
        "one_matrix_mb": matrix_mb,
        "rss_over_matrix": fit_run.max_rss_mb / matrix_mb if matrix_mb else float("nan"),
        "full_matrix_mb_1940": 1940 * p * 8 / 2**20,
        "fit_log_path_line": summary,
    }


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run per timing and a 2 × 2 scaling grid (n 500, 1940; p 3000, all)",
    )
    parser.add_argument("--repeats", type=int, help="timed runs for short steps (default 3)")
    parser.add_argument(
        "--sklearn-budget",
        type=float,
        default=SKLEARN_BUDGET,
        help=f"stop scikit-learn's path after the μ that exceeds this many seconds "
        f"(default {SKLEARN_BUDGET:g}); the comparison is then on the μ it finished",
    )
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    load_start = loadavg()
    print(f"load average at start: {load_start}", file=sys.stderr)
    code_hash = source_hash()

    import numpy
    import sklearn
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(args.blas_threads)
    from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model

    ensure_tools()
    bfile = prepare_plink_set("mouse_hs1940")
    warm_up_numba()

    counts = read_counts(bfile)
    X, keep = standardize_counts(counts)
    n, p = X.shape
    K = kinship_of(counts)
    eig = eigendecompose(K)
    # child 0 is what replicate_generators(SEED, 1)[0], and so `lmmlasso simulate`, uses
    pheno_rng, scaling_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(SEED).spawn(2)
    )
    sim, causal = simulate(X, eig, pheno_rng)
    y = sim.values
    C = np.ones((n, 1))
    null = fit_null_model(y, eig, C)
    data = {
        "bfile": rel(bfile),
        "n": n,
        "p": p,
        "n_snps_bim": int(counts.shape[1]),
        "n_monomorphic": int((~keep).sum()),
        "seed": SEED,
        "simulation": {
            "function": "lmmlasso_cli.simulate.simulate_phenotype after draw_causal",
            "generator": f"np.random.SeedSequence({SEED}).spawn(2)[0], as "
            f"lmmlasso_cli.simulate.replicate_generators({SEED}, 1)[0]",
            "n_causal": N_CAUSAL,
            "h2_snps": H2_SNPS,
            "h2_background": H2_BACKGROUND,
            "effect_dist": EFFECT_DIST,
            "realized_shares": {
                part: float(np.var(values) / np.var(y))
                for part, values in (
                    ("planted", sim.planted),
                    ("background", sim.background),
                    ("noise", sim.noise),
                )
            },
            "stream_change": "results without this entry came from the bench's own simulator "
            f"on np.random.default_rng({SEED}) (same draws in the same order, but the parts "
            "were scaled one by one and y standardized afterwards, so the shares were not "
            "exact in the sample), and their scaling subsets from "
            f"SeedSequence({SEED}).spawn(1)[0]: causal SNPs, phenotype and subsets differ",
        },
        "causal_snps": causal,
        "causal_effects_std": sim.beta_std,
        "log_delta": null.log_delta,
        "h2": null.h2,
        "null_at_boundary": null.at_boundary,
    }

    p1, X_rot, y_rot = part_path(X, y, C, eig, null.log_delta, repeats, args.sklearn_budget)
    p2 = part_single(K, X, y, C, p1["mus"], p1["ours_n_active"], X_rot, y_rot, repeats)
    del X_rot
    grid_n = (SCALING_N[0], SCALING_N[-1]) if args.quick else SCALING_N
    grid_p = (SCALING_P[0], SCALING_P[-1]) if args.quick else SCALING_P
    scaling = part_scaling(counts, y, p2["mu_over_mu_max"], repeats, grid_n, grid_p, scaling_rng)
    memory = part_memory(bfile)
    result = {
        "date": utc_timestamp(),
        "quick": args.quick,
        "repeats": repeats,
        "blas_threads": args.blas_threads,
        "threadpools": threadpool_info(),
        "machine": machine(),
        "sklearn_version": sklearn.__version__,
        "numpy_version": numpy.__version__,
        "loadavg_start": load_start,
        "lmmlasso_source_sha256": code_hash,
        "loadavg_end": loadavg(),
        "data": data,
        "path": p1,
        "single": p2,
        "scaling": scaling,
        "memory": memory,
        "settings": {
            "n_mu": N_MU,
            "mu_min_ratio": MU_MIN_RATIO,
            "tol": TOL,
            "max_epochs": MAX_EPOCHS,
            "target_active": TARGET_ACTIVE,
            "long_run_seconds": LONG_RUN,
            "scaling_n": grid_n,
            "scaling_p": grid_p,
            "scaling_generator": f"np.random.SeedSequence({SEED}).spawn(2)[1]",
            "scaling_n_mu": SCALING_N_MU,
            "scaling_mu_min_ratio": SCALING_MU_MIN_RATIO,
        },
    }
    out = QUICK_JSON if args.quick else RESULT_JSON
    write_json(out, result)
    print(f"wrote {rel(out)}; `python bench/report.py` renders it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
