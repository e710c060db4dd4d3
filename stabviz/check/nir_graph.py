"""NIR graphs (the format snnTorch, Norse, SpikingJelly, Lava, Rockpool and Sinabs export) as a plain-torch
network stabviz can check: Affine and Linear nodes become nn.Linear with the same weights, LIF nodes a
:class:`NIRLIF` layer, nested graphs are flattened and edges that close a cycle carry the previous step.

NIR's LIF is continuous: τ·dv/dt = (v_leak − v) + R·I, a spike when v > v_threshold, then v = v_reset.
With the Euler step dt: v ← α·v + (1 − α)·v_leak + (dt·R/τ)·I, α = 1 − dt/τ; for v_reset = 0 this is
stabviz's (L3). The graph stores no dt and no surrogate: both are options (the report says which were used).
Files are checked before NIR reads them: size, HDF5 signature, no external or soft links, declared array
sizes below a cap (a hostile file cannot make this allocate more than the cap).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from stabviz.config import Surrogate
from stabviz.surrogates import spike

MAX_FILE_BYTES = 256 * 2**20
MAX_NUMBERS = 2**26  # numbers declared by all datasets together (256 MiB of float32)
DEFAULT_DT = 1e-4  # snnTorch's export writes τ = dt/(1 − β) with this dt
SUPPORTED_NODES = ("Input", "Output", "Affine", "Linear", "LIF")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def check_file(path: str) -> None:
    """Refuse a file NIR should not read: missing, not HDF5, too big, links, huge declared arrays."""
    import h5py

    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise ValueError(f"NIR file {str(path)[:200]!r} does not exist or is not a regular file")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"NIR file size {size} bytes is above the limit {MAX_FILE_BYTES}")
    with open(path, "rb") as f:
        if f.read(8) != _HDF5_SIGNATURE:
            raise ValueError(f"{str(path)[:200]!r} is not an HDF5 file (NIR files are HDF5)")
    try:
        with h5py.File(path, "r") as f:
            total = _walk(f, 0)
    except (OSError, KeyError, RuntimeError) as err:
        raise ValueError(f"NIR file {str(path)[:200]!r} is corrupt or truncated: {err}") from None
    if total > MAX_NUMBERS:
        raise ValueError(f"NIR file declares {total} numbers, above the limit {MAX_NUMBERS}")


def _walk(group, total: int) -> int:
    import h5py

    for name in group:
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"NIR file contains a {type(link).__name__} at {name!r}: links are refused")
        item = group[name]
        if isinstance(item, h5py.Group):
            total = _walk(item, total)
        else:
            total += int(np.prod(item.shape, dtype=object)) if item.shape else 1
            if total > MAX_NUMBERS:
                raise ValueError(f"NIR file declares more than {MAX_NUMBERS} numbers")
    return total


def read(path_or_graph: Any):
    """A NIRGraph from a path (checked first) or as given."""
    import nir

    if isinstance(path_or_graph, nir.NIRGraph):
        return path_or_graph
    check_file(path_or_graph)
    try:
        return nir.read(path_or_graph)
    except Exception as err:  # NIR's own parse errors: the file is not a valid graph
        raise ValueError(f"NIR could not read {str(path_or_graph)[:200]!r}: {type(err).__name__}: {err}") from None


def flatten(graph, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Nodes and edges with nested graphs inlined ('sub.node'); an edge to a subgraph goes to its Input,
    one from it leaves its Output."""
    import nir

    nodes, edges = {}, []
    ends: dict[str, tuple[str, str]] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges = flatten(node, f"{prefix}{name}.")
            nodes.update(inner)
            edges += inner_edges
            depth = prefix.count(".") + 1  # the subgraph's own Input/Output, not a deeper one's
            ins = [k for k, v in inner.items() if type(v).__name__ == "Input" and k.count(".") == depth]
            outs = [k for k, v in inner.items() if type(v).__name__ == "Output" and k.count(".") == depth]
            ends[name] = (ins[0], outs[0])
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        src = ends[a][1] if a in ends else prefix + a
        dst = ends[b][0] if b in ends else prefix + b
        edges.append((src, dst))
    return nodes, edges


class NIRLIF(nn.Module):
    """A NIR LIF node stepped with dt and a stabviz surrogate; state in ``v``, the pre-reset voltage in
    ``last_v``."""

    def __init__(self, node, dt: float, sg: Surrogate, reset_detached: bool = True):
        super().__init__()
        tau = torch.as_tensor(np.asarray(node.tau, dtype=np.float64)).float().reshape(-1)
        r = torch.as_tensor(np.asarray(node.r, dtype=np.float64)).float().reshape(-1)
        self.register_buffer("alpha", 1.0 - dt / tau)
        self.register_buffer("scale", dt * r / tau)
        for name in ("v_leak", "v_threshold", "v_reset"):
            value = getattr(node, name, None)
            value = np.zeros_like(tau.numpy()) if value is None else np.asarray(value, dtype=np.float64)
            self.register_buffer(name, torch.as_tensor(value).float().reshape(-1))
        self.dt, self.sg, self.reset_detached = float(dt), sg, bool(reset_detached)
        self.v = self.last_v = None

    def reset(self) -> None:
        self.v = self.last_v = None

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(current) if self.v is None else self.v
        v = self.alpha * v + (1 - self.alpha) * self.v_leak + self.scale * current
        z = spike(v - self.v_threshold, self.sg)
        fired = z.detach() if self.reset_detached else z
        self.last_v = v
        self.v = v * (1 - fired) + fired * self.v_reset
        return z


class NIRNetwork(nn.Module):
    """The flattened graph run step by step: forward((T, batch, n_in)) -> (T, batch, n_out)."""

    def __init__(self, graph, dt: float = DEFAULT_DT, sg: Surrogate | None = None, reset_detached: bool = True):
        super().__init__()
        sg = Surrogate() if sg is None else sg
        nodes, edges = flatten(graph)
        unsupported = sorted(
            {f"{k} ({type(v).__name__})" for k, v in nodes.items() if type(v).__name__ not in SUPPORTED_NODES}
        )
        if unsupported:
            raise ValueError(
                f"NIR nodes not supported: {', '.join(unsupported[:10])}; supported: {', '.join(SUPPORTED_NODES)}"
            )
        self.layers = nn.ModuleDict()
        self.kinds = {k: type(v).__name__ for k, v in nodes.items()}
        for k, node in nodes.items():
            if self.kinds[k] in ("Affine", "Linear"):
                w = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
                lin = nn.Linear(w.shape[1], w.shape[0], bias=self.kinds[k] == "Affine")
                with torch.no_grad():
                    lin.weight.copy_(w)
                    if lin.bias is not None:
                        lin.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float32)).reshape(-1))
                self.layers[_key(k)] = lin
            elif self.kinds[k] == "LIF":
                self.layers[_key(k)] = NIRLIF(node, dt, sg, reset_detached)
        self.preds = {k: [a for a, b in edges if b == k] for k in nodes}
        self.order, self.delayed = _order(nodes, edges)
        self.inputs = [k for k in nodes if self.kinds[k] == "Input" and not self.preds[k]]
        self.outputs = [k for k in nodes if self.kinds[k] == "Output"]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise ValueError(
                f"a NIR graph with one Input and one Output node is supported; this one has "
                f"{len(self.inputs)} and {len(self.outputs)}"
            )
        self.sg, self.dt = sg, float(dt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.layers.values():
            if isinstance(m, NIRLIF):
                m.reset()
        prev: dict[str, torch.Tensor] = {}
        outs = []
        for t in range(x.shape[0]):
            now: dict[str, torch.Tensor] = {}
            for k in self.order:
                if k in self.inputs:
                    now[k] = x[t]
                    continue
                parts = [(prev.get(a) if (a, k) in self.delayed else now.get(a)) for a in self.preds[k]]
                parts = [p for p in parts if p is not None]
                total = parts[0] if len(parts) == 1 else (torch.stack(parts).sum(0) if parts else None)
                if total is None:  # a recurrent input before its first step: zero
                    continue
                now[k] = self.layers[_key(k)](total) if _key(k) in self.layers else total
            outs.append(now[self.outputs[0]])
            prev = now
        return torch.stack(outs)


def _key(name: str) -> str:
    return name.replace(".", "__")


def _order(nodes: dict, edges: list) -> tuple[list[str], set]:
    """Nodes in DFS topological order from the inputs; the edges that close a cycle are delayed a step."""
    succ = {k: [b for a, b in edges if a == k] for k in nodes}
    state, post, back = {}, [], set()

    def visit(k):
        state[k] = 1
        for b in succ[k]:
            if state.get(b) == 1:
                back.add((k, b))
            elif b not in state:
                visit(b)
        state[k] = 2
        post.append(k)

    starts = [k for k in nodes if type(nodes[k]).__name__ == "Input"] + list(nodes)
    for k in starts:
        if k not in state:
            visit(k)
    return post[::-1], back
