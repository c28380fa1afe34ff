"""`lmmlasso pca` against `plink2 --pca` on GEMMA's HS1940 mice and HLC (issue 13).

    .venv/bin/python bench/pca_vs_plink2.py [--n-pcs 10]

For each data set: the variants plink2 keeps (`--write-snplist`; for HLC also `--geno 0`, no
missing calls, since plink2 and we treat missing calls differently), then on exactly those
SNPs `plink2 --pca N --nonfounders` and `lmmlasso pca --scaling hwe` (method auto: exact up to
5000 individuals), and `lmmlasso pca --method randomized` against `lmmlasso pca --kinship`
(exact, empirical scaling, same SNPs) for the randomized SVD's own accuracy. Reports |corr| per
PC, the eigenvalue ratios (plink2's GRM is not scaled to mean diagonal 1) and wall time / peak
RSS. Writes
bench/results/pca_vs_plink2.json; bench/report.py renders it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    LMMLASSO,
    PLINK2,
    RESULTS,
    WORK,
    ensure_tools,
    loadavg,
    machine,
    prepare_plink_set,
    run,
    show_command,
    utc_timestamp,
    write_json,
)

DATASETS = (("mouse", "mouse_hs1940", []), ("hlc", "HLC", ["--geno", "0"]))


def _pcs(path: Path, n: int) -> np.ndarray:
    frame = pd.read_csv(path, sep="\t")
    return frame[[f"PC{k + 1}" for k in range(n)]].to_numpy()


def _corr(a: np.ndarray, b: np.ndarray) -> list[float]:
    return [float(abs(np.corrcoef(a[:, k], b[:, k])[0, 1])) for k in range(a.shape[1])]


def bench_one(label: str, name: str, filters: list[str], n_pcs: int) -> dict:
    prefix = prepare_plink_set(name)
    work = WORK / "pca" / label
    work.mkdir(parents=True, exist_ok=True)
    snps = work / "kept"
    run([PLINK2, "--bfile", prefix, *filters, "--nonfounders", "--write-snplist", "--out", snps],
        work / "snplist")  # fmt: skip
    extract = ["--extract", f"{snps}.snplist"]
    runs = {
        "plink2 --pca": run(
            [
                PLINK2,
                "--bfile",
                prefix,
                *extract,
                "--nonfounders",
                "--pca",
                n_pcs,
                "--out",
                work / "plink2",
            ],
            work / "plink2_run",
        ),  # fmt: skip
        "lmmlasso pca --scaling hwe": run(
            [
                LMMLASSO,
                "pca",
                "--bfile",
                prefix,
                *extract,
                "--scaling",
                "hwe",
                "--n-pcs",
                n_pcs,
                "--out",
                work / "ours",
                "--quiet",
            ],
            work / "ours_run",
        ),  # fmt: skip
        "lmmlasso kinship": run(
            [LMMLASSO, "kinship", "--bfile", prefix, *extract, "--out", work / "k", "--quiet"],
            work / "kin_run",
        ),  # fmt: skip
        "lmmlasso pca --kinship": run(
            [
                LMMLASSO,
                "pca",
                "--bfile",
                prefix,
                *extract,
                "--kinship",
                work / "k.kinship.npz",
                "--n-pcs",
                n_pcs,
                "--out",
                work / "exact",
                "--quiet",
            ],
            work / "exact_run",
        ),  # fmt: skip
        "lmmlasso pca --method randomized": run(
            [
                LMMLASSO,
                "pca",
                "--method",
                "randomized",
                "--bfile",
                prefix,
                *extract,
                "--n-pcs",
                n_pcs,
                "--out",
                work / "emp",
                "--quiet",
            ],
            work / "emp_run",
        ),  # fmt: skip
    }
    theirs, ours = _pcs(work / "plink2.eigenvec", n_pcs), _pcs(work / "ours.eigenvec", n_pcs)
    exact, emp = _pcs(work / "exact.eigenvec", n_pcs), _pcs(work / "emp.eigenvec", n_pcs)
    val_theirs = np.loadtxt(work / "plink2.eigenval")
    val_ours = np.loadtxt(work / "ours.eigenval")
    n_snps = sum(1 for _ in open(f"{snps}.snplist"))
    return {
        "label": label,
        "data": name,
        "n_samples": int(len(ours)),
        "n_snps": n_snps,
        "filters": filters,
        "corr_vs_plink2": _corr(ours, theirs),
        "eigenvalue_ratio_vs_plink2": (val_ours / val_theirs).tolist(),
        "corr_randomized_vs_exact": _corr(emp, exact),
        "runs": {
            k: {"command": show_command(r.argv), "seconds": r.seconds, "max_rss_mb": r.max_rss_mb}
            for k, r in runs.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pcs", type=int, default=10)
    args = parser.parse_args(argv)
    ensure_tools()
    before = loadavg()
    rows = [bench_one(*d, args.n_pcs) for d in DATASETS]
    write_json(
        RESULTS / "pca_vs_plink2.json",
        {
            "date": utc_timestamp(),
            "machine": machine(),
            "loadavg_before": before,
            "loadavg_after": loadavg(),
            "n_pcs": args.n_pcs,
            "datasets": rows,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
