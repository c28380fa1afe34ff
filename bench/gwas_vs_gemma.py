"""`lmmlasso gwas` against GEMMA -lmm 1 and FaST-LMM (issue 5), all measured in one run.

    .venv/bin/python bench/gwas_vs_gemma.py [--repeats N] [--pheno N]

1. Our kinship of GEMMA's example mouse set (1940 x 12226; `lmmlasso kinship`, defaults), also
   written as a text matrix for `gemma -k`, and handed to FaST-LMM as a KernelData: all three
   tools use the same K.
2. Agreement. `lmmlasso gwas --exact --reml --transform none` against `gemma -lmm 1` (both: δ
   re-estimated per SNP by REML, Wald test), on the SNPs both test: correlation of −log10 P,
   max |Δβ| after orienting GEMMA's allele1 to our A1, max |ΔSE|, max |Δ log δ| (GEMMA's
   l_remle = σg²/σe² = 1/δ). `lmmlasso gwas --reml` (the null model's δ for every SNP) against
   FaST-LMM `single_snp` (leave_out_one_chrom=False, same K): correlation of −log10 P and max
   |ΔT| (FaST-LMM's SnpWeight/SnpWeightSE; its weights are per sd of the SNP).
3. Timing: every command `--repeats` times, interleaved, after one untimed warm-up run of ours
   (numba compiles its kernels once and caches them); wall time ratio of each peer to ours.
4. Writes bench/results/gwas_vs_gemma.json (bench/report.py renders it into bench/README.md).

FaST-LMM runs in its own virtual environment, bench/work/gwas/fastlmm-venv (`pip install fastlmm
six`, created here when missing); if it cannot be installed the bench says so and goes on.
This file is also the FaST-LMM worker (``--fastlmm-worker``), run by that environment's python;
that mode imports nothing from lmmlasso_cli.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    GEMMA,
    LMMLASSO,
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

RESULT_JSON = RESULTS / "gwas_vs_gemma.json"
OUT = WORK / "gwas"
FASTLMM_VENV = OUT / "fastlmm-venv"
FASTLMM_PYTHON = FASTLMM_VENV / "bin" / "python"


# ----------------------------------------------------------------------------- FaST-LMM worker


def fastlmm_worker(npz: str, bfile: str, pheno: str, out: str, timing: str) -> int:
    """Run FaST-LMM single_snp with our K; write its table and the in-process seconds."""
    start = time.perf_counter()
    from fastlmm.association import single_snp
    from pysnptools.kernelreader import KernelData
    from pysnptools.snpreader import Bed

    data = np.load(npz)
    iid = np.column_stack([data["fid"].astype(str), data["iid"].astype(str)])
    kernel = KernelData(iid=iid, val=data["K"])
    loaded = time.perf_counter()
    table = single_snp(
        Bed(bfile, count_A1=True), pheno, K0=kernel, leave_out_one_chrom=False, count_A1=True
    )
    done = time.perf_counter()
    table.to_csv(out, sep="\t", index=False)
    Path(timing).write_text(
        json.dumps({"import_and_load_s": loaded - start, "single_snp_s": done - loaded})
    )
    return 0


def ensure_fastlmm() -> str | None:
    """Create the FaST-LMM environment if needed; None when ready, else why not."""
    probe = [str(FASTLMM_PYTHON), "-c", "from fastlmm.association import single_snp"]
    if FASTLMM_PYTHON.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return None
    log = OUT / "fastlmm_install.log"
    OUT.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        base_python = Path(sys.base_prefix) / "bin" / "python3"  # not the project's venv
        steps = [
            [str(base_python), "-m", "venv", str(FASTLMM_VENV)],
            [str(FASTLMM_VENV / "bin" / "pip"), "install", "-q", "fastlmm", "six"],
        ]
        for argv in steps:
            if subprocess.run(argv, stdout=handle, stderr=handle).returncode != 0:
                return f"`{' '.join(argv)}` failed (see {rel(log)})"
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return (
            f"fastlmm installed but `from fastlmm.association import single_snp` fails ({rel(log)})"
        )
    return None


def fastlmm_version() -> str:
    argv = [str(FASTLMM_PYTHON), "-m", "pip", "show", "fastlmm"]
    text = subprocess.run(argv, capture_output=True, text=True).stdout
    return next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Version")), "?"
    )


# ----------------------------------------------------------------------------- reading outputs


def read_tsv(path: Path):
    import pandas as pd

    return pd.read_csv(path, sep="\t")


def neglog10(p) -> np.ndarray:
    return -np.log10(np.clip(np.asarray(p, dtype=float), 1e-300, 1.0))


def compare_gemma(ours_path: Path, gemma_path: Path) -> dict:
    ours, gemma = read_tsv(ours_path), read_tsv(gemma_path)
    m = gemma.merge(ours, left_on="rs", right_on="ID")
    same = (m.allele1 == m.A1).to_numpy()
    flipped = (m.allele0 == m.A1).to_numpy()
    if not np.all(same | flipped):
        raise BenchError(f"{gemma_path}: alleles match neither orientation for some SNPs")
    sign = np.where(same, 1.0, -1.0)
    dbeta = np.abs(m.beta * sign - m.BETA)
    row = {
        "n_ours": len(ours),
        "n_gemma": len(gemma),
        "n_common": len(m),
        "n_flipped": int((~same).sum()),
        "corr_neglog10p": float(np.corrcoef(neglog10(m.p_wald), neglog10(m.P))[0, 1]),
        "max_abs_diff_neglog10p": float(np.max(np.abs(neglog10(m.p_wald) - neglog10(m.P)))),
        "max_abs_diff_beta": float(dbeta.max()),
        "max_abs_beta": float(np.abs(m.BETA).max()),
        "max_abs_diff_se": float(np.max(np.abs(m.se - m.SE))),
        "top_snp_ours": str(ours.ID[ours.P.idxmin()]),
        "top_snp_gemma": str(gemma.rs[gemma.p_wald.idxmin()]),
    }
    if "LOG_DELTA" in m:
        row["max_abs_diff_log_delta"] = float(np.max(np.abs(-np.log(m.l_remle) - m.LOG_DELTA)))
    return row


def compare_fastlmm(ours_path: Path, fastlmm_path: Path) -> dict:
    ours, fl = read_tsv(ours_path), read_tsv(fastlmm_path)
    m = fl.merge(ours, left_on="SNP", right_on="ID")
    t = (m.SnpWeight / m.SnpWeightSE).to_numpy()
    return {
        "n_ours": len(ours),
        "n_fastlmm": len(fl),
        "n_common": len(m),
        "corr_neglog10p": float(np.corrcoef(neglog10(m.PValue), neglog10(m.P))[0, 1]),
        "max_abs_diff_neglog10p": float(np.max(np.abs(neglog10(m.PValue) - neglog10(m.P)))),
        "max_abs_diff_t": float(np.max(np.abs(t - m.T_STAT))),
        "fastlmm_null_h2": float(m.Nullh2.iloc[0]),
    }


def compare_ours(a: Path, b: Path) -> dict:
    x, y = read_tsv(a), read_tsv(b)
    m = x.merge(y, on="ID", suffixes=("_a", "_b"))
    return {
        "n_common": len(m),
        "corr_neglog10p": float(np.corrcoef(neglog10(m.P_a), neglog10(m.P_b))[0, 1]),
        "max_abs_diff_neglog10p": float(np.max(np.abs(neglog10(m.P_a) - neglog10(m.P_b)))),
    }


def log_value(path: Path, prefix: str) -> str:
    for line in path.read_text().splitlines():
        if prefix in line:
            return line.strip()
    return ""


# ----------------------------------------------------------------------------- the run


def run_bench(repeats: int, pheno: int) -> dict:
    ensure_tools()
    prefix = prepare_plink_set("mouse_hs1940")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "gemma").mkdir(exist_ok=True)

    print("[mouse] kinship", file=sys.stderr)
    run([LMMLASSO, "kinship", "--bfile", prefix, "--out", OUT / "mouse"], OUT / "kinship")
    npz = OUT / "mouse.kinship.npz"
    kin = np.load(npz)
    fam = np.loadtxt(f"{prefix}.fam", dtype=str)
    if not np.array_equal(kin["iid"].astype(str), fam[:, 1]):
        raise BenchError(f"{npz} does not list the individuals in .fam order")
    k_text = OUT / "K.txt"
    np.savetxt(k_text, kin["K"], fmt="%.17g", delimiter="\t")
    column = fam[:, 4 + pheno]
    observed = column != "NA"
    pheno_file = OUT / f"pheno{pheno}.txt"
    pheno_file.write_text(
        "".join(f"{f} {i} {v}\n" for f, i, v in fam[observed][:, [0, 1, 4 + pheno]])
    )

    ours = [LMMLASSO, "gwas", "--bfile", prefix, "--kinship", npz, "--mpheno", str(pheno),
            "--transform", "none", "--reml", "--quiet"]  # fmt: skip
    commands = {
        "lmmlasso gwas --exact (per-SNP REML δ)": [*ours, "--exact", "--out", OUT / "ours_exact"],
        "gemma -lmm 1 (per-SNP REML δ)": [
            GEMMA,
            "-bfile",
            prefix,
            "-k",
            k_text,
            "-lmm",
            "1",
            "-n",
            str(pheno),
            "-o",
            f"gwas_p{pheno}",
            "-outdir",
            OUT / "gemma",
        ],  # fmt: skip
        "lmmlasso gwas (null REML δ)": [*ours, "--out", OUT / "ours_fixed"],
        "lmmlasso gwas --lm (OLS)": [*ours, "--lm", "--out", OUT / "ours_lm"],
    }
    fastlmm_problem = ensure_fastlmm()
    fl_out, fl_timing = OUT / "fastlmm.tsv", OUT / "fastlmm_timing.json"
    if fastlmm_problem is None:
        commands["FaST-LMM single_snp (null REML δ)"] = [
            FASTLMM_PYTHON, Path(__file__).resolve(), "--fastlmm-worker", npz, prefix,
            pheno_file, fl_out, fl_timing,
        ]  # fmt: skip
    else:
        print(f"FaST-LMM skipped: {fastlmm_problem}", file=sys.stderr)

    print("[mouse] warm-up run of lmmlasso gwas --exact", file=sys.stderr)
    run(commands["lmmlasso gwas --exact (per-SNP REML δ)"], OUT / "warmup")
    print(f"[mouse] timing ({repeats} run(s) each, interleaved)", file=sys.stderr)
    before = loadavg()[0]
    timings = time_round_robin(commands, OUT / "timing", repeats)
    after = loadavg()[0]
    by_label = {t.label: t for t in timings}
    reference = {
        "gemma -lmm 1 (per-SNP REML δ)": "lmmlasso gwas --exact (per-SNP REML δ)",
        "FaST-LMM single_snp (null REML δ)": "lmmlasso gwas (null REML δ)",
    }
    timing_rows = []
    for t in timings:
        ref = by_label[reference.get(t.label, t.label)]
        timing_rows.append(
            {
                "tool": t.label,
                "command": t.command,
                "seconds": t.seconds,
                "all_seconds": t.all_seconds,
                "cpu_seconds": t.cpu_seconds,
                "max_rss_mb": t.max_rss_mb,
                "compared_with": ref.label,
                "time_ratio": t.seconds / ref.seconds,
            }
        )
    gemma_assoc = OUT / "gemma" / f"gwas_p{pheno}.assoc.txt"
    agreement = {
        "exact_vs_gemma": compare_gemma(OUT / "ours_exact.gwas.tsv", gemma_assoc),
        "fixed_vs_gemma": compare_gemma(OUT / "ours_fixed.gwas.tsv", gemma_assoc),
        "fixed_vs_exact": compare_ours(OUT / "ours_fixed.gwas.tsv", OUT / "ours_exact.gwas.tsv"),
    }
    fastlmm_inner = None
    if fastlmm_problem is None:
        agreement["fixed_vs_fastlmm"] = compare_fastlmm(OUT / "ours_fixed.gwas.tsv", fl_out)
        fastlmm_inner = json.loads(fl_timing.read_text())
    return {
        "date": utc_timestamp(),
        "repeats": repeats,
        "pheno": pheno,
        "n_analysed": int(observed.sum()),
        "machine": machine(),
        "fastlmm": fastlmm_version() if fastlmm_problem is None else None,
        "fastlmm_problem": fastlmm_problem,
        "fastlmm_inner_seconds": fastlmm_inner,
        "loadavg_before_after": [before, after],
        "timing": timing_rows,
        "agreement": agreement,
        "null_model_line": log_value(OUT / "ours_fixed.log", " REML log δ="),
        "lambda_lines": {
            name: log_value(OUT / f"{name}.log", "genomic-control")
            for name in ("ours_exact", "ours_fixed", "ours_lm")
        },
        "exact_log_delta_line": log_value(OUT / "ours_exact.log", "per-SNP REML log δ"),
        "commands": [show_command(list(map(str, argv))) for argv in commands.values()],
    }


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--fastlmm-worker":
        return fastlmm_worker(*argv[1:6])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per command")
    parser.add_argument("--pheno", type=int, default=1, help="GEMMA -n / our --mpheno")
    args = parser.parse_args(argv)
    result = run_bench(args.repeats, args.pheno)
    write_json(RESULT_JSON, result)
    print(f"wrote {rel(RESULT_JSON)}; `python bench/report.py` renders it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
