import numpy as np
import pytest
from _reference import dense_kinship, dense_standardize
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.io.kinship_file import load_kinship
from lmmlasso_cli.kinship import compute_kinship, leave_one_chromosome_out

KINSHIP_TOL = 1e-10
FLOAT32_KINSHIP_ATOL = 1e-6  # issue 10: float32 block products against float64
GRM_FLOAT32_TOL = 1e-6


def blocks_of(G, size):
    for start in range(0, G.shape[1], size):
        idx = np.arange(start, min(start + size, G.shape[1]))
        yield idx, G[:, idx]


@pytest.mark.parametrize("block_size", [1, 7, 1000])
def test_kinship_matches_dense_formula(tiny, block_size):
    G = tiny["G"]
    kin = compute_kinship(blocks_of(G, block_size), G.shape[0])
    usable = [j for j in range(G.shape[1]) if np.nanstd(G[:, j]) > 0]
    np.testing.assert_allclose(kin.matrix, dense_kinship(G[:, usable]), atol=KINSHIP_TOL)
    assert kin.n_monomorphic == 1 and kin.n_snps == G.shape[1] - 1
    assert np.mean(np.diag(kin.matrix)) == pytest.approx(1.0, abs=1e-12)


def test_hwe_scaling_matches_dense_formula(tiny):
    G = tiny["G"][:, [j for j in range(300) if j != 5]]
    kin = compute_kinship(blocks_of(G, 64), G.shape[0], scaling="hwe")
    f = np.nanmean(G, axis=0) / 2
    Gi = np.where(np.isnan(G), 2 * f, G)
    Z = (Gi - 2 * f) / np.sqrt(2 * f * (1 - f))
    K = Z @ Z.T / Z.shape[1]
    np.testing.assert_allclose(kin.matrix, K / np.mean(np.diag(K)), atol=KINSHIP_TOL)
    assert kin.scale != pytest.approx(1.0, abs=1e-6)


def test_maf_filter_drops_rare_snps():
    rng = np.random.default_rng(1)
    G = rng.binomial(2, 0.3, size=(200, 50)).astype(float)
    G[:, :5] = 0.0
    G[:3, :5] = 1.0  # MAF 3/400
    kin = compute_kinship(blocks_of(G, 16), 200, maf_min=0.01)
    assert kin.n_low_maf == 5 and kin.n_snps == 45
    np.testing.assert_allclose(kin.matrix, dense_kinship(G[:, 5:]), atol=KINSHIP_TOL)


def test_loco_equals_direct_recomputation(tiny):
    G = tiny["G"][:, [j for j in range(300) if j != 5]]
    chrom = np.array(["1"] * 150 + ["2"] * 149)
    kin = compute_kinship(blocks_of(G, 40), G.shape[0], chrom=chrom)
    np.testing.assert_allclose(kin.matrix, dense_kinship(G), atol=KINSHIP_TOL)
    for c in ("1", "2"):
        direct = dense_kinship(G[:, chrom != c])
        np.testing.assert_allclose(leave_one_chromosome_out(kin, c), direct, atol=KINSHIP_TOL)


def test_cli_kinship_writes_npz_and_gcta(tiny, tmp_path):
    out = str(tmp_path / "k")
    result = CliRunner().invoke(
        main,
        [
            "kinship",
            "--bfile",
            tiny["prefix"],
            "--out",
            out,
            "--grm",
            "--block-size",
            "50",
            "--quiet",
            "--precision",
            "float64",
        ],
    )
    assert result.exit_code == 0, result.output
    kin = load_kinship(out + ".kinship.npz")
    G = tiny["G"]
    usable = [j for j in range(G.shape[1]) if j != 5]
    np.testing.assert_allclose(kin.matrix, dense_kinship(G[:, usable]), atol=KINSHIP_TOL)
    assert list(kin.snp) == [f"rs{j}" for j in usable]
    np.testing.assert_allclose(kin.means, np.nanmean(G[:, usable], axis=0), atol=1e-12)
    Z = dense_standardize(G[:, usable])
    Gi = Z * kin.sds + kin.means
    observed = ~np.isnan(G[:, usable])
    np.testing.assert_allclose(Gi[observed], G[:, usable][observed], atol=1e-12)
    grm = load_kinship(out + ".grm.bin")
    np.testing.assert_allclose(grm.matrix, kin.matrix, atol=GRM_FLOAT32_TOL)
    assert list(grm.iid) == tiny["iid"] and grm.n_snps == len(usable)
    log = open(out + ".log").read()
    assert "1 monomorphic" in log and "command: " in log


def test_cli_kinship_with_snp_subsets(tiny, tmp_path):
    """--extract/--exclude/--chr select SNPs by .bim row; the npz names exactly those SNPs."""
    extract = tmp_path / "extract.txt"
    chosen = [3, 5, 17, 18, 150, 151, 152, 299]  # 5 is monomorphic and is dropped
    extract.write_text("".join(f"rs{j}\n" for j in chosen))
    exclude = tmp_path / "exclude.txt"
    exclude.write_text("rs18\n")
    out = str(tmp_path / "k")
    args = [
        "kinship",
        "--precision",
        "float64",
        "--bfile",
        tiny["prefix"],
        "--extract",
        str(extract),
        "--exclude",
        str(exclude),
        "--chr",
        "1",
        "--out",
        out,
        "--quiet",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    kin = load_kinship(out + ".kinship.npz")
    used = [3, 17]  # chromosome 1 is SNPs 0..149
    assert list(kin.snp) == [f"rs{j}" for j in used]
    np.testing.assert_allclose(kin.matrix, dense_kinship(tiny["G"][:, used]), atol=KINSHIP_TOL)


def test_block_products_give_the_same_bits_for_any_thread_count():
    """The one BLAS routine allowed threads (`kinship._accumulate`, syrk) must not change its
    result with their number, or --threads would change outputs (gemm and syevd do change:
    that is why everything else runs on one BLAS thread). Large enough for OpenBLAS to thread."""
    rng = np.random.default_rng(5)
    G = rng.binomial(2, 0.3, size=(800, 1200)).astype(np.float32)
    blocks = [(np.arange(a, a + 400), G[:, a : a + 400]) for a in range(0, 1200, 400)]
    one, two = (compute_kinship(blocks, 800, blas_threads=t).matrix for t in (1, 2))
    np.testing.assert_array_equal(one, two)


def test_float32_products_give_the_kinship_to_1e6(tiny, tmp_path):
    """The float32 block products (summed in float64) against the float64 kinship."""

    outs = {}
    for precision in ("float32", "float64"):
        out = str(tmp_path / precision)
        args = ["kinship", "--bfile", tiny["prefix"], "--out", out, "--quiet"]
        result = CliRunner().invoke(main, [*args, "--precision", precision, "--block-size", "64"])
        assert result.exit_code == 0, result.output
        outs[precision] = load_kinship(out + ".kinship.npz").matrix
    diff = np.abs(outs["float32"] - outs["float64"]).max()
    assert 0 < diff <= FLOAT32_KINSHIP_ATOL


def test_float32_ssyrk_is_thread_invariant():
    from lmmlasso_cli.kinship import _accumulate

    z = np.asfortranarray(np.random.default_rng(2).standard_normal((300, 700)), dtype=np.float32)
    one = _accumulate(np.zeros((300, 300), order="F"), z, blas_threads=1)
    two = _accumulate(np.zeros((300, 300), order="F"), z, blas_threads=2)
    assert one.tobytes() == two.tobytes()


def test_fixed_point_units_add_exactly_in_any_grouping(tiny):
    """Units rounded to fixed point give the same bits in any tree (integer addition), and the
    rounding stays within the dense formula's tolerance."""
    from lmmlasso_cli.kinship import (
        add_parts,
        finish_kinship,
        fixed_point_bits,
        kinship_part,
        to_fixed,
    )
    from lmmlasso_cli.parallel import tree_sum

    G = tiny["G"]
    n, p = G.shape
    bits = fixed_point_bits(n, p)
    units = [
        to_fixed(kinship_part(blocks_of(G[:, a : a + 37], 11), n), bits) for a in range(0, p, 37)
    ]

    def left_fold(parts):
        total = parts[0]
        for part in parts[1:]:
            total = add_parts(total, part)
        return total

    def right_fold(parts):
        total = parts[-1]
        for part in reversed(parts[:-1]):
            total = add_parts(part, total)
        return total

    sums = [tree_sum(units, add_parts), left_fold(units), right_fold(units)]
    sums.append(add_parts(tree_sum(units[:3], add_parts), tree_sum(units[3:], add_parts)))
    first = finish_kinship(sums[0]).matrix
    for other in sums[1:]:
        assert finish_kinship(other).matrix.tobytes() == first.tobytes()
    usable = [j for j in range(p) if np.nanstd(G[:, j]) > 0]
    np.testing.assert_allclose(first, dense_kinship(G[:, usable]), atol=KINSHIP_TOL)
    floats = left_fold([kinship_part(blocks_of(G[:, a : a + 37], 11), n) for a in range(0, p, 37)])
    step = 2.0**-bits * len(units) / p  # at most half a step per unit and entry, over p
    np.testing.assert_allclose(first, finish_kinship(floats).matrix, rtol=0, atol=step)


def test_fixed_point_bits_hold_the_largest_possible_sums():
    """The bound of `fixed_point_bits` (z² ≤ 4n per SNP): SNPs whose only minor alleles are on
    one individual, the largest diagonal entries there are, fit in the int64 sums."""
    from lmmlasso_cli.kinship import fixed_point_bits, kinship_part, to_fixed

    n, p = 500, 64
    G = np.zeros((n, p))
    G[0] = 2.0  # one homozygote: f = 1/n, z² = (2 − 2f)² / (2f(1 − f)) ≈ 2n
    G[1, : p // 2] = 1.0
    part = kinship_part(blocks_of(G, 16), n, scaling="hwe")
    fixed = to_fixed(part, fixed_point_bits(n, p))
    assert int(np.abs(fixed.upper).max()) < 2**62
    assert part.upper[0, 0] > 1.5 * n * p / 2  # near the bound: z² ≈ 2n, then n
    assert (
        abs(fixed.upper[0, 0] * 2.0**-fixed.fixed_bits - part.upper[0, 0]) <= 2.0**-fixed.fixed_bits
    )
    with pytest.raises(ValueError, match="too large"):
        to_fixed(part, fixed_point_bits(n, p) + 20)


def test_fixed_point_kernel_rounds_like_numpy():
    """The one-pass kernel against numpy's rint(ldexp(x, bits)) on the upper triangle, with
    halves (ties to even) and both signs."""
    from lmmlasso_cli.kinship_kernels import round_upper_to_fixed

    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 40)) * 1e3
    x[0, :8] = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.0, -0.0]) * 2.0**-10
    out = np.zeros((40, 40), dtype=np.int64, order="F")
    assert round_upper_to_fixed(np.asfortranarray(x), 2.0**10, out)
    expected = np.triu(np.rint(np.ldexp(x, 10))).astype(np.int64)
    np.testing.assert_array_equal(out, expected)
    assert not round_upper_to_fixed(np.asfortranarray(x), 2.0**60, out)
