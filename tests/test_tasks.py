"""Offline tasks: generated randman data and loaders for tiny SHD / MNIST files built here."""
import gzip

import h5py
import numpy as np
import pytest
import torch

from stabviz.config import LIFConfig, TrainConfig
from stabviz.tasks import input_stats, load_task, randman, shd, slmnist


def small_randman(**kw):
    args = dict(classes=4, n_in=40, dim=1, samples=200, T=25, seed=3)
    args.update(kw)
    return randman(**args)


# --------------------------------------------------------------------------------------------- randman

def test_randman_is_one_spike_per_channel_with_the_asked_shape():
    data = small_randman()
    assert data.x.shape == (200, 25, 40) and data.x.dtype == torch.float32
    assert data.y.shape == (200,) and data.y.dtype == torch.int64
    assert torch.all(data.x.sum(dim=1) == 1)          # every channel fires exactly once
    assert data.n_in == 40 and data.time_steps == 25 and data.n_classes == 4
    assert sorted(torch.bincount(data.y).tolist()) == [50, 50, 50, 50]


def test_randman_spreads_spikes_over_the_whole_window():
    times = small_randman().x.argmax(dim=1)
    assert times.min() == 0 and times.max() == 24      # per-channel rescaling reaches both ends


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


@pytest.mark.parametrize("kw, name", [({"classes": 1}, "classes"), ({"n_in": 0}, "n_in"),
                                      ({"samples": 3}, "samples"), ({"T": 0}, "T"),
                                      ({"dim": 1.5}, "dim"), ({"seed": -1}, "seed")])
def test_randman_rejects_bad_values_by_name(kw, name):
    with pytest.raises(ValueError, match=name):
        small_randman(**kw)


# --------------------------------------------------------------------------------------------- input_stats

def test_input_stats_are_mean_and_variance_of_every_entry():
    x = torch.zeros(2, 5, 4)
    x[0, 0, :] = 1.0                                      # 4 ones out of 40 entries
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
    path = write_shd(tmp_path / "shd.h5", times=[[0.0, 0.05, 0.69, 0.71, 2.0], [0.3]],
                     units=[[0, 0, 699, 5, 9], [12]], labels=[3, 1])
    data = shd(path, T=10, max_time=1.0)
    assert data.x.shape == (2, 10, 700) and data.n_classes == 4
    assert data.y.tolist() == [3, 1]
    first = data.x[0]
    # Two spikes of channel 0 in bin 0 count once; 2.0 s is past max_time and is dropped.
    assert first[0, 0] == 1 and first[6, 699] == 1 and first[7, 5] == 1 and first.sum() == 3
    assert data.x[1, 3, 12] == 1 and data.x[1].sum() == 1


def test_shd_keeps_at_most_samples(tmp_path):
    n = 12
    path = write_shd(tmp_path / "shd.h5", times=[[0.1]] * n, units=[[i] for i in range(n)],
                     labels=[i % 3 for i in range(n)])
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
    images[0, 0, 0] = 255                                  # brightest: first bin
    images[0, 0, 1] = 10                                   # below threshold: silent
    images[1, 27, 27] = 128
    images[2, 5, 5] = 51                                   # 0.2 = the threshold: last bin
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
    assert data.x[0, 0, 0] == 1 and data.x[0].sum() == 1          # pixel 1 (10/255) stays silent
    assert data.x[1, :, 783].argmax() == round((1 - 128 / 255) / 0.8 * 19)
    assert data.x[2, 19, 5 * 28 + 5] == 1                           # threshold intensity fires last
    assert data.x.sum(dim=1).max() == 1                             # never more than one spike


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_slmnist_reads_idx_files(tmp_path, suffix):
    images, labels = tiny_images()
    img = write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    check_latency_code(slmnist(img, T=20))
    check_latency_code(slmnist(tmp_path, T=20))                      # a folder holding both


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
