"""Interactive panels: change the attack and retrain with one click; tune a defense and see what it catches."""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from .data import ImageSet
from . import plots
from .defenses.fine_pruning import UNITS, prune_dormant
from .defenses.strip import false_acceptance, rejection_threshold
from .experiments import AttackConfig, TrainedModel, attack_results, cached_path, evaluate, train_model
from .training import TrainingConfig, predict
from .triggers import Trigger, apply_trigger

POISON_RATES = (0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1)


def digit_png(image: torch.Tensor, zoom: int = 6) -> bytes:
    """A uint8 [1, H, W] image as PNG bytes, enlarged with sharp pixel edges."""
    pixels = np.kron(image[0].numpy(), np.ones((zoom, zoom), dtype=np.uint8))
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, pixels, cmap="gray", vmin=0, vmax=255, format="png")
    return buffer.getvalue()


class AttackPanel:
    """Sliders for the poison rate and the trigger, a live preview, and a Train button.

    Training runs only on a click. A configuration trained before (in this panel, or
    stored in .cache/models) comes back at once; a click while training runs is ignored.
    """

    def __init__(self, train: ImageSet, test: ImageSet, training: TrainingConfig = TrainingConfig(),
                 preview_index: int = 0, examples: int = 8):
        self.train_set, self.test_set, self.training = train, test, training
        self.preview_image = test.images[preview_index]
        self.examples = examples
        self.results: dict[AttackConfig, dict] = {}
        self.trainings_started = 0
        self.example_answers: list[tuple[int, int]] = []  # (true label, answer) of the triggered examples shown
        self.busy = False
        style = {"description_width": "110px"}
        self.poison_rate = widgets.SelectionSlider(options=[(f"{r:.2%}", r) for r in POISON_RATES], value=0.01,
                                                   description="poison rate", style=style, continuous_update=False)
        self.row = widgets.IntSlider(3, 0, 27, description="trigger row", style=style)
        self.col = widgets.IntSlider(3, 0, 27, description="trigger column", style=style)
        self.size = widgets.IntSlider(1, 1, 5, description="trigger size", style=style)
        self.target = widgets.Dropdown(options=list(range(10)), value=8, description="target label", style=style)
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.preview = widgets.Image(format="png", width=140, height=140)
        self.status = widgets.HTML()
        self.result = widgets.HTML()
        self.output = widgets.Output()
        for slider in (self.row, self.col, self.size):
            slider.observe(self._on_trigger_change, names="value")
        self.train_button.on_click(lambda _button: self.train())
        self._on_trigger_change()

    def config(self) -> AttackConfig:
        """The configuration the controls describe now."""
        trigger = Trigger(self.row.value, self.col.value, self.size.value)
        return AttackConfig(self.poison_rate.value, trigger, self.target.value, training=self.training)

    def _on_trigger_change(self, _change=None) -> None:
        # Keep the trigger inside the image: a larger square leaves fewer positions.
        last = self.preview_image.shape[-1] - self.size.value
        self.row.max, self.col.max = last, last
        self.preview.value = digit_png(apply_trigger(self.preview_image[None], self.config().trigger)[0])

    def train(self) -> dict | None:
        """Train (or recall) the configuration shown and display its results."""
        if self.busy:
            self.status.value = "<i>Still training the previous configuration; this click is ignored.</i>"
            return None
        config = self.config()
        self.busy, self.train_button.disabled = True, True
        try:
            if config not in self.results:
                stored = cached_path(config).exists()
                self.status.value = "Loading the model trained before..." if stored else "Training..."
                self.trainings_started += not stored
                self.output.clear_output()
                with self.output:
                    trained = train_model(config, self.train_set, progress=True)
                    self.results[config] = attack_results(trained, config, self.test_set)
                    self._show_examples(trained, config)
            self.status.value = ""
            self.result.value = self._summary(self.results[config])
            return self.results[config]
        finally:
            self.busy, self.train_button.disabled = False, False

    def _summary(self, results: dict) -> str:
        return (f"<b>poison rate {results['poison_rate']:.2%}</b> ({results['poisoned_samples']} samples): "
                f"clean accuracy <b>{results['clean_accuracy']:.2%}</b>, "
                f"attack success rate <b>{results['attack_success_rate']:.2%}</b>")

    def _show_examples(self, trained: TrainedModel, config: AttackConfig) -> None:
        others = (self.test_set.labels != config.target_label).nonzero().squeeze(1)[:self.examples]
        triggered = apply_trigger(self.test_set.images[others], config.trigger)
        answers = predict(trained.model, triggered)
        self.example_answers = list(zip(self.test_set.labels[others].tolist(), answers.tolist()))
        fig, axes = plt.subplots(1, len(others), figsize=(1.2 * len(others), 1.5))
        for ax, image, (true, answer) in zip(axes, triggered, self.example_answers):
            ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{true} → {answer}", fontsize=9, color="#d62728" if answer == config.target_label else "black")
            ax.axis("off")
        fig.tight_layout()
        display(fig)
        plt.close(fig)

    def widget(self) -> widgets.Widget:
        controls = widgets.VBox([self.poison_rate, self.row, self.col, self.size, self.target, self.train_button, self.status])
        return widgets.VBox([widgets.HBox([controls, self.preview]), self.result, self.output])

    def _ipython_display_(self) -> None:
        display(self.widget())


class StripPanel:
    """A slider for STRIP's false rejection rate: the threshold, the histogram and the false acceptance follow."""

    def __init__(self, clean_entropy: torch.Tensor, triggered_entropy: torch.Tensor):
        self.clean_entropy, self.triggered_entropy = clean_entropy, triggered_entropy
        self.false_rejection = widgets.SelectionSlider(
            options=[(f"{r:.1%}", r) for r in (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)], value=0.01,
            description="false rejection", style={"description_width": "110px"}, layout={"width": "420px"})
        self.result = widgets.HTML()
        self.output = widgets.Output()
        self.threshold = self.false_acceptance = None
        self.false_rejection.observe(lambda _change: self.update(), names="value")
        self.update()

    def update(self) -> None:
        rate = self.false_rejection.value
        self.threshold = rejection_threshold(self.clean_entropy, rate)
        self.false_acceptance = false_acceptance(self.triggered_entropy, self.threshold)
        self.result.value = (f"reject inputs with entropy below <b>{self.threshold:.3f}</b>: {rate:.1%} of clean inputs "
                             f"are turned away, <b>{self.false_acceptance:.1%}</b> of triggered inputs get through")
        self.output.clear_output(wait=True)
        with self.output:
            plots.histograms({"clean inputs": self.clean_entropy, "triggered inputs": self.triggered_entropy},
                             "STRIP: entropy of the predictions on blended copies", "mean entropy (nats)",
                             threshold=self.threshold, threshold_label="rejection threshold")
            plt.show()

    def _ipython_display_(self) -> None:
        display(widgets.VBox([self.false_rejection, self.result, self.output]))


class PruningPanel:
    """Sliders for how much to prune and at what grain; clean accuracy and ASR of the pruned model follow."""

    def __init__(self, model: torch.nn.Module, activations: torch.Tensor, test: ImageSet,
                 trigger: Trigger = Trigger(), target_label: int = 8):
        self.model, self.activations, self.test_set = model, activations, test
        self.trigger, self.target_label = trigger, target_label
        self.results: dict[tuple[str, float], dict] = {}
        style = {"description_width": "110px"}
        self.fraction = widgets.FloatSlider(0.3, min=0, max=0.9, step=0.05, description="pruned", readout_format=".0%",
                                            style=style, continuous_update=False)
        self.unit = widgets.ToggleButtons(options=UNITS, value="neuron", description="prune each", style=style)
        self.result = widgets.HTML()
        for control in (self.fraction, self.unit):
            control.observe(lambda _change: self.update(), names="value")
        self.update()

    def update(self) -> dict:
        key = (self.unit.value, round(self.fraction.value, 2))
        if key not in self.results:
            pruned = prune_dormant(self.model, self.activations, key[1], key[0])
            self.results[key] = evaluate(pruned, self.test_set, self.trigger, self.target_label)
        figures = self.results[key]
        self.result.value = (f"{key[1]:.0%} of the {key[0]}s pruned: clean accuracy <b>{figures['clean_accuracy']:.2%}</b>, "
                             f"attack success rate <b>{figures['attack_success_rate']:.2%}</b>")
        return figures

    def _ipython_display_(self) -> None:
        display(widgets.VBox([self.unit, self.fraction, self.result]))
