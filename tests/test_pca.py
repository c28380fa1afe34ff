"""Principal components: randomized, streamed SVD against a dense eigendecomposition; the CLI's
plink2-format files; PCs as covariates (--covar PREFIX.eigenvec and gwas --pcs)."""

import numpy as np
import pandas as pd
import pytest
from _reference import dense_standardize
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.io.artifacts import read_tsv
from lmmlasso_cli.pca import kinship_pcs, randomized_pcs

PC_CORR = 0.9999  # |corr| of each top PC with the dense eigenvector
EIGVAL_RTOL = 1e-6


def run(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--quiet"])
    assert result.exit_code == 0, result.output
    return result


def test_randomized_pcs_equal_the_dense_eigendecomposition():
    rng = np.random.default_rng(8)
    freq = rng.uniform(0.1, 0.9, size=(4, 700))  # four populations: three PCs above the noise
    G = rng.binomial(2, np.repeat(freq, 30, axis=0)).astype(float)
    Z = dense_standardize(G)
    K = Z @ Z.T / Z.shape[1]
    vals, vecs = np.linalg.eigh(K)
    dense = kinship_pcs(vals, vecs, 3)
    blocks = lambda: (Z[:, a : a + 64] for a in range(0, Z.shape[1], 64))  # noqa: E731
    pcs = randomized_pcs(blocks, 120, 700, 3, np.random.default_rng(0))
    np.testing.assert_allclose(pcs.values, dense.values, rtol=EIGVAL_RTOL)
    for k in range(3):
        assert abs(np.corrcoef(pcs.vectors[:, k], dense.vectors[:, k])[0, 1]) > PC_CORR
    np.testing.assert_allclose(np.linalg.norm(pcs.vectors, axis=0), 1.0, atol=1e-12)
    assert np.all(np.diff(pcs.values) <= 0)


def test_kinship_pcs_order_and_sign_rule():
    vals = np.array([0.1, 3.0, 1.0])
    vecs = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    pcs = kinship_pcs(vals, -vecs, 2)
    np.testing.assert_array_equal(pcs.values, [3.0, 1.0])
    for k, j in enumerate([1, 2]):
        np.testing.assert_allclose(np.abs(pcs.vectors[:, k]), np.abs(vecs[:, j]))
        assert pcs.vectors[np.argmax(np.abs(pcs.vectors[:, k])), k] > 0
    with pytest.raises(ValueError, match="`n_pcs` must be between 1 and 3"):
        kinship_pcs(vals, vecs, 4)


def test_cli_pca_files_both_ways_and_as_covariates(tiny, tmp_path):
    run("kinship", "--bfile", tiny["prefix"], "--out", tmp_path / "k", "--precision", "float64")
    run("pca", "--bfile", tiny["prefix"], "--n-pcs", "3", "--method", "randomized",
        "--out", tmp_path / "r")  # fmt: skip
    run("pca", "--bfile", tiny["prefix"], "--n-pcs", "3", "--out", tmp_path / "x")  # auto: exact
    run("pca", "--bfile", tiny["prefix"], "--n-pcs", "3", "--kinship", tmp_path / "k.kinship.npz",
        "--out", tmp_path / "e")  # fmt: skip
    r = pd.read_csv(tmp_path / "r.eigenvec", sep="\t")
    e = pd.read_csv(tmp_path / "e.eigenvec", sep="\t")
    assert list(r.columns) == ["#FID", "IID", "PC1", "PC2", "PC3"] and len(r) == 60
    K = np.load(tmp_path / "k.kinship.npz")["K"]  # equal to the dense formula (test_kinship)
    vals = np.linalg.eigvalsh(K)[::-1][:3]
    np.testing.assert_allclose(np.loadtxt(tmp_path / "e.eigenval"), vals, rtol=1e-6)
    x = pd.read_csv(tmp_path / "x.eigenvec", sep="\t")
    np.testing.assert_allclose(x[["PC1", "PC2", "PC3"]], e[["PC1", "PC2", "PC3"]], atol=1e-10)
    for k in (1, 2, 3):
        assert abs(np.corrcoef(r[f"PC{k}"], e[f"PC{k}"])[0, 1]) > 0.999
    # the eigenvec file is a covariate table as it is; gwas --pcs adds the same PCs itself
    pheno = ["--pheno", tiny["pheno"], "--pheno-name", "q"]
    run("gwas", "--bfile", tiny["prefix"], *pheno, "--lm", "--covar", tmp_path / "x.eigenvec",
        "--out", tmp_path / "viacovar")  # fmt: skip
    run("gwas", "--bfile", tiny["prefix"], *pheno, "--lm", "--pcs", "3", "--out", tmp_path / "pcs")
    a = read_tsv(str(tmp_path / "viacovar.gwas.tsv"))
    b = read_tsv(str(tmp_path / "pcs.gwas.tsv"))
    np.testing.assert_allclose(a.BETA, b.BETA, rtol=1e-5, atol=1e-9)
    assert "+ 3 PCs (kinship)" in (tmp_path / "pcs.log").read_text()  # auto: exact for n=60
