"""What every numba kernel of the package shares."""

# SIMD reductions and fused multiply-add; NaN and inf semantics are kept. Results are
# deterministic for a given machine and input (no threads inside the kernels).
FASTMATH = {"reassoc", "contract"}
