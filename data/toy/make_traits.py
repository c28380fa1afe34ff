"""Three quantitative traits with shared causal SNPs on the toy genotypes (data/toy/toy.bed).

Run ``python data/toy/make_traits.py`` (or ``--out DIR``) to write ``traits.pheno``
(``FID IID t1 t2 t3``), ``traits.truth.tsv`` and ``traits.README.md``; the same seed gives
byte-identical files. The other toy files are neither read beyond toy.bed/.bim/.fam nor changed.

Model (every parameter is a named constant below), for the 600 training individuals:

1. Genotypes: A1 counts of toy.bed, missing calls at the SNP mean, standardized to mean 0 and
   sd 1 (ddof 0), as `lmmlasso_cli.genotypes.standardize` does.
2. Causal SNPs: MAF >= MIN_CAUSAL_MAF, drawn one by one at least MIN_SPACING SNPs apart on a
   chromosome, in groups: SHARED_ALL in all three traits, SHARED_12 in t1 and t2, SHARED_13 in
   t1 and t3, and OWN[t] in trait t only.
3. Effects per sd of the SNP: size U(EFFECT_MIN, EFFECT_MAX), drawn per trait, with a random
   sign per SNP that t2 keeps and t3 reverses (t1 and t2 share direction, t1 and t3 oppose).
4. y_t = g_t + e_t as in `lmmlasso_cli.simulate`: g_t = Z b_t centred and scaled to variance
   H2[t]; e_t ~ N(0, 1), centred, made uncorrelated with g_t in the sample and scaled to
   variance 1 − H2[t]. The truth file holds b_t after scaling (BETA_STD) and per copy of A1
   (BETA = BETA_STD / sd).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bed_reader import open_bed

from lmmlasso_cli.genotypes import filter_snps, snp_stats, standardize

SEED = 20261201
TRAITS = ("t1", "t2", "t3")
H2 = (0.40, 0.30, 0.30)  # variance share of the causal SNPs
SHARED_ALL = 2
SHARED_12 = 4
SHARED_13 = 3
OWN = (3, 4, 5)
MIN_CAUSAL_MAF = 0.05
MIN_SPACING = 100  # SNPs between two causal SNPs on one chromosome
EFFECT_MIN, EFFECT_MAX = 0.5, 1.5
FORMAT = "%.6f"
HERE = Path(__file__).resolve().parent


def choose_causal(rng: np.random.Generator, chrom: np.ndarray, eligible: np.ndarray, k: int):
    """``k`` eligible SNP positions, each >= MIN_SPACING from the others on its chromosome."""
    chosen: list[int] = []
    for j in rng.permutation(np.flatnonzero(eligible)):
        if all(chrom[c] != chrom[j] or abs(c - j) >= MIN_SPACING for c in chosen):
            chosen.append(int(j))
        if len(chosen) == k:
            return np.array(chosen)
    raise RuntimeError("not enough well-separated causal SNPs")


def make_traits(out: Path, seed: int = SEED) -> None:
    bed = open_bed(str(HERE / "toy.bed"), count_A1=True)
    counts = bed.read(dtype="float64")
    fid, iid = bed.fid, bed.iid
    chrom, sid, bp = bed.chromosome, bed.sid, bed.bp_position
    a1 = bed.allele_1
    stats = snp_stats(counts)
    usable = filter_snps(stats).keep
    Z = standardize(counts[:, usable], stats.means[usable], stats.sds[usable])
    cols = np.flatnonzero(usable)  # Z column -> .bim position
    rng_causal, rng_effects, rng_noise = np.random.default_rng(seed).spawn(3)

    groups = {"t1,t2,t3": SHARED_ALL, "t1,t2": SHARED_12, "t1,t3": SHARED_13}
    groups.update({t: k for t, k in zip(TRAITS, OWN, strict=True)})
    eligible = stats.maf[usable] >= MIN_CAUSAL_MAF
    picked = choose_causal(rng_causal, chrom[cols], eligible, sum(groups.values()))
    members, start = {}, 0
    for name, k in groups.items():
        members[name] = picked[start : start + k]
        start += k
    sign = rng_effects.choice([-1.0, 1.0], size=len(picked))
    sign_of = dict(zip(picked.tolist(), sign, strict=True))

    pheno, truth = [], []
    for t_idx, trait in enumerate(TRAITS):
        causal = np.sort(np.concatenate([v for k, v in members.items() if trait in k.split(",")]))
        size = rng_effects.uniform(EFFECT_MIN, EFFECT_MAX, len(causal))
        direction = np.array([sign_of[c] for c in causal]) * (-1.0 if trait == "t3" else 1.0)
        b = size * direction
        g = Z[:, causal] @ b
        g -= g.mean()
        f = np.sqrt(H2[t_idx] / np.mean(g**2))
        g, b = g * f, b * f
        e = rng_noise.standard_normal(len(g))
        e -= e.mean()
        e -= g * (e @ g) / (g @ g)
        e *= np.sqrt((1.0 - H2[t_idx]) / np.mean(e**2))
        pheno.append(g + e)
        for c, beta_std in zip(causal, b, strict=True):
            j = cols[c]
            shared = next(k for k, v in members.items() if c in v)
            truth.append(
                (trait, chrom[j], sid[j], str(bp[j]), a1[j],
                 FORMAT % (beta_std / stats.sds[j]), FORMAT % beta_std, shared)
            )  # fmt: skip

    out.mkdir(parents=True, exist_ok=True)
    lines = ["FID IID " + " ".join(TRAITS)]
    for i in range(len(iid)):
        lines.append(f"{fid[i]} {iid[i]} " + " ".join(FORMAT % p[i] for p in pheno))
    (out / "traits.pheno").write_text("\n".join(lines) + "\n")
    header = "TRAIT\tCHR\tSNP\tBP\tA1\tBETA\tBETA_STD\tSHARED_BY"
    (out / "traits.truth.tsv").write_text(
        "\n".join([header] + ["\t".join(row) for row in truth]) + "\n"
    )
    shares = ", ".join(f"{t} {h}" for t, h in zip(TRAITS, H2, strict=True))
    n_causal = {t: sum(len(v) for k, v in members.items() if t in k.split(",")) for t in TRAITS}
    (out / "traits.README.md").write_text(
        "# Multi-trait toy phenotypes\n\n"
        f"Written by `make_traits.py` (seed {SEED}) from toy.bed; see its docstring for the "
        "model.\n\n"
        "- traits.pheno: `FID IID t1 t2 t3`, the 600 toy.fam individuals, no missing values.\n"
        "- traits.truth.tsv: `TRAIT CHR SNP BP A1 BETA BETA_STD SHARED_BY`, one row per causal "
        "SNP and trait; SHARED_BY lists the traits the SNP is causal for.\n"
        f"- causal SNPs: {', '.join(f'{t} {n_causal[t]}' for t in TRAITS)}; "
        f"{SHARED_ALL} in all three, {SHARED_12} in t1 and t2 only, {SHARED_13} in t1 and t3 "
        f"only; t2 keeps t1's effect signs and t3 reverses them.\n"
        f"- causal variance shares: {shares}; "
        "each trait has mean 0 and variance 1 (ddof 0).\n"
    )
    print(f"wrote {out}/traits.pheno, traits.truth.tsv and traits.README.md")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    make_traits(parser.parse_args().out)
