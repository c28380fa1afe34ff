"""The dense-end Lasso path, solver alone, in each form of our solver against glmnet (issue 15).

    python bench/path_variants.py [--repeats 5]

Needs the problem that `python bench/speed.py --rows 2` writes (bench/work/speed/glmnet/
problem/: X̃ and ỹ of `lmmlasso fit --mpheno 1 --n-mu 100 --mu-min-ratio 0.01` on HS1940 as
its Lasso solver received them, the μ grid it fitted, and glmnet's coefficients ``beta.f64``
and solver time on that same matrix). Runs `lasso.path.fit_lasso_path` on that matrix (a
`DenseDesign`, one BLAS thread) in each variant below, ``--repeats`` times each, interleaved:

- the column form (the kernel reads X̃_W: O(n) per update) with Anderson depth 5;
- the Gram form (`_cd.cd_epochs_gram`, G = X̃_WᵀX̃_W kept across rounds and μ);
- the Gram form plus Gap Safe pruning of the working set (the default);
- the default with Anderson depth 0, 3 and 10 instead of 5.

Records the median solver time, the epochs summed over the path, the μ fitted and the largest
difference of objective against glmnet's coefficients; writes bench/results/path_variants.json
(bench/report.py renders it after the speed table).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from _common import loadavg, machine, utc_timestamp, write_json  # noqa: E402

PROBLEM = BENCH / "work" / "speed" / "glmnet" / "problem"
RESULT = BENCH / "results" / "path_variants.json"
VARIANTS = {  # name: (Gram form, Gap Safe, Anderson depth)
    "column form, Anderson 5": (False, False, 5),
    "Gram form, Anderson 5": (True, False, 5),
    "Gram form + Gap Safe, Anderson 5 (default)": (True, True, 5),
    "Gram form + Gap Safe, Anderson 0": (True, True, 0),
    "Gram form + Gap Safe, Anderson 3": (True, True, 3),
    "Gram form + Gap Safe, Anderson 10": (True, True, 10),
}


def load_problem():
    n, p, k = map(int, (PROBLEM / "dims.txt").read_text().split())
    X = np.asfortranarray(np.fromfile(PROBLEM / "x.f64").reshape(p, n).T)
    y = np.fromfile(PROBLEM / "y.f64")
    mus = np.fromfile(PROBLEM / "lambda.f64") * n  # glmnet's λ = μ / n
    glmnet = np.fromfile(PROBLEM / "beta.f64").reshape(-1, p)
    return X, y, mus, glmnet


def configure(gram: bool, gap_safe: bool, depth: int):
    """Set the solver's switches; the kernels get ``depth`` through a stand-in module."""
    from lmmlasso_cli.lasso import _cd
    from lmmlasso_cli.lasso import path as lasso_path

    lasso_path.GRAM_MAX_RATIO = 1.0 if gram else 0.0
    lasso_path.GAP_SAFE = gap_safe
    kernels = types.SimpleNamespace(**{k: getattr(_cd, k) for k in dir(_cd) if not k[:2] == "__"})
    kernels.cd_epochs = lambda *a: _cd.cd_epochs(*a, depth)
    kernels.cd_epochs_gram = lambda *a: _cd.cd_epochs_gram(*a, depth)
    lasso_path._kernels = lambda: kernels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not (PROBLEM / "beta.f64").exists():
        print(f"no {PROBLEM}/beta.f64: run `python bench/speed.py --rows 2` first", file=sys.stderr)
        return 1
    from threadpoolctl import threadpool_limits

    from lmmlasso_cli.lasso.design import DenseDesign
    from lmmlasso_cli.lasso.path import fit_lasso_path

    X, y, mus, glmnet = load_problem()
    design = DenseDesign(X)
    speed = json.loads((BENCH / "results" / "speed.json").read_text())
    before = loadavg()
    times = {name: [] for name in VARIANTS}
    paths = {}
    with threadpool_limits(limits=1):
        for switches in VARIANTS.values():  # compile every kernel before timing
            configure(*switches)
            fit_lasso_path(design, y, mus[:3])
        for _ in range(args.repeats):
            for name, switches in VARIANTS.items():
                configure(*switches)
                start = time.perf_counter()
                paths[name] = fit_lasso_path(design, y, mus)
                times[name].append(time.perf_counter() - start)

    def objective(w, mu):
        r = y - X @ w
        return 0.5 * r @ r + mu * np.abs(w).sum()

    rows = []
    for name, path in paths.items():
        k = min(len(path.mus), len(glmnet))
        theirs = np.array([objective(glmnet[i], mus[i]) for i in range(k)])
        rows.append(
            {
                "variant": name,
                "seconds": statistics.median(times[name]),
                "runs": times[name],
                "epochs": int(path.n_epochs.sum()),
                "n_mu": int(len(path.mus)),
                "converged": bool(path.converged.all()),
                "max_rel_objective_vs_glmnet": float(
                    np.max(np.abs(theirs - path.objectives[:k]) / path.objectives[:k])
                ),
                "glmnet_minus_ours_min": float(np.min(theirs - path.objectives[:k])),
            }
        )
    row2 = speed.get("details", {}).get("2", {})
    glmnet_row = {
        "speed_run": speed.get("date"),
        "solver_seconds": row2.get("glmnet_solver_seconds"),
        "inner": (row2.get("glmnet_inner") or [None])[0],
        "ours_whole_process_seconds": row2.get("ours", {}).get("seconds"),
    }
    write_json(
        RESULT,
        {
            "date": utc_timestamp(),
            "machine": machine(),
            "loadavg_before": before,
            "loadavg_after": loadavg(),
            "repeats": args.repeats,
            "problem": {"n_samples": X.shape[0], "n_snps": X.shape[1], "n_mu": len(mus)},
            "glmnet": glmnet_row,
            "variants": rows,
        },
    )
    for row in rows:
        print(f"{row['variant']:45s} {row['seconds']:6.2f} s  {row['epochs']} epochs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
