"""Fit and predict on in-memory tensors: seeded, batched by slicing, with a progress bar."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import ImageSet, check_pixels
from .runtime import configure_threads, pick_device


@dataclass(frozen=True)
class TrainingConfig:
    """How a model is trained. The defaults reach 99% on MNIST in two epochs."""

    epochs: int = 2
    batch_size: int = 256
    learning_rate: float = 0.02
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be a number > 0, got {self.learning_rate!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be a whole number, got {self.seed!r}")


@dataclass
class History:
    """Per-epoch figures of one training run, for plots and results files."""

    loss: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    train_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def fit(
    model: nn.Module,
    train: ImageSet,
    config: TrainingConfig = TrainingConfig(),
    *,
    test: ImageSet | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> History:
    """Train `model` in place on uint8 images with Adam and a one-cycle learning rate.

    The order of the batches depends only on config.seed, so the same seed, initial
    weights and machine give the same trained weights. With `test`, the test accuracy
    is recorded after every epoch.
    """
    check_pixels(train.images, "training images")
    if len(train.images) != len(train.labels):
        raise ValueError(f"{len(train.images)} images but {len(train.labels)} labels")
    device = pick_device(device) if not isinstance(device, torch.device) else device
    _make_deterministic(device)
    model.to(device=device, memory_format=torch.channels_last)
    images, labels = train.images.to(device), train.labels.to(device)
    steps_per_epoch = -(-len(images) // config.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, total_steps=config.epochs * steps_per_epoch
    )
    order = torch.Generator().manual_seed(config.seed)
    history = History()
    bar = tqdm(
        total=config.epochs * steps_per_epoch, disable=not progress, unit="batch", mininterval=0.5
    )
    start = time.perf_counter()
    for epoch in range(config.epochs):
        bar.set_description(f"epoch {epoch + 1}/{config.epochs}")
        model.train()
        batch_losses = []
        correct = torch.zeros((), device=device, dtype=torch.long)
        for batch in (
            torch.randperm(len(images), generator=order).to(device).split(config.batch_size)
        ):
            if device.type == "cpu":
                # follows the machine's load: fewer threads while others compute
                configure_threads()
            x, y = to_model_input(images[batch]), labels[batch]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            batch_losses.append(loss.detach())
            correct += (logits.argmax(1) == y).sum()
            bar.update()
        history.batch_loss.extend(torch.stack(batch_losses).tolist())
        history.loss.append(sum(history.batch_loss[-len(batch_losses) :]) / len(batch_losses))
        history.train_accuracy.append(correct.item() / len(images))
        if test is not None:
            history.test_accuracy.append(
                (predict(model, test.images) == test.labels).float().mean().item()
            )
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
    history.train_seconds = time.perf_counter() - start
    bar.close()
    model.eval()
    return history


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, C, H, W] pixels to float [0, 1], laid out channels-last (faster on CPUs)."""
    return images.float().div_(255).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The model's raw scores for uint8 images, on the CPU."""
    check_pixels(images)
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([_forward(model, chunk, device) for chunk in images.split(batch_size)])


def _forward(model: nn.Module, chunk: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cpu":
        configure_threads()
    return model(to_model_input(chunk.to(device))).float().cpu()


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Predicted class of each uint8 image, as int64 on the CPU."""
    return predict_logits(model, images, batch_size).argmax(1)


def _make_deterministic(device: torch.device) -> None:
    if device.type == "cpu":
        configure_threads()
    elif device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
