"""Offline classification tasks as spike tensors: nothing here downloads anything.

Three tasks, all returned as a :class:`TaskData` with ``x`` a float32 torch tensor of shape
(N, T, n_in) holding spikes in {0, 1} (one row per sample, one column per time step, one slice
per input channel) and ``y`` an int64 torch tensor of shape (N,) holding class labels:

- ``randman`` (default): the random-manifold spike-latency task of Zenke & Vogels (2021), generated
  from a seed. Every input channel fires exactly once per sample, so the class lives only in the
  relative spike timing.
- ``shd``: Spiking Heidelberg Digits from a local HDF5 file in the official layout.
- ``slmnist``: latency-coded MNIST from local MNIST files (idx, idx.gz or .npz).

:func:`input_stats` gives the input statistics the theory calls m_x and v_x (THEORY.md section 3,
condition II), so predictions can be made for the real task input instead of a preset's guess.
"""
from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stabviz.config import TrainConfig, check_range

#: Fraction of every task's samples held out for the test split.
TEST_FRACTION = 0.2
#: Channels of the official SHD data (the cochlea model's 700 output fibres).
SHD_CHANNELS = 700
#: SHD spike times are binned over [0, SHD_MAX_TIME) seconds; later spikes are dropped.
SHD_MAX_TIME = 1.4
#: sl-MNIST pixels with intensity (scaled to [0, 1]) below this never fire.
SLMNIST_THRESHOLD = 0.2

SHD_LAYOUT = ("an HDF5 file with datasets 'spikes/times' (vlen float, seconds), "
              "'spikes/units' (vlen int, 0..699) and 'labels' (int), one entry per sample")
MNIST_LAYOUT = ("an .npz with arrays x_train/y_train (or x/y) of shape (N, 28, 28) and (N,), "
                "or MNIST idx files: train-images-idx3-ubyte[.gz] with train-labels-idx1-ubyte[.gz] "
                "next to it (or a folder holding both)")


@dataclass(frozen=True)
class TaskData:
    """A task's full data set and its fixed train/test split.

    ``x``: (N, T, n_in) float32 spikes in {0, 1}; ``y``: (N,) int64 labels in [0, n_classes);
    ``train_idx`` / ``test_idx``: int64 indices into the first axis (disjoint, together all N).
    Memory is N·T·n_in·4 bytes; ``TrainConfig.samples`` bounds N for every task.
    """
    name: str
    x: torch.Tensor
    y: torch.Tensor
    n_classes: int
    train_idx: torch.Tensor
    test_idx: torch.Tensor
    source: str = ""

    @property
    def n_in(self) -> int:
        return int(self.x.shape[2])

    @property
    def time_steps(self) -> int:
        return int(self.x.shape[1])

    @property
    def x_train(self) -> torch.Tensor:
        return self.x[self.train_idx]

    @property
    def y_train(self) -> torch.Tensor:
        return self.y[self.train_idx]

    @property
    def x_test(self) -> torch.Tensor:
        return self.x[self.test_idx]

    @property
    def y_test(self) -> torch.Tensor:
        return self.y[self.test_idx]


def input_stats(x: torch.Tensor | np.ndarray) -> tuple[float, float]:
    """(m_x, v_x): mean and variance of the input of one channel at one step (THEORY.md condition II).

    Taken over every sample, step and channel of ``x`` (shape (..., T, n_in)), the same pooling the
    theory assumes when it writes Var(I_in) = n_in σ_in² (v_x + m_x²). Accumulated in float64 so the
    small rates of latency codes (m_x ~ 1e-3) keep their digits.
    """
    t = torch.as_tensor(x)
    if t.numel() == 0:
        raise ValueError("input_stats needs at least one input value; x is empty")
    flat = t.reshape(-1)
    total = flat.sum(dtype=torch.float64)
    total_sq = (flat.double() ** 2).sum() if flat.numel() < 50_000_000 else _chunked_square_sum(flat)
    n = flat.numel()
    mean = float(total) / n
    var = max(float(total_sq) / n - mean * mean, 0.0)
    return mean, var


def _chunked_square_sum(flat: torch.Tensor, chunk: int = 10_000_000) -> float:
    # Avoids a float64 copy of a multi-gigabyte tensor.
    return float(sum((flat[i:i + chunk].double() ** 2).sum() for i in range(0, flat.numel(), chunk)))


# ---------------------------------------------------------------------------------------------
# randman


def randman(classes: int = 5, n_in: int = 100, dim: int = 1, samples: int = 1000, T: int = 50,
            seed: int = 0, alpha: float = 2.0, precision: float = 1e-3) -> TaskData:
    """The random-manifold spike-latency task (Zenke & Vogels 2021), generated from ``seed``.

    Each class owns one smooth random manifold: channel i maps the manifold coordinates
    u ∈ [0, 1)^dim to f_i(u) = Π_d Σ_k a_k k^(−alpha) sin(2π(k ν_k u_d + φ_k)), a sum of sinusoids
    whose amplitudes fall as k^(−alpha) (alpha sets the smoothness; frequencies k run up to
    ceil(precision^(−1/alpha)), beyond which terms are smaller than ``precision``); a_k, ν_k, φ_k are
    drawn uniformly from [0, 1). A sample draws u uniformly, rescales each channel's value to
    [0, 1] over the class's samples, and channel i fires once, at time bin floor(f_i · T) (capped at
    T − 1). ``samples`` is the total, shared as evenly as the classes allow. Same arguments, same
    tensors.
    """
    for name, value, lo in (("classes", classes, 2), ("n_in", n_in, 1), ("dim", dim, 1),
                            ("samples", samples, 2), ("T", T, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"{name} = {value!r} must be a whole number >= {lo}")
    if samples < classes:
        raise ValueError(f"samples = {samples} must be at least classes = {classes} (one per class)")
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha = {alpha!r} is outside the allowed range (0, inf)")
    if not 0 < precision < 1:
        raise ValueError(f"precision = {precision!r} is outside the allowed range (0, 1)")
    check_range("seed", seed)

    rng = np.random.default_rng(seed)
    n_freq = int(math.ceil(precision ** (-1.0 / alpha)))
    per_class = [samples // classes + (1 if c < samples % classes else 0) for c in range(classes)]
    times, labels = [], []
    for c in range(classes):
        amp, freq, phase = rng.uniform(0.0, 1.0, size=(3, n_in, dim, n_freq))
        coords = rng.uniform(0.0, 1.0, size=(per_class[c], dim))
        values = _manifold_values(coords, amp, freq, phase, alpha)
        times.append(_latency_bins(_rescale_per_channel(values), T))
        labels.append(np.full(per_class[c], c, dtype=np.int64))
    order = rng.permutation(samples)
    spike_times = np.concatenate(times)[order]
    y = np.concatenate(labels)[order]
    x = _one_spike_per_channel(spike_times, T)
    return _task("randman", x, y, classes, seed,
                 source=f"randman(classes={classes}, n_in={n_in}, dim={dim}, samples={samples}, T={T}, "
                        f"seed={seed})")


def _manifold_values(coords: np.ndarray, amp: np.ndarray, freq: np.ndarray, phase: np.ndarray,
                     alpha: float) -> np.ndarray:
    """f_i(u) for every sample (rows) and channel (columns); shapes (S, dim) and (n_in, dim, K)."""
    n_in, dim, n_freq = amp.shape
    k = np.arange(1, n_freq + 1, dtype=np.float64)
    weight = amp * k ** (-alpha)                              # (n_in, dim, K)
    out = np.ones((coords.shape[0], n_in))
    # Chunks over samples keep the (S, n_in, K) intermediate below ~64 MB.
    chunk = max(1, 8_000_000 // max(1, n_in * n_freq))
    for d in range(dim):
        for s in range(0, coords.shape[0], chunk):
            u = coords[s:s + chunk, d][:, None, None]       # (S, 1, 1)
            arg = 2.0 * np.pi * (k * freq[:, d, :] * u + phase[:, d, :])
            out[s:s + chunk] *= np.einsum("sik,ik->si", np.sin(arg), weight[:, d, :])
    return out


def _rescale_per_channel(values: np.ndarray) -> np.ndarray:
    """Map each channel (column) to [0, 1] over the samples; a constant channel maps to 0."""
    lo = values.min(axis=0, keepdims=True)
    span = values.max(axis=0, keepdims=True) - lo
    return (values - lo) / np.where(span > 0, span, 1.0)


def _latency_bins(unit_values: np.ndarray, T: int) -> np.ndarray:
    """Time bin of a value in [0, 1]: floor(v·T), with v = 1 falling in the last bin."""
    return np.minimum((unit_values * T).astype(np.int64), T - 1)


def _one_spike_per_channel(spike_times: np.ndarray, T: int) -> np.ndarray:
    """(N, n_in) spike bins (−1 = silent) -> (N, T, n_in) float32 spikes."""
    n, n_in = spike_times.shape
    x = np.zeros((n, T, n_in), dtype=np.float32)
    rows, chans = np.nonzero(spike_times >= 0)
    x[rows, spike_times[rows, chans], chans] = 1.0
    return x


def _task(name: str, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, source: str) -> TaskData:
    train_idx, test_idx = _split(len(y), seed)
    return TaskData(name=name, x=torch.from_numpy(x), y=torch.from_numpy(y.astype(np.int64)),
                    n_classes=int(n_classes), train_idx=torch.from_numpy(train_idx),
                    test_idx=torch.from_numpy(test_idx), source=source)


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle into train and test indices; both non-empty whenever n >= 2."""
    order = np.random.default_rng([seed, 1]).permutation(n)
    n_test = min(max(1, round(TEST_FRACTION * n)), n - 1) if n >= 2 else 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _subsample(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``limit`` of n samples, a seeded random choice kept in file order."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 2]).choice(n, size=limit, replace=False))


# ---------------------------------------------------------------------------------------------
# SHD


def shd(path: str | os.PathLike, T: int = 100, max_time: float = SHD_MAX_TIME,
        samples: int | None = None, seed: int = 0) -> TaskData:
    """Spiking Heidelberg Digits from a local HDF5 file in the official layout (see ``SHD_LAYOUT``).

    Spike times (seconds) in [0, max_time) fall into T equal bins over the 700 channels; several
    spikes of one channel in one bin count once, so x stays in {0, 1} (the statistics the paper's
    m_x = 0.04388, v_x = 0.04196 describe are those of such binary bins). ``samples`` keeps at most
    that many samples (a seeded random choice). Classes: max(label) + 1.
    """
    import h5py

    file = _existing_file(path, "SHD", SHD_LAYOUT)
    _check_whole("T", T)
    if not (max_time > 0 and math.isfinite(max_time)):
        raise ValueError(f"max_time = {max_time!r} is outside the allowed range (0, inf) seconds")
    try:
        handle = h5py.File(file, "r")
    except OSError as err:
        raise ValueError(f"{file} is not a readable HDF5 file ({err}); expected {SHD_LAYOUT}") from None
    with handle:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in handle:
                raise ValueError(f"{file} has no dataset '{key}'; expected {SHD_LAYOUT}")
        times, units, labels = handle["spikes/times"], handle["spikes/units"], handle["labels"]
        labels = np.asarray(labels[()]).reshape(-1)
        if not (len(times) == len(units) == len(labels)) or len(labels) < 2:
            raise ValueError(f"{file}: spikes/times ({len(times)}), spikes/units ({len(units)}) and "
                             f"labels ({len(labels)}) must have the same length >= 2; expected {SHD_LAYOUT}")
        keep = _subsample(len(labels), samples, seed)
        x = np.zeros((len(keep), T, SHD_CHANNELS), dtype=np.float32)
        for row, i in enumerate(keep):
            _bin_spikes(x[row], np.asarray(times[i], dtype=np.float64), np.asarray(units[i]), max_time,
                        file, int(i))
    y = _labels(labels[keep], file, SHD_LAYOUT)
    return _task("shd", x, y, int(y.max()) + 1, seed, source=f"shd({file}, T={T})")


def _bin_spikes(out: np.ndarray, times: np.ndarray, units: np.ndarray, max_time: float,
                file: Path, index: int) -> None:
    """Write one sample's (time, unit) events into ``out`` (T, 700) as binary bins."""
    if times.shape != units.shape:
        raise ValueError(f"{file}: sample {index} has {times.size} spike times but {units.size} units; "
                         f"expected {SHD_LAYOUT}")
    if units.size and (not np.issubdtype(units.dtype, np.integer) or units.min() < 0
                       or units.max() >= SHD_CHANNELS):
        raise ValueError(f"{file}: sample {index} has units outside 0..{SHD_CHANNELS - 1}; "
                         f"expected {SHD_LAYOUT}")
    T = out.shape[0]
    inside = (times >= 0) & (times < max_time)
    bins = np.minimum((times[inside] / max_time * T).astype(np.int64), T - 1)
    out[bins, units[inside].astype(np.int64)] = 1.0


def _labels(labels: np.ndarray, file: Path, layout: str) -> np.ndarray:
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(f"{file}: labels must be non-negative integers; expected {layout}")
    if labels.max() < 1:
        raise ValueError(f"{file}: labels hold a single class; classification needs at least two")
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# sl-MNIST


def slmnist(path: str | os.PathLike, T: int = 50, threshold: float = SLMNIST_THRESHOLD,
            samples: int | None = None, seed: int = 0) -> TaskData:
    """Latency-coded MNIST: 784 channels, each pixel fires at most once.

    A pixel of intensity v (scaled to [0, 1]) with v >= threshold fires at bin
    round((1 − v)/(1 − threshold) · (T − 1)): the brightest pixels first, the faintest last;
    darker pixels stay silent. Reads ``path`` in any format of ``MNIST_LAYOUT``; ``samples`` keeps at
    most that many images (a seeded random choice).
    """
    _check_whole("T", T)
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold = {threshold!r} is outside the allowed range [0, 1)")
    images, labels, where = _read_mnist(Path(path))
    keep = _subsample(len(labels), samples, seed)
    y = _labels(labels[keep], where, MNIST_LAYOUT)
    x = _latency_code(images[keep], T, threshold)
    return _task("slmnist", x, y, 10 if y.max() < 10 else int(y.max()) + 1, seed,
                 source=f"slmnist({where}, T={T})")


def _latency_code(images: np.ndarray, T: int, threshold: float) -> np.ndarray:
    """(N, 28, 28) images -> (N, T, 784) spikes, one per pixel at or above threshold."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    # uint8 images carry 0..255; float images are taken as already scaled to [0, 1].
    if images.dtype == np.uint8 or flat.max(initial=0.0) > 1.0:
        flat = flat / 255.0
    bins = np.rint((1.0 - flat) / (1.0 - threshold) * (T - 1)).astype(np.int64)
    bins = np.where(flat >= threshold, np.clip(bins, 0, T - 1), -1)
    return _one_spike_per_channel(bins, T)


def _read_mnist(path: Path) -> tuple[np.ndarray, np.ndarray, Path]:
    if path.is_dir():
        images = _first_existing(path, ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                        "train-images.idx3-ubyte"))
        if images is None:
            raise FileNotFoundError(f"{path} holds no train-images-idx3-ubyte[.gz]; expected {MNIST_LAYOUT}")
        return _read_idx_pair(images)
    file = _existing_file(path, "MNIST", MNIST_LAYOUT)
    if file.suffix == ".npz":
        return (*_read_npz(file), file)
    return _read_idx_pair(file)


def _read_npz(file: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        archive = np.load(file, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"{file} is not a readable .npz ({err}); expected {MNIST_LAYOUT}") from None
    with archive:
        for xk, yk in (("x_train", "y_train"), ("x", "y")):
            if xk in archive.files and yk in archive.files:
                return _check_images(archive[xk], archive[yk], file)
    raise ValueError(f"{file} has arrays {sorted(archive.files)}, not x_train/y_train or x/y; "
                     f"expected {MNIST_LAYOUT}")


def _read_idx_pair(images_file: Path) -> tuple[np.ndarray, np.ndarray, Path]:
    labels_file = _labels_file_for(images_file)
    images = _read_idx(images_file)
    labels = _read_idx(labels_file)
    return (*_check_images(images, labels, images_file), images_file)


def _labels_file_for(images_file: Path) -> Path:
    name = images_file.name
    if "images" not in name:
        raise ValueError(f"{images_file}: cannot tell the labels file from this name; expected {MNIST_LAYOUT}")
    stem = name.replace("images", "labels").replace("idx3", "idx1")
    candidates = [images_file.with_name(stem)]
    # The labels file may be gzipped when the images are not, or the other way round.
    candidates.append(images_file.with_name(stem[:-3] if stem.endswith(".gz") else stem + ".gz"))
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise FileNotFoundError(f"MNIST labels file not found: {candidates[0]} (next to {images_file}); "
                                f"expected {MNIST_LAYOUT}")
    return found


def _read_idx(file: Path) -> np.ndarray:
    """An idx file (LeCun's format: 2 zero bytes, a type code, the rank, big-endian int32 sizes)."""
    opener = gzip.open if file.suffix == ".gz" else open
    try:
        with opener(file, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{file} cannot be read ({err}); expected {MNIST_LAYOUT}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{file} is not an unsigned-byte idx file (bad magic number); expected {MNIST_LAYOUT}")
    rank = raw[3]
    header = 4 + 4 * rank
    if rank < 1 or len(raw) < header:
        raise ValueError(f"{file} has a truncated idx header; expected {MNIST_LAYOUT}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">i4", count=rank, offset=4))
    if len(raw) - header != int(np.prod(shape)):
        raise ValueError(f"{file}: idx header promises shape {shape} but holds {len(raw) - header} bytes; "
                         f"expected {MNIST_LAYOUT}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _check_images(images: np.ndarray, labels: np.ndarray, file: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{file}: images have shape {images.shape}, not (N, 28, 28); expected {MNIST_LAYOUT}")
    if len(images) != len(labels) or len(labels) < 2:
        raise ValueError(f"{file}: {len(images)} images but {len(labels)} labels (need the same number, "
                         f">= 2); expected {MNIST_LAYOUT}")
    if not np.issubdtype(images.dtype, np.number) or not np.all(np.isfinite(images)) or images.min() < 0:
        raise ValueError(f"{file}: images must be non-negative finite numbers; expected {MNIST_LAYOUT}")
    return images, labels


# ---------------------------------------------------------------------------------------------
# helpers and the common entry point


def _existing_file(path: str | os.PathLike, what: str, layout: str) -> Path:
    file = Path(path).expanduser()
    if not str(path):
        raise ValueError(f"data_path is empty: the {what} task needs a local file, {layout}")
    if not file.is_file():
        raise FileNotFoundError(f"{what} file not found: {file} (nothing is downloaded); expected {layout}")
    return file


def _first_existing(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _check_whole(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} = {value!r} must be a whole number >= 1")


def load_task(train_cfg: TrainConfig) -> TaskData:
    """The data of ``train_cfg.task`` with its seed (``lif.seed``), ``time_steps`` and ``samples``.

    randman uses ``lif.n_in`` channels, ``classes`` and ``manifold_dim``; shd and slmnist read
    ``data_path`` (700 and 784 channels whatever ``lif.n_in`` says: the caller should take ``n_in``
    from the returned data) and keep at most ``samples`` samples.
    """
    cfg = train_cfg
    if cfg.task == "randman":
        return randman(classes=cfg.classes, n_in=cfg.lif.n_in, dim=cfg.manifold_dim, samples=cfg.samples,
                       T=cfg.time_steps, seed=cfg.lif.seed)
    if cfg.task == "shd":
        return shd(cfg.data_path, T=cfg.time_steps, samples=cfg.samples, seed=cfg.lif.seed)
    if cfg.task == "slmnist":
        return slmnist(cfg.data_path, T=cfg.time_steps, samples=cfg.samples, seed=cfg.lif.seed)
    raise ValueError(f"task = {cfg.task!r} is not one of: randman, shd, slmnist")
