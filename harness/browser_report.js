// Added to every page before a driver's script. A driver reports through
// streamcompatReporter(cell): each message keeps the time it happened in the page,
// and one binding call carries every message of the same task. Under a splitting
// network a fetch reader yields hundreds of tiny chunks: a call each would flood
// the DevTools channel and delay the harness's view of the page by seconds.
(() => {
  const pending = new Set();
  window.streamcompatReporter = (cell) => {
    let queue = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      pending.delete(flush);
      if (!queue.length) return Promise.resolve();
      const batch = queue;
      queue = [];
      return window.__streamcompat({ cell, batch });
    };
    return (message) => {
      queue.push({ t: performance.timeOrigin + performance.now(), ...message });
      if (message.kind === "end") return flush(); // awaited by drivers: all is delivered
      if (!scheduled) {
        scheduled = true;
        pending.add(flush);
        setTimeout(flush, 0);
      }
      return Promise.resolve();
    };
  };
  // The request every fetch-based driver makes: POST with the JSON body, or GET;
  // reports when it goes out and when the response head arrives.
  window.streamcompatFetchCell = async (cfg, report) => {
    const init = cfg.method === "POST"
      ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cfg.body) }
      : {};
    report({ kind: "request" });
    const response = await fetch(cfg.url, init);
    report({ kind: "open", status: response.status, contentType: response.headers.get("content-type") || "" });
    return response;
  };
  // The hub calls this after a driver's function returns, error or not.
  window.streamcompatFlushAll = () => Promise.all([...pending].map((flush) => flush()));
})();
