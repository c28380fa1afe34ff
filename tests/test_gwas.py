"""gwas: Wald tests against dense GLS with V = K + δI, the per-SNP REML δ against a dense
optimum, OLS against lstsq, LOCO against a kinship of the other chromosomes, and the CLI."""

import gzip

import numpy as np
import pandas as pd
import pytest
from _reference import dense_kinship, dense_reml_loglik, dense_standardize
from click.testing import CliRunner
from scipy import linalg, optimize, stats

from lmmlasso_cli.cli import main
from lmmlasso_cli.gwas import (
    genomic_control,
    prepare_scan,
    rotate,
    scan,
    wald_exact,
    wald_fixed,
)
from lmmlasso_cli.io.kinship_file import load_kinship
from lmmlasso_cli.nullmodel import eigendecompose, fit_null_model
from lmmlasso_cli.settings import NullSearch

GLS_RTOL = 1e-8  # rotation against dense solves, both in float64
LOG_DELTA_ATOL = 1e-5  # per-SNP REML optimum (Brent stops at 1e-6 in log δ)
EXACT_RTOL = 1e-5  # statistics at that optimum
NLL_ATOL = 1e-9  # criterion at our per-SNP optimum vs the dense bounded search
LOG_DELTA_FLAT_ATOL = 1e-3  # log δ where the REML criterion is flat (optimum near the edge)
TSV_RTOL = 1e-5  # gwas.tsv holds 6 significant digits
FLOAT32_MIN_CORR = 0.99999  # corr of −log10 P, float32 rotation against float64 (issue 10)


def dense_gls(y, C, x, K, delta):
    """β̂, SE, T, P of x in y = Cα + xβ + e, e ~ N(0, σ²(K + δI)), from dense solves."""
    n = len(y)
    V = K + delta * np.eye(n) if K is not None else np.eye(n)
    W = np.column_stack([C, x])
    vw = np.linalg.solve(V, W)
    a = W.T @ vw
    coef = np.linalg.solve(a, vw.T @ y)
    r = y - W @ coef
    df = n - W.shape[1]
    s2 = r @ np.linalg.solve(V, r) / df
    se = np.sqrt(s2 * np.linalg.inv(a)[-1, -1])
    t = coef[-1] / se
    return coef[-1], se, t, 2 * stats.t.sf(abs(t), df)


def dense_reml_log_delta(y, C, x, K, bounds=(-5.0, 5.0)):
    """argmax over log δ of the REML density of the error contrasts Aᵀy (A ⊥ [C, x]), with σ²
    profiled in closed form on the contrasts."""
    W = np.column_stack([C, x])
    A = linalg.null_space(W.T)
    z = A.T @ y
    m = A.shape[1]

    def nll(log_delta):
        delta = np.exp(log_delta)
        M = A.T @ (K + delta * np.eye(len(y))) @ A
        s2 = z @ np.linalg.solve(M, z) / m
        return -dense_reml_loglik(y, W, K, s2, delta * s2)

    res = optimize.minimize_scalar(nll, bounds=bounds, method="bounded", options={"xatol": 1e-9})
    return res.x, nll


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    n, p = 70, 40
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    K = dense_kinship(rng.binomial(2, 0.3, size=(n, 300)).astype(float))
    C = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    y = G[:, :3] @ np.array([0.4, -0.3, 0.2]) + rng.multivariate_normal(np.zeros(n), K)
    y += rng.normal(size=n) + C @ np.array([1.0, 0.5, -0.2])
    return {"G": G, "Z": dense_standardize(G), "K": K, "C": C, "y": y, "eig": eigendecompose(K)}


@pytest.mark.parametrize("n_cov", [0, 1, 3])
def test_fixed_delta_wald_matches_dense_gls(problem, n_cov):
    Z, K, y, eig = problem["Z"], problem["K"], problem["y"], problem["eig"]
    C = problem["C"][:, :n_cov]
    log_delta = -0.4
    res = wald_fixed(prepare_scan(y, C, eig, log_delta), rotate(eig, Z))
    for j in range(Z.shape[1]):
        expected = dense_gls(y, C, Z[:, j], K, np.exp(log_delta))
        got = (res.beta[j], res.se[j], res.t_stat[j], res.p_value[j])
        np.testing.assert_allclose(got, expected, rtol=GLS_RTOL)
    assert np.all(res.log_delta == log_delta)


def test_ols_matches_lstsq(problem):
    Z, C, y = problem["Z"], problem["C"], problem["y"]
    res = wald_fixed(prepare_scan(y, C), rotate(None, Z))
    n, df = len(y), len(y) - C.shape[1] - 1
    for j in range(Z.shape[1]):
        W = np.column_stack([C, Z[:, j]])
        coef, rss, *_ = np.linalg.lstsq(W, y, rcond=None)
        se = np.sqrt(rss[0] / df * np.linalg.inv(W.T @ W)[-1, -1])
        p = 2 * stats.t.sf(abs(coef[-1] / se), df)
        np.testing.assert_allclose(
            (res.beta[j], res.se[j], res.p_value[j]), (coef[-1], se, p), rtol=GLS_RTOL
        )
    assert n - df == C.shape[1] + 1


def test_exact_matches_dense_reml_per_snp(problem):
    Z, K, C, y, eig = problem["Z"], problem["K"], problem["C"], problem["y"], problem["eig"]
    snps = [0, 1, 7]
    res = wald_exact(prepare_scan(y, C, eig, 0.0), rotate(eig, Z[:, snps]))
    for k, j in enumerate(snps):
        log_delta, nll = dense_reml_log_delta(y, C, Z[:, j], K)
        # ours is at least as good an optimum as scipy's bounded search of the dense criterion
        # (near a flat optimum the two log δ may differ more than their criterion values do)
        assert nll(res.log_delta[k]) <= nll(log_delta) + NLL_ATOL
        assert res.log_delta[k] == pytest.approx(log_delta, abs=LOG_DELTA_FLAT_ATOL)
        expected = dense_gls(y, C, Z[:, j], K, np.exp(res.log_delta[k]))
        got = (res.beta[k], res.se[k], res.t_stat[k], res.p_value[k])
        np.testing.assert_allclose(got, expected, rtol=EXACT_RTOL)
    # the per-SNP optimum differs from SNP to SNP
    assert np.ptp(res.log_delta) > 10 * LOG_DELTA_ATOL


def test_collinear_snp_gives_nan_and_scan_converts_to_per_allele(problem):
    Z, C, y, eig, G = problem["Z"], problem["C"], problem["y"], problem["eig"], problem["G"]
    x = C[:, 1] - C[:, 1].mean()
    block = np.column_stack([Z[:, 0], x / x.std()])
    sds = np.array([G[:, 0].std(), x.std()])
    (assoc,) = scan([(np.array([4, 9]), block, sds)], eig, [prepare_scan(y, C, eig, 0.1)])
    assert np.isfinite(assoc.beta[0]) and np.isnan(assoc.beta[1]) and np.isnan(assoc.p_value[1])
    per_allele = dense_gls(y, C, G[:, 0], problem["K"], np.exp(0.1))
    np.testing.assert_allclose((assoc.beta[0], assoc.se[0]), per_allele[:2], rtol=GLS_RTOL)
    assert list(assoc.snp_index) == [4, 9] and assoc.df == len(y) - C.shape[1] - 1


def test_genomic_control_of_null_quantiles_is_one():
    t = np.sqrt(stats.chi2.ppf(np.linspace(0.01, 0.99, 99), 1))  # middle one: χ²(1) median
    t[::2] *= -1
    assert genomic_control(t) == pytest.approx(1.0, rel=1e-12)
    assert genomic_control(np.r_[2 * t, np.nan]) == pytest.approx(4.0, rel=1e-12)


# ------------------------------------------------------------------------------------- CLI


def run(args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def kin(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("gwas_kin") / "k"
    run(["kinship", "--bfile", tiny["prefix"], "--out", out, "--quiet", "--precision", "float64"])
    return str(out) + ".kinship.npz"


def base_args(tiny, out, *extra, pheno="q"):
    return [
        "gwas",
        "--bfile",
        tiny["prefix"],
        "--pheno",
        tiny["pheno"],
        "--pheno-name",
        pheno,
        "--covar",
        tiny["covar"],
        "--transform",
        "none",
        "--reml",
        "--out",
        out,
        "--quiet",
        *extra,
    ]


def read_gwas(path):
    return pd.read_csv(path, sep="\t")


def tiny_design(tiny):
    covar = pd.read_csv(tiny["covar"], sep=" ")
    pheno = pd.read_csv(tiny["pheno"], sep=" ")
    C = np.column_stack([np.ones(len(covar)), covar["age"], covar["sex"]])
    return pheno["q"].to_numpy(), C


def imputed(G, j):
    x = G[:, j].copy()
    x[np.isnan(x)] = np.nanmean(x)
    return x


def test_cli_gwas_is_dense_gls_per_copy_of_a1(tiny, kin, tmp_path):
    out = tmp_path / "g"
    run(base_args(tiny, out, "--kinship", kin, "--plot"))
    table = read_gwas(f"{out}.gwas.tsv")
    assert list(table.columns) == [
        "#CHROM", "POS", "ID", "REF", "ALT", "A1", "OBS_CT", "BETA", "SE", "T_STAT", "P"
    ]  # fmt: skip
    assert "rs5" not in set(table.ID) and len(table) == 299  # monomorphic SNP dropped
    assert (table.A1 == "A").all() and (table.ALT == "A").all() and (table.REF == "G").all()
    assert (table.OBS_CT == 60).all()
    y, C = tiny_design(tiny)
    K = load_kinship(kin).matrix
    null = fit_null_model(y, eigendecompose(K), C, NullSearch(reml=True))
    for snp in ["rs0", "rs10", "rs77", "rs299"]:
        row = table[table.ID == snp].iloc[0]
        j = int(snp[2:])
        expected = dense_gls(y, C, imputed(tiny["G"], j), K, null.delta)
        got = (row.BETA, row.SE, row.T_STAT, row.P)
        np.testing.assert_allclose(got, expected, rtol=TSV_RTOL)
    log = open(f"{out}.log").read()
    lam = genomic_control(table.T_STAT.to_numpy())
    assert "1 monomorphic" in log and f"genomic-control λ = {lam:.4f}" in log
    for name in ("manhattan", "qq"):
        with open(f"{out}.{name}.png", "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_lm_is_ols(tiny, tmp_path):
    out = tmp_path / "lm"
    run(base_args(tiny, out, "--lm"))
    table = read_gwas(f"{out}.gwas.tsv")
    y, C = tiny_design(tiny)
    for j in (0, 10, 150, 299):
        W = np.column_stack([C, imputed(tiny["G"], j)])
        coef, rss, *_ = np.linalg.lstsq(W, y, rcond=None)
        df = len(y) - W.shape[1]
        se = np.sqrt(rss[0] / df * np.linalg.inv(W.T @ W)[-1, -1])
        row = table[table.ID == f"rs{j}"].iloc[0]
        np.testing.assert_allclose((row.BETA, row.SE), (coef[-1], se), rtol=TSV_RTOL)


def test_cli_loco_equals_scan_with_kinship_of_other_chromosomes(tiny, tmp_path):
    out = tmp_path / "loco"
    run(base_args(tiny, out, "--loco", "--precision", "float64"))
    loco = read_gwas(f"{out}.gwas.tsv")
    assert list(loco.ID) == [f"rs{j}" for j in range(300) if j != 5]  # .bim order kept
    G = tiny["G"]
    for chrom, other in (("1", "2"), ("2", "1")):
        k_other = tmp_path / f"k{other}"
        run([
            "kinship", "--bfile", tiny["prefix"], "--chr", other, "--out", k_other, "--quiet",
            "--precision", "float64",
        ])  # fmt: skip
        cols = [j for j in range(300) if str(1 + j * 2 // 300) == other and j != 5]
        np.testing.assert_allclose(
            load_kinship(f"{k_other}.kinship.npz").matrix, dense_kinship(G[:, cols]), atol=1e-10
        )
        direct = tmp_path / f"direct{chrom}"
        run(
            base_args(tiny, direct, "--kinship", f"{k_other}.kinship.npz", "--chr", chrom,
                      "--precision", "float64")
        )  # fmt: skip
        expected = read_gwas(f"{direct}.gwas.tsv")
        got = loco[loco["#CHROM"] == int(chrom)]
        assert list(got.ID) == list(expected.ID)
        # the two kinships round differently (fixed point over 300 vs 150 SNPs, 1e-16), which
        # moves the null model's δ within its optimizer's tolerance: BETA to 1e-6 of its SE
        se = expected.SE.to_numpy()
        np.testing.assert_allclose(got.BETA, expected.BETA, rtol=TSV_RTOL, atol=1e-6 * se.min())
        np.testing.assert_allclose(got.T_STAT, expected.T_STAT, rtol=TSV_RTOL, atol=1e-6)
        for col in ("SE", "P"):
            np.testing.assert_allclose(got[col], expected[col], rtol=TSV_RTOL)
    log = open(f"{out}.log").read()
    assert "chromosome 1: kinship from the 150 SNPs of the other chromosomes" in log


def test_cli_exact_and_several_phenotypes(tiny, kin, tmp_path):
    out = tmp_path / "ex"
    run(base_args(tiny, out, "--kinship", kin, "--exact", "--gz", pheno="q,q_na"))
    with gzip.open(f"{out}.q.gwas.tsv.gz", "rt") as handle:
        both = pd.read_csv(handle, sep="\t")
    assert "LOG_DELTA" in both.columns
    single = tmp_path / "single"
    run(base_args(tiny, single, "--kinship", kin, "--exact"))
    alone = read_gwas(f"{single}.gwas.tsv")
    pd.testing.assert_frame_equal(both, alone)
    y, C = tiny_design(tiny)
    K = load_kinship(kin).matrix
    for j in (10, 42):
        row = alone[alone.ID == f"rs{j}"].iloc[0]
        x = imputed(tiny["G"], j)
        log_delta, _ = dense_reml_log_delta(y, C, x, K)
        assert row.LOG_DELTA == pytest.approx(log_delta, abs=LOG_DELTA_ATOL)
        expected = dense_gls(y, C, x, K, np.exp(log_delta))
        np.testing.assert_allclose((row.BETA, row.SE, row.P), np.take(expected, [0, 1, 3]),
                                   rtol=TSV_RTOL)  # fmt: skip
    with gzip.open(f"{out}.q_na.gwas.tsv.gz", "rt") as handle:
        assert (pd.read_csv(handle, sep="\t").OBS_CT == 60 - len(range(0, 60, 7))).all()
    log = open(f"{out}.log").read()
    assert "eigendecomposition 1" in log  # q_na has its own individuals


@pytest.mark.parametrize(
    "extra, pattern",
    [
        ([], r"--kinship is required \(or --null from fit-null, --loco"),
        (["--lm", "--exact"], "--lm is ordinary least squares"),
        (["--loco", "--chr", "1"], "--loco needs usable SNPs on at least two chromosomes"),
    ],
)
def test_cli_errors(tiny, tmp_path, extra, pattern):
    result = CliRunner().invoke(main, base_args(tiny, str(tmp_path / "e"), *extra))
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output
    import re

    assert re.search(pattern, errors[0]), errors[0]


@pytest.mark.parametrize("method", [[], ["--exact"]])
def test_float32_rotation_keeps_the_statistics(tiny, kin, tmp_path, method):
    """UᵀZ in float32 against float64: −log10 P correlated to ≥ 0.99999 (issue 10)."""
    tables = {}
    for precision in ("float32", "float64"):
        out = tmp_path / precision
        run(base_args(tiny, out, "--kinship", kin, *method, "--precision", precision))
        tables[precision] = read_gwas(f"{out}.gwas.tsv")
    a, b = (-np.log10(tables[k]["P"].to_numpy()) for k in ("float32", "float64"))
    assert np.corrcoef(a, b)[0, 1] >= FLOAT32_MIN_CORR
    assert not np.array_equal(a, b)  # the float32 path was taken
