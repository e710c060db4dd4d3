// Tells the server once the first view's main figure is on screen (see firstview.py): the rerun it
// starts draws what lies below the fold, after the map instead of before it.
export default function firstView({ data, setTriggerValue }) {
  const { selector, timeout_ms: timeoutMs, session } = data;
  // Streamlit may call this again on a rerun before the map is drawn (a slider moved): one report per
  // session (a server restart gives the open page a new session, which waits for its own report).
  const self = (window.stabvizFirstView ||= { sent: null });
  const start = performance.now();
  let stopped = false;
  const check = () => {
    if (stopped || self.sent === session) return;
    if (document.querySelector(selector) || performance.now() - start > timeoutMs) {
      self.sent = session;
      // one frame later: the figure is painted before the rerun's elements take the main thread
      requestAnimationFrame(() => setTriggerValue("drawn", true));
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
  return () => { stopped = true; };
}
