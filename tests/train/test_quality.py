"""The sample-quality measures on distributions whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from vaekit.train.quality import (
    frechet_distance,
    frechet_distance_of_stats,
    knn_radii,
    precision_recall,
    score,
)


def gaussian(n: int, d: int = 8, *, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) * scale + shift


def test_identical_sets_score_zero_distance_and_full_precision_and_recall():
    x = gaussian(500)
    s = score(x, x.copy())
    assert s.fd == pytest.approx(0, abs=1e-8)
    assert (s.precision, s.recall, s.count) == (1.0, 1.0, 500)


def test_frechet_distance_matches_the_closed_form_of_two_gaussians():
    d = 6
    zero, eye = np.zeros(d), np.eye(d)
    # equal covariances: the squared distance of the means
    assert frechet_distance_of_stats(zero, eye, np.full(d, 0.5), eye) == pytest.approx(d * 0.25)
    # N(0, I) vs N(0, 4 I): d * (1 + 4 - 2 * 2)
    assert frechet_distance_of_stats(zero, eye, zero, 4 * eye) == pytest.approx(d)


def test_a_shifted_set_is_farther_than_a_second_sample_of_the_same_distribution():
    real = gaussian(2000, seed=0)
    same = frechet_distance(real, gaussian(2000, seed=1))
    near = frechet_distance(real, gaussian(2000, shift=0.5, seed=1))
    far = frechet_distance(real, gaussian(2000, shift=2.0, seed=1))
    assert same < 0.1 < near < far
    assert far == pytest.approx(8 * 2.0**2, rel=0.05)  # |shift|^2 summed over 8 dimensions


def test_precision_and_recall_tell_mode_collapse_from_a_wrong_distribution():
    real = gaussian(1000, d=2, seed=0)
    collapsed = gaussian(1000, d=2, scale=0.05, seed=1)  # all near the centre of the data
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.2
    elsewhere = gaussian(1000, d=2, shift=20.0, seed=1)
    assert precision_recall(real, elsewhere) == (0.0, 0.0)
    spread = gaussian(1000, d=2, scale=5.0, seed=1)  # covers the data and much more
    precision, recall = precision_recall(real, spread)
    assert precision < 0.4 and recall > 0.9


def test_knn_radii_reach_the_kth_other_point():
    x = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(x, 1).tolist() == [1.0, 1.0, 4.0, 16.0]
    assert knn_radii(x, 2).tolist() == [9.0, 4.0, 9.0, 36.0]


@pytest.mark.parametrize("real,fake,words", [
    (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN"),
    (np.zeros((10, 3)), np.zeros((10, 4)), "same classifier"),
    (np.zeros((10,)), np.zeros((10, 3)), "2-D array"),
    (np.zeros((3, 3)), np.zeros((10, 3)), "at least 4"),
])
def test_bad_features_are_refused_with_a_reason(real, fake, words):
    with pytest.raises(ValueError, match=words):
        score(real, fake)
