import numpy as np
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.plink import read_plink
from lmmlasso_cli.io.samples import SampleSource, align_samples
from lmmlasso_cli.io.tables import read_table, select_columns


def test_header_detected_and_missing_codes(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("fid iid a b\nF1 I1 1.5 NA\nF2 I2 -9 2\nF3 I3 3 4e-1\n")
    table = read_table(str(path))
    assert table.has_header and table.names == ["a", "b"]
    np.testing.assert_array_equal(np.isnan(table.values), [[0, 1], [1, 0], [0, 0]])
    assert table.values[2, 1] == pytest.approx(0.4)


def test_headerless_table_and_mpheno(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("F1 I1 1 10\nF2 I2 2 20\n")
    table = read_table(str(path))
    assert not table.has_header
    names, values = select_columns(table, None, [2], "pheno")
    assert names == ["V4"] and list(values[:, 0]) == [10, 20]
    with pytest.raises(InputError, match="--pheno-name needs a header"):
        select_columns(table, ["x"], None, "pheno")
    with pytest.raises(InputError, match="--mpheno 3 is out of range"):
        select_columns(table, None, [3], "pheno")


def test_tab_separated_empty_field_is_missing(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("FID\tIID\ta\tb\nF1\tI1\t\t2\nF2\tI2\t1\t3\n")
    table = read_table(str(path))
    assert np.isnan(table.values[0, 0]) and table.values[1, 0] == 1


def test_ragged_line_rejected(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("FID IID a\nF1 I1 1 2\n")
    with pytest.raises(InputError, match="line 2 has 4 fields but the phenotype file has 3"):
        read_table(str(path))


def test_alignment_follows_fam_order_and_counts_drops():
    fam_fid = np.array(["a", "b", "c", "d"])
    fam_iid = np.array(["1", "2", "3", "4"])
    pheno = SampleSource(
        "p",
        np.array(["d", "b", "a"]),
        np.array(["4", "2", "1"]),
        complete=np.array([True, True, False]),
        why_incomplete="missing q",
    )
    remove = SampleSource("--remove r", np.array(["d"]), np.array(["4"]))
    al = align_samples(fam_fid, fam_iid, [pheno], remove=remove)
    assert list(al.iid) == ["2"]
    assert al.source_rows["p"].tolist() == [1]
    assert al.describe_drops() == "1 listed in --remove r; 1 absent from p; 1 missing q in p"


def test_gemma_style_fam_with_extra_columns(tmp_path):
    from conftest import write_plink

    G = np.random.default_rng(0).binomial(2, 0.4, size=(5, 8)).astype(float)
    write_plink(tmp_path / "g", G)
    lines = open(tmp_path / "g.fam").read().splitlines()
    extra = ["1.5 NA 3", "2.5 4 NA", "NA 5 1", "0.5 6 2", "1 7 -9"]
    open(tmp_path / "g.fam", "w").write(
        "\n".join(" ".join(ln.split()[:5] + [e]) for ln, e in zip(lines, extra, strict=True))
    )
    plink = read_plink(str(tmp_path / "g"))
    assert plink.fam_phenotypes.shape == (5, 3)
    assert np.isnan(plink.fam_phenotypes[4, 2]) and plink.fam_phenotypes[3, 1] == 6


def test_fit_null_shares_eigendecompositions(tiny, tmp_path):
    out = str(tmp_path / "t")
    runner = CliRunner()
    r = runner.invoke(main, ["kinship", "--bfile", tiny["prefix"], "--out", out, "--quiet"])
    assert r.exit_code == 0
    r = runner.invoke(
        main,
        [
            "fit-null",
            "--bfile",
            tiny["prefix"],
            "--kinship",
            out + ".kinship.npz",
            "--pheno",
            tiny["pheno"],
            "--pheno-name",
            "q,q_na",
            "--covar",
            tiny["covar"],
            "--out",
            out,
            "--quiet",
        ],
    )
    assert r.exit_code == 0, r.output
    import pandas as pd

    table = pd.read_csv(out + ".null.tsv", sep="\t")
    assert list(table.PHENO) == ["q", "q_na"]
    assert list(table.N) == [60, 51]
    assert {"BETA_intercept", "BETA_age", "SE_sex", "H2_SE", "LOGLIK"} <= set(table.columns)
    npz = np.load(out + ".null.npz")
    assert "group1_eigvecs" in npz.files and "group2_eigvecs" not in npz.files
    assert "2 eigendecomposition(s)" in open(out + ".log").read()
