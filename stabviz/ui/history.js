// One history entry per page switch (see history.py).
// Streamlit pushes a history entry when the page changes and another when the script sets the query
// string, so a switch left two entries and the first Back press only dropped the query. A push to the same
// path soon after a push that changed the path is the same navigation finishing: it replaces instead.
// Slider moves (same path, not right after a switch) still push, so Back still undoes a setting change.

const SETTLE_MS = 2000;

export default function history() {
  if (window.__stabvizHistory) return;
  window.__stabvizHistory = { pathChangedAt: -Infinity };
  const state = window.__stabvizHistory;
  const push = window.history.pushState.bind(window.history);
  const replace = window.history.replaceState.bind(window.history);
  window.history.pushState = function (data, unused, url) {
    const next = new URL(url ?? window.location.href, window.location.href);
    const now = performance.now();
    if (next.pathname !== window.location.pathname) {
      state.pathChangedAt = now;
      return push(data, unused, url);
    }
    if (now - state.pathChangedAt < SETTLE_MS) return replace(data, unused, url);
    return push(data, unused, url);
  };
}
