"""The measured check and the theory for the alif and cuba neurons (docs/theory.md#9-neuron-variants).

Each neuron now carries two state variables, (y, a) for alif and (y, i) for cuba, so pushing an error
back one step is a 2 × 2 block per neuron plus the recurrent coupling through W_rec. With s_j =
σ'(y_{t−1,j} − θ_{t−1,j}), z_j = z_{t−1,j}, the LIF coefficients c_j, r_j of (M) (θ_{t−1} in place of θ)
and q_j = ∂y_t/∂z_{t−1} through the reset (zero unless reset_grad), one step back is

    alif:  e_j   = s_j Σ_i W_ji r_i g_y,i
           g_y' = c_j g_y + e_j + (1 − ρ_a) s_j g_a
           g_a' = k_j g_y − β_a e_j + m_j g_a,   k = −β_a (s q + z·[subtract]),  m = ρ_a − (1 − ρ_a) β_a s
    cuba:  h_i   = r_i g_y,i + g_i            (the adjoint of the filtered current i_t)
           g_y' = c_j g_y + s_j Σ_i W_ji h_i
           g_i' = α_s h_j

:func:`measure_variant_layer` simulates the layer and pushes a random error back through these blocks
(the measured gain ρ̂, as (PB)); :func:`predicted_gain` propagates the second moments (E g_y², E g_x²,
E g_y g_x) through the same blocks under the mean-field independence of section 4.2 (the recurrent
error e uncorrelated with the neuron's own adjoint), with the per-neuron coefficient moments measured;
:func:`predicted_rate` is the gaussian mean-field firing rate (MF-p) of the variant.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import special

from stabviz.conditions import recurrent_law, solve_rho2_is_one
from stabviz.config import DEFAULT_SURROGATE, RANGES, LIFConfig
from stabviz.laws import input_drive, input_law, psp_sums
from stabviz.lif.dynamics import Dynamics
from stabviz.lif.variants import STEPS, State, Variant
from stabviz.surrogates import sg_prime_torch

# ---------------------------------------------------------------------------------------------
# One step's backward blocks


@dataclass
class Block:
    """The per-neuron coefficients of one backward step, (batch, n) each."""

    c: torch.Tensor  # ∂y_t/∂y_{t−1} (own neuron, with the reset gradient when on)
    r: torch.Tensor  # ∂y_t/∂(recurrent current): 1, or 1 − z for mult1
    s: torch.Tensor  # σ'(y_{t−1} − θ_{t−1})
    k: torch.Tensor  # alif: ∂y_t/∂a_{t−1} (own neuron, besides through the recurrent spikes)
    m: torch.Tensor  # alif: ∂a_t/∂a_{t−1}


def block(cfg: LIFConfig, prev: State, drive: torch.Tensor, dampening: torch.Tensor | None = None) -> Block:
    """The coefficients of the step from ``prev`` (state at t − 1) with current ``drive`` (= i_t for
    cuba, I_t otherwise): what the backward map of that step uses. ``dampening``: γ values as a tensor of
    shape (cells, 1, 1), to get every coefficient for all those cells at once (cells, batch, n)
    (stabviz.measured: the surrogate does not change the forward pass); cfg's γ when None."""
    dyn, var = Dynamics.of(cfg), Variant.of(cfg)
    theta = dyn.threshold + var.adapt_strength * prev.a if var.adapts else dyn.threshold
    if dampening is None:
        s = sg_prime_torch(prev.y - theta, dyn.surrogate)
    else:
        s = sg_prime_torch(prev.y - theta, dyn.surrogate.replace(dampening=1.0)) * dampening.to(prev.y.dtype)
    keep = 1 - prev.z
    if dyn.reset == "subtract":
        c0, r, q = torch.full_like(prev.y, dyn.leak), torch.ones_like(prev.y), -theta + 0 * prev.y
    elif dyn.reset == "mult1":
        c0, r, q = dyn.leak * keep, keep, -(dyn.leak * prev.y + drive)
    else:
        c0, r, q = dyn.leak * keep, torch.ones_like(prev.y), -dyn.leak * prev.y
    q = q if dyn.reset_grad else torch.zeros_like(q)
    c = c0 + q * s
    if var.adapts and var.adapt_grad:
        k = -var.adapt_strength * (s * q + (prev.z if dyn.reset == "subtract" else 0))
        m = var.adapt_decay - (1 - var.adapt_decay) * var.adapt_strength * s
    else:
        k, m = torch.zeros_like(c), torch.zeros_like(c)
    return Block(c, r, s, k, m)


def push_back(
    cfg: LIFConfig, b: Block, w_rec: torch.Tensor, g_y: torch.Tensor, g_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(g_y, g_x) one step back through block ``b`` (g_x: the adjoint of a or i)."""
    var = Variant.of(cfg)
    w_t = w_rec.t()
    if var.filters:
        h = b.r * g_y + g_x
        return b.c * g_y + b.s * (h @ w_t), var.syn_decay * h
    e = b.s * ((b.r * g_y) @ w_t)
    if var.adapts and var.adapt_grad:
        return b.c * g_y + e + (1 - var.adapt_decay) * b.s * g_x, b.k * g_y - var.adapt_strength * e + b.m * g_x
    return b.c * g_y + e, torch.zeros_like(g_x)


# ---------------------------------------------------------------------------------------------
# The measured layer


@dataclass
class VariantMeasurement:
    firing_rate: float
    voltage_mean: float
    voltage_std: float
    moment1: float  # E[σ'] at y − θ_t
    moment2: float  # E[σ'²]
    rho_hat: float  # pushed-back per-step gain (PB) through the 2 × 2 blocks
    predicted_rho: float  # the second-moment recursion with the measured coefficient moments
    rho2: float  # empirical_rho2: one step back from a unit voltage error
    voltages: np.ndarray
    max_gain: float = math.nan  # worst_row_gain: the alif without adaptation gradient's; nan where III has no form


@torch.no_grad()
def measure_variant_layer(
    w_in: torch.Tensor,
    w_rec: torch.Tensor,
    bias: torch.Tensor,
    cfg: LIFConfig,
    inputs: torch.Tensor,
    burn_in: int = 100,
    generator: torch.Generator | None = None,
    voltage_samples: int = 20000,
    progress: Callable[[int], None] | None = None,
) -> VariantMeasurement:
    """Simulate the alif / cuba layer on ``inputs`` (batch, steps, n_in) and measure it after ``burn_in``."""
    dyn, var = Dynamics.of(cfg), Variant.of(cfg)
    step = STEPS[var.neuron]
    batch, steps, _ = inputs.shape
    current = inputs @ w_in + bias
    state = State.zeros_like(current[:, 0])
    blocks, ys = [], []
    rate_sum = y_sum = y2_sum = 0.0
    for t in range(steps):
        if progress is not None and t and t % 1000 == 0:
            progress(t)
        new = step(current[:, t], state, w_rec, dyn, var)
        drive = new.i if var.filters else current[:, t] + state.z @ w_rec
        if t >= burn_in:
            blocks.append(block(cfg, state, drive))
            rate_sum += float(new.z.double().mean())
            y_sum += float(new.y.double().mean())
            y2_sum += float(new.y.double().square().mean())
            ys.append(new.y)
        state = new
    if progress is not None:
        progress(steps)
    y = torch.stack(ys)
    y_mean, y2_mean = y_sum / len(blocks), y2_sum / len(blocks)
    s_mean = sum(float(b.s.double().mean()) for b in blocks) / len(blocks)
    s2_mean = sum(float(b.s.double().square().mean()) for b in blocks) / len(blocks)
    window = blocks[-cfg.steps :]
    rho_hat = _pushback(cfg, window, w_rec, generator)
    moments = block_moments(cfg, blocks, w_rec)
    rho_pred = predicted_gain(cfg, moments, len(window))
    pick = (
        torch.randperm(y.numel(), generator=generator)[:voltage_samples]
        if generator is not None
        else torch.arange(min(voltage_samples, y.numel()))
    )
    return VariantMeasurement(
        rate_sum / len(blocks),
        y_mean,
        math.sqrt(max(y2_mean - y_mean**2, 0.0)),
        s_mean,
        s2_mean,
        rho_hat,
        rho_pred,
        empirical_rho2(cfg, blocks, w_rec),
        y.flatten()[pick].double().cpu().numpy(),
        worst_row_gain(cfg, blocks, w_rec),
    )


def worst_row_gain(cfg: LIFConfig, blocks: list[Block], w_rec: torch.Tensor) -> float:
    """The LIF's measured worst-row gain, mean over batch and steps of max_i |c_i| + |r_i| Σ_j |W_ji| s_j, for an
    alif without the adaptation gradient (its backward map is the LIF's at θ_t); nan for the other variants,
    whose block maps have no such row (docs/theory.md#94-conditions-i-to-iv-for-the-variants)."""
    var = Variant.of(cfg)
    if not (var.adapts and not var.adapt_grad) or not blocks:
        return math.nan
    w_abs = w_rec.abs()
    rows = [(b.c.abs() + b.r.abs() * (b.s @ w_abs)).max(dim=1).values.double().mean() for b in blocks]
    return float(torch.stack(rows).mean())


def _pushback(cfg: LIFConfig, blocks: list[Block], w_rec: torch.Tensor, generator) -> float:
    """exp(median over the batch of the mean log growth of ‖(g_y, g_x)‖), from a random unit g_y, g_x = 0
    (the loss reaches the voltage; the second state variable gets its error through the blocks)."""
    if not blocks:
        return math.nan
    batch, n = blocks[0].c.shape
    start = torch.randn(batch, n, generator=generator, dtype=torch.float64).to(blocks[0].c)
    return float(pushback_gain(cfg, reversed(blocks), w_rec, start, len(blocks)))


def pushback_gain(
    cfg: LIFConfig, blocks_backward, w_rec: torch.Tensor, start: torch.Tensor, steps: int
) -> torch.Tensor:
    """The per-step gain (PB) of the ``steps`` blocks, given last step first (an iterable: stabviz.measured
    builds them as it goes), from the unit vector along ``start`` (batch, n). Blocks of shape
    (cells, batch, n) push back every cell at once: the result has the blocks' leading shape (a 0-d
    tensor for plain blocks)."""
    g_y = start / start.norm(dim=-1, keepdim=True)
    g_x = torch.zeros_like(g_y)
    log_growth = None
    for b in blocks_backward:
        g_y, g_x = push_back(cfg, b, w_rec, g_y, g_x)
        norm = torch.sqrt(g_y.square().sum(-1) + g_x.square().sum(-1)).clamp_min(1e-30)
        log_growth = torch.log(norm.double()) + (0 if log_growth is None else log_growth)
        g_y, g_x = g_y / norm[..., None], g_x / norm[..., None]
    return torch.exp(log_growth.median(dim=-1).values / steps)


# ---------------------------------------------------------------------------------------------
# The theory: second moments through the blocks, and the mean-field firing rate


def block_moments(cfg: LIFConfig, blocks: list[Block], w_rec: torch.Tensor) -> dict[str, float]:
    """The coefficient moments the recursion needs, averaged over neurons, batch and steps (joint
    within a neuron: s and z are strongly correlated), and C = Σ_j W_ji² averaged over i."""
    products = {
        "cc": ("c", "c"),
        "ss": ("s", "s"),
        "rr": ("r", "r"),
        "r": ("r",),
        "c": ("c",),
        "cr": ("c", "r"),
        "cs": ("c", "s"),
        "kk": ("k", "k"),
        "mm": ("m", "m"),
        "km": ("k", "m"),
        "ck": ("c", "k"),
        "sm": ("s", "m"),
        "cm": ("c", "m"),
        "sk": ("s", "k"),
    }
    sums = dict.fromkeys(products, 0.0)
    for b in blocks:  # step by step: no (steps, batch, n) stack per coefficient
        for name, factors in products.items():
            term = getattr(b, factors[0]).double()
            for f in factors[1:]:
                term = term * getattr(b, f)
            sums[name] += float(term.mean())
    return {**{k: v / max(len(blocks), 1) for k, v in sums.items()}, "C": float(w_rec.double().square().sum(0).mean())}


def _second_moment_step(cfg: LIFConfig, mo: dict[str, float]) -> np.ndarray:
    """The 3 × 3 map of (E g_y², E g_x², E g_y g_x) for one step back (module docstring's blocks)."""
    var = Variant.of(cfg)
    e = mo["C"] * mo["ss"]  # E e² per unit E (r g_y)²
    if var.filters:
        a = var.syn_decay
        # h² = rr Y + G + 2 r X;  Y' = cc Y + e h²;  G' = a² h²;  X' = a (cr Y + c X)
        h = np.array([mo["rr"], 1.0, 2 * mo["r"]])
        return np.array([np.array([mo["cc"], 0, 0]) + e * h, a * a * h, [a * mo["cr"], 0, a * mo["c"]]])
    b, rho = var.adapt_strength, var.adapt_decay
    er = e * mo["rr"]
    if not (var.adapts and var.adapt_grad):
        return np.array([[mo["cc"] + er, 0, 0], [0, 0, 0], [0, 0, 0]])
    return np.array(
        [
            [mo["cc"] + er, (1 - rho) ** 2 * mo["ss"], 2 * (1 - rho) * mo["cs"]],
            [mo["kk"] + b * b * er, mo["mm"], 2 * mo["km"]],
            [mo["ck"] - b * er, (1 - rho) * mo["sm"], mo["cm"] + (1 - rho) * mo["sk"]],
        ]
    )


def empirical_rho2(cfg: LIFConfig, blocks: list[Block], w_rec: torch.Tensor) -> float:
    """The variant's ρ²: the squared norm of (g_y, g_x) one step back from a unit error on one neuron's
    voltage, averaged over neurons, batch and steps (for the LIF this is Σ_j M_ij², section 4.3):
    c_i² + r_i² Σ_j W_ji² s_j² plus k_i² + β_a² r_i² Σ_j W_ji² s_j² (alif, adapt_grad) or α_s² r_i² (cuba)."""
    var = Variant.of(cfg)
    w2, total = w_rec.square(), 0.0
    for b in blocks:
        rec = b.r.square() * (b.s.square() @ w2)
        if var.filters:
            extra = var.syn_decay**2 * b.r.square()
        elif var.adapts and var.adapt_grad:
            extra = b.k.square() + var.adapt_strength**2 * rec
        else:
            extra = 0.0
        total += float((b.c.square() + rec + extra).double().mean())
    return total / max(len(blocks), 1)


def predicted_gain(cfg: LIFConfig, moments: dict[str, float], steps: int) -> float:
    """Per-step gain of the second-moment recursion over ``steps`` steps from (1, 0, 0): the mean-field
    counterpart of ρ̂ (both start from an error on the voltage only)."""
    step = _second_moment_step(cfg, moments)
    v, log_growth = np.array([1.0, 0.0, 0.0]), 0.0
    for _ in range(max(steps, 1)):
        v = step @ v
        size = v[0] + v[1]
        if not size > 0:
            return 0.0
        log_growth += math.log(size)
        v = v / size
    return math.exp(log_growth / (2 * max(steps, 1)))


#: Gauss-Hermite nodes (probabilists') for the average over the neurons' fixed mean inputs
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def predicted_rate(cfg: LIFConfig) -> dict[str, float]:
    """The mean-field firing rate of any neuron model with the subtractive reset (docs/theory.md#93-the-firing-rate).

    The free voltage is the current through the PSP kernel ε (laws.psp_sums: Σε, Σε²). Its variance has two
    parts: what fluctuates in time passes the kernel as Σε², what is fixed per neuron (its own mean input
    n_in m_x w̄_i + p Σ_j W_ji) as (Σε)²:

        T = n_in (σ_in² + μ_in²) v_x + (n − 1)(σ_rec² + μ_rec²) p(1 − p),   Q = n_in σ_in² m_x² + (n − 1) σ_rec² p²

    Each neuron has its own mean μ_i ~ N((d + (n − 1) μ_rec p) Σε, Q (Σε)²) and its own rate p_i: its reset
    subtracts θ_i p_i/(1 − α) from the mean and adds θ_i² p_i(1 − p_i)/(1 − α²) to the variance, with
    θ_i = θ + β_a p_i (alif: E a_i = p_i; a_i's spread β_a² p_i(1 − p_i)(1 − ρ_a)/(1 + ρ_a) adds too):

        p_i = 1 − Φ((θ_i + θ_i p_i/(1 − α) − μ_i) / s_i),   s_i² = T Σε² + θ_i² p_i(1 − p_i)/(1 − α²) + ...

    and p is the average of p_i over the neurons (40 Gauss-Hermite nodes), solved self-consistently.
    Returns {"rate", "voltage_mean", "voltage_std"}; ValueError for the multiplicative resets (not derived)."""
    pop = rate_population(cfg)
    q, mean, spread = pop["rate"], pop["mean"], pop["spread"]
    voltage_mean = float(_WEIGHTS @ mean)
    voltage_var = float(_WEIGHTS @ (spread**2 + (mean - voltage_mean) ** 2))
    return {"rate": float(_WEIGHTS @ q), "voltage_mean": voltage_mean, "voltage_std": math.sqrt(voltage_var)}


def rate_population(cfg: LIFConfig) -> dict[str, np.ndarray]:
    """(MF-het) at its self-consistent rate, per Gauss-Hermite node of the neurons' fixed input: each
    node's rate p_i, voltage mean (after the reset's pull) and temporal spread, and threshold θ_i.
    ValueError for the multiplicative resets (not derived). The surrogate never moves it, so one solve
    serves every surrogate of a setting (a page's prediction, its options and their checks)."""
    pop = _rate_population(cfg.replace(surrogate=DEFAULT_SURROGATE))
    return {k: v.copy() for k, v in pop.items()}  # the cached arrays stay unwritten


@functools.lru_cache(maxsize=64)
def _rate_population(cfg: LIFConfig) -> dict[str, np.ndarray]:
    if cfg.reset != "subtract":
        raise ValueError(f"reset = {cfg.reset!r}: the variant firing-rate theory covers reset = 'subtract' only")
    var = Variant.of(cfg)
    d, _ = input_drive(cfg)
    inp, rec = input_law(cfg), recurrent_law(cfg)
    total, square = psp_sums(cfg)
    n1, alpha, theta = cfg.n_rec - 1, cfg.leak, cfg.threshold
    beta = var.adapt_strength if var.adapts else 0.0
    adapt_var = (1 - var.adapt_decay) / (1 + var.adapt_decay) * beta**2

    def population(p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(p_i, free mean μ_i, spread s_i) at the nodes, given the population rate p."""
        mu = (d + n1 * rec.mean * p) * total + np.sqrt(
            cfg.n_in * inp.std**2 * cfg.input_mean**2 + n1 * rec.std**2 * p * p
        ) * total * _NODES
        temporal = (cfg.n_in * inp.second_moment * cfg.input_var + n1 * rec.second_moment * p * (1 - p)) * square

        def excess(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            th = theta + beta * q
            spread = np.sqrt(temporal + th**2 * q * (1 - q) / (1 - alpha**2) + adapt_var * q * (1 - q))
            fire = 1 - special.ndtr((th + th * q / (1 - alpha) - mu) / np.maximum(spread, 1e-300))
            return fire - q, spread

        lo, hi = np.zeros_like(mu), np.ones_like(mu)  # excess(0) ≥ 0 ≥ excess(1) per node
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            up = excess(mid)[0] > 0
            lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
        q = 0.5 * (lo + hi)
        return q, mu - (theta + beta * q) * q / (1 - alpha), excess(q)[1]

    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if float(_WEIGHTS @ population(mid)[0]) > mid else (lo, mid)
    q, mean, spread = population(0.5 * (lo + hi))
    return {"rate": q, "mean": mean, "spread": spread, "theta": theta + beta * q}


#: the voltage grid, in units of a node's spread, on which the closed-form moments are integrated (a grid,
#: not Gauss-Hermite: the spike H(y − θ) is a step and a sharp surrogate a narrow peak)
_GRID = np.linspace(-8.0, 8.0, 1601)
_GRID_WEIGHTS = np.exp(-0.5 * _GRID**2)
_GRID_WEIGHTS = _GRID_WEIGHTS / _GRID_WEIGHTS.sum()
_POINT_WEIGHTS = (_WEIGHTS[:, None] * _GRID_WEIGHTS[None, :]).ravel()  # a node's weight × its grid point's


def closed_form_moments(cfg: LIFConfig, pop: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """The coefficient moments of :func:`block_moments` from the (MF-het) gaussian voltage model instead of
    a simulation: per node of the fixed input, y − θ_i ~ N(mean_i − θ_i, spread_i²), with s = σ'(y − θ_i) and
    z = H(y − θ_i) taken at the same voltage (their joint moments matter: E[s z] enters k). Subtractive reset
    only (the rate theory's range); C = (n − 1) E[w²]. ``pop``: :func:`rate_population` at cfg, if known
    (it depends on the weights and input, not on the surrogate: a solver over the surrogate computes it once)."""
    rows, t0, t1 = _coefficients(cfg, pop)
    terms = t0 + cfg.dampening * t1
    return _named(cfg, rows, terms @ _POINT_WEIGHTS, (terms * _POINT_WEIGHTS) @ terms.T)


def moments_over_dampening(
    cfg: LIFConfig, pop: dict[str, np.ndarray] | None = None
) -> Callable[[float], dict[str, float]]:
    """:func:`closed_form_moments` as a function of the dampening γ, everything else at cfg: each moment is
    a quadratic in γ (:func:`_coefficients`) whose three terms are integrated once, so condition IV's
    dampening solve costs one integration instead of one per step of the search."""
    rows, t0, t1 = _coefficients(cfg, pop)
    w0 = t0 * _POINT_WEIGHTS
    single0, single1 = t0 @ _POINT_WEIGHTS, t1 @ _POINT_WEIGHTS
    cross = w0 @ t1.T
    pair0, pair1, pair2 = w0 @ t0.T, cross + cross.T, (t1 * _POINT_WEIGHTS) @ t1.T

    def at(dampening: float) -> dict[str, float]:
        return _named(cfg, rows, single0 + dampening * single1, pair0 + dampening * pair1 + dampening**2 * pair2)

    return at


#: the moments the block recursion reads: products of one or two of the coefficients c, r, s, k, m
_MOMENTS = ("s", "cc", "ss", "rr", "r", "c", "cr", "cs", "kk", "mm", "km", "ck", "sm", "cm", "sk")


def _coefficients(cfg: LIFConfig, pop: dict[str, np.ndarray] | None) -> tuple[str, np.ndarray, np.ndarray]:
    """The coefficients c = α + q s, s, and for an alif with the adaptation gradient k = −β_a (s q + z) and
    m = ρ_a − (1 − ρ_a) β_a s, on the voltage grid of every node, split as t₀ + γ t₁ (σ' = γ ŝ is linear in
    the dampening γ): their names, t₀ and t₁ as (rows, points). r = 1 and the absent k, m = 0 need no row."""
    from stabviz.surrogates import sg_prime

    pop = rate_population(cfg) if pop is None else pop  # the rate never depends on the surrogate
    var = Variant.of(cfg)
    x = ((pop["mean"] - pop["theta"])[:, None] + pop["spread"][:, None] * _GRID[None, :]).ravel()
    unit = sg_prime(x, cfg.surrogate.replace(dampening=1.0))  # ŝ: σ' at γ = 1
    q_unit = -np.repeat(pop["theta"], _GRID.size) * unit if cfg.reset_grad else np.zeros_like(x)  # q ŝ, q = −θ_i
    if not (var.adapts and var.adapt_grad):
        return "cs", np.stack([np.full_like(x, cfg.leak), np.zeros_like(x)]), np.stack([q_unit, unit])
    b, rho = var.adapt_strength, var.adapt_decay
    t0 = np.stack([np.full_like(x, cfg.leak), np.zeros_like(x), -b * (x > 0), np.full_like(x, rho)])
    return "cskm", t0, np.stack([q_unit, unit, -b * q_unit, -(1 - rho) * b * unit])


def _named(cfg: LIFConfig, rows: str, single: np.ndarray, pair: np.ndarray) -> dict[str, float]:
    """The moments by name from E[t] (single) and E[t t'] (pair) of the coefficient ``rows`` (r = 1: E[r] = 1,
    E[t r] = E[t]; a coefficient without a row is 0), with C = (n − 1) E[w²]."""

    def moment(name: str) -> float:
        factors = name.replace("r", "") if name not in ("r", "rr") else ""
        if not factors:
            return 1.0
        if any(f not in rows for f in factors):
            return 0.0
        if len(factors) == 1:
            return float(single[rows.index(factors)])
        return float(pair[rows.index(factors[0]), rows.index(factors[1])])

    return {**{n: moment(n) for n in _MOMENTS}, "C": (cfg.n_rec - 1) * recurrent_law(cfg).second_moment}


def closed_form_gain(cfg: LIFConfig) -> dict[str, float]:
    """The variant's predicted per-step gain over cfg.steps from the gaussian model alone (no simulation),
    with the (MF-het) rate and voltage it rests on and the moments E[σ'], E[σ'²]."""
    mo = closed_form_moments(cfg)
    rate = predicted_rate(cfg)
    return {**rate, "gain": predicted_gain(cfg, mo, cfg.steps), "moment1": mo["s"], "moment2": mo["ss"]}


# ---------------------------------------------------------------------------------------------
# Condition IV for the variants: the surrogate at which the block gain is 1

#: the surrogate knobs condition IV is solved for, and their search ranges: the config's, the dampening's
#: from 1e-4 (its range is open at 0, and the gain below that is the leak's alone)
_KNOBS = {"dampening": (1e-4, RANGES["dampening"][1]), "sharpness": RANGES["sharpness"][:2], "tail": RANGES["tail"][:2]}


def gain_is_one(cfg: LIFConfig, knob: str) -> tuple[float | None, str]:
    """Condition IV for alif / cuba (docs/theory.md#94-conditions-i-to-iv-for-the-variants): the value of
    ``knob`` (dampening, sharpness or tail) at which the closed-form per-step gain of the block recursion
    is 1, every other setting kept; (None, why) where none exists in the knob's range. Subtractive reset
    only, as the closed form (ValueError otherwise, from :func:`rate_population`)."""
    pop = rate_population(cfg)
    lo, hi = _KNOBS[knob]
    if knob == "dampening":  # the moments are quadratics in γ: integrated once
        moments = moments_over_dampening(cfg, pop)

        def gain(x: float) -> float:
            return predicted_gain(cfg, moments(x), cfg.steps)  # the recursion reads no surrogate of cfg
    else:

        def gain(x: float) -> float:
            return gain_with(cfg, pop, knob, x)

    def excess(xs: np.ndarray) -> np.ndarray:
        return np.array([gain(float(x)) ** 2 - 1 for x in np.atleast_1d(xs)])

    root, f_lo, f_hi = solve_rho2_is_one(excess, lo, hi, n=16, refine=8, passes=5)
    if root is not None:
        return root, ""
    side = "above" if min(f_lo, f_hi) > 0 else "below" if max(f_lo, f_hi) < 0 else "not finite"
    return None, (
        f"{knob}: the {cfg.neuron}'s block gain stays {side} 1 for {knob} from {lo:g} to {hi:g} "
        f"(gain² − 1 from {f_lo:.3g} to {f_hi:.3g})"
    )


def gain_with(cfg: LIFConfig, pop: dict[str, np.ndarray], knob: str, value: float) -> float:
    """The closed-form per-step block gain with ``knob`` set to ``value``, the population ``pop`` (the rate
    theory at cfg, :func:`rate_population`) kept: the surrogate does not move it."""
    at = cfg.replace(**{knob: value})
    return predicted_gain(at, closed_form_moments(at, pop), at.steps)
