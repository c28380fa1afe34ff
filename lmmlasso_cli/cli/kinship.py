"""`lmmlasso kinship`: the realized relationship matrix over SNP units, or job-array parts."""

import click

from lmmlasso_cli.cli.options import (
    PFILE,
    PRECISION,
    RUN,
    SAMPLES,
    SCHEDULER,
    SNPS,
    data_options_from,
    options,
    part_option,
)
from lmmlasso_cli.cli.runner import progress_bar, run_command

BLOCKS_PER_UNIT = 8  # a work unit sums 8 blocks of --block-size SNPs (16384 by default)
PARAMS = ("bfile", "maf", "scaling", "precision", "block_size", "chromosomes", "extract")
PARAMS += ("exclude", "keep", "remove")


@click.command("kinship")
@click.option(
    "--bfile",
    metavar="PREFIX",
    help="PLINK 1 binary set PREFIX.bed/.bim/.fam; genotypes count A1 (.bim column 5). "
    "Required (or --pfile) unless --merge.",
)
@options([PFILE])
@options(SAMPLES, SNPS)
@click.option(
    "--scaling",
    type=click.Choice(["empirical", "hwe"]),
    default="empirical",
    show_default=True,
    help="Per-SNP sd: empirical (each SNP sd 1 exactly) or hwe = sqrt(2f(1-f)) as "
    "in PLINK --make-rel and GCTA.",
)
@options(PRECISION)
@click.option(
    "--rank",
    "--kinship-rank",
    "rank",
    type=click.IntRange(min=1),
    default=None,
    metavar="R",
    help="Store K's R leading eigenpairs instead of the n x n matrix (a low-rank kinship: "
    "fit-null, fit, gwas, cv, stability, predict and simulate then work in O(nR) per vector "
    "and O(nR^2) per set of individuals, as FaST-LMM). Exact when at most R SNPs are used; "
    "otherwise K ~ U_R S_R U_R^T, the log says which share of trace(K) it keeps. "
    "Default: the full matrix.",
)
@click.option(
    "--grm", is_flag=True, help="Also write GCTA binary PREFIX.grm.bin/.grm.N.bin/.grm.id."
)
@options(
    part_option(
        "write the sum over the K-th of N SNP ranges to PREFIX.kinship-part.npz (reused when "
        "it is already there from the same job); combine all N with --merge."
    )
)
@click.option(
    "--merge",
    "merge_parts",
    is_flag=True,
    help="Sum the part files PARTS (PREFIX.kinship-part.npz of parts 1..N of one job) into "
    "PREFIX.kinship.npz.",
)
@click.argument("parts", nargs=-1, metavar="[PARTS]...")
@options(SCHEDULER, RUN)
@run_command
def kinship(log, **kw):
    """Realized relationship matrix K = Z Zᵀ / p from standardized SNPs.

    Z has per SNP mean 0 and sd 1 after mean imputation of missing calls. K is then divided by
    its mean diagonal (recorded as `scale`), so trace(K) = n. Writes PREFIX.kinship.npz (K, FID,
    IID, the SNP IDs with their means and sds, the normalization). Z Zᵀ is summed over units of
    8 blocks of --block-size SNPs, each rounded once to 64-bit fixed point and added exactly, so
    that every backend (--scheduler) and every merge of --part files give the same bytes.
    Peak memory is about n² + n × block-size floats per unit in flight.
    """
    from lmmlasso_cli.errors import InputError

    if kw["part"] and kw["rank"]:
        raise InputError("--rank applies to the whole kinship: give it to --merge, not --part")
    if kw["merge_parts"]:
        _merge(log, kw)
        return
    if kw["parts"]:
        raise InputError(f"{kw['parts'][0]}: part files are only read with --merge")
    if not kw.get("bfile"):
        raise InputError("kinship needs --bfile (or --merge PART.kinship-part.npz ...)")
    _compute(log, kw)


def _compute(log, kw):

    from lmmlasso_cli.io.artifacts import provenance
    from lmmlasso_cli.io.dataset import load_dataset
    from lmmlasso_cli.io.kinship_file import load_kinship_part, save_kinship_part
    from lmmlasso_cli.io.work_units import part_units, snp_units
    from lmmlasso_cli.kinship import finish_kinship

    data = load_dataset(data_options_from(kw, need_pheno=False))
    _check_rank(kw.get("rank"), data.samples.n_samples)
    from lmmlasso_cli.cli.pipeline import plan_for_data

    plan_for_data(log, kw, "kinship", data, kinship_rank=kw.get("rank") or 0)
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"individuals: {samples.n_samples} kept; dropped: {samples.describe_drops()}")
    for note in data.snp_notes:
        log.info(note)
    units = snp_units(len(data.snp_index), kw["block_size"], BLOCKS_PER_UNIT)
    params = {k: kw[k] for k in PARAMS}
    out = kw["out"] + (".kinship-part.npz" if kw["part"] else ".kinship.npz")
    job = _job(data, params, kw["part"])
    if kw["part"]:
        k, n = kw["part"]
        units = part_units(units, k, n)
        if _finished(out, job, k, load_kinship_part):
            log.info(f"{out}: part {k}/{n} of this job is already there; reusing it")
            return
        snps = f"SNPs {units[0].start}:{units[-1].stop}" if units else "no SNP (N > units)"
        log.info(f"part {k}/{n}: {len(units)} unit(s), candidate {snps}")
    part = _sum_units(log, kw, data, units)
    if kw["part"]:
        used = part.snp_index
        save_kinship_part(
            out, part, *kw["part"], job, samples.fid, samples.iid, plink.snp[used],
            plink.a1[used], provenance("kinship", params),
        )  # fmt: skip
        log.info(f"wrote {out}: part {kw['part'][0]}/{kw['part'][1]}, {part.n_snps} SNPs used")
        return
    try:
        kin = finish_kinship(part, kw["scaling"])
    except ValueError as exc:
        from lmmlasso_cli.errors import InputError

        raise InputError(f"{plink.bed_path}: {exc}") from None
    used = kin.snp_index  # positions in the .bim (the blocks carry .bim positions)
    _write(log, kw, kin, samples.fid, samples.iid, plink.snp[used], plink.a1[used], params)


def _sum_units(log, kw, data, units):
    """The `KinshipPart` of ``units`` (SNP ranges) over every analysed individual."""
    from lmmlasso_cli.cli.pipeline import backend_for

    items = [data.snp_index[u] for u in units]
    with backend_for(log, kw, len(items)) as backend:
        return sum_kinship_units(
            kw, backend, data, data.samples.fam_index, items, kw["scaling"], "kinship"
        )


def sum_kinship_units(kw, backend, data, fam_index, items, scaling, label, chrom=None):
    """The `KinshipPart` of the SNP units ``items`` (.bim positions each) over the individuals
    at .fam rows ``fam_index``, on ``backend`` with a progress bar: each unit in fixed point
    with the bits of the whole candidate set (every part of a job the same, so parts add
    exactly), reduced by `parallel.tree_sum`'s tree. ``chrom`` (a code per .bim row, or its
    shared array) keeps per-chromosome parts (`gwas --loco`)."""
    import functools

    from lmmlasso_cli.io.work_units import GenotypeSource, kinship_unit
    from lmmlasso_cli.kinship import add_parts, fixed_point_bits, kinship_part, to_fixed

    n = len(fam_index)
    bits = fixed_point_bits(n, len(data.snp_index))
    if not items:
        return to_fixed(kinship_part([], n), bits)
    threads = 1 if backend.distributed else kw["threads"]  # .bed decoding threads
    task = functools.partial(
        kinship_unit,
        GenotypeSource.of(data.plink, fam_index, threads),
        kw["block_size"],
        kw["maf"],
        scaling,
        kw["precision"],
        bits,
        chrom=chrom,
    )
    n_snps = sum(len(i) for i in items)
    with progress_bar(n_snps, label, kw["quiet"], unit="SNP") as bar:
        return backend.tree_sum(task, items, add_parts, progress=lambda i: bar.update(len(i)))


def _job(data, params, part) -> str:
    """What parts of one job share: individuals, candidate SNPs, parameters and N."""
    import os

    from lmmlasso_cli.io.artifacts import fingerprint

    plink, pos = data.plink, data.snp_index
    return fingerprint(
        strings=(data.samples.fid, data.samples.iid, plink.snp[pos], plink.a1[pos]),
        params={**params, "n_parts": part[1] if part else 1, "bed": os.path.getsize(
            plink.bed_path)},
    )  # fmt: skip


def _finished(path, job, k, load) -> bool:
    import os

    from lmmlasso_cli.errors import LmmLassoError

    if not os.path.exists(path):
        return False
    try:
        done = load(path)
    except LmmLassoError:
        return False
    return done.job == job and done.k == k


def _merge(log, kw):
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.kinship_file import check_parts, load_kinship_part
    from lmmlasso_cli.kinship import add_parts, finish_kinship
    from lmmlasso_cli.parallel import tree_sum

    if not kw["parts"]:
        raise InputError("--merge needs the part files: --merge p1.kinship-part.npz ...")
    parts = check_parts([load_kinship_part(path) for path in kw["parts"]])
    first = parts[0]
    _check_rank(kw.get("rank"), len(first.iid))
    log.info(f"merging {len(parts)} parts of {first.n}: {', '.join(p.path for p in parts)}")
    total = tree_sum((p.part for p in parts), add_parts)
    try:
        kin = finish_kinship(total, first.meta["params"]["scaling"])
    except ValueError as exc:
        raise InputError(f"{first.path}: {exc}") from None
    import numpy as np

    snp = np.concatenate([p.snp for p in parts])
    a1 = np.concatenate([p.a1 for p in parts])
    params = {**first.meta["params"], "merge": list(kw["parts"])}
    _write(log, kw, kin, first.fid, first.iid, snp, a1, params)


def _write(log, kw, kin, fid, iid, snp, a1, params):
    import numpy as np

    from lmmlasso_cli.io.artifacts import provenance, write_gcta_grm
    from lmmlasso_cli.io.kinship_file import save_kinship

    log.info(
        f"SNPs: {kin.n_snps} used; dropped {kin.n_monomorphic} monomorphic, "
        f"{kin.n_all_missing} all-missing, {kin.n_low_maf} with MAF < {params['maf']}"
    )
    out = kw["out"] + ".kinship.npz"
    n = len(iid)
    low_rank = _leading(log, kin, kw.get("rank"))
    params = {**params, "rank": kw.get("rank")}
    save_kinship(out, kin, fid, iid, snp, a1, provenance("kinship", params), low_rank)
    shape = f"{n} x {n}" if low_rank is None else f"rank {low_rank.rank} of {n} x {n}"
    log.info(
        f"wrote {out}: {shape}, scaling {kin.scaling}, normalized by mean diagonal {kin.scale:.6f}"
    )
    if kw["grm"]:
        write_gcta_grm(kw["out"], kin.matrix, fid, iid, kin.n_snps)
        log.info(f"wrote {kw['out']}.grm.bin/.grm.N.bin/.grm.id (GCTA, float32)")
    off = kin.matrix[np.triu_indices(n, 1)]
    log.info(
        f"summary: mean diagonal {np.mean(np.diag(kin.matrix)):.4f}, off-diagonal mean "
        f"{off.mean():.4f}, sd {off.std():.4f}, max {off.max():.4f}"
    )


def _leading(log, kin, rank):
    """K's ``rank`` leading eigenpairs (`nullmodel.leading_eigen`), or None for the full K."""
    if rank is None:
        return None
    import time

    import numpy as np

    from lmmlasso_cli.nullmodel import leading_eigen

    _check_rank(rank, kin.matrix.shape[0])
    start = time.perf_counter()
    eig = leading_eigen(kin.matrix, rank)
    kept = float(eig.eigvals.sum() / np.trace(kin.matrix))
    exact = " (exact: at most R SNPs)" if kin.n_snps <= rank else ""
    log.info(
        f"rank {rank}: the leading eigenpairs keep {100 * kept:.2f}% of trace(K){exact}; "
        f"smallest kept eigenvalue {eig.eigvals[0]:.4g} ({time.perf_counter() - start:.1f} s)"
    )
    return eig


def _check_rank(rank, n: int) -> None:
    """Refuse a --rank that leaves no low-rank kinship of n individuals (before any work)."""
    from lmmlasso_cli.errors import InputError

    if rank is not None and rank >= n - 1:
        raise InputError(
            f"--rank {rank}: a low-rank kinship needs R < n - 1 = {n - 1}; drop --rank for "
            f"the full matrix"
        )
