"""Gene tables, shrink-file matching and the clusters/components/genes tables."""

import numpy as np
import pandas as pd
import pytest

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.artifacts import read_tsv
from lmmlasso_cli.io.cluster_file import (
    read_clusters,
    read_components,
    read_shrink_files,
    write_clusters,
    write_components,
    write_genes,
)
from lmmlasso_cli.io.genes_file import normalize_chrom, read_genes
from lmmlasso_cli.mlmages.genetest import gene_windows, run_gene_tests, summarize_gene_clusters
from lmmlasso_cli.mlmages.labels import label_components
from lmmlasso_cli.mlmages.mixture import fit_mixture

SHRINK_COLUMNS = [
    "#CHROM",
    "POS",
    "ID",
    "A1",
    "A2",
    "BLOCK",
    "BETA",
    "SE",
    "BETA_SHRUNK",
    "BETA_STD",
    "BETA_SHRUNK_STD",
]


def _write(path, text):
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------------- genes


def test_headed_table_and_bed_give_the_same_one_based_genes(tmp_path):
    table = _write(
        tmp_path / "genes.tsv",
        "CHR\tSTART\tEND\tGENE\nchr1\t101\t200\tG1\n1\t150\t400\tG2\nchr23\t1\t10\tGX\n",
    )
    bed = _write(
        tmp_path / "genes.bed",
        "track name=genes\n# a comment\nchr1\t100\t200\tG1\t0\t+\n"
        "1\t149\t400\tG2\nchrX\t0\t10\tGX\n",
    )
    a, b = read_genes(table), read_genes(bed)
    assert (a.format, b.format) == ("table", "bed")
    for field in ("gene", "chrom", "start", "end"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.start.tolist() == [101, 150, 1] and a.chrom.tolist() == ["1", "1", "X"]
    csv = _write(tmp_path / "genes.csv", "#GENE,CHROM,START,END,STRAND\nG1,1,101,200,+\n")
    assert read_genes(csv).gene.tolist() == ["G1"]


def test_genes_off_the_data_chromosomes_are_dropped_and_counted(tmp_path):
    path = _write(tmp_path / "g.tsv", "CHR START END GENE\n1 1 5 A\n2 1 5 B\n6_ssto 1 5 C\n")
    genes = read_genes(path, chromosomes=["chr2"])
    assert genes.gene.tolist() == ["B"] and genes.n_other_chrom == 2
    with pytest.raises(InputError, match=r"g.tsv: no gene lies on the data's chromosomes \(22\)"):
        read_genes(path, chromosomes=["22"])
    assert normalize_chrom(["chr01", "23", "chrM", "x"]).tolist() == ["1", "X", "MT", "X"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CHR START END GENE\n1 500 100 G1\n", r"bad.txt: line 2: START 500 > END 100 for gene G1"),
        ("CHR START END GENE\n1 0 100 G1\n", r"START 0 < 1 but a headed gene table is 1-based"),
        ("CHR START END GENE\n1 1k 100 G1\n", r"line 2: START is '1k', not a whole number"),
        ("CHR START GENE\n1 1 G1\n", r"the header lacks END"),
        ("CHR START END GENE\n1 1 100\n", r"line 2 has 3 fields but needs 4 columns"),
        ("1\t100\t100\tG1\n", r"BED start 100 ≥ end 100 \(an empty interval\)"),
        ("1\t-5\t100\tG1\n", r"BED start -5 is negative"),
        ("track x\n", r"the gene file has no gene lines"),
    ],
)
def test_bad_gene_tables_say_what_to_fix(tmp_path, text, message):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(InputError, match=message):
        read_genes(path)


def test_missing_gene_file(tmp_path):
    with pytest.raises(InputError, match="gene file not found"):
        read_genes(str(tmp_path / "nope.tsv"))


# ------------------------------------------------------------------------- shrink files


def _shrink(path, ids, a1, a2, values, pos=None):
    n = len(ids)
    frame = pd.DataFrame(
        {
            "#CHROM": ["1"] * n,
            "POS": pos if pos is not None else np.arange(1, n + 1) * 100,
            "ID": ids,
            "A1": a1,
            "A2": a2,
            "BLOCK": 0,
            "BETA": values,
            "SE": 0.1,
            "BETA_SHRUNK": values,
            "BETA_STD": values,
            "BETA_SHRUNK_STD": values,
        }
    )[SHRINK_COLUMNS]
    frame.to_csv(path, sep="\t", index=False, na_rep="NA")
    return str(path)


def test_shrink_files_are_matched_by_id_with_flips_and_mismatches(tmp_path):
    a = _shrink(tmp_path / "LDL.shrink.tsv", ["r1", "r2", "r3", "r4", "r5"], list("AAAAA"),
                list("GGGGG"), [0.1, 0.2, 0.3, 0.4, 0.5])  # fmt: skip
    b = _shrink(tmp_path / "HDL.shrink.tsv", ["r5", "r3", "r2", "r1", "r9"], list("AGACA"),
                list("GAGTG"), [1.5, 1.3, np.nan, 1.1, 9.9])  # fmt: skip
    c = _shrink(tmp_path / "TG.shrink.tsv", ["r1", "r3", "r5"], list("GAA"), list("AGG"),
                [-2.1, 2.3, 2.5])  # fmt: skip
    m = read_shrink_files([a, b, c])
    # r2: NA in HDL; r4: absent from HDL and TG; r1: HDL alleles C/T mismatch
    assert m.snp_id.tolist() == ["r3", "r5"]
    assert m.trait_names == ("LDL", "HDL", "TG")
    np.testing.assert_allclose(m.effects, [[0.3, -1.3, 2.3], [0.5, 1.5, 2.5]])
    assert m.n_flipped == (0, 1, 0) and m.n_allele_mismatch == (0, 1, 0)
    assert m.n_missing == (0, 1, 0) and m.n_rows == (5, 5, 3)
    assert m.pos.tolist() == [300, 500]
    again = read_shrink_files([a, a])
    assert again.trait_names == ("LDL", "LDL_2")


def test_shrink_file_errors(tmp_path):
    dup = _shrink(tmp_path / "dup.shrink.tsv", ["r1", "r1"], ["A", "A"], ["G", "G"], [0.1, 0.2])
    with pytest.raises(InputError, match=r"dup.shrink.tsv: 1 duplicated variant ID\(s\), e.g. r1"):
        read_shrink_files([dup])
    ok = _shrink(tmp_path / "ok.shrink.tsv", ["r1"], ["A"], ["G"], [0.1])
    with pytest.raises(InputError, match=r"ok.shrink.tsv: lacks the column\(s\) BETA_X"):
        read_shrink_files([ok], column="BETA_X")
    other = _shrink(tmp_path / "other.shrink.tsv", ["r7"], ["A"], ["G"], [0.1])
    with pytest.raises(InputError, match="no variant ID is shared by all of"):
        read_shrink_files([ok, other])
    with pytest.raises(InputError, match=r"the trait name 'a\+b' contains"):
        read_shrink_files([ok], trait_names=["a+b"])
    with pytest.raises(InputError, match="shrink file not found"):
        read_shrink_files([str(tmp_path / "none.tsv")])


# ------------------------------------------------------------------------- output tables


def test_clusters_components_and_genes_tables_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    effects = np.vstack(
        [rng.normal(size=(n // 2, 2)) * [0.3, 0.01], rng.normal(size=(n // 2, 2)) * [0.01, 0.3]]
    )
    effects[:50] = 0.0
    ids = [f"r{i}" for i in range(n)]
    pos = np.arange(n) * 10 + 1
    a = _shrink(tmp_path / "A.shrink.tsv", ids, ["A"] * n, ["G"] * n, effects[:, 0], pos)
    b = _shrink(tmp_path / "B.shrink.tsv", ids, ["A"] * n, ["G"] * n, effects[:, 1], pos)
    matched = read_shrink_files([a, b])
    fit = fit_mixture(matched.effects, restarts=2, zero_cutoff=1e-6)
    types = label_components(fit.covariances, matched.trait_names)
    write_clusters(str(tmp_path / "out.clusters.tsv"), matched, fit, types, ["seed=0"])
    write_components(str(tmp_path / "out.components.tsv"), fit, types, matched.trait_names)
    cl = read_clusters(str(tmp_path / "out.clusters.tsv"))
    assert cl.trait_names == ("A", "B") and cl.snp_id.tolist() == ids
    np.testing.assert_allclose(cl.effects, effects, rtol=1e-9)
    assert cl.cluster[:50].tolist() == [0] * 50 and set(cl.types[:50]) == {"none"}
    assert np.isnan(cl.prob[:50]).all() and np.all(cl.cluster[50:] >= 1)
    comp = read_components(str(tmp_path / "out.components.tsv"))
    np.testing.assert_allclose(comp.covariances, fit.covariances, rtol=1e-9)
    np.testing.assert_allclose(comp.weights, fit.weights, rtol=1e-9)
    assert comp.types == types.types and comp.n_set_aside == 50
    assert comp.n_variants.sum() + comp.n_set_aside == n
    raw = read_tsv(str(tmp_path / "out.components.tsv"))
    assert list(raw.columns) == [
        "CLUSTER", "WEIGHT", "N_VARIANTS", "TYPE", "COV_A_A", "COV_A_B", "COV_B_B"
    ]  # fmt: skip

    win = gene_windows(["G1", "G2"], ["1", "1"], [1, 3001], [3000, 6000], cl.chrom, cl.pos)
    tests = run_gene_tests(cl.effects, win, np.eye(n), [0.01, 0.02], trait_names=cl.trait_names)
    summary = summarize_gene_clusters(win, cl.effects, cl.types, types.traits_of())
    write_genes(str(tmp_path / "out.genes.tsv"), win, tests, summary)
    genes = read_tsv(str(tmp_path / "out.genes.tsv"))
    head = ["GENE", "CHR", "START", "END", "N_SNPS", "STAT_A", "EPSILON_A", "P_A", "Q_A"]
    assert list(genes.columns[:9]) == head
    assert genes["N_SNPS"].tolist() == [300, 300]
    assert {"ABS_SUM_SPECIFIC", "ABS_SUM_SHARED", "FRAC_none"} <= set(genes.columns)
    np.testing.assert_allclose(genes.filter(like="FRAC_").sum(axis=1), 1.0, atol=1e-5)  # %.6g

    single = run_gene_tests(cl.effects[:, 0], win, np.eye(n), 0.01)
    write_genes(str(tmp_path / "one.genes.tsv"), win, single)
    one = read_tsv(str(tmp_path / "one.genes.tsv"))
    assert list(one.columns) == [
        "GENE",
        "CHR",
        "START",
        "END",
        "N_SNPS",
        "STAT",
        "EPSILON",
        "P",
        "Q",
    ]


def test_reading_a_foreign_table_as_clusters_or_components_fails_clearly(tmp_path):
    path = _write(tmp_path / "x.tsv", "A\tB\n1\t2\n")
    with pytest.raises(
        InputError, match=r"x.tsv: not a clusters.tsv written by `lmmlasso cluster`"
    ):
        read_clusters(path)
    with pytest.raises(InputError, match=r"x.tsv: not a components.tsv written by"):
        read_components(path)
