"""ML-MAGES (Liu, Crawford and Ramachandran 2025): LD blocks, neural-network shrinkage of
marginal effects, multi-trait clustering by variational inference, and gene-level tests."""
