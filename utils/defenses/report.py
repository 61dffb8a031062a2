"""Every defense of notebook 05 on one attack configuration, in one call that returns a plain dict."""

from __future__ import annotations

from ..data import ImageSet
from ..experiments import AttackConfig, evaluate, poison_for, train_model
from ..metrics import detection_scores
from ..triggers import apply_trigger
from .activations import activation_clustering, penultimate_activations
from .fine_pruning import fine_prune, fine_tune
from .neural_cleanse import reverse_engineer_triggers
from .reserve import clean_reserve
from .strip import held_out_rates


def defense_report(config: AttackConfig, train: ImageSet, test: ImageSet, reserve_size: int = 6000,
                   cleanse_images: int = 2000, strip_inputs: int = 2000, prune_fraction: float = 0.5) -> dict:
    """Activation clustering, Neural Cleanse (backdoored and clean model), STRIP and fine-pruning, as notebook 05 runs them."""
    seed, target = config.training.seed, config.target_label
    poisoned = poison_for(config, train)
    backdoored = train_model(config, train, progress=False).model
    clean = train_model(config.clean(), train, progress=False).model
    reserve = clean_reserve(train, poisoned.indices, reserve_size, seed=seed)
    clustering = activation_clustering(penultimate_activations(backdoored, poisoned.images), poisoned.labels, seed=seed)
    cleansed = reverse_engineer_triggers(backdoored, reserve.images[:cleanse_images], seed=seed, progress=False)
    control = reverse_engineer_triggers(clean, reserve.images[:cleanse_images], seed=seed, progress=False)
    strip = held_out_rates(backdoored, test, reserve.images, lambda images: apply_trigger(images, config.trigger), target,
                           strip_inputs, seed=seed)
    before = evaluate(backdoored, test, config.trigger, target)
    fine_tuned = evaluate(fine_tune(backdoored, reserve), test, config.trigger, target)
    fine_pruned = evaluate(fine_prune(backdoored, reserve, prune_fraction), test, config.trigger, target)
    peak = divmod(cleansed.masks[target].argmax().item(), cleansed.masks.shape[-1])
    found = detection_scores(clustering.flagged, poisoned.indices)
    return {
        "ac_recall": found["recall"],
        "ac_precision": found["precision"],
        "ac_suspicious_labels": [c.label for c in clustering.classes if c.suspicious],
        "nc_flagged_labels": cleansed.flagged(),
        "nc_anomaly_index": cleansed.anomaly_index()[target].item(),
        "nc_mask_peak": list(peak),
        "nc_clean_model_flagged": control.flagged(),
        "nc_clean_model_largest_index": control.anomaly_index().max().item(),
        "strip_frr_held_out": strip["false_rejection"],
        "strip_far": strip["false_acceptance"],
        "asr_before": before["attack_success_rate"],
        "asr_after_fine_tuning": fine_tuned["attack_success_rate"],
        "asr_after_fine_pruning": fine_pruned["attack_success_rate"],
        "clean_accuracy_before": before["clean_accuracy"],
        "clean_accuracy_after_fine_pruning": fine_pruned["clean_accuracy"],
    }
