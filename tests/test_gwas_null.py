"""`gwas --null`: the scan at fit-null's eigendecomposition and δ (GEMMA -d/-u) instead of its own.

It must give the bytes of a scan that fits the same null model itself (ML and REML, the fixed
and the per-SNP δ, full and low-rank kinships), match a dense GLS at the stored δ, and refuse a
null model fitted on other individuals or covariates in one line.
"""

import numpy as np
import pandas as pd
import pytest
from bed_reader import open_bed
from click.testing import CliRunner
from scipy import stats

from lmmlasso_cli.cli import main
from lmmlasso_cli.io.kinship_file import load_kinship

TSV_RTOL = 1e-5  # gwas.tsv holds 6 significant digits


def _run(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--quiet"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def chain(toy, tmp_path_factory):
    """Kinships (full, rank 100) and fit-null files (ML, REML) of the toy's q1 and q2."""
    out = tmp_path_factory.mktemp("gwas_null")
    pheno = ["--pheno", toy / "toy.pheno", "--covar", toy / "toy.covar", "--transform", "none"]
    _run("kinship", "--bfile", toy / "toy", "--out", out / "full")
    _run("kinship", "--bfile", toy / "toy", "--rank", 100, "--out", out / "low")
    for kin in ("full", "low"):
        for reml in ((), ("--reml",)):
            name = f"{kin}{'.reml' if reml else ''}"
            _run("fit-null", "--bfile", toy / "toy", "--kinship", out / f"{kin}.kinship.npz",
                 *pheno, "--pheno-name", "q1,q2", *reml, "--out", out / name)  # fmt: skip
    return {"out": out, "pheno": pheno, "bfile": toy / "toy"}


def _gwas(chain, out, *extra):
    _run("gwas", "--bfile", chain["bfile"], *chain["pheno"], "--pheno-name", "q1,q2", *extra,
         "--out", out)  # fmt: skip
    return {p: (out.parent / f"{out.name}.{p}.gwas.tsv").read_bytes() for p in ("q1", "q2")}


@pytest.mark.parametrize("kin", ["full", "low"])
@pytest.mark.parametrize("reml", [False, True])
@pytest.mark.parametrize("exact", [False, True])
def test_null_file_gives_the_bytes_of_a_scan_fitting_it(chain, kin, reml, exact):
    out = chain["out"]
    name = f"{kin}{'.reml' if reml else ''}"
    flags = (["--reml"] if reml else []) + (["--exact"] if exact else [])
    tag = f"{name}{'.exact' if exact else ''}"
    own = _gwas(chain, out / f"own.{tag}", "--kinship", out / f"{kin}.kinship.npz", *flags)
    read = _gwas(chain, out / f"read.{tag}", "--null", out / f"{name}.null.npz", *flags[-1:])
    assert own == read
    log = (out / f"read.{tag}.log").read_text()
    assert "eigendecomposition" not in log.split("test:")[1]  # none computed here
    assert "eigenvectors (--null)" in log


def test_null_file_scan_matches_dense_gls_at_the_stored_delta(chain):
    out = chain["out"]
    _gwas(chain, out / "dense", "--null", out / "full.null.npz")
    table = pd.read_csv(out / "dense.q1.gwas.tsv", sep="\t")
    null = pd.read_csv(out / "full.null.tsv", sep="\t").set_index("PHENO").loc["q1"]
    toy = chain["bfile"]
    fam = pd.read_csv(f"{toy}.fam", sep=r"\s+", header=None, dtype=str)
    pheno = pd.read_csv(toy.parent / "toy.pheno", sep=r"\s+").set_index("IID")
    covar = pd.read_csv(toy.parent / "toy.covar", sep=r"\s+").set_index("IID")
    iid = fam[1].to_numpy()
    y = pheno.loc[iid, "q1"].to_numpy(float)
    C = np.column_stack([np.ones(len(y)), covar.loc[iid, ["sex", "age"]].to_numpy(float)])
    K = load_kinship(str(out / "full.kinship.npz")).submatrix(fam[0].to_numpy(), iid)
    V = np.asarray(K) + null.DELTA * np.eye(len(y))
    bim = pd.read_csv(f"{toy}.bim", sep="\t", header=None)
    picks = table.sort_values("P").ID.to_numpy()[[0, 1, 50, 500, 5000]]
    with open_bed(f"{toy}.bed") as bed:
        cols = [int(np.flatnonzero(bim[1].to_numpy() == s)[0]) for s in picks]
        G = bed.read(index=np.s_[:, cols], dtype="float64")
    for j, snp in enumerate(picks):
        x = G[:, j].copy()
        x[np.isnan(x)] = np.nanmean(x)
        W = np.column_stack([C, x])
        vw = np.linalg.solve(V, W)
        a = W.T @ vw
        coef = np.linalg.solve(a, vw.T @ y)
        r = y - W @ coef
        df = len(y) - W.shape[1]
        se = np.sqrt(r @ np.linalg.solve(V, r) / df * np.linalg.inv(a)[-1, -1])
        row = table.set_index("ID").loc[snp]
        # BETA per copy of A1 (.bim column 5); bed-reader counts allele 1 too
        np.testing.assert_allclose([row.BETA, row.SE], [coef[-1], se], rtol=5 * TSV_RTOL)
        p = 2 * stats.t.sf(abs(coef[-1] / se), df)
        np.testing.assert_allclose(row.P, p, rtol=5 * TSV_RTOL)


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--covar-name", "sex"], "was fitted with the covariates intercept, sex, age"),
        (["--remove", "FIRST"], "was fitted on 600 individuals"),
        (["--lm"], "--null gives one kinship's null models; --lm fits none"),
        (["--loco"], "--null gives one kinship's null models; --loco fits none"),
    ],
)
def test_null_file_of_other_individuals_or_covariates_is_refused(chain, tmp_path, extra, pattern):
    if extra[:2] == ["--remove", "FIRST"]:
        first = tmp_path / "first.txt"
        first.write_text("fam0001 ind0001\n")
        extra = ["--remove", first]
    args = ["gwas", "--bfile", chain["bfile"], *chain["pheno"], "--pheno-name", "q1", "--null",
            chain["out"] / "full.null.npz", *extra, "--out", tmp_path / "e"]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    assert pattern in errors[0], errors[0]


def test_fit_refuses_a_null_file_of_other_covariates(chain, tmp_path):
    args = ["fit", "--bfile", chain["bfile"], "--kinship", chain["out"] / "full.kinship.npz",
            "--null", chain["out"] / "full.null.npz", *chain["pheno"], "--pheno-name", "q1",
            "--covar-name", "age", "--n-active", "5", "--out", tmp_path / "f"]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1
    assert "was fitted with the covariates intercept, sex, age" in result.stderr


def test_a_kinship_other_than_the_null_models_one_is_warned_about(chain, tmp_path):
    out = chain["out"]
    base = ["gwas", "--bfile", chain["bfile"], *chain["pheno"], "--pheno-name", "q1", "--null",
            out / "full.null.npz"]  # fmt: skip
    same = CliRunner().invoke(main, [str(a) for a in [*base, "--kinship", out / "full.kinship.npz",
                                                      "--out", tmp_path / "same"]])  # fmt: skip
    other = CliRunner().invoke(main, [str(a) for a in [*base, "--kinship", out / "low.kinship.npz",
                                                       "--out", tmp_path / "other"]])  # fmt: skip
    assert same.exit_code == other.exit_code == 0
    assert "not --kinship" not in same.stderr
    warned = [ln for ln in other.stderr.splitlines() if "not --kinship" in ln]
    assert len(warned) == 1 and "full.kinship.npz" in warned[0] and "low.kinship.npz" in warned[0]
    # the null file's eigendecomposition is the one used: the same scan either way
    assert (tmp_path / "same.gwas.tsv").read_bytes() == (tmp_path / "other.gwas.tsv").read_bytes()
