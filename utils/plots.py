"""Figures of the lab: image grids, training curves, heat maps, dose-response curves.

Every function draws one figure and returns nothing: Jupyter shows the figure below the
cell, and a script can save it with plt.savefig.
"""

from __future__ import annotations

import io
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from .training import History
from .triggers import Trigger

# Every pixel of an image drawn as a sharp square: what the network sees, and a PNG a fraction
# of the size of a smoothed one. 75 dots an inch keeps each notebook's stored figures small
# (under 400 KB a notebook) and their text readable.
plt.rcParams["image.interpolation"] = "nearest"
plt.rcParams["figure.dpi"] = 75

TRIGGER_COLOUR = "#ff2d55"
CLEAN_COLOUR, ATTACK_COLOUR, ARTICLE_COLOUR = "#1f77b4", "#d62728", "#7f7f7f"


def image_grid(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    outline: Trigger | None = None,
    title: str | None = None,
    scale: float = 1.3,
) -> None:
    """Images [N, C, H, W] (uint8) in a grid; `outline` draws a box around a trigger. In a
    notebook, colour photos are shown as a JPEG (a fraction of a PNG's size, for the same
    look) and the figure is closed."""
    count = len(images)
    nrows = max(1, -(-count // ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(ncols * scale, nrows * scale * (1.25 if titles else 1)),
        squeeze=False,
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        image = images[i].permute(1, 2, 0).numpy()
        if image.shape[-1] == 1:
            ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
        else:  # a photo, smoothed as a camera would show it (and a third of the JPEG's size)
            ax.imshow(image, interpolation="bilinear")
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
        if outline is not None:
            ax.add_patch(
                Rectangle(
                    (outline.col - 1, outline.row - 1),
                    outline.size + 1,
                    outline.size + 1,
                    fill=False,
                    edgecolor=TRIGGER_COLOUR,
                    linewidth=1.5,
                )
            )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if images.shape[1] == 3:
        show_as_jpeg(fig)


def show_as_jpeg(fig: plt.Figure, quality: int = 70) -> None:
    """In a notebook, show `fig` as a JPEG image and close it (elsewhere, leave it open)."""
    _show_encoded(
        fig, lambda buffer: fig.savefig(buffer, format="jpeg", pil_kwargs={"quality": quality})
    )


def show_in_few_colours(fig: plt.Figure, colours: int = 32) -> None:
    """In a notebook, show `fig` as a PNG of `colours` colours and close it (elsewhere, leave it
    open): a chart of flat colours and text loses nothing visible and most of its size."""
    from PIL import Image as Picture

    def encode(buffer: io.BytesIO) -> None:
        full = io.BytesIO()
        fig.savefig(full, format="png")
        Picture.open(full).convert("RGB").quantize(colours).save(
            buffer, format="png", optimize=True
        )

    _show_encoded(fig, encode)


def _show_encoded(fig: plt.Figure, encode) -> None:
    """In a notebook, display the image encode(buffer) writes of `fig`, and close `fig`."""
    from IPython import get_ipython
    from IPython.display import Image, display

    if get_ipython() is None:
        return
    buffer = io.BytesIO()
    encode(buffer)
    plt.close(fig)
    display(Image(buffer.getvalue()))


def zoom_on_trigger(
    image: torch.Tensor, trigger: Trigger, margin: int = 4, title: str | None = None
) -> None:
    """One image beside an enlarged view of the trigger's corner, with its pixel values."""
    fig, (whole, detail) = plt.subplots(1, 2, figsize=(7, 3.4))
    pixels = image[0].numpy()
    whole.imshow(pixels, cmap="gray", vmin=0, vmax=255)
    top, left = max(0, trigger.row - margin), max(0, trigger.col - margin)
    bottom, right = trigger.row + trigger.size + margin, trigger.col + trigger.size + margin
    whole.add_patch(
        Rectangle(
            (left - 0.5, top - 0.5),
            right - left,
            bottom - top,
            fill=False,
            edgecolor=TRIGGER_COLOUR,
            linewidth=1.5,
        )
    )
    whole.set_title(title or "the whole image")
    crop = pixels[top:bottom, left:right]
    detail.imshow(
        crop,
        cmap="gray",
        vmin=0,
        vmax=255,
        extent=(left - 0.5, left + crop.shape[1] - 0.5, top + crop.shape[0] - 0.5, top - 0.5),
    )
    for (r, c), value in np.ndenumerate(crop):
        detail.text(
            left + c,
            top + r,
            str(value),
            ha="center",
            va="center",
            fontsize=7,
            color="black" if value > 128 else "white",
        )
    detail.set_title(
        f"rows {top}-{top + crop.shape[0] - 1}, columns {left}-{left + crop.shape[1] - 1}"
    )
    detail.set_xlabel("column")
    detail.set_ylabel("row")
    fig.tight_layout()


def training_curves(history: History, title: str = "Training") -> None:
    """The loss batch by batch (log scale) and the accuracy per epoch, side by side."""
    epochs = np.arange(1, len(history.loss) + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.4))
    batches = (
        np.arange(1, len(history.batch_loss) + 1) / max(1, len(history.batch_loss)) * len(epochs)
    )
    loss_ax.plot(
        batches,
        history.batch_loss,
        color=CLEAN_COLOUR,
        alpha=0.35,
        linewidth=0.8,
        label="each batch",
    )
    loss_ax.plot(epochs, history.loss, "o-", color=CLEAN_COLOUR, label="mean over the epoch")
    loss_ax.set(
        title="training loss", xlabel="epoch", ylabel="cross-entropy", yscale="log", xticks=epochs
    )
    loss_ax.legend(fontsize=8)
    acc_ax.plot(
        epochs,
        np.array(history.train_accuracy) * 100,
        "o-",
        label="training set (during the epoch)",
    )
    if history.test_accuracy:
        acc_ax.plot(
            epochs, np.array(history.test_accuracy) * 100, "s-", label="test set (after the epoch)"
        )
    acc_ax.set(title="accuracy", xlabel="epoch", ylabel="%", xticks=epochs)
    acc_ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()


def confusion_heatmap(
    matrix: torch.Tensor,
    title: str = "Confusion matrix",
    xlabel: str = "predicted",
    ylabel: str = "true",
) -> None:
    """A confusion matrix of counts, each cell labelled, the colour on a log scale."""
    counts = matrix.numpy()
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    shown = ax.imshow(np.log1p(counts), cmap="Blues")
    for (r, c), value in np.ndenumerate(counts):
        if value:
            ax.text(
                c,
                r,
                str(value),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shown.norm(np.log1p(value)) > 0.6 else "black",
            )
    ticks = np.arange(len(counts))
    ax.set(xticks=ticks, yticks=ticks, xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()


def pixel_heatmap(
    values: np.ndarray | torch.Tensor,
    title: str,
    colorbar_label: str,
    mark: Trigger | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "magma",
) -> None:
    """A value per pixel position (a mean image, a success rate per trigger position ...)."""
    values = np.asarray(values)
    fig, ax = plt.subplots(figsize=(5, 4.3))
    shown = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(shown, ax=ax, label=colorbar_label)
    if mark is not None:
        ax.add_patch(
            Rectangle(
                (mark.col - 0.5, mark.row - 0.5),
                mark.size,
                mark.size,
                fill=False,
                edgecolor="#00e5ff",
                linewidth=2,
            )
        )
    ax.set(title=title, xlabel="column", ylabel="row")
    fig.tight_layout()


def bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    title: str,
    ylabel: str,
    colour: str = CLEAN_COLOUR,
    percent: bool = True,
) -> None:
    """One bar per label, each with its value written on top."""
    fig, ax = plt.subplots(figsize=(7, 3))
    shown = np.array(values) * (100 if percent else 1)
    bars = ax.bar(labels, shown, color=colour)
    ax.bar_label(bars, labels=[f"{v:.1f}" if percent else f"{v:,.0f}" for v in shown], fontsize=8)
    ax.set(title=title, ylabel=ylabel)
    ax.margins(y=0.15)
    fig.tight_layout()


def dose_response(sweep: Sequence[dict], article_points: dict[float, float]) -> None:
    """Clean accuracy, ASR and the article's measure against the poison rate, the article's figures
    beside."""
    rates = [r["poison_rate"] for r in sweep]
    positions = np.arange(len(sweep))
    fig, ax = plt.subplots(figsize=(8, 4))
    for key, style, colour, alpha, label in [
        ("clean_accuracy", "o-", CLEAN_COLOUR, 1.0, "clean accuracy (lab)"),
        ("attack_success_rate", "s-", ATTACK_COLOUR, 1.0, "attack success rate (lab)"),
        ("article_metric", "^:", ATTACK_COLOUR, 0.5, "article's measure (lab)"),
    ]:
        values = [100 * r[key] for r in sweep]
        ax.plot(positions, values, style, color=colour, alpha=alpha, label=label)
    shown = {rates.index(rate): value for rate, value in article_points.items() if rate in rates}
    ax.plot(
        list(shown),
        [100 * v for v in shown.values()],
        "D",
        color=ARTICLE_COLOUR,
        markersize=9,
        label="article (its measure)",
    )
    ax.set(
        xticks=positions,
        xticklabels=[f"{r:.2%}" for r in rates],
        xlabel="poison rate (fraction of training set)",
        ylabel="%",
        title="Dose-response: more poison, stronger backdoor",
        ylim=(-3, 103),
    )
    ax.legend(loc="center right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()


def curve(
    x: Sequence[float],
    y: Sequence[float],
    title: str,
    xlabel: str,
    ylabel: str,
    colour: str = ATTACK_COLOUR,
    percent: bool = True,
) -> None:
    """One measured curve, points marked."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(x, np.array(y) * (100 if percent else 1), "o-", color=colour)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if percent:
        ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    fig.tight_layout()


def cluster_view(
    components: torch.Tensor, in_small_cluster: torch.Tensor, is_poisoned: torch.Tensor, title: str
) -> None:
    """One class's activations in 2-D: along the line joining its two clusters, and across it.

    Left, each sample coloured by the truth (clean or poisoned); right, the same samples
    counted along the line, with the split the clustering chose.
    """
    small, large = components[in_small_cluster].mean(0), components[~in_small_cluster].mean(0)
    axis = (small - large) / (small - large).norm()
    along = components @ axis
    rest = components - along[:, None] * axis
    _, _, right = torch.linalg.svd(rest - rest.mean(0), full_matrices=False)
    across = rest @ right[0]
    fig, (scatter, counts) = plt.subplots(1, 2, figsize=(9.5, 3.3))
    for mask, colour, name in [
        (~is_poisoned, CLEAN_COLOUR, "clean"),
        (is_poisoned, ATTACK_COLOUR, "poisoned"),
    ]:
        scatter.scatter(
            along[mask],
            across[mask],
            s=4,
            alpha=0.35 if name == "clean" else 0.8,
            color=colour,
            label=f"{name} ({int(mask.sum())})",
            linewidths=0,
        )
    scatter.set(
        xlabel="along the line joining the two clusters",
        ylabel="largest spread across it",
        title=title,
    )
    scatter.legend(markerscale=4, fontsize=8)
    bins = np.linspace(along.min().item(), along.max().item(), 60)
    counts.hist(
        along[~is_poisoned].numpy(), bins=bins, color=CLEAN_COLOUR, alpha=0.7, label="clean"
    )
    counts.hist(
        along[is_poisoned].numpy(), bins=bins, color=ATTACK_COLOUR, alpha=0.8, label="poisoned"
    )
    boundary = (along[in_small_cluster].min() + along[~in_small_cluster].max()) / 2
    counts.axvline(
        boundary.item(), color="black", linestyle="--", linewidth=1, label="where the clusters meet"
    )
    counts.set(
        xlabel="along the line joining the two clusters",
        ylabel="samples",
        yscale="log",
        title="the same, counted",
    )
    counts.legend(fontsize=8)
    fig.tight_layout()


def cluster_shares(
    labels: Sequence[int], shares: Sequence[float], silhouettes: Sequence[float], max_share: float
) -> None:
    """Per class: the share of its smaller cluster (suspicious below `max_share`) and the
    silhouette."""
    fig, (share_ax, silhouette_ax) = plt.subplots(1, 2, figsize=(10, 2.9))
    colours = [ATTACK_COLOUR if s < max_share else CLEAN_COLOUR for s in shares]
    bars = share_ax.bar([str(label) for label in labels], np.array(shares) * 100, color=colours)
    share_ax.bar_label(bars, fmt="%.1f", fontsize=8)
    share_ax.axhline(
        max_share * 100,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"suspicious below {max_share:.0%}",
    )
    share_ax.set(
        title="share of the smaller cluster", xlabel="label in the training set", ylabel="%"
    )
    share_ax.legend(fontsize=8)
    bars = silhouette_ax.bar([str(label) for label in labels], silhouettes, color=colours)
    silhouette_ax.bar_label(bars, fmt="%.2f", fontsize=8)
    silhouette_ax.set(
        title="silhouette (how far apart the clusters are)", xlabel="label in the training set"
    )
    for ax in (share_ax, silhouette_ax):
        ax.margins(y=0.15)
    fig.tight_layout()


def histograms(
    groups: dict[str, torch.Tensor],
    title: str,
    xlabel: str,
    threshold: float | None = None,
    threshold_label: str = "threshold",
    log_counts: bool = False,
    colours: Sequence[str] = (CLEAN_COLOUR, ATTACK_COLOUR),
) -> None:
    """Overlaid histograms of one measure for several groups, with an optional threshold line."""
    fig, ax = plt.subplots(figsize=(7, 3))
    values = torch.cat(list(groups.values()))
    bins = np.linspace(values.min().item(), values.max().item(), 60)
    for (name, group), colour in zip(groups.items(), colours):
        ax.hist(group.numpy(), bins=bins, alpha=0.6, color=colour, label=f"{name} ({len(group)})")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=threshold_label)
    ax.set(title=title, xlabel=xlabel, ylabel="count", yscale="log" if log_counts else "linear")
    ax.legend(fontsize=8)
    fig.tight_layout()


def strip_operating_point(
    clean_entropy: torch.Tensor, triggered_entropy: torch.Tensor, threshold: float
) -> None:
    """STRIP on held-out inputs: the two entropy histograms with the threshold, and the ROC
    curve (every threshold's false rejection against triggered inputs rejected) with this one
    marked."""
    fig, (hist_ax, roc_ax) = plt.subplots(
        1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [3, 2]}
    )
    bins = np.linspace(0, max(clean_entropy.max().item(), triggered_entropy.max().item()), 60)
    for (name, group), colour in zip(
        {"clean inputs": clean_entropy, "triggered inputs": triggered_entropy}.items(),
        (CLEAN_COLOUR, ATTACK_COLOUR),
    ):
        hist_ax.hist(
            group.numpy(), bins=bins, alpha=0.6, color=colour, label=f"{name} ({len(group)})"
        )
    hist_ax.axvline(
        threshold, color="black", linestyle="--", linewidth=1, label="rejection threshold"
    )
    hist_ax.set(
        title="Held-out inputs: entropy of the blended copies",
        xlabel="mean entropy (nats)",
        ylabel="count",
    )
    hist_ax.legend(fontsize=8)
    thresholds = torch.cat([clean_entropy, triggered_entropy]).sort().values
    rejected_clean = (clean_entropy[None] < thresholds[:, None]).float().mean(1)
    rejected_triggered = (triggered_entropy[None] < thresholds[:, None]).float().mean(1)
    roc_ax.plot(rejected_clean.numpy(), rejected_triggered.numpy(), color=ATTACK_COLOUR)
    roc_ax.plot(
        [(clean_entropy < threshold).float().mean().item()],
        [(triggered_entropy < threshold).float().mean().item()],
        "o",
        color="black",
        label="this threshold",
    )
    roc_ax.set(
        title="Every threshold (ROC)",
        xlabel="clean inputs rejected",
        ylabel="triggered inputs rejected",
        xscale="symlog",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    roc_ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:.0%}"))
    roc_ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:.0%}"))
    roc_ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()


def reversed_triggers(
    masks: torch.Tensor,
    norms: torch.Tensor,
    anomaly: torch.Tensor,
    title: str,
    mark: Trigger | None = None,
    threshold: float = 2.0,
) -> None:
    """The mask Neural Cleanse found for every label, and each mask's size and anomaly index."""
    count = len(masks)
    fig = plt.figure(figsize=(10, 3.9))
    grid = fig.add_gridspec(2, count, height_ratios=(1, 1.1))
    for label in range(count):
        ax = fig.add_subplot(grid[0, label])
        ax.imshow(masks[label].numpy(), cmap="magma", vmin=0, vmax=1)
        ax.set_title(
            f"label {label}\n{norms[label]:.1f} px",
            fontsize=9,
            color=ATTACK_COLOUR if anomaly[label] > threshold else "black",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        if mark is not None:
            ax.add_patch(
                Rectangle(
                    (mark.col - 1.5, mark.row - 1.5),
                    mark.size + 2,
                    mark.size + 2,
                    fill=False,
                    edgecolor="#00e5ff",
                    linewidth=1,
                )
            )
    bars_ax = fig.add_subplot(grid[1, :])
    colours = [ATTACK_COLOUR if a > threshold else CLEAN_COLOUR for a in anomaly.tolist()]
    bars = bars_ax.bar([str(label) for label in range(count)], anomaly.numpy(), color=colours)
    bars_ax.bar_label(bars, fmt="%.2f", fontsize=8)
    bars_ax.axhline(
        threshold, color="black", linestyle="--", linewidth=1, label=f"flagged above {threshold:g}"
    )
    bars_ax.axhline(0, color="grey", linewidth=0.5)
    bars_ax.set(xlabel="label", ylabel="anomaly index")
    bars_ax.legend(fontsize=8, loc="upper left")
    bars_ax.margins(y=0.2)
    fig.suptitle(title)
    fig.tight_layout()


def activation_maps(
    activations: torch.Tensor, title: str, ncols: int = 8, change: bool = False
) -> None:
    """A value per neuron [C, H, W] of a convolution, one small map per channel.

    change=True shows signed differences (red up, blue down) instead of activations.
    """
    channels = len(activations)
    nrows = -(-channels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 1.1, nrows * 1.4 + 0.4), squeeze=False)
    top = activations.abs().max().item()
    cmap, vmin = ("RdBu_r", -top) if change else ("viridis", 0)
    for channel, ax in enumerate(axes.flat):
        ax.axis("off")
        if channel < channels:
            shown = ax.imshow(activations[channel].numpy(), cmap=cmap, vmin=vmin, vmax=top)
            ax.set_title(f"channel {channel}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.colorbar(shown, ax=axes, shrink=0.8, label="change" if change else "mean activation")


def pruning_curves(fractions: Sequence[float], results: dict[str, Sequence[dict]]) -> None:
    """Clean accuracy and ASR against the fraction pruned, one line style per way of pruning."""
    fig, ax = plt.subplots(figsize=(7, 3.3))
    shown = np.array(fractions) * 100
    for (name, rows), style in zip(results.items(), ("o-", "s--", "^:")):
        ax.plot(
            shown,
            [100 * r["clean_accuracy"] for r in rows],
            style,
            color=CLEAN_COLOUR,
            label=f"clean accuracy, {name}",
        )
        ax.plot(
            shown,
            [100 * r["attack_success_rate"] for r in rows],
            style,
            color=ATTACK_COLOUR,
            label=f"ASR, {name}",
        )
    ax.set(
        xlabel="pruned, least active first (%)",
        ylabel="%",
        ylim=(-3, 103),
        title="Pruning dormant units (no fine-tuning yet)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left")
    fig.tight_layout()


def lines(
    x: Sequence[float],
    series: dict[str, Sequence[float]],
    title: str,
    xlabel: str,
    ylabel: str = "%",
    colours: Sequence[str] = (ATTACK_COLOUR, CLEAN_COLOUR, ARTICLE_COLOUR),
    mark: float | None = None,
) -> None:
    """Several measured curves over the same x (fractions shown as %), an optional vertical mark."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    for (name, values), colour, style in zip(series.items(), colours, ("o-", "s--", "^:")):
        ax.plot(x, np.array(values) * 100, style, color=colour, label=name)
    if mark is not None:
        ax.axvline(mark, color="grey", linestyle=":", linewidth=1, label="as trained")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, ylim=(-3, 103))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()


def sticker_map(
    values: torch.Tensor,
    xs: Sequence[float],
    ys: Sequence[float],
    sign: torch.Tensor,
    size: float,
    title: str,
) -> None:
    """A value for each sticker position, as squares on the sign (an RGBA template [4, H, W])."""
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.imshow(sign.permute(1, 2, 0).numpy(), extent=(0, 1, 1, 0))
    colours = plt.get_cmap("magma")
    for row, y in enumerate(ys):
        for col, x in enumerate(xs):
            value = values[row, col].item()
            ax.add_patch(
                Rectangle(
                    (x - size / 2, y - size / 2),
                    size,
                    size,
                    facecolor=colours(value),
                    edgecolor="white",
                    alpha=0.7,
                )
            )
            ax.text(
                x,
                y,
                f"{value:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 0.6 else "black",
            )
    ax.set(
        xlim=(0, 1),
        ylim=(1, 0),
        title=title,
        xlabel="sticker centre, across the sign",
        ylabel="down the sign",
    )
    fig.tight_layout()


VERDICT_COLOURS = {
    "caught": "#a6dba0",
    "partly": "#fee08b",
    "missed": "#f4a582",
    "like clean": "#f4a582",
    "quiet": "#f0f0f0",
    "false alarm": "#f4a582",
}


def defense_matrix(
    columns: dict[str, dict],
    ranges: dict[str, dict] | None = None,
    title: str = "Which defense catches which attack",
    compact: bool = False,
) -> None:
    """The attack-by-defense matrix: the control column ("no attack") first, then one column per
    attack. `compact` shows a large matrix in 32 colours (a quarter of the PNG's size).

    The top rows give each column's budget, clean accuracy, ASR and robust accuracy; each
    defense's cell shows its figure as printed, its verdict (see defenses.matrix), a mark
    when the figure lies near a threshold, and the range over seeds from `ranges`
    ({column: {defense: (low, high)}}, a benchmark's figures), when given.
    """
    from .defenses.matrix import (
        CONTROL,
        REPAIRS,
        cell_figure,
        cell_verdict,
        near_threshold,
        rows_of,
    )

    control, rows = columns[CONTROL], rows_of(columns)
    header = [
        ("poisoned_samples", "poisoned images (share of the target class)"),
        ("clean_accuracy", "clean accuracy"),
        ("attack_success_rate", "attack success rate"),
        ("robust_accuracy", "robust accuracy"),
    ]
    height = len(header) + len(rows)
    fig, ax = plt.subplots(figsize=(2.2 * len(columns) + 3.6, 0.64 * height + 1.1))
    for x, (name, column) in enumerate(columns.items()):
        for y, (key, _) in enumerate(header):
            text = (
                f"{column[key]:.1%}"
                if key != "poisoned_samples"
                else f"{column[key]:,} ({column['poisoned_share_of_target']:.1%})"
            )
            if name == CONTROL and key in ("attack_success_rate", "robust_accuracy"):
                text = f"{column[key]:.1%} (BadNets trigger)"
            ax.add_patch(
                Rectangle((x, y), 1, 1, facecolor="#f0f0f0", edgecolor="white", linewidth=2)
            )
            ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=9)
        for y, defense in enumerate(rows, start=len(header)):
            call = cell_verdict(defense, column, control, name == CONTROL)
            near = name != CONTROL and near_threshold(defense, column, control)
            ax.add_patch(
                Rectangle(
                    (x, y),
                    1,
                    1,
                    facecolor=VERDICT_COLOURS[call],
                    edgecolor="white",
                    linewidth=2,
                    hatch="//" if near else None,
                )
            )
            figure = cell_figure(defense, column, name == CONTROL)
            ax.text(
                x + 0.5, y + 0.3, figure, ha="center", va="center", fontsize=10, fontweight="bold"
            )
            ax.text(
                x + 0.5,
                y + 0.58,
                call + (", near a threshold" if near else ""),
                ha="center",
                va="center",
                fontsize=7,
                color="#333333",
            )
            spread = (ranges or {}).get(name, {}).get(defense)
            if spread:
                low, high = spread
                text = (
                    f"{low:.2f}-{high:.2f}"
                    if defense == "neural_cleanse"
                    else f"{100 * low:.2f}-{100 * high:.2f} points"
                    if defense in REPAIRS and name == CONTROL
                    else f"{low:.1%}-{high:.1%}"
                )
                ax.text(
                    x + 0.5,
                    y + 0.82,
                    f"seeds 0-2: {text}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="#555555",
                    style="italic",
                )
    ax.set_xlim(0, len(columns))
    ax.set_ylim(height, 0)
    ax.set_xticks(np.arange(len(columns)) + 0.5, list(columns), fontsize=10)
    ax.xaxis.tick_top()
    ax.set_yticks(
        np.arange(height) + 0.5,
        [label for _, label in header]
        + [f"{r.title}\n{r.figure}\n(no attack: {r.control})" for r in rows.values()],
        fontsize=9,
    )
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.axhline(len(header), color="black", linewidth=1)
    ax.axvline(1, color="black", linewidth=1)
    ax.set_title(
        title
        + (
            ""
            if ranges is None
            else "\n(hatched: near a threshold; italic: the range over "
            "seeds 0-2 in benchmarks/attack_matrix.py)"
        ),
        pad=12,
    )
    fig.tight_layout()
    if compact:
        show_in_few_colours(fig)


def difference_images(
    originals: torch.Tensor, changed: torch.Tensor, names: Sequence[str], scale: int = 64
) -> None:
    """Each changed image above its difference from the original, shown at +-`scale` grey levels.

    A difference of a few grey levels is invisible at full scale; stretching the
    colours to +-scale makes it readable (red brighter, blue darker, white unchanged).
    """
    count = len(names)
    fig, axes = plt.subplots(2, count, figsize=(2.3 * count + 1, 4.8), layout="constrained")
    for k, name in enumerate(names):
        difference = changed[k, 0].int() - originals[k, 0].int()
        axes[0, k].imshow(changed[k, 0].numpy(), cmap="gray", vmin=0, vmax=255)
        axes[0, k].set_title(name, fontsize=9)
        shown = axes[1, k].imshow(difference.numpy(), cmap="RdBu_r", vmin=-scale, vmax=scale)
        axes[1, k].set_title(f"largest change {difference.abs().max().item()}", fontsize=8)
        for ax in axes[:, k]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("as trained on")
    axes[1, 0].set_ylabel("minus the original")
    fig.colorbar(
        shown,
        ax=axes[1, :].tolist(),
        shrink=0.8,
        label=f"change in grey levels (clipped at ±{scale})",
    )


def roc_curves(curves: dict[str, tuple[Sequence[float], Sequence[float], float]]) -> None:
    """Receiver operating characteristic curves: for each name, (false positive rates, true
    positive rates, area under the curve), with chance as a dashed diagonal."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for name, (false_positive, true_positive, area) in curves.items():
        ax.plot(false_positive, true_positive, marker=".", label=f"{name} (AUC {area:.2f})")
    ax.plot([0, 1], [0, 1], "--", color=ARTICLE_COLOUR, label="chance (AUC 0.50)")
    ax.set(
        xlabel="clean models flagged (false positive rate)",
        ylabel="backdoored models flagged (true positive rate)",
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        title="Detectors on the population",
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()


def neuron_scores(
    scores: dict[str, torch.Tensor],
    thresholds: dict[str, float],
    ylabel: str,
    prune_above: bool,
    title: str,
) -> None:
    """A pruning defense's score of every neuron, one panel per layer, sorted, with the layer's
    threshold as a dashed line and the neurons it prunes in the attack's colour."""
    fig, axes = plt.subplots(1, len(scores), figsize=(3.4 * len(scores), 3), squeeze=False)
    for ax, (layer, values) in zip(axes[0], scores.items()):
        ordered = values.flatten().sort().values.numpy()
        pruned = ordered > thresholds[layer] if prune_above else ordered < thresholds[layer]
        ranks = np.arange(len(ordered))
        ax.scatter(ranks[~pruned], ordered[~pruned], s=6, color=CLEAN_COLOUR, label="kept")
        ax.scatter(ranks[pruned], ordered[pruned], s=10, color=ATTACK_COLOUR, label="pruned")
        ax.axhline(thresholds[layer], color="black", linestyle="--", linewidth=1)
        ax.set(
            title=f"{layer}: {pruned.sum()} of {len(ordered)} pruned",
            xlabel="neurons, sorted",
            ylabel=ylabel,
        )
        ax.title.set_fontsize(9)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
