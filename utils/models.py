"""The small networks of the lab."""

from __future__ import annotations

import torch
from torch import nn

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)


class Standardize(nn.Module):
    """Turn pixels in [0, 1] into zero-mean, unit-variance inputs, channel by channel."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class SmallCNN(nn.Module):
    """Convolution, pooling, ReLU, twice; then two linear layers (as in the article).

    The first convolution is padded so that a trigger near the border is seen as well
    as one in the middle. Inputs are float pixels in [0, 1], shape [N, C, H, W]; `seed`
    fixes the initial weights (None draws them from torch's global generator).

    forward() runs the four registered blocks in order, standardize -> features ->
    hidden -> output, so a toolkit that hooks a block by name (IBM ART's
    PyTorchClassifier.get_activations(x, "hidden")) sees what the lab's defenses see.
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        channels: tuple[int, int] = (8, 16),
        hidden: int = 256,
        mean: tuple[float, ...] = MNIST_MEAN,
        std: tuple[float, ...] = MNIST_STD,
        seed: int | None = 0,
    ):
        super().__init__()
        c1, c2 = channels
        with torch.random.fork_rng(devices=[]):  # the same seed gives the same initial weights
            if seed is not None:
                torch.manual_seed(seed)
            self.standardize = Standardize(mean, std)
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, c1, kernel_size=5, padding=2),
                nn.MaxPool2d(2),
                nn.ReLU(),
                nn.Conv2d(c1, c2, kernel_size=3, padding=1),
                nn.MaxPool2d(2),
                nn.ReLU(),
            )
            self.hidden = nn.Sequential(
                nn.Flatten(),
                nn.Linear(c2 * (image_size // 4) ** 2, hidden),
                nn.ReLU(),
            )
            self.output = nn.Linear(hidden, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate-layer activations (what the last linear layer sees)."""
        return self.hidden(self.features(self.standardize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.embed(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
