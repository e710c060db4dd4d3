"""Every main figure reads at 1280 × 720 and 1440 × 900, with the sidebar open or closed and in presentation
mode: no tick label, axis title, legend, colour-bar label or toolbar covers another, and none is cut by the
figure's edge (issue 19, item 6). One dashboard and one browser session; each page is loaded once and then
resized, so the whole module costs a handful of page loads."""

import time

import pytest
from harness import dashboard, wait_idle
from support import write_smoke_results

from stabviz.config import LIFConfig, TrainConfig

pytestmark = pytest.mark.timeout(600)
VIEWPORTS = ({"width": 1280, "height": 720}, {"width": 1440, "height": 900})

#: The text boxes of a Plotly figure, by group (annotations: the labels of marked lines such as γ_III).
#: Boxes of two groups must not intersect; tick labels of one
#: axis must not intersect each other either (the reported pile-up of 10⁻²⁴ over 1f … 1μ).
BOXES = """(root) => {
  const gd = root.matches('.js-plotly-plot') ? root : root.querySelector('.js-plotly-plot');
  if (!gd) return null;
  const fig = gd.getBoundingClientRect();
  const out = [];
  const add = (group, el, label) => {
    const r = el.getBoundingClientRect();
    if (r.width < 0.5 || r.height < 0.5) return;
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return;
    out.push({group, label: (label || el.textContent || '').slice(0, 40),
              x0: r.left, y0: r.top, x1: r.right, y1: r.bottom});
  };
  gd.querySelectorAll('.xtick text').forEach(el => add('xtick', el));
  gd.querySelectorAll('.ytick text').forEach(el => add('ytick', el));
  gd.querySelectorAll('.g-xtitle text').forEach(el => add('xtitle', el));
  gd.querySelectorAll('.g-ytitle text').forEach(el => add('ytitle', el));
  gd.querySelectorAll('.g-gtitle text').forEach(el => add('title', el));
  gd.querySelectorAll('.legend .bg').forEach(el => add('legend', el, 'legend'));
  gd.querySelectorAll('.colorbar text').forEach(el => add('colorbar', el));
  gd.querySelectorAll('.modebar').forEach(el => add('modebar', el, 'modebar'));
  gd.querySelectorAll('.annotation-text-g text').forEach(el => add('annotation', el));
  return {fig: {x0: fig.left, y0: fig.top, x1: fig.right, y1: fig.bottom}, boxes: out};
}"""


def _meets(a, b, slack=1.0):
    return (
        a["x0"] + slack < b["x1"]
        and b["x0"] + slack < a["x1"]
        and a["y0"] + slack < b["y1"]
        and b["y0"] + slack < a["y1"]
    )


def problems(found):
    """What is wrong with one figure's text boxes: overlaps across groups (and within a tick group), and
    boxes cut by the figure's edge."""
    fig, boxes = found["fig"], found["boxes"]
    out = []
    for b in boxes:
        if b["group"] == "modebar":
            continue  # drawn inside the figure by Plotly, never cut
        if b["x0"] < fig["x0"] - 1 or b["x1"] > fig["x1"] + 1 or b["y0"] < fig["y0"] - 1 or b["y1"] > fig["y1"] + 1:
            out.append(f"{b['group']} {b['label']!r} cut by the figure's edge")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            same = a["group"] == b["group"]
            if same and a["group"] not in ("xtick", "ytick"):
                continue
            if _meets(a, b):
                out.append(f"{a['group']} {a['label']!r} overlaps {b['group']} {b['label']!r}")
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A dashboard with a smoke study's evidence, a finished run with its gradient-flow probe, and a
    finished 3 × 2 sweep, all written straight into its store (no training)."""
    from stabviz.runs import RunStore

    home = tmp_path_factory.mktemp("figs_home")
    evidence = write_smoke_results(tmp_path_factory.mktemp("figs_evidence"))
    store = RunStore(home / "stabviz.db")
    # A probe spanning ~24 decades: the case whose log ticks used to pile up.
    flow = [10.0 ** (-24 + 24 * t / 49) for t in range(50)]
    run = store.create(TrainConfig(train_steps=20), launcher="ray")  # no local worker takes it
    store.set_status(run, "running", pid=1)
    for step in range(0, 21, 5):  # its live curves: two layers, so the legends have entries
        store.log_metrics(
            run,
            step,
            {
                "loss": 2.0 - 0.05 * step,
                "accuracy": 0.1 + 0.02 * step,
                "firing_rate/0": 0.2,
                "firing_rate/1": 0.3,
                "grad_norm/0": 10.0 ** (-3 + step / 5),
                "grad_norm/1": 1e-3,
            },
        )
    store.set_status(
        run,
        "finished",
        summary={
            "initial": {"grad_flow": flow, "grad_gain": 3.1},
            "final": {"grad_flow": flow[::-1], "grad_gain": 0.33, "accuracy": 0.5},
        },
    )
    xs, ys = [0.1, 0.3, 1.0], [0.5, 2.0]
    base = TrainConfig(train_steps=20, lif=LIFConfig(n_rec=32))
    spec = {
        "x": "dampening",
        "x_values": xs,
        "y": "sharpness",
        "y_values": ys,
        "base": base.to_dict(),
        "launcher": "ray",
    }
    items = [
        (base, {"id": "sweep0000figs", "label": f"{x},{y}", "point": {"dampening": x, "sharpness": y}})
        for y in ys
        for x in xs
    ]
    ids = store.create_many(items, launcher="ray", sweep_spec=("sweep0000figs", spec))
    for k, rid in enumerate(ids):
        store.set_status(rid, "running", pid=1)
        store.set_status(rid, "finished", summary={"final": {"accuracy": 0.1 * k}, "initial": {"grad_gain": 1.0}})
    with dashboard(home, env={"STABVIZ_EVIDENCE": str(evidence)}) as url:
        yield url, run


def _settle(page, count=1):
    wait_idle(page)
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}", timeout=60_000
    )
    time.sleep(1.5)


def _sidebar(page, open_):
    """Open or close the sidebar by its own buttons (no reload)."""
    collapsed = page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "true"
    if open_ == collapsed:
        sel = "[data-testid='stExpandSidebarButton']" if open_ else "[data-testid='stSidebarCollapseButton'] button"
        page.evaluate("(sel) => document.querySelector(sel).click()", sel)  # shown on hover only
        time.sleep(1.0)


def _check(page, where, selector=".js-plotly-plot", skip=()):
    """Problems of every figure matching ``selector`` on the page, each named by ``where``."""
    time.sleep(1.0)  # Plotly relayouts after a resize on its own timer
    out = []
    for i, el in enumerate(page.locator(selector).all()):
        found = el.evaluate(BOXES)
        if found is None:
            continue
        out += [f"{where} figure {i}: {p}" for p in problems(found) if not any(s in p for s in skip)]
    return out


def _sweep_views(page, where, sidebars=(True, False)):
    out = []
    for vp in VIEWPORTS:
        page.set_viewport_size(vp)
        for open_ in sidebars:
            _sidebar(page, open_)
            out += _check(page, f"{where} {vp['width']}×{vp['height']} sidebar {'open' if open_ else 'closed'}")
    return out


def test_explore_maps_read_at_every_width(page, site):
    url, _ = site
    page.set_viewport_size(VIEWPORTS[0])
    page.goto(url + "/?map=beta")
    _settle(page, 2)
    gap = page.evaluate("""() => document.querySelector('[data-testid="stMain"] h1').getBoundingClientRect().top
        - document.querySelector('[data-testid="stHeader"]').getBoundingClientRect().bottom""")
    assert gap < 40, f"{gap:.0f} px of blank space between the navigation and the page's title"
    out = _sweep_views(page, "β×γ map")
    page.goto(url + "/?map=leak")
    _settle(page, 2)
    out += _sweep_views(page, "τ×γ map")
    assert out == [], "\n".join(out)


def test_presentation_mode_maps_read(page, site):
    url, _ = site
    out = []
    for vp in VIEWPORTS:
        page.set_viewport_size(vp)
        page.goto(url + "/?present=1&map=leak")
        _settle(page, 2)
        out += _check(page, f"presentation {vp['width']}")
    page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
    assert out == [], "\n".join(out)


def test_run_view_gradient_flow_reads(page, site):
    url, run = site
    page.set_viewport_size(VIEWPORTS[0])
    page.goto(f"{url}/runs?run={run}")
    _settle(page, 1)
    page.locator(".js-plotly-plot").filter(has_text="gradient flow").first.wait_for(timeout=60_000)
    assert _sweep_views(page, "runs") == []


def test_surrogates_sweep_and_evidence_figures_read(page, site):
    url, _ = site
    out = []
    for path in ("/surrogates", "/sweep?sweep=sweep0000figs", "/evidence"):
        page.set_viewport_size(VIEWPORTS[0])
        page.goto(url + path)
        try:
            _settle(page, 1)
        except Exception as err:
            raise AssertionError(f"{path}: no figure drawn ({err})") from None
        out += _sweep_views(page, path)
    assert out == [], "\n".join(out)
