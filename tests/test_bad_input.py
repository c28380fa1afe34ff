"""Each bad input gets one line naming the file and the fix, exit code 1, no traceback."""

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_plink, write_table

from lmmlasso_cli.cli import main


def run(args):
    result = CliRunner().invoke(main, args)
    return result


def assert_one_line_error(result, pattern):
    import re

    assert result.exit_code == 1, result.output
    err = result.stderr.strip()
    assert "Traceback" not in result.output
    lines = [ln for ln in err.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture()
def copy(tiny, tmp_path):
    for ext in (".bed", ".bim", ".fam"):
        shutil.copy(tiny["prefix"] + ext, tmp_path / f"c{ext}")
    return str(tmp_path / "c")


@pytest.fixture(scope="module")
def kin(tiny, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("kin") / "k")
    assert run(["kinship", "--bfile", tiny["prefix"], "--out", out, "--quiet"]).exit_code == 0
    return out + ".kinship.npz"


def null_args(tiny, kin, tmp_path, *extra, bfile=None):
    return [
        "fit-null",
        "--bfile",
        bfile or tiny["prefix"],
        "--kinship",
        kin,
        "--pheno",
        tiny["pheno"],
        "--out",
        str(tmp_path / "o"),
        "--quiet",
        *extra,
    ]


def test_missing_bed(copy, tmp_path):
    import os

    os.remove(copy + ".bed")
    r = run(["kinship", "--bfile", copy, "--out", str(tmp_path / "o")])
    assert_one_line_error(r, r"c\.bed: file not found")


def test_truncated_bed(copy, tmp_path):
    data = open(copy + ".bed", "rb").read()
    open(copy + ".bed", "wb").write(data[:-100])
    r = run(["kinship", "--bfile", copy, "--out", str(tmp_path / "o")])
    assert_one_line_error(r, r"c\.bed: \.bed is truncated .* need \d+")


def test_wrong_magic(copy, tmp_path):
    data = bytearray(open(copy + ".bed", "rb").read())
    data[2] = 0x00  # individual-major
    open(copy + ".bed", "wb").write(bytes(data))
    r = run(["kinship", "--bfile", copy, "--out", str(tmp_path / "o")])
    assert_one_line_error(r, r"not a SNP-major PLINK 1 \.bed .*6c1b00.*--make-bed")


def test_fam_rows_disagree_with_bed(copy, tmp_path):
    lines = open(copy + ".fam").read().splitlines()
    open(copy + ".fam", "w").write("\n".join(lines[:-4]) + "\n")
    r = run(["kinship", "--bfile", copy, "--out", str(tmp_path / "o")])
    assert_one_line_error(r, r"56 individuals in \S*c\.fam .* do not belong together")


def test_bim_rows_disagree_with_bed(copy, tmp_path):
    lines = open(copy + ".bim").read().splitlines()
    open(copy + ".bim", "w").write("\n".join(lines + [lines[-1].replace("rs299", "rs300")]) + "\n")
    r = run(["kinship", "--bfile", copy, "--out", str(tmp_path / "o")])
    assert_one_line_error(r, r"longer than expected|truncated")


def test_duplicate_individuals(copy, tmp_path):
    lines = open(copy + ".fam").read().splitlines()
    lines[3] = lines[2]
    open(copy + ".fam", "w").write("\n".join(lines) + "\n")
    r = run(["kinship", "--bfile", copy, "--out", str(tmp_path / "o")])
    assert_one_line_error(r, r"c\.fam: duplicate individual \(FID F2, IID I2\)")


def test_pheno_ids_without_overlap(tiny, kin, tmp_path):
    path = tmp_path / "other.pheno"
    write_table(
        path, [f"X{i}" for i in range(10)], [f"Y{i}" for i in range(10)], {"q": np.arange(10.0)}
    )
    r = run(
        [
            "fit-null",
            "--bfile",
            tiny["prefix"],
            "--kinship",
            kin,
            "--pheno",
            str(path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert_one_line_error(r, r"other\.pheno: none of its 10 \(FID, IID\) pairs matches tiny\.fam")


def test_all_missing_phenotype(tiny, kin, tmp_path):
    path = tmp_path / "na.pheno"
    write_table(path, tiny["fid"], tiny["iid"], {"q": [np.nan] * 60})
    r = run(
        [
            "fit-null",
            "--bfile",
            tiny["prefix"],
            "--kinship",
            kin,
            "--pheno",
            str(path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert_one_line_error(r, r"na\.pheno: phenotype q is missing for every analysed individual")


def test_constant_phenotype(tiny, kin, tmp_path):
    r = run(null_args(tiny, kin, tmp_path, "--pheno-name", "const"))
    assert_one_line_error(r, r"tiny\.pheno: phenotype const is constant \(1\)")


def test_non_numeric_phenotype(tiny, kin, tmp_path):
    path = tmp_path / "bad.pheno"
    values = [str(float(i)) for i in range(60)]
    values[4] = "tall"
    write_table(path, tiny["fid"], tiny["iid"], {"q": values})
    r = run(
        [
            "fit-null",
            "--bfile",
            tiny["prefix"],
            "--kinship",
            kin,
            "--pheno",
            str(path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert_one_line_error(r, r"bad\.pheno: line 6, column q: non-numeric value 'tall'")


def test_singular_covariates(tiny, kin, tmp_path):
    path = tmp_path / "sing.covar"
    age = np.linspace(20, 60, 60)
    write_table(path, tiny["fid"], tiny["iid"], {"age": age, "age_months": age * 12})
    r = run(null_args(tiny, kin, tmp_path, "--covar", str(path)))
    assert_one_line_error(
        r,
        r"sing\.covar: the covariates with the intercept are linearly "
        r"dependent; drop the redundant ones with --covar-name",
    )


def test_constant_covariate_named(tiny, kin, tmp_path):
    path = tmp_path / "const.covar"
    write_table(path, tiny["fid"], tiny["iid"], {"batch": [1.0] * 60})
    r = run(null_args(tiny, kin, tmp_path, "--covar", str(path)))
    assert_one_line_error(r, r"linearly dependent \(constant: batch\)")


def test_kinship_not_covering_individuals(tiny, tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"F{i} I{i}\n" for i in range(40)))
    out = str(tmp_path / "k40")
    assert (
        run(
            ["kinship", "--bfile", tiny["prefix"], "--keep", str(keep), "--out", out, "--quiet"]
        ).exit_code
        == 0
    )
    r = run(null_args(tiny, out + ".kinship.npz", tmp_path))
    assert_one_line_error(
        r,
        r"k40\.kinship\.npz: 20 of the 60 analysed individuals are not in "
        r"it \(e\.g\. FID F40 IID I40\)",
    )


def test_unknown_pheno_name(tiny, kin, tmp_path):
    r = run(null_args(tiny, kin, tmp_path, "--pheno-name", "height"))
    assert_one_line_error(r, r"tiny\.pheno: no column named 'height'; available: q, q_na, const")


def test_debug_shows_traceback(tiny, kin, tmp_path):
    r = run(null_args(tiny, kin, tmp_path, "--pheno-name", "height", "--debug"))
    assert r.exit_code == 1 and "Traceback" in r.stderr


def test_error_is_written_to_log(tiny, kin, tmp_path):
    run(null_args(tiny, kin, tmp_path, "--pheno-name", "height"))
    assert "ERROR: " in (tmp_path / "o.log").read_text()


def test_all_missing_snp_is_dropped_not_fatal(tmp_path):
    rng = np.random.default_rng(0)
    G = rng.binomial(2, 0.3, size=(30, 20)).astype(float)
    G[:, 3] = np.nan
    write_plink(tmp_path / "m", G)
    r = run(["kinship", "--bfile", str(tmp_path / "m"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0
    assert "1 all-missing" in (tmp_path / "o.log").read_text()


def test_kinship_over_the_phenotyped_individuals_only(tiny, tmp_path):
    """HS1940 regression: a kinship built over the individuals with the phenotype must serve a
    fit-null whose other individuals lack it (they are not analysed, so need no kinship)."""
    import pandas as pd

    table = pd.read_csv(tiny["pheno"], sep=r"\s+")
    table.loc[40:, "q"] = np.nan  # 20 individuals without the phenotype
    pheno = tmp_path / "partial.pheno"
    table.to_csv(pheno, sep="\t", index=False, na_rep="NA")
    keep = tmp_path / "phenotyped.txt"
    keep.write_text("".join(f"F{i} I{i}\n" for i in range(40)))
    out = str(tmp_path / "k40")
    args = ["kinship", "--bfile", tiny["prefix"], "--keep", str(keep), "--out", out, "--quiet"]
    assert run(args).exit_code == 0
    null = str(tmp_path / "null")
    args = ["fit-null", "--bfile", tiny["prefix"], "--kinship", out + ".kinship.npz"]
    r = run([*args, "--pheno", str(pheno), "--pheno-name", "q", "--out", null, "--quiet"])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(null + ".null.tsv", sep="\t").N.tolist() == [40]
