"""Write the corpus of broken inputs and the command that must reject each.

    python tests/bad_inputs/make_corpus.py DIR     # writes DIR/... and lists the cases

`build(folder)` writes a small valid data set (30 individuals x 40 SNPs on 2 chromosomes, a
phenotype and a covariate table, a kinship, a null model and a model made by lmmlasso itself),
then one broken copy per case, and returns the cases: an id, the arguments of an `lmmlasso`
command (with ``{out}`` where the output prefix goes) and a regular expression that the single
``Error:`` line must match; it names the file or option at fault and the fix. Nothing here is
committed as a binary: the test suite builds the corpus in a temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N, P = 30, 40


@dataclass(frozen=True)
class Case:
    id: str
    args: list[str]
    pattern: str


def _write_plink(prefix: Path, G: np.ndarray) -> None:
    from bed_reader import to_bed

    n, p = G.shape
    to_bed(
        str(prefix) + ".bed",
        G,
        properties={
            "fid": [f"F{i}" for i in range(n)],
            "iid": [f"I{i}" for i in range(n)],
            "chromosome": ["1" if j < p // 2 else "2" for j in range(p)],
            "sid": [f"rs{j}" for j in range(p)],
            "bp_position": [1000 * (j + 1) for j in range(p)],
            "allele_1": ["A"] * p,
            "allele_2": ["G"] * p,
        },
    )


def _table(path: Path, header: list[str], rows: list[list]) -> None:
    lines = ["\t".join(header)] + ["\t".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def _copy_plink(src: Path, dst: Path) -> Path:
    for ext in (".bed", ".bim", ".fam"):
        shutil.copy(str(src) + ext, str(dst) + ext)
    return dst


def _lmmlasso(*args: str) -> None:
    from click.testing import CliRunner

    from lmmlasso_cli.cli import main

    result = CliRunner().invoke(main, [*args, "--quiet"])
    if result.exit_code != 0:
        raise RuntimeError(f"lmmlasso {' '.join(args)} failed: {result.output}")


def _base(folder: Path) -> dict:
    rng = np.random.default_rng(2026)
    G = rng.binomial(2, rng.uniform(0.1, 0.5, P), size=(N, P)).astype(np.float32)
    prefix = folder / "ok"
    _write_plink(prefix, G)
    ids = [[f"F{i}", f"I{i}"] for i in range(N)]
    y = G[:, 3] - G[:, 3].mean() + rng.standard_normal(N)
    _table(
        folder / "ok.pheno",
        ["FID", "IID", "q"],
        [[*r, f"{v:.4f}"] for r, v in zip(ids, y, strict=True)],
    )
    age = rng.uniform(20, 70, N).round(1)
    _table(
        folder / "ok.covar", ["FID", "IID", "age"], [[*r, a] for r, a in zip(ids, age, strict=True)]
    )
    base = {"bfile": str(prefix), "pheno": str(folder / "ok.pheno")}
    base["covar"] = str(folder / "ok.covar")
    _lmmlasso("kinship", "--bfile", base["bfile"], "--out", str(folder / "ok"))
    base["kinship"] = str(folder / "ok.kinship.npz")
    pheno = ["--pheno", base["pheno"], "--pheno-name", "q"]
    _lmmlasso(
        "fit-null",
        "--bfile",
        base["bfile"],
        "--kinship",
        base["kinship"],
        *pheno,
        "--out",
        str(folder / "ok"),
    )
    base["null"] = str(folder / "ok.null.npz")
    _lmmlasso(
        "fit",
        "--bfile",
        base["bfile"],
        "--kinship",
        base["kinship"],
        *pheno,
        "--n-active",
        "3",
        "--out",
        str(folder / "ok"),
    )
    base["model"] = str(folder / "ok.model.npz")
    _lmmlasso("gwas", "--bfile", base["bfile"], *pheno, "--lm", "--out", str(folder / "ok"))
    base["gwas"] = str(folder / "ok.gwas.tsv")
    _lmmlasso(
        "shrink",
        "--bfile",
        base["bfile"],
        "--gwas",
        base["gwas"],
        "--method",
        "enet",
        "--block-snps",
        "10",
        "--out",
        str(folder / "ok"),
    )
    base["shrink"] = str(folder / "ok.shrink.tsv")
    return base


def _npz_with_meta(src: str, dst: Path, **changes) -> None:
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__meta__"]))
    meta.update(changes)
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(dst, "wb") as handle:
        np.savez(handle, **arrays)


def build(folder: str | os.PathLike) -> list[Case]:
    """Write the valid data and every broken input below ``folder``; return the cases."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    b = _base(d)
    ok, kin = b["bfile"], b["kinship"]
    pheno = ["--pheno", b["pheno"], "--pheno-name", "q"]
    cases: list[Case] = []

    def null_cmd(bfile=ok, *extra):
        return ["fit-null", "--bfile", bfile, "--kinship", kin, *pheno, *extra, "--out", "{out}"]

    def kin_cmd(bfile, *extra):
        return ["kinship", "--bfile", bfile, *extra, "--out", "{out}"]

    def plink_copy(name: str) -> Path:
        return _copy_plink(Path(ok), d / name)

    def add(case_id, args, pattern):
        cases.append(Case(case_id, args, pattern))

    # --- .bed ---------------------------------------------------------------------------------
    bed_size = os.path.getsize(ok + ".bed")
    p = plink_copy("bed_empty")
    open(str(p) + ".bed", "wb").close()
    add("bed-empty", kin_cmd(str(p)), r"bed_empty\.bed: .*empty.*regenerate")
    p = plink_copy("bed_truncated")
    data = open(str(p) + ".bed", "rb").read()
    open(str(p) + ".bed", "wb").write(data[: bed_size // 2])
    add("bed-truncated", kin_cmd(str(p)), r"bed_truncated\.bed: \.bed is truncated.*re-copy")
    p = plink_copy("bed_long")
    open(str(p) + ".bed", "ab").write(b"\x00" * 8)
    add("bed-too-long", kin_cmd(str(p)), r"bed_long\.bed: \.bed is longer than expected")
    p = plink_copy("bed_magic")
    raw = bytearray(open(str(p) + ".bed", "rb").read())
    raw[0:2] = b"\x00\x00"
    open(str(p) + ".bed", "wb").write(bytes(raw))
    add(
        "bed-wrong-magic",
        kin_cmd(str(p)),
        r"bed_magic\.bed: not a SNP-major PLINK 1 \.bed.*--make-bed",
    )
    p = plink_copy("bed_mode")
    raw[0:3] = b"\x6c\x1b\x00"
    open(str(p) + ".bed", "wb").write(bytes(raw))
    add(
        "bed-individual-major",
        kin_cmd(str(p)),
        r"bed_mode\.bed: not a SNP-major.*6c1b00.*--make-bed",
    )
    p = plink_copy("bed_absent")
    os.remove(str(p) + ".bed")
    add("bed-missing", kin_cmd(str(p)), r"bed_absent\.bed: file not found; --bfile PREFIX")

    # --- .bim ---------------------------------------------------------------------------------
    bim = open(ok + ".bim").read().splitlines()
    p = plink_copy("bim_cols")
    open(str(p) + ".bim", "w").write("\n".join(" ".join(r.split()[:5]) for r in bim) + "\n")
    add("bim-too-few-columns", kin_cmd(str(p)), r"bim_cols\.bim: every \.bim line needs 6 fields")
    p = plink_copy("bim_bp")
    rows = [r.split() for r in bim]
    rows[4][3] = "12kb"
    open(str(p) + ".bim", "w").write("\n".join("\t".join(r) for r in rows) + "\n")
    add("bim-non-numeric-bp", kin_cmd(str(p)), r"bim_bp\.bim: .*bp.*must be numbers.*fix")
    p = plink_copy("bim_dup")
    rows = [r.split() for r in bim]
    rows[7][1] = rows[2][1]
    open(str(p) + ".bim", "w").write("\n".join("\t".join(r) for r in rows) + "\n")
    add(
        "bim-duplicate-id",
        kin_cmd(str(p)),
        r"bim_dup\.bim: duplicate SNP ID rs2.*--set-all-var-ids",
    )
    p = plink_copy("bim_empty")
    open(str(p) + ".bim", "w").close()
    add("bim-empty", kin_cmd(str(p)), r"bim_empty\.bim: the \.bim file is empty")

    # --- .fam ---------------------------------------------------------------------------------
    fam = open(ok + ".fam").read().splitlines()
    p = plink_copy("fam_cols")
    open(str(p) + ".fam", "w").write("\n".join(" ".join(r.split()[:4]) for r in fam) + "\n")
    add("fam-too-few-columns", kin_cmd(str(p)), r"fam_cols\.fam: every \.fam line needs .* fields")
    p = plink_copy("fam_dup")
    rows = [r.split() for r in fam]
    rows[5][:2] = rows[1][:2]
    open(str(p) + ".fam", "w").write("\n".join(" ".join(r) for r in rows) + "\n")
    add(
        "fam-duplicate-id",
        kin_cmd(str(p)),
        r"fam_dup\.fam: duplicate individual \(FID F1, IID I1\)",
    )
    p = plink_copy("fam_empty")
    open(str(p) + ".fam", "w").close()
    add("fam-empty", kin_cmd(str(p)), r"fam_empty\.fam: the \.fam file is empty")

    # --- phenotype and covariate tables ---------------------------------------------------------
    lines = open(b["pheno"]).read().splitlines()

    def pheno_case(case_id, text, pattern, name="q", extra=()):
        path = d / f"{case_id}.pheno"
        path.write_text(text)
        args = ["fit-null", "--bfile", ok, "--kinship", kin, "--pheno", str(path)]
        args += (["--pheno-name", name] if name else []) + list(extra) + ["--out", "{out}"]
        add(case_id, args, pattern)

    pheno_case(
        "pheno-ragged",
        "\n".join(lines[:4] + [lines[4] + "\t1.0"] + lines[5:]) + "\n",
        r"pheno-ragged\.pheno: line 5 has 4 fields but .* 3 columns",
    )
    for case_id, value in (("pheno-inf", "inf"), ("pheno-minus-inf", "-inf")):
        bad = lines[3].split("\t")[:2] + [value]
        pheno_case(
            case_id,
            "\n".join(lines[:3] + ["\t".join(bad)] + lines[4:]) + "\n",
            rf"{case_id}\.pheno: line 4, column q: infinite value '{value}'.*NA",
        )
    bad = lines[2].split("\t")[:2] + ["tall"]
    pheno_case(
        "pheno-text",
        "\n".join(lines[:2] + ["\t".join(bad)] + lines[3:]) + "\n",
        r"pheno-text\.pheno: line 3, column q: non-numeric value 'tall'.*NA or -9",
    )
    pheno_case(
        "pheno-duplicate-row",
        "\n".join(lines + [lines[6]]) + "\n",
        r"pheno-duplicate-row\.pheno: individual \(FID F5, IID I5\) appears twice",
    )
    pheno_case("pheno-empty", "", r"pheno-empty\.pheno: the phenotype file is empty")
    pheno_case(
        "pheno-unknown-name",
        "\n".join(lines) + "\n",
        r"pheno-unknown-name\.pheno: no column named 'height'; available: q",
        name="height",
    )
    pheno_case(
        "pheno-mpheno-out-of-range",
        "\n".join(lines) + "\n",
        r"pheno-mpheno-out-of-range\.pheno: --mpheno 3 is out of range.*1 value column",
        name=None,
        extra=["--mpheno", "3"],
    )
    other = ["FID\tIID\tq"] + [f"X{i}\tY{i}\t{i}" for i in range(N)]
    pheno_case(
        "pheno-no-overlap",
        "\n".join(other) + "\n",
        r"pheno-no-overlap\.pheno: none of its 30 \(FID, IID\) pairs matches ok\.fam.*same FID",
    )
    const = ["FID\tIID\tq"] + [f"F{i}\tI{i}\t1.5" for i in range(N)]
    pheno_case(
        "pheno-constant",
        "\n".join(const) + "\n",
        r"pheno-constant\.pheno: phenotype q is constant \(1\.5\).*drop it",
    )
    (d / "pheno_dir").mkdir(exist_ok=True)
    add(
        "pheno-directory",
        null_cmd(ok)[:5] + ["--pheno", str(d / "pheno_dir"), "--out", "{out}"],
        r"pheno_dir: is a directory, not a phenotype file",
    )
    add(
        "pheno-missing-file",
        null_cmd(ok)[:5] + ["--pheno", str(d / "absent.pheno"), "--out", "{out}"],
        r"absent\.pheno: phenotype file not found",
    )
    clines = open(b["covar"]).read().splitlines()

    def covar_case(case_id, text, pattern, extra=()):
        path = d / f"{case_id}.covar"
        path.write_text(text)
        add(case_id, null_cmd(ok, "--covar", str(path), *extra), pattern)

    bad = clines[2].split("\t")[:2] + ["old"]
    covar_case(
        "covar-text",
        "\n".join(clines[:2] + ["\t".join(bad)] + clines[3:]) + "\n",
        r"covar-text\.covar: line 3, column age: non-numeric value 'old'",
    )
    covar_case(
        "covar-ragged",
        "\n".join(clines[:3] + [clines[3].split("\t")[0]] + clines[4:]),
        r"covar-ragged\.covar: line 4 has 1 fields but the covariate file has 3 columns",
    )
    covar_case(
        "covar-unknown-name",
        "\n".join(clines) + "\n",
        r"covar-unknown-name\.covar: no column named 'bmi'; available: age",
        extra=["--covar-name", "bmi"],
    )
    bad = clines[5].split("\t")[:2] + ["inf"]
    covar_case(
        "covar-inf",
        "\n".join(clines[:5] + ["\t".join(bad)] + clines[6:]) + "\n",
        r"covar-inf\.covar: line 6, column age: infinite value 'inf'",
    )
    twice = ["FID\tIID\tage\tage2"] + [f"{r}\t{r.split(chr(9))[2]}" for r in clines[1:]]
    covar_case(
        "covar-collinear",
        "\n".join(twice) + "\n",
        r"covar-collinear\.covar: the covariates with the intercept are linearly "
        r"dependent.*--covar-name",
    )

    # --- ID lists -----------------------------------------------------------------------------
    add(
        "keep-missing-file",
        kin_cmd(ok, "--keep", str(d / "absent.keep")),
        r"absent\.keep: file not found",
    )
    (d / "nobody.keep").write_text("X1 Y1\nX2 Y2\n")
    add(
        "keep-no-overlap",
        kin_cmd(ok, "--keep", str(d / "nobody.keep")),
        r"no individual is left .*30 not listed in --keep .*nobody\.keep.*check the FID/IID",
    )
    add(
        "extract-missing-file",
        kin_cmd(ok, "--extract", str(d / "absent.snps")),
        r"absent\.snps: file not found",
    )
    (d / "nothing.snps").write_text("rs900\nrs901\n")
    add(
        "extract-no-overlap",
        kin_cmd(ok, "--extract", str(d / "nothing.snps")),
        r"ok\.bim: no SNP is left after --chr/--extract/--exclude",
    )
    (d / "everyone.remove").write_text("".join(f"F{i} I{i}\n" for i in range(N)))
    add(
        "remove-everyone",
        kin_cmd(ok, "--remove", str(d / "everyone.remove")),
        r"no individual is left .*30 listed in --remove .*everyone\.remove.*check the FID/IID",
    )

    # --- artifacts ----------------------------------------------------------------------------
    data = open(kin, "rb").read()
    (d / "truncated.kinship.npz").write_bytes(data[: len(data) // 3])
    add(
        "kinship-truncated",
        null_cmd(ok)[:3]
        + ["--kinship", str(d / "truncated.kinship.npz"), *pheno, "--out", "{out}"],
        r"truncated\.kinship\.npz: not a readable \.npz artifact.*re-create",
    )
    add(
        "kinship-of-another-kind",
        null_cmd(ok)[:3] + ["--kinship", b["null"], *pheno, "--out", "{out}"],
        r"ok\.null\.npz: is a 'null' artifact but a 'kinship' one is needed",
    )
    _npz_with_meta(kin, d / "old.kinship.npz", format_version=0)
    add(
        "kinship-older-format",
        null_cmd(ok)[:3] + ["--kinship", str(d / "old.kinship.npz"), *pheno, "--out", "{out}"],
        r"old\.kinship\.npz: written by an older lmmlasso-cli.*re-create",
    )
    (d / "half.keep").write_text("".join(f"F{i} I{i}\n" for i in range(N // 2)))
    _lmmlasso("kinship", "--bfile", ok, "--keep", str(d / "half.keep"), "--out", str(d / "half"))
    add(
        "kinship-of-other-individuals",
        null_cmd(ok)[:3] + ["--kinship", str(d / "half.kinship.npz"), *pheno, "--out", "{out}"],
        r"half\.kinship\.npz: 15 of the 30 analysed individuals are not in it",
    )
    add(
        "null-of-other-individuals",
        [
            "fit",
            "--bfile",
            ok,
            "--kinship",
            kin,
            "--null",
            b["null"],
            *pheno,
            "--keep",
            str(d / "half.keep"),
            "--n-active",
            "2",
            "--out",
            "{out}",
        ],
        r"ok\.null\.npz: phenotype q was fitted on 30 individuals but .* gives 15.*fit-null",
    )
    _npz_with_meta(b["model"], d / "old.model.npz", format_version=0)
    add(
        "model-older-format",
        ["predict", "--bfile", ok, "--model", str(d / "old.model.npz"), "--out", "{out}"],
        r"old\.model\.npz: written by an older lmmlasso-cli.*re-create",
    )
    p = plink_copy("renamed")
    rows = [r.split() for r in bim]
    for r in rows:
        r[1] = "x" + r[1]
    open(str(p) + ".bim", "w").write("\n".join("\t".join(r) for r in rows) + "\n")
    add(
        "model-snps-absent",
        ["predict", "--bfile", str(p), "--model", b["model"], "--out", "{out}"],
        r"renamed\.bim: \d+ of the \d+ SNPs of .*ok\.model\.npz are missing.*impute",
    )

    # --- summary statistics and gene files ---------------------------------------------------
    gwas = open(b["gwas"]).read().splitlines()
    head = [ln for ln in gwas if ln.startswith("##")]
    body = [ln for ln in gwas if not ln.startswith("##")]
    cols = body[0].split("\t")

    def sumstats_case(case_id, text, pattern):
        path = d / f"{case_id}.tsv"
        path.write_text(text)
        add(
            case_id,
            [
                "shrink",
                "--bfile",
                ok,
                "--sumstats",
                str(path),
                "--method",
                "enet",
                "--out",
                "{out}",
            ],
            pattern,
        )

    generic = ["CHR\tSNP\tA1\tBETA"] + [
        "\t".join(r.split("\t")[i] for i in (0, 2, 5, 7)) for r in body[1:]
    ]
    sumstats_case(
        "sumstats-missing-column",
        "\n".join(generic) + "\n",
        r"sumstats-missing-column\.tsv: lacks the column\(s\) SE; summary statistics "
        r"need CHR, SNP \(or ID\), A1, BETA and SE",
    )
    renamed = [body[0]] + [
        "\t".join(f[:2] + ["z" + f[2]] + f[3:]) for f in (r.split("\t") for r in body[1:])
    ]
    sumstats_case(
        "sumstats-no-common-snp",
        "\n".join(head + renamed) + "\n",
        r"sumstats-no-common-snp\.tsv: no variant matches .*ok\.bim by ID and alleles.*same IDs",
    )
    zero = [r.split("\t") for r in body[1:]]
    zero[4][cols.index("SE")] = "0"
    sumstats_case(
        "sumstats-se-not-positive",
        "\n".join([body[0]] + ["\t".join(f) for f in zero]) + "\n",
        r"sumstats-se-not-positive\.tsv: SE must be positive, but row 5 \(rs4\) has SE 0",
    )

    def genes_case(case_id, text, pattern):
        path = d / f"{case_id}.genes"
        path.write_text(text)
        add(
            case_id,
            [
                "gene-test",
                "--bfile",
                ok,
                "--shrink",
                b["shrink"],
                "--genes",
                str(path),
                "--epsilon",
                "0.001",
                "--out",
                "{out}",
            ],
            pattern,
        )

    genes_case(
        "genes-start-after-end",
        "CHR\tSTART\tEND\tGENE\n1\t1000\t20000\tA\n1\t9000\t5000\tB\n",
        r"genes-start-after-end\.genes: line 3: START 9000 > END 5000 for gene B; swap",
    )
    genes_case(
        "genes-unknown-chromosome",
        "CHR\tSTART\tEND\tGENE\nZ\t1000\t20000\tA\n",
        r"genes-unknown-chromosome\.genes: no gene lies on the data's chromosomes.*same "
        r"chromosome names",
    )

    add("shrink-model-not-an-npz", ["shrink", "--bfile", ok, "--gwas", b["gwas"], "--model",
        b["shrink"], "--out", "{out}"],
        r"ok\.shrink\.tsv: not a readable \.npz artifact \(not an \.npz file\)")  # fmt: skip
    add(
        "pca-too-many-pcs",
        ["pca", "--bfile", ok, "--n-pcs", "50", "--out", "{out}"],
        r"ok\.bed: --n-pcs must be between 1 and 30, got 50",
    )

    # --- option values ------------------------------------------------------------------------
    fit = ["fit", "--bfile", ok, "--kinship", kin, *pheno]
    add(
        "mu-negative",
        [*fit, "--mu", "-1", "--out", "{out}"],
        r"Invalid value for '--mu': -1\.0 is not in the range x>0.*lmmlasso fit --help",
    )
    add(
        "mu-and-n-active",
        [*fit, "--mu", "1", "--n-active", "2", "--out", "{out}"],
        r"--mu, --n-active: choose one of --mu, --n-active or --mu-list",
    )
    add(
        "n-active-above-snps",
        [*fit, "--n-active", "500", "--out", "{out}"],
        r"--n-active 500 exceeds the 40 SNPs",
    )
    add(
        "fraction-out-of-range",
        [
            "stability",
            "--bfile",
            ok,
            "--kinship",
            kin,
            *pheno,
            "--n-active",
            "2",
            "--fraction",
            "1.5",
            "--out",
            "{out}",
        ],
        r"Invalid value for '--fraction': 1\.5 is not in the range 0<x<=1",
    )
    add(
        "folds-above-individuals",
        [
            "cv",
            "--bfile",
            ok,
            "--kinship",
            kin,
            *pheno,
            "--folds",
            "20",
            "--n-mu",
            "3",
            "--out",
            "{out}",
        ],
        r"30 individuals cannot make 20 folds .*lower --folds",
    )
    add(
        "h2-above-one",
        [
            "simulate",
            "--bfile",
            ok,
            "--kinship",
            kin,
            "--h2-snps",
            "0.7",
            "--h2-background",
            "0.6",
            "--out",
            "{out}",
        ],
        r"--h2-snps 0\.7 \+ --h2-background 0\.6 exceed 1; lower one of them",
    )
    add(
        "unknown-option",
        ["kinship", "--bfile", ok, "--maff", "0.1", "--out", "{out}"],
        r"No such option '--maff'\. Did you mean '--maf'\?.*lmmlasso kinship --help",
    )
    # --- memory --------------------------------------------------------------------------------
    add("memory-too-small", kin_cmd(ok, "--memory", "0.001"),
        r"kinship needs about .* GB .* more than --memory 0\.001 GB; raise --memory")  # fmt: skip
    return cases


if __name__ == "__main__":
    for case in build(sys.argv[1] if len(sys.argv) > 1 else "bad_inputs_corpus"):
        print(f"{case.id}\tlmmlasso {' '.join(case.args)}")
