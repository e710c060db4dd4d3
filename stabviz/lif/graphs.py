"""CUDA graphs: one captured training step, replayed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

GRAPH_OFF_DEVICE = "CUDA graphs need a CUDA device; the step ran eagerly"


def capture_cuda_graph(fn: Callable[[], Any]) -> tuple[Callable[[], None], Any]:
    """Capture ``fn()`` in a CUDA graph: (replay, the static outputs the replays refresh)."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph.replay, out


class CapturedStep:
    """``fn()`` (a step on static tensors: inputs refreshed in place, outputs read after the call)
    run eagerly for ``warmup`` calls, then captured once and replayed: a replay launches the whole
    step at once instead of hundreds of small kernels. Where capturing is off, the device is not
    CUDA or the capture fails, every call runs eagerly and ``note`` says why. ``capture`` is the
    capturing function (:func:`capture_cuda_graph`; tests pass a fake)."""

    def __init__(
        self,
        fn: Callable[[], Any],
        device: torch.device,
        enabled: bool = True,
        warmup: int = 3,
        capture: Callable | None = None,
    ):
        self.fn, self.warmup, self.note = fn, warmup, None
        self.capture = capture or capture_cuda_graph
        self.enabled = bool(enabled)
        if self.enabled and capture is None and (torch.device(device).type != "cuda" or not torch.cuda.is_available()):
            self.enabled, self.note = False, GRAPH_OFF_DEVICE
        self._replay, self._out, self._calls = None, None, 0

    @property
    def mode(self) -> str:
        return "cuda-graph" if self._replay is not None else "eager"

    @property
    def captured(self) -> bool:
        return self._replay is not None

    def __call__(self) -> Any:
        if self._replay is not None:
            self._replay()
            return self._out
        self._calls += 1
        if not self.enabled or self._calls <= self.warmup:
            return self._eager()
        try:
            self._replay, self._out = self.capture(self.fn)
        except Exception as exc:  # any capture failure means: stay eager, and say so
            self.enabled, self._replay = False, None
            self.note = f"CUDA graph capture failed ({type(exc).__name__}: {str(exc)[:200]}); the step ran eagerly"
            return self._eager()
        self._replay()  # capturing records the step without running it
        return self._out

    def _eager(self) -> Any:
        if not (self.enabled and torch.cuda.is_available()):
            return self.fn()
        # warm-up on a side stream, as capturing requires (lazy initialisation off the default stream)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            out = self.fn()
        torch.cuda.current_stream().wait_stream(side)
        return out
