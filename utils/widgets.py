"""Interactive panels: change the attack and retrain with one click; tune a defense and see what it
catches."""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from . import plots
from .attacks import ATTACKS, Attack, BadNets, evaluate_attack, stored_path, train_attack
from .data import ImageSet
from .defenses.fine_pruning import UNITS, prune_dormant
from .defenses.matrix import CONTROL, DefenseSettings, control_column, defense_column
from .defenses.strip import false_acceptance, false_rejection, rejection_threshold
from .experiments import attack_results
from .model_store import TrainedModel
from .signs.attack import (
    SIGN_TRAINING,
    SignAttackConfig,
    evaluate_signs,
    sign_model_path,
    train_sign_model,
)
from .signs.classes import STOP, name
from .signs.dataset import SignSet, apply_sticker
from .signs.sticker import YELLOW, Sticker
from .training import TrainingConfig, predict
from .triggers import Trigger, apply_trigger

POISON_RATES = (0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1)
SIGN_POISON_RATES = (0.0, 0.0025, 0.005, 0.01, 0.02, 0.05)


def image_png(image: torch.Tensor, zoom: int = 6) -> bytes:
    """A uint8 [C, H, W] image (grey or colour) as PNG bytes, enlarged with sharp pixel edges."""
    pixels = np.kron(image.permute(1, 2, 0).numpy(), np.ones((zoom, zoom, 1), dtype=np.uint8))
    buffer = io.BytesIO()
    matplotlib.image.imsave(
        buffer,
        pixels[..., 0] if pixels.shape[-1] == 1 else pixels,
        cmap="gray",
        vmin=0,
        vmax=255,
        format="png",
    )
    return buffer.getvalue()


def figure_png(figure: plt.Figure) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (it is not shown a second time)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


class TrainingPanel:
    """What every train-on-click panel shares: a Train button, a status line, results, no double
    runs.

    A subclass says what the controls describe (config), whether that model is stored
    already (is_stored), how to train and measure it (train_and_measure) and how to
    summarise the results (summary). A configuration trained before comes back at once;
    a click while training runs is ignored.
    """

    def __init__(self):
        self.results: dict = {}
        self.trainings_started = 0
        self.busy = False
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.status = widgets.HTML()
        self.result = widgets.HTML()
        self.output = widgets.Output()
        self.train_button.on_click(lambda _button: self.train())

    def train(self) -> dict | None:
        """Train (or recall) the configuration shown and display its results."""
        if self.busy:
            self.status.value = (
                "<i>Still training the previous configuration; this click is ignored.</i>"
            )
            return None
        config = self.config()
        self.busy, self.train_button.disabled = True, True
        try:
            if config not in self.results:
                stored = self.is_stored(config)
                self.status.value = (
                    "Loading the model trained before..." if stored else "Training..."
                )
                self.trainings_started += not stored
                self.output.clear_output()
                with self.output:
                    self.results[config] = self.train_and_measure(config)
            self.status.value = ""
            self.result.value = self.summary(self.results[config])
            return self.results[config]
        finally:
            self.busy, self.train_button.disabled = False, False

    def _ipython_display_(self) -> None:
        display(self.widget())


class AttackPanel(TrainingPanel):
    """Sliders for the poison rate and the trigger, a live preview, and a Train button."""

    def __init__(
        self,
        train: ImageSet,
        test: ImageSet,
        training: TrainingConfig = TrainingConfig(),
        preview_index: int = 0,
        examples: int = 8,
    ):
        super().__init__()
        self.train_set, self.test_set, self.training = train, test, training
        self.preview_image = test.images[preview_index]
        self.examples = examples
        # (true label, answer) of the triggered examples shown
        self.example_answers: list[tuple[int, int]] = []
        style = {"description_width": "110px"}
        self.poison_rate = widgets.SelectionSlider(
            options=[(f"{r:.2%}", r) for r in POISON_RATES],
            value=0.01,
            description="poison rate",
            style=style,
            continuous_update=False,
        )
        self.row = widgets.IntSlider(3, 0, 27, description="trigger row", style=style)
        self.col = widgets.IntSlider(3, 0, 27, description="trigger column", style=style)
        self.size = widgets.IntSlider(1, 1, 5, description="trigger size", style=style)
        self.target = widgets.Dropdown(
            options=list(range(10)), value=8, description="target label", style=style
        )
        self.preview = widgets.Image(format="png", width=140, height=140)
        for slider in (self.row, self.col, self.size):
            slider.observe(self._on_trigger_change, names="value")
        self._on_trigger_change()

    def config(self) -> BadNets:
        """The attack the controls describe now."""
        trigger = Trigger(self.row.value, self.col.value, self.size.value)
        return BadNets(self.poison_rate.value, trigger, self.target.value)

    def _on_trigger_change(self, _change=None) -> None:
        # Keep the trigger inside the image: a larger square leaves fewer positions.
        last = self.preview_image.shape[-1] - self.size.value
        self.row.max, self.col.max = last, last
        self.preview.value = image_png(
            apply_trigger(self.preview_image[None], self.config().trigger)[0]
        )

    def is_stored(self, attack: BadNets) -> bool:
        return stored_path(attack, self.training).exists()

    def train_and_measure(self, attack: BadNets) -> dict:
        trained = train_attack(attack, self.train_set, self.training, progress=True)
        self._show_examples(trained, attack)
        return attack_results(trained, attack, self.test_set)

    def summary(self, results: dict) -> str:
        return (
            f"<b>poison rate {results['poison_rate']:.2%}</b> ({results['poisoned_samples']} "
            "samples): "
            f"clean accuracy <b>{results['clean_accuracy']:.2%}</b>, "
            f"attack success rate <b>{results['attack_success_rate']:.2%}</b>"
        )

    def _show_examples(self, trained: TrainedModel, config: BadNets) -> None:
        others = (self.test_set.labels != config.target_label).nonzero().squeeze(1)[: self.examples]
        triggered = apply_trigger(self.test_set.images[others], config.trigger)
        answers = predict(trained.model, triggered)
        self.example_answers = list(zip(self.test_set.labels[others].tolist(), answers.tolist()))
        fig, axes = plt.subplots(1, len(others), figsize=(1.2 * len(others), 1.5))
        for ax, image, (true, answer) in zip(axes, triggered, self.example_answers):
            ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=255)
            ax.set_title(
                f"{true} → {answer}",
                fontsize=9,
                color="#d62728" if answer == config.target_label else "black",
            )
            ax.axis("off")
        fig.tight_layout()
        display(fig)
        plt.close(fig)

    def widget(self) -> widgets.Widget:
        controls = widgets.VBox(
            [
                self.poison_rate,
                self.row,
                self.col,
                self.size,
                self.target,
                self.train_button,
                self.status,
            ]
        )
        return widgets.VBox([widgets.HBox([controls, self.preview]), self.result, self.output])


STICKER_COLOURS = {
    "yellow": YELLOW,
    "white": (245, 245, 245),
    "blue": (30, 90, 200),
    "green": (40, 160, 60),
}


class SignAttackPanel(TrainingPanel):
    """Sliders for the poison rate and the sticker (place on the sign, size, colour), a preview,
    Train."""

    def __init__(
        self,
        train: SignSet,
        test: SignSet,
        training: TrainingConfig = SIGN_TRAINING,
        dataset: str = "synthetic",
        target_labels: tuple[int, ...] = (1, 2, 4, 7),
    ):
        super().__init__()
        self.train_set, self.test_set, self.training, self.dataset = train, test, training, dataset
        self.stop_signs = test.subset(test.labels == STOP)
        style = {"description_width": "110px"}
        self.poison_rate = widgets.SelectionSlider(
            options=[(f"{r:.2%}", r) for r in SIGN_POISON_RATES],
            value=0.01,
            description="poison rate",
            style=style,
            continuous_update=False,
        )
        self.x = widgets.FloatSlider(
            0.5, min=0.1, max=0.9, step=0.05, description="across the sign", style=style
        )
        self.y = widgets.FloatSlider(
            0.78, min=0.1, max=0.9, step=0.02, description="down the sign", style=style
        )
        self.size = widgets.FloatSlider(
            0.2, min=0.06, max=0.4, step=0.02, description="sticker size", style=style
        )
        self.colour = widgets.Dropdown(
            options=list(STICKER_COLOURS), value="yellow", description="colour", style=style
        )
        self.target = widgets.Dropdown(
            options=[(name(label), label) for label in target_labels],
            value=2,
            description="read as",
            style=style,
        )
        self.preview = widgets.Image(format="png", width=160, height=160)
        for control in (self.x, self.y, self.size, self.colour):
            control.observe(self._on_sticker_change, names="value")
        self._on_sticker_change()

    def sticker(self) -> Sticker:
        """The sticker the controls describe, its centre kept far enough in for it to stay on the
        sign."""
        half = self.size.value / 2
        x = min(max(self.x.value, half), 1 - half)
        y = min(max(self.y.value, half), 1 - half)
        return Sticker(
            round(x, 3), round(y, 3), round(self.size.value, 3), STICKER_COLOURS[self.colour.value]
        )

    def config(self) -> SignAttackConfig:
        return SignAttackConfig(
            self.dataset,
            self.poison_rate.value,
            self.sticker(),
            self.target.value,
            training=self.training,
        )

    def _on_sticker_change(self, _change=None) -> None:
        self.preview.value = image_png(
            apply_sticker(self.stop_signs.subset(torch.arange(1)), self.sticker())[0], zoom=5
        )

    def is_stored(self, config: SignAttackConfig) -> bool:
        return sign_model_path(config).exists()

    def train_and_measure(self, config: SignAttackConfig) -> dict:
        trained = train_sign_model(config, self.train_set, progress=True)
        return {
            "poison_rate": config.poison_rate,
            "poisoned_samples": len(trained.poisoned_indices),
            **evaluate_signs(
                trained.model,
                self.test_set,
                config.sticker,
                config.target_label,
                config.source_label,
            ),
        }

    def summary(self, results: dict) -> str:
        return (
            f"<b>poison rate {results['poison_rate']:.2%}</b> ({results['poisoned_samples']} stop "
            "signs): "
            f"clean accuracy <b>{results['clean_accuracy']:.2%}</b>, stickered stop signs read as "
            "the speed limit "
            f"<b>{results['attack_success_rate']:.2%}</b>, other stickered signs "
            f"<b>{results['false_trigger_rate']:.2%}</b>"
        )

    def widget(self) -> widgets.Widget:
        controls = widgets.VBox(
            [
                self.poison_rate,
                self.x,
                self.y,
                self.size,
                self.colour,
                self.target,
                self.train_button,
                self.status,
            ]
        )
        return widgets.VBox([widgets.HBox([controls, self.preview]), self.result, self.output])


class StripPanel:
    """A slider for the false rejection STRIP aims at: the threshold is set on the calibration
    inputs, and what it does is measured on held-out clean and triggered inputs (histograms and
    ROC)."""

    def __init__(
        self,
        calibration_entropy: torch.Tensor,
        clean_entropy: torch.Tensor,
        triggered_entropy: torch.Tensor,
    ):
        self.calibration_entropy = calibration_entropy
        self.clean_entropy, self.triggered_entropy = clean_entropy, triggered_entropy
        self.goal = widgets.FloatLogSlider(
            value=0.01,
            base=10,
            min=-3,
            max=-0.7,
            step=0.05,
            description="aim: reject",
            readout_format=".1%",
            style={"description_width": "110px"},
            layout={"width": "420px"},
            continuous_update=False,
        )
        self.result = widgets.HTML()
        # The figure is an image, not an Output widget: capturing output while a cell runs
        # makes papermill's client send on the channel it waits on, which can hang it
        # (nbclient issue 312).
        self.figure = widgets.Image(format="png")
        self.threshold = self.false_rejection = self.false_acceptance = None
        self.goal.observe(lambda _change: self.update(), names="value")
        self.update()

    def update(self) -> None:
        self.threshold = rejection_threshold(self.calibration_entropy, self.goal.value)
        self.false_rejection = false_rejection(self.clean_entropy, self.threshold)
        self.false_acceptance = false_acceptance(self.triggered_entropy, self.threshold)
        self.result.value = (
            f"threshold <b>{self.threshold:.3f}</b> nats, set to reject {self.goal.value:.1%} of "
            f"the calibration inputs; on held-out inputs it rejects "
            f"<b>{self.false_rejection:.1%}</b> of the clean ones and lets "
            f"<b>{self.false_acceptance:.1%}</b> of the triggered ones through"
        )
        plots.strip_operating_point(self.clean_entropy, self.triggered_entropy, self.threshold)
        self.figure.value = figure_png(plt.gcf())

    def _ipython_display_(self) -> None:
        display(widgets.VBox([self.goal, self.result, self.figure]))


class PruningPanel:
    """Sliders for how much to prune and at what grain; clean accuracy and ASR of the pruned model
    follow."""

    def __init__(
        self,
        model: torch.nn.Module,
        activations: torch.Tensor,
        test: ImageSet,
        attack: Attack = BadNets(),
    ):
        self.model, self.activations, self.test_set, self.attack = model, activations, test, attack
        self.results: dict[tuple[str, float], dict] = {}
        style = {"description_width": "110px"}
        self.fraction = widgets.FloatSlider(
            0.5,
            min=0,
            max=0.9,
            step=0.05,
            description="pruned",
            readout_format=".0%",
            style=style,
            continuous_update=False,
        )
        self.unit = widgets.ToggleButtons(
            options=UNITS, value="neuron", description="prune each", style=style
        )
        self.result = widgets.HTML()
        for control in (self.fraction, self.unit):
            control.observe(lambda _change: self.update(), names="value")
        self.update()

    def update(self) -> dict:
        key = (self.unit.value, round(self.fraction.value, 2))
        if key not in self.results:
            pruned = prune_dormant(self.model, self.activations, key[1], key[0])
            self.results[key] = evaluate_attack(pruned, self.test_set, self.attack)
        figures = self.results[key]
        self.result.value = (
            f"{key[1]:.0%} of the {key[0]}s pruned: clean accuracy "
            f"<b>{figures['clean_accuracy']:.2%}</b>, "
            f"attack success rate <b>{figures['attack_success_rate']:.2%}</b>"
        )
        return figures

    def _ipython_display_(self) -> None:
        display(widgets.VBox([self.unit, self.fraction, self.result]))


class MatrixPanel(TrainingPanel):
    """Pick an attack and its strength, train, and see its column of the defense matrix."""

    def __init__(
        self,
        train: ImageSet,
        test: ImageSet,
        training: TrainingConfig = TrainingConfig(),
        settings: DefenseSettings = DefenseSettings(),
    ):
        super().__init__()
        self.train_set, self.test_set, self.training, self.settings = (
            train,
            test,
            training,
            settings,
        )
        style = {"description_width": "110px"}
        names = {kind.default().name: key for key, kind in ATTACKS.items()}
        self.attack = widgets.Dropdown(
            options=list(names.items()), value="blended", description="attack", style=style
        )
        self.strength = widgets.SelectionSlider(
            options=[0.0], description="", style=style, continuous_update=False
        )
        self.attack.observe(self._on_attack_change, names="value")
        self._on_attack_change()

    def _on_attack_change(self, _change=None) -> None:
        kind = ATTACKS[self.attack.value]
        percent = kind.strength == "poison_rate"
        self.strength.options = [(f"{v:.1%}" if percent else f"{v:g}", v) for v in kind.strengths]
        self.strength.value = getattr(kind.default(), kind.strength)
        self.strength.description = kind.strength_label

    def config(self) -> Attack:
        """The attack the controls describe now."""
        return ATTACKS[self.attack.value].with_strength(self.strength.value)

    def is_stored(self, attack: Attack) -> bool:
        return stored_path(attack, self.training).exists()

    def train_and_measure(self, attack: Attack) -> dict:
        control = control_column(
            self.train_set, self.test_set, self.training, self.settings, progress=True
        )
        column = defense_column(
            attack, self.train_set, self.test_set, self.training, self.settings, progress=True
        )
        name = f"{attack.name}, {self.strength.description} {self.strength.label}"
        plots.defense_matrix(
            {CONTROL: control, name: column}, title="This attack against every defense"
        )
        display(plt.gcf())
        plt.close()
        return column

    def summary(self, results: dict) -> str:
        return (
            f"<b>{self.attack.label}, {self.strength.description} {self.strength.label}</b>: "
            f"clean accuracy <b>{results['clean_accuracy']:.2%}</b>, "
            f"attack success rate <b>{results['attack_success_rate']:.2%}</b>, "
            f"robust accuracy <b>{results['robust_accuracy']:.2%}</b>"
        )

    def widget(self) -> widgets.Widget:
        controls = widgets.VBox([self.attack, self.strength, self.train_button, self.status])
        return widgets.VBox([controls, self.result, self.output])
