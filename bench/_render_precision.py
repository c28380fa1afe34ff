"""The section "float32 against float64 (issue 10)" from precision.json."""

from __future__ import annotations


def render(result: dict, notes, source: str) -> str:
    lines = [
        f"Measured by `.venv/bin/python bench/precision.py` on {result['date']} (raw numbers in "
        f"`{source}`); {result['machine']['nproc']} CPUs; 1-minute load average "
        f"{result['loadavg_before'][0]} before, {result['loadavg_after'][0]} after.",
        "",
        "`--precision float32` multiplies each SNP block in float32 (kinship: `ssyrk`; gwas: "
        "UᵀZ) and sums the blocks in float64; gwas runs on the float64 kinship both times.",
        "",
        "| data | n | max \\|K32 − K64\\| | gwas test | SNPs | corr −log10 P | "
        "max \\|Δ −log10 P\\| |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in result["datasets"]:
        for method in ("fixed", "exact"):
            g = d[f"gwas_{method}"]
            lines.append(
                f"| {d['data']} | {d['n_samples']} | {d['kinship_max_abs_diff']:.2e} | {method} "
                f"| {g['n_snps']} | {g['corr_log10p']:.8f} | {g['max_abs_diff_log10p']:.2e} |"
            )
    lines += ["", "| data | command | wall s | peak RSS MB |", "|---|---|---|---|"]
    for d in result["datasets"]:
        for label, r in d["runs"].items():
            lines.append(f"| {d['data']} | {label} | {r['seconds']:.2f} | {r['max_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"
