// axios in the page, three ways front ends call it. window.Axios is the npm package's
// own single-file ESM build (dist/esm/axios.js); its default adapter in a browser is XHR.
const axios = () => window.Axios.default;

// The call itself, reporting the request and the response head once its user has it
// (axios rejects a non-2xx status, with the response).
const call = async (cfg, report, config) => {
  report({ kind: "request" });
  let response;
  try {
    response = cfg.method === "POST"
      ? await axios().post(cfg.url, cfg.body, config) // sent as JSON
      : await axios().get(cfg.url, config);
  } catch (error) {
    if (error.response) report({ kind: "open", status: error.response.status, contentType: error.response.headers["content-type"] ?? "" });
    throw error;
  }
  report({ kind: "open", status: response.status, contentType: response.headers["content-type"] ?? "" });
  return response;
};

// `const r = await axios.post(url, body)`, then r.data is shown: the whole body at once,
// when the promise resolves (axios#6942: the XHR adapter cannot stream).
window.streamcompatAxiosAwaited = async (cfg, report, signal) => {
  const { data } = await call(cfg, report, { signal });
  // A body that happens to parse as JSON is an object; its user would print it.
  const text = typeof data === "string" ? data : JSON.stringify(data);
  if (text) report({ kind: "unit", payload: text });
  report({ kind: "end" });
};

// onDownloadProgress reading the XHR's growing responseText, showing what is new. axios
// calls it at most 3 times a second (axios#11147; a late call comes on a timer), on top of
// XHR's own 50 ms; once the promise resolves, the front end shows the whole text.
window.streamcompatAxiosProgress = async (cfg, report, signal) => {
  let shown = 0; // characters of responseText shown so far
  let over = false;
  const show = (text) => {
    if (over || text.length <= shown) return;
    report({ kind: "unit", payload: text.slice(shown) });
    shown = text.length;
  };
  const onDownloadProgress = (progress) => show(progress.event.target.responseText);
  const response = await call(cfg, report, { signal, onDownloadProgress });
  show(response.request.responseText);
  over = true; // a throttled progress call may still come on its timer
  report({ kind: "end" });
};

// adapter: 'fetch' with responseType 'stream' (what axios#6942 points to): r.data is the
// body's ReadableStream, read with a streaming TextDecoder as fetch's users do.
window.streamcompatAxiosFetch = async (cfg, report, signal) => {
  const response = await call(cfg, report, { signal, adapter: "fetch", responseType: "stream" });
  await streamcompatShowText(response.data, report);
};
