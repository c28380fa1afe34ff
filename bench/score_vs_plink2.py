"""Does PREFIX.score.tsv reproduce `lmmlasso predict` when applied by plink2 --score? (issue 3)

    .venv/bin/python bench/score_vs_plink2.py

On data/toy, with the intercept as the only covariate (so the score file is the whole linear
predictor apart from a constant):

    lmmlasso kinship --bfile data/toy/toy --out W/toy
    lmmlasso fit --bfile data/toy/toy --kinship W/toy.kinship.npz --pheno data/toy/toy.pheno
        --pheno-name q1 --n-active 15 --out W/q1
    lmmlasso predict --bfile data/toy/new --model W/q1.model.npz --out W/pred
    plink2 --bfile data/toy/new --score W/q1.score.tsv 1 2 header cols=+scoresums
        --score-col-nums 3 --out W/plink2

PRED (W/pred.pred.tsv) should equal SCORE1_SUM (W/plink2.sscore) + offset, the offset being the
one the fit log states and the model stores (meta 'score_offsets'). Both impute missing calls
differently: plink2 with the scored sample's allele frequency (``2·f`` per missing call),
lmmlasso with the training mean. So the identity is exact only for individuals without a
missing call among the scored SNPs; the script reports max |Δ| over those and over everyone.

plink2 writes SCORE1_SUM with 6 significant digits, so |Δ| is compared with half a unit in the
6th digit of each sum. To separate rounding from the identity itself, the sums are also
recomputed in float64 from the score file and the .bed (A1 counts, missing calls imputed as
plink2 does) and from the training means (as lmmlasso does).

Writes bench/results/score_vs_plink2.json (bench/report.py renders it into bench/README.md,
with bench/lasso_fit.py's results).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    GNU_TIME,
    LMMLASSO,
    PLINK2,
    REPO,
    RESULTS,
    WORK,
    BenchError,
    machine,
    rel,
    run,
    show_command,
    utc_timestamp,
    write_json,
)

TOY = REPO / "data" / "toy"
OUT = WORK / "score"
RESULT_JSON = RESULTS / "score_vs_plink2.json"
N_ACTIVE = 15
PLINK2_DIGITS = 6  # significant digits of SCORE1_SUM in .sscore
EXACT_TOL = 1e-9  # |PRED − (float64 sum + offset)| accepted when both impute the same way
OFFSET_RE = re.compile(r"offset \(μ index 0\) = (\S+)")


def ensure_plink2() -> None:
    """Install Debian's plink2 and GNU time if either is missing."""
    if PLINK2.exists() and GNU_TIME.exists():
        return
    import subprocess

    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "plink2", "time"]
    if subprocess.run(install, env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    if not PLINK2.exists():
        raise BenchError(f"{PLINK2} still missing after apt-get install plink2")


def read_comment_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A whitespace table whose header is the first line not starting with '##'."""
    lines = [
        line for line in path.read_text().splitlines() if line.strip() and not line.startswith("##")
    ]
    header = lines[0].lstrip("#").split()
    return header, [line.split() for line in lines[1:]]


def column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    if name not in header:
        raise BenchError(f"column {name} not found among {header}")
    i = header.index(name)
    return [r[i] for r in rows]


def rounding_bound(values: np.ndarray, digits: int = PLINK2_DIGITS) -> np.ndarray:
    """Half a unit in the last printed digit of values written with `digits` significant digits."""
    mag = np.floor(np.log10(np.maximum(np.abs(values), 1e-300)))
    return 0.5 * 10.0 ** (mag - (digits - 1))


def commands(work: Path) -> dict[str, list[str]]:
    lmm = str(LMMLASSO)
    return {
        "kinship": [lmm, "kinship", "--bfile", str(TOY / "toy"), "--out", str(work / "toy")],
        "fit": [
            lmm,
            "fit",
            "--bfile",
            str(TOY / "toy"),
            "--kinship",
            str(work / "toy.kinship.npz"),
            "--pheno",
            str(TOY / "toy.pheno"),
            "--pheno-name",
            "q1",
            "--n-active",
            str(N_ACTIVE),
            "--out",
            str(work / "q1"),
        ],
        "predict": [
            lmm,
            "predict",
            "--bfile",
            str(TOY / "new"),
            "--model",
            str(work / "q1.model.npz"),
            "--out",
            str(work / "pred"),
        ],
        "plink2": [
            str(PLINK2),
            "--bfile",
            str(TOY / "new"),
            "--score",
            str(work / "q1.score.tsv"),
            "1",
            "2",
            "header",
            "cols=+scoresums",
            "--score-col-nums",
            "3",
            "--out",
            str(work / "plink2"),
        ],
    }


def read_sscore(path: Path, keys: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """SCORE1_SUM and ALLELE_CT of a plink2 .sscore, in the order of `keys` (FID, IID)."""
    header, rows = read_comment_table(path)
    fid = column(header, rows, "FID") if "FID" in header else column(header, rows, "IID")
    found = list(zip(fid, column(header, rows, "IID"), strict=True))
    if set(found) != set(keys):
        raise BenchError(f"{rel(path)} and pred.pred.tsv list different individuals")
    where = {k: i for i, k in enumerate(found)}
    order = np.array([where[k] for k in keys])
    sums = np.array(column(header, rows, "SCORE1_SUM"), float)[order]
    counts = np.array(column(header, rows, "ALLELE_CT"), int)[order]
    return sums, counts


def training_means(bfile: Path) -> np.ndarray:
    """Mean A1 count of every SNP of `bfile` over its individuals (missing calls skipped)."""
    from bed_reader import open_bed

    with open_bed(str(bfile.with_suffix(".bed")), count_A1=True) as bed:
        return np.nanmean(bed.read(dtype="float64"), axis=0)


def write_afreq(path: Path, bim: Path, a1_means: np.ndarray, n_obs: int) -> None:
    """A plink2 .afreq giving A1 (.bim column 5, plink2's ALT) frequency = mean / 2."""
    lines = ["#CHROM\tID\tREF\tALT\tALT_FREQS\tOBS_CT"]
    for fields, mean in zip(
        (line.split() for line in bim.read_text().splitlines()), a1_means, strict=True
    ):
        chrom, snp, a1, a2 = fields[0], fields[1], fields[4], fields[5]
        lines.append(f"{chrom}\t{snp}\t{a2}\t{a1}\t{mean / 2:.17g}\t{2 * n_obs}")
    path.write_text("\n".join(lines) + "\n")


def compare(work: Path) -> dict:
    """Compare PRED with SCORE1_SUM + offset (plink2 as is, and with training frequencies)."""
    from bed_reader import open_bed

    from lmmlasso_cli.io.model_file import load_model

    fit_log = (work / "q1.log").read_text()
    match = OFFSET_RE.search(fit_log)
    if match is None:
        raise BenchError(f"{rel(work / 'q1.log')} does not state the score offset")
    offset_log = float(match.group(1))
    model = load_model(str(work / "q1.model.npz"))
    offset_meta = float(model.meta["score_offsets"][0])

    header, rows = read_comment_table(work / "pred.pred.tsv")
    keys = list(zip(column(header, rows, "FID"), column(header, rows, "IID"), strict=True))
    pred = np.array(column(header, rows, "PRED"), float)
    score_sum, allele_ct = read_sscore(work / "plink2.sscore", keys)
    score_sum_train, _ = read_sscore(work / "plink2_trainfreq.sscore", keys)

    # float64 recomputation of the score sums from the score file and the .bed
    header, rows = read_comment_table(work / "q1.score.tsv")
    score_snp = np.array(column(header, rows, "SNP"))
    score_a1 = np.array(column(header, rows, "A1"))
    weights = np.array(column(header, rows, "SCORE_MU0"), float)
    bim = [line.split() for line in (TOY / "new.bim").read_text().splitlines()]
    bim_pos = {r[1]: i for i, r in enumerate(bim)}
    pos = np.array([bim_pos[s] for s in score_snp])
    if not np.all(np.array([bim[i][4] for i in pos]) == score_a1):
        raise BenchError("score file A1 differs from new.bim column 5 for some SNPs")
    fam = [line.split() for line in (TOY / "new.fam").read_text().splitlines()]
    fam_row = {(r[0], r[1]): i for i, r in enumerate(fam)}
    rows_idx = np.array([fam_row[k] for k in keys])
    with open_bed(str(TOY / "new.bed"), count_A1=True) as bed:
        geno = bed.read(index=np.s_[:, pos], dtype="float64")[rows_idx]
    missing = np.isnan(geno)
    complete = ~missing.any(axis=1)
    n_scored = len(score_snp)
    if not np.array_equal(missing.sum(axis=1), (2 * n_scored - allele_ct) // 2):
        raise BenchError("missing calls from the .bed disagree with plink2's ALLELE_CT")
    # plink2 imputes 2 × the A1 frequency among the scored set's founders (both parents '0')
    founder = np.array([fam[i][2] == "0" and fam[i][3] == "0" for i in rows_idx])
    founder_means = np.nanmean(geno[founder], axis=0)
    sum_plink_style = np.where(missing, founder_means, geno) @ weights
    train_means = train_means_per_score_snp(model, score_snp)
    sum_train_style = np.where(missing, train_means, geno) @ weights

    offset = offset_meta
    comparisons = {
        "plink2": pred - (score_sum + offset),
        "plink2_trainfreq": pred - (score_sum_train + offset),
        "float64_founder_imputation": pred - (sum_plink_style + offset),
        "float64_train_imputation": pred - (sum_train_style + offset),
    }
    bounds = {
        "plink2": rounding_bound(score_sum),
        "plink2_trainfreq": rounding_bound(score_sum_train),
    }
    stats = {}
    for label, mask in (("complete", complete), ("all", np.ones_like(complete))):
        entry = {"n": int(mask.sum())}
        for name, delta in comparisons.items():
            entry[f"max_abs_delta_{name}"] = (
                float(np.max(np.abs(delta[mask]))) if mask.any() else None
            )
        for name, bound in bounds.items():
            entry[f"max_rounding_bound_{name}"] = float(np.max(bound[mask])) if mask.any() else None
            entry[f"max_ratio_to_bound_{name}"] = (
                float(np.max(np.abs(comparisons[name][mask]) / bound[mask])) if mask.any() else None
            )
        stats[label] = entry
    return {
        "n_individuals": len(keys),
        "n_founders": int(founder.sum()),
        "n_complete": int(complete.sum()),
        "n_missing_calls": int(missing.sum()),
        "max_missing_per_individual": int(missing.sum(axis=1).max()),
        "n_scored_snps": n_scored,
        "n_fixed_snps": len(model.fixed),
        "n_background_snps": 0 if model.background is None else len(model.background),
        "offset_log": offset_log,
        "offset_meta": offset_meta,
        "offset_abs_diff": abs(offset_log - offset_meta),
        "plink2_sum_minus_float64_founder_sum_max": float(
            np.max(np.abs(score_sum - sum_plink_style))
        ),
        "stats": stats,
        "null_model_at_boundary": "lies on the boundary" in fit_log,
        "fit_log_null_line": next(
            (line.strip() for line in fit_log.splitlines() if " ML log δ=" in line), ""
        ),
        "pred_range": [float(pred.min()), float(pred.max())],
        "score_sum_range": [float(score_sum.min()), float(score_sum.max())],
    }


def train_means_per_score_snp(model, score_snp: np.ndarray) -> np.ndarray:
    """The training mean lmmlasso imputes for each SNP of the score file.

    A SNP present in both the fixed set and the background has one training mean per set
    (the fit's and the kinship's); on data/toy both cover the same individuals, so they agree.
    """
    means = {}
    sets = [model.fixed] + ([model.background] if model.background is not None else [])
    for snps in sets:
        for s, m in zip(snps.snp, snps.means, strict=True):
            if s in means and not math.isclose(means[s], m, rel_tol=1e-12, abs_tol=1e-12):
                raise BenchError(f"{s}: fixed and background training means differ")
            means[s] = m
    return np.array([means[s] for s in score_snp])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    ensure_plink2()
    if not LMMLASSO.exists():
        raise BenchError(f"{LMMLASSO} not found; install the project in .venv first")
    OUT.mkdir(parents=True, exist_ok=True)
    cmds = commands(OUT)
    runs = {}

    def timed(label: str, argv_: list[str]) -> None:
        r = run(argv_, OUT / f"{label}.cmd", cwd=REPO)
        runs[label] = {"seconds": r.seconds, "max_rss_mb": r.max_rss_mb}
        print(f"{label}: {r.seconds:.2f} s", file=sys.stderr)

    for label, argv_ in cmds.items():
        timed(label, argv_)
    # plink2 again, imputing missing calls with the training frequencies, as lmmlasso does
    n_train = len((TOY / "toy.fam").read_text().splitlines())
    write_afreq(OUT / "train.afreq", TOY / "toy.bim", training_means(TOY / "toy"), n_train)
    cmds["plink2_trainfreq"] = [
        *cmds["plink2"][:-2],
        "--read-freq",
        str(OUT / "train.afreq"),
        "--out",
        str(OUT / "plink2_trainfreq"),
    ]
    timed("plink2_trainfreq", cmds["plink2_trainfreq"])
    comparison = compare(OUT)
    info = machine()
    result = {
        "date": utc_timestamp(),
        "plink2": info["plink2"],
        "lmmlasso": info["lmmlasso"],
        "commands": [show_command(c) for c in cmds.values()],
        "runs": runs,
        "comparison": comparison,
        "settings": {"n_active": N_ACTIVE},
    }
    write_json(RESULT_JSON, result)
    for label, st in comparison["stats"].items():
        if st["n"]:
            print(
                f"{label} (n={st['n']}): max|PRED − SCORE1_SUM − offset| plink2 "
                f"{st['max_abs_delta_plink2']:.3e}, plink2 --read-freq training "
                f"{st['max_abs_delta_plink2_trainfreq']:.3e} (rounding bound "
                f"{st['max_rounding_bound_plink2_trainfreq']:.1e}), float64 "
                f"{st['max_abs_delta_float64_train_imputation']:.3e}"
            )
        else:
            print(f"{label}: no individual", file=sys.stderr)
    print(f"wrote {rel(RESULT_JSON)}; `python bench/report.py` renders it", file=sys.stderr)
    everyone = comparison["stats"]["all"]
    ok = everyone["max_ratio_to_bound_plink2_trainfreq"] <= 1.0 + 1e-9
    ok = ok and everyone["max_abs_delta_float64_train_imputation"] < EXACT_TOL
    complete = comparison["stats"]["complete"]
    if complete["n"]:
        ok = ok and complete["max_ratio_to_bound_plink2"] <= 1.0 + 1e-9
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
