"""lmmlasso-cli: sparse linear mixed models (LMM-Lasso) and LMM association scans for PLINK data."""

__version__ = "0.1.0"
