"""Evidence (/evidence): the replication study's committed results (docs/evidence), each claim's verdict by
its rule (an effect and its bootstrap interval over seeds against a fixed threshold), and a rerun of any arm through the
launcher, drawn over the results as its
runs finish.

The results are read by :func:`stabviz.evidence.load_results` (STABVIZ_EVIDENCE names another folder); the
figures are :func:`stabviz.evidence.figures`, the same ones the study writes as PNG files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from stabviz import evidence
from stabviz.config import LIFConfig
from stabviz.evidence import results as ev_results
from stabviz.evidence import variants as ev_variants
from stabviz.runs import StoreError
from stabviz.ui import fields, figures, layout, nav, outcome_evidence, runlaunch, sharing

VERDICT_COLORS = {"confirmed": "green", "refuted": "red", "inconclusive": "orange"}
VERDICT_ICONS = {
    "confirmed": ":material/check_circle:",
    "refuted": ":material/cancel:",
    "inconclusive": ":material/help:",
}
#: (arm, heading, what varies, its figures); claims are filed under the arm their id starts with
ARMS = (
    (
        "A",
        "Arm A · digits at the paper's sl-MNIST layer (α ≈ 0)",
        "Three surrogate shapes; the dampening γ at β = 1 and the sharpness β at γ = 1.",
        ("gamma_digits", "beta_digits"),
    ),
    ("A'", "Arm A′ · randman at τ = 20", "The same grid, with leak.", ("gamma_randman", "beta_randman")),
    ("B", "Arm B · the tail q", "q-PseudoSpike with the mult2 reset on digits, over the tail q.", ("tail_digits",)),
    (
        "C",
        "Arm C · the initial firing rate",
        "The initial rate f0 on digits, with and without the sparsity loss.",
        ("rate_digits",),
    ),
    (
        "D",
        "Arm D · the theory's setting against the grid",
        "Glorot γ = β = 1, conditions I + II, β*(γ = 1), γ_IV(β = 1) and the recommended option, on both tasks.",
        (),
    ),
)
RANKING = (
    "AUC",
    "Does the prediction rank training collapse?",
    "Every run of arms A, A′, B and D: final accuracy against its initial T·log₁₀ gain as the theory "
    "predicts it, and as the training probe fits it (ρ̂ of the gradient flow of the task's loss, on a task "
    "batch, before the first step: not a simulate measurement); red runs collapsed.",
    ("collapse_predicted", "collapse_probe"),
)
FIGURE_TITLES = {
    "gamma_digits": "Accuracy against γ (β = 1)",
    "beta_digits": "Accuracy against β (γ = 1)",
    "gamma_randman": "Accuracy against γ (β = 1)",
    "beta_randman": "Accuracy against β (γ = 1)",
    "tail_digits": "Accuracy against the tail q",
    "rate_digits": "Accuracy against the initial rate f0",
    "collapse_predicted": "Against the predicted gain",
    "collapse_probe": "Against the training probe's gain at init",
}
#: seconds between redraws while rerun runs are queued or running (a run takes seconds at least)
POLL_S = 2.0
#: stored runs searched for reruns (newest first)
STORE_WINDOW = 5000


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(folder: str, stamp: tuple) -> dict[str, Any] | None:
    return evidence.load_results(folder)


@st.cache_resource(max_entries=4, show_spinner=False)
def _all_cells(folder: str, stamp: tuple, _results: Mapping[str, Any]) -> list:
    """Every cell a rerun can queue, all seeds (any rerun of a config is drawn, whatever seeds it had)."""
    return evidence.rerun_cells(_results)


def render(cfg: LIFConfig) -> None:
    """The Evidence page (the sidebar's setting plays no part: the study fixes its own)."""
    st.title("Evidence: do the paper's claims hold?")
    st.markdown(
        "Short training runs on a real dataset (scikit-learn's handwritten digits) and on randman test the "
        "paper's empirical claims. Each claim is judged **confirmed**, **refuted** or **inconclusive** by a "
        "fixed rule: the effect it measures must clear its threshold, and so must the effect's "
        f"{evidence.rules.LEVEL:.0%} bootstrap interval over seeds, else the verdict is inconclusive. "
        "The design is in docs/evidence/README.md."
    )
    outcome_evidence.view()
    folder = str(ev_results.results_folder())
    stamp = ev_results.stamp(folder)
    try:
        results = _load(folder, stamp)
    except ValueError as err:
        st.error(f"The results could not be read: {layout.plain(err)}", icon=":material/error:")
        how_to_make()
        return
    if results is None:
        st.info("No results of the replication study are committed yet.", icon=":material/info:")
        how_to_make()
        return
    header(results["summary"])
    results_view(results, _all_cells(folder, stamp, results))


def how_to_make() -> None:
    st.markdown("Run the study from the repository root; it writes the files this page reads into docs/evidence:")
    st.code(ev_results.MAKE_COMMAND, language="bash")
    st.caption(
        f"To show results written elsewhere (`replicate --out DIR`), set {ev_results.RESULTS_ENV}=DIR "
        "before starting the dashboard."
    )


def header(summary: Mapping[str, Any]) -> None:
    """The run that made the results (command, commit, date) and the count of verdicts."""
    commit = str(summary.get("commit") or "unknown")
    wall = float(summary.get("wall_s") or 0)
    st.markdown(
        f"**Made by** {layout.plain(summary.get('command') or 'an unrecorded command')}  \n"
        f"commit {layout.plain(commit[:12] + (' (with local changes)' if commit.endswith('-dirty') else ''))} "
        f"· {layout.plain(str(summary.get('date') or 'no date').replace('T', ' '))} "
        f"· {summary.get('runs', '?')} runs in {f'{wall / 60:.0f} min' if wall >= 60 else f'{wall:.0f} s'} "
        f"({layout.plain(summary.get('launcher'))}, {layout.plain(summary.get('device'))})"
        + (f" · {summary['budget']} optimiser steps per run" if summary.get("budget") else "")
    )
    judged = summary.get("judged")
    if isinstance(judged, Mapping):
        when = str(judged.get("commit") or "unknown")
        st.caption(
            f"Verdicts judged again from the stored runs, without training, by "
            f"{layout.plain(judged.get('command') or 'an unrecorded command')} · commit "
            f"{layout.plain(when[:12] + (' (with local changes)' if when.endswith('-dirty') else ''))} · "
            f"{layout.plain(str(judged.get('date') or 'no date').replace('T', ' '))} · "
            f"{layout.plain(judged.get('rules') or '')}"
        )
    if summary.get("size") == "smoke":
        st.warning(
            "These are `--smoke` results: the pipeline's end-to-end check (two seeds, a few optimiser "
            "steps). Their verdicts mean nothing.",
            icon=":material/science:",
        )
    claims = summary.get("claims") or []
    counts = {v: sum(c.get("verdict") == v for c in claims) for v in VERDICT_COLORS}
    st.markdown(
        f"**{len(claims)} claims:** "
        + " · ".join(f":{VERDICT_COLORS[v]}-badge[{VERDICT_ICONS[v]} {n} {v}]" for v, n in counts.items())
    )
    st.markdown(
        "| verdict | claim |\n|---|---|\n"
        + "\n".join(f"| {badge(c.get('verdict'))} | {layout.plain(c.get('claim'))} |" for c in claims)
    )


def badge(verdict: Any) -> str:
    """A verdict as a coloured badge (markdown)."""
    color, icon = VERDICT_COLORS.get(verdict, "gray"), VERDICT_ICONS.get(verdict, ":material/help:")
    return f":{color}-badge[{icon} {layout.plain(verdict)}]"


def results_view(results: Mapping[str, Any], cells: list) -> None:
    """Every arm's claims, figures and rerun button, with the reruns drawn over the results; redrawn every
    POLL_S seconds while some rerun runs are queued or running."""
    active = sum(_overlay(cells)[1].values())

    @st.fragment(run_every=POLL_S if active else None)
    def view() -> None:
        overlay, by_arm = _overlay(cells)
        still = sum(by_arm.values())
        if active and not still:
            st.rerun()  # the last run ended: stop polling
        if still:
            st.info(
                f"{still} rerun runs are queued or running: their results are drawn as open diamonds as they finish.",
                icon=":material/hourglass_top:",
            )
        figs = evidence.figures(results, overlay if overlay["cells"] else None)
        for arm, heading, about, stems in ARMS:
            section(results, figs, arm, heading, about, stems)
            if arm == "D":
                regret_table(results, overlay)
            rerun_control(results, arm, by_arm.get(arm, 0))
        section(results, figs, *RANKING)

    view()
    variants_view()


#: the variant arms (stabviz.evidence.variants, in the results folder's "variants" folder): (arm, heading, about)
VARIANT_ARMS = (
    (
        "E",
        "Arm E · the adaptive threshold on a long horizon",
        "cues (the answer lies ≥ 100 steps before the recall): the LIF against the ALIF (τ_a = 200, β_a = 1.8).",
    ),
    (
        "F",
        "Arm F · fluctuation-driven initialisation",
        "randman at τ = 20: Glorot, conditions I + II and the fluctuation-driven initialisation (input and recurrent).",
    ),
    (
        "G",
        "Arm G · DECOLLE with rate control",
        "digits, 2 layers with local losses: no rate control, or λ·|rate − f0| toward f0 = 0.158 or 0.5 for the "
        "first half of training.",
    ),
)


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_variants(folder: str, stamp: tuple) -> dict[str, Any] | None:
    return evidence.load_results(folder)


#: the variant arms' result folders (under the results folder), the largest budgets first, and their labels
VARIANT_RESULTS = (("variants-full", "5× budgets (--full)"), ("variants", "quick budgets (--quick)"))


def variants_view() -> None:
    """Arms E, F and G (``replicate --variants``): each arm's claims and its cells as a table, from the largest
    budgets present (a control switches to the others); nothing when the results folder has none."""
    found = {}
    for sub, label in VARIANT_RESULTS:
        folder = str(ev_results.results_folder() / sub)
        try:
            results = _load_variants(folder, ev_results.stamp(folder))
        except ValueError as err:
            st.error(
                f"The variant arms' results ({sub}) could not be read: {layout.plain(err)}", icon=":material/error:"
            )
            continue
        if results is not None:
            found[label] = results
    if not found:
        return
    st.header("Neuron variants, initialisation and local losses", divider="gray")
    label = next(iter(found))
    if len(found) > 1:
        label = st.segmented_control(
            "Budgets",
            list(found),
            default=label,
            required=True,
            key="variant_budgets",
            help="The same arms and rules, run at the quick budgets and at 5× them: the verdicts agree or not.",
        )
    results = found[label]
    summary = results["summary"]
    st.caption(
        f"Made by {layout.plain(summary.get('command') or 'an unrecorded command')} · "
        f"{layout.plain(str(summary.get('date') or 'no date').replace('T', ' '))} · "
        f"{summary.get('runs', '?')} runs · optimiser steps per arm: "
        + ", ".join(f"{k} {v}" for k, v in (summary.get("budgets") or {}).items())
    )
    for arm, heading, about in VARIANT_ARMS:
        st.subheader(heading, divider="gray")
        st.caption(about)
        for claim in results["claims"]:
            if str(claim.get("id", "")).split("-")[0] == arm:
                claim_view(claim)
        rows = ev_variants.cell_table(results, arm)
        if rows:
            st.dataframe(
                rows,
                hide_index=True,
                width="stretch",
                column_config={
                    k: st.column_config.NumberColumn(format="%.1f") for k in ("accuracy (%)", "seed sd", "chance (%)")
                },
            )


def _overlay(cells: list) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        stored = runlaunch.store().list(limit=STORE_WINDOW)
    except StoreError:  # the committed results need no store: only the reruns are lost
        stored = []
    return evidence.rerun_overlay(cells, stored)


def section(
    results: Mapping[str, Any], figs: Mapping[str, Any], arm: str, heading: str, about: str, stems: tuple[str, ...]
) -> None:
    st.subheader(heading, divider="gray")
    st.caption(about)
    claims = [c for c in results["claims"] if str(c.get("id", "")).split("-")[0] == arm]
    if len(stems) == 1:  # one figure: the claims beside it
        left, right = st.columns(2)
        with right:
            for claim in claims:
                claim_view(claim)
        with left:
            chart(figs, stems[0])
        return
    for claim in claims:
        claim_view(claim)
    for col, stem in zip(st.columns(2), stems):
        with col:
            chart(figs, stem)


def chart(figs: Mapping[str, Any], stem: str) -> None:
    st.markdown(f"**{FIGURE_TITLES[stem]}**")
    figures.chart(figs[stem], f"evidence_{stem}")


def claim_view(claim: Mapping[str, Any]) -> None:
    """One claim: its verdict (coloured), what it says, its rule, and the numbers the rule compared."""
    why = {"refuted": " :red[— the runs contradict it.]", "inconclusive": " :orange[— the runs do not settle it.]"}.get(
        claim.get("verdict"), ""
    )
    st.markdown(f"{badge(claim.get('verdict'))} **{layout.plain(claim.get('claim'))}**{why}")
    st.caption(
        f"**Rule**: {layout.plain(claim.get('rule'))}  \n"
        f"**Numbers**: {layout.plain(numbers_text(claim.get('numbers') or {}))}"
    )


def numbers_text(numbers: Mapping[str, Any]) -> str:
    """``{"drop": 12.345, "drop_interval": [9.1, 15.0], "per_shape": {"x": 1}}`` ->
    "drop 12.3 · drop_interval [9.1, 15] · per_shape x 1" (3 significant digits)."""

    def show(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, Mapping):
            return ", ".join(f"{k} {show(x)}" for k, x in v.items())
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(show(x) for x in v) + "]"
        return "n/a" if v is None else str(v)

    return " · ".join(f"{k} {show(v)}" for k, v in numbers.items())


def regret_table(results: Mapping[str, Any], overlay: Mapping[str, Any]) -> None:
    """Arm D's settings per task (mean ± sd over seeds) and the grid's best and median, with a rerun's means."""
    again = {(c["task"], c["label"]): c["mean"] for c in overlay["cells"] if c["arm"] == "D"}
    rows = [
        {
            "task": c["task"],
            "setting": c["label"],
            "accuracy (%)": c["mean"],
            "seed sd": c["sd"],
            **({"rerun (%)": again.get((c["task"], c["label"]))} if again else {}),
        }
        for c in results["cells"]
        if c["arm"] == "D"
    ]
    if not rows:
        return
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            k: st.column_config.NumberColumn(format="%.1f") for k in ("accuracy (%)", "seed sd", "rerun (%)")
        },
    )
    for task, r in (results.get("regret") or {}).items():
        st.caption(
            f"{layout.plain(task)}: the recommended setting {_pct(r.get('theory'))}; the grid's best "
            f"{_pct(r.get('best'))} ({layout.plain(r.get('best_cell'))}), its median {_pct(r.get('median'))} "
            f"over {r.get('cells', '?')} cells."
        )


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.1f}%"


def rerun_control(results: Mapping[str, Any], arm: str, active: int) -> None:
    """ "Rerun this arm": the arm's configs (the quick study's at most) through the local launcher;
    ``active``: the arm's rerun runs still queued or running."""
    size = ev_results.rerun_size(results["summary"])
    off = sharing.launching() == "off"
    c = st.columns([1, 1.2, 3], vertical_alignment="bottom")
    most = evidence.SIZES[size].seeds
    value, why = fields.number(
        c[0],
        "Seeds per cell",
        "seeds",
        f"evidence_seeds_{arm}",
        default=1,
        step=1,
        format="%d",
        ranges={"seeds": (1, most, True, True)},
        integer=True,
        say=st,
        help="Seeds 0 ... K−1 of every cell, as in the study.",
    )
    seeds = None if why else int(value)  # None: the field says why, and the button is disabled
    configs = (
        [] if seeds is None else [cfg for cell in evidence.rerun_cells(results, arm, seeds) for cfg in cell.configs]
    )
    if c[1].button(
        "Rerun this arm", key=f"evidence_rerun_{arm}", icon=":material/replay:", disabled=off or seeds is None
    ):
        try:
            run_ids = runlaunch.submit_many(configs)
        except ValueError as err:
            st.error(f"The rerun was not started: {layout.plain(err)}", icon=":material/block:")
        else:
            st.session_state[f"_evidence_queued_{arm}"] = len(run_ids)
            st.rerun()  # the whole page: it polls while the new runs are active
    if seeds is not None:
        c[2].caption(
            f"{len(configs)} runs: the `--{size}` study's configs of this arm, {seeds} seed(s) per cell, "
            "through the local launcher." + (" Launching runs is switched off on this shared dashboard." if off else "")
        )
    if active:
        st.caption(f":material/hourglass_top: {active} runs of this arm are queued or running.")
    queued = st.session_state.get(f"_evidence_queued_{arm}")
    if queued:
        st.success(
            f"{queued} runs queued: they appear on the Runs page and are drawn here as they finish.",
            icon=":material/check:",
        )
        st.page_link(nav.page("runs"), label="Open the Runs page", icon=":material/open_in_new:")
