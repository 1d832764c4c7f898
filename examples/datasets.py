"""Small data sets for the examples: the 8x8 UCI digits shipped in examples/data, or MNIST read
from the standard idx files in a directory the user gives."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"


def load_digits(seed: int = 0, valid_fraction: float = 0.2) -> tuple:
    """((train_x, train_y), (valid_x, valid_y)) of the 8x8 digits: images as float32 in [0, 1]
    with shape (n, 1, 8, 8), labels as int64, split at random (fixed by ``seed``)."""
    with np.load(DATA / "digits.npz") as data:
        images = data["images"].astype("float32") / 16.0
        labels = data["labels"].astype("int64")
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order, None], labels[order]
    n_valid = int(len(labels) * valid_fraction)
    return (images[n_valid:], labels[n_valid:]), (images[:n_valid], labels[:n_valid])


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise ValueError(f"{path} is not an idx file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, file holds {data.size} values")
    return data.reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_mnist(directory: str | os.PathLike, n_valid: int = 10000) -> tuple:
    """((train_x, train_y), (valid_x, valid_y)) from MNIST's idx files in ``directory``: images
    as float32 in [0, 1] with shape (n, 1, 28, 28); the last ``n_valid`` training images are
    held out for validation."""
    directory = Path(directory)
    images = _read_idx(_find(directory, "train-images-idx3-ubyte")).astype("float32") / 255.0
    labels = _read_idx(_find(directory, "train-labels-idx1-ubyte")).astype("int64")
    images = images[:, None]
    return (images[:-n_valid], labels[:-n_valid]), (images[-n_valid:], labels[-n_valid:])
