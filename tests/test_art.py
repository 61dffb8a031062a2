"""The course's model in IBM's Adversarial Robustness Toolbox (ART), and the lab's data
inspections beside ART's under the same settings (benchmarks/art_comparison.py shows where
ART's defaults differ, and why)."""

import numpy as np
import torch
from art.defences.detector.poison import SpectralSignatureDefense
from art.defences.detector.poison.activation_defence import reduce_dimensionality
from art.estimators.classification import PyTorchClassifier

from utils.defenses.activations import (
    activation_clustering,
    flag_highest,
    penultimate_activations,
    spectral_signatures,
    two_means,
)


def label_eight(lab_backdoor):
    poisoned = lab_backdoor["poisoned"]
    members = (poisoned.labels == 8).nonzero().squeeze(1)
    return poisoned, members


def test_art_hooks_the_layer_the_lab_defenses_read(lab_backdoor):
    poisoned, members = label_eight(lab_backdoor)
    model = lab_backdoor["backdoored"]
    classifier = PyTorchClassifier(
        model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(1, 28, 28),
        nb_classes=10,
        clip_values=(0.0, 1.0),
    )
    assert classifier.layer_names == ["standardize", "features", "hidden", "output"]
    images = poisoned.images[members[:500]]
    hooked = classifier.get_activations(images.float().numpy() / 255, "hidden", batch_size=128)
    assert np.array_equal(hooked, penultimate_activations(model, images).numpy())


def test_spectral_signatures_flag_what_arts_score_flags_once_it_is_centred(lab_backdoor):
    """ART scores |<a, v>| without centring; on centred activations that orders the samples as
    the lab's <a - mean, v>^2 does, so the same share of each class is flagged."""
    poisoned, _ = label_eight(lab_backdoor)
    features = penultimate_activations(lab_backdoor["backdoored"], poisoned.images)
    scores = torch.zeros(len(features))
    for label in range(10):
        members = poisoned.labels == label
        centred = (features[members] - features[members].mean(0)).double().numpy()
        scores[members] = torch.from_numpy(
            SpectralSignatureDefense.spectral_signature_scores(centred).ravel()
        ).float()
    ours = spectral_signatures(features, poisoned.labels, 0.1).flagged
    art = flag_highest(scores, poisoned.labels, 0.1).flagged
    assert (ours != art).float().mean() < 0.001


def test_activation_clustering_splits_arts_ica_components_as_it_splits_its_own(lab_backdoor):
    """ICA's components are a rotation of whitened principal components, and k-means does not
    see rotations: on ART's FastICA reduction, the lab's k-means finds the same split. (In
    float64: on float32 activations, scikit-learn's FastICA strayed from a rotation here.)"""
    poisoned, members = label_eight(lab_backdoor)
    features = penultimate_activations(lab_backdoor["backdoored"], poisoned.images)
    ours = activation_clustering(features, poisoned.labels, store=False).smaller[members]
    np.random.seed(0)  # FastICA draws its start from NumPy's global generator
    components = torch.from_numpy(
        reduce_dimensionality(features[members].double().numpy(), 10, "FastICA")
    )
    assignment = two_means(components.float())
    on_ica = assignment == int((assignment == 1).sum() < (assignment == 0).sum())
    assert (on_ica != ours).float().mean() < 0.005
    # the poison's small cluster, both ways
    assert ours.float().mean() < 0.15
