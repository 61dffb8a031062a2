"""The lab's activation clustering and spectral signatures beside IBM ART's, on the same model.

Runs on notebook 02's backdoored model (BadNets, seed 0; trained first if the cache lacks
it), handed to ART's PyTorchClassifier. Prints, for each way of running each defense, the
share of the 600 poisoned samples it flags and how many samples it flags in all:

- the lab's settings, then ART with the same settings as far as its API allows, then
  ART's defaults;
- ART's k-means starts once from an unseeded k-means++ draw, so its rows are run over
  five seeds of NumPy's global generator (which scikit-learn then draws from).

Needs the optional package adversarial-robustness-toolbox (in requirements-dev.txt).

    .venv/bin/python benchmarks/art_comparison.py
"""

from __future__ import annotations

import numpy as np
import torch
from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
from art.estimators.classification import PyTorchClassifier

from utils.attacks import BadNets, poisoned_training_set, train_attack
from utils.data import load_mnist
from utils.defenses.activations import (
    activation_clustering,
    penultimate_activations,
    spectral_signatures,
)
from utils.metrics import detection_scores
from utils.runtime import use_reference_threads
from utils.training import TrainingConfig

SEEDS = range(5)


def art_classifier(model: torch.nn.Module) -> PyTorchClassifier:
    """The lab's model as ART sees it: float images in [0, 1], shape [1, 28, 28], ten classes."""
    return PyTorchClassifier(
        model.cpu(),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 28, 28),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )


def flagged_by(defence: ActivationDefence | SpectralSignatureDefense, report_clean) -> torch.Tensor:
    """ART's 1 = clean, 0 = poison, per training sample, as a bool tensor of flags."""
    return torch.tensor(np.asarray(report_clean) == 0)


def by_class(activations: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    return [activations[labels == label] for label in range(10)]


def art_clustering(
    classifier,
    images,
    onehot,
    labels,
    activations=None,
    reduce="PCA",
    analysis="smaller",
    threshold=None,
) -> torch.Tensor:
    """ART's ActivationDefence: on its own choice of layer, or on `activations` given per class.
    With a `threshold`, ART reduces and clusters, and each class's smaller cluster is flagged
    when it holds less than that share (the lab's rule: ART's own relative-size analysis
    fails on a class without a small cluster, see main)."""
    defence = ActivationDefence(classifier, images, onehot)
    if activations is not None:
        defence.activations_by_class = by_class(activations, labels)
    if threshold is None:
        _, clean = defence.detect_poison(
            nb_clusters=2, nb_dims=10, reduce=reduce, cluster_analysis=analysis
        )
        return flagged_by(defence, clean)
    defence.cluster_activations(nb_clusters=2, nb_dims=10, reduce=reduce)
    flags = torch.zeros(len(labels), dtype=torch.bool)
    for label, clusters in enumerate(defence.clusters_by_class):
        sizes = np.bincount(clusters, minlength=2)
        smaller = int(np.argmin(sizes))
        if sizes[smaller] < threshold * sizes.sum():
            flags[torch.from_numpy(labels == label)] = torch.from_numpy(clusters == smaller)
    return flags


def art_spectral_flags(
    activations: np.ndarray, labels: np.ndarray, expected_poison: float
) -> torch.Tensor:
    """ART's SpectralSignatureDefense rule on given activations: its score, and every score at or
    above the (1 - 1.5 x expected_poison) quantile of its class flagged (detect_poison always
    reads the last layer, so the score function is called directly)."""
    flags = np.zeros(len(labels), dtype=bool)
    for label in range(10):
        members = labels == label
        score = SpectralSignatureDefense.spectral_signature_scores(activations[members]).ravel()
        flags[members] = score >= np.quantile(score, 1 - 1.5 * expected_poison)
    return torch.from_numpy(flags)


def describe(name: str, flags: list[torch.Tensor], poisoned: torch.Tensor) -> None:
    recalls = [detection_scores(f, poisoned)["recall"] for f in flags]
    counts = [int(f.sum()) for f in flags]
    found = f"{min(recalls):6.1%}" + (f" to {max(recalls):6.1%}" if len(flags) > 1 else " " * 10)
    flagged = f"{min(counts):6,d}" + (f" to {max(counts):6,d}" if len(flags) > 1 else "")
    print(f"{name:70s} {found}   {flagged}", flush=True)


def main() -> None:
    use_reference_threads()
    train = load_mnist("train")
    attack, training = BadNets(), TrainingConfig(seed=0)
    poisoned = poisoned_training_set(attack, train, training)
    model = train_attack(attack, train, training, progress=False).model.cpu()
    classifier = art_classifier(model)
    images = poisoned.images.float().numpy() / 255
    labels = poisoned.labels.numpy()
    onehot = np.eye(10, dtype=np.float32)[labels]

    ours = penultimate_activations(model, poisoned.images)
    hooked = classifier.get_activations(images, "hidden", batch_size=1024)
    print(
        f"ART's layers: {classifier.layer_names}; get_activations(x, 'hidden') against the lab's "
        f"penultimate activations: largest difference {np.abs(hooked - ours.numpy()).max():.2e}\n"
    )
    print(f"{'how it is run':70s} {'poison found':>20s}   samples flagged")

    def over_seeds(run) -> list[torch.Tensor]:
        flags = []
        for seed in SEEDS:
            np.random.seed(seed)
            flags.append(run())
        return flags

    describe(
        "lab: whitened PCA (10), k-means from 10 seeded starts, under 15%",
        [activation_clustering(ours, poisoned.labels, seed=0, store=False).flagged],
        poisoned.indices,
    )
    describe(
        "ART, the same settings: FastICA (10), one k-means start, under 15%",
        over_seeds(
            lambda: art_clustering(
                classifier, images, onehot, labels, hooked, "FastICA", threshold=0.15
            )
        ),
        poisoned.indices,
    )
    describe(
        "ART: PCA (10, not whitened), one k-means start, under 15%",
        over_seeds(
            lambda: art_clustering(
                classifier, images, onehot, labels, hooked, "PCA", threshold=0.15
            )
        ),
        poisoned.indices,
    )
    np.random.seed(0)
    try:
        art_clustering(classifier, images, onehot, labels, hooked, "FastICA", "relative-size")
    # with numpy 2, its report tests `id in (empty array,)` for a class without one
    except ValueError as error:
        print(f"{'ART: FastICA (10), its relative-size analysis (under 35%)':70s} fails: {error}")
    describe(
        "ART's defaults on the penultimate layer: PCA, 'smaller' (every class)",
        over_seeds(lambda: art_clustering(classifier, images, onehot, labels, hooked)),
        poisoned.indices,
    )
    describe(
        "ART's defaults, its own layer choice (the last: the logits)",
        over_seeds(lambda: art_clustering(classifier, images, onehot, labels)),
        poisoned.indices,
    )
    print()

    describe(
        "lab spectral signatures: centred projection squared, 15% of each class",
        [spectral_signatures(ours, poisoned.labels, 0.1).flagged],
        poisoned.indices,
    )
    describe(
        "ART's spectral score on the penultimate layer: uncentred |projection|, 15% of each class",
        [art_spectral_flags(hooked, labels, expected_poison=0.1)],
        poisoned.indices,
    )
    defence = SpectralSignatureDefense(classifier, images, onehot, batch_size=1024)
    _, clean = defence.detect_poison()
    describe(
        "ART's defaults: its own layer choice (the logits), expected_pp_poison 0.33",
        [flagged_by(defence, clean)],
        poisoned.indices,
    )


if __name__ == "__main__":
    main()
