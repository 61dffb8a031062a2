import gzip
import shutil
import socket

import pytest
import torch

from utils import data
from utils.data import DataIntegrityError, DatasetUnavailableError, load_mnist


def test_vendored_mnist_has_the_published_shapes_and_types(mnist_train, mnist_test):
    assert (
        mnist_train.images.shape == (60000, 1, 28, 28) and mnist_train.images.dtype == torch.uint8
    )
    assert mnist_train.labels.shape == (60000,) and mnist_train.labels.dtype == torch.int64
    assert mnist_test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(mnist_test.labels).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]


def test_each_call_hands_out_its_own_copy():
    first = load_mnist("test")
    first.images.zero_()
    assert load_mnist("test").images.sum() > 0


def test_the_offline_default_never_opens_a_connection(monkeypatch):
    data._cached_vendored.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("the vendored loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert len(load_mnist("test").labels) == 10000


def _copy_of_vendored_data(tmp_path):
    for path in data.MNIST_DIR.glob("*.gz"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_corrupt_file_is_refused_with_its_name_and_expected_checksum(tmp_path):
    folder = _copy_of_vendored_data(tmp_path)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(
        DataIntegrityError,
        match=r"t10k-labels-idx1-ubyte\.gz is corrupt.*27ae3e4e09519cfbb04c329615203637",
    ):
        load_mnist("test", root=folder)


def test_a_truncated_archive_is_refused(tmp_path):
    folder = _copy_of_vendored_data(tmp_path)
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(
        DataIntegrityError, match=r"t10k-images-idx3-ubyte\.gz.*2646ac647ad5339dbf082846283269ea"
    ):
        load_mnist("test", root=folder)


def test_a_missing_file_names_the_file_and_how_to_restore_it(tmp_path):
    folder = _copy_of_vendored_data(tmp_path)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(
        DataIntegrityError,
        match=r"train-labels-idx1-ubyte\.gz is missing.*a25bea736e30d166cdddb491f175f624.*git "
        r"checkout",
    ):
        load_mnist("train", root=folder)


def test_parse_idx_rejects_a_wrong_header():
    with pytest.raises(DataIntegrityError, match="magic"):
        data.parse_idx(b"\x00\x00\x0d\x01" + bytes(8))
    with pytest.raises(DataIntegrityError, match="shape"):
        data.parse_idx(b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + bytes(3))


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="vendored"):
        load_mnist("train", source="internet")


def test_torchvision_source_without_network_fails_clearly(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(DatasetUnavailableError, match="vendored"):
        load_mnist("test", source="torchvision", root=tmp_path)


def test_torchvision_source_reads_and_verifies_a_local_copy(tmp_path):
    # torchvision's own layout: <root>/MNIST/raw/<uncompressed IDX files>; nothing to download.
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for path in data.MNIST_DIR.glob("*.gz"):  # torchvision checks all four files
        (raw / path.name[:-3]).write_bytes(gzip.decompress(path.read_bytes()))
    loaded = load_mnist("test", source="torchvision", root=tmp_path)
    assert torch.equal(loaded.images, load_mnist("test").images)
