"""Finding poisoned training samples from the network's penultimate-layer activations.

Both methods look at one class at a time: the samples labelled 8 that carry the trigger
are there for a different reason than the real 8s, and that reason leaves a trace in
what the network computes on them.

- Activation clustering (Chen et al., 2018): reduce each class's activations to a few
  whitened components, split them into two clusters, and call a class poisoned when
  one cluster is small.
- Spectral signatures (Tran et al., 2018): score each sample by its squared distance
  from the class mean along the top singular vector; remove the highest scores.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import torch

from ..cache import stored
from ..runtime import configure_threads
from ..training import to_model_input


@torch.no_grad()
def penultimate_activations(
    model: torch.nn.Module, images: torch.Tensor, batch_size: int = 1024
) -> torch.Tensor:
    """What the last layer sees, for every uint8 image: float [N, hidden] on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    chunks = images.split(batch_size)
    # on a busy machine, fewer threads (see utils.runtime); also what the clustering after uses
    configure_threads()
    first = model.embed(to_model_input(chunks[0].to(device))).float().cpu()
    # filled in place: half the peak memory of a cat
    activations = torch.empty((len(images), first.shape[1]))
    activations[: len(first)] = first
    for start, chunk in zip(range(batch_size, len(images), batch_size), chunks[1:]):
        configure_threads()
        activations[start : start + len(chunk)] = (
            model.embed(to_model_input(chunk.to(device))).float().cpu()
        )
    return activations


def whitened_components(activations: torch.Tensor, dims: int = 10) -> torch.Tensor:
    """The top `dims` principal components, each scaled to unit variance: float [N, dims].

    Scaling matters: the few poisoned samples differ from the rest along directions of
    small variance, which unscaled components would leave to the clean samples' spread.
    """
    centred = activations - activations.mean(0)
    left, _, _ = torch.linalg.svd(centred, full_matrices=False)
    return left[:, :dims] * len(centred) ** 0.5


def two_means(
    points: torch.Tensor, restarts: int = 10, iterations: int = 300, seed: int = 0
) -> torch.Tensor:
    """Split points [N, D] into two clusters; returns 0/1 per point.

    k-means with k-means++ starts (the second centre drawn far from the first), the
    split of least spread out of `restarts`: a small, distant group is found reliably.
    """
    generator = torch.Generator().manual_seed(seed)
    best, best_spread = None, float("inf")
    for _ in range(restarts):
        first = points[torch.randint(len(points), (1,), generator=generator)]
        distance = torch.cdist(points, first).squeeze(1) ** 2
        centres = torch.cat(
            [first, points[torch.multinomial(distance / distance.sum(), 1, generator=generator)]]
        )
        for _ in range(iterations):
            assignment = torch.cdist(points, centres).argmin(1)
            moved = torch.stack([points[assignment == k].mean(0) for k in (0, 1)])
            if torch.equal(moved, centres):
                break
            centres = moved
        spread = ((points - centres[assignment]) ** 2).sum().item()
        if spread < best_spread:
            best, best_spread = assignment, spread
    return best


def silhouette(
    points: torch.Tensor, assignment: torch.Tensor, sample: int = 2000, seed: int = 0
) -> float:
    """Mean silhouette of a two-cluster split (1: well apart, 0: overlapping), on a sample."""
    chosen = torch.randperm(len(points), generator=torch.Generator().manual_seed(seed))[:sample]
    points, assignment = points[chosen], assignment[chosen]
    distances = torch.cdist(points, points)
    same = assignment[:, None] == assignment[None, :]
    within = (distances * same).sum(1) / (same.sum(1) - 1).clamp_min(1)
    between = (distances * ~same).sum(1) / (~same).sum(1).clamp_min(1)
    return ((between - within) / torch.maximum(within, between).clamp_min(1e-12)).mean().item()


@dataclass(frozen=True)
class ClassSplit:
    """How one class's activations split into two clusters."""

    label: int
    size: int
    smaller_share: float
    silhouette: float
    suspicious: bool


class ClusteringResult(NamedTuple):
    flagged: torch.Tensor  # bool per training sample: in the small cluster of a suspicious class
    classes: list[ClassSplit]
    # bool per training sample: in the smaller cluster of its class, suspicious or not
    smaller: torch.Tensor
    labels: torch.Tensor  # the training labels the classes come from

    def with_max_share(self, max_share: float) -> ClusteringResult:
        """The same clusters judged by another rule: a class is suspicious when its smaller
        cluster holds less than `max_share` of it (no clustering again)."""
        if not 0 < max_share < 0.5:
            raise ValueError(f"max_share must be a fraction in (0, 0.5), got {max_share!r}")
        classes = [
            replace(split, suspicious=split.smaller_share < max_share) for split in self.classes
        ]
        suspicious = torch.tensor(
            [split.label for split in classes if split.suspicious], dtype=self.labels.dtype
        )
        return self._replace(
            flagged=self.smaller & torch.isin(self.labels, suspicious), classes=classes
        )


def _clustering_record(result: ClusteringResult) -> dict:
    return {**result._asdict(), "classes": [asdict(split) for split in result.classes]}


def _clustering_result(record: dict) -> ClusteringResult:
    return ClusteringResult(
        **{**record, "classes": [ClassSplit(**split) for split in record["classes"]]}
    )


@stored(record=_clustering_record, restore=_clustering_result)
def activation_clustering(
    activations: torch.Tensor,
    labels: torch.Tensor,
    dims: int = 10,
    max_share: float = 0.15,
    seed: int = 0,
) -> ClusteringResult:
    """Chen et al.'s activation clustering, class by class.

    A class is suspicious when the smaller of its two clusters holds less than
    `max_share` of its samples; the samples of that smaller cluster are flagged.
    Stored like a trained model: asked again for the same activations, it returns at once.
    """
    in_smaller = torch.zeros(len(labels), dtype=torch.bool)
    classes = []
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        components = whitened_components(activations[members], dims)
        assignment = two_means(components, seed=seed)
        smaller = int((assignment == 1).sum() < (assignment == 0).sum())
        in_smaller[members[assignment == smaller]] = True
        share = (assignment == smaller).float().mean().item()
        classes.append(
            ClassSplit(
                label, len(members), share, silhouette(components, assignment, seed=seed), False
            )
        )
    return ClusteringResult(
        torch.zeros_like(in_smaller), classes, in_smaller, labels
    ).with_max_share(max_share)


class SpectralResult(NamedTuple):
    flagged: torch.Tensor  # bool per training sample: among the highest scores of its class
    # float per training sample: squared projection on its class's top singular vector
    scores: torch.Tensor


def spectral_signatures(
    activations: torch.Tensor, labels: torch.Tensor, poison_bound: float = 0.1
) -> SpectralResult:
    """Tran et al.'s spectral signatures: in every class, flag the 1.5 x poison_bound highest
    scores.

    `poison_bound` is the defender's guess of the largest share of a class that could be
    poisoned; the factor 1.5 is the paper's margin.
    """
    scores = torch.zeros(len(labels))
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        centred = activations[members] - activations[members].mean(0)
        _, _, right = torch.linalg.svd(centred, full_matrices=False)
        scores[members] = (centred @ right[0]) ** 2
    return flag_highest(scores, labels, poison_bound)


def flag_highest(scores: torch.Tensor, labels: torch.Tensor, poison_bound: float) -> SpectralResult:
    """In every class, flag the int(1.5 x poison_bound x class size) highest scores."""
    if not 0 < poison_bound <= 0.5:
        raise ValueError(f"poison_bound must be a fraction in (0, 0.5], got {poison_bound!r}")
    flagged = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        removed = int(1.5 * poison_bound * len(members))
        flagged[members[scores[members].argsort(descending=True)[:removed]]] = True
    return SpectralResult(flagged, scores)
