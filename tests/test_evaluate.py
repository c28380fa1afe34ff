"""evaluate: PR/ROC curves against a hand-computed case and scikit-learn, windows, the CLI."""

import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import write_plink

from lmmlasso_cli.cli import main
from lmmlasso_cli.evaluate import (
    causal_loci,
    ranking_curves,
    selection_recovery,
    unit_scores,
)

SK_TOL = 1e-12


def test_hand_computed_case_with_a_tie():
    # ranked: 3 (+), 2 (-), 2 (+), 1 (-), 0 (-); the two 2s are one threshold
    curves = ranking_curves(np.array([3, 2, 2, 1, 0.0]), np.array([1, 0, 1, 0, 0]))
    np.testing.assert_array_equal(curves.thresholds, [3, 2, 1, 0])
    np.testing.assert_array_equal(curves.tp, [1, 2, 2, 2])
    np.testing.assert_array_equal(curves.fp, [0, 1, 2, 3])
    np.testing.assert_allclose(curves.precision, [1, 2 / 3, 1 / 2, 2 / 5])
    np.testing.assert_allclose(curves.recall, [1 / 2, 1, 1, 1])
    np.testing.assert_allclose(curves.fpr, [0, 1 / 3, 2 / 3, 1])
    # AP = ½·1 + ½·⅔; ROC: pairs (3 > all 3 negatives) + (2 vs 2: ½, 2 > 1, 2 > 0) = 5.5 of 6
    assert curves.average_precision == pytest.approx(5 / 6, abs=SK_TOL)
    assert curves.roc_auc == pytest.approx(11 / 12, abs=SK_TOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_sklearn_on_random_scores_with_ties(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    labels = rng.random(400) < 0.1
    scores = np.round(rng.normal(size=400) + labels, 1)  # many ties
    curves = ranking_curves(scores, labels)
    assert curves.average_precision == pytest.approx(
        metrics.average_precision_score(labels, scores), abs=SK_TOL
    )
    assert curves.roc_auc == pytest.approx(metrics.roc_auc_score(labels, scores), abs=SK_TOL)
    precision, recall, thresholds = metrics.precision_recall_curve(labels, scores)
    # scikit-learn lists thresholds increasing and stops once recall reaches 1
    k = len(thresholds)
    np.testing.assert_allclose(curves.thresholds[:k][::-1], thresholds)
    np.testing.assert_allclose(curves.precision[:k][::-1], precision[:-1])


def test_windows_collapse_to_causal_loci_by_hand():
    chrom = np.array(["1"] * 6 + ["2"] * 4)
    bp = np.array([100, 150, 400, 1000, 1040, 5000, 100, 130, 160, 900])
    scores = np.array([0.1, 0.9, 0.2, 0.0, 0.5, 0.8, 0.7, 0.3, 0.6, 0.4])
    causal = np.array([0, 3, 7])
    loci = causal_loci(causal, chrom, bp, 50)
    assert [list(m) for m in loci.members] == [[0, 1], [3, 4], [6, 7, 8]]
    np.testing.assert_array_equal(loci.negatives, [2, 5, 9])
    units, labels = unit_scores(scores, causal, loci)
    np.testing.assert_allclose(units, [0.9, 0.5, 0.7, 0.2, 0.8, 0.4])
    curves = ranking_curves(units, labels)
    # ranked: 0.9 (+), 0.8 (-), 0.7 (+), 0.5 (+), 0.4 (-), 0.2 (-)
    assert curves.average_precision == pytest.approx((1 + 2 / 3 + 3 / 4) / 3, abs=SK_TOL)
    assert curves.roc_auc == pytest.approx((3 + 2 + 2) / 9, abs=SK_TOL)
    # by neighbours: ±1 SNP along the chromosome, whatever the bp
    snp_loci = causal_loci(causal, chrom, None, 1)
    assert [list(m) for m in snp_loci.members] == [[0, 1], [2, 3, 4], [6, 7, 8]]
    selected = np.zeros(10, dtype=bool)
    selected[[1, 5, 8]] = True
    rec = selection_recovery(selected, causal, loci)
    assert (rec.n_selected, rec.precision, rec.recall) == (3, 2 / 3, 2 / 3)
    plain = selection_recovery(selected, causal, None)
    assert (plain.precision, plain.recall) == (0.0, 0.0)


# ------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """20 SNPs on 2 chromosomes, causal rs3 and rs14, and three result files."""
    folder = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(1)
    G = rng.binomial(2, 0.4, size=(10, 20)).astype(float)
    chrom = ["1"] * 10 + ["2"] * 10
    write_plink(folder / "s", G, chrom=chrom, bp=[1000 * (j % 10 + 1) for j in range(20)])
    pd.DataFrame(
        {"PHENO": ["a", "a", "b"], "CHR": [1, 2, 1], "SNP": ["rs3", "rs14", "rs0"], "BP": 0}
    ).to_csv(folder / "truth.tsv", sep="\t", index=False)
    p = rng.uniform(0.01, 1, 20)
    p[[3, 14, 15]] = [1e-6, 1e-2, 1e-7]
    ids = [f"rs{j}" for j in range(20)]
    pd.DataFrame({"#CHROM": chrom, "ID": ids, "P": p}).to_csv(
        folder / "x.gwas.tsv", sep="\t", index=False
    )
    with open(folder / "x.weights.tsv", "w") as handle:
        handle.write("## pheno=a\n")
        pd.DataFrame(
            {
                "MU_INDEX": [0, 1, 1, 1],
                "SNP": ["rs3", "rs3", "rs7", "rs13"],
                "BETA_STD": [0.1, 0.5, -0.2, 0.05],
            }
        ).to_csv(handle, sep="\t", index=False)
    with open(folder / "x.stability.tsv", "w") as handle:
        handle.write("## replicates=50\n## threshold=0.6 n_at_or_above=8\n")
        pd.DataFrame({"SNP": ids, "FREQ": np.linspace(0, 1, 20)}).to_csv(
            handle, sep="\t", index=False
        )
    return {"dir": folder, "p": p}


def evaluate(small, out, *extra):
    d = small["dir"]
    args = [
        "evaluate", "--truth", d / "truth.tsv", "--pheno", "a", "--bfile", d / "s",
        "--result", f"gwas={d / 'x.gwas.tsv'}", "--result", f"lasso={d / 'x.weights.tsv'}",
        "--result", f"stab={d / 'x.stability.tsv'}", "--out", out, "--quiet", *extra,
    ]  # fmt: skip
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_matches_sklearn_and_writes_curves(small, tmp_path):
    metrics = pytest.importorskip("sklearn.metrics")
    out = tmp_path / "e"
    result = evaluate(small, out, "--plot")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(f"{out}.eval.tsv", sep="\t").set_index("METHOD")
    labels = np.isin(np.arange(20), [3, 14])
    expected = {
        "gwas": -np.log10(small["p"]),
        "lasso": np.where(np.isin(np.arange(20), [3, 7, 13]), [0.5 if j == 3 else 0.2 if j == 7
                          else 0.05 for j in range(20)], 0.0),  # last μ, unlisted SNPs 0
        "stab": np.linspace(0, 1, 20),
    }  # fmt: skip
    for name, scores in expected.items():
        assert table.loc[name, "AUC_PR"] == pytest.approx(
            metrics.average_precision_score(labels, scores), abs=1e-6
        )
        assert table.loc[name, "AUC_ROC"] == pytest.approx(
            metrics.roc_auc_score(labels, scores), abs=1e-6
        )
    # own selections: Bonferroni 0.05/20 keeps rs3 and rs15; the last μ keeps rs3, rs7, rs13
    assert table.loc["gwas", ["N_SELECTED", "PRECISION_SEL", "RECALL_SEL"]].tolist() == [
        2, 0.5, 0.5
    ]  # fmt: skip
    assert table.loc["lasso", "PRECISION_SEL"] == pytest.approx(1 / 3)
    # FREQ = j/19 >= 0.6 (the header's threshold) selects rs12..rs19, among them rs14
    assert table.loc["stab", ["N_SELECTED", "PRECISION_SEL", "RECALL_SEL"]].tolist() == [
        8, 1 / 8, 0.5
    ]  # fmt: skip
    assert (table.N_CAUSAL == 2).all() and (table.N_SNPS == 20).all()
    curves = pd.read_csv(f"{out}.curves.tsv", sep="\t")
    assert list(curves.columns[:5]) == ["METHOD", "THRESHOLD", "PRECISION", "RECALL", "FPR"]
    assert (curves.METHOD == "lasso").sum() == 4  # thresholds 0.5, 0.2, 0.05, 0
    with open(f"{out}.pr.png", "rb") as handle:
        assert handle.read(4) == b"\x89PNG"


def test_cli_window_and_mu_index(small, tmp_path):
    out = tmp_path / "w"
    result = evaluate(small, out, "--window-snps", "1", "--mu-index", "0")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(f"{out}.eval.tsv", sep="\t").set_index("METHOD")
    # loci {rs2, rs3, rs4} and {rs13, rs14, rs15}: rs15 (P 1e-7) now recovers the second one
    assert table.loc["gwas", "RECALL_SEL"] == 1.0 and table.loc["gwas", "PRECISION_SEL"] == 1.0
    assert (table.N_NEGATIVE == 14).all() and (table.WINDOW == "±1 SNPs").all()
    assert table.loc["lasso", "N_SELECTED"] == 1  # MU_INDEX 0 selects rs3 only


@pytest.mark.parametrize(
    "extra, pattern",
    [
        (["--window-bp", "10", "--window-snps", "1"], "choose one window"),
        (["--pheno", "zzz"], r"no rows for phenotype 'zzz'"),
    ],
)
def test_cli_errors(small, tmp_path, extra, pattern):
    result = evaluate(small, tmp_path / "e", *extra)
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.stderr


def test_cli_rejects_unknown_format_and_foreign_truth(small, tmp_path):
    d = small["dir"]
    (tmp_path / "odd.tsv").write_text("A\tB\n1\t2\n")
    args = ["evaluate", "--truth", d / "truth.tsv", "--pheno", "a", "--bfile", d / "s",
            "--result", tmp_path / "odd.tsv", "--out", tmp_path / "o", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1 and "unknown result format" in result.stderr
    (tmp_path / "t.tsv").write_text("SNP\nrs999\n")
    args[2] = tmp_path / "t.tsv"
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1 and "1 causal SNPs are not in" in result.stderr
    args[2:5] = [d / "truth.tsv"]  # two phenotypes and no --pheno
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1 and "choose one with --pheno" in result.stderr
