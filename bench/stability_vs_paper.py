"""Stability selection: `lmmlasso stability` against the paper's procedure (issue 4).

    .venv/bin/python bench/stability_vs_paper.py [--n-reps 100] [--paper-reps 10]

Data: GEMMA's example mouse set (1940 mice x 12226 SNPs, gunzipped into bench/work/data) with a
phenotype simulated over all 1940 mice (20 causal SNPs, a polygenic part and noise; seed fixed).

1. `lmmlasso kinship`, then `lmmlasso stability --n-reps N --n-active 20` with --threads 2 and
   --threads 1 (whole commands: reading the .bed and everything else included), and a check
   that the two TSVs are byte-identical.
2. The paper's procedure, re-implemented here only (the original LMM-Lasso code's
   `stability_selection` -> `train`): for each replicate, serially, in one process, with one
   BLAS thread: eigh of K_sub, the ML null model on a grid of 100 intervals over log δ in
   [-5, 5] refined by Brent at every interior local minimum (with the intercept, as ours), a FULL
   rotation of all SNPs (S^-1/2 Uᵀ X), and scikit-learn's `Lasso` on the fully rotated matrix at
   the μ our replicate used (alpha = μ/n, intercept projected out, tol 1e-7 as ours). Same
   subsamples as ours (SeedSequence(0).spawn(N)[i]). Only the replicate loop is timed (not the
   reading of the data), over --paper-reps replicates, and extrapolated linearly to N.
3. Agreement: per replicate, |Δ log δ| and whether the selected SNP sets are identical.
4. Writes bench/results/stability_vs_paper.json (bench/report.py renders it into
   bench/README.md).

`python bench/stability_vs_paper.py paper ...` is the paper worker (run as a child process).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    LMMLASSO,
    RESULTS,
    WORK,
    loadavg,
    machine,
    prepare_plink_set,
    rel,
    run,
    show_command,
    utc_timestamp,
    write_json,
)

RESULT_JSON = RESULTS / "stability_vs_paper.json"
HERE = WORK / "stability"
N_CAUSAL = 20
N_ACTIVE = 20
SHARES = {"causal": 0.3, "polygenic": 0.3, "noise": 0.4}
SIM_SEED = 20260417
NULL_GRID, LOG_DELTA_RANGE = 100, (-5.0, 5.0)  # the original code's defaults
LASSO_TOL = 1e-7  # as `lmmlasso stability --tol` (default)
LASSO_MAX_ITER = 100_000
DUPLICATE_RTOL = 1e-9  # |r| above 1 - this: identical columns in the subsample
SUPPORT_ATOL = 1e-10  # scikit-learn leaves ~1e-17 values on ties; below this counts as 0


# ----------------------------------------------------------------------------- data


def simulate_phenotype(prefix: Path, out: Path) -> dict:
    """sim = causal + polygenic + noise over all individuals of ``prefix``, written as a table."""
    from bed_reader import open_bed

    with open_bed(str(prefix) + ".bed") as bed:
        G = bed.read(dtype="float64")
        fid, iid = bed.fid, bed.iid
    rng = np.random.default_rng(SIM_SEED)
    means = np.nanmean(G, axis=0)
    G = np.where(np.isnan(G), means, G)
    sds = G.std(axis=0)
    maf = np.minimum(means / 2, 1 - means / 2)
    usable = np.flatnonzero((sds > 0) & (maf >= 0.05))
    Z = (G[:, usable] - means[usable]) / sds[usable]
    causal = np.sort(rng.choice(usable.size, N_CAUSAL, replace=False))
    beta = rng.choice([-1.0, 1.0], N_CAUSAL) * rng.uniform(0.5, 1.5, N_CAUSAL)
    parts = {
        "causal": Z[:, causal] @ beta,
        "polygenic": Z @ rng.standard_normal(usable.size),
        "noise": rng.standard_normal(len(iid)),
    }
    y = sum(np.sqrt(SHARES[k] / parts[k].var()) * parts[k] for k in parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as handle:
        handle.write("FID IID sim\n")
        for f, i, v in zip(fid, iid, y, strict=True):
            handle.write(f"{f} {i} {v:.8f}\n")
    return {"n": len(iid), "causal_columns": usable[causal].tolist()}


# ----------------------------------------------------------------------------- paper worker


def _nll(log_delta, S, Uy, UC):
    """ML negative log-likelihood of the null LMM with covariates C, profiled (original code's
    nLLeval, plus the GLS intercept)."""
    n = len(Uy)
    d = 1.0 / (S + np.exp(log_delta))
    A = (UC * d[:, None]).T @ UC
    alpha = np.linalg.solve(A, (UC * d[:, None]).T @ Uy)
    r = Uy - UC @ alpha
    rss = float(np.sum(d * r * r))
    return 0.5 * (n * np.log(2 * np.pi * rss / n) + np.sum(np.log(S + np.exp(log_delta))) + n)


def paper_null_model(y, K, C):
    from scipy import linalg, optimize

    S, U = linalg.eigh(K)
    S = np.clip(S, 0, None)
    Uy, UC = U.T @ y, U.T @ C
    lo, hi = LOG_DELTA_RANGE
    grid = np.linspace(lo, hi, NULL_GRID + 1)
    nll = np.array([_nll(g, S, Uy, UC) for g in grid])
    best, best_f = grid[nll.argmin()], nll.min()
    for i in range(1, NULL_GRID):
        if nll[i] < nll[i - 1] and nll[i] < nll[i + 1]:
            x, f, *_ = optimize.brent(
                _nll, (S, Uy, UC), (grid[i - 1], grid[i], grid[i + 1]), full_output=True
            )
            if f < best_f and lo <= x <= hi:
                best, best_f = x, f
    return S, U, float(best)


def paper_replicate(X, y, K, mu):
    """Full training as the paper: null model, full rotation, scikit-learn Lasso at μ."""
    from sklearn.linear_model import Lasso

    n = len(y)
    C = np.ones((n, 1))
    S, U, log_delta = paper_null_model(y, K, C)
    scale = 1.0 / np.sqrt(S + np.exp(log_delta))
    SUX = np.asfortranarray(U.T @ X)  # the full rotation: n² p flops
    SUX *= scale[:, None]
    SUy = scale * (U.T @ y)
    c = scale * (U.T @ C[:, 0])
    q = c / np.linalg.norm(c)
    SUX -= np.outer(q, q @ SUX)  # the intercept projected out (unpenalized)
    SUy -= q * (q @ SUy)
    lasso = Lasso(
        alpha=mu / n, fit_intercept=False, tol=LASSO_TOL, max_iter=LASSO_MAX_ITER, copy_X=False
    )
    lasso.fit(SUX, SUy)
    w = lasso.coef_
    resid = SUy - SUX @ w
    objective = 0.5 * float(resid @ resid) + mu * float(np.abs(w).sum())
    return log_delta, np.flatnonzero(np.abs(w) > SUPPORT_ATOL), objective


def paper_worker(args) -> None:
    from threadpoolctl import threadpool_limits

    from lmmlasso_cli.io.stability_file import load_stability
    from lmmlasso_cli.selection.folds import (
        TrainingData,
        fit_training,
        replicate_generators,
        subsample_indices,
    )
    from lmmlasso_cli.settings import TrainingSettings

    ours = load_stability(args.ours)
    pheno = {}
    with open(args.pheno) as handle:
        next(handle)
        for line in handle:
            f, i, v = line.split()
            pheno[(f, i)] = float(v)
    kin = np.load(args.kinship)
    K_ids = {(f, i): r for r, (f, i) in enumerate(zip(kin["fid"], kin["iid"], strict=True))}
    rows = np.array([K_ids[(f, i)] for f, i in zip(ours.fid, ours.iid, strict=True)])
    K = kin["K"][np.ix_(rows, rows)]
    y_all = np.array([pheno[(f, i)] for f, i in zip(ours.fid, ours.iid, strict=True)])
    from bed_reader import open_bed

    with open_bed(args.bfile + ".bed") as bed:
        fam = {(f, i): r for r, (f, i) in enumerate(zip(bed.fid, bed.iid, strict=True))}
        bim = {s: j for j, s in enumerate(bed.sid)}
        G = bed.read(
            index=(
                np.array([fam[(f, i)] for f, i in zip(ours.fid, ours.iid, strict=True)]),
                np.array([bim[s] for s in ours.snps.snp]),
            ),
            dtype="float64",
        )
    means = np.nanmean(G, axis=0)
    G = np.where(np.isnan(G), means, G)
    X = (G - means) / G.std(axis=0)  # as ours: standardized over all analysed individuals
    n = len(y_all)
    start, stop = (int(v) for v in args.reps.split(":"))
    rngs = replicate_generators(0, ours.run["n_reps"], range(start, stop))
    records = []
    with threadpool_limits(limits=args.blas_threads):
        for rep, rng in zip(range(start, stop), rngs, strict=True):
            idx = subsample_indices(n, ours.run["fraction"], rng)
            t0 = time.perf_counter()
            raw = y_all[idx]
            y = (raw - raw.mean()) / raw.std()
            pos = int(np.flatnonzero(ours.runs.reps == rep)[0])
            mu = float(ours.runs.mu[pos])
            log_delta, selected, objective = paper_replicate(X[idx], y, K[np.ix_(idx, idx)], mu)
            seconds = time.perf_counter() - t0
            records.append(
                {
                    "rep": rep,
                    "seconds": seconds,
                    "log_delta": log_delta,
                    "ours_log_delta": float(ours.runs.log_delta[pos]),
                    "n_selected": int(len(selected)),
                    "same_as_stability_run": bool(
                        np.array_equal(selected, np.flatnonzero(ours.runs.selected[pos]))
                    ),
                    "objective": objective,
                    "_idx": idx,
                    "_selected": selected,
                }
            )
            print(f"replicate {rep}: {seconds:.2f} s", file=sys.stderr, flush=True)
    # Not timed: our solver at the same μ from a cold start, for the objective it reaches.
    data = TrainingData(X, y_all, np.ones((n, 1)), K)
    idx_of = {}
    for record in records:
        pos = int(np.flatnonzero(ours.runs.reps == record["rep"])[0])
        idx_of[record["rep"]] = record.pop("_idx")
        fit = fit_training(data, idx_of[record["rep"]], TrainingSettings(), mu=ours.runs.mu[pos])
        w_mine = fit.lmm.path.coefs[0].toarray().ravel()
        mine = np.flatnonzero(np.abs(w_mine) > SUPPORT_ATOL)
        # the stability run's own fit (the search for N_ACTIVE nonzero effects): how many of
        # its nonzero effects are of rounding size
        w_run = (
            fit_training(
                data, idx_of[record["rep"]], TrainingSettings(), n_active=int(ours.run["value"])
            )
            .lmm.path.coefs[0]
            .toarray()
            .ravel()
        )
        record["run_tiny_nonzero"] = int(np.sum((w_run != 0) & (np.abs(w_run) <= SUPPORT_ATOL)))
        theirs = record.pop("_selected")
        record["ours_objective"] = float(fit.lmm.path.objectives[0])
        record["same_as_ours_cold_start"] = bool(np.array_equal(theirs, mine))
        # each SNP in only one of the two sets: its largest |correlation| in the subsample
        # with another SNP of the union (1 = an identical genotype column; 0 if it is alone)
        union = np.union1d(theirs, mine)
        Xs = X[np.ix_(idx_of[record["rep"]], union)]
        corr = np.zeros((union.size, union.size))
        if union.size > 1:
            corr = np.abs(np.corrcoef(Xs.T))
            np.fill_diagonal(corr, 0.0)
        differing = np.isin(union, np.setxor1d(theirs, mine))
        record["differing_max_abs_r"] = corr[differing].max(axis=1, initial=0.0).tolist()
    Path(args.out).write_text(json.dumps(records, indent=1) + "\n")


# ----------------------------------------------------------------------------- main


def main(args) -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    prefix = prepare_plink_set("mouse_hs1940")
    pheno = HERE / "mouse_sim.pheno"
    sim = simulate_phenotype(prefix, pheno)
    kin_out = HERE / "mouse"
    kin_run = run([LMMLASSO, "kinship", "--bfile", prefix, "--out", kin_out], HERE / "kinship")
    kinship = str(kin_out) + ".kinship.npz"
    base = [LMMLASSO, "stability", "--bfile", prefix, "--kinship", kinship]
    base += ["--pheno", pheno, "--pheno-name", "sim", "--n-reps", str(args.n_reps)]
    base += ["--n-active", str(N_ACTIVE)]
    ours = {}
    load = {"before": loadavg()[0]}
    for threads in (2, 1):
        out = HERE / f"ours_t{threads}"
        argv = [*base, "--threads", str(threads), "--out", out]
        ours[threads] = {"run": run(argv, HERE / f"ours_t{threads}"), "out": out}
        load[f"after_ours_t{threads}"] = loadavg()[0]
    tsv = [Path(str(ours[t]["out"]) + ".stability.tsv").read_bytes() for t in (1, 2)]
    identical = tsv[0] == tsv[1]
    paper_json = HERE / "paper_t1.json"
    worker = [sys.executable, Path(__file__).resolve(), "paper", "--bfile", prefix]
    worker += ["--pheno", pheno, "--kinship", kinship, "--blas-threads", "1"]
    worker += ["--ours", str(ours[1]["out"]) + ".stability.npz"]
    worker += ["--reps", f"0:{args.paper_reps}", "--out", paper_json]
    paper_run = run(worker, HERE / "paper_t1")
    load["after_paper"] = loadavg()[0]
    records = json.loads(paper_json.read_text())
    per_rep = float(np.mean([r["seconds"] for r in records]))
    paper_total = per_rep * args.n_reps
    from lmmlasso_cli.io.stability_file import load_stability

    shard = load_stability(str(ours[1]["out"]) + ".stability.npz")
    facts = machine()
    results = {
        "date": utc_timestamp(),
        "machine": facts,
        "simulation": sim,
        "n_samples": shard.run["n_samples"],
        "n_subsample": shard.run["n_subsample"],
        "n_snps": shard.run["n_snps"],
        "n_reps": args.n_reps,
        "paper_reps_timed": args.paper_reps,
        "kinship_seconds": kin_run.seconds,
        "ours": {t: v["run"] for t, v in ours.items()},
        "tsv_identical_1_vs_2_threads": identical,
        "paper_worker": paper_run,
        "paper_records": records,
        "paper_seconds_per_replicate": per_rep,
        "paper_seconds_extrapolated": paper_total,
        "load_average_1min": load,
        "settings": {
            "n_causal": N_CAUSAL,
            "n_active": N_ACTIVE,
            "shares": SHARES,
            "sim_seed": SIM_SEED,
            "fraction": float(shard.run["fraction"]),
            "support_atol": SUPPORT_ATOL,
            "duplicate_rtol": DUPLICATE_RTOL,
        },
        "commands": [show_command(r.argv) for r in (ours[2]["run"], ours[1]["run"], paper_run)],
    }
    write_json(RESULT_JSON, results)
    print(f"wrote {rel(RESULT_JSON)}; `python bench/report.py` renders it", file=sys.stderr)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    paper = sub.add_parser("paper", help="the paper's procedure (child process)")
    for name in ("--bfile", "--pheno", "--kinship", "--ours", "--reps", "--out"):
        paper.add_argument(name, required=True)
    paper.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--n-reps", type=int, default=100)
    parser.add_argument("--paper-reps", type=int, default=10)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = parse()
    if parsed.command == "paper":
        paper_worker(parsed)
    else:
        main(parsed)
