"""Safe file output: the one way stabviz writes a file a user names (CLI ``--output``/``--out``, the
replication study's folder, the benchmarks' and scripts' ``--out``).

The rules, for every file written:

- the final path component is never followed if it is a symbolic link: a link there is refused (run as
  root, writing through a link to a system file would replace that file's contents);
- only a regular file is ever replaced: a directory, a FIFO (opening one blocks until a reader comes),
  a device or a socket is refused;
- an existing file is replaced only with ``force=True`` (the CLI's ``--force``);
- the content goes to a new temporary file in the same directory, created with O_EXCL|O_NOFOLLOW, and is
  moved into place in one step (``os.replace``; without ``force`` ``os.link``, which fails if a file
  appeared meanwhile), so a reader never sees half a file and a crash leaves the old file intact.

An output folder (:func:`prepare_dir`) may not be ``/`` nor a symbolic link, and the result files it is
about to hold are checked before any work starts, so a refusal costs nothing.

Every refusal is :class:`UnsafeOutput`, a ValueError with a one-line message; ``reason`` is the part
after the path, for callers that name their option themselves. Nothing here imports stabviz.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["UnsafeOutput", "check_target", "write_text", "write_bytes", "open_output", "place", "prepare_dir"]

#: What a refused path is, by its file type (lstat): no symlink is ever followed at the last component.
_KINDS = {
    stat.S_IFLNK: "it is a symbolic link, and stabviz never writes through one",
    stat.S_IFDIR: "Is a directory",
    stat.S_IFIFO: "it is a FIFO (named pipe), not a regular file",
    stat.S_IFCHR: "it is a character device",
    stat.S_IFBLK: "it is a block device",
    stat.S_IFSOCK: "it is a socket",
}
EXISTS = "it exists; add --force to replace it"


class UnsafeOutput(ValueError):
    """A path stabviz will not write: one line, ``reason`` without the path."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = os.fspath(path), reason
        super().__init__(f"{self.path!r}: cannot write it ({reason})")


def _kind(mode: int) -> str | None:
    """Why a file of this mode is refused, or None for a regular file."""
    return None if stat.S_ISREG(mode) else _KINDS.get(stat.S_IFMT(mode), "it is not a regular file")


def check_target(path: str | os.PathLike, force: bool = False) -> Path:
    """The path, once it is known to be writable by :func:`write_bytes`: its folder exists and it is
    either absent or (with ``force``) a regular file. Raises UnsafeOutput otherwise; reads nothing."""
    p = Path(os.fspath(path))
    if not os.fspath(path) or os.fspath(path).endswith(os.sep):
        raise UnsafeOutput(path, "not a file name")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UnsafeOutput(path, e.strerror or str(e)) from None
    if st is not None:
        why = _kind(st.st_mode)
        if why:
            raise UnsafeOutput(path, why)
        if not force:
            raise UnsafeOutput(path, EXISTS)
    parent = p.parent
    if not parent.is_dir():
        raise UnsafeOutput(path, "No such file or directory" if not parent.exists() else "its parent is not a folder")
    return p


def _temp_beside(p: Path) -> tuple[int, Path]:
    """A new, empty file in ``p``'s folder: O_EXCL|O_NOFOLLOW (never an existing file or a link), mode 0666
    less the umask, as open() would create ``p`` itself."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = p.parent / f".stabviz-{secrets.token_hex(6)}.tmp"  # short: any name that fits, fits here
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "no free temporary name", str(p.parent))


def place(tmp: str | os.PathLike, path: str | os.PathLike, force: bool = False) -> None:
    """Move the finished file ``tmp`` (in ``path``'s folder) to ``path`` in one step, under the same rules
    as :func:`write_bytes`. ``tmp`` is removed whatever happens."""
    try:
        p = check_target(path, force)  # again: the path may have changed while the data was made
        if force:
            os.replace(tmp, p)  # rename() replaces a link itself, never its target
            return
        try:
            os.link(tmp, p, follow_symlinks=False)  # fails if anything appeared at p meanwhile
        except FileExistsError:
            raise UnsafeOutput(path, EXISTS) from None
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                raise
            os.replace(tmp, p)  # a filesystem without hard links: checked just above
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def open_output(
    path: str | os.PathLike, force: bool = False, text: bool = True, encoding: str = "utf-8"
) -> Iterator[IO]:
    """``with open_output(path) as f: f.write(...)``: the file appears at ``path`` only when the block
    ends without an exception (and then whole); an exception leaves ``path`` as it was."""
    p = check_target(path, force)
    fd, tmp = _temp_beside(p)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") if text else os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        place(tmp, path, force)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path: str | os.PathLike, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``path`` by the module's rules (temporary file beside it, then one move)."""
    with open_output(path, force, text=False) as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str, force: bool = False, encoding: str = "utf-8") -> None:
    """:func:`write_bytes` of ``text`` encoded."""
    write_bytes(path, text.encode(encoding), force)


def prepare_dir(path: str | os.PathLike, files: Iterable[str] = (), force: bool = False) -> Path:
    """The output folder ``path``, created if missing, once it is safe to fill with ``files`` (names in
    it): not ``/``, not a symbolic link, not a file, and none of ``files`` there unless ``force`` (nor
    anything but a regular file, even with ``force``). Checked before any work, so a refusal costs nothing."""
    raw = os.fspath(path)
    if not raw:
        raise UnsafeOutput(path, "an empty folder name")
    if not os.path.abspath(raw).strip(os.sep) or os.path.realpath(raw) == os.sep:  # "/", "//", "/..", a link to /
        raise UnsafeOutput(path, "the root folder / is never an output folder")
    p = Path(raw)
    try:
        st = os.lstat(p.as_posix().rstrip("/") or "/")
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UnsafeOutput(path, "it is a symbolic link; name the folder it points to")
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise UnsafeOutput(path, "it exists and is not a folder")
    if st is None:
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UnsafeOutput(path, e.strerror or str(e)) from None
    for name in files:
        try:
            check_target(p / name, force)
        except UnsafeOutput as e:
            raise UnsafeOutput(path, f"{name}: {e.reason}") from None
    return p
