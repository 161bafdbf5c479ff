// @microsoft/fetch-event-source, as LLM front ends write it: POST (or GET) with
// openWhenHidden, onmessage showing the data of the variant's token events, closed through
// its AbortController at the end marker (streamcompatShow). window.FetchEventSource is
// the package bundled into one ES module at setup (its ESM build imports without
// extensions). fetch is wrapped only to report each request and response head.
//
// The library retries after ANY error, every second (or the stream's retry: field),
// forever, unless onerror throws (fetch-event-source#79): a front end that leaves onerror
// out re-requests without end. Here the first such error is let through, so the retry
// reaches the server as a second request; the second error ends the cell, saying so.
// An error the user's own code raises (the server's error event) is fatal, as the
// README's onerror rethrows it.
class Fatal extends Error {}

window.streamcompatFetchEventSource = async (cfg, report, signal) => {
  const { fetchEventSource } = window.FetchEventSource;
  const closing = new AbortController(); // the user's: closes it at the end marker
  signal.addEventListener("abort", () => closing.abort(), { once: true });
  let requests = 0;
  let ended = false;
  let firstError = "";
  const reporting = async (input, init) => {
    if (requests++ === 0) report({ kind: "request" });
    const response = await fetch(input, init);
    report({ kind: "open", status: response.status, contentType: response.headers.get("content-type") ?? "" });
    return response;
  };
  const post = cfg.method === "POST"
    ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(cfg.body) }
    : {};
  await fetchEventSource(cfg.url, {
    ...post,
    signal: closing.signal,
    openWhenHidden: true, // as front ends set it: hidden, it would abort and POST again (#36)
    fetch: reporting,
    onmessage: (event) => {
      if (ended) return; // the rest of a read after the end marker
      try {
        ended = streamcompatShow(cfg, report, event.event || "message", event.data);
      } catch (error) {
        throw new Fatal(error.message);
      }
      if (ended) closing.abort();
    },
    onclose: () => {
      if (!ended) streamcompatNoEndMarker(report, false); // it does not retry a clean end
      ended = true;
    },
    onerror: (error) => {
      if (error instanceof Fatal) throw error;
      const said = streamcompatDescribe(error);
      if (firstError) {
        throw new Error(`${said} (on its retry, after: ${firstError}; fetch-event-source re-requests after every error until onerror throws)`);
      }
      firstError = said; // returning nothing: it retries
    },
  });
};
