"""Offline tasks: generated randman data and loaders for tiny SHD / MNIST files built here."""

import functools
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stabviz import tasks
from stabviz.config import LIFConfig, TrainConfig
from stabviz.tasks import digits, input_stats, load_task, randman, shd, slmnist


def small_randman(**kw):
    args = dict(classes=4, n_in=40, dim=1, samples=200, T=25, seed=3)
    args.update(kw)
    return randman(**args)


# --------------------------------------------------------------------------------------------- randman


def test_randman_is_one_spike_per_channel_with_the_asked_shape():
    data = small_randman()
    assert data.x.shape == (200, 25, 40) and data.x.dtype == torch.float32
    assert data.y.shape == (200,) and data.y.dtype == torch.int64
    assert torch.all(data.x.sum(dim=1) == 1)  # every channel fires exactly once
    assert data.n_in == 40 and data.time_steps == 25 and data.n_classes == 4
    assert sorted(torch.bincount(data.y).tolist()) == [50, 50, 50, 50]


def test_randman_spreads_spikes_over_the_whole_window():
    times = small_randman().x.argmax(dim=1)
    assert times.min() == 0 and times.max() == 24  # per-channel rescaling reaches both ends


def test_randman_is_deterministic_per_seed():
    a, b, c = small_randman(seed=7), small_randman(seed=7), small_randman(seed=8)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y) and torch.equal(a.test_idx, b.test_idx)
    assert not torch.equal(a.x, c.x)


def test_randman_classes_are_learnable_from_spike_times():
    # A linear read-out of the spike times must beat chance (0.25) by far; shuffled labels would not.
    data = small_randman(samples=400)
    features = torch.cat([data.x.argmax(dim=1).double() / 25, torch.ones(400, 1, dtype=torch.float64)], 1)
    onehot = torch.nn.functional.one_hot(data.y, 4).double()
    w = torch.linalg.lstsq(features[data.train_idx], onehot[data.train_idx]).solution
    accuracy = (features[data.test_idx] @ w).argmax(1).eq(data.y_test).double().mean().item()
    assert accuracy > 0.8


def test_split_is_disjoint_and_complete():
    data = small_randman()
    both = torch.cat([data.train_idx, data.test_idx])
    assert sorted(both.tolist()) == list(range(200))
    assert len(data.test_idx) == 40
    assert torch.equal(data.x_test, data.x[data.test_idx])


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"classes": 1}, "classes"),
        ({"n_in": 0}, "n_in"),
        ({"samples": 3}, "samples"),
        ({"T": 0}, "T"),
        ({"dim": 1.5}, "dim"),
        ({"seed": -1}, "seed"),
    ],
)
def test_randman_rejects_bad_values_by_name(kw, name):
    with pytest.raises(ValueError, match=name):
        small_randman(**kw)


# --------------------------------------------------------------------------------------------- input_stats


def test_input_stats_are_mean_and_variance_of_every_entry():
    x = torch.zeros(2, 5, 4)
    x[0, 0, :] = 1.0  # 4 ones out of 40 entries
    m, v = input_stats(x)
    assert m == pytest.approx(0.1) and v == pytest.approx(0.1 * 0.9)
    assert input_stats(x.numpy()) == pytest.approx((m, v))


def test_input_stats_of_randman_are_one_spike_per_window():
    m, v = input_stats(small_randman().x)
    assert m == pytest.approx(1 / 25) and v == pytest.approx((1 / 25) * (1 - 1 / 25))


def test_input_stats_reject_empty_input():
    with pytest.raises(ValueError, match="empty"):
        input_stats(torch.zeros(0, 3, 2))


# --------------------------------------------------------------------------------------------- SHD


def write_shd(path, times, units, labels):
    with h5py.File(path, "w") as f:
        t = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (ti, ui) in enumerate(zip(times, units)):
            t[i] = np.asarray(ti, dtype=np.float32)
            u[i] = np.asarray(ui, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
    return path


def test_shd_bins_times_into_steps_over_700_channels(tmp_path):
    path = write_shd(
        tmp_path / "shd.h5", times=[[0.0, 0.05, 0.69, 0.71, 2.0], [0.3]], units=[[0, 0, 699, 5, 9], [12]], labels=[3, 1]
    )
    data = shd(path, T=10, max_time=1.0)
    assert data.x.shape == (2, 10, 700) and data.n_classes == 4
    assert data.y.tolist() == [3, 1]
    first = data.x[0]
    # Two spikes of channel 0 in bin 0 count once; 2.0 s is past max_time and is dropped.
    assert first[0, 0] == 1 and first[6, 699] == 1 and first[7, 5] == 1 and first.sum() == 3
    assert data.x[1, 3, 12] == 1 and data.x[1].sum() == 1


def test_shd_keeps_at_most_samples(tmp_path):
    n = 12
    path = write_shd(
        tmp_path / "shd.h5", times=[[0.1]] * n, units=[[i] for i in range(n)], labels=[i % 3 for i in range(n)]
    )
    data = shd(path, T=5, samples=6, seed=1)
    assert data.x.shape[0] == 6
    assert torch.equal(data.x, shd(path, T=5, samples=6, seed=1).x)


def test_shd_missing_file_names_the_path_and_format(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5") as err:
        shd(missing)
    assert "spikes/times" in str(err.value)


def test_shd_rejects_a_file_that_is_not_hdf5(tmp_path):
    bad = tmp_path / "shd.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="HDF5"):
        shd(bad)


def test_shd_rejects_missing_datasets(tmp_path):
    path = tmp_path / "shd.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.array([0, 1]))
    with pytest.raises(ValueError, match="spikes/times"):
        shd(path)


def test_shd_rejects_units_outside_the_700_channels(tmp_path):
    path = write_shd(tmp_path / "shd.h5", times=[[0.1], [0.2]], units=[[700], [3]], labels=[0, 1])
    with pytest.raises(ValueError, match="units outside"):
        shd(path)


def test_shd_rejects_mismatched_lengths(tmp_path):
    path = write_shd(tmp_path / "shd.h5", times=[[0.1], [0.2]], units=[[1], [3]], labels=[0, 1, 1])
    with pytest.raises(ValueError, match="same length"):
        shd(path)


# --------------------------------------------------------------------------------------------- sl-MNIST


def tiny_images():
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    images[0, 0, 0] = 255  # brightest: first bin
    images[0, 0, 1] = 10  # below threshold: silent
    images[1, 27, 27] = 128
    images[2, 5, 5] = 51  # 0.2 = the threshold: last bin
    images[3, 1, 1] = 200
    return images, np.array([0, 1, 2, 1], dtype=np.uint8)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as fh:
        fh.write(data)
    return path


def check_latency_code(data):
    assert data.x.shape == (4, 20, 784) and data.y.tolist() == [0, 1, 2, 1]
    assert data.x[0, 0, 0] == 1 and data.x[0].sum() == 1  # pixel 1 (10/255) stays silent
    assert data.x[1, :, 783].argmax() == round((1 - 128 / 255) / 0.8 * 19)
    assert data.x[2, 19, 5 * 28 + 5] == 1  # threshold intensity fires last
    assert data.x.sum(dim=1).max() == 1  # never more than one spike


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_slmnist_reads_idx_files(tmp_path, suffix):
    images, labels = tiny_images()
    img = write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    check_latency_code(slmnist(img, T=20))
    check_latency_code(slmnist(tmp_path, T=20))  # a folder holding both


@pytest.mark.parametrize("keys", [("x_train", "y_train"), ("x", "y")])
def test_slmnist_reads_npz(tmp_path, keys):
    images, labels = tiny_images()
    path = tmp_path / "mnist.npz"
    np.savez(path, **{keys[0]: images, keys[1]: labels})
    data = slmnist(path, T=20)
    check_latency_code(data)
    assert data.n_classes == 10


def test_slmnist_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="mnist.npz"):
        slmnist(tmp_path / "mnist.npz")


def test_slmnist_missing_labels_file_names_it(tmp_path):
    images, _ = tiny_images()
    img = write_idx(tmp_path / "train-images-idx3-ubyte", images)
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        slmnist(img)


def test_slmnist_rejects_bad_magic_and_wrong_keys(tmp_path):
    img = tmp_path / "train-images-idx3-ubyte"
    img.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="magic"):
        slmnist(img)
    npz = tmp_path / "other.npz"
    np.savez(npz, images=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="x_train"):
        slmnist(npz)


def test_slmnist_rejects_truncated_idx(tmp_path):
    images, labels = tiny_images()
    img = write_idx(tmp_path / "train-images-idx3-ubyte", images)
    img.write_bytes(img.read_bytes()[:-5])
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match="promises shape"):
        slmnist(img)


# --------------------------------------------------------------------------------------------- digits


def test_digits_is_a_latency_code_of_64_pixels_over_16_steps():
    data = digits()
    assert data.x.shape == (1797, 16, 64) and data.x.dtype == torch.float32 and data.n_classes == 10
    assert set(data.x.unique().tolist()) <= {0.0, 1.0}
    assert int(data.x.sum(dim=1).max()) == 1  # a pixel fires at most once
    assert sorted(torch.bincount(data.y).tolist())[0] >= 170  # about 180 images per class


def test_digits_brightest_pixels_fire_first():
    from sklearn.datasets import load_digits

    images = torch.as_tensor(load_digits().images[:1].reshape(1, 64) / 16.0)
    fired = digits().x[:1].sum(dim=1)
    first = digits().x[0].argmax(dim=0)
    assert torch.equal(fired[0].bool(), images[0] >= tasks.DIGITS_THRESHOLD)
    bright, faint = images[0].argmax(), images[0].masked_fill(images[0] < 0.2, 2).argmin()
    assert first[bright] == first[fired[0].bool()].min() and first[faint] > first[bright]


def test_digits_split_is_fixed_whatever_the_run_seed():
    a = load_task(TrainConfig(task="digits", lif=LIFConfig(seed=1)))
    b = load_task(TrainConfig(task="digits", lif=LIFConfig(seed=9), time_steps=99, samples=10))
    assert (len(a.train_idx), len(a.test_idx)) == (1438, 359)
    assert torch.equal(a.train_idx, b.train_idx) and torch.equal(a.x, b.x) and a.time_steps == 16
    assert not set(a.train_idx.tolist()) & set(a.test_idx.tolist())


def test_digits_other_encodings_are_rows_and_pixels():
    rows, pixels = digits("rows"), digits("pixels")
    assert rows.x.shape == (1797, 8, 8) and pixels.x.shape == (1797, 64, 1)
    assert torch.equal(rows.x.reshape(1797, 64), pixels.x.reshape(1797, 64))
    with pytest.raises(ValueError, match="encoding"):
        digits("columns")


def test_digits_without_scikit_learn_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ValueError, match=r"^task 'digits' needs scikit-learn .*pip install scikit-learn$"):
        load_task(TrainConfig(task="digits"))


def test_digits_statistics_feed_the_prediction():
    m_x, v_x = input_stats(digits().x_train)
    assert 0.02 < m_x < 0.03 and v_x == pytest.approx(m_x * (1 - m_x), rel=1e-6)  # one spike at most


# --------------------------------------------------------------------------------------------- load_task


def test_load_task_builds_randman_from_the_config():
    cfg = TrainConfig(lif=LIFConfig(n_in=30, seed=5), classes=3, samples=60, time_steps=12)
    data = load_task(cfg)
    assert data.x.shape == (60, 12, 30) and data.n_classes == 3
    assert torch.equal(data.x, randman(classes=3, n_in=30, dim=1, samples=60, T=12, seed=5).x)


def test_load_task_reads_shd_from_data_path(tmp_path):
    path = write_shd(tmp_path / "shd.h5", times=[[0.1], [0.2], [0.3]], units=[[1], [2], [3]], labels=[0, 1, 0])
    data = load_task(TrainConfig(task="shd", data_path=str(path), time_steps=7))
    assert data.x.shape == (3, 7, 700) and data.n_in == 700


def test_load_task_reports_a_missing_data_file(tmp_path):
    cfg = TrainConfig(task="slmnist", data_path=str(tmp_path / "absent.npz"))
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_task(cfg)


# --------------------------------------------------------------------------------------------- bad files
# Every bad file below must give a ValueError with a one-line message, never a traceback of another
# type, and never read more than the data cap (tasks.max_data_bytes()).

REPO = Path(__file__).resolve().parents[1]
ZEROS_BLOCK = 16 << 20  # bombs are built from one 16 MiB block of zeros
GIB2 = 2 << 30


@functools.cache
def gzip_zeros_member():
    """One gzip member of 16 MiB of zeros (~16 KB); members concatenate into one gzip stream."""
    return gzip.compress(bytes(ZEROS_BLOCK), compresslevel=9, mtime=0)


def gzip_bomb(path, header, zeros=GIB2):
    """``header`` followed by ``zeros`` zero bytes, as a multi-member gzip file of ~zeros/1000 bytes."""
    with open(path, "wb") as fh:
        fh.write(gzip.compress(header, mtime=0))
        for _ in range(zeros // ZEROS_BLOCK):
            fh.write(gzip_zeros_member())
    return path


def idx_header(*shape):
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}i", *shape)


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def npy_header(shape, descr="|u1", version=1):
    text = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    text += " " * ((-(len(text) + 1 + (10 if version == 1 else 12))) % 64) + "\n"
    size = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + size + text.encode("latin1")


def deflate_zeros(prefix, zeros):
    """Raw deflate pieces for ``prefix`` + ``zeros`` zero bytes, built from one compressed block:
    after a full flush the compressor's state is reset, so one block's output can be repeated."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(ZEROS_BLOCK)) + comp.flush(zlib.Z_FULL_FLUSH)
    return first, block, zeros // ZEROS_BLOCK, comp.flush()


def raw_zip(path, members):
    """A zip written by hand: members are (name, method, declared size, pieces, repeat block, count,
    end); the declared sizes are whatever the test says, not what the data hold. Stored members get
    their true CRC, the others CRC 0 (a bomb's CRC is never reached by a loader that stops early)."""
    with open(path, "wb") as fh:
        central = []
        for name, method, size, first, block, count, end in members:
            offset = fh.tell()
            csize = len(first) + len(block) * count + len(end)
            crc = zlib.crc32(first) if method == zipfile.ZIP_STORED and not count else 0
            fh.write(
                struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, csize, size, len(name), 0)
                + name.encode()
            )
            fh.write(first)
            for _ in range(count):
                fh.write(block)
            fh.write(end)
            central.append(
                struct.pack(
                    "<4s6H3L5H2L",
                    b"PK\x01\x02",
                    20,
                    20,
                    0,
                    method,
                    0,
                    0,
                    crc,
                    csize,
                    size,
                    len(name),
                    0,
                    0,
                    0,
                    0,
                    0,
                    offset,
                )
                + name.encode()
            )
        start = fh.tell()
        for entry in central:
            fh.write(entry)
        fh.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), fh.tell() - start, start, 0))
    return path


def stored(name, data):
    return (name, zipfile.ZIP_STORED, len(data), data, b"", 0, b"")


def valid_pair(tmp, suffix=""):
    images, labels = tiny_images()
    img = write_idx(tmp / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp / f"train-labels-idx1-ubyte{suffix}", labels)
    return img


def write_valid_shd(tmp):
    return write_shd(tmp / "shd.h5", times=[[0.1], [0.2], [0.3]], units=[[1], [2], [3]], labels=[0, 1, 0])


# Bombs: files of a few MB (or KB) that the old loaders expanded into gigabytes.


def bomb_gzip_honest(tmp):
    """An idx.gz whose header declares 2 GiB of images, with ~2 GiB of zeros behind it (whole 16 MiB blocks)."""
    n = GIB2 // 784
    img = gzip_bomb(tmp / "train-images-idx3-ubyte.gz", idx_header(n, 28, 28), zeros=n * 784)
    write_idx(tmp / "train-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8))
    return "slmnist", img, "limit"


def bomb_gzip_lying(tmp):
    """An idx.gz whose header declares 4 images but whose stream holds 2 GiB."""
    img = gzip_bomb(tmp / "train-images-idx3-ubyte.gz", idx_header(4, 28, 28))
    write_idx(tmp / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 1], dtype=np.uint8))
    return "slmnist", img, "more data follow"


def bomb_npz(tmp):
    """An .npz whose deflated x_train member is a 2 GiB array of zeros (a ~2 MB file)."""
    n = GIB2 // 784
    first, block, count, end = deflate_zeros(npy_header((n, 28, 28)), n * 784)
    size = len(npy_header((n, 28, 28))) + n * 784
    labels = npy_bytes(np.zeros(n, dtype=np.uint8)[:4])
    path = raw_zip(
        tmp / "mnist.npz",
        [("x_train.npy", zipfile.ZIP_DEFLATED, size, first, block, count, end), stored("y_train.npy", labels)],
    )
    return "slmnist", path, "limit"


def bomb_h5_labels(tmp):
    """An .h5 of ~2 KB declaring 300 million int64 labels (2.4 GB) that were never written."""
    path = tmp / "shd.h5"
    n = 300_000_000
    with h5py.File(path, "w") as f:
        for key in ("spikes/times", "spikes/units"):
            f.create_dataset(
                key,
                shape=(n,),
                chunks=(1 << 16,),
                dtype=h5py.vlen_dtype(np.float32 if key.endswith("times") else np.uint16),
            )
        f.create_dataset("labels", shape=(n,), dtype="i8", chunks=(1 << 20,), compression="gzip")
    return "shd", path, "limit"


def bomb_h5_huge_label(tmp):
    """The audit's file: one label of 30,000,000 (classes were max(label) + 1)."""
    path = write_shd(tmp / "shd.h5", times=[[0.1], [0.2]], units=[[1], [2]], labels=[0, 1])
    with h5py.File(path, "a") as f:
        del f["labels"]
        f["labels"] = np.array([0, 30_000_000], dtype=np.int64)
    return "shd", path, "0..999"


BOMBS = [bomb_gzip_honest, bomb_gzip_lying, bomb_npz, bomb_h5_labels, bomb_h5_huge_label]

CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[1])
import h5py, numpy, torch  # imported before measuring
import stabviz.tasks as tasks
out = {}
for name, func, path in json.loads(sys.argv[2]):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        data = getattr(tasks, func)(path, samples=50)
        outcome = f"loaded, n_classes = {data.n_classes}"
    except ValueError as err:
        outcome = "ValueError: " + str(err)
    except BaseException as err:
        outcome = f"{type(err).__name__}: {str(err)[:300]}"
    out[name] = [outcome, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024]
print(json.dumps(out))
"""


def measure_in_child(cases, code_root=REPO, timeout=300):
    """{name: [outcome, peak RSS growth in MB]} of loading each (name, loader, path) in a fresh
    process (cases run one after another: each growth is over the peak of the ones before)."""
    env = dict(os.environ)
    env.pop("STABVIZ_MAX_DATA_BYTES", None)
    run = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_root), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_bombs_fail_fast_in_bounded_memory(tmp_path):
    cases, matches = [], {}
    for build in BOMBS:
        folder = tmp_path / build.__name__
        folder.mkdir()
        func, path, match = build(folder)
        assert path.stat().st_size < 4 << 20  # the bombs themselves are small
        cases.append((build.__name__, func, str(path)))
        matches[build.__name__] = match
    results = measure_in_child(cases)
    for name, (outcome, growth_mb) in results.items():
        assert outcome.startswith("ValueError: ") and "\n" not in outcome, (name, outcome)
        assert matches[name] in outcome, (name, outcome)
        assert growth_mb < 200, (name, growth_mb)


# The table of bad files: (id, builder(tmp) -> (loader, path), regex the one-line message must match).


def build_idx(images_bytes=None, labels_bytes=None, suffix="", images_name="train-images-idx3-ubyte"):
    def build(tmp):
        images, labels = tiny_images()
        img = write_idx(tmp / f"{images_name}{suffix}", images)
        write_idx(tmp / f"train-labels-idx1-ubyte{suffix}", labels)
        for path, data in ((img, images_bytes), (tmp / f"train-labels-idx1-ubyte{suffix}", labels_bytes)):
            if data is not None:
                path.write_bytes(data(path.read_bytes()) if callable(data) else data)
        return slmnist, img

    return build


def build_npz(make, name="mnist.npz"):
    def build(tmp):
        path = tmp / name
        made = make(path)
        if isinstance(made, dict):
            np.savez(path, **made)
        return slmnist, path

    return build


def build_h5(edit):
    def build(tmp):
        path = write_valid_shd(tmp)
        with h5py.File(path, "a") as f:
            edit(f, tmp)
        return shd, path

    return build


def replace(key, **kw):
    def edit(f, tmp):
        del f[key]
        f.create_dataset(key, **kw)

    return edit


def external_storage(f, tmp):
    (tmp / "raw.bin").write_bytes(bytes([0, 1, 0]))
    del f["labels"]
    f.create_dataset("labels", shape=(3,), dtype="u1", external=[(str(tmp / "raw.bin"), 0, 3)])


def virtual_dataset(f, tmp):
    with h5py.File(tmp / "source.h5", "w") as src:
        src["labels"] = np.array([0, 1, 0], dtype=np.uint8)
    layout = h5py.VirtualLayout(shape=(3,), dtype="u1")
    layout[:] = h5py.VirtualSource(str(tmp / "source.h5"), "labels", shape=(3,))
    del f["labels"]
    f.create_virtual_dataset("labels", layout)


def external_link(f, tmp):
    write_shd(tmp / "other.h5", times=[[0.1], [0.2], [0.3]], units=[[1], [2], [3]], labels=[0, 1, 0])
    del f["spikes"]
    f["spikes"] = h5py.ExternalLink(str(tmp / "other.h5"), "/spikes")


def soft_link(f, tmp):
    f["stash"] = np.array([0, 1, 0], dtype=np.uint8)
    del f["labels"]
    f["labels"] = h5py.SoftLink("/stash")


def vlen_times(values):
    def edit(f, tmp):
        del f["spikes/times"]
        t = f.create_dataset("spikes/times", (3,), dtype=h5py.vlen_dtype(np.float64))
        for i in range(3):
            t[i] = np.array([values[i]])

    return edit


def truncate(fraction):
    return lambda data: data[: int(len(data) * fraction)]


def gz_of(data):
    return gzip.compress(data, mtime=0)


def bad_crc(data):
    data = bytearray(data)
    data[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    return bytes(data)


def bz2_member(path):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as z:
        z.writestr("x_train.npy", npy_bytes(tiny_images()[0]))
        z.writestr("y_train.npy", npy_bytes(tiny_images()[1]))


def npz_members(x_bytes, y_bytes=None):
    def make(path):
        raw_zip(
            path,
            [
                stored("x_train.npy", x_bytes),
                stored("y_train.npy", y_bytes if y_bytes is not None else npy_bytes(tiny_images()[1])),
            ],
        )

    return make


def with_images(**change):
    images, labels = tiny_images()
    arrays = {"x_train": images, "y_train": labels}
    arrays.update(change)
    return lambda path: arrays


def half_a_zip(path):
    images, labels = tiny_images()
    np.savez_compressed(path, x_train=images, y_train=labels)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


IMG = tiny_images()[0]
HDR = idx_header(4, 28, 28)
BAD_FILES = [
    # idx / idx.gz
    ("idx wrong magic", build_idx(images_bytes=b"\x12\x34\x56\x78" + bytes(100)), "magic"),
    ("idx float type code", build_idx(images_bytes=lambda d: d[:2] + b"\x0d" + d[3:]), "magic"),
    ("idx empty file", build_idx(images_bytes=b""), "magic"),
    ("idx rank 0", build_idx(images_bytes=b"\x00\x00\x08\x00" + bytes(10)), "rank 0"),
    ("idx truncated header", build_idx(images_bytes=b"\x00\x00\x08\x03" + bytes(6)), "truncated idx header"),
    ("idx negative size", build_idx(images_bytes=idx_header(-4, 28, 28)), "negative"),
    ("idx sizes overflowing int64", build_idx(images_bytes=idx_header(65536, 65536, 65536, 65536)), "limit"),
    ("idx truncated body", build_idx(images_bytes=truncate(0.9)), "promises shape"),
    ("idx dims promise fewer bytes", build_idx(images_bytes=lambda d: d + b"\x00"), "promises shape"),
    ("idx labels count mismatch", build_idx(labels_bytes=idx_header(3) + bytes(3)), "4 images but 3 labels"),
    ("idx images 27x28", build_idx(images_bytes=idx_header(4, 27, 28) + bytes(4 * 27 * 28)), "not \\(N, 28, 28\\)"),
    ("idx labels missing", build_idx(labels_bytes=b"PK"), "magic"),
    ("idx name without 'images'", build_idx(images_name="digits-idx3-ubyte"), "cannot tell the labels"),
    ("gz truncated stream (EOF)", build_idx(images_bytes=truncate(0.5), suffix=".gz"), "EOFError|end"),
    ("gz bad CRC", build_idx(images_bytes=bad_crc, suffix=".gz"), "CRC"),
    ("gz not gzip", build_idx(images_bytes=HDR + IMG.tobytes(), suffix=".gz"), "magic"),
    (
        "gz garbage after the stream",
        build_idx(images_bytes=lambda d: d + b"garbage!", suffix=".gz"),
        "could not be read|more data",
    ),
    (
        "gz dims promise fewer bytes",
        build_idx(images_bytes=gz_of(HDR + IMG.tobytes() + b"x"), suffix=".gz"),
        "more data follow",
    ),
    ("gz dims promise more bytes", build_idx(images_bytes=gz_of(HDR + IMG.tobytes()[:-1]), suffix=".gz"), "end after"),
    # npz
    ("npz not a zip", build_npz(lambda p: p.write_bytes(b"garbage" * 100)), "magic"),
    ("npz empty file", build_npz(lambda p: p.write_bytes(b"")), "magic"),
    ("npz truncated zip (BadZipFile)", build_npz(half_a_zip), "magic"),
    ("npz pickled object array", build_npz(with_images(x_train=np.array([{"a": 1}] * 4, dtype=object))), "object"),
    (
        "npz structured dtype",
        build_npz(with_images(x_train=np.zeros(4, dtype=[("a", "u1"), ("b", "f4")]))),
        "plain numbers",
    ),
    ("npz complex images", build_npz(with_images(x_train=IMG.astype(np.complex64))), "plain numbers"),
    ("npz bz2 member", build_npz(bz2_member), "compression method"),
    ("npz member not .npy", build_npz(npz_members(b"just some bytes, no npy magic")), "not a .npy"),
    (
        "npz header promises more than held",
        build_npz(npz_members(npy_header((4000, 28, 28)) + IMG.tobytes())),
        "promises shape",
    ),
    (
        "npz huge header length",
        build_npz(npz_members(b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{")),
        "header of",
    ),
    ("npz truncated header", build_npz(npz_members(b"\x93NUMPY\x01\x00" + struct.pack("<H", 100) + b"{")), "truncated"),
    (
        "npz unparsable header",
        build_npz(npz_members(b"\x93NUMPY\x01\x00" + struct.pack("<H", 8) + b"{'a':((}")),
        "unparsable",
    ),
    ("npz NaN images", build_npz(with_images(x_train=np.full((4, 28, 28), np.nan))), "finite"),
    ("npz negative images", build_npz(with_images(x_train=-np.ones((4, 28, 28)))), "non-negative"),
    ("npz label 5000", build_npz(with_images(y_train=np.array([0, 1, 5000, 1]))), "0..999"),
    ("npz negative label", build_npz(with_images(y_train=np.array([0, -1, 2, 1]))), "non-negative integers"),
    ("npz float labels", build_npz(with_images(y_train=np.array([0.0, 1.0, 2.0, 1.0]))), "integers"),
    ("npz single class", build_npz(with_images(y_train=np.zeros(4, dtype=np.uint8))), "single class"),
    ("npz wrong keys", build_npz(lambda p: {"images": IMG}), "x_train"),
    ("npz images not 28x28", build_npz(with_images(x_train=np.zeros((4, 10)))), "28, 28"),
    # h5
    ("h5 not HDF5", build_h5(lambda f, t: None), None),  # replaced below: a text file
    ("h5 huge label", build_h5(replace("labels", data=np.array([0, 30_000_000, 1], dtype=np.int64))), "0..999"),
    ("h5 negative label", build_h5(replace("labels", data=np.array([0, -1, 1], dtype=np.int8))), "0..999"),
    ("h5 float labels", build_h5(replace("labels", data=np.array([0.0, 1.0, 0.0]))), "integers"),
    ("h5 labels (3, 2)", build_h5(replace("labels", data=np.zeros((3, 2), dtype=np.uint8))), "labels"),
    ("h5 labels a group", build_h5(lambda f, t: (f.__delitem__("labels"), f.create_group("labels"))), "not a dataset"),
    ("h5 external storage", build_h5(external_storage), "external files"),
    ("h5 virtual dataset", build_h5(virtual_dataset), "virtual dataset"),
    ("h5 external link", build_h5(external_link), "ExternalLink"),
    ("h5 soft link", build_h5(soft_link), "SoftLink"),
    (
        "h5 unknown filter",
        build_h5(replace("labels", shape=(3,), dtype="u1", chunks=(3,), compression=30999, allow_unknown_filter=True)),
        "filter 30999",
    ),
    ("h5 missing spikes/units", build_h5(lambda f, t: f.__delitem__("spikes/units")), "spikes/units"),
    ("h5 missing labels", build_h5(lambda f, t: f.__delitem__("labels")), "'labels'"),
    ("h5 times not vlen", build_h5(replace("spikes/times", data=np.zeros((3, 2)))), "variable-length"),
    (
        "h5 times strings",
        build_h5(replace("spikes/times", data=["a", "b", "c"], dtype=h5py.string_dtype())),
        "variable-length",
    ),
    (
        "h5 units float",
        build_h5(replace("spikes/units", shape=(3,), dtype=h5py.vlen_dtype(np.float32))),
        "variable-length integers",
    ),
    ("h5 NaN times", build_h5(vlen_times([0.1, np.nan, 0.3])), "not finite"),
    ("h5 infinite times", build_h5(vlen_times([0.1, 0.2, -np.inf])), "not finite"),
    ("h5 lengths differ", build_h5(replace("labels", data=np.array([0, 1], dtype=np.uint8))), "same length"),
    (
        "h5 units outside 700",
        build_h5(lambda f, t: f["spikes/units"].__setitem__(1, np.array([700], np.uint16))),
        "units outside",
    ),
]


def h5_not_hdf5(tmp):
    (tmp / "shd.h5").write_text("not hdf5")
    return shd, tmp / "shd.h5"


def h5_truncated(tmp):
    path = write_valid_shd(tmp)
    path.write_bytes(path.read_bytes()[:1200])
    return shd, path


BAD_FILES[BAD_FILES.index(next(c for c in BAD_FILES if c[0] == "h5 not HDF5"))] = ("h5 not HDF5", h5_not_hdf5, "HDF5")
BAD_FILES.append(("h5 truncated file", h5_truncated, "HDF5"))


@pytest.mark.parametrize("build, match", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_file_gives_a_one_line_value_error(tmp_path, build, match):
    loader, path = build(tmp_path)
    with pytest.raises(ValueError, match=match) as err:
        loader(path, samples=50)
    assert isinstance(err.value, tasks.DataFileError)
    assert "\n" not in str(err.value) and len(str(err.value)) < 1000


LOWERED_CAP = [
    ("idx over the cap", lambda tmp: (slmnist, valid_pair(tmp)), 3000),
    ("idx.gz over the cap", lambda tmp: (slmnist, valid_pair(tmp, ".gz")), 3000),
    ("npz over the cap", build_npz(with_images()), 3000),
    (
        "h5 labels over the cap",
        lambda tmp: (shd, write_shd(tmp / "shd.h5", times=[[]] * 300, units=[[]] * 300, labels=[0, 1] * 150)),
        200,
    ),
    (
        "h5 chunk over the cap",
        build_h5(replace("labels", data=np.array([0, 1, 0], np.uint8), maxshape=(None,), chunks=(4096,))),
        2000,
    ),
]


@pytest.mark.parametrize("build, cap", [c[1:] for c in LOWERED_CAP], ids=[c[0] for c in LOWERED_CAP])
def test_data_over_the_cap_is_refused(tmp_path, monkeypatch, build, cap):
    loader, path = build(tmp_path)
    loader(path)  # loads under the default cap
    monkeypatch.setenv("STABVIZ_MAX_DATA_BYTES", str(cap))
    with pytest.raises(ValueError, match="STABVIZ_MAX_DATA_BYTES") as err:
        loader(path)
    assert "\n" not in str(err.value)


def test_a_bad_cap_setting_is_a_value_error(tmp_path, monkeypatch):
    monkeypatch.setenv("STABVIZ_MAX_DATA_BYTES", "lots")
    with pytest.raises(ValueError, match="STABVIZ_MAX_DATA_BYTES"):
        slmnist(valid_pair(tmp_path))


# --------------------------------------------------------------------------------------------- unreadable paths


def unreadable_paths(tmp, name, monkeypatch):
    """Paths that are missing, a folder, a pipe, unreadable, a device, empty or of another format,
    each under its own folder but with the same last component ``name``."""
    made = {}
    for kind in ("missing", "folder", "pipe", "no permission", "empty", "other format"):
        folder = tmp / kind.replace(" ", "_")
        folder.mkdir()
        made[kind] = folder / name
    made["folder"].mkdir()
    os.mkfifo(made["pipe"])
    made["no permission"].write_bytes(b"\x00" * 64)
    made["empty"].write_bytes(b"")
    made["other format"].write_text("a perfectly ordinary text file\n" * 20)
    denied = str(made["no permission"])
    real_open = os.open

    def open_denied(path, *args, **kw):  # the tests run as root: chmod would not bite
        if os.fspath(path) == denied:
            raise PermissionError(13, "Permission denied", denied)
        return real_open(path, *args, **kw)

    monkeypatch.setattr(tasks.os, "open", open_denied)
    return made


@pytest.mark.parametrize(
    "loader, name",
    [
        (shd, "shd.h5"),
        (slmnist, "mnist.npz"),
        (slmnist, "train-images-idx3-ubyte"),
        (slmnist, "train-images-idx3-ubyte.gz"),
    ],
)
def test_unreadable_paths_all_give_the_same_message(tmp_path, monkeypatch, loader, name):
    messages = {}
    for kind, path in unreadable_paths(tmp_path, name, monkeypatch).items():
        with pytest.raises(tasks.UnreadableDataFile) as err:
            loader(path)  # a pipe must not hang the open
        assert isinstance(err.value, ValueError) and isinstance(err.value, FileNotFoundError)
        messages[kind] = str(err.value).replace(str(path), "<path>")
    assert len(set(messages.values())) == 1, messages
    message = messages["missing"]
    assert "<path>" in message and "\n" not in message and "could not be read as" in message


def test_a_character_device_is_unreadable_like_a_missing_file(tmp_path):
    with pytest.raises(tasks.UnreadableDataFile) as err:
        shd("/dev/null")
    with pytest.raises(tasks.UnreadableDataFile) as missing:
        shd(tmp_path / "null")
    assert str(err.value).replace("/dev/null", "<p>") == str(missing.value).replace(str(tmp_path / "null"), "<p>")


def test_odd_paths_give_one_line_value_errors(tmp_path):
    for path in (str(tmp_path / "a\nb.h5"), str(tmp_path) + "/nul\0.h5", "x" * 5000):
        with pytest.raises(ValueError) as err:
            shd(path)
        assert "\n" not in str(err.value) and len(str(err.value)) < 1000
    with pytest.raises(ValueError, match="empty"):
        slmnist("")


# --------------------------------------------------------------------------------------------- valid variants


def test_valid_npz_variants_load_like_the_plain_one(tmp_path):
    images, labels = tiny_images()
    plain = slmnist(write_npz(tmp_path / "plain.npz", x_train=images, y_train=labels), T=20)
    variants = {
        "compressed": lambda p: np.savez_compressed(p, x_train=images, y_train=labels),
        "fortran float": lambda p: np.savez(p, x_train=np.asfortranarray(images / 255.0), y_train=labels),
        "big-endian": lambda p: np.savez(p, x_train=images.astype(">u2"), y_train=labels.astype(">i8")),
        "flat rows": lambda p: np.savez(p, x=images.reshape(4, 784), y=labels),
    }
    for name, write in variants.items():
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        write(path)
        data = slmnist(path, T=20)
        assert torch.equal(data.x, plain.x) and torch.equal(data.y, plain.y) and data.n_classes == 10, name


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_valid_shd_variants_load_like_the_plain_one(tmp_path):
    plain = shd(write_valid_shd(tmp_path), T=10)
    path = tmp_path / "chunked.h5"
    with h5py.File(path, "w") as f:
        t = f.create_dataset(
            "spikes/times", (3,), dtype=h5py.vlen_dtype(np.float32), chunks=(2,), compression="gzip", shuffle=True
        )
        u = f.create_dataset("spikes/units", (3,), dtype=h5py.vlen_dtype(np.uint16), chunks=(2,), compression="lzf")
        for i in range(3):
            t[i] = np.array([0.1 * (i + 1)], dtype=np.float32)
            u[i] = np.array([i + 1], dtype=np.uint16)
        f.create_dataset(
            "labels", data=np.array([[0], [1], [0]], dtype=np.int32), chunks=(1, 1), compression="gzip", fletcher32=True
        )
    data = shd(path, T=10)
    assert torch.equal(data.x, plain.x) and torch.equal(data.y, plain.y) and data.n_classes == plain.n_classes


def test_shd_reads_labels_in_blocks_and_keeps_the_right_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks, "_READ_CHUNK", 4)  # labels read 4 (uint8) at a time
    n = 30
    path = write_shd(
        tmp_path / "shd.h5", times=[[0.1]] * n, units=[[i] for i in range(n)], labels=[i % 7 for i in range(n)]
    )
    data = shd(path, T=5, samples=11, seed=2)
    chosen = data.x[:, 0, :].argmax(dim=1)  # sample i fires on unit i
    assert torch.equal(data.y, chosen % 7) and data.n_classes == int(data.y.max()) + 1


# --------------------------------------------------------------------------------------------- fuzz


def fuzz_originals(folder):
    """Valid small files of every format: {kind: (loader, path to load, file to mutate)}."""
    images, labels = tiny_images()
    out = {}
    for kind, suffix in (("idx", ""), ("idx.gz", ".gz")):
        sub = folder / kind
        sub.mkdir()
        img = write_idx(sub / f"train-images-idx3-ubyte{suffix}", images)
        lab = write_idx(sub / f"train-labels-idx1-ubyte{suffix}", labels)
        out[kind + " images"] = (slmnist, img, img)
        out[kind + " labels"] = (slmnist, img, lab)
    for kind, save in (("npz", np.savez), ("npz deflated", np.savez_compressed)):
        path = folder / f"{kind.replace(' ', '_')}.npz"
        save(path, x_train=images, y_train=labels)
        out[kind] = (slmnist, path, path)
    out["h5"] = (shd, write_valid_shd(folder), folder / "shd.h5")
    return {k: (loader, path, target, target.read_bytes()) for k, (loader, path, target) in out.items()}


def test_fuzzed_files_only_ever_raise_value_errors(tmp_path_factory):
    originals = fuzz_originals(tmp_path_factory.mktemp("fuzz"))
    positions = st.one_of(st.integers(0, 80), st.integers(0, 1 << 20))  # headers get most of the hits

    @settings(max_examples=250, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(
        kind=st.sampled_from(sorted(originals)),
        edits=st.lists(st.tuples(positions, st.integers(0, 255)), max_size=6),
        cut=st.none() | st.integers(0, 1 << 20),
    )
    def check(kind, edits, cut):
        loader, path, target, original = originals[kind]
        data = bytearray(original)
        for pos, value in edits:
            data[pos % len(data)] = value
        if cut is not None:
            data = data[: cut % (len(data) + 1)]
        try:
            target.write_bytes(bytes(data))
            loader(path, T=5)
        except ValueError as err:
            assert "\n" not in str(err), (kind, str(err))
        finally:
            target.write_bytes(original)

    check()
