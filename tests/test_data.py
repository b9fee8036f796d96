"""notMNIST loading in every accepted form, its error messages, and the seeded split."""

import gzip
import io
import tarfile
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from PIL import Image

from synapse_sim.locations import notmnist_sample
from synapse_sim.tasks.data import (
    ENV_VAR,
    LETTERS,
    DataError,
    Dataset,
    load_notmnist,
    split,
)

PER_LETTER = 20
IMAGES_GZ = "notmnist-small-10k-images-idx3-ubyte.gz"
LABELS_GZ = "notmnist-small-10k-labels-idx1-ubyte.gz"


def write_idx(path: Path, array: np.ndarray, magic: int) -> Path:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    return path


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def subset(notmnist_path):
    """The first PER_LETTER images of each letter of the sample, as uint8 pixels (N, 28, 28) and labels."""
    sample = load_notmnist(notmnist_path)
    index = np.concatenate([np.flatnonzero(sample.labels == k)[:PER_LETTER] for k in range(len(LETTERS))])
    pixels = np.round(sample.images[index] * 255).astype(np.uint8).reshape(-1, 28, 28)
    return pixels, sample.labels[index]


@pytest.fixture(scope="module")
def forms(subset, tmp_path_factory):
    """The subset written in every accepted form: PNG folder (with 2 bad files), tar.gz, npz, plain idx."""
    pixels, labels = subset
    root = tmp_path_factory.mktemp("forms")
    folder = root / "download" / "notMNIST_small"
    for letter in LETTERS:
        (folder / letter).mkdir(parents=True)
    counters = dict.fromkeys(LETTERS, 0)
    for image, label in zip(pixels, labels, strict=True):
        letter = LETTERS[label]
        target = folder / letter / f"{counters[letter]:03d}.png"
        counters[letter] += 1
        if letter == "J":  # RGBA through matplotlib, as a user converting images might write them
            matplotlib.image.imsave(target, image, cmap="gray", vmin=0, vmax=255)
        else:
            target.write_bytes(png_bytes(image))
    (folder / "A" / "zz_empty.png").write_bytes(b"")
    (folder / "B" / "zz_broken.png").write_bytes(png_bytes(pixels[0])[:40])  # truncated mid-file
    archive = root / "notMNIST_small.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="notMNIST_small")
    npz = root / "subset.npz"
    np.savez(npz, images=pixels, labels=labels)
    npz_xy = root / "subset_xy.npz"
    one_hot = np.eye(len(LETTERS), dtype=np.float32)[labels]
    np.savez(npz_xy, x=pixels.reshape(len(labels), -1).astype(np.float32) / 255, y=one_hot)
    idx = root / "idx"
    idx.mkdir()
    write_idx(idx / "subset-images-idx3-ubyte", pixels, 2051)
    write_idx(idx / "subset-labels-idx1-ubyte", labels, 2049)
    return {
        "folder": folder,
        "parent_folder": folder.parent,
        "tar.gz": archive,
        "npz": npz,
        "npz_xy": npz_xy,
        "idx_dir": idx,
        "idx_images": idx / "subset-images-idx3-ubyte",
        "idx_labels": idx / "subset-labels-idx1-ubyte",
    }


@pytest.mark.parametrize(
    "form", ["folder", "parent_folder", "tar.gz", "npz", "npz_xy", "idx_dir", "idx_images", "idx_labels"]
)
def test_every_form_gives_the_same_images_and_labels(forms, subset, form):
    pixels, labels = subset
    data = load_notmnist(forms[form])
    assert data.images.dtype == np.float32 and data.labels.dtype == np.int64
    assert data.images.shape == (len(labels), 784)
    np.testing.assert_array_equal(data.labels, labels)
    expected = pixels.reshape(len(labels), -1) / 255
    png = form in ("folder", "parent_folder", "tar.gz")
    # PNGs pass through an 8-bit (and for J an RGBA) encoding: equal within one grey level
    np.testing.assert_allclose(data.images, expected, rtol=0, atol=1.01 / 255 if png else 1e-7)
    assert data.skipped == (2 if png else 0)


@pytest.mark.parametrize("form", ["folder", "tar.gz"])
def test_png_forms_skip_and_name_the_broken_files(forms, form):
    data = load_notmnist(forms[form])
    assert data.skipped == 2
    assert sorted(data.skipped_files) == ["A/zz_empty.png", "B/zz_broken.png"]
    assert "2 unreadable or empty file(s) skipped" in data.summary()


def test_greyscale_pngs_are_exact(forms, subset):
    """Pillow-written greyscale PNGs (all letters but J) round-trip without any loss."""
    pixels, labels = subset
    data = load_notmnist(forms["folder"])
    keep = labels != LETTERS.index("J")
    np.testing.assert_array_equal(data.images[keep], pixels[keep].reshape(keep.sum(), -1).astype(np.float32) / 255)


def test_gzipped_and_plain_idx_agree(notmnist_path, tmp_path):
    sample_dir = notmnist_path if notmnist_path.is_dir() else notmnist_path.parent
    if not (sample_dir / IMAGES_GZ).exists():
        pytest.skip(f"{sample_dir} is not the idx sample")
    for name in (IMAGES_GZ, LABELS_GZ):
        (tmp_path / name.removesuffix(".gz")).write_bytes(gzip.decompress((sample_dir / name).read_bytes()))
    zipped = load_notmnist(sample_dir / IMAGES_GZ)
    plain = load_notmnist(tmp_path)
    assert len(zipped) == 10000 and zipped.images.shape == (10000, 784)
    np.testing.assert_array_equal(plain.images, zipped.images)
    np.testing.assert_array_equal(plain.labels, zipped.labels)
    np.testing.assert_array_equal(np.bincount(zipped.labels), [1000] * 10)
    assert 0 <= zipped.images.min() and zipped.images.max() <= 1


def test_path_from_environment(forms, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(forms["npz"]))
    assert "subset.npz" in load_notmnist().source
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(DataError, match=f"no notMNIST data given and {ENV_VAR} is not set"):
        load_notmnist()


def test_the_sample_beside_the_checkout_is_found_and_the_variable_wins(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    expected = Path(__file__).resolve().parents[2] / "shared" / "data" / "notmnist"
    assert notmnist_sample() == (expected if expected.exists() else None)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert notmnist_sample() == tmp_path


# ---------------------------------------------------------------- errors


def assert_explains(error: pytest.ExceptionInfo, *fragments: str):
    message = str(error.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert "--data PATH" in message and ENV_VAR in message and "notMNIST_small" in message  # how to get the data


def test_missing_path(tmp_path):
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / "nowhere")
    assert_explains(error, "notMNIST data not found", "nowhere does not exist")


def test_empty_folder(tmp_path):
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path)
    assert_explains(error, "is an empty folder")


def test_folder_without_data_lists_what_it_found(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path)
    assert_explains(error, "no idx files, no letter folders A-J", "notes.txt")


def test_bad_magic(tmp_path):
    write_idx(tmp_path / "x-images-idx3-ubyte", np.zeros(5, np.uint8), 2049)
    write_idx(tmp_path / "x-labels-idx1-ubyte", np.zeros(5, np.uint8), 2049)
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path)
    assert_explains(error, "has magic number 2049 (a labels file)", "starts with magic 2051")


def test_truncated_gzip(tmp_path, notmnist_path):
    sample_dir = notmnist_path if notmnist_path.is_dir() else notmnist_path.parent
    if not (sample_dir / IMAGES_GZ).exists():
        pytest.skip(f"{sample_dir} is not the idx sample")
    raw = (sample_dir / IMAGES_GZ).read_bytes()
    (tmp_path / IMAGES_GZ).write_bytes(raw[: len(raw) // 2])
    (tmp_path / LABELS_GZ).write_bytes((sample_dir / LABELS_GZ).read_bytes())
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / IMAGES_GZ)
    assert_explains(error, "is a truncated or corrupt gzip file", "download it again")


def test_header_disagrees_with_file_size(tmp_path):
    images = write_idx(tmp_path / "x-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8), 2051)
    images.write_bytes(images.read_bytes()[:-100])
    write_idx(tmp_path / "x-labels-idx1-ubyte", np.zeros(3, np.uint8), 2049)
    with pytest.raises(DataError) as error:
        load_notmnist(images)
    assert_explains(error, "header says 3 x 28 x 28", f"the file holds {16 + 3 * 784 - 100}")


def test_images_and_labels_count_mismatch(tmp_path):
    write_idx(tmp_path / "x-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8), 2051)
    write_idx(tmp_path / "x-labels-idx1-ubyte", np.zeros(2, np.uint8), 2049)
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path)
    assert_explains(error, "holds 3 images but x-labels-idx1-ubyte holds 2 labels")


def test_labels_out_of_range(tmp_path):
    np.savez(tmp_path / "bad.npz", images=np.zeros((3, 28, 28), np.uint8), labels=np.array([0, 9, 10]))
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / "bad.npz")
    assert_explains(error, "labels must be 0..9", "found values 0..10")


def test_npz_without_the_arrays(tmp_path):
    np.savez(tmp_path / "bad.npz", pictures=np.zeros((3, 784), np.uint8))
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / "bad.npz")
    assert_explains(error, "has arrays ['pictures']", "expected 'images' and 'labels'")


def test_truncated_archive(forms, tmp_path):
    raw = forms["tar.gz"].read_bytes()
    (tmp_path / "notMNIST_small.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / "notMNIST_small.tar.gz")
    assert_explains(error, "is a truncated or corrupt archive")


def test_letter_folder_without_readable_images(tmp_path):
    for letter in LETTERS:
        (tmp_path / letter).mkdir()
        (tmp_path / letter / "0.png").write_bytes(png_bytes(np.full((28, 28), 7, np.uint8)))
    (tmp_path / "C" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path)
    assert_explains(error, "no readable 28x28 PNG for letter(s) C", "1 files skipped")


def test_incomplete_letter_folders(tmp_path):
    for letter in "ABC":
        (tmp_path / letter).mkdir()
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path)
    assert_explains(error, "lacks ['D', 'E', 'F', 'G', 'H', 'I', 'J']")


# ---------------------------------------------------------------- split


def numbered(n=1000) -> Dataset:
    """A data set whose first pixel is the sample's index and whose label is index % 10."""
    images = np.zeros((n, 784), np.float32)
    images[:, 0] = np.arange(n)
    return Dataset(images, np.arange(n) % 10, "numbered")


def test_split_is_a_seeded_75_25_partition():
    x_train, y_train, x_val, y_val = split(numbered(), seed=3)
    train_ids, val_ids = x_train[:, 0].astype(int), x_val[:, 0].astype(int)
    assert train_ids.size == 750 and val_ids.size == 250
    assert np.intersect1d(train_ids, val_ids).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_ids, val_ids])), np.arange(1000))
    np.testing.assert_array_equal(y_train, train_ids % 10)  # labels stay with their images
    np.testing.assert_array_equal(y_val, val_ids % 10)
    # the documented stream: one permutation from SeedSequence([seed, 4]), the last quarter held out
    order = np.random.default_rng(np.random.SeedSequence([3, 4])).permutation(1000)
    np.testing.assert_array_equal(val_ids, order[750:])


def test_split_same_seed_same_split_other_seed_other_split():
    first, again, other = split(numbered(), 7), split(numbered(), 7), split(numbered(), 8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(first[2][:, 0]), np.sort(other[2][:, 0]))


def test_split_fraction():
    assert [len(part) for part in split(numbered(), 0, validation_fraction=0.1)] == [900, 900, 100, 100]
    with pytest.raises(ValueError, match="leaves no training or no validation sample"):
        split(numbered(10), 0, validation_fraction=0.01)


def test_a_one_image_data_set_is_a_data_error_naming_the_key():
    """It was a bare ValueError (a traceback from the command line)."""
    with pytest.raises(DataError) as error:
        split(numbered(1), 0)
    assert_explains(error, "task.validation_fraction = 0.25", "of 1 image(s) (0 held out)", "use more images")


def test_nan_and_inf_pixels_are_counted_not_hidden(tmp_path):
    """A NaN pixel was reported as 'found 0.0..1.0' (the range without it)."""
    images = np.full((4, 784), 0.5, np.float32)
    images[0, 0], images[2, 5], images[2, 6] = 0.0, np.nan, np.inf
    images[3, 0] = 1.0
    np.savez(tmp_path / "nan.npz", images=images, labels=np.arange(4))
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / "nan.npz")
    assert_explains(error, "found 1 NaN and 1 infinite pixel value(s) (the first in image 2)")
    images[2, 5:7] = 1.5
    np.savez(tmp_path / "range.npz", images=images, labels=np.arange(4))
    with pytest.raises(DataError) as error:
        load_notmnist(tmp_path / "range.npz")
    assert_explains(error, "finite numbers in [0, 1]", "found 0.0..1.5")


def test_split_of_the_sample(notmnist_path):
    x_train, y_train, x_val, y_val = split(load_notmnist(notmnist_path), seed=0)
    n = x_train.shape[0] + x_val.shape[0]
    assert x_val.shape[0] == round(n * 0.25) and y_train.shape == (x_train.shape[0],)
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_val))
