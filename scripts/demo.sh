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

step "cv: 5-fold cross-validation over individuals, null model refitted per fold"
"$L" cv --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --pheno "$TOY/toy.pheno" \
    --pheno-name q1 --covar "$TOY/toy.covar" --reml --folds 5 --n-mu 30 --mu-min-ratio 0.05 \
    --out "$OUT/q1.cv" --quiet
grep -h "rule best" "$OUT/q1.cv.log"

step "stability: 20 half-subsamples, 10 SNPs each, 2 worker processes"
"$L" stability --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --pheno "$TOY/toy.pheno" \
    --pheno-name q1 --covar "$TOY/toy.covar" --reml --n-reps 20 --n-active 10 --threads 2 \
    --out "$OUT/q1.stab" --quiet
grep -v '^##' "$OUT/q1.stab.stability.tsv" | sed -n 1,8p | column -t

step "simulate: a phenotype on the toy genotypes (10 causal SNPs, h2 0.3 + background 0.3)"
"$L" simulate --bfile "$TOY/toy" --kinship "$OUT/toy.kinship.npz" --n-causal 10 \
    --h2-snps 0.3 --h2-background 0.3 --seed 1 --out "$OUT/sim" --quiet
SIM=(--bfile "$TOY/toy" --pheno "$OUT/sim.pheno" --pheno-name sim1)

step "the four methods on the simulated phenotype"
"$L" fit "${SIM[@]}" --kinship "$OUT/toy.kinship.npz" --n-active 20 --out "$OUT/sim.lmm" --quiet
"$L" fit "${SIM[@]}" --no-kinship --n-active 20 --out "$OUT/sim.lasso" --quiet
"$L" gwas "${SIM[@]}" --kinship "$OUT/toy.kinship.npz" --out "$OUT/sim.lmmscan" --quiet
"$L" gwas "${SIM[@]}" --lm --out "$OUT/sim.lm" --quiet

step "evaluate: precision-recall and ROC against the truth (hits within +-20 kb)"
"$L" evaluate --truth "$OUT/sim.truth.tsv" --bfile "$TOY/toy" --window-bp 20000 \
    --result lmm-lasso="$OUT/sim.lmm.weights.tsv" --result lasso="$OUT/sim.lasso.weights.tsv" \
    --result lmm-gwas="$OUT/sim.lmmscan.gwas.tsv" --result lm-gwas="$OUT/sim.lm.gwas.tsv" \
    --plot --out "$OUT/sim.eval" --quiet
cut -f1,3,4,9-11 "$OUT/sim.eval.eval.tsv" | column -t
step "ML-MAGES: LD blocks, then marginal effects of three traits sharing causal SNPs"
"$L" ld-blocks --bfile "$TOY/toy" --out "$OUT/toy" --quiet
"$L" gwas --bfile "$TOY/toy" --pheno "$TOY/traits.pheno" --pheno-name t1,t2,t3 --lm \
    --out "$OUT/traits" --quiet

step "shrink: train the network ensemble once on t1 (100 simulations, 4 networks), reuse it"
"$L" shrink --bfile "$TOY/toy" --gwas "$OUT/traits.t1.gwas.tsv" --blocks "$OUT/toy.blocks.tsv" \
    --n-replicates 100 --n-models 4 --threads 2 --save-model "$OUT/toy.mlmages.npz" \
    --out "$OUT/t1" --quiet
for t in t2 t3; do
    "$L" shrink --bfile "$TOY/toy" --gwas "$OUT/traits.$t.gwas.tsv" \
        --blocks "$OUT/toy.blocks.tsv" --model "$OUT/toy.mlmages.npz" --out "$OUT/$t" --quiet
done
grep -v '^##' "$OUT/t1.shrink.tsv" | sort -t$'\t' -k11,11gr | sed -n 1,6p | cut -f1-4,7,10,11 | column -t

step "cluster: a Dirichlet-process mixture over the three traits' shrunk effects"
"$L" cluster --shrink "$OUT/t1.shrink.tsv" "$OUT/t2.shrink.tsv" "$OUT/t3.shrink.tsv" \
    --threads 2 --plot --out "$OUT/traits" --quiet
grep -v '^##' "$OUT/traits.components.tsv" | cut -f1-4 | column -t

step "gene-test: genes with more shrunk signal than LD alone explains"
"$L" gene-test --bfile "$TOY/toy" --clusters "$OUT/traits.clusters.tsv" \
    --genes "$TOY/toy.genes.tsv" --out "$OUT/traits" --quiet
grep -h "genes with q < 0.05" "$OUT/traits.log"

printf '\nAll outputs are in %s/\n' "$OUT"
