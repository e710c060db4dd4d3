"""Offline classification tasks as spike tensors: nothing here downloads anything.

Four tasks, all returned as a :class:`TaskData` with ``x`` a float32 torch tensor of shape
(N, T, n_in) holding spikes in {0, 1} (one row per sample, one column per time step, one slice
per input channel) and ``y`` an int64 torch tensor of shape (N,) holding class labels:

- ``randman`` (default): the random-manifold spike-latency task of Zenke & Vogels (2021), generated
  from a seed. Every input channel fires exactly once per sample, so the class lives only in the
  relative spike timing.
- ``shd``: Spiking Heidelberg Digits from a local HDF5 file in the official layout.
- ``slmnist``: latency-coded MNIST from local MNIST files (idx, idx.gz or .npz).
- ``digits``: scikit-learn's bundled handwritten digits (1797 images of 8 × 8 pixels, 10 classes; shipped
  inside the scikit-learn wheel, so nothing is downloaded), latency-coded like sl-MNIST on 64 channels.

:func:`input_stats` gives the input statistics the theory calls m_x and v_x
(docs/theory.md#13-input-statistics-and-the-input-drive-d and
condition II), so predictions can be made for the real task input instead of a preset's guess.

Reading data files (a dashboard visitor may type any server path, and files may be hostile):

- Every failure of :func:`shd` and :func:`slmnist` is a ValueError with a one-line message; those about
  a file are :class:`DataFileError`.
- Until a file has been opened as a regular file and recognised by its format's signature (HDF5
  superblock, idx magic number, gzip + idx magic, zip central directory), every failure gives one
  message, "<task> data file could not be read as <format>: <path as given> is missing, not a regular
  file, not readable, or does not start with the <format> signature (magic number); ...", raised as
  :class:`UnreadableDataFile` (also a FileNotFoundError). It is the same for a missing path, a folder,
  a pipe or device, a permission or I/O error and a file of another format, so the message never
  says whether a path exists. Only past the signature do messages describe the file's content.
- Sizes come from headers and are checked before reading: at most :func:`max_data_bytes` decompressed
  bytes are read per load (``MAX_DATA_BYTES``, 1 GiB, or STABVIZ_MAX_DATA_BYTES), in bounded steps, so
  a small file can never expand into more memory than that. HDF5 data are read only from the file
  itself (no external or soft links, external storage or virtual datasets); .npz arrays are never
  unpickled. Labels must be whole numbers in [0, MAX_CLASSES); the class count is at most that.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stabviz.config import TASKS, TrainConfig, check_choice, check_range

#: Fraction of every task's samples held out for the test split.
TEST_FRACTION = 0.2
#: Channels of the official SHD data (the cochlea model's 700 output fibres).
SHD_CHANNELS = 700
#: SHD spike times are binned over [0, SHD_MAX_TIME) seconds; later spikes are dropped.
SHD_MAX_TIME = 1.4
#: sl-MNIST pixels with intensity (scaled to [0, 1]) below this never fire.
SLMNIST_THRESHOLD = 0.2
#: digits pixels (intensities 0..16, scaled to [0, 1]) below this never fire (sl-MNIST's threshold).
DIGITS_THRESHOLD = SLMNIST_THRESHOLD
#: The digits encodings (see :func:`digits`); the first is the task's, with DIGITS_STEPS time steps.
DIGITS_ENCODINGS = ("latency", "rows", "pixels")
DIGITS_STEPS = 16
#: The digits split does not follow the run's seed: every run of a study sees the same 1438 / 359 images.
DIGITS_SPLIT_SEED = 0

#: Most bytes one call of :func:`shd` or :func:`slmnist` reads out of its files once decompressed (idx
#: bodies, .npz arrays, HDF5 labels and spike lists), checked against headers before reading. The
#: environment variable STABVIZ_MAX_DATA_BYTES overrides it (see :func:`max_data_bytes`).
MAX_DATA_BYTES = 1 << 30
#: HDF5 decompresses a chunk whole: datasets with larger chunks (or chunks over the data cap) are refused.
MAX_H5_CHUNK_BYTES = 64 << 20
#: Labels must be whole numbers in [0, MAX_CLASSES) (TrainConfig.classes allows at most as many).
MAX_CLASSES = 1000
#: HDF5 filters that may be read (numbers as registered with the HDF Group); others are refused
#: rather than looked up as plugins.
_H5_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf"}
#: Step of bounded reads, and the longest .npy header read (numpy.load's own limit).
_READ_CHUNK = 1 << 20
_NPY_MAX_HEADER = 10_000

SHD_LAYOUT = (
    "an HDF5 file with datasets 'spikes/times' (vlen float, seconds), "
    "'spikes/units' (vlen int, 0..699) and 'labels' (int), one entry per sample"
)
MNIST_LAYOUT = (
    "an .npz with arrays x_train/y_train (or x/y) of shape (N, 28, 28) and (N,), "
    "or MNIST idx files: train-images-idx3-ubyte[.gz] with train-labels-idx1-ubyte[.gz] "
    "next to it (or a folder holding both)"
)


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
    """(m_x, v_x): mean and variance of the input of one channel at one step
    (docs/theory.md#13-input-statistics-and-the-input-drive-d).

    Taken over every sample, step and channel of ``x`` (shape (..., T, n_in)), the same pooling the
    theory assumes when it writes Var(I_in) = n_in σ_in² (v_x + m_x²). Accumulated in float64 so the
    small rates of latency codes (m_x ~ 1e-3) keep their digits.
    """
    t = torch.as_tensor(x)
    if t.numel() == 0:
        raise ValueError("input_stats needs at least one input value; x is empty")
    flat = t.reshape(-1)
    total, total_sq = _sums(flat)
    n = flat.numel()
    mean = float(total) / n
    var = max(float(total_sq) / n - mean * mean, 0.0)
    return mean, var


def _sums(flat: torch.Tensor, chunk: int = 4_000_000) -> tuple[float, float]:
    """(Σ x, Σ x²) in one pass, accumulated in float64 a chunk at a time: a float64 copy of the whole
    input (250 MB for randman's default) cost more than a run's first training steps."""
    total = total_sq = 0.0
    for i in range(0, flat.numel(), chunk):
        part = flat[i : i + chunk].double()
        total += float(part.sum())
        total_sq += float(torch.dot(part, part))
    return total, total_sq


# ---------------------------------------------------------------------------------------------
# randman


def randman(
    classes: int = 5,
    n_in: int = 100,
    dim: int = 1,
    samples: int = 1000,
    T: int = 50,
    seed: int = 0,
    alpha: float = 2.0,
    precision: float = 1e-3,
) -> TaskData:
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
    for name, value, lo in (
        ("classes", classes, 2),
        ("n_in", n_in, 1),
        ("dim", dim, 1),
        ("samples", samples, 2),
        ("T", T, 1),
    ):
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
    return _task(
        "randman",
        x,
        y,
        classes,
        seed,
        source=f"randman(classes={classes}, n_in={n_in}, dim={dim}, samples={samples}, T={T}, seed={seed})",
    )


def _manifold_values(
    coords: np.ndarray, amp: np.ndarray, freq: np.ndarray, phase: np.ndarray, alpha: float
) -> np.ndarray:
    """f_i(u) for every sample (rows) and channel (columns); shapes (S, dim) and (n_in, dim, K)."""
    n_in, dim, n_freq = amp.shape
    k = np.arange(1, n_freq + 1, dtype=np.float64)
    weight = amp * k ** (-alpha)  # (n_in, dim, K)
    out = np.ones((coords.shape[0], n_in))
    # Chunks over samples keep the (S, n_in, K) intermediate below ~64 MB.
    chunk = max(1, 8_000_000 // max(1, n_in * n_freq))
    for d in range(dim):
        for s in range(0, coords.shape[0], chunk):
            u = coords[s : s + chunk, d][:, None, None]  # (S, 1, 1)
            arg = 2.0 * np.pi * (k * freq[:, d, :] * u + phase[:, d, :])
            out[s : s + chunk] *= np.einsum("sik,ik->si", np.sin(arg), weight[:, d, :])
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
    x = _zeros((n, T, n_in))
    rows, chans = np.nonzero(spike_times >= 0)
    x[rows, spike_times[rows, chans], chans] = 1.0
    return x


def _task(name: str, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int, source: str) -> TaskData:
    train_idx, test_idx = _split(len(y), seed)
    return TaskData(
        name=name,
        x=torch.from_numpy(x),
        y=torch.from_numpy(y.astype(np.int64)),
        n_classes=int(n_classes),
        train_idx=torch.from_numpy(train_idx),
        test_idx=torch.from_numpy(test_idx),
        source=source,
    )


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
# reading data files safely


class DataFileError(ValueError):
    """A task's data file could not be used. The message is one line and names the file as given."""


class UnreadableDataFile(DataFileError, FileNotFoundError):
    """The file could not be opened and recognised as its format (see the module's rule).

    One message shape for a missing path, a folder, a pipe or device, a permission error, an I/O
    error and a file without the format's signature, so that the message never tells whether a path
    exists on the server. Also a FileNotFoundError, for callers written against the old loaders.
    """


class _Budget:
    """The decompressed bytes one load may still read (``max_data_bytes()`` in all)."""

    def __init__(self) -> None:
        self.limit = self.left = max_data_bytes()

    def take(self, nbytes: int, what: str, shown: str, layout: str) -> None:
        if nbytes > self.left:
            raise DataFileError(
                f"{shown}: {what} would take {nbytes:,} bytes, over the {self.limit:,}-byte limit on "
                f"data read per load (STABVIZ_MAX_DATA_BYTES); expected {layout}"
            )
        self.left -= nbytes


def max_data_bytes() -> int:
    """The cap on decompressed bytes one load reads: ``STABVIZ_MAX_DATA_BYTES`` or ``MAX_DATA_BYTES``."""
    raw = os.environ.get("STABVIZ_MAX_DATA_BYTES", "").strip()
    if not raw:
        return MAX_DATA_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"STABVIZ_MAX_DATA_BYTES = {raw[:40]!r} must be a whole number of bytes >= 1")
    return value


def _printable(text: str, limit: int = 300) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(path: str | os.PathLike) -> str:
    """The path as the caller gave it, on one line (never resolved, so it tells nothing new)."""
    return _printable(os.fsdecode(path))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return _printable(f"{type(err).__name__}: {text}" if text else type(err).__name__)


def _unreadable(what: str, fmt: str, shown: str, layout: str) -> UnreadableDataFile:
    return UnreadableDataFile(
        f"{what} data file could not be read as {fmt}: {shown} is missing, not a regular file, not "
        f"readable, or does not start with the {fmt} signature (magic number); nothing is downloaded; "
        f"expected {layout}"
    )


def _check_path(path: str | os.PathLike, what: str, layout: str) -> Path:
    if not os.fsdecode(path):
        raise ValueError(f"data_path is empty: the {what} task needs a local file, {layout}")
    return Path(path).expanduser()


def _open_regular(file: Path):
    """A binary file object for ``file`` if it is a readable regular file, else None (never says why).

    Opened without blocking (a named pipe would hang a plain open) and checked on the open descriptor.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(file, flags)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return os.fdopen(fd, "rb")
    except OSError:
        os.close(fd)
        return None


#: What may go wrong inside a library reading a recognised but damaged file.
_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    MemoryError,
    NotImplementedError,
    zlib.error,
    struct.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
)


@contextlib.contextmanager
def _reading(shown: str, fmt: str, layout: str):
    """Turns a library's failure on a recognised file into a one-line DataFileError."""
    try:
        yield
    except DataFileError:
        raise
    except _READ_ERRORS as err:
        raise DataFileError(f"{shown} could not be read as {fmt}: {_one_line(err)}; expected {layout}") from None


def _read_into(stream, array: np.ndarray) -> int:
    """Fill the contiguous ``array`` from ``stream`` in bounded steps; the number of bytes read."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    got = 0
    while got < len(view):
        n = stream.readinto(view[got : got + _READ_CHUNK])
        if not n:
            break
        got += n
    return got


def _read_up_to(stream, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _zeros(shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.zeros(shape, dtype=np.float32)
    except MemoryError:
        raise ValueError(
            f"spike tensor of shape {shape} ({4 * math.prod(shape):,} bytes of float32) could not be "
            f"allocated; keep fewer samples (samples=) or fewer time steps"
        ) from None


# ---------------------------------------------------------------------------------------------
# SHD


def shd(
    path: str | os.PathLike, T: int = 100, max_time: float = SHD_MAX_TIME, samples: int | None = None, seed: int = 0
) -> TaskData:
    """Spiking Heidelberg Digits from a local HDF5 file in the official layout (see ``SHD_LAYOUT``).

    Spike times (seconds) in [0, max_time) fall into T equal bins over the 700 channels; several
    spikes of one channel in one bin count once, so x stays in {0, 1} (the statistics the paper's
    m_x = 0.04388, v_x = 0.04196 describe are those of such binary bins). ``samples`` keeps at most
    that many samples (a seeded random choice). Labels must be whole numbers in [0, MAX_CLASSES);
    classes: max(label) + 1 of the kept samples (so at most MAX_CLASSES).

    Before reading, the three datasets must be hard-linked datasets stored in the file itself (no
    external or soft links, external storage or virtual datasets), of the layout's types, with equal
    lengths, known filters and chunks of at most MAX_H5_CHUNK_BYTES; labels are read and checked in
    bounded blocks, and all data read counts against ``max_data_bytes()``. Failures are ValueErrors
    with one-line messages (the module docstring gives the rule for unreadable files).
    """
    import h5py

    shown = _shown(path)
    file = _check_path(path, "SHD", SHD_LAYOUT)
    _check_whole("T", T)
    if not (max_time > 0 and math.isfinite(max_time)):
        raise ValueError(f"max_time = {max_time!r} is outside the allowed range (0, inf) seconds")
    probe = _open_regular(file)
    if probe is None:
        raise _unreadable("SHD", "HDF5", shown, SHD_LAYOUT)
    probe.close()
    try:
        handle = h5py.File(file, "r")
    except Exception:  # whatever HDF5 says, the file is not usable HDF5
        raise _unreadable("SHD", "HDF5", shown, SHD_LAYOUT) from None
    budget = _Budget()
    with handle, _reading(shown, "HDF5", SHD_LAYOUT):
        times, units, labels = (
            _h5_dataset(handle, key, shown, budget) for key in ("spikes/times", "spikes/units", "labels")
        )
        _check_shd_types(times, units, labels, shown)
        lengths = (times.shape[0], units.shape[0], labels.shape[0])
        if not (lengths[0] == lengths[1] == lengths[2]) or lengths[2] < 2:
            raise DataFileError(
                f"{shown}: spikes/times ({lengths[0]}), spikes/units ({lengths[1]}) and "
                f"labels ({lengths[2]}) must have the same length >= 2; expected {SHD_LAYOUT}"
            )
        keep = _subsample(lengths[2], samples, seed)
        kept_labels = _h5_labels(labels, keep, shown, budget)
        x = _zeros((len(keep), T, SHD_CHANNELS))
        for row, i in enumerate(keep):
            t, u = np.asarray(times[i], dtype=np.float64), np.asarray(units[i])
            budget.take(t.nbytes + u.nbytes, f"spike lists up to sample {int(i)}", shown, SHD_LAYOUT)
            _bin_spikes(x[row], t, u, max_time, shown, int(i))
    y = _labels(kept_labels, shown, SHD_LAYOUT)
    return _task("shd", x, y, int(y.max()) + 1, seed, source=f"shd({file}, T={T})")


def _h5_dataset(handle, key: str, shown: str, budget: _Budget):
    """The dataset at ``key``, reached through hard links only, stored in the file itself."""
    import h5py

    node, parts = handle, key.split("/")
    for depth, name in enumerate(parts):
        where = "/".join(parts[: depth + 1])
        link = node.get(name, getlink=True)  # the link itself: nothing is followed
        if link is None:
            raise DataFileError(f"{shown} has no dataset '{key}'; expected {SHD_LAYOUT}")
        if not isinstance(link, h5py.HardLink):
            raise DataFileError(
                f"{shown}: '{where}' is a {type(link).__name__}; only data stored in the file "
                f"itself are read (no soft or external links); expected {SHD_LAYOUT}"
            )
        node = node[name]
        last = depth == len(parts) - 1
        if not isinstance(node, h5py.Dataset if last else h5py.Group):
            raise DataFileError(
                f"{shown}: '{where}' is not {'a dataset' if last else 'a group'}; expected {SHD_LAYOUT}"
            )
    if node.is_virtual:
        raise DataFileError(
            f"{shown}: '{key}' is a virtual dataset (data in other files); only data stored "
            f"in the file itself are read; expected {SHD_LAYOUT}"
        )
    if node.external:
        raise DataFileError(
            f"{shown}: '{key}' keeps its data in external files; only data stored in the "
            f"file itself are read; expected {SHD_LAYOUT}"
        )
    plist = node.id.get_create_plist()
    for k in range(plist.get_nfilters()):
        code = plist.get_filter(k)[0]
        if code not in _H5_FILTERS:
            raise DataFileError(
                f"{shown}: '{key}' uses HDF5 filter {code}, not one of "
                f"{', '.join(_H5_FILTERS.values())}; expected {SHD_LAYOUT}"
            )
    if node.chunks is not None:
        chunk_bytes = math.prod(node.chunks) * node.id.get_type().get_size()
        if chunk_bytes > min(MAX_H5_CHUNK_BYTES, budget.limit):
            raise DataFileError(
                f"{shown}: '{key}' is stored in chunks of {chunk_bytes:,} bytes, over the "
                f"{min(MAX_H5_CHUNK_BYTES, budget.limit):,}-byte limit (each chunk is "
                f"decompressed whole; MAX_H5_CHUNK_BYTES, at most STABVIZ_MAX_DATA_BYTES); "
                f"expected {SHD_LAYOUT}"
            )
    return node


def _check_shd_types(times, units, labels, shown: str) -> None:
    import h5py

    for key, ds, kinds, what in (("spikes/times", times, "fiu", "numbers"), ("spikes/units", units, "iu", "integers")):
        base = h5py.check_vlen_dtype(ds.dtype)
        if ds.shape is None or len(ds.shape) != 1 or not isinstance(base, np.dtype) or base.kind not in kinds:
            raise DataFileError(
                f"{shown}: '{key}' has shape {ds.shape} and type {_type_name(ds)}, not a list "
                f"of variable-length {what}; expected {SHD_LAYOUT}"
            )
    shape = labels.shape
    if shape is None or not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or labels.dtype.kind not in "iu":
        raise DataFileError(
            f"{shown}: 'labels' has shape {shape} and type {_type_name(labels)}; labels must be "
            f"non-negative integers, one per sample; expected {SHD_LAYOUT}"
        )


def _type_name(ds) -> str:
    import h5py

    base = h5py.check_vlen_dtype(ds.dtype)
    return f"vlen {getattr(base, '__name__', base)}" if base is not None else str(ds.dtype)


def _h5_labels(ds, keep: np.ndarray, shown: str, budget: _Budget) -> np.ndarray:
    """Every label checked to lie in [0, MAX_CLASSES), read in bounded blocks; the kept ones returned."""
    n = ds.shape[0]
    budget.take(ds.size * ds.id.get_type().get_size(), f"labels ({n:,})", shown, SHD_LAYOUT)
    step = max(1, _READ_CHUNK // max(1, ds.dtype.itemsize))
    out = np.empty(len(keep), dtype=np.int64)
    for start in range(0, n, step):
        stop = min(start + step, n)
        block = np.asarray(ds[start:stop]).reshape(-1)
        if block.size != stop - start:
            raise DataFileError(
                f"{shown}: labels block {start}..{stop} read {block.size} values; expected {SHD_LAYOUT}"
            )
        low, high = block.min(), block.max()
        if low < 0 or high >= MAX_CLASSES:
            bad = int(low) if low < 0 else int(high)
            raise DataFileError(
                f"{shown}: a label is {bad}; labels must be whole numbers in "
                f"0..{MAX_CLASSES - 1} (at most {MAX_CLASSES} classes); expected {SHD_LAYOUT}"
            )
        a, b = np.searchsorted(keep, start), np.searchsorted(keep, stop)
        out[a:b] = block[keep[a:b] - start]
    return out


def _bin_spikes(out: np.ndarray, times: np.ndarray, units: np.ndarray, max_time: float, file: str, index: int) -> None:
    """Write one sample's (time, unit) events into ``out`` (T, 700) as binary bins."""
    if times.shape != units.shape:
        raise DataFileError(
            f"{file}: sample {index} has {times.size} spike times but {units.size} units; expected {SHD_LAYOUT}"
        )
    if units.size and (not np.issubdtype(units.dtype, np.integer) or units.min() < 0 or units.max() >= SHD_CHANNELS):
        raise DataFileError(f"{file}: sample {index} has units outside 0..{SHD_CHANNELS - 1}; expected {SHD_LAYOUT}")
    if not np.all(np.isfinite(times)):
        raise DataFileError(
            f"{file}: sample {index} has spike times that are not finite numbers (NaN or "
            f"infinite); expected {SHD_LAYOUT}"
        )
    T = out.shape[0]
    inside = (times >= 0) & (times < max_time)
    bins = np.minimum((times[inside] / max_time * T).astype(np.int64), T - 1)
    out[bins, units[inside].astype(np.int64)] = 1.0


def _labels(labels: np.ndarray, file: str, layout: str) -> np.ndarray:
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise DataFileError(f"{file}: labels must be non-negative integers; expected {layout}")
    if labels.max() >= MAX_CLASSES:
        raise DataFileError(
            f"{file}: a label is {int(labels.max())}; labels must be whole numbers in "
            f"0..{MAX_CLASSES - 1} (at most {MAX_CLASSES} classes); expected {layout}"
        )
    if labels.max() < 1:
        raise DataFileError(f"{file}: labels hold a single class; classification needs at least two")
    return labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# sl-MNIST


def slmnist(
    path: str | os.PathLike,
    T: int = 50,
    threshold: float = SLMNIST_THRESHOLD,
    samples: int | None = None,
    seed: int = 0,
) -> TaskData:
    """Latency-coded MNIST: 784 channels, each pixel fires at most once.

    A pixel of intensity v (scaled to [0, 1]) with v >= threshold fires at bin
    round((1 − v)/(1 − threshold) · (T − 1)): the brightest pixels first, the faintest last;
    darker pixels stay silent. Reads ``path`` in any format of ``MNIST_LAYOUT``; ``samples`` keeps at
    most that many images (a seeded random choice). Labels must be whole numbers in
    [0, MAX_CLASSES); classes: 10, or max(label) + 1 of the kept samples when that is larger.

    idx headers (magic, rank, sizes) are checked against the file size, or for .gz against the
    stream, before the body is read; .npz members must be stored or deflated plain-number .npy arrays
    whose header agrees with the zip's sizes (never unpickled). All data read count against
    ``max_data_bytes()``; failures are ValueErrors with one-line messages.
    """
    _check_whole("T", T)
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold = {threshold!r} is outside the allowed range [0, 1)")
    images, labels, where = _read_mnist(path)
    shown = _shown(where)
    keep = _subsample(len(labels), samples, seed)
    y = _labels(labels[keep], shown, MNIST_LAYOUT)
    x = _latency_code(images[keep], T, threshold)
    return _task("slmnist", x, y, 10 if y.max() < 10 else int(y.max()) + 1, seed, source=f"slmnist({where}, T={T})")


def _latency_code(images: np.ndarray, T: int, threshold: float) -> np.ndarray:
    """(N, 28, 28) images -> (N, T, 784) spikes, one per pixel at or above threshold."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    # uint8 images carry 0..255; float images are taken as already scaled to [0, 1].
    if images.dtype == np.uint8 or flat.max(initial=0.0) > 1.0:
        flat = flat / 255.0
    bins = np.rint((1.0 - flat) / (1.0 - threshold) * (T - 1)).astype(np.int64)
    bins = np.where(flat >= threshold, np.clip(bins, 0, T - 1), -1)
    return _one_spike_per_channel(bins, T)


_IMAGE_NAMES = ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte")


def _read_mnist(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, Path]:
    shown = _shown(path)
    file = _check_path(path, "MNIST", MNIST_LAYOUT)
    budget = _Budget()
    if file.suffix == ".npz":
        fh = _open_regular(file)
        if fh is None:
            raise _unreadable("MNIST", ".npz", shown, MNIST_LAYOUT)
        with fh, _reading(shown, ".npz", MNIST_LAYOUT):
            return (*_read_npz(fh, shown, budget), file)
    # An idx images file, or a folder holding one: the same message whichever is missing.
    images_file, fh = file, _open_regular(file)
    for name in _IMAGE_NAMES if fh is None else ():
        images_file, fh = file / name, _open_regular(file / name)
        if fh is not None:
            break
    if fh is None:
        raise _unreadable("MNIST", "idx", shown, MNIST_LAYOUT)
    with fh, _reading(_shown(images_file), "idx", MNIST_LAYOUT):
        images = _read_idx(fh, images_file.suffix == ".gz", shown, "MNIST", budget)
    candidates = _labels_files_for(images_file)
    labels_shown = _shown(f"{candidates[0]} (or {candidates[1].name})")
    for labels_file in candidates:
        fh = _open_regular(labels_file)
        if fh is not None:
            break
    else:
        raise _unreadable("MNIST labels", "idx", labels_shown, MNIST_LAYOUT)
    with fh, _reading(labels_shown, "idx", MNIST_LAYOUT):
        labels = _read_idx(fh, labels_file.suffix == ".gz", labels_shown, "MNIST labels", budget)
    return (*_check_images(images, labels, _shown(images_file)), images_file)


def _labels_files_for(images_file: Path) -> list[Path]:
    name = images_file.name
    if "images" not in name:
        raise DataFileError(
            f"{_shown(images_file)}: cannot tell the labels file from this name; expected {MNIST_LAYOUT}"
        )
    stem = name.replace("images", "labels").replace("idx3", "idx1")
    # The labels file may be gzipped when the images are not, or the other way round.
    return [images_file.with_name(stem), images_file.with_name(stem[:-3] if stem.endswith(".gz") else stem + ".gz")]


def _read_idx(fh, gz: bool, shown: str, what: str, budget: _Budget) -> np.ndarray:
    """An idx file (LeCun's format: 2 zero bytes, a type code, the rank, big-endian int32 sizes).

    The header is checked (unsigned-byte type, rank >= 1, sizes >= 0, their product within the
    budget and equal to the file size, or for gzip to the stream's length) before the body is read
    into an array of exactly that size, in bounded steps: a stream longer than promised is never
    decompressed past one extra byte.
    """
    stream = gzip.GzipFile(fileobj=fh, mode="rb") if gz else fh
    fmt = "gzip idx" if gz else "idx"
    try:
        head = _read_up_to(stream, 4)
    except (OSError, EOFError, zlib.error):  # not gzip at all, or broken at its start
        head = b""
    if len(head) < 4 or head[:3] != b"\x00\x00\x08":
        raise _unreadable(what, "idx", shown, MNIST_LAYOUT)
    rank = head[3]
    if rank == 0:
        raise DataFileError(f"{shown}: idx header has rank 0 (no sizes); expected {MNIST_LAYOUT}")
    dims = _read_up_to(stream, 4 * rank)
    if len(dims) < 4 * rank:
        raise DataFileError(f"{shown} has a truncated idx header; expected {MNIST_LAYOUT}")
    shape = struct.unpack(f">{rank}i", dims)
    if min(shape) < 0:
        raise DataFileError(f"{shown}: idx header has a negative size in shape {shape}; expected {MNIST_LAYOUT}")
    n = math.prod(shape)  # Python ints: no overflow
    budget.take(n, f"the {fmt} data of shape {shape}", shown, MNIST_LAYOUT)
    if not gz:
        held = os.fstat(fh.fileno()).st_size - 4 - 4 * rank
        if held != n:
            raise DataFileError(
                f"{shown}: idx header promises shape {shape} ({n:,} bytes) but the file holds "
                f"{held:,} bytes after the header; expected {MNIST_LAYOUT}"
            )
    data = np.empty(n, dtype=np.uint8)
    got = _read_into(stream, data)
    if got < n:
        raise DataFileError(
            f"{shown}: idx header promises shape {shape} ({n:,} bytes) but the data end after "
            f"{got:,} bytes; expected {MNIST_LAYOUT}"
        )
    if stream.read(1):
        raise DataFileError(
            f"{shown}: idx header promises shape {shape} ({n:,} bytes) but more data follow; expected {MNIST_LAYOUT}"
        )
    return data.reshape(shape)


def _read_npz(fh, shown: str, budget: _Budget) -> tuple[np.ndarray, np.ndarray]:
    """x/y arrays of an .npz, looked up as numpy.load does, each checked by :func:`_npz_member`."""
    try:
        archive = zipfile.ZipFile(fh)
    except _READ_ERRORS:  # not a zip file, or its directory is broken
        raise _unreadable("MNIST", ".npz", shown, MNIST_LAYOUT) from None
    with archive:
        names = archive.namelist()
        files = [n[:-4] if n.endswith(".npy") else n for n in names]
        for xk, yk in (("x_train", "y_train"), ("x", "y")):
            if xk in files and yk in files:
                return _check_images(
                    _npz_member(archive, xk, names, shown, budget),
                    _npz_member(archive, yk, names, shown, budget),
                    shown,
                )
    listed = sorted(files)
    more = f" and {len(listed) - 10} more" if len(listed) > 10 else ""
    raise DataFileError(
        _printable(f"{shown} has arrays {listed[:10]}{more}, not x_train/y_train or x/y; expected {MNIST_LAYOUT}", 600)
    )


def _npz_member(archive: zipfile.ZipFile, key: str, names: list[str], shown: str, budget: _Budget) -> np.ndarray:
    """One .npy member, its zip entry and .npy header checked before its data are read.

    Only stored or deflated entries (what numpy.savez and savez_compressed write; the zip module
    cannot bound the output of the other methods) holding a plain-number dtype (u, i, f kinds: never
    objects, so never a pickle), whose header's size fits the entry's uncompressed size.
    """
    member = key if key in names else key + ".npy"
    info = archive.getinfo(member)
    where = _printable(f"{shown} member {member!r}")
    if info.flag_bits & 0x1:
        raise DataFileError(f"{where} is encrypted; expected {MNIST_LAYOUT}")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataFileError(
            f"{where} uses zip compression method {info.compress_type}; only stored or "
            f"deflated members (numpy.savez, savez_compressed) are read"
        )
    budget.take(info.file_size, f"member {member!r} ({info.file_size:,} bytes uncompressed)", shown, MNIST_LAYOUT)
    with archive.open(info) as fp:
        prefix = _read_up_to(fp, 8)
        if len(prefix) < 8 or prefix[:6] != b"\x93NUMPY" or prefix[6] not in (1, 2, 3) or prefix[7] != 0:
            raise DataFileError(f"{where} is not a .npy array (bad magic number); expected {MNIST_LAYOUT}")
        size_field = _read_up_to(fp, 2 if prefix[6] == 1 else 4)
        if len(size_field) < (2 if prefix[6] == 1 else 4):
            raise DataFileError(f"{where} has a truncated .npy header; expected {MNIST_LAYOUT}")
        header_len = int.from_bytes(size_field, "little")
        if header_len > _NPY_MAX_HEADER:
            raise DataFileError(
                f"{where} has a .npy header of {header_len:,} bytes (at most "
                f"{_NPY_MAX_HEADER:,} are read); expected {MNIST_LAYOUT}"
            )
        header = _read_up_to(fp, header_len)
        if len(header) < header_len:
            raise DataFileError(f"{where} has a truncated .npy header; expected {MNIST_LAYOUT}")
        if prefix[6] == 3:  # 3.0 is 2.0 with a utf-8 header
            prefix, header = prefix[:6] + b"\x02\x00", header.decode("utf-8").encode("latin1")
        reader = np.lib.format.read_array_header_1_0 if prefix[6] == 1 else np.lib.format.read_array_header_2_0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy's note on headers written by Python 2
                shape, fortran, dtype = reader(io.BytesIO(size_field + header))
        except Exception as err:  # a literal_eval of at most 10 kB: SyntaxError, TokenError...
            raise DataFileError(
                f"{where} has an unparsable .npy header ({_one_line(err)}); expected {MNIST_LAYOUT}"
            ) from None
        if dtype.hasobject or dtype.kind not in "uif" or dtype.names is not None or dtype.subdtype is not None:
            raise DataFileError(
                f"{where} holds dtype {dtype.str!r}, not plain numbers (object arrays are never "
                f"unpickled); expected {MNIST_LAYOUT}"
            )
        if any(s < 0 for s in shape):
            raise DataFileError(f"{where} has a negative size in shape {shape}; expected {MNIST_LAYOUT}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        held = info.file_size - len(prefix) - len(size_field) - header_len
        if nbytes > held:
            raise DataFileError(
                f"{where}: .npy header promises shape {shape} of {dtype.str} ({nbytes:,} bytes) "
                f"but the member holds {max(held, 0):,}; expected {MNIST_LAYOUT}"
            )
        array = np.empty(count, dtype=dtype)
        got = _read_into(fp, array)
        if got < nbytes:
            raise DataFileError(f"{where}: .npy data end after {got:,} of {nbytes:,} bytes; expected {MNIST_LAYOUT}")
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


def _check_images(images: np.ndarray, labels: np.ndarray, file: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataFileError(f"{file}: images have shape {images.shape}, not (N, 28, 28); expected {MNIST_LAYOUT}")
    if len(images) != len(labels) or len(labels) < 2:
        raise DataFileError(
            f"{file}: {len(images)} images but {len(labels)} labels (need the same number, "
            f">= 2); expected {MNIST_LAYOUT}"
        )
    if not np.issubdtype(images.dtype, np.number) or not np.all(np.isfinite(images)) or images.min() < 0:
        raise DataFileError(f"{file}: images must be non-negative finite numbers; expected {MNIST_LAYOUT}")
    return images, labels


# ---------------------------------------------------------------------------------------------
# digits (scikit-learn's bundled copy of the UCI optical digits)


def digits(encoding: str = "latency", T: int = DIGITS_STEPS, threshold: float = DIGITS_THRESHOLD) -> TaskData:
    """scikit-learn's 1797 handwritten digits (8 × 8 pixels, intensities 0..16, 10 classes) as spikes.

    Intensities are scaled to [0, 1]; ``encoding``:

    - "latency" (the task's): sl-MNIST's code on 64 channels, one per pixel; a pixel of intensity
      v >= threshold fires once, at bin round((1 − v)/(1 − threshold)·(T − 1)), the brightest first;
    - "rows": step t shows image row t on 8 channels (T = 8), a pixel firing when v >= threshold;
    - "pixels": step t shows pixel t in reading order on one channel (T = 64), as "rows".

    "latency" with T = 16 is the task: on the default budget it learns (0.80 to 0.87 test accuracy) where
    "rows" stays near 0.6 and "pixels" at chance, and a class is spread over 16 steps the gradient must
    cross (measured numbers: docs/evidence/README.md). ``T`` is used by "latency" only. The split is fixed
    (seed ``DIGITS_SPLIT_SEED``: 1438 train / 359 test) whatever the run's seed. A missing scikit-learn is a
    one-line ValueError naming the package.
    """
    check_choice("encoding", encoding, DIGITS_ENCODINGS)
    _check_whole("T", T)
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold = {threshold!r} is outside the allowed range [0, 1)")
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError(
            "task 'digits' needs scikit-learn (its bundled digits data set): pip install scikit-learn"
        ) from None
    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0  # (N, 8, 8) in [0, 1]
    if encoding == "latency":
        x = _latency_code(images, T, threshold)
    else:
        spikes = (images >= threshold).astype(np.float32)
        x = spikes.reshape(len(spikes), 64, 1) if encoding == "pixels" else spikes  # rows: row t at step t
    return _task(
        "digits",
        np.ascontiguousarray(x),
        np.asarray(bunch.target, dtype=np.int64),
        10,
        DIGITS_SPLIT_SEED,
        source=f"sklearn.datasets.load_digits (encoding={encoding}, T={x.shape[1]}, threshold={threshold:g})",
    )


# ---------------------------------------------------------------------------------------------
# cues: a long-horizon task (evidence accumulation over a delay)

#: cue accumulation's layout: cues, each ``CUE_STEPS`` long then ``CUE_GAP`` silent, from step 0; the
#: recall window is the last ``RECALL_STEPS``; rates are spike probabilities per channel and step
CUES, CUE_STEPS, CUE_GAP, RECALL_STEPS = 3, 10, 10, 20
CUE_RATE, NOISE_RATE, RECALL_RATE = 0.4, 0.01, 0.4
CUES_MIN_STEPS = CUES * (CUE_STEPS + CUE_GAP) + 100 + RECALL_STEPS


def cues(n_in: int = 40, samples: int = 1000, T: int = 200, seed: int = 0) -> TaskData:
    """Cue accumulation (after Bellec et al. 2020's LSNN task), generated from ``seed``: two classes.

    The channels are four equal groups (left cue, right cue, recall, noise). Each sample shows ``CUES`` cues
    in its first ``CUES·(CUE_STEPS + CUE_GAP)`` steps, each on the left or the right group (probability 1/2,
    an odd count so there is no tie), whose channels fire with probability ``CUE_RATE`` per step while it
    lasts; the recall group fires in the last ``RECALL_STEPS`` steps; the noise group at ``NOISE_RATE``
    throughout. The label is the side that showed more cues. With T >= ``CUES_MIN_STEPS`` the last cue ends
    at least 100 steps before the recall: the answer depends on input that far back, so the gradient must
    cross that many steps (train it with ``loss="last"``, which reads the last step's readout).
    """
    for name, value, lo in (("n_in", n_in, 4), ("samples", samples, 2), ("T", T, CUES_MIN_STEPS)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"{name} = {value!r} must be a whole number >= {lo}")
    check_range("seed", seed)
    rng = np.random.default_rng([seed, 7])
    group = n_in // 4
    sides = rng.integers(0, 2, size=(samples, CUES))  # 0 left, 1 right
    y = (sides.sum(axis=1) > CUES // 2).astype(np.int64)
    rate = np.full((samples, T, n_in), NOISE_RATE, dtype=np.float32)
    rate[:, :, : 3 * group] = 0.0
    for k in range(CUES):
        start = k * (CUE_STEPS + CUE_GAP)
        for side in (0, 1):
            rows = sides[:, k] == side
            rate[rows, start : start + CUE_STEPS, side * group : (side + 1) * group] = CUE_RATE
    rate[:, T - RECALL_STEPS :, 2 * group : 3 * group] = RECALL_RATE
    x = (rng.random(rate.shape, dtype=np.float32) < rate).astype(np.float32)
    return _task("cues", x, y, 2, seed, source=f"cues(n_in={n_in}, samples={samples}, T={T}, seed={seed})")


# ---------------------------------------------------------------------------------------------
# helpers and the common entry point


def _check_whole(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} = {value!r} must be a whole number >= 1")


def load_task(train_cfg: TrainConfig) -> TaskData:
    """The data of ``train_cfg.task`` with its seed (``lif.seed``), ``time_steps`` and ``samples``.

    randman uses ``lif.n_in`` channels, ``classes`` and ``manifold_dim``; shd and slmnist read
    ``data_path`` (700 and 784 channels whatever ``lif.n_in`` says: the caller should take ``n_in``
    from the returned data) and keep at most ``samples`` samples. digits is always all 1797 images, 16 steps
    of 64 channels, on its fixed split (``time_steps``, ``samples`` and the seed do not change it).
    """
    cfg = train_cfg
    if cfg.task == "randman":
        return randman(
            classes=cfg.classes,
            n_in=cfg.lif.n_in,
            dim=cfg.manifold_dim,
            samples=cfg.samples,
            T=cfg.time_steps,
            seed=cfg.lif.seed,
        )
    if cfg.task == "shd":
        return shd(cfg.data_path, T=cfg.time_steps, samples=cfg.samples, seed=cfg.lif.seed)
    if cfg.task == "slmnist":
        return slmnist(cfg.data_path, T=cfg.time_steps, samples=cfg.samples, seed=cfg.lif.seed)
    if cfg.task == "digits":
        return digits()
    if cfg.task == "cues":
        return cues(n_in=cfg.lif.n_in, samples=cfg.samples, T=cfg.time_steps, seed=cfg.lif.seed)
    raise ValueError(f"task = {cfg.task!r} is not one of: {', '.join(TASKS)}")
