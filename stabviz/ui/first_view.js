// Tells the server once the first view's main figure is on screen (see firstview.py): the rerun it
// starts draws what lies below the fold, after the map instead of before it.
export default function firstView({ data, setTriggerValue }) {
  const { selector, timeout_ms: timeoutMs } = data;
  const start = performance.now();
  let done = false;
  const check = () => {
    if (done) return;
    if (document.querySelector(selector) || performance.now() - start > timeoutMs) {
      done = true;
      // one frame later: the figure is painted before the rerun's elements take the main thread
      requestAnimationFrame(() => setTriggerValue("drawn", true));
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
  return () => { done = true; };
}
