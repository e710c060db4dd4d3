"""CheckReport: what stabviz.check found, as JSON-safe data and as readable text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stabviz.jsonsafe import finite_or_none


@dataclass
class CheckReport:
    layers: list[dict[str, Any]]
    gain: dict[str, Any]
    predicted: list[dict[str, Any]]
    hazards: list[dict[str, Any]]
    verdict: dict[str, Any]
    suggestions: list[dict[str, Any]]
    run: dict[str, Any] = field(default_factory=dict)
    # What "apply a suggestion" needs (never in as_dict): the model as checked (the user's object, not a
    # copy: nothing here changes it), the inputs measured, and each suggestion's change, in order.
    model: Any = field(default=None, repr=False, compare=False)
    inputs: Any = field(default=None, repr=False, compare=False)
    changes: list = field(default_factory=list, repr=False, compare=False)

    def applied(self, index: int) -> Any:
        """A deep copy of the checked model with suggestion ``index`` applied: the change its re-measurement
        used. The model itself is unchanged; ``check(report.applied(i), report.inputs)`` measures it again."""
        from stabviz.check.layers import find_layers
        from stabviz.check.measure import work_copy

        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(self.changes):
            raise ValueError(
                f"suggestion index = {index!r} is outside the allowed range [0, {len(self.changes) - 1}]"
                if self.changes
                else "this report has no suggestion"
            )
        return work_copy(self.model, find_layers(self.model), self.changes[index])[0]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only (non-finite numbers become None)."""
        return finite_or_none(
            {
                "layers": self.layers,
                "gain": self.gain,
                "predicted": self.predicted,
                "hazards": self.hazards,
                "verdict": self.verdict,
                "suggestions": self.suggestions,
                "run": self.run,
            }
        )

    def text(self) -> str:
        """The report for a terminal."""
        g = self.gain
        lines = [
            f"verdict: {self.verdict['regime']}: {self.verdict['summary']}",
            "",
            f"gain (T = {g['T']}, {g['seeds']} seeds, {self.run.get('loss', '')}): "
            f"{_num(g['log10_per_step'], '+.4f')} decades per step, {_num(g['over_T'], '+.2f')} over T"
            + (
                f", interval {_num(g['over_T_interval'][0], '+.2f')} to {_num(g['over_T_interval'][1], '+.2f')}"
                if g.get("over_T_interval")
                else ""
            ),
            "",
            "layers:",
        ]
        for layer, pred in zip(self.layers, self.predicted):
            sg = layer["surrogate"]
            lines.append(
                f"  {layer['name']} ({layer['library']} {layer['kind']}, n = {layer['n']}): "
                f"α = {layer['leak']:.4g}, θ = {layer['threshold']:.4g}, reset {layer['reset']}"
                f"{'' if layer['reset_detached'] else ' (not detached)'}, {sg['library_text']}"
            )
            lines.append(
                f"    rate {layer['firing_rate']:.3f}, dead {layer['dead_fraction']:.0%}, saturated "
                f"{layer['saturated_fraction']:.0%}, ‖∂L/∂W‖ = {_num(layer['grad_norm'], '.3g')}"
            )
            if pred.get("regime"):
                band = pred["band_over_T"]
                lines.append(
                    f"    theory: rate {pred['firing_rate']:.3f}, {_num(pred['over_T'], '+.2f')} over T "
                    f"(band {_num(band[0], '+.1f')} to {_num(band[1], '+.1f')}), {pred['regime']}"
                )
            else:
                lines.append(f"    theory: no prediction ({pred.get('why', '')})")
        lines.append("")
        lines.append("hazards:" if self.hazards else "hazards: none found")
        lines += [f"  [{h['kind']}] {h['layer']}: {h['text']}" for h in self.hazards]
        lines.append("")
        lines.append("suggestions (each re-measured on your network):" if self.suggestions else "suggestions: none")
        for s in self.suggestions:
            m = s["measured"]
            lines.append(f"  - {s['change']}  [{s['code']}]")
            lines.append(
                f"    measured: {_num(m['gain']['over_T'], '+.2f')} over T ({m['regime']}); rates "
                + ", ".join(f"{r['name']} {r['firing_rate']:.3f}" for r in m["layers"])
                + f"; {'as promised' if s['confirmed'] else 'NOT as promised'} ({s['promise']})"
            )
        return "\n".join(lines)


def _num(x: Any, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)
