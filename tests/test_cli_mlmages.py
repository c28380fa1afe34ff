"""ld-blocks -> gwas -> shrink -> cluster -> gene-test through the CLI on the toy data."""

import struct

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.io.artifacts import read_tsv

SMALL = ["--n-replicates", "24", "--n-models", "2", "--max-epochs", "15"]  # a quick network
RTOL = 1e-5  # %.6g in the TSVs


def run(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--quiet"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def chain(toy, tmp_path_factory):
    d = tmp_path_factory.mktemp("mlmages")
    bfile = str(toy / "toy")
    run("ld-blocks", "--bfile", bfile, "--out", d / "toy")
    run(
        "gwas", "--bfile", bfile, "--pheno", toy / "traits.pheno", "--pheno-name", "t1,t2,t3",
        "--lm", "--out", d / "g",
    )  # fmt: skip
    blocks = ["--blocks", d / "toy.blocks.tsv"]
    run("shrink", "--bfile", bfile, "--gwas", d / "g.t1.gwas.tsv", *blocks, *SMALL,
        "--threads", "1", "--save-model", d / "t1.model.npz", "--out", d / "t1")  # fmt: skip
    for t in ("t2", "t3"):  # the same genotypes: the network trains once
        run("shrink", "--bfile", bfile, "--gwas", d / f"g.{t}.gwas.tsv", *blocks,
            "--model", d / "t1.model.npz", "--out", d / t)  # fmt: skip
    run("cluster", "--shrink", d / "t1.shrink.tsv", d / "t2.shrink.tsv", d / "t3.shrink.tsv",
        "--restarts", "4", "--plot", "--out", d / "c")  # fmt: skip
    return {"dir": d, "bfile": bfile, "toy": toy, "blocks": blocks}


def test_blocks_tile_each_chromosome(chain, toy):
    blocks = read_tsv(str(chain["dir"] / "toy.blocks.tsv"))
    bim = pd.read_csv(toy / "toy.bim", sep=r"\s+", header=None)
    assert blocks.N_SNPS.sum() == 9990  # every polymorphic SNP once (10 are monomorphic)
    for c, part in blocks.groupby("CHR"):
        on = bim[bim[0] == c]
        assert (part.START.to_numpy()[1:] > part.END.to_numpy()[:-1]).all()  # ordered, disjoint
        assert part.START.min() >= on[3].min() and part.END.max() <= on[3].max()
        first = set(on[1][on[3].isin(part.START)])
        assert set(part.FIRST_SNP) <= first


def test_shrink_output_scales_and_thread_independence(chain):
    d = chain["dir"]
    one = read_tsv(str(d / "t1.shrink.tsv"))
    gwas = read_tsv(str(d / "g.t1.gwas.tsv"))
    np.testing.assert_allclose(one.BETA, gwas.BETA, rtol=RTOL)  # matched, same orientation
    factor = one.BETA_STD / one.BETA  # s_j / σ_y, one per SNP
    np.testing.assert_allclose(one.BETA_SHRUNK_STD / factor, one.BETA_SHRUNK, rtol=1e-4)
    assert one.BLOCK.nunique() == len(read_tsv(str(d / "toy.blocks.tsv")))
    run("shrink", "--bfile", chain["bfile"], "--gwas", d / "g.t1.gwas.tsv", *chain["blocks"],
        *SMALL, "--threads", "2", "--out", d / "t1.two")  # fmt: skip
    assert (d / "t1.shrink.tsv").read_bytes() == (d / "t1.two.shrink.tsv").read_bytes()


def test_saved_model_is_reused_and_refused_on_other_genotypes(chain, tmp_path):
    d, bfile = chain["dir"], chain["bfile"]
    model = d / "t1.model.npz"
    run("shrink", "--bfile", bfile, "--gwas", d / "g.t1.gwas.tsv", *chain["blocks"],
        "--model", model, "--out", tmp_path / "reused")  # fmt: skip
    trained = read_tsv(str(d / "t1.shrink.tsv"))
    reused = read_tsv(str(tmp_path / "reused.shrink.tsv"))
    np.testing.assert_array_equal(trained.BETA_SHRUNK_STD, reused.BETA_SHRUNK_STD)
    keep = tmp_path / "half.keep"
    keep.write_text("".join(f"{f} {i}\n" for f, i in pd.read_csv(
        chain["toy"] / "toy.fam", sep=r"\s+", header=None)[[0, 1]].to_numpy()[:300]))  # fmt: skip
    result = CliRunner().invoke(main, [
        "shrink", "--bfile", bfile, "--keep", str(keep), "--gwas", str(d / "g.t1.gwas.tsv"),
        "--model", str(model), "--out", str(tmp_path / "other"),
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "was trained on other genotypes" in result.stderr


def test_enet_method_runs_and_shrinks(chain, tmp_path):
    d = chain["dir"]
    run("shrink", "--bfile", chain["bfile"], "--gwas", d / "g.t1.gwas.tsv", *chain["blocks"],
        "--method", "enet", "--out", tmp_path / "e")  # fmt: skip
    e = read_tsv(str(tmp_path / "e.shrink.tsv"))
    assert np.sum(e.BETA_SHRUNK_STD**2) < np.sum(e.BETA_STD**2)
    assert (e.BETA_SHRUNK_STD == 0).mean() > 0.5  # sparse


def test_cluster_outputs(chain):
    d = chain["dir"]
    clusters = read_tsv(str(d / "c.clusters.tsv"))
    components = read_tsv(str(d / "c.components.tsv"))
    assert list(clusters.columns) == ["#CHROM", "POS", "ID", "A1", "t1", "t2", "t3", "CLUSTER",
                                      "PROB", "TYPE"]  # fmt: skip
    assert len(clusters) == 9990
    set_aside = clusters.CLUSTER == 0
    assert (clusters.TYPE[set_aside] == "none").all() and clusters.PROB[set_aside].isna().all()
    counts = clusters.CLUSTER.value_counts()
    for _, row in components.iterrows():
        assert counts.get(row.CLUSTER, 0) == row.N_VARIANTS
    t1 = read_tsv(str(d / "t1.shrink.tsv"))
    np.testing.assert_allclose(clusters.t1, t1.BETA_SHRUNK_STD, rtol=RTOL)
    png = (d / "c.clusters.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 600


def test_gene_test_statistic_is_the_sum_of_squares_in_the_window(chain, tmp_path):
    d, toy = chain["dir"], chain["toy"]
    run("gene-test", "--bfile", chain["bfile"], "--shrink", d / "t1.shrink.tsv", "--genes",
        toy / "toy.genes.tsv", "--window-bp", "5000", "--epsilon", "1e-4", "--pvalue", "exact",
        "--out", tmp_path / "g")  # fmt: skip
    genes = read_tsv(str(tmp_path / "g.genes.tsv"))
    shrunk = read_tsv(str(d / "t1.shrink.tsv"))
    for _, g in genes.head(25).iterrows():
        here = shrunk[
            (shrunk["#CHROM"] == g.CHR) & shrunk.POS.between(g.START - 5000, g.END + 5000)
        ]
        assert len(here) == g.N_SNPS
        assert g.STAT == pytest.approx(np.sum(here.BETA_SHRUNK_STD**2), rel=1e-4)
    assert genes.P.between(0, 1).all() and (genes.Q >= genes.P - 1e-12).all()


def test_gene_test_with_clusters_reports_types(chain, tmp_path):
    d, toy = chain["dir"], chain["toy"]
    run("gene-test", "--bfile", chain["bfile"], "--clusters", d / "c.clusters.tsv", "--genes",
        toy / "toy.genes.tsv", "--out", tmp_path / "g")  # fmt: skip
    genes = read_tsv(str(tmp_path / "g.genes.tsv"))
    for t in ("t1", "t2", "t3"):
        assert f"P_{t}" in genes.columns and f"Q_{t}" in genes.columns
    fractions = genes[[c for c in genes.columns if c.startswith("FRAC_")]]
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=1e-5)  # %.6g per column
