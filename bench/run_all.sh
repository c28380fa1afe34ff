#!/usr/bin/env bash
# `make bench`: every benchmark in one run, then bench/report.py renders bench/README.md from
# their JSON results. Each script installs its reference tools (Debian gemma, gemma-doc,
# plink2) if absent and writes only bench/results/<script>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
for script in kinship_null.py lasso_fit.py score_vs_plink2.py stability_vs_paper.py gwas_vs_gemma.py shrink.py mlmages.py pca_vs_plink2.py distributed.py startup.py; do
    if [ -f "bench/$script" ]; then
        echo "== bench/$script"
        "$PY" "bench/$script" "$@"
    fi
done
echo "== bench/report.py"
"$PY" bench/report.py
