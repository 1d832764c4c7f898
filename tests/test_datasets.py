"""The examples' data loaders: the shipped digits and MNIST's idx format."""
import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import datasets  # noqa: E402


def test_digits_split_and_ranges():
    (tx, ty), (vx, vy) = datasets.load_digits(seed=3, valid_fraction=0.25)
    assert tx.shape[1:] == (1, 8, 8) and tx.dtype == np.float32 and ty.dtype == np.int64
    assert len(tx) + len(vx) == 1797 and len(vx) == int(1797 * 0.25)
    assert 0.0 <= tx.min() and tx.max() <= 1.0
    assert set(np.unique(np.concatenate([ty, vy]))) == set(range(10))


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_files(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 12).astype(np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", images, compress)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, compress)
    (tx, ty), (vx, vy) = datasets.load_mnist(tmp_path, n_valid=2)
    assert tx.shape == (10, 1, 28, 28) and vx.shape == (2, 1, 28, 28)
    np.testing.assert_allclose(tx[:, 0] * 255, images[:10], atol=1e-3)
    np.testing.assert_array_equal(np.concatenate([ty, vy]), labels)


def test_mnist_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images"):
        datasets.load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="not an idx file"):
        datasets._read_idx(tmp_path / "train-images-idx3-ubyte")
