// Shared by the drive*.mjs scripts: argument reading, step recording and the bearer-token credential.

/** Value of `--name VALUE` on the command line, or undefined. */
export function option(args, name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Records named steps; a step passes when its function returns, and fails with the error's message. */
export function recorder() {
  const steps = [];
  async function step(name, fn) {
    try {
      const detail = await fn();
      steps.push({ name, ok: true, detail: detail ?? null });
    } catch (e) {
      steps.push({ name, ok: false, detail: String(e?.message ?? e) });
    }
  }
  return { steps, step };
}

/** Throws when `cond` is false. */
export function expect(cond, what) {
  if (!cond) throw new Error('expectation failed: ' + what);
}

/** A TokenCredential that always returns `token` (the service's admin bearer token). */
export function bearer(token) {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
}
