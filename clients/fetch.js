// fetch() + body.getReader() + a streaming TextDecoder: what chat front-ends write. The
// same lines run in Chromium (browser-fetch) and in the Node host (node-fetch, undici).
globalThis.streamcompatFetch = async (cfg, report, signal) => {
  const response = await streamcompatFetchCell(cfg, report, signal);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  await streamcompatShowText(response.body, report);
};
