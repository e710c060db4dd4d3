"""Progress of a long command on stderr, whether or not stderr is a terminal.

Work that ends within ``quiet_s`` seconds prints nothing (a script's stderr stays clean). Past that, one
line gives the estimate: the total time projected from the units done so far, or, while the first unit is
still running, that there is none yet. Then a line every ``every_s`` seconds or each 10% of the units,
whichever comes first; on a terminal the line is redrawn in place instead. A background thread keeps the
lines coming while one unit takes long (one simulation of 100 000 steps, an ensemble's loading), so a
command never runs for minutes without a word. Lines start with "stabviz: <what>:" and are plain text.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import TextIO

#: seconds of silence before the estimate is printed, and between two progress lines
QUIET_S, EVERY_S = 3.0, 5.0
#: overrides QUIET_S: 0 prints the estimate and progress of every command, however short
QUIET_ENV = "STABVIZ_PROGRESS_AFTER_S"


def quiet_seconds() -> float:
    """``$STABVIZ_PROGRESS_AFTER_S`` (seconds, 0 or more) or QUIET_S; a bad value is a ValueError naming it."""
    raw = os.environ.get(QUIET_ENV, "").strip()
    if not raw:
        return QUIET_S
    try:
        value = float(raw) if raw.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 <= value <= 86_400):
        raise ValueError(f"{QUIET_ENV} = {raw[:40]!r} is not a number of seconds in [0, 86400]; fix or unset it")
    return value


def span(seconds: float) -> str:
    """A duration for people: "40 s", "3 min", "1.5 h"."""
    s = max(float(seconds), 0.0)
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min" if s < 90 * 60 else f"{s / 3600:.1f} h"


class Progress:
    """``progress(done)`` after each unit of ``total`` (``progress(done, total)`` also works, as
    measured.measure_map calls it); ``note(text)`` sets words shown after the count (a loss, a phase);
    ``close()`` at the end (or use it as a context manager)."""

    def __init__(
        self,
        what: str,
        total: int | None,
        unit: str,
        stream: TextIO | None = None,
        quiet_s: float | None = None,
        every_s: float = EVERY_S,
        clock=time.monotonic,
    ):
        # total None: not known until the first progress(done, total) call
        self.what, self.total, self.unit, self.known = what, max(int(total or 1), 1), unit, total is not None
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.quiet_s = quiet_seconds() if quiet_s is None else quiet_s
        self.every_s, self.clock = every_s, clock
        self.started = self.last_line = clock()
        self.done, self.text, self.announced, self.tenth, self.shown_done = 0, "", False, 0, -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="stabviz-progress", daemon=True)
        self._thread.start()

    def __call__(self, done: int, total: int | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total, self.known = max(int(total), 1), True
            self.done = min(max(int(done), 0), self.total)
            self._maybe_print()

    def note(self, text: str) -> None:
        with self._lock:
            self.text = text

    def _beat(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._maybe_print()

    def _maybe_print(self) -> None:
        now = self.clock()
        elapsed = now - self.started
        if not self.announced:
            if elapsed < self.quiet_s and not self._projected_long(elapsed):
                return
            self.announced = True
            self._write(self._estimate_line(elapsed), now)
            return
        tenth = 10 * self.done // self.total
        if now - self.last_line >= self.every_s or tenth > self.tenth or (self.tty and now - self.last_line >= 1):
            self.tenth = tenth
            self._write(self._progress_line(elapsed), now, in_place=True)

    def _projected_long(self, elapsed: float) -> bool:
        """True once the units done so far project a total above quiet_s (say so early, not after it)."""
        return self.done > 0 and elapsed / self.done * self.total > self.quiet_s and elapsed >= min(0.5, self.quiet_s)

    def _estimate_line(self, elapsed: float) -> str:
        head = f"stabviz: {self.what}: {f'{self.total} ' if self.known else ''}{self.unit}"
        if self.done == 0:
            return f"{head}; no estimate yet (the first is still running after {span(elapsed)})"
        total = elapsed / self.done * self.total
        return f"{head}; estimated {span(total)} in all (from the first {self.done} in {span(elapsed)})"

    def _progress_line(self, elapsed: float) -> str:
        if self.known and self.done == self.total:
            left = ", done"
        else:
            left = f", about {span(elapsed / self.done * (self.total - self.done))} left" if self.done else ""
        note = f", {self.text}" if self.text else ""
        return (
            f"stabviz: {self.what}: {self.done}/{self.total if self.known else '?'} {self.unit} "
            f"({100 * self.done // self.total}%), "
            f"{span(elapsed)} elapsed{left}{note}"
        )

    def _write(self, line: str, now: float, in_place: bool = False) -> None:
        """One line; a progress line on a terminal redraws the previous one (``in_place``)."""
        self.last_line, self.shown_done = now, self.done
        try:
            self.stream.write("\r" + line + "\x1b[K" if in_place and self.tty else line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stderr closed: progress is a courtesy, never an error
            self._stop.set()

    def close(self) -> None:
        """Stop the background lines; a final line when any was printed (so the last state is seen)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        with self._lock:
            if self.announced and self.shown_done != self.done:  # the last state, unless just shown
                self._write(self._progress_line(self.clock() - self.started), self.clock(), in_place=True)
            if self.announced:
                if self.tty:
                    self._write("", self.clock())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


class ProgressBar:
    """A one-line bar on ``stream`` for work measured in fractions (a sweep's runs, the running ones by
    their progress): redrawn in place on a terminal, one line per update otherwise."""

    def __init__(self, stream: TextIO, total: int, width: int = 28):
        self.stream, self.total, self.width = stream, total, width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.monotonic()
        self.drawn = False

    def draw(self, frac: float, text: str) -> None:
        """The bar at ``frac`` (0..1), then ``text`` and the seconds since the bar was made."""
        frac = min(max(frac, 0.0), 1.0)
        filled = int(round(frac * self.width))
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} {text} {time.monotonic() - self.started:.0f}s"
        )
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn and self.tty:
            self.stream.write("\n")
            self.stream.flush()
