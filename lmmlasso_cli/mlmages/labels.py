"""Association types of mixture components, for any number of traits.

A component with covariance Σ (p × p, eigenvalues λ_1 ≥ … ≥ λ_p, unit eigenvectors e_a) is
typed from its shape:

1. Principal dimension m: the first a with λ_a / λ_{a+1} > `specific_ratio` (a clear gap);
   if there is no such gap, m = p when every ratio is below `shared_ratio` (a round
   component) and the component is ``ambiguous`` otherwise.
2. Variance shares of the principal part P = Σ_{a≤m} λ_a e_a e_aᵀ: share_t = P_tt / tr(P).
3. The traits it loads on: S = {t : share_t ≥ sin²(`angle_tol_deg`)}. One trait gives
   ``specific:<trait>``, several give ``shared:<t1>+<t2>…`` (in trait order).

Components flagged as null (`null_components`: every marginal sd below a multiple of the zero
cutoff) are ``none``, as are the variants set aside before clustering.

For two traits this is the original's geometric rule with its call-site thresholds (ratio > 2
and the leading axis within 15° of a trait axis → specific, ratio > 2 otherwise → shared,
ratio < 1.5 → shared, in between → no label), without its bug near 360°: with m = 1 the share
of the other trait is sin² of the angle between e_1 and the trait axis, and a round component
has both shares ≥ 0.4 > sin² 15°. For p > 2 it replaces the original's mis-indexed reference
vectors by the trait axes themselves, with signs ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NONE = "none"
AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class ComponentTypes:
    """Types of the K components, in the mixture's component order."""

    types: tuple[str, ...]  # (K,) ``specific:<t>``, ``shared:<t>+<u>…``, ``none``, ``ambiguous``
    trait_sets: tuple[tuple[int, ...], ...]  # (K,) 0-based traits each loads on; () if untyped
    eigvals: np.ndarray  # (K, p) descending
    principal_dim: np.ndarray  # (K,) m, 0 for ``none`` and ``ambiguous``
    shares: np.ndarray  # (K, p) variance shares of the principal part (NaN if untyped)
    trait_names: tuple[str, ...]

    def traits_of(self) -> dict[str, tuple[int, ...]]:
        """Each type string → the 0-based traits it names (() for ``none``/``ambiguous``)."""
        out = {NONE: (), AMBIGUOUS: ()}
        for name, traits in zip(self.types, self.trait_sets, strict=True):
            out[name] = traits
        return out

    def of_variants(self, labels: np.ndarray) -> np.ndarray:
        """(n_variants,) type of each variant; label −1 (set aside) is ``none``."""
        labels = np.asarray(labels)
        table = np.array(list(self.types) + [NONE], dtype=object)
        return table[np.where(labels >= 0, labels, len(self.types))]


def type_name(traits: tuple[int, ...], trait_names: tuple[str, ...]) -> str:
    if len(traits) == 1:
        return f"specific:{trait_names[traits[0]]}"
    return "shared:" + "+".join(trait_names[t] for t in traits)


def traits_of_types(types, trait_names) -> dict[str, tuple[int, ...]]:
    """Parse type strings (as read back from a clusters or components table) into the 0-based
    traits they name; ``none`` and ``ambiguous`` map to ()."""
    index = {str(name): t for t, name in enumerate(trait_names)}
    out: dict[str, tuple[int, ...]] = {NONE: (), AMBIGUOUS: ()}
    for name in types:
        name = str(name)
        if name in out:
            continue
        kind, _, rest = name.partition(":")
        parts = rest.split("+") if kind == "shared" else [rest]
        if kind not in ("specific", "shared") or any(part not in index for part in parts):
            raise ValueError(
                f"type {name!r} does not name traits among {', '.join(index)}; expected "
                f"specific:<trait>, shared:<trait>+<trait>…, none or ambiguous"
            )
        out[name] = tuple(sorted(index[part] for part in parts))
    return out


def null_components(
    covariances: np.ndarray, zero_cutoff: float, null_sd_factor: float = 2.0
) -> np.ndarray:
    """(K,) bool: components whose largest marginal sd is ≤ ``null_sd_factor``·``zero_cutoff``,
    i.e. whose draws are mostly indistinguishable from the set-aside near-zero variants."""
    sd = np.sqrt(np.max(np.diagonal(np.asarray(covariances), axis1=1, axis2=2), axis=1))
    return sd <= null_sd_factor * zero_cutoff


def label_components(
    covariances: np.ndarray,
    trait_names,
    null_mask: np.ndarray | None = None,
    specific_ratio: float = 2.0,
    shared_ratio: float = 1.5,
    angle_tol_deg: float = 15.0,
) -> ComponentTypes:
    """Type each component (module docstring). ``covariances`` is (K, p, p); ``trait_names``
    has p names; ``null_mask`` (K,) marks the ``none`` components."""
    cov = np.asarray(covariances, dtype=np.float64)
    if cov.ndim != 3 or cov.shape[1] != cov.shape[2]:
        raise ValueError(f"`covariances` must be (K, p, p), got shape {cov.shape}")
    K, p = cov.shape[:2]
    names = tuple(str(t) for t in trait_names)
    if len(names) != p:
        raise ValueError(f"`trait_names` has {len(names)} names for {p} traits")
    if any(("+" in t or ":" in t or not t) for t in names) or len(set(names)) < p:
        raise ValueError(f"`trait_names` must be distinct, non-empty, without '+' or ':': {names}")
    if not shared_ratio <= specific_ratio:
        raise ValueError("`shared_ratio` must not exceed `specific_ratio`")
    null_mask = np.zeros(K, dtype=bool) if null_mask is None else np.asarray(null_mask, bool)
    share_tol = np.sin(np.deg2rad(angle_tol_deg)) ** 2
    types, sets = [], []
    eigvals = np.empty((K, p))
    dims = np.zeros(K, dtype=np.int64)
    shares = np.full((K, p), np.nan)
    for k in range(K):
        vals, vecs = np.linalg.eigh(cov[k])
        vals, vecs = np.clip(vals[::-1], 0.0, None), vecs[:, ::-1]
        eigvals[k] = vals
        if null_mask[k]:
            types.append(NONE)
            sets.append(())
            continue
        m = _principal_dim(vals, specific_ratio, shared_ratio)
        if m == 0:
            types.append(AMBIGUOUS)
            sets.append(())
            continue
        principal = (vecs[:, :m] ** 2) @ vals[:m]
        shares[k] = principal / principal.sum()
        traits = tuple(int(t) for t in np.flatnonzero(shares[k] >= share_tol))
        dims[k] = m
        types.append(type_name(traits, names))
        sets.append(traits)
    return ComponentTypes(tuple(types), tuple(sets), eigvals, dims, shares, names)


def _principal_dim(vals: np.ndarray, specific_ratio: float, shared_ratio: float) -> int:
    p = len(vals)
    if p == 1:
        return 1
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = vals[:-1] / vals[1:]
    ratios = np.where(vals[1:] > 0, ratios, np.inf)
    gaps = np.flatnonzero(ratios > specific_ratio)
    if len(gaps):
        return int(gaps[0]) + 1
    return p if np.all(ratios < shared_ratio) else 0
