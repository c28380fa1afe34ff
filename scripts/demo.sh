#!/usr/bin/env bash
# The whole pipeline on data/toy: called by `make demo` as scripts/demo.sh BIN TOY OUT.
set -euo pipefail
BIN=${1:-.venv/bin}
TOY=${2:-data/toy}
OUT=${3:-out}
L="$BIN/lmmlasso"
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

step "kinship: realized relationship matrix (npz + GCTA GRM)"
"$L" kinship --bfile "$TOY/toy" --out "$OUT/toy" --grm

step "fit-null: REML null model for every phenotype (one eigendecomposition per sample set)"
"$L" fit-null --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --pheno "$TOY/toy.pheno" \
    --all-pheno --covar "$TOY/toy.covar" --reml --out "$OUT/toy"
column -t "$OUT/toy.null.tsv" | cut -c1-150

step "fit: LMM-Lasso for q1, 15 SNPs, reusing the null model"
"$L" fit --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --null "$OUT/toy.null.npz" \
    --pheno "$TOY/toy.pheno" --pheno-name q1 --covar "$TOY/toy.covar" --n-active 15 \
    --out "$OUT/q1"

step "fit: the same as a path of 50 mu"
"$L" fit --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --null "$OUT/toy.null.npz" \
    --pheno "$TOY/toy.pheno" --pheno-name q1 --covar "$TOY/toy.covar" --n-mu 50 \
    --mu-min-ratio 0.05 --out "$OUT/q1.path" --quiet

step "predict: the 100 held-out individuals of new.bed"
"$L" predict --bfile "$TOY/new" --model "$OUT/q1.model.npz" --covar "$TOY/new.covar" \
    --pheno "$TOY/new.pheno" --out "$OUT/q1.new"

step "baselines: plain Lasso (--no-kinship) and the kinship-only BLUP (mu above mu_max)"
"$L" fit --bfile "$TOY/toy" --no-kinship --pheno "$TOY/toy.pheno" --pheno-name q1 \
    --covar "$TOY/toy.covar" --n-active 15 --out "$OUT/q1.lasso" --quiet
"$L" predict --bfile "$TOY/new" --model "$OUT/q1.lasso.model.npz" --covar "$TOY/new.covar" \
    --pheno "$TOY/new.pheno" --out "$OUT/q1.lasso.new" --quiet
"$L" fit --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --null "$OUT/toy.null.npz" \
    --pheno "$TOY/toy.pheno" --pheno-name q1 --covar "$TOY/toy.covar" --mu 1e9 \
    --out "$OUT/q1.blup" --quiet
"$L" predict --bfile "$TOY/new" --model "$OUT/q1.blup.model.npz" --covar "$TOY/new.covar" \
    --pheno "$TOY/new.pheno" --out "$OUT/q1.blup.new" --quiet
for m in q1 q1.lasso q1.blup; do
    printf '%-10s %s\n' "$m" "$(grep 'explained variance' "$OUT/$m.new.log" | sed 's/^.*: //')"
done
