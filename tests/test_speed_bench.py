"""bench/speed.py: the goals, the pre-rotated problem handed to glmnet, its objective gaps and
the rendering (no timed runs, no R).

bench/ is not a package: the script is loaded by path, with bench/ on sys.path for its helpers.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main

BENCH = Path(__file__).resolve().parents[1] / "bench"
OBJECTIVE_RTOL = 1e-10  # our objective recomputed on the written X̃, ỹ against the fit's own


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        modules = {}
        for name, file in (("speed_bench", "speed.py"), ("_render_speed", "_render_speed.py")):
            spec = importlib.util.spec_from_file_location(name, BENCH / file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up
            spec.loader.exec_module(module)
            modules[name] = module
    finally:  # bench/distributed.py would shadow dask's distributed for later tests
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    return modules["speed_bench"], modules["_render_speed"]


def test_goals(bench):
    speed, _ = bench
    under = speed.Goal("< 60 s", limit=60.0, strict=True)
    assert under.met(59.9, None) is True
    assert under.met(60.0, None) is False
    both = speed.Goal("≤ 100 s and faster", limit=100.0, beat_peer=True)
    assert both.met(100.0, 120.0) is True
    assert both.met(90.0, 80.0) is False
    assert both.met(90.0, None) is None  # no peer measured: no verdict
    assert speed.NOT_SLOWER.met(None, 3.0) is None


def write_problem(folder: Path, X, y, mus, ours, theirs) -> None:
    n, p = X.shape
    folder.mkdir(parents=True, exist_ok=True)
    np.asfortranarray(X).T.tofile(folder / "x.f64")
    y.tofile(folder / "y.f64")
    (folder / "dims.txt").write_text(f"{n} {p} {len(mus)}\n")
    np.savez(folder / "ours.npz", coefs=ours, mus=mus)
    np.ascontiguousarray(theirs).tofile(folder / "beta.f64")  # λ by λ, as R writes p × n_λ


def test_objective_gaps_score_both_paths_by_our_objective(bench, tmp_path):
    speed, _ = bench
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 8)), rng.standard_normal(30)
    mus = np.linspace(3.0, 0.5, 10)  # listed at positions 0 and 9 (GAP_AT)
    ours = np.zeros((10, 8))
    ours[9, 2] = 0.5
    theirs = ours.copy()
    theirs[9, 2] += 1e-3
    write_problem(tmp_path, X, y, mus, ours, theirs)
    gaps = speed.objective_gaps(tmp_path)

    def objective(w, mu):
        return 0.5 * np.sum((y - X @ w) ** 2) + mu * np.abs(w).sum()

    first, last = gaps["at"]
    assert (first["index"], last["index"]) == (0, 9)
    assert first["relative"] == 0.0
    expected = objective(theirs[9], mus[9]) - objective(ours[9], mus[9])
    assert last["over_y2"] == pytest.approx(expected / (y @ y), rel=1e-9)
    assert gaps["max_abs_diff_coef"] == pytest.approx(1e-3)
    assert gaps["n_compared"] == 10


def test_rotate_writes_the_problem_our_fit_solves(bench, toy, tmp_path):
    """The written X̃, ỹ give back the fit's own objectives along its path (covariates too)."""
    speed, _ = bench
    kin = tmp_path / "toy"
    result = CliRunner().invoke(
        main, ["kinship", "--bfile", str(toy / "toy"), "--chr", "1", "--out", str(kin), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    fit = ["--bfile", str(toy / "toy"), "--kinship", f"{kin}.kinship.npz", "--chr", "1",
           "--pheno", str(toy / "toy.pheno"), "--pheno-name", "q1", "--covar",
           str(toy / "toy.covar"), "--n-mu", "10", "--quiet"]  # fmt: skip
    problem = tmp_path / "problem"
    assert speed.rotate_worker(problem, [*fit, "--out", str(problem / "fit")]) == 0
    facts = json.loads((problem / "problem.json").read_text())
    n, p = facts["n_samples"], facts["n_snps"]
    assert facts["n_covariates"] > 1  # the intercept and the toy covariates, projected out
    X = np.fromfile(problem / "x.f64").reshape(p, n).T
    y = np.fromfile(problem / "y.f64")
    assert np.allclose(
        np.fromfile(problem / "lambda.f64") * n, np.load(problem / "ours.npz")["mus"]
    )
    with np.load(problem / "ours.npz") as z:
        W, mus, objectives = z["coefs"], z["mus"], z["objectives"]
    mine = 0.5 * np.sum((y[:, None] - X @ W.T) ** 2, axis=0) + mus * np.abs(W).sum(axis=1)
    assert np.allclose(mine, objectives, rtol=OBJECTIVE_RTOL, atol=0)
    assert np.count_nonzero(W[-1]) > 0


def test_render_a_run_with_rows_left_out(bench):
    speed, render = bench
    goal = speed.Goal("< 60 s", limit=60.0, strict=True)
    result = {
        "date": "2026-01-01 00:00 UTC", "rows_run": [1, 3], "repeats": 3, "complete": True,
        "quick": False, "loadavg_before": [1.0, 1.0, 1.0], "loadavg_after": [1.5, 1.0, 1.0],
        "machine": {"nproc": 2, "cpu_model": "cpu", "ram_gb": 8, "lmmlasso": "lmmlasso 0.1",
                    "python": "3.11", "plink2": "PLINK v2", "gemma": "GEMMA"},
        "versions": {"numpy": "2"}, "source": "/repo: abc123 subject",
        "launcher": "#!/bin/sh\nexec x",
        "lines": [speed.line("1", "cv", 12.5, goal=goal),
                  speed.line("3", "warm fit", None, note="left to bench/startup.py")],
        "details": {"1": {"ours": {"seconds": 12.5, "cpu_seconds": 20.0, "max_rss_mb": 300.0,
                                   "all_seconds": [12.5, 12.4, 13.0], "command": "lmmlasso cv"},
                          "chosen": []},
                    "3": {"left_to": "left to bench/startup.py"}},
        "failed": {},
    }  # fmt: skip

    class NoNotes:
        def block(self, slot):
            return []

    text = render.render(result, NoNotes(), "bench/results/speed.json")
    assert "| 1 | cv | 12.5 s | — | < 60 s | yes |" in text
    assert "| 3 | warm fit | — | — (left to bench/startup.py) |" in text
    assert "at commit abc123" in text
    assert "lmmlasso cv" in text  # the commands section
