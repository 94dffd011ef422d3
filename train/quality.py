"""Sample-quality metrics as pure functions of feature arrays (numpy only, no torch).

The features are a classifier's penultimate layer (:mod:`vaekit.train.classifier`); the
command that computes them for an exported model is ``python -m vaekit.export.quality``.

* :func:`frechet_distance` - the Frechet distance between Gaussians fitted to two feature
  sets (Heusel et al. 2017's FID formula, in this project's own feature space: not
  Inception-FID, and not comparable with figures in papers).
* :func:`precision_recall` - improved precision and recall (Kynkaanniemi et al. 2019): a
  set's manifold is the union of balls around its points, each reaching the point's k-th
  nearest neighbour in the set. Precision is the share of generated points inside the real
  manifold, recall the share of real points inside the generated one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_K = 3
#: rows of the pairwise distance matrix computed at once (memory: CHUNK x N float64)
CHUNK = 1024


def check_features(features: np.ndarray, name: str, *, at_least: int = 2) -> np.ndarray:
    """``features`` as float64 ``[N, F]``; refuses other ranks, too few rows and NaN/inf."""
    x = np.asarray(features)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [N, F] of features, got shape {x.shape}")
    if len(x) < at_least:
        raise ValueError(f"{name} has {len(x)} rows, at least {at_least} are needed: use more images")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or inf: check the images fed to the classifier")
    return x.astype(np.float64, copy=False)


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[F]`` and covariance ``[F, F]`` (unbiased) of ``features`` ``[N, F]``."""
    x = check_features(features, "features")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (negative eigenvalues -> 0)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance_of_stats(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray,
                              cov2: np.ndarray) -> float:
    """``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``, never below 0.

    The trace of the matrix square root is taken as ``tr((s1 cov2 s1)^(1/2))`` with ``s1 =
    cov1^(1/2)``: the same eigenvalues, but a symmetric matrix, so no complex parts appear.
    """
    s1 = _sqrt_psd(cov1)
    cross = np.linalg.eigvalsh((s1 @ cov2 @ s1 + (s1 @ cov2 @ s1).T) / 2)
    value = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2)
                  - 2 * np.sqrt(np.clip(cross, 0, None)).sum())
    return max(value, 0.0)


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to ``real`` ``[N, F]`` and ``fake`` ``[M, F]``."""
    a = check_features(real, "real features")
    b = check_features(fake, "generated features")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real features have {a.shape[1]} columns, generated ones {b.shape[1]}: "
                         f"compute both with the same classifier")
    return frechet_distance_of_stats(*gaussian_stats(a), *gaussian_stats(b))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a), len(b)]`` squared Euclidean distances (clipped at 0 against rounding)."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.clip(d, 0, None)


def knn_radii(features: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """Each row's squared distance to its ``k``-th nearest neighbour among the others: ``[N]``."""
    x = check_features(features, "features", at_least=k + 1)
    out = np.empty(len(x))
    for start in range(0, len(x), CHUNK):
        d = _squared_distances(x[start:start + CHUNK], x)
        # the row's own zero distance is its 0-th neighbour, so the k-th other one is index k
        out[start:start + CHUNK] = np.partition(d, k, axis=1)[:, k]
    return out


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Share of ``points`` inside at least one ball (``centres``, squared ``radii``)."""
    inside = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), CHUNK):
        d = _squared_distances(points[start:start + CHUNK], centres)
        inside[start:start + CHUNK] = (d <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> tuple[float, float]:
    """``(precision, recall)`` in [0, 1] of ``fake`` ``[M, F]`` against ``real`` ``[N, F]``."""
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k must be a whole number >= 1, got {k!r} (the usual value is {DEFAULT_K})")
    a = check_features(real, "real features", at_least=k + 1)
    b = check_features(fake, "generated features", at_least=k + 1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real features have {a.shape[1]} columns, generated ones {b.shape[1]}: "
                         f"compute both with the same classifier")
    return _coverage(b, a, knn_radii(a, k)), _coverage(a, b, knn_radii(b, k))


@dataclass(frozen=True)
class Scores:
    """One row of the quality table: Frechet distance, precision and recall of ``count`` images."""

    fd: float
    precision: float
    recall: float
    count: int

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def score(real: np.ndarray, fake: np.ndarray, k: int = DEFAULT_K) -> Scores:
    """All three measures of ``fake`` ``[M, F]`` against ``real`` ``[N, F]``."""
    precision, recall = precision_recall(real, fake, k)
    return Scores(frechet_distance(real, fake), precision, recall, len(fake))
