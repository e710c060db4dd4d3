// The page's keyboard and narrow-screen helpers (see layout.screen_helpers), installed once per page:
// - a "Skip to controls" link, the page's first focusable element, hidden until focused: Tab, Enter
//   opens the sidebar if needed and puts the focus on its first slider (2 key presses);
// - on a window at most NARROW px wide the sidebar starts collapsed (once per browser tab: a person
//   who opens it again keeps it open).

const NARROW = 900;

function firstSlider() {
  return document.querySelector('[data-testid="stSidebar"] input[type="range"], [data-testid="stSidebar"] [role="slider"]');
}

function sidebarOpen() {
  const bar = document.querySelector('[data-testid="stSidebar"]');
  return bar !== null && bar.getAttribute("data-collapsed") !== "true";
}

// Focus the first slider once the sidebar has opened and drawn it (its slide-in takes a moment).
function focusControls() {
  if (!sidebarOpen()) {
    const open = document.querySelector('[data-testid="stExpandSidebarButton"]');
    if (open) open.click();
  }
  const deadline = performance.now() + 3000;
  const attempt = () => {
    const slider = firstSlider();
    if (slider && sidebarOpen()) { slider.focus(); return; }
    if (performance.now() < deadline) setTimeout(attempt, 50);
  };
  attempt();
}

function skipLink() {
  if (document.getElementById("stabviz-skip")) return;
  const link = document.createElement("a");
  link.id = "stabviz-skip";
  link.href = "#controls";
  link.textContent = "Skip to controls";
  link.addEventListener("click", (e) => { e.preventDefault(); focusControls(); });
  document.body.insertBefore(link, document.body.firstChild);
}

function collapseWhenNarrow() {
  if (window.innerWidth > NARROW || sessionStorage.getItem("stabvizNarrowCollapsed")) return;
  const deadline = performance.now() + 5000;
  const attempt = () => {
    const close = document.querySelector('[data-testid="stSidebarCollapseButton"] button')
      || document.querySelector('[data-testid="stSidebarCollapseButton"]');
    if (sidebarOpen() && close) {
      close.click();
      sessionStorage.setItem("stabvizNarrowCollapsed", "1");
    } else if (!sidebarOpen()) {
      sessionStorage.setItem("stabvizNarrowCollapsed", "1");
    } else if (performance.now() < deadline) {
      setTimeout(attempt, 100);
    }
  };
  attempt();
}

export default function screen() {
  skipLink();
  if (window.__stabvizScreen) return;
  window.__stabvizScreen = true;
  collapseWhenNarrow();
}
