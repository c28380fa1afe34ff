"""float32 against float64 block products (issue 10): `kinship` and `gwas` on real data.

    .venv/bin/python bench/precision.py

On GEMMA's HS1940 mice (phenotype 1) and HLC (phenotype 1), runs `lmmlasso kinship` with
`--precision float32` and `float64`, then `lmmlasso gwas` (EMMAX-style and `--exact`) with
each precision on the float64 kinship, and reports wall time, peak RSS, the largest kinship
difference and the agreement of −log10 P (correlation, largest difference). Writes
bench/results/precision.json; bench/report.py renders it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    LMMLASSO,
    RESULTS,
    WORK,
    loadavg,
    machine,
    prepare_plink_set,
    run,
    utc_timestamp,
    write_json,
)

DATASETS = (("HS1940 mice", "mouse_hs1940"), ("HLC", "HLC"))
PRECISIONS = ("float32", "float64")


def _kinship(path: Path) -> np.ndarray:
    with np.load(path) as z:
        return z["K"]


def _log_p(path: Path) -> np.ndarray:
    return -np.log10(pd.read_csv(path, sep="\t")["P"].to_numpy())


def bench_one(label: str, name: str) -> dict:
    prefix = prepare_plink_set(name)
    work = WORK / "precision" / name
    work.mkdir(parents=True, exist_ok=True)
    out: dict = {"data": label, "runs": {}}
    kin = {}
    for precision in PRECISIONS:
        stem = work / f"k_{precision}"
        r = run([LMMLASSO, "kinship", "--bfile", prefix, "--precision", precision,
                 "--out", stem, "--quiet"], work / f"kinship_{precision}")  # fmt: skip
        out["runs"][f"kinship {precision}"] = {"seconds": r.seconds, "max_rss_mb": r.max_rss_mb}
        kin[precision] = _kinship(Path(f"{stem}.kinship.npz"))
    out["n_samples"] = int(kin["float64"].shape[0])
    out["kinship_max_abs_diff"] = float(np.abs(kin["float32"] - kin["float64"]).max())
    for method, extra in (("fixed", []), ("exact", ["--exact"])):
        logp = {}
        for precision in PRECISIONS:
            stem = work / f"g_{method}_{precision}"
            r = run([LMMLASSO, "gwas", "--bfile", prefix, "--mpheno", "1", "--kinship",
                     work / "k_float64.kinship.npz", *extra, "--precision", precision,
                     "--out", stem, "--quiet"], work / f"gwas_{method}_{precision}")  # fmt: skip
            out["runs"][f"gwas {method} {precision}"] = {
                "seconds": r.seconds,
                "max_rss_mb": r.max_rss_mb,
            }
            logp[precision] = _log_p(Path(f"{stem}.gwas.tsv"))
        a, b = logp["float32"], logp["float64"]
        out[f"gwas_{method}"] = {
            "n_snps": int(len(a)),
            "corr_log10p": float(np.corrcoef(a, b)[0, 1]),
            "max_abs_diff_log10p": float(np.abs(a - b).max()),
        }
    return out


def main() -> int:
    before = loadavg()
    datasets = [bench_one(label, name) for label, name in DATASETS]
    result = {
        "date": utc_timestamp(),
        "machine": machine(),
        "loadavg_before": before,
        "loadavg_after": loadavg(),
        "datasets": datasets,
    }
    write_json(RESULTS / "precision.json", result)
    print(f"wrote {RESULTS / 'precision.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
