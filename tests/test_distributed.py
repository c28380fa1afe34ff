"""The commands on a Dask LocalCluster give the bytes of a serial run; job-array parts merge into
the whole run; merges refuse parts of other jobs; finished parts are reused; a dying worker's
unit is re-run. One 2-worker cluster serves the module."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def data(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("distributed")
    kin = str(folder / "k")
    run("kinship", "--bfile", tiny["prefix"], "--out", kin, "--threads", "1")
    inputs = ["--bfile", tiny["prefix"], "--pheno", tiny["pheno"], "--covar", tiny["covar"]]
    return {"folder": folder, "kinship": kin + ".kinship.npz", "inputs": inputs}


def run(*args, code=0):
    r = CliRunner().invoke(main, [*args, "--quiet"])
    assert r.exit_code == code, r.output
    return r


def outputs(prefix: str) -> dict:
    """Every output file of a run (not its log), by name after the prefix."""
    folder, stem = os.path.split(prefix)
    return {
        f[len(stem) :]: os.path.join(folder, f)
        for f in sorted(os.listdir(folder))
        if f.startswith(stem + ".") and not f.endswith(".log")
    }


def _npz(path):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
        meta = json.loads(str(z["__meta__"]))
    meta.pop("created")
    meta.get("params", {}).pop("out", None)  # stability records its own --out
    return arrays, meta


def assert_same_outputs(a: str, b: str):
    """The same files with the same bytes (NPZ: arrays and metadata but the timestamp)."""
    files_a, files_b = outputs(a), outputs(b)
    assert list(files_a) == list(files_b) and files_a
    for name, path in files_a.items():
        if name.endswith(".npz"):
            (arrays_a, meta_a), (arrays_b, meta_b) = _npz(path), _npz(files_b[name])
            assert meta_a == meta_b, name
            assert list(arrays_a) == list(arrays_b)
            for key, value in arrays_a.items():
                assert value.tobytes() == arrays_b[key].tobytes(), f"{name}: {key}"
        else:
            with open(path, "rb") as fa, open(files_b[name], "rb") as fb:
                assert fa.read() == fb.read(), name


def on_backends(data, cluster, name, args, local=False):
    """Run ``args`` serially (one thread), on the cluster and (``local``) on a 1-worker
    LocalCluster; assert identical outputs."""
    prefixes = [str(data["folder"] / f"{name}_serial"), str(data["folder"] / f"{name}_dask2")]
    run(*args, "--threads", "1", "--out", prefixes[0])
    run(*args, "--threads", "1", "--scheduler", cluster, "--out", prefixes[1])
    if local:
        prefixes.append(str(data["folder"] / f"{name}_local1"))
        run(*args, "--threads", "1", "--scheduler", "local", "--out", prefixes[2])
    for other in prefixes[1:]:
        assert_same_outputs(prefixes[0], other)
    return prefixes


def test_kinship_is_identical_on_every_backend(tiny, data, cluster):
    args = ["kinship", "--bfile", tiny["prefix"], "--block-size", "8", "--grm"]  # 5 units
    serial, *_ = on_backends(data, cluster, "kin", args, local=True)
    with open(serial + ".log") as handle:
        assert "SNPs: " in handle.read()


def test_gwas_over_phenotypes_is_identical_on_the_cluster(data, cluster):
    args = ["gwas", *data["inputs"], "--kinship", data["kinship"], "--block-size", "16"]
    on_backends(data, cluster, "gwas", [*args, "--pheno-name", "q,q_na"])
    on_backends(data, cluster, "exact", [*args, "--pheno-name", "q", "--exact"])
    on_backends(data, cluster, "lm", [*args, "--pheno-name", "q", "--lm"])


def test_gwas_loco_is_identical_on_every_backend(data, cluster, monkeypatch):
    """--loco: the kinship units, then one unit per chromosome (its K_-c, eigendecomposition,
    null models and scan), serial, on the cluster and on worker processes."""
    import lmmlasso_cli.cli.gwas as gwas_command

    args = ["gwas", *data["inputs"], "--loco", "--block-size", "16", "--pheno-name", "q,q_na"]
    serial, dask2 = on_backends(data, cluster, "loco", args)
    with open(dask2 + ".log") as handle:
        assert "chromosome 2: kinship from the 149 SNPs of the other" in handle.read()
    monkeypatch.setattr(gwas_command, "POOL_MIN_CALLS", 0)
    pool = str(data["folder"] / "loco_pool")
    run(*args, "--threads", "2", "--out", pool)
    with open(pool + ".log") as handle:
        assert "2 worker processes" in handle.read()
    assert_same_outputs(serial, pool)


def test_gwas_on_worker_processes_equals_the_serial_scan(data, monkeypatch):
    """Without --scheduler a big scan runs its SNP units on --threads processes."""
    import lmmlasso_cli.cli.gwas as gwas_command

    monkeypatch.setattr(gwas_command, "POOL_MIN_CALLS", 0)
    args = ["gwas", *data["inputs"], "--kinship", data["kinship"], "--block-size", "16"]
    args += ["--pheno-name", "q,q_na"]
    prefixes = [str(data["folder"] / f"gwas_pool{t}") for t in (1, 2)]
    for threads, prefix in zip((1, 2), prefixes, strict=True):
        run(*args, "--threads", str(threads), "--out", prefix)
    with open(prefixes[1] + ".log") as handle:
        assert "2 worker processes" in handle.read()
    assert_same_outputs(*prefixes)


def test_fit_null_and_fit_over_phenotypes_are_identical_on_the_cluster(data, cluster):
    common = [*data["inputs"], "--kinship", data["kinship"], "--pheno-name", "q,q_na"]
    on_backends(data, cluster, "null", ["fit-null", *common])
    on_backends(data, cluster, "fit", ["fit", *common, "--n-active", "4", "--n-mu", "12"])


def test_stability_and_cv_are_identical_on_the_cluster(data, cluster):
    common = [*data["inputs"], "--kinship", data["kinship"], "--pheno-name", "q"]
    on_backends(data, cluster, "stab", ["stability", *common, "--n-reps", "4", "--n-active", "3"])
    on_backends(data, cluster, "cv", ["cv", *common, "--folds", "3", "--n-mu", "6"])


def test_simulate_is_identical_on_the_cluster(tiny, data, cluster):
    args = ["simulate", "--bfile", tiny["prefix"], "--kinship", data["kinship"], "--n-pheno", "3"]
    on_backends(data, cluster, "sim", [*args, "--n-causal", "4"])


def test_kinship_parts_merge_into_the_whole_run(tiny, data):
    folder = data["folder"]
    args = ["kinship", "--bfile", tiny["prefix"], "--block-size", "8", "--threads", "1"]
    run(*args, "--out", str(folder / "whole"))
    whole = _npz(str(folder / "whole.kinship.npz"))
    for n in (2, 3):  # fixed-point sums: the same bytes however the units are grouped
        parts = []
        for k in range(1, n + 1):
            parts.append(str(folder / f"kpart{k}of{n}"))
            run(*args, "--part", f"{k}/{n}", "--out", parts[-1])
        files = [p + ".kinship-part.npz" for p in parts]
        run("kinship", "--merge", *reversed(files), "--out", str(folder / f"merged{n}"))
        merged = _npz(str(folder / f"merged{n}.kinship.npz"))
        for key in ("K", "fid", "iid", "snp", "a1", "snp_means", "snp_sds", "scaling", "scale"):
            assert whole[0][key].tobytes() == merged[0][key].tobytes(), (n, key)
    stamp = os.stat(files[1]).st_mtime_ns
    run(*args, "--part", f"2/{n}", "--out", parts[1])  # a restarted job array
    assert os.stat(files[1]).st_mtime_ns == stamp
    with open(parts[1] + ".log") as handle:
        assert "reusing it" in handle.read()


def test_kinship_merge_refuses_parts_of_other_jobs(tiny, data):
    folder = data["folder"]
    args = ["kinship", "--bfile", tiny["prefix"], "--block-size", "8", "--threads", "1"]
    run(*args, "--part", "1/2", "--out", str(folder / "j1"))
    run(*args, "--part", "2/2", "--maf", "0.1", "--out", str(folder / "j2maf"))
    p1, p2 = str(folder / "j1.kinship-part.npz"), str(folder / "j2maf.kinship-part.npz")
    r = run("kinship", "--merge", p1, p2, "--out", str(folder / "bad"), code=1)
    assert "cannot be merged" in r.output and "maf" in r.output
    r = run("kinship", "--merge", p1, "--out", str(folder / "bad"), code=1)
    assert "parts 2 of 2 are missing" in r.output
    r = run("kinship", "--merge", p1, p1, "--out", str(folder / "bad"), code=1)
    assert "also" in r.output
    assert not os.path.exists(str(folder / "bad.kinship.npz"))
    # a part of an older version (float sums, no fixed-point bits): one line saying to rerun it
    import dataclasses

    from lmmlasso_cli.io.kinship_file import load_kinship_part, save_kinship_part
    from lmmlasso_cli.kinship import _to_float

    done = load_kinship_part(p1)
    old = dataclasses.replace(
        done.part, upper=_to_float(done.part.upper, done.part.fixed_bits), fixed_bits=None
    )
    p_old = str(folder / "old.kinship-part.npz")
    save_kinship_part(p_old, old, 1, 2, done.job, done.fid, done.iid, done.snp, done.a1, {})
    r = run("kinship", "--merge", p_old, p1, "--out", str(folder / "bad"), code=1)
    assert r.output.count("\n") == 1 and p_old in r.output
    assert "older lmmlasso" in r.output and "--part 1/2" in r.output


def test_gwas_parts_concatenate_into_the_whole_run(data):
    folder = data["folder"]
    args = ["gwas", *data["inputs"], "--kinship", data["kinship"], "--pheno-name", "q"]
    args += ["--block-size", "16", "--threads", "1"]  # 5 units of 64 SNPs
    run(*args, "--out", str(folder / "gwhole"))
    parts = []
    for k in (1, 2, 3):
        parts.append(str(folder / f"gpart{k}.gwas.tsv"))
        run(*args, "--part", f"{k}/3", "--out", parts[-1][: -len(".gwas.tsv")])
    run("gwas", "--merge", *parts, "--out", str(folder / "gmerged"))
    with open(folder / "gwhole.gwas.tsv", "rb") as a, open(folder / "gmerged.gwas.tsv", "rb") as b:
        whole = a.read()
        assert whole == b.read()
    shell = []  # the README's shell command: grep -hv '^##' parts | awk 'NR==1 || !/^#CHROM/'
    for path in parts:
        with open(path) as handle:
            shell += [line for line in handle if not line.startswith("##")]
    shell = [line for i, line in enumerate(shell) if i == 0 or not line.startswith("#CHROM")]
    assert "".join(shell).encode() == whole
    stamp = os.stat(parts[0]).st_mtime_ns
    r = run(*args, "--part", "1/3", "--out", parts[0][: -len(".gwas.tsv")])
    assert os.stat(parts[0]).st_mtime_ns == stamp  # reused on restart
    other = str(folder / "gother")
    run(*args, "--part", "2/3", "--maf", "0.2", "--out", other)
    bad = ["--out", str(folder / "gbad")]
    r = run("gwas", "--merge", parts[0], other + ".gwas.tsv", parts[2], *bad, code=1)
    assert "another job" in r.output


def _die_once(marker, x):
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # the worker process dies in the middle of the unit
    return 2 * x


def test_a_dying_worker_is_replaced_and_its_unit_rerun(tmp_path, cluster):
    import functools

    from lmmlasso_cli.parallel import open_backend

    with open_backend(1, scheduler=cluster) as backend:
        task = functools.partial(_die_once, str(tmp_path / "died"))
        assert list(backend.map(task, [1, 2, 3])) == [2, 4, 6]
    assert (tmp_path / "died").exists()


def _is_mapped(shared, _):
    from lmmlasso_cli.io.shared_arrays import resolve

    return resolve(shared).eigvecs.filename is not None


def test_shared_arrays_reach_workers_as_memory_maps_not_copies(tmp_path, cluster):
    import functools

    from lmmlasso_cli.nullmodel import KinshipEigen
    from lmmlasso_cli.parallel import open_backend

    eig = KinshipEigen(np.ones(300), np.ones((300, 300)), 0)
    with open_backend(1, scheduler=cluster, shared_dir=str(tmp_path)) as backend:
        task = functools.partial(_is_mapped, backend.share(eig))
        assert all(backend.map(task, range(4)))  # the scheduler re-pickles tasks: still paths


def test_shrink_training_is_identical_on_the_cluster(tiny, data, cluster):
    """ML-MAGES training: the block simulations and the networks are units on the cluster."""
    gwas = str(data["folder"] / "shrink_gwas")
    run("gwas", *data["inputs"], "--pheno-name", "q", "--lm", "--out", gwas)
    args = ["shrink", "--bfile", tiny["prefix"], "--gwas", gwas + ".gwas.tsv"]
    args += ["--block-snps", "50", "--n-replicates", "12", "--n-models", "2"]
    serial, dask2 = on_backends(data, cluster, "shrink", [*args, "--max-epochs", "8"])
    with open(dask2 + ".log") as handle:
        assert "dask" in handle.read().lower()
