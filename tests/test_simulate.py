"""simulate: exact variance shares, a truth file that reproduces the planted part, and seeds."""

import re

import numpy as np
import pandas as pd
import pytest
from _reference import dense_kinship, dense_standardize
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.nullmodel import eigendecompose
from lmmlasso_cli.simulate import draw_causal, replicate_generators, simulate_phenotype

SHARE_TOL = 1e-12  # in memory
FILE_TOL = 1e-6  # phenotypes and effects are written with 8 significant digits
RANK1_TOL = 1e-6


def shares(sim):
    var = np.var(sim.values)
    return np.var(sim.planted) / var, np.var(sim.background) / var, np.var(sim.noise) / var


@pytest.mark.parametrize("h2s, h2b", [(0.3, 0.3), (0.5, 0.0), (0.0, 0.6), (0.2, 0.8)])
def test_shares_are_exact_and_parts_uncorrelated(tiny, h2s, h2b):
    G = tiny["G"][:, [j for j in range(300) if j != 5]]
    Z = dense_standardize(G)
    eig = eigendecompose(dense_kinship(G))
    rng = np.random.default_rng(3)
    cols = draw_causal(Z.shape[1], 5 if h2s else 0, rng)
    sim = simulate_phenotype(Z[:, cols], eig, h2s, h2b, rng)
    assert np.var(sim.values) == pytest.approx(1.0, abs=SHARE_TOL)
    assert abs(sim.values.mean()) < SHARE_TOL
    np.testing.assert_allclose(shares(sim), (h2s, h2b, 1 - h2s - h2b), atol=SHARE_TOL)
    parts = np.column_stack([sim.planted, sim.background, sim.noise])
    cov = parts.T @ parts / len(sim.values)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=SHARE_TOL)
    np.testing.assert_allclose(sim.planted, Z[:, cols] @ sim.beta_std, atol=SHARE_TOL)


def test_background_follows_the_kinship():
    # K of rank 1 (one vector v): u ~ N(0, K) lies along v, before any decorrelation
    rng = np.random.default_rng(0)
    n = 50
    v = rng.normal(size=n)
    v -= v.mean()
    eig = eigendecompose(np.outer(v, v))
    sim = simulate_phenotype(np.zeros((n, 0)), eig, 0.0, 0.4, rng)
    resid = sim.background - v * (v @ sim.background) / (v @ v)
    # the other eigenvalues are rounding noise (~1e-15), contributing ~sqrt(1e-15) each
    assert np.abs(resid).max() < RANK1_TOL and np.var(sim.background) == pytest.approx(0.4)


def test_replicate_generators_are_spawned_children():
    a = [g.random() for g in replicate_generators(5, 3)]
    b = [np.random.default_rng(s).random() for s in np.random.SeedSequence(5).spawn(3)]
    assert a == b and len(set(a)) == 3
    assert replicate_generators(5, 2)[1].random() == a[1]  # independent of --n-pheno


def run(args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result


@pytest.fixture(scope="module")
def kin(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("sim_kin") / "k"
    assert run(["kinship", "--bfile", tiny["prefix"], "--out", out, "--quiet"]).exit_code == 0
    return str(out) + ".kinship.npz"


def sim_args(tiny, kin, out, *extra):
    return ["simulate", "--bfile", tiny["prefix"], "--kinship", kin, "--out", out, "--quiet",
            "--n-causal", 4, "--h2-snps", 0.4, "--h2-background", 0.25, *extra]  # fmt: skip


def test_cli_truth_reproduces_the_planted_part(tiny, kin, tmp_path):
    out = tmp_path / "s"
    assert run(sim_args(tiny, kin, out, "--n-pheno", 3, "--maf", 0.1)).exit_code == 0
    pheno = pd.read_csv(f"{out}.pheno", sep="\t")
    truth = pd.read_csv(f"{out}.truth.tsv", sep="\t")
    assert list(pheno.columns) == ["FID", "IID", "sim1", "sim2", "sim3"]
    assert list(truth.columns) == ["PHENO", "CHR", "SNP", "BP", "A1", "BETA", "BETA_STD"]
    assert list(pheno.IID) == tiny["iid"]
    G = tiny["G"]
    for name, rows in truth.groupby("PHENO"):
        assert len(rows) == 4 and rows.SNP.is_unique
        cols = [int(s[2:]) for s in rows.SNP]
        Gi = np.where(np.isnan(G[:, cols]), np.nanmean(G[:, cols], axis=0), G[:, cols])
        assert np.all(np.minimum(Gi.mean(0) / 2, 1 - Gi.mean(0) / 2) >= 0.1)
        np.testing.assert_allclose(rows.BETA * Gi.std(0), rows.BETA_STD, rtol=FILE_TOL)
        g = (Gi - Gi.mean(0)) @ rows.BETA.to_numpy()  # planted part, per copy of A1
        y = pheno[name].to_numpy()
        assert np.var(y) == pytest.approx(1.0, abs=FILE_TOL)
        assert np.var(g) / np.var(y) == pytest.approx(0.4, abs=FILE_TOL)
        assert np.mean((y - g) * g) == pytest.approx(0.0, abs=FILE_TOL)
    assert truth.groupby("PHENO").SNP.apply(frozenset).nunique() == 3  # replicates differ
    log = open(f"{out}.log").read()
    assert "realized shares planted 0.4000, background 0.2500, noise 0.3500" in log


def test_cli_same_seed_same_files(tiny, kin, tmp_path):
    paths = {}
    for label, seed in (("a", 7), ("b", 7), ("c", 8)):
        out = tmp_path / label
        assert run(sim_args(tiny, kin, out, "--seed", seed, "--n-pheno", 2)).exit_code == 0
        paths[label] = [open(f"{out}{ext}", "rb").read() for ext in (".pheno", ".truth.tsv")]
    assert paths["a"] == paths["b"]
    assert paths["a"][0] != paths["c"][0] and paths["a"][1] != paths["c"][1]
    one = tmp_path / "one"
    assert run(sim_args(tiny, kin, one, "--seed", 7, "--n-pheno", 1)).exit_code == 0
    first = pd.read_csv(tmp_path / "a.pheno", sep="\t")
    np.testing.assert_array_equal(pd.read_csv(f"{one}.pheno", sep="\t").sim1, first.sim1)


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--h2-snps", 0.8], r"--h2-snps 0.8 \+ --h2-background 0.25 exceed 1"),
        (["--n-causal", 500], "--n-causal 500 exceeds the 299 candidate SNPs"),
        (["--n-causal", 0], "--h2-snps 0.4 with --n-causal 0"),
    ],
)
def test_cli_errors(tiny, kin, tmp_path, extra, pattern):
    result = run(sim_args(tiny, kin, tmp_path / "e", *extra))
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.stderr


def test_cli_background_needs_kinship(tiny, tmp_path):
    result = run(["simulate", "--bfile", tiny["prefix"], "--out", tmp_path / "e", "--quiet"])
    assert result.exit_code == 1
    assert "--h2-background 0.3 needs --kinship" in result.stderr
