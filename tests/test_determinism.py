"""The toy pipeline run twice, with --threads 1 and --threads 2, writes the same bytes.

It includes a low-rank kinship (`kinship --rank`) with its fit-null, gwas --null and stability.

Every TSV, score and plot-free output must be byte-identical; an NPZ must hold identical
arrays and identical metadata apart from its creation time and the parameters (which record
--threads). Logs hold times and are not compared. Both runs use the same relative paths (each in
its own folder), since outputs record the paths of their inputs.
"""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main

VOLATILE_META = ("created", "params")  # time; the command's options (incl. --threads)


def _pipeline(toy) -> list[list[str]]:
    t = str(toy / "toy")
    pheno = ["--pheno", str(toy / "toy.pheno"), "--covar", str(toy / "toy.covar")]
    q1 = [*pheno, "--pheno-name", "q1"]
    traits = ["--pheno", str(toy / "traits.pheno")]
    small = ["--n-replicates", "12", "--n-models", "2", "--max-epochs", "8"]
    return [
        ["kinship", "--bfile", t, "--out", "toy"],
        ["fit-null", "--bfile", t, "--kinship", "toy.kinship.npz", *pheno, "--all-pheno",
         "--reml", "--out", "toy"],
        ["fit", "--bfile", t, "--kinship", "toy.kinship.npz", "--null", "toy.null.npz", *q1,
         "--n-active", "8", "--out", "q1"],
        ["predict", "--bfile", str(toy / "new"), "--model", "q1.model.npz", "--covar",
         str(toy / "new.covar"), "--pheno", str(toy / "new.pheno"), "--out", "q1.new"],
        ["cv", "--bfile", t, "--kinship", "toy.kinship.npz", *q1, "--reml", "--folds", "3",
         "--n-mu", "6", "--mu-min-ratio", "0.1", "--out", "q1.cv"],
        ["cv", "--bfile", t, "--kinship", "toy.kinship.npz", *q1, "--folds", "3", "--refit",
         "average", "--out", "q1.cva"],  # the default grid: folds stop early
        ["stability", "--bfile", t, "--kinship", "toy.kinship.npz", *q1, "--reml", "--n-reps",
         "4", "--n-active", "5", "--out", "q1.stab"],
        ["simulate", "--bfile", t, "--kinship", "toy.kinship.npz", "--n-causal", "5",
         "--seed", "3", "--out", "sim"],
        ["gwas", "--bfile", t, "--kinship", "toy.kinship.npz", "--pheno", "sim.pheno",
         "--out", "sim"],
        ["evaluate", "--truth", "sim.truth.tsv", "--bfile", t, "--result", "g=sim.gwas.tsv",
         "--out", "sim.eval"],
        ["gwas", "--bfile", t, "--null", "toy.null.npz", *pheno, "--all-pheno", "--out", "nul"],
        ["kinship", "--bfile", t, "--rank", "40", "--out", "low"],
        ["fit-null", "--bfile", t, "--kinship", "low.kinship.npz", *q1, "--out", "low"],
        ["gwas", "--bfile", t, "--null", "low.null.npz", *q1, "--out", "low"],
        ["stability", "--bfile", t, "--kinship", "low.kinship.npz", *q1, "--n-reps", "4",
         "--n-active", "5", "--out", "low.stab"],
        ["ld-blocks", "--bfile", t, "--out", "toy"],
        ["gwas", "--bfile", t, *traits, "--pheno-name", "t1,t2", "--lm", "--out", "tr"],
        ["shrink", "--bfile", t, "--gwas", "tr.t1.gwas.tsv", "--blocks", "toy.blocks.tsv",
         *small, "--save-model", "t1.mlp.npz", "--out", "t1"],
        ["shrink", "--bfile", t, "--gwas", "tr.t2.gwas.tsv", "--blocks", "toy.blocks.tsv",
         "--model", "t1.mlp.npz", "--out", "t2"],
        ["cluster", "--shrink", "t1.shrink.tsv", "t2.shrink.tsv", "--restarts", "3",
         "--out", "c"],
        ["gene-test", "--bfile", t, "--clusters", "c.clusters.tsv", "--genes",
         str(toy / "toy.genes.tsv"), "--out", "c"],
    ]  # fmt: skip


def _run_all(toy, folder, threads, monkeypatch):
    folder.mkdir()
    monkeypatch.chdir(folder)
    for args in _pipeline(toy):
        result = CliRunner().invoke(main, [*args, "--threads", str(threads), "--quiet"])
        assert result.exit_code == 0, (args, result.output)


def _npz(path):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("__meta__")))
    for key in VOLATILE_META:
        meta.pop(key, None)
    return meta, arrays


@pytest.fixture(scope="module")
def runs(toy, tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _run_all(toy, base / "one", 1, monkeypatch)
        _run_all(toy, base / "two", 2, monkeypatch)
    return base / "one", base / "two"


def test_every_output_is_the_same_with_one_or_two_threads(runs):
    one, two = runs
    names = sorted(n for n in os.listdir(one) if not n.endswith(".log"))
    assert names == sorted(n for n in os.listdir(two) if not n.endswith(".log"))
    assert len(names) >= 25
    for name in names:
        a, b = one / name, two / name
        if name.endswith(".npz"):
            meta_a, arrays_a = _npz(a)
            meta_b, arrays_b = _npz(b)
            assert meta_a == meta_b, name
            assert arrays_a.keys() == arrays_b.keys(), name
            for key in arrays_a:
                np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=f"{name}:{key}")
        else:
            assert a.read_bytes() == b.read_bytes(), name


FRESH = """
from threadpoolctl import threadpool_info
from lmmlasso_cli.cli.runner import _one_blas_thread
with _one_blas_thread():
    import scipy.linalg  # as a command does when it first needs LAPACK
    print(sorted({lib["num_threads"] for lib in threadpool_info()}), len(threadpool_info()))
"""


def test_every_blas_library_runs_on_one_thread_inside_a_command():
    """numpy's and scipy's OpenBLAS (scipy ships its own, loaded when a command first needs
    it) are both limited while a command runs: checked in a fresh process, where scipy is not
    loaded yet (in this one it is)."""
    import subprocess
    import sys

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    threads, n_libraries = done.stdout.split("] ")
    assert threads + "]" == "[1]" and int(n_libraries) >= 2
