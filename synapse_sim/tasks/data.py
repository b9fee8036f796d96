"""notMNIST from any form a user is likely to hold, and the seeded train / validation split.

Accepted (paper, Experiment 2):

* MNIST-style idx files, gzipped or not: a directory holding one images file
  (magic 2051) and one labels file (magic 2049), or the path of either file
  (the other is looked for beside it);
* the original ``notMNIST_small/`` folder, one sub-folder of PNGs per letter A..J
  (or a directory holding that folder);
* its ``.tar.gz`` archive, read in place;
* an ``.npz`` with arrays ``images`` and ``labels`` (or ``x`` and ``y``).

Every form ends as the same :class:`Dataset`: pixels / 255 as float32 rows and
integer labels 0..9 (A..J). The original notMNIST_small holds a few empty or
broken PNGs; they are skipped and counted, not fatal.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ..locations import NOTMNIST_ENV_VAR, notmnist_sample
from ..randomness import STREAM_SPLIT as SPLIT_STREAM

LETTERS = "ABCDEFGHIJ"
N_CLASSES = len(LETTERS)
IMAGE_SHAPE = (28, 28)
ENV_VAR = NOTMNIST_ENV_VAR
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

GZIP_MAGIC = b"\x1f\x8b"


class DataError(ValueError):
    """The notMNIST data is missing or unreadable; the message says what was found and what to do."""


def how_to_get() -> str:
    sample = notmnist_sample()
    where = f"; a 10,000-image sample in idx form is at {sample}" if sample else ""
    return (
        f"Pass --data PATH or set {ENV_VAR} to the notMNIST data: MNIST-style idx files (images + labels, "
        "gzipped or not), notMNIST_small (the folder of PNGs with one sub-folder per letter A-J, from "
        "Yaroslav Bulatov's notMNIST page) or its .tar.gz, or an .npz with arrays 'images' and 'labels'" + where
    )


def _error(message: str) -> DataError:
    return DataError(f"{message}. {how_to_get()}")


@dataclass
class Dataset:
    """``images``: float32 (N, pixels) = pixel / 255; ``labels``: int64 in 0..9 (A..J).

    ``skipped`` counts unreadable or empty image files left out; ``skipped_files`` names them.
    """

    images: np.ndarray
    labels: np.ndarray
    source: str
    skipped: int = 0
    skipped_files: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.labels.size)

    def summary(self) -> str:
        counts = np.bincount(self.labels, minlength=N_CLASSES)
        text = f"{len(self)} images of {self.images.shape[1]} pixels from {self.source} (per letter: {counts.tolist()})"
        if self.skipped:
            shown = ", ".join(self.skipped_files[:5]) + (", ..." if self.skipped > 5 else "")
            text += f"; {self.skipped} unreadable or empty file(s) skipped: {shown}"
        return text


def _pixels_to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, ...) -> float32 rows of pixel / 255: the one conversion every form goes through."""
    return pixels.reshape(pixels.shape[0], -1).astype(np.float32) / np.float32(255)


def _dataset(images: np.ndarray, labels, source: str, skipped=()) -> Dataset:
    return Dataset(images, _check_labels(labels, images.shape[0], source), source, len(skipped), tuple(skipped))


def _check_labels(labels, n_images: int, source: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n_images,):
        raise _error(f"{source}: {n_images} images but labels of shape {labels.shape}; the two must match")
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise _error(
            f"{source}: labels must be 0..{N_CLASSES - 1} (letters A-J), found values {labels.min()}..{labels.max()}"
        )
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------- idx


def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise _error(f"{path} is a truncated or corrupt gzip file ({exc}); download it again") from None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """An idx array of unsigned bytes, checked against its header."""
    data = _read_maybe_gzip(path)
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    if len(data) < 4:
        raise _error(f"{path} holds {len(data)} bytes: too short for an idx {kind} file")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        hint = {IMAGES_MAGIC: " (an images file)", LABELS_MAGIC: " (a labels file)"}.get(found, "")
        raise _error(f"{path} has magic number {found}{hint}; an idx {kind} file starts with magic {magic}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _error(f"{path} is truncated inside its header ({len(data)} bytes)")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise _error(
            f"{path}: its header says {' x '.join(map(str, dims))} bytes of data ({expected} bytes in all), "
            f"the file holds {len(data)}; it is truncated or not an idx file"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _is_idx_name(name: str, images: bool) -> bool:
    tag = "idx3" if images else "idx1"
    return tag in name.lower() and not name.startswith(".")


def _partner(path: Path, images_given: bool) -> Path:
    """The labels file beside an images file (or the reverse)."""
    swaps = [("images", "labels"), ("idx3", "idx1")] if images_given else [("labels", "images"), ("idx1", "idx3")]
    name = path.name
    for old, new in swaps:
        name = name.replace(old, new)
    stem = name.removesuffix(".gz")
    for candidate in (path.with_name(stem), path.with_name(stem + ".gz")):
        if candidate != path and candidate.is_file():
            return candidate
    others = [p for p in path.parent.iterdir() if p.is_file() and _is_idx_name(p.name, not images_given)]
    if len(others) == 1:
        return others[0]
    want = "labels (idx1)" if images_given else "images (idx3)"
    found = ", ".join(sorted(p.name for p in others)) or "none"
    raise _error(f"no single idx {want} file beside {path} (looked for {stem}[.gz]; idx files found: {found})")


def load_idx(images_path, labels_path=None) -> Dataset:
    """An images idx file (magic 2051) and its labels file (magic 2049), gzipped or not."""
    images_path = Path(images_path)
    labels_path = Path(labels_path) if labels_path is not None else _partner(images_path, images_given=True)
    pixels = _read_idx(images_path, IMAGES_MAGIC)
    labels = _read_idx(labels_path, LABELS_MAGIC)
    if labels.shape[0] != pixels.shape[0]:
        raise _error(
            f"{images_path.name} holds {pixels.shape[0]} images but {labels_path.name} holds {labels.shape[0]} "
            "labels; they must come from the same set"
        )
    return _dataset(_pixels_to_float(pixels), labels, f"idx files {images_path} + {labels_path.name}")


def _idx_pair_in(directory: Path) -> tuple[Path, Path] | None:
    files = [p for p in directory.iterdir() if p.is_file()]
    images = sorted(p for p in files if _is_idx_name(p.name, True))
    labels = sorted(p for p in files if _is_idx_name(p.name, False))
    if not images and not labels:
        return None
    train = [p for p in images if p.name.lower().startswith("train")]
    if len(images) > 1 and len(train) == 1:  # MNIST's four files: the training pair (t10k stays unseen)
        return train[0], _partner(train[0], images_given=True)
    if len(images) != 1 or len(labels) != 1:
        raise _error(
            f"{directory} should hold one idx images file and one idx labels file, found images "
            f"{[p.name for p in images]} and labels {[p.name for p in labels]}; pass the images file's path instead"
        )
    return images[0], labels[0]


# ---------------------------------------------------------------------------- PNG


def _decode_png(blob: bytes) -> np.ndarray | None:
    """uint8 grey pixels of one PNG, or None when it is empty, broken or of another size."""
    from PIL import Image

    if not blob:
        return None
    try:
        with Image.open(io.BytesIO(blob)) as image:
            image.load()
            if image.mode.startswith("I;16"):
                pixels = np.round(np.asarray(image, dtype=np.float64) / 257).astype(np.uint8)
            else:
                pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError):
        return None
    return pixels if pixels.shape == IMAGE_SHAPE else None


def _from_pngs(items, source: str) -> Dataset:
    """``items``: (letter, name, read()) triples in order; broken or empty PNGs are skipped."""
    pixels, labels, skipped = [], [], []
    per_letter = dict.fromkeys(LETTERS, 0)
    for letter, name, read in items:
        decoded = _decode_png(read())
        if decoded is None:
            skipped.append(name)
            continue
        pixels.append(decoded)
        labels.append(LETTERS.index(letter))
        per_letter[letter] += 1
    empty = [letter for letter, count in per_letter.items() if count == 0]
    if empty:
        raise _error(
            f"{source}: no readable {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} PNG for letter(s) {', '.join(empty)} "
            f"({len(pixels)} images read, {len(skipped)} files skipped); the download or extraction is incomplete"
        )
    return _dataset(_pixels_to_float(np.stack(pixels)), np.array(labels), source, skipped)


def _letter_dirs(directory: Path) -> dict[str, Path]:
    return {p.name: p for p in directory.iterdir() if p.is_dir() and p.name in LETTERS}


def load_png_folder(directory) -> Dataset:
    """The original ``notMNIST_small/`` layout: sub-folders ``A`` .. ``J`` of 28x28 PNGs."""
    directory = Path(directory)
    letters = _letter_dirs(directory)
    missing = [letter for letter in LETTERS if letter not in letters]
    if missing:
        raise _error(f"{directory} has letter folders {sorted(letters)} but lacks {missing}")

    def items():
        for letter in LETTERS:
            for path in sorted(letters[letter].iterdir()):
                if path.is_file() and path.suffix.lower() == ".png" and not path.name.startswith("."):
                    yield letter, f"{letter}/{path.name}", path.read_bytes

    return _from_pngs(items(), f"PNG folder {directory}")


def load_png_tar(path) -> Dataset:
    """The ``notMNIST_small.tar.gz`` archive, streamed without extracting it (PNGs under letter folders)."""
    path = Path(path)
    blobs = []
    try:
        with tarfile.open(path, "r|*") as archive:
            for member in archive:
                name = PurePosixPath(member.name)
                if (
                    member.isfile()
                    and name.suffix.lower() == ".png"
                    and not name.name.startswith(".")
                    and len(name.parts) >= 2
                    and name.parts[-2] in LETTERS
                ):
                    blobs.append((name.parts[-2], name.name, archive.extractfile(member).read()))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise _error(f"{path} is a truncated or corrupt archive ({exc}); download it again") from None
    if not blobs:
        raise _error(f"{path} holds no PNG under a letter folder A-J")
    blobs.sort(key=lambda item: (item[0], item[1]))
    items = ((letter, f"{letter}/{name}", lambda blob=blob: blob) for letter, name, blob in blobs)
    return _from_pngs(items, f"archive {path}")


# ---------------------------------------------------------------------------- npz


def load_npz(path) -> Dataset:
    """Arrays ``images`` (N, 28, 28) or (N, 784) and ``labels`` (N,) or one-hot (N, 10); ``x``/``y`` also work.

    Integer pixels are 0..255; float pixels must already be in [0, 1].
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files if key in ("images", "labels", "x", "y")}
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise _error(f"{path} is not a readable .npz without pickled objects ({exc})") from None
    pair = next((p for p in (("images", "labels"), ("x", "y")) if set(p) <= arrays.keys()), None)
    if pair is None:
        with np.load(path, allow_pickle=False) as data:
            found = sorted(data.files)
        raise _error(f"{path} has arrays {found}; expected 'images' and 'labels' (or 'x' and 'y')")
    images, labels = arrays[pair[0]], arrays[pair[1]]
    source = f"npz {path}"
    if images.ndim < 2:
        raise _error(f"{source}: images must be (N, 28, 28) or (N, 784), found shape {images.shape}")
    if labels.ndim == 2 and labels.shape[1] == N_CLASSES and _is_one_hot(labels):
        labels = labels.argmax(axis=1)  # one-hot rows
    if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    if not np.issubdtype(labels.dtype, np.integer):
        raise _error(f"{source}: labels must be integers 0..9 or one-hot rows, found dtype {labels.dtype}")
    if np.issubdtype(images.dtype, np.integer):
        if images.size and (images.min() < 0 or images.max() > 255):
            raise _error(f"{source}: integer pixels must be 0..255, found {images.min()}..{images.max()}")
        return _dataset(_pixels_to_float(images.astype(np.uint8)), labels, source)
    if not np.issubdtype(images.dtype, np.floating):
        raise _error(f"{source}: images must be numbers, found dtype {images.dtype}")
    finite = np.isfinite(images)
    if not finite.all():
        n_nan = int(np.count_nonzero(np.isnan(images)))
        n_inf = int(images.size - np.count_nonzero(finite)) - n_nan
        first = int(np.flatnonzero(~finite.reshape(images.shape[0], -1).all(axis=1))[0])
        raise _error(
            f"{source}: float pixels must be finite numbers in [0, 1] (pixel / 255), found {n_nan:,} NaN and "
            f"{n_inf:,} infinite pixel value(s) (the first in image {first}); store uint8 pixels or pixels / 255"
        )
    if images.size and (images.min() < 0 or images.max() > 1):
        raise _error(
            f"{source}: float pixels must be finite numbers in [0, 1] (pixel / 255), found "
            f"{images.min()}..{images.max()}; store uint8 pixels or pixels / 255"
        )
    return _dataset(images.reshape(images.shape[0], -1).astype(np.float32), labels, source)


def _is_one_hot(labels: np.ndarray) -> bool:
    return bool(np.all((labels == 0) | (labels == 1)) and np.all(labels.sum(axis=1) == 1))


# ---------------------------------------------------------------------------- dispatch


def load_notmnist(path=None) -> Dataset:
    """notMNIST from ``path`` (any accepted form), else from ``$SYNAPSE_SIM_NOTMNIST``."""
    if path is None or str(path) == "":
        path = os.environ.get(ENV_VAR) or None
        if path is None:
            raise _error(f"no notMNIST data given and {ENV_VAR} is not set")
    path = Path(path).expanduser()
    if not path.exists():
        raise _error(f"notMNIST data not found: {path} does not exist")
    if path.is_dir():
        return _load_directory(path)
    name = path.name.lower()
    with path.open("rb") as handle:
        head = handle.read(262)
    if name.endswith(".npz") or head.startswith(b"PK"):
        return load_npz(path)
    if _is_idx_name(path.name, True):
        return load_idx(path)
    if _is_idx_name(path.name, False):
        return load_idx(_partner(path, images_given=False), path)
    if name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")) or _looks_like_tar(path, head):
        return load_png_tar(path)
    if not head:
        raise _error(f"{path} is an empty file")
    raise _error(
        f"{path}: not a recognised notMNIST file (neither idx by name '...idx3-ubyte[.gz]', "
        f".npz, nor a tar archive; it starts with bytes {head[:8].hex(' ')})"
    )


def _looks_like_tar(path: Path, head: bytes) -> bool:
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path) as handle:
                head = handle.read(262)
        except (EOFError, OSError, zlib.error):
            return True  # a broken .gz that is not idx by name: let the tar reader report it
    return head[257:262] == b"ustar"


def _load_directory(directory: Path) -> Dataset:
    pair = _idx_pair_in(directory)
    if pair is not None:
        return load_idx(*pair)
    if _letter_dirs(directory):
        return load_png_folder(directory)
    entries = sorted(directory.iterdir())
    nested = [p for p in entries if p.is_dir() and _letter_dirs(p)]
    if len(nested) == 1:
        return load_png_folder(nested[0])
    if not entries:
        raise _error(f"{directory} is an empty folder")
    shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in entries[:10]) + (
        ", ..." if len(entries) > 10 else ""
    )
    raise _error(
        f"{directory} holds no idx files, no letter folders A-J and no single notMNIST folder (found: {shown})"
    )


# ---------------------------------------------------------------------------- split


def split(dataset: Dataset, seed: int, validation_fraction: float = 0.25):
    """A random train / validation split: ``(x_train, y_train, x_val, y_val)``.

    One permutation from ``default_rng(SeedSequence([seed, 4]))``; the last
    ``round(N * validation_fraction)`` permuted samples are held out. The same
    seed gives the same split in any process, so RL and GD runs see the same data.
    """
    fraction = float(validation_fraction)
    n = len(dataset)
    n_val = round(n * fraction)
    if not 0 < fraction < 1 or not 0 < n_val < n:
        raise _error(
            f"task.validation_fraction = {fraction} of {dataset.source} leaves no training or no validation "
            f"sample of {n} image(s) ({n_val} held out); use more images (a few hundred at least) or another "
            "task.validation_fraction"
        )
    order = np.random.default_rng(np.random.SeedSequence([int(seed), SPLIT_STREAM])).permutation(n)
    train, val = order[: n - n_val], order[n - n_val :]
    return dataset.images[train], dataset.labels[train], dataset.images[val], dataset.labels[val]
