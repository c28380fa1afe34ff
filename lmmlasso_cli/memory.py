"""Memory plans: a command's peak memory estimated from its sizes, before the work starts.

A plan lists the big arrays a command holds at its peak (bytes each, from n, p, the block size
and the dtype) plus the process's baseline (the interpreter and the imported libraries). A
command that goes through phases (the eigendecomposition, then the scan) is planned at its
largest phase; worker processes count in full (the plan is for the whole process tree). The
CLI prints it in PREFIX.log, shrinks the SNP block until the plan fits the budget (--memory),
and refuses to start when even the smallest block does not fit. `bench/scale.py` compares the
estimates with the measured peak RSS.

Sizes: n individuals, p SNPs, b SNPs per block, w worker processes, k phenotypes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmmlasso_cli.compact import SUBSET_COPY_BYTES
from lmmlasso_cli.errors import InputError

GB = 1e9
BASELINE_BYTES = 200e6  # python + numpy + scipy + numba + bed-reader: RSS after imports
# fit-null loads no genotypes and no numba kernel: 0.12–0.15 GB measured at n = 1000
BASELINE_BY_COMMAND = {"fit-null": 120e6}
# a worker process's own memory beyond what it shares with the others: its interpreter and
# libraries are the same pages, which the process tree's PSS counts once (bench/README.md)
WORKER_BYTES = 120e6
MIN_BLOCK_SNPS = 64
BIM_BYTES_PER_SNP = 200  # the .bim as strings and arrays, measured at 800,000 SNPs
F64, F32 = 8, 4


@dataclass(frozen=True)
class MemoryPlan:
    """What a command will hold at its peak: ``parts`` (label, bytes) at ``block_snps``."""

    command: str
    parts: tuple[tuple[str, float], ...]
    block_snps: int
    budget: float  # bytes

    @property
    def peak(self) -> float:
        return self.baseline + sum(size for _, size in self.parts)

    @property
    def baseline(self) -> float:
        return BASELINE_BY_COMMAND.get(self.command, BASELINE_BYTES)

    @property
    def fits(self) -> bool:
        return self.peak <= self.budget

    def describe(self) -> str:
        items = ", ".join(f"{label} {size / GB:.2f}" for label, size in self.parts if size > 0)
        return (
            f"memory plan: estimated peak {self.peak / GB:.2f} GB of {self.budget / GB:.2f} GB "
            f"(`memory`), SNP blocks of {self.block_snps}; GB: baseline "
            f"{self.baseline / GB:.2f}, {items}"
        )


@dataclass(frozen=True)
class Sizes:
    """The sizes a plan is computed from (see the module docstring)."""

    n_samples: int
    n_snps: int
    n_kinship: int = 0  # individuals of the kinship (0: none)
    workers: int = 1
    n_phenos: int = 1
    precision: str = "float64"  # of the block products
    n_subsample: int = 0  # stability/cv: individuals of one training set
    cache_bytes: float = 0.0  # the Lasso's rotated-column cache
    n_bim: int = 0  # SNPs listed in the .bim (its table is held in memory)
    n_mu: int = 1  # fit: μ values of the path (the model's background weights are n_mu × p)
    kinship_rank: int = 0  # r of a low-rank kinship (`kinship --rank`; 0: full n × n)
    eigen_read: bool = False  # gwas --null: the eigenvectors are read, no K, no eigh
    n_active: int = 0  # fit/stability --n-active K (0: a μ or a path): bounds the Gram matrix


def _eigh(n: int, rank: int = 0) -> float:
    """An eigendecomposition of an n × n kinship: the loaded K, the copy LAPACK overwrites, its
    work arrays (about 2n² doubles for syevd) and the eigenvectors: 5n² doubles. Of a rank-r
    kinship: the loaded eigenvectors, the factor, its SVD's copy and left vectors, 4nr."""
    if rank:
        return 4.0 * n * rank * F64
    return 5.0 * n * n * F64


def _square(n: int, rank: int = 0) -> float:
    """An n × n float64 matrix of the kinship's kind: n² doubles, or n × r for a rank-r one."""
    return n * (rank or n) * F64


def _phases(command: str, s: Sizes, b: int) -> list[list[tuple[str, float]]]:
    """The command's phases, each a list of (label, bytes) held at once; the plan's peak is
    the largest phase. Worker processes are counted with their share of the whole tree."""
    n, p, nk = s.n_samples, s.n_snps, s.n_kinship or s.n_samples
    item = F32 if s.precision == "float32" else F64
    block = n * b * (1 + F32 + item)  # codes, float32 counts or codes, standardized block
    r = s.kinship_rank
    eigh = [("kinship eigendecomposition", _eigh(nk, r))]
    if command == "kinship":
        # the accumulator, the block's product, log2(units) partial sums of the tree, and the
        # symmetrized copy at the end
        units = max(1, -(-p // (8 * b)))
        sums = [
            ("n x n sums", (2 + units.bit_length()) * n * n * F64),
            ("block product", n * n * item),
            ("SNP block", block),
        ]
        if not r:
            return [sums]
        # --rank: K, the copy syevr reduces, and the r eigenvectors
        return [sums, [("K and its leading eigenpairs", 2 * n * n * F64 + n * r * F64)]]
    if command in ("fit-null", "pca"):
        return [eigh]
    if command == "gwas":
        if s.eigen_read:  # the eigenvectors read from --null, and K when --kinship is given
            rotation = [("eigenvectors (--null)", _square(n, r))]
            if s.n_kinship:
                rotation.append(("kinship", _square(nk, r)))
        else:
            rotation = [("kinship + eigenvectors", 2 * _square(n, r))]
        if s.workers > 1:  # the shared .npy of the eigenvectors, mapped by every worker
            rotation.append(("eigenvectors mapped by the workers", _square(n, r)))
        if s.precision == "float32":
            rotation.append(("float32 eigenvectors", s.workers * _square(n, r) / 2))
        # the rotated block and its whitened copies: n × b each (full), r × b each plus the
        # float64 block a low-rank SNP's complement is taken from (`gwas.complete_rotation`)
        rotated = 3 * (r or n) * b * F64 + (n * b * F64 if r else 0)
        rotation.append(("SNP blocks + rotations", s.workers * (block + rotated)))
        return [rotation] if s.eigen_read else [eigh, rotation]
    if command in ("fit", "cv", "stability"):
        sub = s.n_subsample or n
        held = [("genotype codes", n * p), ("kinship", _square(nk, r))]
        subset = sub * p if s.n_subsample and sub * p <= SUBSET_COPY_BYTES else 0
        from lmmlasso_cli.lasso.path import gram_max_features

        # the working set's Gram matrix (`lasso.path._GramCache`), the old one alive while the
        # next is built; for --n-active K at most 16 max(K, 10) features
        gram = 2 * min(sub, gram_max_features(s.n_active or None)) ** 2 * F64
        lasso = s.cache_bytes + 2 * p * F64 + sub * b * F64 + subset + gram
        if command == "fit":
            # the background's BLUP weights (n_mu × p): the array, its blocks, the joined copy
            # and the model file's buffer
            weights = 4.0 * s.n_mu * p * F64
            fit = [
                ("eigenvectors", _square(n, r)),
                ("Lasso: column cache, Gram matrix, correlations", lasso),
                ("background weights", weights),
            ]
            return [eigh, held + fit]
        # every training set eigendecomposes its own copy of its kinship in place
        # (`nullmodel.eigendecompose(overwrite=True)`): the copy, then the eigenvectors, and
        # syevd's 2n² work doubles
        # (a rank-r kinship: the factor's rows, their SVD's copy and left vectors, 3 sub·r);
        # syevd's copy and work arrays are gone when the Lasso starts, its eigenvectors stay
        per_fit = max(3.0 * _square(sub, r), _square(sub, r) + lasso)
        if s.workers > 1 and not (command == "stability" and s.n_phenos == 1):
            # the workers read the codes from a shared file (its page cache) while this process
            # keeps its copy; stability of one phenotype lets go of it
            held.append(("workers' shared codes", n * p))
        return [held + [("per training set: eigendecomposition, Lasso", s.workers * per_fit)]]
    if command == "simulate":
        return [eigh + [("causal SNP codes", n * p)]]
    if command == "predict":
        return [[("model SNP codes", n * p), ("SNP block", block)]]
    # ld-blocks, shrink, gene-test, evaluate, cluster: SNP blocks and their LD
    return [[("SNP block", block), ("block LD", b * b * F64 * 2)]]


def plan_memory(command: str, sizes: Sizes, block_snps: int, budget: float) -> MemoryPlan:
    """The plan at ``block_snps``, halved down to `MIN_BLOCK_SNPS` until it fits ``budget``.
    Raises `InputError` with the smallest plan's peak when none fits."""
    b = int(block_snps)
    while True:
        phases = _phases(command, sizes, b)
        if sizes.workers > 1:  # each worker process has its own interpreter and libraries
            phases = [[("worker processes", sizes.workers * WORKER_BYTES), *ph] for ph in phases]
        if sizes.n_bim:
            bim = ("SNP table", BIM_BYTES_PER_SNP * sizes.n_bim)
            phases = [[bim, *phase] for phase in phases]
        parts = max(phases, key=lambda phase: sum(size for _, size in phase))
        plan = MemoryPlan(command, tuple(parts), b, float(budget))
        if plan.fits or b <= MIN_BLOCK_SNPS:
            break
        b = max(MIN_BLOCK_SNPS, b // 2)
    if not plan.fits:
        raise InputError(
            f"{command} needs about {plan.peak / GB:.3g} GB for {sizes.n_samples} individuals "
            f"and {sizes.n_snps} SNPs, more than `memory` {budget / GB:.3g} GB; raise "
            f"`memory`, or use fewer individuals or SNPs (--keep, --extract, --chr)"
        )
    return plan
