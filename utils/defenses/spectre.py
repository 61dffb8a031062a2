"""SPECTRE (Hayase, Kong, Somani, Oh, 2021): spectral signatures with robust statistics, no clean
data.

Plain spectral signatures look along the direction in which a class's activations vary
most. SPECTRE first estimates the covariance the *clean* samples of that class would
have, from the class itself, with a robust filter that peels off the points that make
the fourth moments too heavy (Diakonikolas et al.'s iterative filter). Whitened with that
covariance, clean directions all have unit spread, and the poison stands out. It then
scores every sample with QUE, the quantum entropy score, which weighs every direction
by how much its spread exceeds 1 instead of using only the top one.

Checked against the authors' Julia code (SewoongLab/spectre-defense: quantum_filters.jl,
dkk17.jl). Deviations, for a classroom CPU: a fixed number of dimensions `dims` (the
reference tries every square up to 100 and keeps the one with the largest QUE score),
and every class is cleaned, as BackdoorBench's port does (the reference is told which
class the attack targets). The defender's poison guess is a share of each class
(`poison_bound`), where the reference is given the number of poisoned samples.
"""

from __future__ import annotations

import math

import torch

from .activations import SpectralResult, flag_highest

# the reference's alpha: how sharply QUE favours the most inflated directions
QUE_ALPHA = 4.0
TAIL_PROBABILITY = 0.1  # the reference's tau


def _inverse_square_root(covariance: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(covariance)
    return vectors @ torch.diag(values.clamp_min(1e-12).rsqrt()) @ vectors.T


def _fourth_moment_direction(whitened: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Top eigenvalue and eigenvector (as a symmetric k x k matrix) of the operator
    V -> mean_i y_i (y_i' V y_i) y_i' - tr(V) I: large when some direction's fourth moment is too
    heavy."""
    k = whitened.shape[1]
    outer = (whitened[:, :, None] * whitened[:, None, :]).reshape(len(whitened), k * k)
    identity = torch.eye(k, dtype=whitened.dtype).reshape(-1)
    operator = outer.T @ outer / len(whitened) - identity[:, None] * identity[None, :]
    values, vectors = torch.linalg.eigh(operator)
    direction = vectors[:, -1].reshape(k, k)
    return values[-1].item(), (direction + direction.T) / 2


def _filter_threshold(deviations: torch.Tensor, poison_share: float) -> float | None:
    """The deviation above which the filter removes points, or None when none stands out.

    The reference scans the sorted deviations d_i and stops at the first with d_i > 3
    whose tail share i/n reaches its bound; it removes every point beyond d_i - 3.
    """
    ordered = deviations.sort().values
    n = len(ordered)
    excess = ordered - 3
    far = excess > 10 * math.log(1 / poison_share)
    bound = torch.where(
        far,
        3 * poison_share / (excess * excess.clamp_min(1.0001).log()) ** 2,
        torch.ones_like(excess),
    )
    rank = torch.arange(1, n + 1, dtype=ordered.dtype) / n
    hits = ((ordered > 3) & (rank >= bound)).nonzero()
    return None if len(hits) == 0 else ordered[hits[0, 0]].item() - 3


def robust_covariance(points: torch.Tensor, poison_share: float, budget: int) -> torch.Tensor:
    """Which rows of `points` [n, k] (centred) a robust covariance estimate keeps: bool [n].

    Diakonikolas et al.'s filter, as in the reference's dkk17.jl: whiten with the kept
    points' second moment; if the fourth moments along some direction exceed what a
    Gaussian with a `poison_share` of outliers allows, remove the points that deviate
    most along it; repeat until nothing stands out or `budget` points are gone.
    """
    keep = torch.ones(len(points), dtype=torch.bool)
    k = points.shape[1]
    bound = 1 + 10 * poison_share * math.log(1 / poison_share) ** 2
    while budget > 0:
        kept = keep.nonzero().squeeze(1)
        n = len(kept)
        whitened = points[kept] @ _inverse_square_root(points[kept].T @ points[kept] / n)
        norms = (whitened**2).sum(1)
        outlying = norms >= 10 * k * math.log(n / TAIL_PROBABILITY)
        if outlying.any():
            removed = kept[outlying][:budget]
        else:
            value, direction = _fourth_moment_direction(whitened)
            if value <= bound:
                break
            projection = (
                ((whitened @ direction) * whitened).sum(1) - direction.trace()
            ) / math.sqrt(2)
            deviations = (projection - projection.median()).abs()
            threshold = _filter_threshold(deviations, poison_share)
            if threshold is None:
                break
            beyond = deviations > threshold
            if beyond.sum() > budget:  # the budget keeps the points that deviate least
                beyond = deviations > deviations.sort().values[n - budget - 1]
            removed = kept[beyond]
        keep[removed] = False
        budget -= len(removed)
    return keep


def quantum_entropy_scores(whitened: torch.Tensor, alpha: float = QUE_ALPHA) -> torch.Tensor:
    """QUE: tau_i = w_i' M w_i, with M = exp(alpha (S - I) / (|S| - 1)) / trace, S the
    covariance of w.

    A direction whose spread is far above 1 gets almost all of M's weight (alpha large);
    with alpha = 0, M = I / k and the score is the squared distance from the centre.
    """
    covariance = torch.cov(whitened.T)
    k = len(covariance)
    excess = torch.linalg.matrix_norm(covariance, ord=2) - 1
    weights = torch.linalg.matrix_exp(
        alpha * (covariance - torch.eye(k, dtype=covariance.dtype)) / excess.clamp_min(1e-12)
    )
    weights = weights / weights.trace()
    return ((whitened @ weights) * whitened).sum(1)


def spectre(
    activations: torch.Tensor,
    labels: torch.Tensor,
    poison_bound: float = 0.1,
    dims: int = 16,
    alpha: float = QUE_ALPHA,
) -> SpectralResult:
    """SPECTRE on every class: in each, the int(1.5 x poison_bound x size) highest QUE scores
    are flagged.

    Per class: the top `dims` principal components of the centred activations; the
    robust filter (at most 2 x poison_bound x size points removed) picks the points whose
    covariance whitens them; every sample is scored with QUE on that whitening.
    """
    if not 0 < poison_bound < 0.5:
        raise ValueError(f"poison_bound must be a fraction in (0, 0.5), got {poison_bound!r}")
    scores = torch.zeros(len(labels))
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        if len(members) <= dims:
            raise ValueError(
                f"label {label} has {len(members)} samples; SPECTRE in {dims} dimensions "
                f"needs more than {dims}"
            )
        ours = activations[members].double()
        centred = ours - ours.mean(0)
        _, _, right = torch.linalg.svd(centred, full_matrices=False)
        projected = centred @ right[:dims].T
        keep = robust_covariance(
            projected, poison_bound, budget=round(2 * poison_bound * len(members))
        )
        whitened = projected @ _inverse_square_root(torch.cov(projected[keep].T, correction=0))
        que = quantum_entropy_scores(whitened, alpha)
        scores[members] = que.float()
    return flag_highest(scores, labels, poison_bound)
