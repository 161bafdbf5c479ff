// axios in Node with responseType "stream": response.data.on("data") + a streaming TextDecoder.
import axios from "axios";
import { cfg, main, report } from "./report.mjs";

await main(async () => {
  report("request");
  const data = cfg.method === "POST" ? cfg.body : undefined; // axios sends it as JSON
  let response;
  try {
    response = await axios({ method: cfg.method, url: cfg.url, data, responseType: "stream" });
  } catch (error) {
    // axios rejects a non-2xx status; its user still got a response.
    if (error.response) report("open", { status: error.response.status, contentType: error.response.headers["content-type"] ?? "" });
    throw error;
  }
  report("open", { status: response.status, contentType: response.headers["content-type"] ?? "" });
  const decoder = new TextDecoder(); // UTF-8; {stream: true} keeps split sequences whole
  await new Promise((resolve, reject) => {
    response.data.on("data", (chunk) => {
      const text = decoder.decode(chunk, { stream: true });
      if (text) report("unit", { payload: text });
    });
    response.data.on("end", resolve);
    response.data.on("error", reject);
  });
  const tail = decoder.decode();
  if (tail) report("unit", { payload: tail });
  report("end");
});
