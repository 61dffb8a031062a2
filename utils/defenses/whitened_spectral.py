"""Spectral signatures whitened with clean data: SPECTRE's idea, with the defender's clean reserve.

Plain spectral signatures look for the poison along the direction in which a class's
activations vary most. When the poisoned samples are few, or their offset lies along
directions where clean samples also vary a lot, that direction belongs to the clean
samples and the poison stays hidden. Whitening first, with the covariance of clean
samples of that class, gives every clean direction the same spread; what is left
standing out is what the clean samples do not do. SPECTRE (Hayase et al., 2021; the
module spectre) estimates that covariance robustly from the training data itself; this
shortcut takes it from the defender's clean reserve instead, and scores along the top
singular vector as plain spectral signatures do.
"""

from __future__ import annotations

import torch

from .activations import SpectralResult, flag_highest


def whitened_spectral_signatures(
    activations: torch.Tensor,
    labels: torch.Tensor,
    reserve_activations: torch.Tensor,
    reserve_labels: torch.Tensor,
    poison_bound: float = 0.1,
    dims: int = 32,
    shrinkage: float = 0.01,
) -> SpectralResult:
    """Spectral signatures on activations whitened by the clean reserve's covariance, class by
    class.

    Each class's activations are reduced to their top `dims` principal directions,
    centred on the reserve's mean of that class and whitened with the reserve's
    covariance (plus `shrinkage` x its mean variance on the diagonal, since a few
    hundred reserve samples estimate it roughly). Then, as in spectral_signatures, the
    1.5 x poison_bound highest squared projections on the top singular vector are flagged.
    """
    scores = torch.zeros(len(labels))
    for label in labels.unique().tolist():
        members = (labels == label).nonzero().squeeze(1)
        clean = reserve_activations[reserve_labels == label]
        if len(clean) <= dims:
            raise ValueError(
                f"the reserve holds {len(clean)} samples of label {label}; whitening {dims} "
                "dimensions "
                f"needs more than {dims}"
            )
        ours = activations[members].double()
        _, _, right = torch.linalg.svd(ours - ours.mean(0), full_matrices=False)
        basis = right[:dims].T
        clean_mean = clean.double().mean(0)
        reference = (clean.double() - clean_mean) @ basis
        covariance = reference.T @ reference / (len(reference) - 1)
        covariance += (
            shrinkage * covariance.diagonal().mean() * torch.eye(dims, dtype=covariance.dtype)
        )
        values, vectors = torch.linalg.eigh(covariance)
        whitened = (ours - clean_mean) @ basis @ vectors / values.sqrt()
        centred = whitened - whitened.mean(0)
        _, _, top = torch.linalg.svd(centred, full_matrices=False)
        scores[members] = ((centred @ top[0]) ** 2).float()
    return flag_highest(scores, labels, poison_bound)
