"""Time and accuracy of the lab's clean training against the classic PyTorch MNIST recipe.

Both run in this one process on the same machine, each after a short untimed warm-up, so
the ratio `speedup` is what to read; the absolute seconds depend on the machine. The last line
printed is one JSON object.

    python benchmarks/clean_training.py
"""

from __future__ import annotations

import gzip
import json
import resource
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets, transforms

from utils.data import MNIST_DIR, ImageSet, load_mnist
from utils.models import SmallCNN
from utils.runtime import configure_threads
from utils.training import TrainingConfig, fit, predict

# images each recipe trains on first, untimed, so that one-time set-up costs count for neither
WARM_UP = 2048


class ReferenceNet(nn.Module):
    """The network of the classic PyTorch MNIST example."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
        self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
        self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(self.dropout1(x), 1)))
        return F.log_softmax(self.fc2(self.dropout2(x)), dim=1)


def run_lab() -> tuple[float, float]:
    """The clean model exactly as notebook 01 trains it (test accuracy after each epoch)."""
    train, test = load_mnist("train"), load_mnist("test")
    fit(SmallCNN(), ImageSet(train.images[:WARM_UP], train.labels[:WARM_UP]), progress=False)
    model = SmallCNN(seed=0)
    history = fit(model, train, TrainingConfig(seed=0), test=test, progress=False)
    return history.train_seconds, (predict(model, test.images) == test.labels).float().mean().item()


def run_reference(root: Path) -> tuple[float, float]:
    """One epoch of the reference recipe: DataLoader, ToTensor + Normalize, Adadelta lr 1.0, batch
    64."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in MNIST_DIR.glob("*.gz"):  # torchvision's layout, so that nothing is downloaded
        (raw / path.name[:-3]).write_bytes(gzip.decompress(path.read_bytes()))
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    train = datasets.MNIST(str(root), train=True, transform=transform)
    test = datasets.MNIST(str(root), train=False, transform=transform)
    torch.manual_seed(1)
    train_one_epoch(ReferenceNet(), torch.utils.data.Subset(train, range(WARM_UP)))
    model = ReferenceNet()
    start = time.perf_counter()
    train_one_epoch(model, train)
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in torch.utils.data.DataLoader(test, batch_size=1000):
            correct += (model(images).argmax(1) == labels).sum().item()
    return seconds, correct / len(test)


def train_one_epoch(model: nn.Module, train: torch.utils.data.Dataset) -> None:
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    model.train()
    for images, labels in torch.utils.data.DataLoader(train, batch_size=64, shuffle=True):
        optimizer.zero_grad()
        F.nll_loss(model(images), labels).backward()
        optimizer.step()


def main() -> None:
    threads = configure_threads()
    print(f"torch {torch.__version__}, {threads} CPU threads")
    lab_seconds, lab_accuracy = run_lab()
    lab_peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"lab:       {lab_seconds:6.1f} s  test accuracy {lab_accuracy:.2%}  (2 epochs, peak "
        f"memory {lab_peak_rss_mb:.0f} MB)"
    )
    with tempfile.TemporaryDirectory() as root:
        reference_seconds, reference_accuracy = run_reference(Path(root))
    print(
        f"reference: {reference_seconds:6.1f} s  test accuracy {reference_accuracy:.2%}  (1 epoch)"
    )
    print(f"speedup:   {reference_seconds / lab_seconds:6.1f}x")
    print(
        json.dumps(
            {
                "reference_seconds": round(reference_seconds, 2),
                "reference_accuracy": round(reference_accuracy, 4),
                "lab_seconds": round(lab_seconds, 2),
                "lab_accuracy": round(lab_accuracy, 4),
                "speedup": round(reference_seconds / lab_seconds, 2),
                "lab_peak_rss_mb": round(lab_peak_rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
