// Shared helpers for verify-cases.mjs and bench.mjs.
// Loads the two Phala dcap-qvl npm packages and the vector case files.

import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const DEFAULT_CASES_DIR = path.resolve(here, '../../vectors/dcap/cases');
export const CROSS_CHECK_KEY = 'cross_check_phala_dcap_qvl_js_0_3_9_on_these_files';

// ---------------------------------------------------------------------------
// Case files
// ---------------------------------------------------------------------------

/**
 * Open Enclave evidence starts with oe_report_header_t
 * { u32 version = 1, u32 report_type = 2 (SGX remote), u64 report_size }.
 * Strip the 16 header bytes and take report_size bytes; anything else is returned unchanged.
 */
export function stripOeHeader(buf) {
  if (buf.length >= 16 && buf.readUInt32LE(0) === 1 && buf.readUInt32LE(4) === 2) {
    const size = buf.readBigUInt64LE(8);
    if (size > BigInt(buf.length - 16)) {
      throw new Error(`OE header report_size ${size} exceeds the ${buf.length - 16} bytes that follow it`);
    }
    return buf.subarray(16, 16 + Number(size));
  }
  return buf;
}

/** Reads one case folder: quote (OE header stripped), dcap-qvl collateral JSON, case.json. */
export function loadCase(dir) {
  const abs = path.resolve(dir);
  const caseJson = JSON.parse(fs.readFileSync(path.join(abs, 'case.json'), 'utf8'));
  const rawQuote = fs.readFileSync(path.join(abs, 'quote.bin'));
  const quote = stripOeHeader(rawQuote);
  const collateral = JSON.parse(fs.readFileSync(path.join(abs, 'collateral.dcap-qvl.json'), 'utf8'));
  const now = caseJson?.verification_time?.unix;
  if (!Number.isInteger(now)) throw new Error(`${abs}/case.json: verification_time.unix missing`);
  return {
    dir: abs,
    id: caseJson.id ?? path.basename(abs),
    caseJson,
    quote,
    oeHeaderStripped: quote.length !== rawQuote.length,
    collateral,
    now,
  };
}

/** All case folders (those holding a case.json) under DEFAULT_CASES_DIR, sorted by name. */
export function allCaseDirs(root = DEFAULT_CASES_DIR) {
  return fs.readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(root, e.name, 'case.json')))
    .map((e) => path.join(root, e.name))
    .sort();
}

// ---------------------------------------------------------------------------
// @phala/dcap-qvl (pure JS)
// ---------------------------------------------------------------------------

/** The package's public API, unmodified (default policy: debug, SEPT_VE_DISABLE, MRSERVICETD checks on). */
export const dcapQvlJs = require('@phala/dcap-qvl');

let patchedVerify = null;

/**
 * @phala/dcap-qvl 0.3.9 has no option to switch off its relying-party policy checks. They all live in
 * one module-private function, validateAttrs(quote.report), called once as the very last step of
 * verifyImpl() after the TCB status has been computed:
 *   - SGX: enclave ATTRIBUTES.DEBUG set            -> "Debug mode is enabled"
 *   - TDX: TD_ATTRIBUTES.TUD != 0 / reserved bits  -> "Debug mode is enabled" / "Reserved bits ..."
 *   - TDX: SEPT_VE_DISABLE clear                   -> "SEPT_VE_DISABLE is not enabled"
 *   - TD 1.5: MRSERVICETD != 0                     -> "Invalid mr service td"
 * None of these is an Intel QVL check. To disable them we load a second, private instance of the
 * package's src/verify.js whose source differs only in that call being guarded by an option, and
 * export verifyImpl with that option. Its sibling modules (quote.js, tcb_info.js, utils.js, ...) are the
 * package's own, shared through the normal require cache. The patch is applied by exact text match and
 * fails loudly if the package source ever changes. (The QE report's own debug-bit check inside
 * verifyQeIdentityPolicy is left alone: Intel QVL rejects a debug QE via the QE identity attribute mask.)
 */
export function verifyJsNoPolicy(quote, collateral, nowSecs) {
  if (!patchedVerify) patchedVerify = loadPatchedVerify();
  return patchedVerify(quote, collateral, nowSecs, { skipPolicyChecks: true });
}

function loadPatchedVerify() {
  const file = require.resolve('@phala/dcap-qvl/src/verify.js');
  const version = require('@phala/dcap-qvl/package.json').version;
  const src = fs.readFileSync(file, 'utf8');
  const needle = '    validateAttrs(quote.report);\n';
  const count = src.split(needle).length - 1;
  if (count !== 1) {
    throw new Error(`@phala/dcap-qvl ${version}: expected exactly one "validateAttrs(quote.report);" call in ${file}, found ${count}; re-check the policy-disabling patch`);
  }
  if (!/^function verifyImpl\(rawQuote, collateral, nowSecs, rootCaDer\) \{$/m.test(src)) {
    throw new Error(`@phala/dcap-qvl ${version}: verifyImpl signature changed in ${file}; re-check the policy-disabling patch`);
  }
  const patched = src
    .replace(needle, '    if (!(__veriteeOptions && __veriteeOptions.skipPolicyChecks)) validateAttrs(quote.report);\n')
    .replace('function verifyImpl(rawQuote, collateral, nowSecs, rootCaDer) {',
      'function verifyImpl(rawQuote, collateral, nowSecs, rootCaDer, __veriteeOptions) {')
    + '\nmodule.exports.__veriteeVerify = (rawQuote, collateral, nowSecs, options) =>'
    + ' verifyImpl(rawQuote, collateral, nowSecs, TRUSTED_ROOT_CA_DER, options);\n';
  const fn = vm.compileFunction(patched, ['exports', 'require', 'module', '__filename', '__dirname'],
    { filename: `${file} (veritee: policy checks optional)` });
  const mod = { exports: {} };
  fn.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  return mod.exports.__veriteeVerify;
}

// ---------------------------------------------------------------------------
// @phala/dcap-qvl-web (Rust core compiled to wasm)
// ---------------------------------------------------------------------------

let web = null;

/** Loads and instantiates the wasm package synchronously (once). Returns { js_verify }. */
export async function loadWeb() {
  if (web) return web;
  const pkgDir = path.dirname(require.resolve('@phala/dcap-qvl-web/package.json'));
  const mod = await import(path.join(pkgDir, 'dcap-qvl-web.js'));
  mod.initSync({ module: fs.readFileSync(path.join(pkgDir, 'dcap-qvl-web_bg.wasm')) });
  web = mod;
  return web;
}

/** Runs the wasm verifier (always with its default policy: the Rust API has no switch). */
export function verifyWeb(webMod, quoteU8, collateral, nowSecs) {
  try {
    return webMod.js_verify(quoteU8, collateral, BigInt(nowSecs));
  } catch (e) {
    // wasm-bindgen surfaces Rust errors as plain strings
    throw e instanceof Error ? e : new Error(String(e));
  }
}

// ---------------------------------------------------------------------------
// Result formatting
// ---------------------------------------------------------------------------

export function errorMessage(e) {
  return e instanceof Error ? e.message : String(e);
}

/** The one-line form used in case.json cross-check fields: `Status ["ID",...]` or `ERROR: message`. */
export function crossCheckString(r) {
  return r.ok ? `${r.status} ${JSON.stringify(r.advisoryIds)}` : `ERROR: ${r.error}`;
}

/** Runs f() and maps the outcome to {ok, status, advisoryIds, error}. */
export function outcome(f) {
  try {
    const rep = f();
    return { ok: true, status: rep.status, advisoryIds: [...(rep.advisory_ids ?? [])], error: null };
  } catch (e) {
    return { ok: false, status: null, advisoryIds: [], error: errorMessage(e) };
  }
}
