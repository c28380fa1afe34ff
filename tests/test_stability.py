"""Tests of lmmlasso_cli.selection.stability and `lmmlasso stability`: per-replicate full
training, frequencies, the Meinshausen–Bühlmann bound, shards, merging and worker processes."""

import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import simulate_data

from lmmlasso_cli.cli import main
from lmmlasso_cli.errors import ConvergenceWarning, InputError
from lmmlasso_cli.io.stability_file import load_stability, rep_ranges
from lmmlasso_cli.lmmlasso import fit_lmm_lasso
from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
from lmmlasso_cli.parallel import blas_threads, parallel_map
from lmmlasso_cli.selection.folds import subsample_indices
from lmmlasso_cli.selection.stability import (
    SelectionMode,
    StabilityPlan,
    StabilityRuns,
    combine_runs,
    false_selection_bound,
    run_stability,
    summarize_stability,
)
from lmmlasso_cli.settings import TrainingSettings
from lmmlasso_cli.transforms import fit_transform

N_REPS = 6


def direct_frequencies(data, seed, n_reps, fraction, **mode):
    """The paper's loop, written out: subsample, transform, eigh, null model, fit_lmm_lasso."""
    n, p = data.X.shape
    counts = np.zeros(p, dtype=int)
    log_deltas = []
    for child in np.random.SeedSequence(seed).spawn(n_reps):
        idx = subsample_indices(n, fraction, np.random.default_rng(child))
        raw = data.y_raw[idx]
        y = fit_transform(raw, "standardize").apply(raw)
        eig = eigendecompose(data.K[np.ix_(idx, idx)])
        C = data.covariates[idx]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # δ at the grid's edge
            null = fit_null_model(y, eig, C)
        fit = fit_lmm_lasso(np.asfortranarray(data.X[idx]), y, C, eig, null.log_delta, **mode)
        counts += fit.path.coefs[0].toarray().ravel() != 0
        log_deltas.append(null.log_delta)
    return counts / n_reps, np.array(log_deltas)


@pytest.fixture(scope="module")
def data():
    return simulate_data(n=90, p=150, seed=6)[0]


@pytest.mark.parametrize("kind, value", [("n_active", 4), ("mu", 12.0)])
def test_frequencies_equal_a_direct_loop_of_fits(data, kind, value):
    plan = StabilityPlan(7, N_REPS, 0.5, SelectionMode(kind, value), TrainingSettings())
    runs = run_stability(data, plan)
    freq, log_deltas = direct_frequencies(data, 7, N_REPS, 0.5, **{kind: value})
    summary = summarize_stability(runs, 0.6)
    np.testing.assert_array_equal(summary.frequencies, freq)
    np.testing.assert_array_equal(runs.log_delta, log_deltas)
    np.testing.assert_array_equal(runs.n_active, runs.selected.sum(axis=1))
    assert 0 < freq.max() and freq.sum() > 0
    if kind == "n_active":
        assert np.all(runs.n_active == value)


def test_shards_combine_into_the_full_run(data):
    plan = StabilityPlan(3, N_REPS, 0.5, SelectionMode("n_active", 3), TrainingSettings())
    full = run_stability(data, plan)
    parts = [run_stability(data, plan, range(4, 6)), run_stability(data, plan, range(0, 4))]
    merged = combine_runs(parts)
    for name in ("reps", "selected", "mu", "n_active", "log_delta", "converged"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(full, name))
    with pytest.raises(InputError, match="the shards overlap"):
        combine_runs([parts[1], parts[1]])


def test_meinshausen_buhlmann_bound_closed_form():
    assert false_selection_bound(10, 1000, 0.6) == pytest.approx(100 / (0.2 * 1000))
    assert false_selection_bound(10, 1000, 1.0) == pytest.approx(0.1)
    with pytest.raises(InputError, match=r"`threshold` must be in \(0.5, 1\]"):
        false_selection_bound(10, 1000, 0.5)


def test_summary_orders_by_frequency_then_snp_order():
    selected = np.array([[1, 0, 1, 1], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 1, 0]], dtype=bool)
    runs = StabilityRuns(
        4, np.arange(4), selected, np.ones(4), selected.sum(1), np.zeros(4), np.ones(4, bool)
    )
    s = summarize_stability(runs, 0.5 + 1e-9)
    np.testing.assert_array_equal(s.frequencies, [0.5, 0.25, 1.0, 0.5])
    np.testing.assert_array_equal(s.order, [2, 0, 3, 1])
    np.testing.assert_array_equal(s.stable, [2])
    assert s.mean_selected == 2.25


def test_rep_ranges():
    assert rep_ranges(np.array([0, 1, 2, 5, 6, 9])) == "0:3,5:7,9:10"


def test_workers_run_one_blas_thread(data):
    with parallel_map(data, 2, 2) as (map_fn, shared):
        assert list(map_fn(blas_threads, range(2))) == [[1], [1]]
        np.testing.assert_array_equal(shared.X, data.X)


# --- the command ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stability")
    k = str(folder / "k")
    runner = CliRunner()
    r = runner.invoke(main, ["kinship", "--bfile", tiny["prefix"], "--out", k, "--quiet"])
    assert r.exit_code == 0, r.output
    base = ["stability", "--bfile", tiny["prefix"], "--kinship", k + ".kinship.npz"]
    base += ["--pheno", tiny["pheno"], "--pheno-name", "q", "--covar", tiny["covar"]]
    base += ["--n-reps", str(N_REPS), "--n-active", "3", "--quiet"]

    def run(*args, code=0):
        r = runner.invoke(main, list(args))
        assert r.exit_code == code, r.output
        return r

    outs = {}
    for name, extra in {
        "t1": ["--threads", "1"],
        "t2": ["--threads", "2"],
        "a": ["--reps", "0:2", "--threads", "1"],
        "b": ["--reps", "2:6", "--threads", "1"],
        "b_seed1": ["--reps", "2:6", "--seed", "1", "--threads", "1"],
    }.items():
        outs[name] = str(folder / name)
        run(*base, *extra, "--out", outs[name])
    run(
        "stability",
        "--merge",
        outs["b"] + ".stability.npz",
        outs["a"] + ".stability.npz",
        "--out",
        str(folder / "merged"),
        "--quiet",
    )
    outs["merged"] = str(folder / "merged")
    return {"run": run, "out": outs}


def _same_outputs(a, b):
    with open(a + ".stability.tsv", "rb") as fa, open(b + ".stability.tsv", "rb") as fb:
        assert fa.read() == fb.read()
    x, y = load_stability(a + ".stability.npz"), load_stability(b + ".stability.npz")
    assert x.run == y.run
    for name in ("reps", "selected", "mu", "n_active", "log_delta", "converged"):
        np.testing.assert_array_equal(getattr(x.runs, name), getattr(y.runs, name))


def test_one_and_two_threads_give_identical_outputs(cli):
    _same_outputs(cli["out"]["t1"], cli["out"]["t2"])


def test_merged_shards_equal_a_single_run(cli):
    _same_outputs(cli["out"]["merged"], cli["out"]["t1"])
    shard = load_stability(cli["out"]["a"] + ".stability.npz")
    np.testing.assert_array_equal(shard.runs.reps, [0, 1])


def test_tsv_header_reports_the_bound(cli):
    with open(cli["out"]["t1"] + ".stability.tsv") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line.startswith("## ")]
    assert "CHR\tSNP\tBP\tA1\tFREQ" in lines
    bound = [line for line in header if "mb_bound_expected_false_selections=" in line]
    value = float(bound[0].split("mb_bound_expected_false_selections=")[1].split()[0])
    n_snps = len(load_stability(cli["out"]["t1"] + ".stability.npz").snps.snp)
    assert value == pytest.approx(3**2 / ((2 * 0.6 - 1) * n_snps), rel=1e-5)


def test_merge_refuses_other_seeds_and_overlaps(cli):
    out = cli["out"]
    r = cli["run"](
        "stability",
        "--merge",
        out["a"] + ".stability.npz",
        out["b_seed1"] + ".stability.npz",
        "--out",
        out["a"] + "x",
        code=1,
    )
    assert "cannot be merged" in r.output and "seed differs" in r.output
    r = cli["run"](
        "stability",
        "--merge",
        out["a"] + ".stability.npz",
        out["t1"] + ".stability.npz",
        "--out",
        out["a"] + "y",
        code=1,
    )
    assert "replicate 0 is also in" in r.output


def test_bad_replicate_range_is_explained(cli, tiny):
    r = cli["run"](
        "stability",
        "--bfile",
        tiny["prefix"],
        "--kinship",
        "k.npz",
        "--n-active",
        "2",
        "--n-reps",
        "10",
        "--reps",
        "5:20",
        "--out",
        str(cli["out"]["a"]) + "z",
        code=1,
    )
    assert "--reps 5:20 must be a non-empty range" in r.output
    r = cli["run"](
        "stability",
        "--bfile",
        tiny["prefix"],
        "--kinship",
        "k.npz",
        "--out",
        str(cli["out"]["a"]) + "w",
        code=1,
    )
    assert "exactly one of --mu or --n-active" in r.output
