"""The steps that several commands share, between parsing options and writing results.

- `load_inputs`: the aligned data set and the kinship restricted to the analysed individuals;
- `iter_phenotypes`: one `PhenotypeFit` per phenotype; phenotypes with the same non-missing
  individuals share one eigendecomposition (one O(n³) eigh per distinct sample set);
- `GenotypeCache`: the standardized analysed SNPs of a group, read once per group;
- `null_models_for`/`nulls_from_file` (--null, also for gwas), `fit_lasso`, `background_for`,
  `write_model`: the LMM-Lasso chain of `fit`/`cv`;
- `output_prefix`: PREFIX, or PREFIX.PHENO when a command analyses several phenotypes;
- `backend_for`, `run_units`: where independent units run (`parallel.Backend`);
- `fit_nulls`: the null models of a group's phenotypes, one unit per phenotype.
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lmmlasso_cli.errors import ConvergenceError, ConvergenceWarning, InputError

if TYPE_CHECKING:
    from lmmlasso_cli.nullmodel import KinshipEigen, NullModel
    from lmmlasso_cli.phenotypes import PreparedPhenotype

BACKGROUND_TOL = 1e-3  # relative error above which a GRM is not reproduced by SNP BLUP weights


@contextlib.contextmanager
def backend_for(log, kw: dict, n_units: int | None = None, processes: bool = False):
    """The `parallel.Backend` of a command: Dask with --scheduler (shared arrays in a hidden
    folder beside --out, which every worker must see), else a process pool when ``processes``
    and --threads > 1, else this process. Logs where the units run."""
    from lmmlasso_cli.parallel import open_backend

    scheduler = kw.get("scheduler")
    shared_dir = os.path.dirname(os.path.abspath(kw["out"])) if scheduler else None

    def started(description, blas):
        log.info(f"{description}; BLAS threads per worker: {blas}")

    with open_backend(kw.get("threads"), scheduler, n_units, processes, shared_dir, started) as b:
        yield b


def run_units(
    log, backend, data, n_units: int, desc: str, unit: str, quiet: bool, work, steps=None
):
    """``work(data, map_fn, progress)`` over ``n_units`` independent units (folds, replicates)
    on ``backend`` (this process with one BLAS thread when serial), with a progress bar.

    Without ``steps``, ``progress(_)`` advances the bar by one unit, called here as results
    arrive. With ``steps``, the bar counts n_units × steps and ``progress(n)`` is for the units
    to call as they advance n steps (`parallel.unit_progress`: from worker processes too); on
    Dask, where it cannot reach here, the bar advances by ``steps`` as each result arrives."""
    from threadpoolctl import threadpool_limits

    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.parallel import unit_progress

    with contextlib.ExitStack() as stack:
        if backend.distributed:
            shared, map_fn = backend.share(data), backend.map
        else:
            stack.enter_context(threadpool_limits(limits=1))
            shared, map_fn = data, map
        total = n_units if steps is None else n_units * steps
        bar = stack.enter_context(progress_bar(total, desc, quiet, unit=unit))
        if steps is None:
            return work(shared, map_fn, lambda _: bar.update(1))
        progress = stack.enter_context(unit_progress(backend, bar.update))
        if progress is None:
            map_fn = _counting(map_fn, bar.update, steps)
        return work(shared, map_fn, progress)


def _counting(map_fn, update, steps: int):
    """``map_fn`` calling ``update(steps)`` as each result arrives."""

    def counted(fn, items):
        for result in map_fn(fn, items):
            update(steps)
            yield result

    return counted


def note_dosages(log, reader) -> None:
    """Log how many non-integer .pgen dosages were rounded to hard calls (none for a .bed)."""
    if reader.n_rounded_dosages:
        log.info(
            f"{reader.plink.bed_path}: {reader.n_rounded_dosages} dosages were not whole "
            f"numbers and were rounded to the nearest hard call"
        )


def memory_plan(log, kw: dict, command: str, **sizes):
    """The command's `memory.MemoryPlan` for ``sizes`` (`memory.Sizes` fields) within --memory,
    logged; sets kw["block_size"] to the plan's block (smaller only if the default did not
    fit). Raises when nothing fits."""
    from lmmlasso_cli.io.machine import memory_budget_bytes
    from lmmlasso_cli.memory import Sizes, plan_memory

    block = kw.get("block_size") or 2048
    plan = plan_memory(command, Sizes(**sizes), block, memory_budget_bytes(kw.get("memory")))
    log.info(plan.describe().replace("`memory`", "--memory"))
    if plan.block_snps != block:
        log.info(f"--block-size lowered from {block} to {plan.block_snps} to fit --memory")
        kw["block_size"] = plan.block_snps
    return plan


def plan_for_data(log, kw: dict, command: str, data, kin=None, units: int = 1, **sizes):
    """`memory_plan` over ``data``'s individuals and candidate SNPs; ``units`` independent
    units (folds, replicates) may run on --threads worker processes at once."""
    workers = 1
    if units > 1 and not kw.get("scheduler"):
        workers = min(units, kw.get("threads") or os.cpu_count() or 1)
    n = data.samples.n_samples
    sizes.setdefault("n_snps", len(data.snp_index))
    sizes.setdefault("precision", kw.get("precision", "float64"))
    sizes.setdefault("cache_bytes", n * min(sizes["n_snps"], 2048) * 8.0)
    nk = len(kin.iid) if kin is not None else 0
    sizes.setdefault("n_bim", data.plink.n_snps)
    if kin is not None and kin.rank:
        sizes.setdefault("kinship_rank", kin.rank)
    return memory_plan(log, kw, command, n_samples=n, n_kinship=nk, workers=workers, **sizes)


def output_prefix(out: str, pheno: str, multi: bool) -> str:
    return out + (f".{pheno}" if multi else "")


def load_inputs(log, opts, kinship_path: str | None):
    """Dataset plus kinship (or None), logged. The kinship must cover every individual that is
    analysed for at least one phenotype; individuals without any phenotype are not analysed."""
    from lmmlasso_cli.io.dataset import load_dataset
    from lmmlasso_cli.io.kinship_file import load_kinship

    data = load_dataset(opts)
    plink, samples = data.plink, data.samples
    log.info(f"{plink.prefix}: {plink.n_samples} individuals, {plink.n_snps} SNPs")
    log.info(f"phenotypes from {data.pheno_source}: {', '.join(data.pheno_names)}")
    log.info(f"individuals: {samples.n_samples} aligned; dropped: {samples.describe_drops()}")
    log.info(f"covariates: {', '.join(data.covariate_names) or 'none'}")
    kin = load_kinship(kinship_path) if kinship_path else None
    if kin is not None:
        analysed = np.isfinite(data.phenotypes).any(axis=1)
        kin.submatrix(samples.fid[analysed], samples.iid[analysed])  # raises if not covered
        rank = "" if kin.rank is None else f", rank {kin.rank} (low-rank path)"
        log.info(f"kinship {kin.path}: {len(kin.iid)} individuals, {kin.n_snps} SNPs{rank}")
    return data, kin


@dataclass(frozen=True)
class PhenotypeFit:
    """One phenotype ready for modelling: its individuals, data, kinship eigensystem, null."""

    pheno: PreparedPhenotype
    group: int  # phenotypes of one group share their individuals and eigendecomposition
    fid: np.ndarray  # (n,)
    iid: np.ndarray  # (n,)
    fam_index: np.ndarray  # (n,) positions in the .fam
    covariates: np.ndarray  # (n, c)
    eig: KinshipEigen | None
    null: NullModel | None  # None when not fitted here (taken from --null, or no kinship)


def _log_null(log, name, null, messages) -> None:
    for message in messages:
        log.warning(f"{name}: {message}")
    log.info(
        f"{name}: n={null.n_samples} {null.method} log δ={null.log_delta:.4f} "
        f"h²={null.h2:.4f} (se {null.h2_se:.4f}) σg²={null.sigma2_g:.4g} "
        f"σe²={null.sigma2_e:.4g} logL={null.loglik:.4f}"
    )


def _null_unit(eig, covariates, search, y):
    """One phenotype's null model and the messages of its warnings (a work unit)."""
    from lmmlasso_cli.io.shared_arrays import resolve
    from lmmlasso_cli.nullmodel import fit_null_model

    eig = resolve(eig)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        null = fit_null_model(y, eig, covariates, search)
    return null, [str(w.message) for w in caught]


def fit_null_logged(log, pheno, eig, covariates, search) -> NullModel:
    """`fit_null_model` with its warnings and a one-line summary in the log."""
    null, messages = _null_unit(eig, covariates, search, pheno.values)
    _log_null(log, pheno.name, null, messages)
    return null


def fit_nulls(log, phenos, eig, covariates, search, backend=None) -> list:
    """The null models of ``phenos`` (sharing ``eig``), one unit per phenotype on ``backend``
    (the eigenvectors are shared once), logged in phenotype order."""
    if backend is None or not backend.distributed or len(phenos) < 2:
        return [fit_null_logged(log, p, eig, covariates, search) for p in phenos]
    task = functools.partial(_null_unit, backend.share(eig), covariates, search)
    nulls = []
    for pheno, (null, messages) in zip(
        phenos, backend.map(task, [p.values for p in phenos]), strict=True
    ):
        _log_null(log, pheno.name, null, messages)
        nulls.append(null)
    return nulls


def iter_phenotypes(
    log, data, kin, transform: str, search=None, need_eig: bool = True, backend=None
):
    """Yield a `PhenotypeFit` per phenotype, sharing eigendecompositions across phenotypes.

    With a ``search`` (`NullSearch`) and a kinship, the null models are fitted here, one unit
    per phenotype of a group on ``backend`` (default: this process)."""
    from lmmlasso_cli.io.dataset import phenotype_groups
    from lmmlasso_cli.nullmodel import decompose
    from lmmlasso_cli.phenotypes import prepare_phenotype

    source = os.path.basename(data.pheno_source)
    for j, name in enumerate(data.pheno_names):
        n_missing = int(np.isnan(data.phenotypes[:, j]).sum())
        if n_missing:
            log.info(f"{name}: {n_missing} individuals dropped with a missing value in {source}")
    for g, (mask, columns) in enumerate(phenotype_groups(np.isfinite(data.phenotypes))):
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            name = data.pheno_names[columns[0]]
            raise InputError(
                f"{data.pheno_source}: phenotype {name} is missing for every analysed individual"
            )
        fid, iid = data.samples.fid[rows], data.samples.iid[rows]
        covariates = data.covariates[rows]
        eig = None
        if kin is not None and need_eig:
            eig = decompose(kin.submatrix(fid, iid))
            how = "eigendecomposition" if kin.rank is None else f"rank-{kin.rank} SVD"
            log.info(
                f"{how} {g}: {len(rows)} individuals, phenotypes "
                f"{', '.join(data.pheno_names[c] for c in columns)}"
            )
        names, values = data.pheno_names, data.phenotypes
        phenos = [
            prepare_phenotype(values[:, c], names[c], data.pheno_source, transform) for c in columns
        ]
        nulls = [None] * len(phenos)
        if search is not None and eig is not None:
            nulls = fit_nulls(log, phenos, eig, covariates, search, backend)
        fam_index = data.samples.fam_index[rows]
        for pheno, null in zip(phenos, nulls, strict=True):
            yield PhenotypeFit(pheno, g, fid, iid, fam_index, covariates, eig, null)


class GenotypeCache:
    """The standardized analysed SNPs over one group's individuals, read once per group (the
    one n × p float64 copy a command holds). Closes its .bed reader when replaced or closed."""

    def __init__(self, log, data, maf: float, block_size: int, threads, quiet: bool):
        self.log, self.data, self.maf, self.block_size = log, data, maf, block_size
        self.threads, self.quiet = threads, quiet
        self._group, self.reader, self.geno = None, None, None

    def get(self, pf: PhenotypeFit):
        """(reader, StandardizedGenotypes) over ``pf``'s individuals."""
        from lmmlasso_cli.cli.runner import progress_bar
        from lmmlasso_cli.io.dataset import read_standardized
        from lmmlasso_cli.io.plink import GenotypeReader

        if self._group == pf.group:
            return self.reader, self.geno
        self.close()
        data = self.data
        self.reader = GenotypeReader(data.plink, pf.fam_index, num_threads=self.threads)
        with progress_bar(len(data.snp_index), "reading SNPs", self.quiet, unit="SNP") as bar:
            self.geno = read_standardized(
                self.reader, data.snp_index, self.maf, self.block_size, progress=bar.update
            )
        geno = self.geno
        note_dosages(self.log, self.reader)
        self.log.info(
            f"SNPs: {geno.store.shape[1]} analysed over {geno.store.shape[0]} individuals; "
            f"dropped {geno.n_monomorphic} monomorphic, {geno.n_all_missing} all-missing, "
            f"{geno.n_low_maf} with MAF < {self.maf}"
        )
        self._group = pf.group
        return self.reader, self.geno

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self._group, self.reader, self.geno = None, None, None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def nulls_from_file(log, group, null_path: str, data, kinship_path: str | None = None) -> list:
    """The `io.null_file.NullEntry` of each of ``group``'s phenotypes, read from --null at once
    and checked against these individuals and covariates (one line naming the file otherwise).
    A warning when --kinship is not the file the null models were fitted with: their
    eigendecomposition is the one used."""
    from lmmlasso_cli.io.null_file import check_same_covariates, check_same_samples, load_nulls

    entries = load_nulls(null_path, [pf.pheno.name for pf in group])
    for pf, entry in zip(group, entries, strict=True):
        check_same_samples(entry, pf.fid, pf.iid, null_path, data.plink.prefix)
        check_same_covariates(entry, data.covariate_names, null_path)
        log.info(
            f"{pf.pheno.name}: null model from {null_path} ({entry.method}): "
            f"log δ={entry.log_delta:.4f} h²={entry.h2:.4f}"
        )
    fitted = entries[0].meta.get("params", {}).get("kinship") if entries else None
    if kinship_path and fitted and not _same_file(fitted, kinship_path):
        log.warning(
            f"{null_path} was fitted with the kinship {fitted}, not --kinship {kinship_path}; "
            f"its eigendecomposition is used"
        )
    return entries


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (by inode when both exist, else by name)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.basename(a) == os.path.basename(b)


def null_models_for(log, group, has_kinship: bool, null_path: str | None, data, kinship_path):
    """(eig, log δ, method) per phenotype of ``group``: from --null, from the null models
    fitted here, or none (no kinship)."""
    if not has_kinship:
        for pf in group:
            log.info(f"{pf.pheno.name}: no kinship: plain Lasso with unpenalized covariates")
        return [(None, float("nan"), "none")] * len(group)
    if null_path:
        entries = nulls_from_file(log, group, null_path, data, kinship_path)
        return [(e.eig, e.log_delta, e.method) for e in entries]
    return [(pf.eig, pf.null.log_delta, pf.null.method) for pf in group]


@dataclass(frozen=True)
class LassoRequest:
    """Which LMM-Lasso fit: one ``mu``, the μ selecting ``n_active`` SNPs, or a path."""

    mu: float | None = None
    n_active: int | None = None
    mus: np.ndarray | None = None


def _lasso_unit(X, request: LassoRequest, grid, lasso, item, progress=None):
    """`fit_lmm_lasso` of one phenotype ``item = (y, C, eig, log_delta)`` and its convergence
    warnings' messages (a work unit)."""
    from lmmlasso_cli.io.shared_arrays import resolve
    from lmmlasso_cli.lmmlasso import fit_lmm_lasso

    y, C, eig, log_delta = item
    X, eig = resolve(X), resolve(eig)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fit = fit_lmm_lasso(
            X,
            y,
            C,
            eig,
            log_delta,
            mu=request.mu,
            n_active=request.n_active,
            mus=request.mus,
            grid=grid,
            lasso=lasso,
            progress=progress,
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    return fit, messages


def _checked(log, fit, messages, policy):
    for message in messages:
        log.warning(message)
    bad = np.flatnonzero(~fit.path.converged)
    if len(bad) and policy == "error":
        raise ConvergenceError(
            f"the Lasso did not converge at {len(bad)} of {fit.n_mu} μ values (first μ = "
            f"{fit.path.mus[bad[0]]:.4g}, duality gap {fit.path.gaps[bad[0]]:.3g}); raise "
            f"--max-epochs or loosen --tol, or use --on-nonconvergence warn"
        )
    return fit


def _check_request(request: LassoRequest, n_snps: int) -> None:
    if request.n_active is not None and request.n_active > n_snps:
        raise InputError(f"--n-active {request.n_active} exceeds the {n_snps} SNPs")


def fit_lasso(log, X, y, C, eig, log_delta, request: LassoRequest, grid, lasso, policy, quiet):
    """`fit_lmm_lasso` with a progress bar, its warnings logged, and ``policy`` ("warn" or
    "error", --on-nonconvergence) applied to uncertified fits."""
    from lmmlasso_cli.cli.runner import progress_bar

    _check_request(request, X.shape[1])
    n_steps = len(request.mus) if request.mus is not None else grid.n_values
    with progress_bar(n_steps, "lasso path", quiet, unit="mu") as bar:
        item = (y, C, eig, log_delta)
        fit, messages = _lasso_unit(X, request, grid, lasso, item, lambda i: bar.update(1))
    return _checked(log, fit, messages, policy)


def fit_lasso_batch(log, backend, X, items, request, grid, lasso, policy, quiet) -> list:
    """`fit_lasso` for the phenotypes ``items`` ((y, C, eig, log δ) each, sharing X), one unit
    per phenotype on ``backend``: X and each distinct eigendecomposition are shared once."""
    if not backend.distributed or len(items) < 2:
        return [fit_lasso(log, X, *item, request, grid, lasso, policy, quiet) for item in items]
    _check_request(request, X.shape[1])
    shared: dict = {}

    def share_eig(eig):
        if eig is None:
            return None
        key = (eig.eigvals.tobytes(), eig.eigvecs.shape)
        if key not in shared:
            shared[key] = backend.share(eig)
        return shared[key]

    units = [(y, C, share_eig(eig), log_delta) for y, C, eig, log_delta in items]
    task = functools.partial(_lasso_unit, backend.share(X), request, grid, lasso)
    return [_checked(log, fit, messages, policy) for fit, messages in backend.map(task, units)]


def _same_snps(geno, pos, flipped, kin) -> bool:
    """Whether the kinship's SNPs are the analysed ones, in order, standardized alike."""
    return (
        not np.any(flipped)
        and np.array_equal(pos, geno.snp_index)
        and np.array_equal(kin.means, geno.means)
        and np.array_equal(kin.sds, geno.sds)
    )


def background_for(log, data, kin, reader, geno, fit, eig, block_size: int):
    """The background's per-SNP BLUP weights over the kinship's SNPs (a `model.Background`),
    approximated by the analysed SNPs for a GCTA GRM, which lists no SNPs; None without K."""
    from lmmlasso_cli.io.dataset import standardized_blocks
    from lmmlasso_cli.io.plink import match_snps
    from lmmlasso_cli.model import Background
    from lmmlasso_cli.predict import (
        approximate_background,
        background_weights,
        stored_background,
    )
    from lmmlasso_cli.snps import SnpSet

    if kin is None:
        return None
    plink = data.plink
    if kin.snp is not None:
        pos, flipped = match_snps(plink, kin.snp, kin.a1, None, kin.path)
        if _same_snps(geno, pos, flipped, kin):  # the codes in memory: no second read
            weights = stored_background(geno.store, fit.blup_residual, kin.scale)
        else:
            blocks = standardized_blocks(reader, pos, kin.means, kin.sds, block_size, flipped)
            weights = background_weights(blocks, fit.blup_residual, len(pos), kin.scale)
        snps = SnpSet.from_plink(plink, pos, kin.means, kin.sds, flipped)
        return Background(snps, weights, kin.path)
    weights, err = approximate_background(geno.store, fit.blup_residual, eig)
    snps = SnpSet.from_plink(plink, geno.snp_index, geno.means, geno.sds)
    if err is not None and err > BACKGROUND_TOL:
        log.warning(
            f"{kin.path} is not reproduced by the analysed SNPs (relative error "
            f"{err:.2g}); predict's background part approximates it. Use a "
            f".kinship.npz from `lmmlasso kinship` for exact BLUP prediction"
        )
    return Background(snps, weights, "analysed SNPs (GCTA GRM has no SNP list)", err)


def write_model(log, prefix: str, data, pf: PhenotypeFit, geno, fit, background, params, extra):
    """Write the outputs of `fit` (and of `cv` at its chosen μ) and log their summary:
    PREFIX.weights.tsv, .path.tsv, .model.npz (for `predict`) and .score.tsv (plink2)."""
    from lmmlasso_cli.io.artifacts import provenance
    from lmmlasso_cli.io.model_file import save_model, write_path, write_score, write_weights
    from lmmlasso_cli.model import assemble_model
    from lmmlasso_cli.snps import SnpSet

    plink, path = data.plink, fit.path
    analysed = SnpSet.from_plink(plink, geno.snp_index, geno.means, geno.sds)
    model = assemble_model(fit, analysed, data.covariate_names, background)
    meta = provenance("fit", params)
    meta.update(
        {
            "pheno": pf.pheno.name,
            "covariate_names": data.covariate_names,
            "log_delta": fit.log_delta,
            "mu_max": fit.mu_max,
            "l1_ratio": path.l1_ratio,
            "tol": path.tol,
            "converged": path.converged.tolist(),
            "gaps": path.gaps.tolist(),
            "path_stop_rule": path.stop_rule,
            "score_offsets": model.score_offsets.tolist(),
            "n_snps_analysed": int(geno.store.shape[1]),
            **_background_meta(background),
            **extra,
        }
    )
    header = [
        f"pheno={pf.pheno.name}",
        f"n={len(pf.fid)}",
        f"log_delta={fit.log_delta:.6g}",
        f"l1_ratio={path.l1_ratio:g}",
        "objective=0.5*||y~-X~w||^2+mu*r*||w||_1+0.5*mu*(1-r)*||w||^2 (mu absolute)",
        "lmmlasso-cli " + meta["tool_version"],
    ]
    if path.stop_rule:
        header.append(f"path_stopped_by={path.stop_rule} after_mu_index={fit.n_mu - 1}")
    write_weights(prefix + ".weights.tsv", model.fixed, model.fixed_coefs, path.mus, header)
    write_path(prefix + ".path.tsv", path, header)
    save_model(prefix + ".model.npz", meta, pf.fid, pf.iid, model, pf.pheno.transform)
    write_score(prefix + ".score.tsv", model.score_snps, model.score_weights, header)
    _log_fit(log, pf.pheno.name, prefix, fit, model)
    return model


def plot_model(log, prefix: str, name: str, model, chosen: int | None = None) -> None:
    """PREFIX.path.png for a path (coefficients against log μ), PREFIX.effects.png for one μ
    (the selected SNPs along the genome)."""
    from lmmlasso_cli.io.plots import plot_effects, plot_path

    if len(model.mus) > 1:
        plot_path(prefix + ".path.png", model.mus, model.fixed_coefs, chosen, name)
        log.info(f"wrote {prefix}.path.png")
    else:
        plot_effects(prefix + ".effects.png", model.fixed.chrom, model.fixed.bp,
                     model.fixed_coefs[0], f"{name}, μ = {model.mus[0]:.4g}")  # fmt: skip
        log.info(f"wrote {prefix}.effects.png")


def _background_meta(background) -> dict:
    if background is None:
        return {}
    meta = {"background_source": background.source}
    if background.rel_error is not None:
        meta["background_rel_error"] = background.rel_error
    return meta


def _log_fit(log, name, prefix, fit, model) -> None:
    path, fixed, fixed_coefs, names = (
        fit.path,
        model.fixed,
        model.fixed_coefs,
        model.covariate_names,
    )
    n_bad = int((~path.converged).sum())
    if fit.n_duplicates:
        log.info(
            f"{name}: {fit.n_duplicates} SNPs have genotypes identical to an earlier SNP; "
            f"each set of copies is fitted once (the first in .bim order carries the effect)"
        )
    if fit.n_mu == 1:
        log.info(
            f"{name}: μ={path.mus[0]:.6g} (μ_max {fit.mu_max:.6g}): {path.n_active[0]} SNPs "
            f"selected, duality gap {path.gaps[0]:.3g}, converged {bool(path.converged[0])}, "
            f"training explained variance (rotated) {path.explained_variance[0]:.4f}"
        )
        for j in np.argsort(-np.abs(fixed_coefs[0]))[:10]:
            if fixed_coefs[0, j] != 0:
                log.info(
                    f"  {fixed.snp[j]} chr{fixed.chrom[j]}:{fixed.bp[j]} "
                    f"BETA_STD={fixed_coefs[0, j]:+.4f}"
                )
    else:
        log.info(
            f"{name}: path of {fit.n_mu} μ from {path.mus[0]:.4g} to {path.mus[-1]:.4g}: "
            f"{path.n_active[0]} to {path.n_active[-1]} SNPs; {n_bad} not converged"
        )
    if path.stop_rule:
        log.info(
            f"{name}: the path stopped after μ index {fit.n_mu - 1} (μ={path.mus[-1]:.6g}): "
            f"{path.stop_reason}; the smaller μ of the grid are not fitted and not in "
            f"{prefix}.path.tsv (--full-path fits them all)"
        )
    for j, cname in enumerate(names):
        log.info(f"  covariate {cname}: {fit.covariate_coefs[-1, j]:+.6g}")
    if n_bad:
        log.warning(
            f"{name}: {n_bad} fit(s) did not reach the duality-gap tolerance; see "
            f"{prefix}.path.tsv (CONVERGED = 0)"
        )
    other = (
        "" if names == ["intercept"] or not names else "; the other covariates are not in the score"
    )
    log.info(f"wrote {prefix}.weights.tsv, .path.tsv, .model.npz, .score.tsv")
    log.info(
        f"score: plink2 --score {prefix}.score.tsv 1 2 header cols=+scoresums "
        f"--score-col-nums 3-{2 + fit.n_mu}; PRED = SCORE_MU<k>_SUM + offset, offset "
        f"(μ index 0) = {model.score_offsets[0]:.10g}{other}"
    )


def compute_blocks(read_block, chrom, block_snps: int, quiet: bool):
    """`mlmages.ld.find_ld_blocks` with a progress bar over the SNPs."""
    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.mlmages.ld import find_ld_blocks

    with progress_bar(len(chrom), "LD profile", quiet, unit="SNP") as bar:
        done = [0]  # windows overlap: count each SNP once, when first reached

        def counted(start, stop):
            bar.update(max(stop - done[0], 0))
            done[0] = max(done[0], stop)
            return read_block(start, stop)

        try:
            return find_ld_blocks(counted, chrom, block_snps)
        except ValueError as exc:
            raise InputError(f"`block_snps` {block_snps}: {exc}") from None


def principal_components(log, kw, data, n_pcs: int):
    """PCs over the dataset's aligned individuals: from --kinship, else randomized (also used
    by `gwas --pcs`)."""
    import numpy as np

    from lmmlasso_cli.cli.options import EXACT_PCA_MAX_SAMPLES
    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.errors import InputError
    from lmmlasso_cli.io.dataset import snp_scales, standardized_blocks
    from lmmlasso_cli.io.kinship_file import load_kinship
    from lmmlasso_cli.io.plink import GenotypeReader
    from lmmlasso_cli.nullmodel import decompose
    from lmmlasso_cli.pca import kinship_pcs, randomized_pcs

    samples = data.samples
    scaling = kw.get("scaling", "empirical")
    method = kw.get("method", "auto")
    if method == "auto":
        method = "exact" if samples.n_samples <= EXACT_PCA_MAX_SAMPLES else "randomized"
    try:
        if kw.get("kinship"):
            kin = load_kinship(kw["kinship"])
            eig = decompose(kin.submatrix(samples.fid, samples.iid))
            log.info(f"PCs from the eigendecomposition of {kin.path} ({kin.n_snps} SNPs)")
            if n_pcs > len(eig.eigvals):
                raise InputError(
                    f"{kin.path}: holds {len(eig.eigvals)} eigenpairs (kinship --rank "
                    f"{kin.rank}), fewer than the {n_pcs} PCs asked for; lower --n-pcs "
                    f"(gwas: --pcs) to at most {len(eig.eigvals)} or rebuild the kinship "
                    f"with a larger --rank"
                )
            return kinship_pcs(eig.eigvals, eig.eigvecs, n_pcs, kin.n_snps)
        with GenotypeReader(data.plink, samples.fam_index, num_threads=kw["threads"]) as reader:
            if method == "exact":
                return _exact_pcs(log, kw, data, reader, n_pcs, scaling)
            sc = snp_scales(reader, data.snp_index, kw["maf"], kw["block_size"], scaling)
            log.info(
                f"PCs by randomized SVD of {len(sc.snp_index)} standardized SNPs "
                f"({kw.get('power_iterations', 6)} power iterations, seed {kw.get('seed', 0)})"
            )

            def blocks():
                return standardized_blocks(reader, sc.snp_index, sc.means, sc.sds, kw["block_size"])

            passes = kw.get("power_iterations", 6) + 2
            with progress_bar(passes, "PCA passes", kw["quiet"], unit="pass") as bar:
                return randomized_pcs(
                    blocks,
                    samples.n_samples,
                    len(sc.snp_index),
                    n_pcs,
                    np.random.default_rng(kw.get("seed", 0)),
                    power_iterations=kw.get("power_iterations", 6),
                    progress=bar.update,
                )
    except ValueError as exc:
        raise InputError(f"{data.plink.bed_path}: {exc}") from None


def _exact_pcs(log, kw, data, reader, n_pcs: int, scaling: str):
    """PCs from the eigendecomposition of K accumulated over the SNP blocks."""
    from lmmlasso_cli.cli.runner import progress_bar
    from lmmlasso_cli.kinship import compute_kinship
    from lmmlasso_cli.nullmodel import eigendecompose
    from lmmlasso_cli.pca import kinship_pcs

    with progress_bar(len(data.snp_index), "PCA: K", kw["quiet"], unit="SNP") as bar:
        kin = compute_kinship(
            reader.blocks(data.snp_index, kw["block_size"]),
            reader.n_samples,
            maf_min=kw["maf"],
            scaling=scaling,
            progress=bar.update,
            blas_threads=kw["threads"],
        )
    eig = eigendecompose(kin.matrix)
    log.info(f"PCs from the exact eigendecomposition of K over {kin.n_snps} SNPs ({scaling})")
    return kinship_pcs(eig.eigvals, eig.eigvecs, n_pcs, kin.n_snps)
