"""Tests of lmmlasso_cli.parallel and io.shared_arrays: the fixed reduction tree, backends giving
the same bits, shared arrays pickling as paths, and the message when dask is missing."""

import functools
import operator
import pickle
import sys

import numpy as np
import pytest

from lmmlasso_cli.errors import InputError
from lmmlasso_cli.io.plink import read_plink
from lmmlasso_cli.io.shared_arrays import SharedRecord, resolve, shared_folder
from lmmlasso_cli.io.work_units import GenotypeSource, kinship_unit, part_units, snp_units
from lmmlasso_cli.kinship import add_parts, compute_kinship, finish_kinship, fixed_point_bits
from lmmlasso_cli.nullmodel import KinshipEigen
from lmmlasso_cli.parallel import DASK_INSTALL, open_backend, tree_sum, unit_progress

ROUNDING = 1e-13  # relative: a different summation order of the same kinship terms


def _join(a, b):
    return f"({a}+{b})"


@pytest.mark.parametrize(
    "n, tree",
    [
        (1, "0"),
        (2, "(0+1)"),
        (3, "((0+1)+2)"),
        (5, "(((0+1)+(2+3))+4)"),
        (6, "(((0+1)+(2+3))+(4+5))"),
        (7, "(((0+1)+(2+3))+((4+5)+6))"),
    ],
)
def test_tree_sum_has_one_fixed_shape(n, tree):
    assert tree_sum(map(str, range(n)), _join) == tree


def test_tree_sum_needs_a_value():
    with pytest.raises(ValueError, match="at least one"):
        tree_sum([], _join)


def test_units_are_whole_blocks_and_parts_are_contiguous():
    units = snp_units(100, 8, 2)
    assert [(u.start, u.stop) for u in units] == [(0, 16), (16, 32), (32, 48), (48, 64),
                                                 (64, 80), (80, 96), (96, 100)]  # fmt: skip
    parts = [part_units(units, k, 3) for k in (1, 2, 3)]
    assert [len(p) for p in parts] == [3, 2, 2]
    assert sum(parts, []) == units


def _kinship_on(backend, tiny, block_size=16, blocks_per_unit=2):
    plink = read_plink(tiny["prefix"])
    source = GenotypeSource.of(plink, np.arange(plink.n_samples), 1)
    units = snp_units(plink.n_snps, block_size, blocks_per_unit)
    bits = fixed_point_bits(plink.n_samples, plink.n_snps)
    task = functools.partial(kinship_unit, source, block_size, 0.0, "empirical", "float64", bits)
    items = [np.arange(plink.n_snps)[u] for u in units]
    return finish_kinship(backend.tree_sum(task, items, add_parts))


def test_kinship_units_give_the_same_bits_serially_and_in_a_process_pool(tiny):
    with open_backend(1) as serial:
        assert serial.name == "serial"
        one = _kinship_on(serial, tiny)
    with open_backend(2, n_tasks=10, processes=True) as pool:
        assert pool.name == "processes"
        two = _kinship_on(pool, tiny)
    assert one.matrix.tobytes() == two.matrix.tobytes()
    np.testing.assert_array_equal(one.snp_index, two.snp_index)
    G = tiny["G"]
    reference = compute_kinship([(np.arange(G.shape[1]), G)], G.shape[0])
    np.testing.assert_allclose(one.matrix, reference.matrix, rtol=0, atol=ROUNDING)


def test_unit_progress_reaches_this_process_from_worker_processes():
    seen = []
    with open_backend(2, n_tasks=4, processes=True) as pool:
        assert pool.name == "processes"
        with unit_progress(pool, seen.append) as progress:
            pickle.dumps(progress)  # it travels into the units
            list(pool.map(functools.partial(operator.call, progress), [1, 2, 3, 4]))
        assert sorted(seen) == [1, 2, 3, 4]  # all drained once the block ends
    with open_backend(1) as serial, unit_progress(serial, seen.append) as progress:
        assert progress == seen.append  # a serial run calls the bar directly


def test_shared_record_pickles_as_paths_and_rebuilds_the_dataclass(tmp_path):
    rng = np.random.default_rng(0)
    eig = KinshipEigen(rng.random(300), rng.random((300, 300)), 2)
    with shared_folder(str(tmp_path)) as share:
        shared = share(eig)
        assert isinstance(shared, SharedRecord)
        payload = pickle.dumps(shared)
        assert len(payload) < 5000  # a path and 300 eigenvalues, not 8 * 300² bytes
        back = pickle.loads(pickle.dumps(pickle.loads(payload)))  # as a Dask scheduler does
        assert isinstance(back, SharedRecord) and len(pickle.dumps(back)) == len(payload)
        back = resolve(back)
        assert isinstance(back, KinshipEigen) and back.n_clipped == 2
        np.testing.assert_array_equal(back.eigvecs, eig.eigvecs)
        assert isinstance(back.eigvecs, np.memmap)
        small = share(np.ones(3))
        assert isinstance(small, np.ndarray)  # small arrays travel in the pickle
    assert not any(tmp_path.iterdir())  # the folder is removed with the block


def test_nested_genotypes_are_shared_as_files_not_pickled(tmp_path):
    """A TrainingData holds CompactGenotypes: its codes must travel as a path too."""
    from lmmlasso_cli.compact import CompactGenotypes
    from lmmlasso_cli.selection.folds import TrainingData

    rng = np.random.default_rng(1)
    codes = np.asfortranarray(rng.integers(0, 3, (200, 20_000), dtype=np.uint8))
    store = CompactGenotypes.from_codes(codes, codes.mean(axis=0), np.ones(20_000))
    data = TrainingData(store, rng.random(200), np.ones((200, 1)), np.eye(200))
    with shared_folder(str(tmp_path)) as share:
        payload = pickle.dumps(share(data))
        assert len(payload) < codes.nbytes // 100
        back = resolve(pickle.loads(payload))
        assert isinstance(back.X, CompactGenotypes) and isinstance(back.X.codes, np.memmap)
        np.testing.assert_array_equal(back.X.codes, codes)
        np.testing.assert_array_equal(back.X.lut, store.lut)


def test_scheduler_without_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"pip install 'lmmlasso-cli\[dask\]'"):
        with open_backend(1, scheduler="local"):
            pass
    assert "\n" not in DASK_INSTALL


def test_units_run_numba_on_one_thread_and_restore_it():
    """Dask workers limit BLAS, not numba: `_one_blas_thread` sets numba's threads to one for
    the unit and puts the caller's count back."""
    import numba

    from lmmlasso_cli.parallel import _one_blas_thread

    before = numba.get_num_threads()
    assert _one_blas_thread(lambda _: numba.get_num_threads(), None) == 1
    assert numba.get_num_threads() == before
