// What every Node client script shares: its cell's config (JSON on argv) and the
// report lines the harness reads on stdout (clients/with_node.py).
export const cfg = JSON.parse(process.argv[2]);

// One JSON line per report; stdout is a pipe, which Node writes synchronously on Linux,
// so every line is out before the process can end.
export const report = (kind, fields = {}) => {
  const t = performance.timeOrigin + performance.now(); // epoch ms, like the browser's
  process.stdout.write(`${JSON.stringify({ kind, t, ...fields })}\n`);
};

// The message a user of the library would see, with the cause Node hides in `cause`.
export const describe = (error) =>
  error?.cause ? `${error}: ${error.cause.message ?? error.cause}` : String(error?.message ?? error);

// Run a client; whatever it throws is its user's error, reported as such.
export const main = async (client) => {
  try {
    await client();
  } catch (error) {
    report("error", { message: describe(error) });
  }
};
