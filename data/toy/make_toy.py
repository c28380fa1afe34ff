"""Simulate the seeded toy GWAS data set of lmmlasso-cli (data/toy/).

Run ``python data/toy/make_toy.py`` to rewrite every file in this folder, or add ``--out DIR`` to
write elsewhere. The same seed gives byte-identical files.

Model, in order (every parameter is a named constant below):

1. SNP map: N_CHROMS chromosomes x SNPS_PER_CHROM SNPs, cut into LD blocks.
2. Allele frequencies: ancestral A1 frequencies p ~ Beta(ANCESTRAL_BETA) with a minimum MAF,
   then one frequency per subpopulation from the Balding-Nichols model,
   f ~ Beta(p (1 - FST) / FST, (1 - p) (1 - FST) / FST), ascertained polymorphic in the pooled
   sample. N_MONOMORPHIC SNPs are then fixed in every subpopulation.
3. Haplotypes: within a block a latent Gaussian AR(1), z_j = rho z_(j-1) + sqrt(1 - rho^2) e_j,
   and allele A1 where z_j < Phi^-1(f_j); blocks are independent.
4. Pedigrees: founders carry two fresh haplotypes; children get one gamete per parent, with
   Poisson crossovers at block boundaries.
5. Phenotypes: causal SNPs + polygenic background + subpopulation shift + sex + age, each scaled
   to its target share of the training variance, plus Gaussian noise. The held-out set uses the
   same effects, centring constants and noise variance.
6. Missing calls are masked after the phenotypes are made from the true genotypes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from bed_reader import open_bed, to_bed
from scipy.stats import norm

SEED = 20240917

# SNP map
N_CHROMS = 5
SNPS_PER_CHROM = 2_000
BLOCK_SIZE_MIN, BLOCK_SIZE_MAX = 10, 50
LD_RHO_MIN, LD_RHO_MAX = 0.90, 0.95
MEAN_BP_GAP = 3_000
FIRST_BP_MAX = 500_000
RSID_MIN, RSID_MAX = 10_000, 99_999_999
NUCLEOTIDES = np.array(list("ACGT"))

# allele frequencies
ANCESTRAL_BETA = (0.8, 0.8)
MIN_ANCESTRAL_MAF = 0.02
FST = 0.07
MIN_POOLED_MAF = 0.01
N_MONOMORPHIC = 10

# cohort, one entry per subpopulation
POP_NAMES = ("pop1", "pop2", "pop3")
TRAIN_SIZES = (250, 200, 150)
NEW_SIZES = (42, 33, 25)
TRAIN_SIB_PAIRS = (4, 3, 2)  # two training sibs
TRAIN_PARENT_CHILD_PAIRS = (7, 5, 4)  # training parent and training child
NEW_SIBS_OF_TRAIN_PAIRS = (6, 5, 4)  # two training sibs and one held-out sib
NEW_CHILDREN_OF_TRAIN_COUPLES = (7, 6, 5)  # two unrelated training parents, held-out child
CROSSOVERS_PER_CHROM = 1.0

# covariates and missingness
FEMALE_FRACTION = 0.5
AGE_MEAN, AGE_SD, AGE_MIN, AGE_MAX = 55.0, 10.0, 20.0, 85.0
MISSING_CALL_RATE = 0.001

# phenotypes
N_POLYGENIC = 1_000
MIN_CAUSAL_MAF = 0.05
MIN_POLYGENIC_MAF = 0.01
CAUSAL_SIZE_MIN, CAUSAL_SIZE_MAX = 0.5, 1.5  # relative |standardized effect|, before scaling
COMPONENTS = ("causal", "polygenic", "population", "sex", "age")
PHENO_FORMAT = "%.6f"
MISSING_TEXT = "NA"

TRAIN_NAME, NEW_NAME = "toy", "new"
STAGES = ("map", "freqs", "cohort", "covariates", "order", "missing", "traits")


@dataclass(frozen=True)
class TraitSpec:
    """Target variance shares (training set, total 1) and output scale of one phenotype.

    The written value is ``intercept + scale * (sum of components + noise)``; binary traits
    threshold that sum at the training quantile ``1 - prevalence``.
    """

    name: str
    causal_per_chrom: int
    var_causal: float
    var_polygenic: float
    var_population: float
    var_sex: float
    var_age: float
    intercept: float
    scale: float
    missing_fraction: float
    prevalence: float | None = None

    @property
    def targets(self) -> np.ndarray:
        """Target variances in the order of COMPONENTS."""
        return np.array(
            [self.var_causal, self.var_polygenic, self.var_population, self.var_sex, self.var_age]
        )

    @property
    def var_noise(self) -> float:
        return 1.0 - float(self.targets.sum())


TRAITS = (
    TraitSpec(
        name="q1",
        causal_per_chrom=2,
        var_causal=0.35,
        var_polygenic=0.30,
        var_population=0.10,
        var_sex=0.03,
        var_age=0.0,
        intercept=0.0,
        scale=1.0,
        missing_fraction=0.0,
    ),
    TraitSpec(
        name="q2",
        causal_per_chrom=1,
        var_causal=0.25,
        var_polygenic=0.20,
        var_population=0.05,
        var_sex=0.0,
        var_age=0.05,
        intercept=10.0,
        scale=2.0,
        missing_fraction=0.05,
    ),
    TraitSpec(
        name="b1",
        causal_per_chrom=2,
        var_causal=0.30,
        var_polygenic=0.25,
        var_population=0.10,
        var_sex=0.05,
        var_age=0.0,
        intercept=0.0,
        scale=1.0,
        missing_fraction=0.0,
        prevalence=0.30,
    ),
)


@dataclass(frozen=True)
class SnpMap:
    """SNP annotation; A1 (allele_1) is the counted allele."""

    chrom: np.ndarray  # (n_snps,) int, 1..N_CHROMS
    bp: np.ndarray  # (n_snps,) int64, increasing within a chromosome
    sid: np.ndarray  # (n_snps,) str, unique rs IDs
    allele_1: np.ndarray  # (n_snps,) str
    allele_2: np.ndarray  # (n_snps,) str
    block: np.ndarray  # (n_snps,) int, global LD block index
    block_chrom: np.ndarray  # (n_blocks,) int, chromosome of each block
    rho: np.ndarray  # (n_snps,) AR(1) coefficient to the previous SNP, 0 at block starts

    @property
    def n_snps(self) -> int:
        return len(self.sid)

    @property
    def n_blocks(self) -> int:
        return len(self.block_chrom)


@dataclass(frozen=True)
class Cohort:
    """Everyone simulated, before the split into files. One row per person."""

    haplotypes: np.ndarray  # (n_people, 2, n_snps) uint8, 1 = A1
    in_training: np.ndarray  # (n_people,) bool
    pop: np.ndarray  # (n_people,) int, index into POP_NAMES
    family: np.ndarray  # (n_people,) int, internal family key
    parents: np.ndarray  # (n_people, 2) int, indices of parents in the data, -1 if absent


@dataclass(frozen=True)
class SampleSet:
    """One written PLINK set (training "toy" or held-out "new"), rows in file order."""

    name: str
    fid: np.ndarray  # (n_samples,) str
    iid: np.ndarray  # (n_samples,) str
    father: np.ndarray  # (n_samples,) str, "0" if not in the data
    mother: np.ndarray  # (n_samples,) str
    sex: np.ndarray  # (n_samples,) int, 1 male, 2 female
    age: np.ndarray  # (n_samples,) float, years, one decimal
    pop: np.ndarray  # (n_samples,) int
    genotypes: np.ndarray  # (n_samples, n_snps) uint8, true A1 counts
    observed: np.ndarray  # (n_samples, n_snps) float32, A1 counts with NaN for missing calls

    @property
    def n_samples(self) -> int:
        return len(self.iid)


@dataclass(frozen=True)
class SnpStats:
    """Training-set summaries of the observed genotypes (missing calls mean-imputed)."""

    mean: np.ndarray  # (n_snps,) mean A1 count
    sd: np.ndarray  # (n_snps,) sd after mean imputation, ddof=0
    maf: np.ndarray  # (n_snps,)


@dataclass(frozen=True)
class Trait:
    """One simulated phenotype in both sets."""

    spec: TraitSpec
    causal: np.ndarray  # (n_causal,) SNP indices
    beta: np.ndarray  # (n_causal,) effect per A1 copy, output units (liability for binary)
    beta_std: np.ndarray  # (n_causal,) effect per training sd of the SNP
    effect_population: np.ndarray  # (len(POP_NAMES),) shifts, output units
    effect_female: float  # output units
    effect_age: float  # output units per year
    fractions: np.ndarray  # (len(COMPONENTS) + 1,) realized shares of training variance, + noise
    train_values: np.ndarray  # (n_train,) float, NaN for missing
    new_values: np.ndarray  # (n_new,)
    threshold: float | None  # liability threshold for binary traits


# ---------------------------------------------------------------- genotypes


def simulate_snp_map(rng: np.random.Generator) -> SnpMap:
    """Blocks of 10-50 SNPs, positions a few kb apart, unique rs IDs, A1 != A2."""
    chrom, bp, block, rho, block_chrom = [], [], [], [], []
    for c in range(1, N_CHROMS + 1):
        sizes = _block_sizes(rng, SNPS_PER_CHROM)
        first = len(block_chrom)
        block_chrom.extend([c] * len(sizes))
        block.append(np.repeat(np.arange(first, first + len(sizes)), sizes))
        block_rho = rng.uniform(LD_RHO_MIN, LD_RHO_MAX, size=len(sizes))
        snp_rho = np.repeat(block_rho, sizes)
        snp_rho[np.cumsum(sizes) - sizes] = 0.0
        rho.append(snp_rho)
        gaps = 1 + np.floor(rng.exponential(MEAN_BP_GAP, size=SNPS_PER_CHROM)).astype(np.int64)
        bp.append(rng.integers(1, FIRST_BP_MAX) + np.cumsum(gaps))
        chrom.append(np.full(SNPS_PER_CHROM, c))
    n_snps = N_CHROMS * SNPS_PER_CHROM
    rs_numbers = RSID_MIN + rng.choice(RSID_MAX - RSID_MIN, size=n_snps, replace=False)
    a1 = rng.integers(0, 4, size=n_snps)
    a2 = (a1 + rng.integers(1, 4, size=n_snps)) % 4
    return SnpMap(
        chrom=np.concatenate(chrom),
        bp=np.concatenate(bp),
        sid=np.array([f"rs{k}" for k in rs_numbers]),
        allele_1=NUCLEOTIDES[a1],
        allele_2=NUCLEOTIDES[a2],
        block=np.concatenate(block),
        block_chrom=np.array(block_chrom),
        rho=np.concatenate(rho),
    )


def _block_sizes(rng: np.random.Generator, n_snps: int) -> np.ndarray:
    """Uniform block sizes that add up to n_snps; a short remainder joins the last block."""
    sizes = []
    while sum(sizes) < n_snps:
        sizes.append(int(rng.integers(BLOCK_SIZE_MIN, BLOCK_SIZE_MAX + 1)))
    sizes[-1] -= sum(sizes) - n_snps
    if sizes[-1] < BLOCK_SIZE_MIN:
        sizes[-2] += sizes.pop()
    return np.array(sizes)


def draw_ancestral_freqs(rng: np.random.Generator, n_snps: int) -> np.ndarray:
    """U-shaped Beta spectrum of A1 frequencies, redrawn until MAF >= MIN_ANCESTRAL_MAF."""
    freqs = rng.beta(*ANCESTRAL_BETA, size=n_snps)
    while True:
        bad = np.minimum(freqs, 1 - freqs) < MIN_ANCESTRAL_MAF
        if not bad.any():
            return freqs
        freqs[bad] = rng.beta(*ANCESTRAL_BETA, size=int(bad.sum()))


def draw_subpop_freqs(rng: np.random.Generator, ancestral: np.ndarray) -> np.ndarray:
    """Balding-Nichols A1 frequencies, (len(POP_NAMES), n_snps), with N_MONOMORPHIC fixed SNPs.

    f ~ Beta(p (1 - FST) / FST, (1 - p) (1 - FST) / FST) per subpopulation. As on a genotyping
    array, SNPs are ascertained polymorphic: a SNP whose pooled MAF (subpopulations weighted by
    TRAIN_SIZES) is below MIN_POOLED_MAF is redrawn. Then half of the fixed SNPs get only A2
    (all genotypes 0) and half only A1 (all genotypes 2) in every subpopulation.
    """
    a = ancestral * (1 - FST) / FST
    b = (1 - ancestral) * (1 - FST) / FST
    weights = np.array(TRAIN_SIZES) / sum(TRAIN_SIZES)
    freqs = rng.beta(a, b, size=(len(POP_NAMES), len(ancestral)))
    while True:
        pooled = weights @ freqs
        rare = np.flatnonzero(np.minimum(pooled, 1 - pooled) < MIN_POOLED_MAF)
        if len(rare) == 0:
            break
        freqs[:, rare] = rng.beta(a[rare], b[rare], size=(len(POP_NAMES), len(rare)))
    fixed = rng.choice(len(ancestral), size=N_MONOMORPHIC, replace=False)
    freqs[:, fixed] = (np.arange(N_MONOMORPHIC) % 2)[None, :].astype(float)
    return freqs


def simulate_haplotypes(
    rng: np.random.Generator, n_haplotypes: int, freqs: np.ndarray, snp_map: SnpMap
) -> np.ndarray:
    """Thresholded AR(1) haplotypes, (n_haplotypes, n_snps) uint8 with P(A1) = freqs."""
    noise = rng.standard_normal((n_haplotypes, snp_map.n_snps))
    latent = np.empty_like(noise)
    latent[:, 0] = noise[:, 0]
    innovation_sd = np.sqrt(1 - snp_map.rho**2)
    for j in range(1, snp_map.n_snps):
        latent[:, j] = snp_map.rho[j] * latent[:, j - 1] + innovation_sd[j] * noise[:, j]
    with np.errstate(divide="ignore"):
        cutoffs = norm.ppf(freqs)
    return (latent < cutoffs[None, :]).astype(np.uint8)


def transmit(rng: np.random.Generator, parent: np.ndarray, snp_map: SnpMap) -> np.ndarray:
    """One gamete from a parent's (2, n_snps) haplotypes.

    Each chromosome starts on a random strand and switches at Poisson(CROSSOVERS_PER_CHROM)
    crossovers placed at random block boundaries.
    """
    strand = np.empty(snp_map.n_blocks, dtype=np.int64)
    for c in range(1, N_CHROMS + 1):
        blocks = np.flatnonzero(snp_map.block_chrom == c)
        switches = np.zeros(len(blocks), dtype=np.int64)
        n_crossovers = rng.poisson(CROSSOVERS_PER_CHROM)
        np.add.at(switches, rng.integers(1, len(blocks), size=n_crossovers), 1)
        strand[blocks] = (rng.integers(2) + np.cumsum(switches)) % 2
    return np.where(strand[snp_map.block] == 0, parent[0], parent[1])


class _CohortBuilder:
    """Collects people family by family; `finish` freezes them into a Cohort."""

    def __init__(self, rng: np.random.Generator, snp_map: SnpMap):
        self.rng, self.snp_map = rng, snp_map
        self.haplotypes, self.in_training, self.pop, self.family, self.parents = [], [], [], [], []
        self.n_families = 0

    def add_person(
        self, haps, training: bool, pop: int, family: int, parents: tuple[int, int] = (-1, -1)
    ) -> int:
        self.haplotypes.append(haps)
        self.in_training.append(training)
        self.pop.append(pop)
        self.family.append(family)
        self.parents.append(parents)
        return len(self.pop) - 1

    def new_family(self) -> int:
        self.n_families += 1
        return self.n_families - 1

    def child(self, parent_a: np.ndarray, parent_b: np.ndarray) -> np.ndarray:
        """Haplotypes (2, n_snps) of a child: one gamete from each parent."""
        gametes = [transmit(self.rng, parent, self.snp_map) for parent in (parent_a, parent_b)]
        return np.stack(gametes)

    def add_sibship(self, founders, pop: int, training_flags: tuple[bool, ...]) -> None:
        """Full siblings, one per flag, of two parents who are not in the data."""
        family = self.new_family()
        parent_a, parent_b = next(founders), next(founders)
        for training in training_flags:
            self.add_person(self.child(parent_a, parent_b), training, pop, family)

    def add_parent_child(self, founders, pop: int) -> None:
        """A training parent and a training child; the other parent is not in the data."""
        family = self.new_family()
        parent_haps, mate = next(founders), next(founders)
        parent = self.add_person(parent_haps, True, pop, family)
        self.add_person(self.child(parent_haps, mate), True, pop, family, (parent, -1))

    def add_couple_child(self, founders, pop: int) -> None:
        """Two unrelated training parents and their held-out child."""
        family = self.new_family()
        haps_a, haps_b = next(founders), next(founders)
        parents = (
            self.add_person(haps_a, True, pop, family),
            self.add_person(haps_b, True, pop, family),
        )
        self.add_person(self.child(haps_a, haps_b), False, pop, family, parents)

    def add_unrelated(self, founders, pop: int, training: bool) -> None:
        self.add_person(next(founders), training, pop, self.new_family())

    def finish(self) -> Cohort:
        return Cohort(
            haplotypes=np.stack(self.haplotypes),
            in_training=np.array(self.in_training),
            pop=np.array(self.pop),
            family=np.array(self.family),
            parents=np.array(self.parents),
        )


def simulate_cohort(rng: np.random.Generator, pop_freqs: np.ndarray, snp_map: SnpMap) -> Cohort:
    """Families and unrelated people of each subpopulation; see the cohort constants."""
    builder = _CohortBuilder(rng, snp_map)
    for pop in range(len(POP_NAMES)):
        n_sibs, n_parent_child = TRAIN_SIB_PAIRS[pop], TRAIN_PARENT_CHILD_PAIRS[pop]
        n_sib_trios, n_couples = NEW_SIBS_OF_TRAIN_PAIRS[pop], NEW_CHILDREN_OF_TRAIN_COUPLES[pop]
        n_families = n_sibs + n_parent_child + n_sib_trios + n_couples
        n_single_train = TRAIN_SIZES[pop] - 2 * n_families
        n_single_new = NEW_SIZES[pop] - n_sib_trios - n_couples
        n_founders = n_single_train + n_single_new + 2 * n_families
        haps = simulate_haplotypes(rng, 2 * n_founders, pop_freqs[pop], snp_map)
        founders = iter(haps.reshape(n_founders, 2, snp_map.n_snps))
        for _ in range(n_sibs):
            builder.add_sibship(founders, pop, (True, True))
        for _ in range(n_parent_child):
            builder.add_parent_child(founders, pop)
        for _ in range(n_sib_trios):
            builder.add_sibship(founders, pop, (True, True, False))
        for _ in range(n_couples):
            builder.add_couple_child(founders, pop)
        for _ in range(n_single_train):
            builder.add_unrelated(founders, pop, training=True)
        for _ in range(n_single_new):
            builder.add_unrelated(founders, pop, training=False)
    return builder.finish()


def draw_covariates(rng: np.random.Generator, cohort: Cohort) -> tuple[np.ndarray, np.ndarray]:
    """Sex coded 1 (male) / 2 (female) and age in years rounded to one decimal.

    The two parents of a child have opposite sexes.
    """
    n_people = len(cohort.pop)
    sex = 1 + (rng.random(n_people) < FEMALE_FRACTION).astype(np.int64)
    couples = cohort.parents[(cohort.parents >= 0).all(axis=1)]
    sex[couples[:, 1]] = 3 - sex[couples[:, 0]]
    age = np.round(np.clip(rng.normal(AGE_MEAN, AGE_SD, n_people), AGE_MIN, AGE_MAX), 1)
    return sex, age


def split_samples(
    order_rng: np.random.Generator,
    missing_rng: np.random.Generator,
    cohort: Cohort,
    sex: np.ndarray,
    age: np.ndarray,
) -> tuple[SampleSet, SampleSet]:
    """Shuffle each set, name everyone, and mask MISSING_CALL_RATE of the calls.

    IIDs run ind0001.. through the training file then the held-out file. FIDs are numbered by
    first appearance in that order, so relatives share an FID across the two files. A parent
    present in the data fills the child's father or mother column according to the parent's sex.
    """
    train = order_rng.permutation(np.flatnonzero(cohort.in_training))
    new = order_rng.permutation(np.flatnonzero(~cohort.in_training))
    order = np.concatenate([train, new])
    iid = np.empty(len(order), dtype=object)
    iid[order] = [f"ind{k + 1:04d}" for k in range(len(order))]
    family_rank = {}
    for person in order:
        family_rank.setdefault(cohort.family[person], len(family_rank))
    fid = np.array([f"fam{family_rank[f] + 1:04d}" for f in cohort.family], dtype=object)
    father = np.full(len(order), "0", dtype=object)
    mother = np.full(len(order), "0", dtype=object)
    for child, slot in zip(*np.nonzero(cohort.parents >= 0), strict=True):
        parent = cohort.parents[child, slot]
        if sex[parent] == 1:
            father[child] = iid[parent]
        else:
            mother[child] = iid[parent]
    genotypes = cohort.haplotypes.sum(axis=1, dtype=np.uint8)

    def make(name: str, rows: np.ndarray) -> SampleSet:
        observed = genotypes[rows].astype(np.float32)
        observed[missing_rng.random(observed.shape) < MISSING_CALL_RATE] = np.nan
        return SampleSet(
            name=name,
            fid=fid[rows].astype(str),
            iid=iid[rows].astype(str),
            father=father[rows].astype(str),
            mother=mother[rows].astype(str),
            sex=sex[rows],
            age=age[rows],
            pop=cohort.pop[rows],
            genotypes=genotypes[rows],
            observed=observed,
        )

    return make(TRAIN_NAME, train), make(NEW_NAME, new)


def compute_snp_stats(observed: np.ndarray) -> SnpStats:
    """Mean, sd after mean imputation, and MAF of observed A1 counts."""
    mean = np.nanmean(observed, axis=0, dtype=np.float64)
    imputed = np.where(np.isnan(observed), mean[None, :], observed)
    sd = imputed.std(axis=0)
    maf = np.minimum(mean / 2, 1 - mean / 2)
    return SnpStats(mean=mean, sd=sd, maf=maf)


# ---------------------------------------------------------------- phenotypes


def choose_causal(rng: np.random.Generator, snp_map: SnpMap, stats: SnpStats) -> list[np.ndarray]:
    """Causal SNPs of each trait: causal_per_chrom per chromosome, all in distinct LD blocks."""
    used_blocks: set[int] = set()
    chosen = []
    for spec in TRAITS:
        picks = []
        for c in range(1, N_CHROMS + 1):
            for _ in range(spec.causal_per_chrom):
                ok = (snp_map.chrom == c) & (stats.maf >= MIN_CAUSAL_MAF)
                ok &= ~np.isin(snp_map.block, list(used_blocks))
                snp = int(rng.choice(np.flatnonzero(ok)))
                used_blocks.add(int(snp_map.block[snp]))
                picks.append(snp)
        chosen.append(np.array(picks))
    return chosen


def choose_polygenic(
    rng: np.random.Generator, snp_map: SnpMap, stats: SnpStats, all_causal: np.ndarray
) -> np.ndarray:
    """N_POLYGENIC background SNPs with MAF >= MIN_POLYGENIC_MAF outside every causal block."""
    ok = (stats.maf >= MIN_POLYGENIC_MAF) & ~np.isin(snp_map.block, snp_map.block[all_causal])
    return np.sort(rng.choice(np.flatnonzero(ok), size=N_POLYGENIC, replace=False))


@dataclass(frozen=True)
class RawEffects:
    """Unscaled effects of one trait; `components` gives the columns of COMPONENTS.

    Every column is centred with training constants, so the same effects applied to the
    held-out set give the same model with the same intercept.
    """

    causal: np.ndarray  # (n_causal,) SNP indices
    causal_std: np.ndarray  # (n_causal,) standardized effects
    polygenic: np.ndarray  # (N_POLYGENIC,) SNP indices
    polygenic_std: np.ndarray  # (N_POLYGENIC,) standardized effects
    pop_shift: np.ndarray  # (len(POP_NAMES),)
    train_female: float  # training fraction of females
    train_age: float  # training mean age

    def components(self, samples: SampleSet, stats: SnpStats) -> np.ndarray:
        """(n_samples, len(COMPONENTS)) from the true genotypes."""
        centred = samples.genotypes.astype(np.float64) - stats.mean[None, :]
        causal = centred[:, self.causal] @ (self.causal_std / stats.sd[self.causal])
        polygenic = centred[:, self.polygenic] @ (self.polygenic_std / stats.sd[self.polygenic])
        female = (samples.sex == 2) - self.train_female
        age = samples.age - self.train_age
        return np.column_stack([causal, polygenic, self.pop_shift[samples.pop], female, age])


def draw_raw_effects(
    rng: np.random.Generator,
    causal: np.ndarray,
    polygenic: np.ndarray,
    train: SampleSet,
) -> RawEffects:
    """Causal effects of random sign and size U(CAUSAL_SIZE_MIN, CAUSAL_SIZE_MAX); polygenic
    effects and subpopulation shifts N(0, 1); being female and age have positive effects."""
    signs = rng.choice([-1.0, 1.0], size=len(causal))
    sizes = rng.uniform(CAUSAL_SIZE_MIN, CAUSAL_SIZE_MAX, size=len(causal))
    return RawEffects(
        causal=causal,
        causal_std=signs * sizes,
        polygenic=polygenic,
        polygenic_std=rng.standard_normal(len(polygenic)),
        pop_shift=rng.standard_normal(len(POP_NAMES)),
        train_female=float(np.mean(train.sex == 2)),
        train_age=float(np.mean(train.age)),
    )


def simulate_trait(
    rng: np.random.Generator,
    spec: TraitSpec,
    raw: RawEffects,
    train: SampleSet,
    new: SampleSet,
    stats: SnpStats,
) -> Trait:
    """Scale each component to its target variance in training, add noise, make the values.

    The subpopulation shifts are first made uncorrelated with the genetic value (causal +
    polygenic) in training, so that their share of variance is separable from the SNPs' share.
    Noise is N(0, spec.var_noise) in both sets. Quantitative values are
    ``intercept + scale * total``; binary values are ``total > threshold`` with the threshold
    at the training quantile ``1 - prevalence``.
    """
    genetic_cols = [COMPONENTS.index("causal"), COMPONENTS.index("polygenic")]
    raw_train = raw.components(train, stats)
    factors = np.sqrt(spec.targets / raw_train.var(axis=0))
    genetic_train = raw_train[:, genetic_cols] @ factors[genetic_cols]
    raw = replace(raw, pop_shift=decorrelate_shifts(raw.pop_shift, genetic_train, train.pop))
    raw_train, raw_new = raw.components(train, stats), raw.components(new, stats)
    factors = np.sqrt(spec.targets / raw_train.var(axis=0))
    noise_sd = np.sqrt(spec.var_noise)
    noise_train = noise_sd * rng.standard_normal(train.n_samples)
    noise_new = noise_sd * rng.standard_normal(new.n_samples)
    parts_train = np.column_stack([raw_train * factors, noise_train])
    total_train = parts_train.sum(axis=1)
    total_new = (raw_new * factors).sum(axis=1) + noise_new

    threshold = None
    if spec.prevalence is None:
        values_train = spec.intercept + spec.scale * total_train
        values_new = spec.intercept + spec.scale * total_new
    else:
        threshold = float(np.quantile(total_train, 1 - spec.prevalence))
        values_train = (total_train > threshold).astype(np.float64)
        values_new = (total_new > threshold).astype(np.float64)

    causal_col, pop_col, sex_col, age_col = (
        COMPONENTS.index(name) for name in ("causal", "population", "sex", "age")
    )
    beta_std = spec.scale * factors[causal_col] * raw.causal_std
    return Trait(
        spec=spec,
        causal=raw.causal,
        beta=beta_std / stats.sd[raw.causal],
        beta_std=beta_std,
        effect_population=spec.scale * factors[pop_col] * raw.pop_shift,
        effect_female=spec.scale * float(factors[sex_col]),
        effect_age=spec.scale * float(factors[age_col]),
        fractions=parts_train.var(axis=0) / total_train.var(),
        train_values=_mask_fraction(rng, values_train, spec.missing_fraction),
        new_values=_mask_fraction(rng, values_new, spec.missing_fraction),
        threshold=threshold,
    )


def decorrelate_shifts(shifts: np.ndarray, genetic: np.ndarray, pop: np.ndarray) -> np.ndarray:
    """Project subpopulation shifts so that ``shifts[pop]`` has mean 0 and zero covariance
    with ``genetic`` over the training samples.

    Weighted least-squares residual of ``shifts`` on (1, subpopulation means of ``genetic``),
    with subpopulation sizes as weights.
    """
    counts = np.bincount(pop, minlength=len(shifts)).astype(np.float64)
    means = np.bincount(pop, weights=genetic, minlength=len(shifts)) / counts
    basis = np.column_stack([np.ones(len(shifts)), means])
    weighted = basis.T * counts
    coefs = np.linalg.solve(weighted @ basis, weighted @ shifts)
    return shifts - basis @ coefs


def _mask_fraction(rng: np.random.Generator, values: np.ndarray, fraction: float) -> np.ndarray:
    """Set round(fraction * n) randomly chosen values to NaN."""
    masked = values.copy()
    masked[rng.choice(len(values), size=round(fraction * len(values)), replace=False)] = np.nan
    return masked


@dataclass(frozen=True)
class CausalFit:
    """Ordinary least-squares checks of a trait on its causal SNPs in training."""

    r2: float  # R^2 on an intercept and the observed causal SNPs
    partial_r2: float  # R^2 gained by the causal SNPs over subpopulation indicators


def fit_causal(trait: Trait, train: SampleSet, stats: SnpStats) -> CausalFit:
    """OLS of the written values on the causal SNPs (missing calls mean-imputed).

    The causal SNPs' frequencies differ between subpopulations, so on their own they also tag
    part of the subpopulation differences; ``partial_r2`` removes that.
    """
    keep = ~np.isnan(trait.train_values)
    y = trait.train_values[keep]
    snps = train.observed[:, trait.causal].astype(np.float64)
    snps = np.where(np.isnan(snps), stats.mean[trait.causal][None, :], snps)[keep]
    pops = (train.pop[keep, None] == np.arange(len(POP_NAMES))[None, :]).astype(np.float64)
    intercept = np.ones((len(y), 1))
    return CausalFit(
        r2=_ols_r2(y, np.hstack([intercept, snps])),
        partial_r2=_ols_r2(y, np.hstack([pops, snps])) - _ols_r2(y, pops),
    )


def _ols_r2(y: np.ndarray, design: np.ndarray) -> float:
    coefs, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coefs
    return 1.0 - float(resid @ resid) / float(((y - y.mean()) ** 2).sum())


# ---------------------------------------------------------------- writing


def format_values(values: np.ndarray, binary: bool) -> list[str]:
    """PHENO_FORMAT (or 0/1 for binary traits), MISSING_TEXT for NaN."""
    return [
        MISSING_TEXT if np.isnan(v) else (str(int(v)) if binary else PHENO_FORMAT % v)
        for v in values
    ]


def write_columns(path: Path, header: list[str], columns: list, sep: str = " ") -> None:
    """A text table with a header line; columns are equal-length sequences of strings."""
    lines = [sep.join(header)] + [sep.join(row) for row in zip(*columns, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def write_plink(out: Path, samples: SampleSet, snp_map: SnpMap, fam_pheno: list[str]) -> None:
    """Write <name>.bed/.bim/.fam and check that bed-reader reads the same A1 counts back."""
    bed_path = out / f"{samples.name}.bed"
    properties = {
        "fid": samples.fid,
        "iid": samples.iid,
        "father": samples.father,
        "mother": samples.mother,
        "sex": samples.sex,
        "pheno": fam_pheno,
        "chromosome": snp_map.chrom.astype(str),
        "sid": snp_map.sid,
        "cm_position": np.zeros(snp_map.n_snps),
        "bp_position": snp_map.bp,
        "allele_1": snp_map.allele_1,
        "allele_2": snp_map.allele_2,
    }
    to_bed(bed_path, samples.observed, properties=properties, count_A1=True)
    with open_bed(bed_path, count_A1=True) as bed:
        back = bed.read(dtype=np.float32)
        same_ids = np.array_equal(bed.iid, samples.iid) and np.array_equal(bed.sid, snp_map.sid)
    if not (same_ids and np.array_equal(back, samples.observed, equal_nan=True)):
        raise RuntimeError(f"{bed_path} does not read back as written; delete it and re-run")


def write_sample_tables(out: Path, samples: SampleSet, traits: list[Trait], training: bool) -> None:
    """<name>.pheno, <name>.covar and <name>.pop."""
    ids = [samples.fid, samples.iid]
    pheno_cols = [
        format_values(t.train_values if training else t.new_values, t.spec.prevalence is not None)
        for t in traits
    ]
    write_columns(
        out / f"{samples.name}.pheno",
        ["FID", "IID"] + [t.spec.name for t in traits],
        ids + pheno_cols,
    )
    write_columns(
        out / f"{samples.name}.covar",
        ["FID", "IID", "sex", "age"],
        ids + [samples.sex.astype(str), [f"{a:.1f}" for a in samples.age]],
    )
    write_columns(
        out / f"{samples.name}.pop",
        ["FID", "IID", "POP"],
        ids + [[POP_NAMES[p] for p in samples.pop]],
    )


def write_truth(out: Path, traits: list[Trait], snp_map: SnpMap) -> None:
    """toy.truth.tsv: one row per causal SNP of every trait, sorted by trait, CHR, BP."""
    rows = []
    for t in traits:
        order = np.lexsort((snp_map.bp[t.causal], snp_map.chrom[t.causal]))
        for k in order:
            j = t.causal[k]
            rows.append(
                [
                    t.spec.name,
                    str(snp_map.chrom[j]),
                    snp_map.sid[j],
                    str(snp_map.bp[j]),
                    snp_map.allele_1[j],
                    PHENO_FORMAT % t.beta[k],
                    PHENO_FORMAT % t.beta_std[k],
                ]
            )
    header = ["PHENO", "CHR", "SNP", "BP", "A1", "BETA", "BETA_STD"]
    write_columns(out / f"{TRAIN_NAME}.truth.tsv", header, list(zip(*rows, strict=True)), "\t")


# ---------------------------------------------------------------- summary and README


@dataclass(frozen=True)
class Summary:
    """Facts about the written data that the README and the console report."""

    n_train: int
    n_new: int
    n_missing_train: int
    n_missing_new: int
    monomorphic_train: np.ndarray  # (k,) SNP indices
    monomorphic_a1: np.ndarray  # (k,) bool, True where every training genotype is 2
    monomorphic_new: np.ndarray
    maf_quantiles: np.ndarray  # training MAF at 10/50/90 %
    n_families_with_relatives: int
    n_new_with_training_relatives: int


def summarize(train: SampleSet, new: SampleSet, stats: SnpStats) -> Summary:
    def monomorphic(samples: SampleSet) -> np.ndarray:
        lo, hi = np.nanmin(samples.observed, axis=0), np.nanmax(samples.observed, axis=0)
        return np.flatnonzero(lo == hi)

    fids = np.concatenate([train.fid, new.fid])
    _, counts = np.unique(fids, return_counts=True)
    return Summary(
        n_train=train.n_samples,
        n_new=new.n_samples,
        n_missing_train=int(np.isnan(train.observed).sum()),
        n_missing_new=int(np.isnan(new.observed).sum()),
        monomorphic_train=monomorphic(train),
        monomorphic_a1=np.nanmax(train.observed[:, monomorphic(train)], axis=0) == 2,
        monomorphic_new=monomorphic(new),
        maf_quantiles=np.quantile(stats.maf, [0.1, 0.5, 0.9]),
        n_families_with_relatives=int((counts > 1).sum()),
        n_new_with_training_relatives=int(np.isin(new.fid, train.fid).sum()),
    )


def fraction_table(traits: list[Trait], fits: list[CausalFit]) -> str:
    """Markdown table of realized training variance shares (liability scale for b1)."""
    header = (
        "| trait | " + " | ".join(COMPONENTS) + " | noise | 2 x covariances | OLS R2 | partial R2 |"
    )
    lines = [header, "|" + "---|" * (len(COMPONENTS) + 5)]
    for t, fit in zip(traits, fits, strict=True):
        cells = " | ".join(f"{f:.3f}" for f in t.fractions)
        cross = 1.0 - t.fractions.sum()
        lines.append(
            f"| {t.spec.name} | {cells} | {cross:+.3f} | {fit.r2:.3f} | {fit.partial_r2:.3f} |"
        )
    return "\n".join(lines)


def target_table() -> str:
    """Markdown table of the target variance shares and output scales."""
    header = "| trait | " + " | ".join(COMPONENTS) + " | noise | causal SNPs | output |"
    lines = [header, "|" + "---|" * (len(COMPONENTS) + 4)]
    for s in TRAITS:
        output = (
            f"binary, prevalence {s.prevalence:.2f} in training"
            if s.prevalence
            else f"{s.intercept:g} + {s.scale:g} x sum, {s.missing_fraction:.0%} NA"
        )
        cells = " | ".join(f"{v:.2f}" for v in s.targets)
        lines.append(
            f"| {s.name} | {cells} | {s.var_noise:.2f} | "
            f"{s.causal_per_chrom * N_CHROMS} | {output} |"
        )
    return "\n".join(lines)


def effects_text(traits: list[Trait]) -> str:
    lines = []
    for t in traits:
        shifts = ", ".join(
            f"{n} {v:+.4f}" for n, v in zip(POP_NAMES, t.effect_population, strict=True)
        )
        lines.append(
            f"- {t.spec.name}: subpopulation shifts {shifts}; female {t.effect_female:+.4f}; "
            f"age {t.effect_age:+.4f} per year"
            + (f"; liability threshold {t.threshold:.4f}" if t.threshold is not None else "")
        )
    return "\n".join(lines)


def write_readme(
    out: Path, traits: list[Trait], fits: list[CausalFit], summary: Summary, snp_map: SnpMap
) -> None:
    """README.md: files, model, every parameter and the realized numbers."""
    causal_counts = ", ".join(f"{s.causal_per_chrom * N_CHROMS} for {s.name}" for s in TRAITS)
    monomorphic = ", ".join(
        f"{snp_map.sid[j]} ({'all 2' if summary.monomorphic_a1[k] else 'all 0'})"
        for k, j in enumerate(summary.monomorphic_train)
    )
    in_both = np.isin(summary.monomorphic_train, summary.monomorphic_new).all()
    maf = ", ".join(f"{q:.3f}" for q in summary.maf_quantiles)
    binary = next(s for s in TRAITS if s.prevalence is not None)
    text = f"""# Toy data for lmmlasso-cli

Simulated by `make_toy.py` (seed {SEED}); every number below is written by the script.
Regenerate, byte for byte, with `python data/toy/make_toy.py` (or `--out DIR`).

## Files

| file | content |
|---|---|
| toy.bed/.bim/.fam | training set: {summary.n_train} individuals, {snp_map.n_snps} SNPs; \
.fam column 6 = q1 |
| toy.pheno | `FID IID q1 q2 b1`, `NA` = missing |
| toy.covar | `FID IID sex age` (sex 1 = male, 2 = female; age in years) |
| toy.pop | `FID IID POP` subpopulation labels (for checks, not a covariate) |
| toy.truth.tsv | `PHENO CHR SNP BP A1 BETA BETA_STD`: causal SNPs of q1, q2 and b1 |
| new.* | held-out set: {summary.n_new} individuals, same SNPs in the same order, same formats |

Genotypes count A1, the allele in .bim column 5 (bed-reader `count_A1=True`, as PLINK).
`BETA` is the effect per copy of A1 in phenotype units (liability units for b1).
`BETA_STD` = `BETA` x the SNP's training sd (missing calls mean-imputed, ddof 0).
The polygenic background, subpopulation, sex and age effects are not in the truth file.

## Model and parameters

- SNPs: {N_CHROMS} chromosomes x {SNPS_PER_CHROM} SNPs in {snp_map.n_blocks} LD blocks of
  {BLOCK_SIZE_MIN}-{BLOCK_SIZE_MAX} SNPs. BP gaps 1 + Exponential(mean {MEAN_BP_GAP}), cM 0.
  IDs `rs` + a random unique number; A1 and A2 random distinct nucleotides.
- Frequencies: ancestral A1 frequency ~ Beta{ANCESTRAL_BETA} with MAF >= {MIN_ANCESTRAL_MAF};
  subpopulations {", ".join(POP_NAMES)} by Balding-Nichols with Fst = {FST}; SNPs redrawn until
  the pooled MAF is >= {MIN_POOLED_MAF} (array ascertainment); {N_MONOMORPHIC} SNPs then fixed.
- Haplotypes: per LD block a latent Gaussian AR(1), rho ~ U({LD_RHO_MIN}, {LD_RHO_MAX}) per
  block, A1 where the latent value is below the subpopulation's frequency quantile.
- Relatives: gametes with Poisson({CROSSOVERS_PER_CHROM}) crossovers per chromosome at block
  boundaries. Training pairs: {sum(TRAIN_SIB_PAIRS) + sum(NEW_SIBS_OF_TRAIN_PAIRS)} full sibs
  and {sum(TRAIN_PARENT_CHILD_PAIRS)} parent-child. Held-out: {sum(NEW_SIBS_OF_TRAIN_PAIRS)}
  siblings of a training sib pair, {sum(NEW_CHILDREN_OF_TRAIN_COUPLES)} children of two training
  parents (who are unrelated to each other). Subpopulation sizes:
  training {TRAIN_SIZES}, held-out {NEW_SIZES}. A family shares one FID, also across the two
  sets (the two parents of a held-out child share it too, though unrelated); a parent in the
  data is named in the child's father/mother column; everyone else has their own FID. Row
  order is random.
- Covariates: female with probability {FEMALE_FRACTION}; age ~ N({AGE_MEAN}, {AGE_SD}) clipped to
  [{AGE_MIN}, {AGE_MAX}], one decimal.
- Phenotypes: each component is scaled to its target share of the training variance (total 1);
  noise is N(0, the remaining share). Causal SNPs ({causal_counts}) have MAF >= {MIN_CAUSAL_MAF},
  each in its own LD block, spread evenly over the chromosomes, with standardized effects of
  random sign and size U({CAUSAL_SIZE_MIN}, {CAUSAL_SIZE_MAX}) before scaling. The polygenic
  background of each trait is {N_POLYGENIC} SNPs (MAF >= {MIN_POLYGENIC_MAF}, outside all causal
  blocks) with N(0, 1) standardized effects before scaling. Subpopulation shifts are N(0, 1),
  then projected to be uncorrelated with the trait's genetic value in training. The held-out
  set uses the same per-allele effects, training centring, shifts, threshold and noise variance.
  {binary.name} = 1 where its liability exceeds the training {1 - binary.prevalence:.0%} quantile.

Targets:

{target_table()}

Realized shares of the training variance ({binary.name} on the liability scale); the shares
plus twice the chance covariances between components add up to 1. OLS R2: the written
phenotype ({binary.name}: 0/1) on an intercept and its causal SNPs; it exceeds the causal share
because causal SNPs also tag subpopulation differences (of the shifts and of the other genetic
components). Partial R2: the R2 the causal SNPs add to subpopulation indicators.

{fraction_table(traits, fits)}

Other effects, in output units:

{effects_text(traits)}

## Things to know

- Missing calls: {MISSING_CALL_RATE:.1%} at random; {summary.n_missing_train} in toy.bed,
  {summary.n_missing_new} in new.bed. Phenotypes were made from the complete genotypes.
- {len(summary.monomorphic_train)} SNPs are monomorphic in training \
({"all also" if in_both else "not all"} in the held-out set): {monomorphic}.
- {len(summary.monomorphic_new)} SNPs are monomorphic in the small held-out set (rare SNPs by
  chance): standardize with training means and sds.
- Training MAF 10/50/90% quantiles: {maf}.
- {summary.n_families_with_relatives} FIDs hold more than one individual;
  {summary.n_new_with_training_relatives} held-out individuals share their FID with training
  individuals (their close relatives).
"""
    (out / "README.md").write_text(text)


# ---------------------------------------------------------------- main


def make_toy(out: Path, seed: int = SEED) -> None:
    """Simulate everything and write it to ``out``."""
    rngs = dict(zip(STAGES, np.random.default_rng(seed).spawn(len(STAGES)), strict=True))
    snp_map = simulate_snp_map(rngs["map"])
    ancestral = draw_ancestral_freqs(rngs["freqs"], snp_map.n_snps)
    pop_freqs = draw_subpop_freqs(rngs["freqs"], ancestral)
    cohort = simulate_cohort(rngs["cohort"], pop_freqs, snp_map)
    sex, age = draw_covariates(rngs["covariates"], cohort)
    train, new = split_samples(rngs["order"], rngs["missing"], cohort, sex, age)
    stats = compute_snp_stats(train.observed)

    causal = choose_causal(rngs["traits"], snp_map, stats)
    all_causal = np.concatenate(causal)
    traits = []
    for spec, trait_causal in zip(TRAITS, causal, strict=True):
        polygenic = choose_polygenic(rngs["traits"], snp_map, stats, all_causal)
        raw = draw_raw_effects(rngs["traits"], trait_causal, polygenic, train)
        traits.append(simulate_trait(rngs["traits"], spec, raw, train, new, stats))
    fits = [fit_causal(t, train, stats) for t in traits]

    out.mkdir(parents=True, exist_ok=True)
    q1 = traits[0]
    write_plink(out, train, snp_map, format_values(q1.train_values, binary=False))
    write_plink(out, new, snp_map, format_values(q1.new_values, binary=False))
    write_sample_tables(out, train, traits, training=True)
    write_sample_tables(out, new, traits, training=False)
    write_truth(out, traits, snp_map)
    summary = summarize(train, new, stats)
    write_readme(out, traits, fits, summary, snp_map)
    print_report(out, traits, fits, summary, snp_map)


def print_report(
    out: Path, traits: list[Trait], fits: list[CausalFit], summary: Summary, snp_map: SnpMap
) -> None:
    print(
        f"wrote {out}: {summary.n_train} training + {summary.n_new} held-out individuals, "
        f"{snp_map.n_snps} SNPs"
    )
    print(f"missing calls: {summary.n_missing_train} (toy), {summary.n_missing_new} (new)")
    print(
        f"monomorphic: {len(summary.monomorphic_train)} in toy, "
        f"{len(summary.monomorphic_new)} in new"
    )
    print(fraction_table(traits, fits))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="output folder (default: the folder of this script)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    make_toy(parse_args().out)
