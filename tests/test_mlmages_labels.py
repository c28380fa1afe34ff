"""Association types of components: the original's 2-trait rule, and any number of traits."""

import numpy as np
import pytest

from lmmlasso_cli.mlmages.labels import (
    AMBIGUOUS,
    NONE,
    label_components,
    null_components,
    traits_of_types,
)

BOUNDARY_MARGIN = 1e-6  # skip random cases this close to a threshold of the rule


def _original_bivar(cov, angle_tol=15.0, ratio_specific=2.0, ratio_shared=1.5):
    """ML-MAGES' check_specific_or_shared_bivar at its call-site thresholds, with the hard-coded
    330° replaced by 360° − tol: eigen-decompose, angle of the leading axis by atan2."""
    vals, vecs = np.linalg.eig(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order].real, vecs[:, order].real
    angle = np.degrees(np.arctan2(vecs[1, 0], vecs[0, 0])) % 360
    ratio = vals[0] / vals[1]
    label = None
    if ratio > ratio_specific:
        if angle < angle_tol or abs(angle - 180) < angle_tol or angle > 360 - angle_tol:
            label = "specific:A"
        elif abs(angle - 90) < angle_tol or abs(angle - 270) < angle_tol:
            label = "specific:B"
        else:
            label = "shared:A+B"
    if ratio < ratio_shared:
        label = "shared:A+B"
    return label or AMBIGUOUS, angle, ratio


def _rotated(angle_deg, major, minor):
    t = np.radians(angle_deg)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return R @ np.diag([major, minor]) @ R.T


def test_two_traits_reproduce_the_original_geometric_rule():
    rng = np.random.default_rng(0)
    covs, expected = [], []
    while len(covs) < 400:
        angle = rng.uniform(0, 360)
        ratio = rng.choice([rng.uniform(1.0, 3.0), rng.uniform(3.0, 50.0)])
        cov = _rotated(angle, ratio * 0.01, 0.01)
        label, got_angle, got_ratio = _original_bivar(cov)
        near = [abs(got_ratio - r) for r in (1.5, 2.0)] + [
            abs(((got_angle - a) + 180) % 360 - 180) for a in (15, 75, 105, 165)
        ]
        if min(near) < BOUNDARY_MARGIN * 1e3:
            continue
        covs.append(cov)
        expected.append(label)
    types = label_components(np.array(covs), ["A", "B"])
    assert list(types.types) == expected
    assert {"specific:A", "specific:B", "shared:A+B", AMBIGUOUS} == set(expected)


def test_the_330_degree_bug_is_not_reproduced():
    cov = _rotated(340.0, 1.0, 0.01)  # 20° below the trait-A axis: beyond the 15° tolerance
    assert label_components(cov[None], ["A", "B"]).types == ("shared:A+B",)
    cov = _rotated(350.0, 1.0, 0.01)  # 10° below: specific
    assert label_components(cov[None], ["A", "B"]).types == ("specific:A",)


def test_three_traits_use_the_trait_axes_whatever_the_eigenvector_sign():
    ab = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    abc = np.ones(3) / np.sqrt(3)
    covs = np.array(
        [
            np.diag([1.0, 0.01, 0.01]),  # A
            np.diag([0.01, 0.01, 2.0]),  # C
            0.01 * np.eye(3) + np.outer(ab, ab),  # A+B, elongated
            0.01 * np.eye(3) + np.outer(abc, abc),  # A+B+C, elongated
            np.diag([1.0, 0.9, 0.01]),  # a round disc in the A-B plane: m = 2
            np.diag([1.0, 1.1, 0.9]),  # round: all three
            np.diag([1.0, 0.6, 0.45]),  # gaps 1.67 and 1.33: neither clear nor round
            0.01 * np.eye(3) + np.outer([0.0, -1.0, 0.0], [0.0, -1.0, 0.0]),  # −B axis
        ]
    )
    types = label_components(covs, ["A", "B", "C"])
    assert types.types == (
        "specific:A",
        "specific:C",
        "shared:A+B",
        "shared:A+B+C",
        "shared:A+B",
        "shared:A+B+C",
        AMBIGUOUS,
        "specific:B",
    )
    assert list(types.principal_dim) == [1, 1, 1, 1, 2, 3, 0, 1]
    assert types.traits_of()["shared:A+B"] == (0, 1)


def test_null_components_and_set_aside_variants_are_none():
    covs = np.array([np.diag([1.0, 0.8]), np.diag([1e-6, 2e-6])])
    null = null_components(covs, zero_cutoff=1e-3)
    assert null.tolist() == [False, True]
    types = label_components(covs, ["A", "B"], null_mask=null)
    assert types.types == ("shared:A+B", NONE)
    assert types.of_variants(np.array([0, 1, -1])).tolist() == ["shared:A+B", NONE, NONE]
    assert label_components(covs[:1, :1, :1], ["A"]).types == ("specific:A",)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="`trait_names` has 1 names for 2 traits"):
        label_components(np.eye(2)[None], ["A"])
    with pytest.raises(ValueError, match="`shared_ratio` must not exceed"):
        label_components(np.eye(2)[None], ["A", "B"], specific_ratio=1.2, shared_ratio=1.5)


def test_type_strings_parse_back_to_their_traits():
    names = ["LDL", "HDL", "TG"]
    parsed = traits_of_types(["specific:HDL", "shared:TG+LDL", "none", "ambiguous"], names)
    assert parsed == {"specific:HDL": (1,), "shared:TG+LDL": (0, 2), "none": (), "ambiguous": ()}
    with pytest.raises(ValueError, match="does not name traits among LDL, HDL, TG"):
        traits_of_types(["specific:BMI"], names)
    with pytest.raises(ValueError, match="without '\\+' or ':'"):
        label_components(np.eye(2)[None], ["A+B", "C"])
