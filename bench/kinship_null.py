"""Kinship and null model against PLINK 2 and GEMMA (issue 2), all measured in one run.

    .venv/bin/python bench/kinship_null.py [--quick] [--repeats N]

1. Time and peak memory of `lmmlasso kinship` (default, --threads 1, --threads 2) against
   `plink2 --make-rel square bin` and `gemma -gk 2`, on GEMMA's example mouse set
   (1940 x 12226) and, unless --quick, on HLC (427 x 358499).
2. Agreement of the matrices. PLINK 2: our `--scaling hwe` kinship and `plink2 --make-rel` on
   the same SNPs (autosomal, bp >= 0, no missing call, polymorphic), plink2's matrix divided by
   its mean diagonal. GEMMA: our default (empirical) kinship against `gemma -gk 2`, both as they
   come and on GEMMA's own SNP set (its default filters: missing rate <= 0.05 and MAF >= 0.01
   among phenotyped individuals, at least two genotype classes).
3. h² of the six mouse phenotypes: `lmmlasso fit-null --reml --transform none` against
   `gemma -k OUR_K.txt -lmm 1` (REML null model) on the same kinship. GEMMA double-centres K
   over the analysed individuals (CenterMatrix in gemma.cpp) and reports
   pve = σg² t / (σg² t + σe²) with t = tr(P K_sub P)/n, P = I - 11ᵀ/n; our h² is
   σg²/(σg² + σe²) on K normalized to mean diagonal 1 over all individuals. We convert ours with
   GEMMA's t, and also with t = mean diag(K_sub) for reference.
4. Writes bench/results/kinship_null.json (bench/report.py renders it into bench/README.md).
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    GEMMA,
    LMMLASSO,
    PLINK2,
    RESULTS,
    WORK,
    BenchError,
    ensure_tools,
    loadavg,
    machine,
    prepare_plink_set,
    rel,
    run,
    show_command,
    time_round_robin,
    utc_timestamp,
    write_json,
)

RESULT_JSON = RESULTS / "kinship_null.json"
DATASETS = {"mouse": "mouse_hs1940", "hlc": "HLC"}
AUTOSOMES = {str(c) for c in range(1, 23)}
MOUSE_PHENOTYPES = range(1, 7)  # GEMMA -n N = .fam column 5 + N
GEMMA_MISS_MAX = 0.05  # GEMMA defaults (-miss, -maf)
GEMMA_MAF_MIN = 0.01
GEMMA_NULL_SNPS = 100  # SNPs handed to `gemma -lmm 1`; the null model does not depend on them
PLINK_TOL = 1e-6  # max |ΔK| accepted against plink2's float64 matrix
GEMMA_K_TOL = 1e-6  # GEMMA writes K as text with 10 significant digits
H2_TOL = 1e-3  # max |Δpve| accepted against GEMMA after conversion
READ_CHUNK = 16384  # SNPs per genotype read when summarizing


# ----------------------------------------------------------------------------- genotypes


@dataclass(frozen=True)
class PlinkSet:
    """A PLINK 1 set with its .bim and .fam read as text."""

    prefix: Path
    snp: np.ndarray  # (n_snps,) IDs
    chrom: np.ndarray  # (n_snps,) str
    bp: np.ndarray  # (n_snps,) int
    fam: np.ndarray  # (n_samples, >=6) str

    @property
    def n_samples(self) -> int:
        return self.fam.shape[0]

    @property
    def n_snps(self) -> int:
        return len(self.snp)


def read_plink_set(prefix: Path) -> PlinkSet:
    bim = np.loadtxt(f"{prefix}.bim", dtype=str, ndmin=2)
    fam = np.loadtxt(f"{prefix}.fam", dtype=str, ndmin=2)
    return PlinkSet(prefix, bim[:, 1], bim[:, 0], bim[:, 3].astype(np.int64), fam)


@dataclass(frozen=True)
class GenotypeCounts:
    """Per-SNP genotype class counts over a set of individuals (all arrays (n_snps,))."""

    n0: np.ndarray
    n1: np.ndarray
    n2: np.ndarray
    n_miss: np.ndarray

    @property
    def n_classes(self) -> np.ndarray:
        return (self.n0 > 0).astype(int) + (self.n1 > 0) + (self.n2 > 0)


def count_genotypes(plink: PlinkSet, rows: np.ndarray) -> GenotypeCounts:
    """Genotype class counts of every SNP over the individuals ``rows`` (bool mask)."""
    from bed_reader import open_bed

    parts = []
    with open_bed(
        f"{plink.prefix}.bed", count_A1=True, iid_count=plink.n_samples, sid_count=plink.n_snps
    ) as bed:
        for start in range(0, plink.n_snps, READ_CHUNK):
            g = bed.read(np.s_[:, start : start + READ_CHUNK], dtype="int8")[rows]
            parts.append(
                np.stack([(g == 0).sum(0), (g == 1).sum(0), (g == 2).sum(0), (g == -127).sum(0)])
            )
    n0, n1, n2, n_miss = np.concatenate(parts, axis=1)
    return GenotypeCounts(n0, n1, n2, n_miss)


def phenotyped(plink: PlinkSet, column: int = 6) -> np.ndarray:
    """Individuals whose .fam column ``column`` (1-based) is present (not NA or -9)."""
    values = plink.fam[:, column - 1]
    return ~np.isin(values, ["NA", "-9", "nan", "NaN"])


def plink_comparable_snps(plink: PlinkSet, counts: GenotypeCounts) -> np.ndarray:
    """SNPs plink2 --make-rel uses identically to us: autosomal, bp >= 0, complete, polymorphic."""
    return (
        np.isin(plink.chrom, list(AUTOSOMES))
        & (plink.bp >= 0)
        & (counts.n_miss == 0)
        & (counts.n_classes >= 2)
    )


def gemma_snps(counts: GenotypeCounts, n_analysed: int) -> np.ndarray:
    """GEMMA's default SNP filter (ReadFile_bed), counts taken over the analysed individuals."""
    called = n_analysed - counts.n_miss
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = (counts.n1 + 2.0 * counts.n2) / (2.0 * called)
    return (
        (counts.n_miss / n_analysed <= GEMMA_MISS_MAX)
        & (freq >= GEMMA_MAF_MIN)
        & (freq <= 1.0 - GEMMA_MAF_MIN)
        & (counts.n_classes >= 2)
    )


def write_subset(plink: PlinkSet, keep: np.ndarray, prefix: Path) -> Path:
    """Copy the SNPs ``keep`` (bool mask) into a new PLINK set, byte for byte, .fam unchanged."""
    bytes_per_snp = (plink.n_samples + 3) // 4
    bed = np.memmap(
        f"{plink.prefix}.bed",
        dtype=np.uint8,
        mode="r",
        offset=3,
        shape=(plink.n_snps, bytes_per_snp),
    )
    with open(f"{prefix}.bed", "wb") as out:
        out.write(bytes([0x6C, 0x1B, 0x01]))
        out.write(np.ascontiguousarray(bed[keep]).tobytes())
    lines = Path(f"{plink.prefix}.bim").read_text().splitlines(keepends=True)
    Path(f"{prefix}.bim").write_text("".join(l for l, k in zip(lines, keep, strict=True) if k))
    shutil.copyfile(f"{plink.prefix}.fam", f"{prefix}.fam")
    return prefix


# ----------------------------------------------------------------------------- readers


def load_npz_kinship(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in ("K", "fid", "iid", "snp", "scale")}


def load_plink2_rel(prefix: Path) -> tuple[np.ndarray, np.ndarray]:
    """plink2 `--make-rel square bin` matrix (float64) and its IIDs."""
    ids = np.loadtxt(f"{prefix}.rel.id", dtype=str, comments=None, ndmin=2)
    if ids[0, 0].startswith("#"):
        ids = ids[1:]
    values = np.fromfile(f"{prefix}.rel.bin", dtype="<f8")
    n = len(ids)
    if values.size != n * n:
        raise BenchError(f"{prefix}.rel.bin holds {values.size} values, expected {n}²")
    return values.reshape(n, n), ids[:, -1]


def parse_plink2_snps(log: Path) -> int:
    """Variants plink2 --make-rel used: loaded/remaining minus those on non-autosomes."""
    text = log.read_text()
    remaining = re.findall(r"(\d+) variants? remaining after main filters", text)
    loaded = re.findall(r"(\d+) (?:out of \d+ )?variants? loaded", text)
    if not (remaining or loaded):
        raise BenchError(f"{log}: no variant count found")
    used = int(remaining[-1]) if remaining else int(loaded[-1])
    excluded = re.search(r"Excluding (\d+) variants? on non-autosomes", text)
    return used - (int(excluded.group(1)) if excluded else 0)


GEMMA_FIELDS = {
    "n_analysed": r"^## number of analyzed individuals = (\S+)",
    "n_snps": r"^## number of analyzed SNPs/var = (\S+)",
    "loglik_reml": r"^## REMLE log-likelihood in the null model = (\S+)",
    "loglik_ml": r"^## MLE log-likelihood in the null model = (\S+)",
    "pve": r"^## pve estimate in the null model = (\S+)",
    "pve_se": r"^## se\(pve\) in the null model = (\S+)",
    "vg": r"^## vg estimate in the null model = (\S+)",
    "ve": r"^## ve estimate in the null model = (\S+)",
    "beta": r"^## beta estimate in the null model = +(\S+)",
    "beta_se": r"^## se\(beta\) = +(\S+)",
}


def parse_gemma_log(path: Path, fields: tuple[str, ...]) -> dict[str, float]:
    text = path.read_text()
    out = {}
    for name in fields:
        match = re.search(GEMMA_FIELDS[name], text, flags=re.MULTILINE)
        if match is None:
            raise BenchError(f"{path}: no line matching {GEMMA_FIELDS[name]!r}")
        out[name] = float(match.group(1))
    return out


def print_resolution(value: float) -> float:
    """Half a unit in the last place of a number printed by C++ iostream (6 significant)."""
    if value == 0:
        return 0.0
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - 5)


# ----------------------------------------------------------------------------- 1. timing


def kinship_commands(prefix: Path, out: Path, name: str) -> dict[str, list]:
    lmm = [LMMLASSO, "kinship", "--bfile", prefix]
    return {
        "lmmlasso kinship (default)": [*lmm, "--out", out / "ours_default"],
        "lmmlasso kinship --threads 1": [*lmm, "--threads", "1", "--out", out / "ours_t1"],
        "lmmlasso kinship --threads 2": [*lmm, "--threads", "2", "--out", out / "ours_t2"],
        "plink2 --make-rel square bin": [
            PLINK2,
            "--bfile",
            prefix,
            "--make-rel",
            "square",
            "bin",
            "--nonfounders",
            "--out",
            out / "plink2",
        ],
        "gemma -gk 2": [
            GEMMA,
            "-bfile",
            prefix,
            "-gk",
            "2",
            "-o",
            f"{name}_gk",
            "-outdir",
            out / "gemma",
        ],
    }


def time_kinships(name: str, prefix: Path, repeats: int) -> dict:
    out = WORK / name / "timing"
    out.mkdir(parents=True, exist_ok=True)
    commands = kinship_commands(prefix, out, name)
    # one untimed run: numba's cache and the page cache are warm for everybody
    run(commands["lmmlasso kinship (default)"], out / "warmup")
    load_before = loadavg()
    timings = time_round_robin(commands, out, repeats)
    load_after = loadavg()
    n_snps = {
        "lmmlasso kinship (default)": len(
            load_npz_kinship(out / "ours_default.kinship.npz")["snp"]
        ),
        "plink2 --make-rel square bin": parse_plink2_snps(out / "plink2.log"),
        "gemma -gk 2": int(
            parse_gemma_log(out / "gemma" / f"{name}_gk.log.txt", ("n_snps",))["n_snps"]
        ),
    }
    ours = timings[0]
    rows = []
    for t in timings:
        rows.append(
            {
                "dataset": name,
                "tool": t.label,
                "command": t.command,
                "seconds": t.seconds,
                "all_seconds": t.all_seconds,
                "cpu_seconds": t.cpu_seconds,
                "max_rss_mb": t.max_rss_mb,
                "time_ratio_vs_ours": t.seconds / ours.seconds,
                "rss_ratio_vs_ours": t.max_rss_mb / ours.max_rss_mb,
                "n_snps_used": n_snps.get(t.label, n_snps["lmmlasso kinship (default)"]),
            }
        )
    return {"rows": rows, "dir": out, "loadavg_before": load_before, "loadavg_after": load_after}


# ----------------------------------------------------------------------------- 2. agreement


def our_kinship_on(plink: PlinkSet, keep: np.ndarray, scaling: str, out: Path) -> dict:
    """`lmmlasso kinship --extract` on the SNPs ``keep``; if --extract fails, a subset set.

    Returns the kinship, the command that produced it and what happened to --extract.
    """
    snp_list = out.with_suffix(".snps.txt")
    snp_list.write_text("".join(s + "\n" for s in plink.snp[keep]))
    argv = [
        LMMLASSO,
        "kinship",
        "--bfile",
        plink.prefix,
        "--extract",
        snp_list,
        "--scaling",
        scaling,
        "--out",
        out,
    ]
    first = run(argv, out.with_name(out.name + ".extract"), check=False)
    note = {"extract_command": show_command(first.argv), "extract_returncode": first.returncode}
    if first.returncode == 0:
        kin = load_npz_kinship(Path(f"{out}.kinship.npz"))
        note["extract_snp_ids_match"] = bool(np.array_equal(kin["snp"], plink.snp[keep]))
        note["command"] = note["extract_command"]
        return {"kin": kin, **note}
    note["extract_error"] = first.stderr_tail.splitlines()[-1] if first.stderr_tail else ""
    subset = write_subset(plink, keep, out.with_name(out.name + "_subset"))
    argv = [LMMLASSO, "kinship", "--bfile", subset, "--scaling", scaling, "--out", out]
    run(argv, out.with_name(out.name + ".subset"))
    kin = load_npz_kinship(Path(f"{out}.kinship.npz"))
    note["command"] = show_command(argv) + "   # subset .bed made by the bench (--extract failed)"
    note["extract_snp_ids_match"] = None
    return {"kin": kin, **note}


def agree_plink2(name: str, plink: PlinkSet, counts: GenotypeCounts) -> dict:
    out = WORK / name / "agree"
    out.mkdir(parents=True, exist_ok=True)
    keep = plink_comparable_snps(plink, counts)
    ours = our_kinship_on(plink, keep, "hwe", out / "ours_hwe")
    snp_list = out / "ours_hwe.snps.txt"
    argv = [
        PLINK2,
        "--bfile",
        plink.prefix,
        "--extract",
        snp_list,
        "--make-rel",
        "square",
        "bin",
        "--nonfounders",
        "--out",
        out / "plink2",
    ]
    run(argv, out / "plink2")
    rel_matrix, rel_iid = load_plink2_rel(out / "plink2")
    if not np.array_equal(rel_iid, ours["kin"]["iid"]):
        raise BenchError(f"{out}/plink2.rel.id lists individuals in another order than ours")
    plink_mean_diag = float(np.mean(np.diag(rel_matrix)))
    delta = np.abs(ours["kin"]["K"] - rel_matrix / plink_mean_diag)
    return {
        "dataset": name,
        "peer": "plink2 --make-rel (hwe)",
        "n_snps": int(keep.sum()),
        "max_abs_diff": float(delta.max()),
        "mean_abs_diff": float(delta.mean()),
        "peer_mean_diag_raw": plink_mean_diag,
        "ours_scale": float(ours["kin"]["scale"]),
        "ours_command": ours["command"],
        "peer_command": show_command(argv),
        "extract_command": ours["extract_command"],
        "extract_returncode": ours["extract_returncode"],
        "extract_error": ours.get("extract_error"),
        "extract_snp_ids_match": ours["extract_snp_ids_match"],
        "tolerance": PLINK_TOL,
        "ok": bool(delta.max() < PLINK_TOL),
    }


def agree_gemma(name: str, plink: PlinkSet, timing_dir: Path) -> list[dict]:
    """Our empirical kinship against `gemma -gk 2`: defaults as they come, then GEMMA's SNPs."""
    out = WORK / name / "agree"
    out.mkdir(parents=True, exist_ok=True)
    gemma_prefix = timing_dir / "gemma" / f"{name}_gk"
    gemma_k = np.loadtxt(f"{gemma_prefix}.sXX.txt")
    gemma_log = parse_gemma_log(Path(f"{gemma_prefix}.log.txt"), ("n_snps", "n_analysed"))
    gemma_mean_diag = float(np.mean(np.diag(gemma_k)))
    gemma_norm = gemma_k / gemma_mean_diag
    default = load_npz_kinship(timing_dir / "ours_default.kinship.npz")
    rows = []
    delta = np.abs(default["K"] - gemma_norm)
    rows.append(
        {
            "dataset": name,
            "peer": "gemma -gk 2, both defaults",
            "n_snps": len(default["snp"]),
            "peer_n_snps": int(gemma_log["n_snps"]),
            "max_abs_diff": float(delta.max()),
            "mean_abs_diff": float(delta.mean()),
            "peer_mean_diag_raw": gemma_mean_diag,
            "ours_command": show_command(
                [LMMLASSO, "kinship", "--bfile", plink.prefix, "--out", timing_dir / "ours_default"]
            ),
            "tolerance": None,
            "ok": None,
        }
    )
    analysed = phenotyped(plink)
    keep = gemma_snps(count_genotypes(plink, analysed), int(analysed.sum()))
    ours = our_kinship_on(plink, keep, "empirical", out / "ours_gemma_snps")
    delta = np.abs(ours["kin"]["K"] - gemma_norm)
    rows.append(
        {
            "dataset": name,
            "peer": "gemma -gk 2, GEMMA's SNP set",
            "n_snps": int(keep.sum()),
            "peer_n_snps": int(gemma_log["n_snps"]),
            "max_abs_diff": float(delta.max()),
            "mean_abs_diff": float(delta.mean()),
            "peer_mean_diag_raw": gemma_mean_diag,
            "ours_command": ours["command"],
            "extract_command": ours["extract_command"],
            "extract_returncode": ours["extract_returncode"],
            "extract_error": ours.get("extract_error"),
            "extract_snp_ids_match": ours["extract_snp_ids_match"],
            "tolerance": GEMMA_K_TOL,
            "ok": bool(delta.max() < GEMMA_K_TOL and keep.sum() == gemma_log["n_snps"]),
        }
    )
    return rows


# ----------------------------------------------------------------------------- 3. h²


def heritability_vs_gemma(plink: PlinkSet, npz: Path) -> dict:
    out = WORK / "mouse" / "h2"
    (out / "gemma").mkdir(parents=True, exist_ok=True)
    kin = load_npz_kinship(npz)
    if not np.array_equal(kin["iid"], plink.fam[:, 1]):
        raise BenchError(f"{npz} does not list the individuals in .fam order")
    k_text = out / "ours_K.txt"
    np.savetxt(k_text, kin["K"], fmt="%.17g", delimiter="\t")
    snp_list = out / "gemma_null_snps.txt"
    snp_list.write_text("".join(s + "\n" for s in plink.snp[plink.bp >= 0][:GEMMA_NULL_SNPS]))

    fit_argv = [
        LMMLASSO,
        "fit-null",
        "--bfile",
        plink.prefix,
        "--kinship",
        npz,
        "--reml",
        "--transform",
        "none",
        "--mpheno",
        ",".join(map(str, MOUSE_PHENOTYPES)),
        "--out",
        out / "ours",
    ]
    fit_run = run(fit_argv, out / "fit_null")
    table = np.genfromtxt(
        out / "ours.null.tsv", dtype=None, names=True, delimiter="\t", encoding="utf-8"
    )
    ours_by_pheno = {}
    for row in np.atleast_1d(table):
        match = re.fullmatch(r"fam(\d+)", str(row["PHENO"]))
        if match is None:
            raise BenchError(f"{out}/ours.null.tsv: unexpected PHENO {row['PHENO']!r}")
        ours_by_pheno[int(match.group(1)) - 5] = row

    rows, gemma_commands, gemma_seconds = [], [], []
    for n in MOUSE_PHENOTYPES:
        argv = [
            GEMMA,
            "-bfile",
            plink.prefix,
            "-k",
            k_text,
            "-n",
            str(n),
            "-lmm",
            "1",
            "-snps",
            snp_list,
            "-o",
            f"null_p{n}",
            "-outdir",
            out / "gemma",
        ]
        gemma_run = run(argv, out / f"gemma_p{n}")
        gemma_commands.append(show_command(argv))
        gemma_seconds.append(gemma_run.seconds)
        g = parse_gemma_log(
            out / "gemma" / f"null_p{n}.log.txt",
            (
                "n_analysed",
                "loglik_reml",
                "loglik_ml",
                "pve",
                "pve_se",
                "vg",
                "ve",
                "beta",
                "beta_se",
            ),
        )
        o = ours_by_pheno[n]
        rows_kept = phenotyped(plink, 5 + n)
        k_sub = kin["K"][np.ix_(rows_kept, rows_kept)]
        t_diag = float(np.mean(np.diag(k_sub)))
        t_centred = t_diag - float(np.mean(k_sub))  # tr(P K P)/n, P = I - 11ᵀ/n
        h2, se = float(o["H2"]), float(o["H2_SE"])

        pve_c, pve_se_c = h2_as_pve(h2, se, t_centred)
        pve_d, _ = h2_as_pve(h2, se, t_diag)
        loglik = float(o["LOGLIK"])
        rows.append(
            {
                "pheno": n,
                "fam_column": 5 + n,
                "n_ours": int(o["N"]),
                "n_gemma": int(g["n_analysed"]),
                "h2_ours": h2,
                "h2_se_ours": se,
                "t_centred": t_centred,
                "t_mean_diag": t_diag,
                "pve_ours_gemma_conversion": pve_c,
                "pve_ours_mean_diag_conversion": pve_d,
                "pve_gemma": g["pve"],
                "abs_diff_pve": abs(pve_c - g["pve"]),
                "abs_diff_pve_mean_diag_conversion": abs(pve_d - g["pve"]),
                "pve_se_ours_converted": pve_se_c,
                "pve_se_gemma": g["pve_se"],
                "sigma2_g_ours": float(o["SIGMA2_G"]),
                "vg_gemma": g["vg"],
                "sigma2_e_ours": float(o["SIGMA2_E"]),
                "ve_gemma": g["ve"],
                "loglik_reml_ours": loglik,
                "loglik_reml_gemma": g["loglik_reml"],
                "loglik_diff": loglik - g["loglik_reml"],
                "gemma_loglik_print_halfunit": print_resolution(g["loglik_reml"]),
                "gemma_pve_print_halfunit": print_resolution(g["pve"]),
                "beta_intercept_ours": float(o["BETA_intercept"]),
                "se_intercept_ours": float(o["SE_intercept"]),
                "beta_gemma": g["beta"],
                "beta_se_gemma": g["beta_se"],
                "beta_se_centred_model": math.sqrt(g["ve"] / g["n_analysed"]),
                "pheno_mean": float(plink.fam[rows_kept, 4 + n].astype(float).mean()),
                "ok": bool(abs(pve_c - g["pve"]) < H2_TOL and int(o["N"]) == int(g["n_analysed"])),
            }
        )
    return {
        "rows": rows,
        "fit_null_command": show_command(fit_argv),
        "fit_null_seconds": fit_run.seconds,
        "fit_null_max_rss_mb": fit_run.max_rss_mb,
        "gemma_commands": gemma_commands,
        "gemma_seconds": gemma_seconds,
        "gemma_null_snps": GEMMA_NULL_SNPS,
        "gemma_k_file": rel(k_text),
    }


def h2_as_pve(h2: float, se: float, t: float) -> tuple[float, float]:
    """GEMMA's pve = t σg²/(t σg² + σe²) from h² = σg²/(σg² + σe²); se by the delta method."""
    denom = t * h2 + 1.0 - h2
    return t * h2 / denom, se * t / denom**2


def loglik_offsets_by_n(rows: list[dict]) -> list[dict]:
    """Ours minus GEMMA REML log-likelihood, grouped by sample size."""
    groups: dict[int, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["n_ours"], []).append(r)
    out = []
    for n, members in sorted(groups.items()):
        diffs = [m["loglik_diff"] for m in members]
        halfunit = max(m["gemma_loglik_print_halfunit"] for m in members)
        out.append(
            {
                "n": n,
                "phenos": [m["pheno"] for m in members],
                "diffs": diffs,
                "spread": max(diffs) - min(diffs),
                "gemma_print_halfunit": halfunit,
                "within_rounding": bool(max(abs(d) for d in diffs) <= halfunit * 1.0001),
            }
        )
    return out


# ----------------------------------------------------------------------------- summary


def discrepancies(agreement: list[dict], h2: dict | None) -> list[str]:
    found = []
    for r in agreement:
        if r.get("extract_returncode") not in (None, 0):
            found.append(
                f"`lmmlasso kinship --extract` failed on {r['dataset']} ({r['peer']}: exit "
                f"{r['extract_returncode']}: {r['extract_error']}); the bench fell back to a "
                "subset .bed with the same SNPs."
            )
        elif r.get("extract_snp_ids_match") is False:
            found.append(
                f"`lmmlasso kinship --extract` on {r['dataset']} stored SNP IDs "
                "that differ from the extracted list."
            )
        if r["ok"] is False:
            found.append(
                f"{r['dataset']}: kinship vs {r['peer']}: max |ΔK| = "
                f"{r['max_abs_diff']:.2e} (tolerance {r['tolerance']:g})."
            )
    if h2 is not None:
        for r in h2["rows"]:
            if not r["ok"]:
                found.append(
                    f"mouse pheno {r['pheno']}: pve ours {r['pve_ours_gemma_conversion']:.6f} "
                    f"vs GEMMA {r['pve_gemma']:.6f} (n {r['n_ours']} vs {r['n_gemma']})."
                )
    return list(dict.fromkeys(found))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="mouse only (skip HLC), 1 repeat")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per command (default 3, or 1 with --quick)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)

    ensure_tools()
    names = ["mouse"] if args.quick else ["mouse", "hlc"]
    plinks = {name: read_plink_set(prepare_plink_set(DATASETS[name])) for name in names}

    timing, agreement, timing_dirs, load = [], [], {}, {}
    for name in names:
        print(f"[{name}] timing kinships ({repeats} run(s) each)", file=sys.stderr)
        done = time_kinships(name, plinks[name].prefix, repeats)
        timing += done["rows"]
        timing_dirs[name] = done["dir"]
        load[name] = {"before": done["loadavg_before"], "after": done["loadavg_after"]}
    for name in names:
        print(f"[{name}] agreement with plink2 and GEMMA", file=sys.stderr)
        plink = plinks[name]
        counts = count_genotypes(plink, np.ones(plink.n_samples, dtype=bool))
        agreement.append(agree_plink2(name, plink, counts))
        agreement += agree_gemma(name, plink, timing_dirs[name])
    print("[mouse] h² against GEMMA REML", file=sys.stderr)
    h2 = heritability_vs_gemma(plinks["mouse"], timing_dirs["mouse"] / "ours_default.kinship.npz")

    result = {
        "date": utc_timestamp(),
        "quick": args.quick,
        "repeats": repeats,
        "machine": machine(),
        "negative_bp": {n: int((p.bp < 0).sum()) for n, p in plinks.items()},
        "non_autosomal": {
            n: int((~np.isin(p.chrom, list(AUTOSOMES))).sum()) for n, p in plinks.items()
        },
        "timing": timing,
        "loadavg_during_timing": load,
        "agreement": agreement,
        "h2": h2,
        "loglik_offsets": loglik_offsets_by_n(h2["rows"]),
    }
    result["discrepancies"] = discrepancies(agreement, h2)
    write_json(RESULT_JSON, result)
    for found in result["discrepancies"]:
        print(f"discrepancy: {found}", file=sys.stderr)
    print(f"wrote {rel(RESULT_JSON)}; `python bench/report.py` renders it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
