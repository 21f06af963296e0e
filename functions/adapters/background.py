"""Background summaries for black-box explainers: a few real rows, each with a weight.

Every background row multiplies the rows sent to a remote model, so the manifest's
background (often hundreds of rows) is summarised to `explainer.background_size` rows:

- `sample`: a seeded sample of real rows, equally weighted;
- `kmeans`: numpy k-means (k-means++ start, seeded) on standardised columns, then for
  each cluster its member nearest to the centroid, weighted by the cluster's size. Real
  rows rather than centroids, so category codes and integers stay valid model inputs.
  (No scikit-learn: it is not part of Candor's runtime code.)
"""

from __future__ import annotations

from math import gcd

import numpy as np

KMEANS_ITERATIONS = 100


def summarise(rows: np.ndarray, size: int, how: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` (or fewer) representative rows of `rows` and their integer weights (how many rows each stands for)."""
    if rows.ndim != 2 or rows.shape[0] == 0:
        raise ValueError("the background has no rows")
    if how == "sample":
        keep = np.sort(np.random.default_rng(seed).choice(rows.shape[0], size=min(size, rows.shape[0]), replace=False))
        return rows[keep], np.ones(len(keep), dtype=np.int64)
    return kmeans_rows(rows, size, seed)


def kmeans_rows(rows: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `k` clusters of `rows`: per cluster, the member nearest its centroid and the cluster size."""
    scale = rows.std(axis=0)
    scale[scale == 0] = 1.0  # constant columns: any scale, they never separate rows
    z = (rows - rows.mean(axis=0)) / scale
    rng = np.random.default_rng(seed)
    centers = _plus_plus(z, min(k, len(np.unique(z, axis=0))), rng)
    labels = np.zeros(len(z), dtype=np.int64)
    for _ in range(KMEANS_ITERATIONS):
        labels = _nearest(z, centers)
        moved = np.array(
            [z[labels == c].mean(axis=0) if np.any(labels == c) else centers[c] for c in range(len(centers))]
        )
        if np.allclose(moved, centers):
            break
        centers = moved
    labels = _nearest(z, centers)
    members: dict[bytes, tuple[int, int]] = {}  # a real row -> (its index, weight): merges clusters that pick one row
    for c in range(len(centers)):
        inside = np.flatnonzero(labels == c)
        if inside.size == 0:
            continue
        best = int(inside[np.argmin(((z[inside] - centers[c]) ** 2).sum(axis=1))])
        key = rows[best].tobytes()
        index, weight = members.get(key, (best, 0))
        members[key] = (index, weight + inside.size)
    chosen = sorted(members.values())
    return rows[[i for i, _ in chosen]], np.array([w for _, w in chosen], dtype=np.int64)


def replicated(rows: np.ndarray, weights: np.ndarray, most: int = 1000) -> np.ndarray:
    """`rows` repeated in proportion to their integer `weights`, for maskers that cannot weight rows.

    Weights are first divided by their greatest common divisor; if they still add up to
    more than `most`, they are scaled down to about `most` rows (largest remainders, each
    row kept at least once), which approximates the weights to within 1/most.
    """
    counts = np.asarray(weights, dtype=np.int64)
    divisor = 0
    for c in counts:
        divisor = gcd(divisor, int(c))
    counts = counts // max(divisor, 1)
    if counts.sum() > most:
        exact = counts * most / counts.sum()
        counts = np.maximum(np.floor(exact).astype(np.int64), 1)
        for i in np.argsort(-(exact - np.floor(exact)))[: max(most - int(counts.sum()), 0)]:
            counts[i] += 1
    return np.repeat(rows, counts, axis=0)


def _plus_plus(z: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centers = [z[rng.integers(len(z))]]
    for _ in range(1, k):
        d2 = ((z[:, None, :] - np.array(centers)[None]) ** 2).sum(axis=2).min(axis=1)
        if d2.sum() == 0:
            break
        centers.append(z[rng.choice(len(z), p=d2 / d2.sum())])
    return np.array(centers)


def _nearest(z: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return ((z[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
