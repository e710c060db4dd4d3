// One history entry per page switch (see history.py).
// Streamlit pushes a history entry when the page changes, and another whenever the script then rewrites
// the query string, so a switch could leave two or three entries and the first Back press only dropped
// the query. Every same-path push after a page switch and before the user's next key or pointer press is
// that navigation finishing: it replaces the entry instead. The rule waits for the user, not for a clock,
// so a slow server (the script's query write can come seconds late) cannot split one switch into two
// entries. Slider moves are user presses, so each still pushes and Back still undoes a setting change.

export default function history() {
  if (window.__stabvizHistory) return;
  window.__stabvizHistory = { settling: false };
  const state = window.__stabvizHistory;
  const push = window.history.pushState.bind(window.history);
  const replace = window.history.replaceState.bind(window.history);
  const userActed = () => { state.settling = false; };
  window.addEventListener("pointerdown", userActed, true);
  window.addEventListener("keydown", userActed, true);
  window.history.pushState = function (data, unused, url) {
    const next = new URL(url ?? window.location.href, window.location.href);
    if (next.pathname !== window.location.pathname) {
      state.settling = true;
      return push(data, unused, url);
    }
    if (state.settling) return replace(data, unused, url);
    return push(data, unused, url);
  };
}
