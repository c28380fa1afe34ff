"""Re-derive the memory estimates of a bench/scale.py run with the current `memory.py`.

    .venv/bin/python bench/scale_replan.py [bench/results/scale.json]

The estimate a step printed comes from the code of the moment it ran; the plan was recalibrated
on the first 10,000 x 500,000 run (phases, the .bim table, fit's background weights, gwas's
workers). This adds to each step the estimate the current plan gives for the same sizes
(`estimated_peak_gb_final`, and its ratio to the measured peak: the larger of the process
tree's PSS and the largest process's RSS),
keeping the logged one. The sizes are those `cli.pipeline.plan_for_data` passes for the
commands bench/scale.py runs (threads 2, precision float32 for kinship and gwas, --n-active 100
for fit and stability, gwas with --kinship and --null).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lmmlasso_cli.compact import SUBSET_COPY_BYTES  # noqa: E402,F401
from lmmlasso_cli.memory import GB, Sizes, plan_memory  # noqa: E402

THREADS = 2


def sizes_for(step: str, n: int, p: int, rank: int = 0) -> tuple[str, Sizes]:
    cache = n * min(p, 2048) * 8.0
    common = {"n_samples": n, "n_bim": p, "cache_bytes": cache, "kinship_rank": rank}
    if step == "kinship":
        return "kinship", Sizes(n_snps=p, precision="float32", **common)
    if step == "fit-null":
        return "fit-null", Sizes(n_snps=0, n_kinship=n, **common)
    if step in ("fit", "fit-path"):
        n_mu, n_active = (100, 0) if step == "fit-path" else (1, 100)  # --n-mu 100, --n-active 100
        return "fit", Sizes(n_snps=p, n_kinship=n, n_mu=n_mu, n_active=n_active, **common)
    if step == "gwas":
        workers = THREADS if n * p >= 2e8 else 1
        return "gwas", Sizes(
            n_snps=p, n_kinship=n, workers=workers, precision="float32", eigen_read=True, **common
        )  # fmt: skip  (--kinship and --null)
    if step == "stability":
        return "stability", Sizes(
            n_snps=p, n_kinship=n, workers=THREADS, n_subsample=n // 2, n_active=100, **common
        )
    if step == "predict":
        return "predict", Sizes(n_snps=100, **common)
    raise ValueError(step)


def main(path: str = "bench/results/scale.json") -> int:
    result = json.loads(Path(path).read_text())
    for case in result["cases"]:
        for row in case["rows"]:
            if row["step"] == "generate" or row.get("status") != "ok":
                continue
            command, sizes = sizes_for(row["step"], case["n"], case["p"], case.get("rank", 0))
            plan = plan_memory(command, sizes, 2048, 1e15)
            row["estimated_peak_gb_final"] = round(plan.peak / GB, 2)
            measured = max(row.get("tree_peak_pss_gb") or 0.0, row.get("peak_rss_gb") or 0.0)
            if measured:
                row["final_estimate_over_measured"] = round(plan.peak / GB / measured, 3)
    Path(path).write_text(json.dumps(result, indent=1) + "\n")
    print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
