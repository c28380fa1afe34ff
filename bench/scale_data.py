"""A synthetic biobank-sized PLINK 1 set with families, populations and LD, written as a stream.

    python bench/scale_data.py --n 10000 --p 500000 --out DIR/prefix --seed 1
        [--chromosomes 22] [--missing 0.0] [--populations 2] [--fst 0.01] [--n-pheno 2]
        [--n-causal 100] [--threads N] [--validate]

Writes PREFIX.bed/.bim/.fam, PREFIX.pheno (FID IID pheno1 pheno2 ..., tab-separated),
PREFIX.truth.tsv (PHENO CHR SNP BP A1 BETA BETA_STD FREQ, as `lmmlasso simulate` writes it, so
`lmmlasso evaluate --truth` reads it) and, last, PREFIX.json (the settings and a summary; a set
without it is incomplete). The .bed is written in its own SNP-major 2-bit format, one block of
SNPs at a time: memory is O(n + p) plus a block of n × block-snps bytes, never n × p.
``--validate`` then reads the set back and checks it (see `validate`), for small sets.

The model (every random number is a pure function of the seed, so the files do not depend on
--block-snps or --threads):

- **Pedigree.** A share --family-fraction of the individuals come in families of six: a father
  and two mothers (founders), two full sibs of the father and the first mother and a half sib
  of the father and the second mother. The others are unrelated founders. Expected
  relatedness (kinship coefficient φ; the genomic relationship 2φ): parent-offspring and full
  sibs φ = 1/4, half sibs φ = 1/8, spouses and different families 0. Families and singletons
  appear in random order, members together; each family belongs to one population.
- **Populations.** Founders of population k carry A1 at SNP j with probability f_kj, drawn
  from Balding-Nichols around the ancestral frequency f_j: f_kj ~ Beta(f_j (1-F)/F,
  (1-f_j)(1-F)/F), F = --fst. f_j = 0.01 + 0.49·Beta(a, b) (--maf-beta a,b): the counted allele
  A1 (.bim column 5) is the ancestral minor allele, with frequency at least 0.01.
- **LD.** Along each chromosome a founder haplotype is a mosaic of ancestral haplotypes
  indexed by u in [0, 1): at SNP j it copies ancestor u, and the ancestor carries A1 iff
  (u − o_j) mod 1 < f_kj, an arc of length f_kj starting at o_j. Between SNP j−1 and j the
  haplotype switches to a new ancestor (u drawn afresh) with probability
  s_j = 1 − exp(−λ·h·gap_j / mean gap), λ = --ld-switch, h ~ Gamma(1/2, 2) per region of
  REGION_SNPS SNPs (hot and cold regions); o_j is a random walk, o_j = o_{j−1} + N(0, σ²)
  mod 1, σ = --arc-drift. So P(A1) = f_kj exactly, r² between two SNPs is largest when no
  switch lies between them and their arcs overlap, and it decays with the distance in SNPs.
  (The LD length is set in SNPs, not in bp, so that a small set has the LD a dense one has.)
- **Transmission.** Each offspring receives one recombinant haplotype per chromosome from each
  parent: crossovers at Poisson positions, 1 cM per Mb (GRCh37 autosome lengths, 1 Morgan ≈
  100 Mb), the starting parental haplotype at random.
- **SNPs.** SNPs are spread over the chromosomes in proportion to their lengths, at positions
  with exponential gaps (strictly increasing); ID CHR:BP; alleles drawn from ACGT;
  centimorgans bp/1e6.
- **Missing calls** (--missing m): SNP j has rate m_j ~ m·Exp(1) (at most 0.5) and every call
  is missing with probability m_j, after the phenotypes are made from the true genotypes.
- **Phenotypes.** For each of --n-pheno: y = g + u + c + e, with g = Σ_j b_j z_j over
  --n-causal SNPs drawn at random (z_j the SNP standardized with its sample mean and sd, ddof
  0; b_j ~ N(0, 1)), u = Σ_j w_j x_j over every SNP (x_j the count of A1, w_j ~ N(0, 1) /
  sqrt(2 f_j (1 − f_j)): a polygenic background whose covariance follows the relatedness), c a
  family effect shared by a family's members (N(0, 1) per family and singleton) and e ~ N(0, 1).
  Each part is centred and scaled to hold exactly --h2-causal, --h2-poly, --c2 and the rest
  of a variance of 1 (the parts are independent but not made uncorrelated in the sample). The
  truth file gives the scaled b (BETA_STD, per sample sd) and b / sd (BETA, per A1 copy).

Random numbers: layout, pedigree, crossovers and effects come from numpy Generators spawned
from SeedSequence(seed); the per-SNP, per-haplotype draws (switches) and per-call draws
(missing calls) are counter-based (SplitMix64 of a seeded key and the (row, SNP) index), so the
numba kernels can run them in parallel and in any block size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import numpy as np
from numba import get_num_threads, njit, prange, set_num_threads

FORMAT_VERSION = 1
BED_MAGIC = bytes([0x6C, 0x1B, 0x01])  # PLINK 1 .bed, SNP-major
# GRCh37 autosome lengths (bp); a set with C chromosomes uses the first C
CHROM_BP = (
    249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663, 146364022,
    141213431, 135534747, 135006516, 133851895, 115169878, 107349540, 102531392, 90354753,
    81195210, 78077248, 59128983, 63025520, 48129895, 51304566,
)  # fmt: skip
MORGANS_PER_BP = 1e-8  # 1 cM per Mb
REGION_SNPS = 50  # SNPs per region of one LD switch-rate multiplier
FAMILY_SIZE = 6  # father, two mothers, two full sibs, one half sib
BASES = np.array(list("ACGT"))
HAP_CHUNK = 256  # founder haplotypes per parallel task
ROW_CHUNK = 1024  # individuals per parallel task of the phenotype accumulation


@dataclass(frozen=True)
class ScaleConfig:
    """Every setting of one data set; with the seed, the files are a function of these."""

    n_samples: int
    n_snps: int
    seed: int = 1
    n_chromosomes: int = 22
    missing: float = 0.0  # mean per-call missing rate
    n_populations: int = 2
    fst: float = 0.01
    family_fraction: float = 0.6  # share of individuals in families of six
    maf_beta: tuple[float, float] = (1.0, 2.0)
    ld_switch: float = 0.08  # switch rate per mean SNP gap
    arc_drift: float = 0.02  # sd of the arc offset's step per SNP
    n_pheno: int = 2
    n_causal: int = 100
    h2_causal: float = 0.2
    h2_poly: float = 0.3
    c2: float = 0.0

    def check(self) -> None:
        if self.n_samples < 2 or self.n_snps < 1:
            raise ValueError("need --n >= 2 and --p >= 1")
        if not 1 <= self.n_chromosomes <= len(CHROM_BP):
            raise ValueError(f"--chromosomes must be 1 to {len(CHROM_BP)}")
        if self.n_snps < self.n_chromosomes:
            raise ValueError(f"--p {self.n_snps} < --chromosomes {self.n_chromosomes}")
        if not 0 <= self.missing < 0.5:
            raise ValueError("--missing must be in [0, 0.5)")
        if self.n_populations < 1 or not 0 <= self.fst < 1:
            raise ValueError("need --populations >= 1 and 0 <= --fst < 1")
        if not 0 <= self.family_fraction <= 1:
            raise ValueError("--family-fraction must be in [0, 1]")
        if self.n_causal > self.n_snps:
            raise ValueError(f"--n-causal {self.n_causal} > --p {self.n_snps}")
        if min(self.h2_causal, self.h2_poly, self.c2) < 0 or (
            self.h2_causal + self.h2_poly + self.c2 > 1
        ):
            raise ValueError("--h2-causal, --h2-poly and --c2 must be >= 0 and sum to <= 1")


# ----------------------------------------------------------------------------- design


@dataclass(frozen=True)
class Pedigree:
    """Who is who: n individuals in .fam order, built from n_founders founders."""

    fid: np.ndarray  # (n,) str
    iid: np.ndarray  # (n,) str
    father: np.ndarray  # (n,) str, "0" for founders
    mother: np.ndarray  # (n,) str
    sex: np.ndarray  # (n,) int8: 1 male, 2 female
    population: np.ndarray  # (n,) int64
    family: np.ndarray  # (n,) int64: the family's number, or -1 for a singleton
    parent: np.ndarray  # (n, 2) int64: founder index giving the paternal and maternal haplotype
    gamete: np.ndarray  # (n, 2) int64: gamete index, -1 for a founder's own haplotypes
    founder_population: np.ndarray  # (n_founders,) int64

    @property
    def n_samples(self) -> int:
        return len(self.iid)

    @property
    def n_gametes(self) -> int:
        return int(self.gamete.max()) + 1 if self.gamete.size and self.gamete.max() >= 0 else 0


@dataclass(frozen=True)
class Layout:
    """The SNPs: positions, alleles and the parameters of the haplotype model, all (p,)."""

    chrom: np.ndarray  # (p,) int64, 1-based
    bp: np.ndarray  # (p,) int64, strictly increasing within a chromosome
    a1: np.ndarray  # (p,) str: the counted allele
    a2: np.ndarray  # (p,) str
    freq: np.ndarray  # (p,) ancestral A1 frequency f_j
    pop_freq: np.ndarray  # (p, n_populations) f_kj
    offset: np.ndarray  # (p,) arc start o_j in [0, 1)
    switch: np.ndarray  # (p,) switch probability s_j (1 at each chromosome's first SNP)
    missing_rate: np.ndarray  # (p,) m_j
    chrom_start: np.ndarray  # (C + 1,) first SNP index of each chromosome, then p

    def snp_ids(self, lo: int = 0, hi: int | None = None) -> list[str]:
        hi = len(self.bp) if hi is None else hi
        return [snp_id(c, b) for c, b in zip(self.chrom[lo:hi], self.bp[lo:hi], strict=True)]


def snp_id(chrom, bp) -> str:
    """A SNP's ID: CHR:BP (unique, as positions increase within a chromosome)."""
    return f"{chrom}:{bp}"


@dataclass(frozen=True)
class Crossovers:
    """Crossover positions of every gamete on every chromosome (CSR by gamete × chromosome)."""

    pos: np.ndarray  # (n_crossovers,) int64 bp, sorted within each (gamete, chromosome)
    ptr: np.ndarray  # (n_gametes * C + 1,) int64: crossovers of gamete g on chromosome c are
    #                  pos[ptr[g * C + c] : ptr[g * C + c + 1]]
    start_side: np.ndarray  # (n_gametes, C) uint8: the parental haplotype at the first SNP


@dataclass(frozen=True)
class Effects:
    """Per phenotype: causal SNPs with raw effects, per-allele polygenic weights, family effects."""

    causal: np.ndarray  # (n_pheno, n_causal) int64, sorted SNP indices
    beta: np.ndarray  # (n_pheno, n_causal) raw b ~ N(0, 1), scaled in `PhenotypeAccumulator`
    poly_weight: np.ndarray  # (p, n_pheno) w_j per A1 copy
    family_effect: np.ndarray  # (n, n_pheno): the family's (or singleton's) N(0, 1) draw
    noise: np.ndarray  # (n, n_pheno) N(0, 1)


@dataclass(frozen=True)
class Design:
    config: ScaleConfig
    pedigree: Pedigree
    layout: Layout
    crossovers: Crossovers
    effects: Effects
    switch_key: np.uint64
    missing_key: np.uint64

    def expected_freq(self) -> np.ndarray:
        """(p,) the expected sample A1 frequency: f_kj averaged over the individuals' k."""
        share = np.bincount(self.pedigree.population, minlength=self.config.n_populations)
        return self.layout.pop_freq @ (share / share.sum())


def make_pedigree(cfg: ScaleConfig, rng: np.random.Generator) -> Pedigree:
    """Families of six and singletons in random order (see the module docstring)."""
    n = cfg.n_samples
    n_fam = int(cfg.family_fraction * n) // FAMILY_SIZE
    n_units = n - (FAMILY_SIZE - 1) * n_fam
    order = rng.permutation(n_units)  # unit u < n_fam is family u, the others singletons
    unit_pop = rng.integers(0, cfg.n_populations, size=n_units)
    sex_draw = rng.integers(1, 3, size=n)
    rows = []  # (fid, iid, father, mother, sex, population, family, parent, gamete)
    founder_pop: list[int] = []
    n_offspring = 0
    for u in map(int, order):
        k, i, f0 = int(unit_pop[u]), len(rows), len(founder_pop)
        if u >= n_fam:
            founder_pop.append(k)
            rows.append((f"S{u - n_fam + 1}", f"I{i + 1}", "0", "0", sex_draw[i], k, -1,
                         (f0, f0), (-1, -1)))  # fmt: skip
            continue
        fid = f"F{u + 1}"
        dad, mum_a, mum_b = (f"I{i + m + 1}" for m in range(3))
        founder_pop += [k, k, k]
        for m, (name, sex) in enumerate(((dad, 1), (mum_a, 2), (mum_b, 2))):
            rows.append((fid, name, "0", "0", sex, k, u, (f0 + m, f0 + m), (-1, -1)))
        for m, (mum, f_mum) in enumerate(((mum_a, f0 + 1), (mum_a, f0 + 1), (mum_b, f0 + 2))):
            gametes = (2 * n_offspring, 2 * n_offspring + 1)
            rows.append((fid, f"I{i + 4 + m}", dad, mum, sex_draw[i + 3 + m], k, u,
                         (f0, f_mum), gametes))  # fmt: skip
            n_offspring += 1
    fid, iid, father, mother, sex, pop, family, parent, gamete = map(list, zip(*rows, strict=True))
    return Pedigree(
        fid=np.array(fid),
        iid=np.array(iid),
        father=np.array(father),
        mother=np.array(mother),
        sex=np.array(sex, dtype=np.int8),
        population=np.array(pop, dtype=np.int64),
        family=np.array(family, dtype=np.int64),
        parent=np.array(parent, dtype=np.int64),
        gamete=np.array(gamete, dtype=np.int64),
        founder_population=np.array(founder_pop, dtype=np.int64),
    )


def make_layout(cfg: ScaleConfig, rng: np.random.Generator) -> Layout:
    """SNP positions, alleles, frequencies and the LD model's per-SNP parameters."""
    p, n_chr = cfg.n_snps, cfg.n_chromosomes
    lengths = np.array(CHROM_BP[:n_chr], dtype=np.int64)
    counts = _apportion(p, lengths)
    chrom = np.repeat(np.arange(1, n_chr + 1), counts)
    chrom_start = np.concatenate([[0], np.cumsum(counts)])
    bp = np.empty(p, dtype=np.int64)
    switch = np.empty(p)
    offset = np.empty(p)
    for c in range(n_chr):
        lo, hi, m, length = chrom_start[c], chrom_start[c + 1], counts[c], lengths[c]
        steps = np.cumsum(rng.exponential(size=m + 1))
        pos = 1 + np.floor(steps[:-1] / steps[-1] * (length - m)).astype(np.int64)
        bp[lo:hi] = pos + np.arange(m)
        gap = np.diff(bp[lo:hi], prepend=bp[lo]) / (length / m)
        region = rng.gamma(0.5, 2.0, size=-(-m // REGION_SNPS))
        rate = cfg.ld_switch * np.repeat(region, REGION_SNPS)[:m] * gap
        switch[lo:hi] = -np.expm1(-rate)
        switch[lo] = 1.0  # a fresh ancestor at each chromosome's first SNP
        walk = rng.uniform() + np.cumsum(rng.normal(0.0, cfg.arc_drift, size=m))
        offset[lo:hi] = np.mod(walk, 1.0)
    a, b = cfg.maf_beta
    freq = 0.01 + 0.49 * rng.beta(a, b, size=p)
    if cfg.fst > 0:
        scale = (1 - cfg.fst) / cfg.fst
        shape = (freq * scale, (1 - freq) * scale)
        pop_freq = rng.beta(shape[0][:, None], shape[1][:, None], size=(p, cfg.n_populations))
    else:
        pop_freq = np.repeat(freq[:, None], cfg.n_populations, axis=1)
    base1 = rng.integers(0, 4, size=p)
    base2 = (base1 + rng.integers(1, 4, size=p)) % 4
    rates = np.minimum(cfg.missing * rng.exponential(size=p), 0.5) if cfg.missing else np.zeros(p)
    return Layout(
        chrom,
        bp,
        BASES[base1],
        BASES[base2],
        freq,
        np.ascontiguousarray(pop_freq),
        offset,
        switch,
        rates,
        chrom_start,
    )


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (largest remainders), at least 1 each."""
    share = total * weights / weights.sum()
    counts = np.maximum(np.floor(share).astype(np.int64), 1)
    order = np.argsort(-(share - np.floor(share)), kind="stable")
    i = 0
    while counts.sum() < total:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > total:
        counts[np.argmax(counts)] -= 1
    return counts


def make_crossovers(cfg: ScaleConfig, n_gametes: int, rng: np.random.Generator) -> Crossovers:
    """Poisson crossovers (1 cM/Mb) at uniform positions, per gamete and chromosome."""
    n_chr = cfg.n_chromosomes
    lengths = np.array(CHROM_BP[:n_chr], dtype=np.int64)
    counts = rng.poisson(lengths * MORGANS_PER_BP, size=(n_gametes, n_chr)).ravel()
    cell = np.repeat(np.arange(n_gametes * n_chr), counts)
    pos = 1 + np.floor(rng.uniform(size=len(cell)) * lengths[cell % n_chr]).astype(np.int64)
    order = np.lexsort((pos, cell))
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    start = rng.integers(0, 2, size=(n_gametes, n_chr)).astype(np.uint8)
    return Crossovers(pos[order], ptr, start)


def make_effects(cfg: ScaleConfig, ped: Pedigree, layout: Layout, rng) -> Effects:
    p, k = cfg.n_snps, cfg.n_pheno
    causal = np.array(
        [np.sort(rng.choice(p, size=cfg.n_causal, replace=False)) for _ in range(k)],
        dtype=np.int64,
    ).reshape(k, cfg.n_causal)
    beta = rng.normal(size=(k, cfg.n_causal))
    sd = np.sqrt(2 * layout.freq * (1 - layout.freq))
    poly = rng.normal(size=(p, k)) / sd[:, None]
    # one draw per family; each singleton (family -1) gets its own
    unit = ped.family.copy()
    single = unit < 0
    unit[single] = unit.max(initial=-1) + 1 + np.arange(single.sum())
    _, unit_index = np.unique(unit, return_inverse=True)
    family_effect = rng.normal(size=(unit_index.max() + 1, k))[unit_index]
    noise = rng.normal(size=(len(ped.iid), k))
    return Effects(causal, beta, poly, family_effect, noise)


def make_design(cfg: ScaleConfig) -> Design:
    """Everything but the genotypes: O(n + p) memory, a fraction of a second per 100k SNPs."""
    cfg.check()
    seq = np.random.SeedSequence(cfg.seed)
    ped_seq, layout_seq, xo_seq, effect_seq, key_seq = seq.spawn(5)
    ped = make_pedigree(cfg, np.random.default_rng(ped_seq))
    layout = make_layout(cfg, np.random.default_rng(layout_seq))
    xo = make_crossovers(cfg, ped.n_gametes, np.random.default_rng(xo_seq))
    effects = make_effects(cfg, ped, layout, np.random.default_rng(effect_seq))
    keys = key_seq.generate_state(2, dtype=np.uint64)
    return Design(cfg, ped, layout, xo, effects, np.uint64(keys[0]), np.uint64(keys[1]))


# ----------------------------------------------------------------------------- kernels

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@njit(inline="always")
def _uniform(key, row, col):
    """Uniform on [0, 1), a pure function of (key, row, col): SplitMix64's output number
    row·2³² + col of the stream seeded with ``key`` (col < 2³²)."""
    c = (np.uint64(row) << np.uint64(32)) | np.uint64(col)
    z = key + (c + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * _TO_UNIT


@njit(parallel=True, cache=True)
def _founder_alleles(key, snp0, switch, offset, pop_freq, hap_pop, u, alleles):
    """A1 carried by each founder haplotype at SNPs snp0.. (alleles (B, n_hap) uint8); ``u``
    (n_hap,) is the copied ancestor, carried over from the previous block."""
    n_block, n_hap = alleles.shape
    for chunk in prange((n_hap + HAP_CHUNK - 1) // HAP_CHUNK):
        lo = chunk * HAP_CHUNK
        hi = min(n_hap, lo + HAP_CHUNK)
        for jj in range(n_block):
            s = switch[jj]
            o = offset[jj]
            for h in range(lo, hi):
                r = _uniform(key, h, snp0 + jj)
                if r < s:
                    u[h] = r / s
                d = u[h] - o
                if d < 0.0:
                    d += 1.0
                alleles[jj, h] = 1 if d < pop_freq[jj, hap_pop[h]] else 0


@njit(cache=True)
def _gamete_sides(bp, xo_pos, xo_end, side, ptr, sides):
    """Which parental haplotype each gamete copies at each SNP of the block (sides (B, G));
    ``side`` and ``ptr`` (the next crossover) carry over between blocks."""
    n_block, n_gam = sides.shape
    for g in range(n_gam):
        t = side[g]
        k = ptr[g]
        end = xo_end[g]
        for jj in range(n_block):
            while k < end and xo_pos[k] <= bp[jj]:
                t ^= 1
                k += 1
            sides[jj, g] = t
        side[g] = t
        ptr[g] = k


@njit(parallel=True, cache=True)
def _genotypes(alleles, sides, parent, gamete, key, snp0, missing_rate, geno, missing, packed):
    """True A1 counts (geno (B, n) int8), missing calls (missing (B, n) bool) and the .bed rows
    (packed (B, ceil(n/4)) uint8: 00 two A1, 10 one, 11 none, 01 missing; individual i in bits
    2(i mod 4) of byte i // 4)."""
    n_block, n = geno.shape
    for jj in prange(n_block):
        m = missing_rate[jj]
        for i in range(n):
            g = 0
            for s in range(2):
                gm = gamete[i, s]
                side = s if gm < 0 else sides[jj, gm]
                g += alleles[jj, 2 * parent[i, s] + side]
            geno[jj, i] = g
            missing[jj, i] = m > 0.0 and _uniform(key, i, snp0 + jj) < m
        for b in range(packed.shape[1]):
            byte = 0
            for k in range(4):
                i = 4 * b + k
                if i < n:
                    if missing[jj, i]:
                        code = 1
                    elif geno[jj, i] == 2:
                        code = 0
                    elif geno[jj, i] == 1:
                        code = 2
                    else:
                        code = 3
                    byte |= code << (2 * k)
            packed[jj, b] = byte


@njit(parallel=True, cache=True)
def _accumulate(geno, weights, acc):
    """acc (n, k) += genoᵀ weights, geno (B, n) int8, weights (B, k)."""
    n_block, n = geno.shape
    n_pheno = weights.shape[1]
    for chunk in prange((n + ROW_CHUNK - 1) // ROW_CHUNK):
        lo = chunk * ROW_CHUNK
        hi = min(n, lo + ROW_CHUNK)
        for jj in range(n_block):
            for i in range(lo, hi):
                g = geno[jj, i]
                if g != 0:
                    for t in range(n_pheno):
                        acc[i, t] += weights[jj, t] * g


# ----------------------------------------------------------------------------- streaming


@dataclass(frozen=True)
class Block:
    """SNPs start..stop-1 (one chromosome): true genotypes, missing calls, .bed bytes."""

    chrom: int
    start: int
    stop: int
    genotypes: np.ndarray  # (B, n) int8 A1 counts before missing calls
    missing: np.ndarray  # (B, n) bool
    packed: np.ndarray  # (B, ceil(n/4)) uint8

    def calls(self) -> np.ndarray:
        """(n, B) float64 as a reader sees them: A1 counts, NaN where missing."""
        out = self.genotypes.T.astype(np.float64)
        out[self.missing.T] = np.nan
        return out


def simulate_blocks(design: Design, block_snps: int = 2048) -> Iterator[Block]:
    """The genotypes, block by block in .bim order; blocks never span two chromosomes."""
    cfg, ped, lay, xo = design.config, design.pedigree, design.layout, design.crossovers
    n, n_chr = ped.n_samples, cfg.n_chromosomes
    hap_pop = np.repeat(ped.founder_population, 2)
    u = np.zeros(len(hap_pop))
    n_gam = ped.n_gametes
    for c in range(n_chr):
        side = xo.start_side[:, c].copy()
        cells = np.arange(n_gam) * n_chr + c
        ptr, end = xo.ptr[cells].copy(), xo.ptr[cells + 1].copy()
        lo_c, hi_c = int(lay.chrom_start[c]), int(lay.chrom_start[c + 1])
        for lo in range(lo_c, hi_c, block_snps):
            hi = min(hi_c, lo + block_snps)
            m = hi - lo
            alleles = np.empty((m, len(hap_pop)), dtype=np.uint8)
            _founder_alleles(
                design.switch_key,
                lo,
                lay.switch[lo:hi],
                lay.offset[lo:hi],
                lay.pop_freq[lo:hi],
                hap_pop,
                u,
                alleles,
            )
            sides = np.empty((m, n_gam), dtype=np.uint8)
            _gamete_sides(lay.bp[lo:hi], xo.pos, end, side, ptr, sides)
            geno = np.empty((m, n), dtype=np.int8)
            missing = np.empty((m, n), dtype=np.bool_)
            packed = np.empty((m, (n + 3) // 4), dtype=np.uint8)
            _genotypes(
                alleles,
                sides,
                ped.parent,
                ped.gamete,
                design.missing_key,
                lo,
                lay.missing_rate[lo:hi],
                geno,
                missing,
                packed,
            )
            yield Block(c + 1, lo, hi, geno, missing, packed)


class PhenotypeAccumulator:
    """Collects g (causal SNPs) and u (all SNPs) block by block; `finish` scales and sums."""

    def __init__(self, design: Design):
        self.design = design
        cfg = design.config
        n = design.pedigree.n_samples
        self.causal_sum = np.zeros((n, cfg.n_pheno))
        self.poly_sum = np.zeros((n, cfg.n_pheno))
        self.causal_sd = np.zeros((cfg.n_pheno, cfg.n_causal))
        self.causal_freq = np.zeros((cfg.n_pheno, cfg.n_causal))

    def add(self, block: Block) -> None:
        eff = self.design.effects
        _accumulate(block.genotypes, eff.poly_weight[block.start : block.stop], self.poly_sum)
        for k in range(eff.causal.shape[0]):
            idx = eff.causal[k]
            a, b = np.searchsorted(idx, [block.start, block.stop])
            for r in range(a, b):
                x = block.genotypes[idx[r] - block.start].astype(np.float64)
                mean, sd = x.mean(), x.std()
                self.causal_freq[k, r] = mean / 2
                self.causal_sd[k, r] = sd
                if sd > 0:
                    self.causal_sum[:, k] += eff.beta[k, r] * (x - mean) / sd

    def finish(self) -> tuple[np.ndarray, list[dict]]:
        """(n, n_pheno) phenotypes and the truth rows (one per causal SNP and phenotype)."""
        cfg, eff, lay = self.design.config, self.design.effects, self.design.layout
        shares = (cfg.h2_causal, cfg.h2_poly, cfg.c2, 1 - cfg.h2_causal - cfg.h2_poly - cfg.c2)
        y = np.zeros_like(self.poly_sum)
        truth = []
        for k in range(cfg.n_pheno):
            parts = (
                self.causal_sum[:, k],
                self.poly_sum[:, k],
                eff.family_effect[:, k],
                eff.noise[:, k],
            )
            factors = []
            for part, share in zip(parts, shares, strict=True):
                centred = part - part.mean()
                var = centred.var()
                factor = math.sqrt(share / var) if var > 0 and share > 0 else 0.0
                factors.append(factor)
                y[:, k] += factor * centred
            for r, j in enumerate(eff.causal[k]):
                sd = self.causal_sd[k, r]
                b_std = eff.beta[k, r] * factors[0] if sd > 0 else 0.0
                truth.append(
                    {
                        "PHENO": f"pheno{k + 1}",
                        "CHR": int(lay.chrom[j]),
                        "SNP": snp_id(lay.chrom[j], lay.bp[j]),
                        "BP": int(lay.bp[j]),
                        "A1": str(lay.a1[j]),
                        "BETA": b_std / sd if sd > 0 else 0.0,
                        "BETA_STD": b_std,
                        "FREQ": self.causal_freq[k, r],
                    }
                )
        return y, truth


# ----------------------------------------------------------------------------- files


def write_fam(path: Path, ped: Pedigree) -> None:
    with open(path, "w") as handle:
        for row in zip(ped.fid, ped.iid, ped.father, ped.mother, ped.sex, strict=True):
            handle.write(" ".join(map(str, row)) + " -9\n")


def write_bim_rows(handle, lay: Layout, lo: int, hi: int) -> None:
    lines = [
        f"{c}\t{snp_id(c, b)}\t{b / 1e6:.6f}\t{b}\t{a1}\t{a2}\n"
        for c, b, a1, a2 in zip(
            lay.chrom[lo:hi], lay.bp[lo:hi], lay.a1[lo:hi], lay.a2[lo:hi], strict=True
        )
    ]
    handle.write("".join(lines))


def write_pheno(path: Path, ped: Pedigree, y: np.ndarray) -> None:
    names = [f"pheno{k + 1}" for k in range(y.shape[1])]
    with open(path, "w") as handle:
        handle.write("\t".join(["FID", "IID", *names]) + "\n")
        for r in range(len(ped.iid)):
            values = "\t".join(f"{v:.8g}" for v in y[r])
            handle.write(f"{ped.fid[r]}\t{ped.iid[r]}\t{values}\n")


def write_truth(path: Path, truth: list[dict], cfg: ScaleConfig) -> None:
    columns = ["PHENO", "CHR", "SNP", "BP", "A1", "BETA", "BETA_STD", "FREQ"]
    with open(path, "w") as handle:
        handle.write(f"## source=bench/scale_data.py seed={cfg.seed}\n")
        handle.write(f"## h2_causal={cfg.h2_causal} h2_poly={cfg.h2_poly} c2={cfg.c2}\n")
        handle.write("\t".join(columns) + "\n")
        for row in truth:
            handle.write(
                "\t".join(
                    f"{row[c]:.8g}" if isinstance(row[c], float) else str(row[c]) for c in columns
                )
                + "\n"
            )


def config_dict(cfg: ScaleConfig) -> dict:
    out = asdict(cfg)
    out["maf_beta"] = list(cfg.maf_beta)
    return out


def read_summary(prefix: Path | str) -> dict | None:
    """PREFIX.json of a complete set, or None."""
    path = Path(f"{prefix}.json")
    return json.loads(path.read_text()) if path.exists() else None


def write_plink_set(
    design: Design,
    prefix: Path | str,
    block_snps: int = 2048,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write PREFIX.{bed,bim,fam,pheno,truth.tsv} and, last, PREFIX.json; return the summary."""
    cfg, ped, lay = design.config, design.pedigree, design.layout
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.json").unlink(missing_ok=True)  # the set is incomplete until rewritten
    start = time.perf_counter()
    write_fam(Path(f"{prefix}.fam"), ped)
    acc = PhenotypeAccumulator(design)
    n_missing = 0
    a1_count = np.zeros(cfg.n_snps)
    last = start
    bed_part, bim_part = Path(f"{prefix}.bed.part"), Path(f"{prefix}.bim.part")
    with open(bed_part, "wb") as bed, open(bim_part, "w") as bim:
        bed.write(BED_MAGIC)
        for block in simulate_blocks(design, block_snps):
            block.packed.tofile(bed)
            write_bim_rows(bim, lay, block.start, block.stop)
            acc.add(block)
            n_missing += int(block.missing.sum())
            a1_count[block.start : block.stop] = block.genotypes.sum(axis=1, dtype=np.int64)
            now = time.perf_counter()
            if progress and (now - last > 10 or block.stop == cfg.n_snps):
                last = now
                done = block.stop / cfg.n_snps
                progress(
                    f"chr {block.chrom}: {block.stop:,}/{cfg.n_snps:,} SNPs ({100 * done:.0f}%), "
                    f"{now - start:.1f} s, about {(now - start) * (1 / done - 1):.0f} s left"
                )
    bed_part.replace(f"{prefix}.bed")
    bim_part.replace(f"{prefix}.bim")
    y, truth = acc.finish()
    write_pheno(Path(f"{prefix}.pheno"), ped, y)
    write_truth(Path(f"{prefix}.truth.tsv"), truth, cfg)
    seconds = time.perf_counter() - start
    freq = a1_count / (2 * ped.n_samples)
    summary = {
        "format_version": FORMAT_VERSION,
        "config": config_dict(cfg),
        "block_snps": block_snps,
        "threads": get_num_threads(),
        "seconds": round(seconds, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bed_bytes": Path(f"{prefix}.bed").stat().st_size,
        "n_founders": len(ped.founder_population),
        "n_families": int(len(np.unique(ped.family[ped.family >= 0]))),
        "n_missing_calls": n_missing,
        "missing_share": n_missing / (ped.n_samples * cfg.n_snps),
        "n_monomorphic": int(np.sum((a1_count == 0) | (a1_count == 2 * ped.n_samples))),
        "maf_below_0.01": int(np.sum(np.minimum(freq, 1 - freq) < 0.01)),
        "files": [f"{prefix.name}.{ext}" for ext in ("bed", "bim", "fam", "pheno", "truth.tsv")],
    }
    Path(f"{prefix}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


# ----------------------------------------------------------------------------- validation


def relationship_pairs(ped: Pedigree) -> dict[str, np.ndarray]:
    """(m, 2) index pairs by expected relatedness class, within families."""
    index = {name: i for i, name in enumerate(ped.iid)}
    po, fs, hs, spouses = [], [], [], []
    kids_of: dict[tuple[str, str], list[int]] = {}
    for i in range(ped.n_samples):
        if ped.father[i] != "0":
            dad, mum = index[ped.father[i]], index[ped.mother[i]]
            po += [(dad, i), (mum, i)]
            kids_of.setdefault((ped.father[i], ped.mother[i]), []).append(i)
    by_father: dict[str, list[tuple[str, int]]] = {}
    for (dad, mum), kids in kids_of.items():
        fs += [(a, b) for x, a in enumerate(kids) for b in kids[x + 1 :]]
        by_father.setdefault(dad, []).append((mum, kids))
    for families in by_father.values():
        for x, (mum_a, kids_a) in enumerate(families):
            for mum_b, kids_b in families[x + 1 :]:
                hs += [(a, b) for a in kids_a for b in kids_b]
                spouses.append((index[mum_a], index[mum_b]))
    return {
        name: np.array(pairs, dtype=np.int64).reshape(-1, 2)
        for name, pairs in (
            ("parent-offspring", po),
            ("full sibs", fs),
            ("half sibs", hs),
            ("co-mothers", spouses),
        )
    }


EXPECTED_RELATEDNESS = {
    "parent-offspring": 0.5,
    "full sibs": 0.5,
    "half sibs": 0.25,
    "co-mothers": 0.0,
    "unrelated, same population": 0.0,
    "unrelated, other population": 0.0,
}


def relatedness_by_class(K: np.ndarray, ped: Pedigree, seed: int = 0) -> dict[str, dict]:
    """Mean and sd of K over the pairs of each relationship class (2φ expected)."""
    out = {}
    for name, pairs in relationship_pairs(ped).items():
        if len(pairs):
            v = K[pairs[:, 0], pairs[:, 1]]
            out[name] = {"pairs": len(v), "mean": float(v.mean()), "sd": float(v.std())}
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, ped.n_samples, size=(2, 20000))
    keep = (ped.family[i] != ped.family[j]) | (ped.family[i] < 0)
    keep &= i != j
    for name, same in (
        ("unrelated, same population", True),
        ("unrelated, other population", False),
    ):
        sel = keep & ((ped.population[i] == ped.population[j]) == same)
        if sel.any():
            v = K[i[sel], j[sel]]
            out[name] = {"pairs": int(sel.sum()), "mean": float(v.mean()), "sd": float(v.std())}
    for name in out:
        out[name]["expected"] = EXPECTED_RELATEDNESS[name]
    return out


def r2_by_distance(G: np.ndarray, chrom: np.ndarray, lags=(1, 2, 5, 10, 20, 50, 100, 200)) -> dict:
    """Mean and median r² between SNP j and j + lag on the same chromosome (G (n, p) float32,
    NaN = missing, mean-imputed); monomorphic SNPs are left out."""
    mean = np.nanmean(G, axis=0)
    X = np.where(np.isnan(G), mean, G) - mean
    sd = X.std(axis=0)
    ok = sd > 0
    X[:, ok] /= sd[ok]
    out = {}
    for lag in lags:
        if lag >= X.shape[1]:
            break
        a = np.arange(X.shape[1] - lag)
        a = a[(chrom[a] == chrom[a + lag]) & ok[a] & ok[a + lag]]
        r2 = (
            np.concatenate(
                [
                    np.einsum("ij,ij->j", X[:, a[s : s + 4096]], X[:, a[s : s + 4096] + lag]) ** 2
                    for s in range(0, len(a), 4096)
                ]
            )
            / X.shape[0] ** 2
        )
        out[str(lag)] = {
            "pairs": len(r2),
            "mean_r2": float(np.mean(r2)),
            "median_r2": float(np.median(r2)),
        }
    return out


def validate(design: Design, prefix: Path | str, max_snps: int = 50_000) -> dict:
    """Read the set back: bed-reader against the generator (first blocks), plink2 --freq
    against the expected frequencies, r² by distance, and K by relationship class from
    `lmmlasso kinship` (this repository's, via ``python -m lmmlasso_cli``). For small sets."""
    import subprocess

    from bed_reader import open_bed

    prefix = Path(prefix)
    cfg, ped, lay = design.config, design.pedigree, design.layout
    p_check = min(cfg.n_snps, max_snps)
    out: dict = {"n_snps_checked": p_check}
    with open_bed(f"{prefix}.bed", count_A1=True, num_threads=1) as bed:
        G = bed.read(index=np.s_[:, :p_check], dtype="float32")
        out["bed_reader_iid_match"] = bool(np.array_equal(bed.iid, ped.iid))
        out["bed_reader_sid_match"] = bool(list(bed.sid[:p_check]) == lay.snp_ids(0, p_check))
    same = True
    for block in simulate_blocks(design):
        if block.start >= p_check:
            break
        hi = min(block.stop, p_check)
        want = block.calls()[:, : hi - block.start]
        same &= bool(np.array_equal(G[:, block.start : hi], want, equal_nan=True))
    out["bed_reader_matches_generator"] = same
    work = prefix.parent / f"{prefix.name}.validate"
    work.mkdir(exist_ok=True)
    freq_out = work / "freq"
    proc = subprocess.run(
        [
            "/usr/bin/plink2",
            "--bfile",
            str(prefix),
            "--freq",
            "--threads",
            "2",
            "--out",
            str(freq_out),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        import pandas as pd

        afreq = pd.read_csv(f"{freq_out}.afreq", sep="\t")
        expected = design.expected_freq()
        alt = afreq["ALT_FREQS"].to_numpy()
        n_obs = afreq["OBS_CT"].to_numpy()
        same_allele = bool((afreq["ALT"].to_numpy() == lay.a1).all())
        # binomial sd of a sample frequency (ignores relatedness, which inflates it)
        z = (alt - expected) / np.sqrt(expected * (1 - expected) / n_obs)
        out["plink2_freq"] = {
            "alt_is_a1": same_allele,
            "n_snps": len(alt),
            "corr_with_expected": float(np.corrcoef(alt, expected)[0, 1]),
            "mean_abs_diff": float(np.mean(np.abs(alt - expected))),
            "mean_diff": float(np.mean(alt - expected)),
            "sd_z": float(np.std(z)),
            "corr_with_ancestral": float(np.corrcoef(alt, lay.freq)[0, 1]),
            "mean_ancestral_maf": float(lay.freq.mean()),
            "mean_sample_freq": float(alt.mean()),
        }
    else:
        out["plink2_freq"] = {"error": proc.stderr.strip()[-500:]}
    out["r2_by_lag_snps"] = r2_by_distance(G, lay.chrom[:p_check])
    del G
    kin_out = work / "kin"
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lmmlasso_cli",
            "kinship",
            "--bfile",
            str(prefix),
            "--out",
            str(kin_out),
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode == 0:
        with np.load(f"{kin_out}.kinship.npz") as npz:
            K = npz["K"]
        out["kinship_by_class"] = relatedness_by_class(K, ped)
    else:
        out["kinship_by_class"] = {"error": proc.stderr.strip()[-500:]}
    return out


# ----------------------------------------------------------------------------- CLI


# flag -> (ScaleConfig field, help)
OPTIONS = {
    "n": ("n_samples", "individuals"),
    "p": ("n_snps", "SNPs"),
    "seed": ("seed", "seed of every random number"),
    "chromosomes": ("n_chromosomes", "autosomes 1..C (GRCh37 lengths)"),
    "missing": ("missing", "mean missing-call rate"),
    "populations": ("n_populations", "populations (Balding-Nichols)"),
    "fst": ("fst", "F of each population against the ancestral frequencies"),
    "family-fraction": ("family_fraction", "share of individuals in families of six"),
    "maf-beta": ("maf_beta", "ancestral MAF = 0.01 + 0.49·Beta(A, B)"),
    "ld-switch": ("ld_switch", "haplotype switch rate per mean SNP gap"),
    "arc-drift": ("arc_drift", "sd of the arc offset's step per SNP"),
    "n-pheno": ("n_pheno", "phenotypes pheno1, pheno2, ..."),
    "n-causal": ("n_causal", "causal SNPs per phenotype"),
    "h2-causal": ("h2_causal", "variance share of the causal SNPs"),
    "h2-poly": ("h2_poly", "variance share of the polygenic background (all SNPs)"),
    "c2": ("c2", "variance share of the family effect"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = {f.name: f.default for f in fields(ScaleConfig)}
    for flag, (name, text) in OPTIONS.items():
        default = defaults[name]
        if default is MISSING:
            parser.add_argument(f"--{flag}", type=int, required=True, help=text)
        elif isinstance(default, tuple):
            kind = type(default[0])
            parser.add_argument(
                f"--{flag}",
                type=kind,
                nargs=len(default),
                default=default,
                metavar=("A", "B"),
                help=f"{text} [default: {default}]",
            )
        else:
            parser.add_argument(
                f"--{flag}",
                type=type(default),
                default=default,
                help=f"{text} [default: {default}]",
            )
    parser.add_argument("--out", type=Path, required=True, help="output prefix DIR/prefix")
    parser.add_argument(
        "--block-snps",
        type=int,
        default=2048,
        help="SNPs per block (memory only; the files do not depend on it)",
    )
    parser.add_argument("--threads", type=int, default=None, help="numba threads (all cores)")
    parser.add_argument(
        "--validate",
        action="store_true",
        help="then read the set back and check it (small sets); writes PREFIX.validation.json",
    )
    args = parser.parse_args(argv)
    values = {name: getattr(args, flag.replace("-", "_")) for flag, (name, _) in OPTIONS.items()}
    cfg = ScaleConfig(**values | {"maf_beta": tuple(values["maf_beta"])})
    try:
        cfg.check()
    except ValueError as err:
        parser.error(str(err))
    if args.threads:
        set_num_threads(args.threads)

    def say(text: str) -> None:
        print(f"scale_data: {text}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    design = make_design(cfg)
    say(
        f"design of {cfg.n_samples:,} individuals × {cfg.n_snps:,} SNPs in "
        f"{time.perf_counter() - start:.1f} s"
    )
    summary = write_plink_set(design, args.out, args.block_snps, say)
    say(
        f"wrote {args.out}.bed ({summary['bed_bytes'] / 1e9:.2f} GB) and the rest in "
        f"{time.perf_counter() - start:.1f} s"
    )
    if args.validate:
        report = validate(design, args.out)
        Path(f"{args.out}.validation.json").write_text(json.dumps(report, indent=2) + "\n")
        say(f"validation in {args.out}.validation.json")
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
