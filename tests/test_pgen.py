"""--pfile reads PLINK 2 sets into the same genotypes as --bfile: identical results.

The reference conversion is Debian's plink2 (`plink2 --make-pgen`), which .ci/run installs; the
parsers and dosage rounding are also tested on files written here with pgenlib's own writer.
"""

import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.io.pgen import read_psam, read_pvar
from lmmlasso_cli.io.plink import GenotypeReader, read_plink

PLINK2 = shutil.which("plink2")


def run(*args):
    result = CliRunner().invoke(main, [*map(str, args), "--quiet"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def toy_pgen(toy, tmp_path_factory):
    if PLINK2 is None:
        pytest.skip("plink2 is not installed (.ci/run installs Debian's plink2)")
    out = tmp_path_factory.mktemp("pgen") / "toy"
    for name in ("toy", "new"):
        subprocess.run(
            [PLINK2, "--bfile", str(toy / name), "--make-pgen", "--out", str(out.parent / name)],
            check=True,
            capture_output=True,
        )
    return out.parent


def _body(path):
    """A TSV without its ## lines (they name the input files)."""
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("##")]


def test_plink2_conversion_reads_the_same_genotypes(toy, toy_pgen):
    bed, pgen = read_plink(str(toy / "toy")), read_plink(str(toy_pgen / "toy"), "pgen")
    for field in ("fid", "iid", "chrom", "snp", "bp", "a1", "a2"):
        np.testing.assert_array_equal(getattr(bed, field), getattr(pgen, field))
    # plink2 prints .psam phenotypes to 6 significant digits
    np.testing.assert_allclose(bed.fam_phenotypes, pgen.fam_phenotypes, rtol=5e-6)
    rows = np.array([5, 0, 599, 17])  # an unsorted subset of individuals
    snps = np.array([0, 3, 9999, 42, 1000])
    with GenotypeReader(bed, rows) as a, GenotypeReader(pgen, rows) as b:
        np.testing.assert_array_equal(a.read(snps), b.read(snps))
        assert b.n_rounded_dosages == 0


def test_every_command_gives_the_same_results_from_pfile(toy, toy_pgen, tmp_path):
    pheno = ["--pheno", toy / "toy.pheno", "--pheno-name", "q1", "--covar", toy / "toy.covar"]
    for flag, prefix, tag in (("--bfile", toy, "b"), ("--pfile", toy_pgen, "p")):
        g, new = [flag, prefix / "toy"], [flag, prefix / "new"]
        out = tmp_path / tag
        run("kinship", *g, "--out", out)
        run("fit", *g, "--kinship", f"{out}.kinship.npz", *pheno, "--reml", "--n-active", "8",
            "--out", out)  # fmt: skip
        run("predict", *new, "--model", f"{out}.model.npz", "--covar", toy / "new.covar",
            "--out", out)  # fmt: skip
        run("gwas", *g, "--kinship", f"{out}.kinship.npz", *pheno, "--out", out)
    b, p = tmp_path / "b", tmp_path / "p"
    ka, kb = np.load(f"{b}.kinship.npz"), np.load(f"{p}.kinship.npz")
    np.testing.assert_array_equal(ka["K"], kb["K"])
    for suffix in (".weights.tsv", ".path.tsv", ".score.tsv", ".pred.tsv", ".gwas.tsv"):
        assert _body(b.with_name("b" + suffix)) == _body(p.with_name("p" + suffix)), suffix


def test_psam_and_pvar_headers(tmp_path):
    psam = tmp_path / "x.psam"
    psam.write_text("#IID\tSEX\tbmi\nA\t1\t22.5\nB\t2\tNA\n")
    fid, iid, pheno = read_psam(str(psam))
    assert fid.tolist() == ["0", "0"] and iid.tolist() == ["A", "B"]  # plink2's FID when absent
    np.testing.assert_array_equal(pheno, [[22.5], [np.nan]])
    pvar = tmp_path / "x.pvar"
    pvar.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\n"
                    "1\t100\trs1\tA\tG\t.\n2\t50\trs2\tC\tT\t.\n")  # fmt: skip
    table = read_pvar(str(pvar))
    assert table.a1.tolist() == ["G", "T"] and table.a2.tolist() == ["A", "C"]  # A1 = ALT
    assert table.bp.tolist() == ["100", "50"] and table.chrom.tolist() == ["1", "2"]


def test_dosages_are_rounded_to_hard_calls_and_counted(tmp_path):
    import pgenlib

    dosages = np.array([[0.0, 1.0, 2.0, 1.2], [0.4, 1.6, -9.0, 2.0]])  # variants x samples
    with pgenlib.PgenWriter(str(tmp_path / "d.pgen").encode(), 4, 2, dosage_present=True) as w:
        for row in dosages:
            w.append_dosages(row.astype(np.float32))
    (tmp_path / "d.psam").write_text("#IID\n" + "".join(f"I{i}\n" for i in range(4)))
    (tmp_path / "d.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n1\t1\ta\tA\tG\n1\t2\tb\tC\tT\n")
    plink = read_plink(str(tmp_path / "d"), "pgen")
    with GenotypeReader(plink, np.arange(4)) as reader:
        counts = reader.read(np.array([0, 1]))
        assert reader.n_rounded_dosages == 3  # 1.2, 0.4 and 1.6
    np.testing.assert_array_equal(counts[:, 0], [0, 1, 2, 1])
    np.testing.assert_array_equal(counts[[0, 1, 3], 1], [0, 2, 2])
    assert np.isnan(counts[2, 1])
