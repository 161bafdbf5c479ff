// A bare XMLHttpRequest, as front ends wrote streaming before fetch: onprogress shows what
// responseText has grown by since the last event. Chromium dispatches progress events at
// most every 50 ms (the XHR spec's rate), so a token may wait that long; load shows the rest.
window.streamcompatXhr = (cfg, report, signal) => new Promise((resolve, reject) => {
  const xhr = new XMLHttpRequest();
  let shown = 0; // characters of responseText shown so far
  const show = () => {
    const text = xhr.responseText;
    if (text.length > shown) report({ kind: "unit", payload: text.slice(shown) });
    shown = text.length;
  };
  signal.addEventListener("abort", () => xhr.abort(), { once: true });
  xhr.onreadystatechange = () => {
    if (xhr.readyState !== XMLHttpRequest.HEADERS_RECEIVED) return;
    report({ kind: "open", status: xhr.status, contentType: xhr.getResponseHeader("content-type") ?? "" });
    if (xhr.status < 200 || xhr.status > 299) {
      xhr.abort(); // as fetch.js: a non-2xx body is not the answer
      reject(new Error(`HTTP ${xhr.status}`));
    }
  };
  xhr.onprogress = show;
  xhr.onload = () => {
    show();
    report({ kind: "end" });
    resolve();
  };
  xhr.onerror = () => reject(new Error("XMLHttpRequest failed: network error"));
  xhr.open(cfg.method, cfg.url);
  report({ kind: "request" });
  if (cfg.method === "POST") {
    xhr.setRequestHeader("content-type", "application/json");
    xhr.send(JSON.stringify(cfg.body));
  } else {
    xhr.send();
  }
});
