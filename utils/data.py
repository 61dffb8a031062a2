"""Loading MNIST as in-memory tensors, offline by default, with integrity checks."""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MNIST_DIR = DATA_DIR / "mnist"

# MD5 of each decompressed IDX file, as published with MNIST and checked by torchvision.
MNIST_FILES = {
    "train": (
        ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
        ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
        ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
    ),
}
SOURCES = ("vendored", "torchvision")


class ImageSet(NamedTuple):
    """Images as uint8 [N, C, H, W] and labels as int64 [N]."""

    images: torch.Tensor
    labels: torch.Tensor


def check_pixels(images: torch.Tensor, what: str = "images") -> None:
    """Raise TypeError unless `images` are what the lab computes on: uint8 pixels [N, C, H, W]."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        got = (
            f"{images.dtype} with shape {list(images.shape)}"
            if isinstance(images, torch.Tensor)
            else type(images).__name__
        )
        raise TypeError(
            f"{what} must be uint8 pixels in [0, 255] with shape [N, C, H, W]; got {got}. Float "
            "images in [0, 1] "
            "(what torchvision's ToTensor gives) convert with (images * "
            "255).round().to(torch.uint8); "
            "one image [C, H, W] becomes a batch with images.unsqueeze(0)"
        )


class DataIntegrityError(RuntimeError):
    """A data file is missing, truncated or not the file it should be."""


class DatasetUnavailableError(RuntimeError):
    """A data set is neither on disk nor downloadable (for example, no network)."""


def load_mnist(
    split: str = "train", source: str = "vendored", root: str | Path | None = None
) -> ImageSet:
    """Return the MNIST `split` ("train" or "test") as uint8 [N, 1, 28, 28] images and labels.

    source="vendored" reads the verified copy in data/mnist/ and never uses the network.
    source="torchvision" downloads the canonical files into `root` (when not there yet)
    through torchvision.datasets.MNIST, then verifies them the same way.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "torchvision":
        folder = _download_with_torchvision(split, Path(root) if root else DATA_DIR / "torchvision")
        return _load_idx_pair(folder, split, compressed=False)
    cached = _cached_vendored(split, str(Path(root) if root else MNIST_DIR))
    # A copy, so that a caller who edits its tensors in place cannot change the next caller's.
    return ImageSet(cached.images.clone(), cached.labels.clone())


@lru_cache(maxsize=4)
def _cached_vendored(split: str, folder: str) -> ImageSet:
    return _load_idx_pair(Path(folder), split, compressed=True)


def _load_idx_pair(folder: Path, split: str, compressed: bool) -> ImageSet:
    (images_name, images_md5), (labels_name, labels_md5) = MNIST_FILES[split]
    suffix = ".gz" if compressed else ""
    images = parse_idx(read_verified(folder / (images_name + suffix), images_md5))
    labels = parse_idx(read_verified(folder / (labels_name + suffix), labels_md5))
    if len(images) != len(labels):
        raise DataIntegrityError(f"{folder}: {len(images)} images but {len(labels)} labels")
    return ImageSet(
        torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))
    )


def read_verified(path: Path, expected_md5: str) -> bytes:
    """Read a file (gunzipping *.gz) and check the MD5 of the decompressed bytes."""
    if not path.exists():
        raise DataIntegrityError(
            f"{path} is missing; expected a file whose decompressed MD5 is {expected_md5}. "
            "Restore it from the repository (git checkout -- data/) or load with "
            "source='torchvision'."
        )
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise DataIntegrityError(
            f"{path} is not a readable gzip file ({error}); expected decompressed MD5 "
            f"{expected_md5}"
        ) from error
    actual = hashlib.md5(raw).hexdigest()
    if actual != expected_md5:
        raise DataIntegrityError(
            f"{path} is corrupt: the MD5 of its decompressed bytes is {actual}, expected "
            f"{expected_md5}. "
            "Restore it from the repository (git checkout -- data/) or load with "
            "source='torchvision'."
        )
    return raw


def parse_idx(raw: bytes) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (the MNIST format) into an array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataIntegrityError("not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != header + int(np.prod(shape)):
        raise DataIntegrityError(
            f"IDX header announces shape {shape}, but the file has {len(raw) - header} data bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _download_with_torchvision(split: str, root: Path) -> Path:
    """Download MNIST with torchvision (if needed) and return the folder of raw IDX files."""
    from torchvision.datasets import MNIST

    try:
        dataset = MNIST(str(root), train=(split == "train"), download=True)
    except Exception as error:  # torchvision raises several kinds when offline
        raise DatasetUnavailableError(
            f"Could not download MNIST into {root} ({error}). With no network, use the vendored "
            "copy: load_mnist(split) with the default source='vendored'."
        ) from error
    return Path(dataset.raw_folder)
