"""Memory plans: printed, shrinking the block to fit, refusing what cannot fit."""

import pytest
from click.testing import CliRunner

from lmmlasso_cli.cli import main
from lmmlasso_cli.errors import InputError
from lmmlasso_cli.memory import BASELINE_BYTES, GB, MIN_BLOCK_SNPS, Sizes, plan_memory


def test_plan_adds_its_parts_and_the_baseline():
    sizes = Sizes(n_samples=1000, n_snps=50_000, n_kinship=1000)
    plan = plan_memory("fit", sizes, 2048, 100 * GB)
    assert plan.fits and plan.block_snps == 2048
    assert plan.peak == pytest.approx(plan.baseline + sum(size for _, size in plan.parts))
    codes = dict(plan.parts)["genotype codes"]  # the Lasso phase is the larger here
    assert codes == 1000 * 50_000  # one byte per call
    assert "estimated peak" in plan.describe()


def test_block_shrinks_to_fit_then_refuses():
    sizes = Sizes(n_samples=20_000, n_snps=10_000)
    full = plan_memory("ld", sizes, 4096, 100 * GB)
    smaller = plan_memory("ld", sizes, 4096, full.peak - 1)
    assert smaller.block_snps < 4096 and smaller.fits
    with pytest.raises(InputError, match=r"gwas needs about .* GB .* more than `memory`"):
        plan_memory("gwas", sizes, 4096, BASELINE_BYTES)
    tiny = plan_memory("ld", sizes, 4096, plan_memory("ld", sizes, MIN_BLOCK_SNPS, 1e15).peak)
    assert tiny.block_snps == MIN_BLOCK_SNPS


def test_cli_prints_the_plan_and_refuses_a_budget_too_small(toy, tmp_path):
    out = str(tmp_path / "k")
    base = ["kinship", "--bfile", str(toy / "toy"), "--out", out, "--quiet"]
    result = CliRunner().invoke(main, base)
    assert result.exit_code == 0, result.output
    assert "memory plan: estimated peak" in open(out + ".log").read()
    result = CliRunner().invoke(main, [*base, "--memory", "0.01"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: kinship needs about")
    assert "--memory 0.01 GB" in lines[0]
