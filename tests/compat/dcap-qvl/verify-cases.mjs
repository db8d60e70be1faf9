#!/usr/bin/env node
// Differential-test driver: runs Phala's @phala/dcap-qvl 0.3.9 (pure JS) on DCAP vector cases.
//
//   node verify-cases.mjs [--policy off|default] [--impl js|web] [CASE_DIR ...]
//   node verify-cases.mjs --self-check [CASE_DIR ...]
//
// Without CASE_DIRs, every folder under ../../vectors/dcap/cases is used.
// Default mode prints one JSON line per case:
//   {"case": id, "ok": bool, "status": "<tcb status>"|null, "advisoryIds": [...], "error": "<message>"|null}
// verified at case.json verification_time.unix, with the package's extra policy checks (debug enclave,
// SEPT_VE_DISABLE, MRSERVICETD) disabled (see lib.mjs, verifyJsNoPolicy).
//
// --self-check compares, for every case, the output with policy checks disabled against
// case.json expected.cross_check_phala_dcap_qvl_js_0_3_9_on_these_files.policy_checks_disabled, and the
// unmodified public verify() against ...with_default_policy; exits 1 on any mismatch.

import {
  allCaseDirs, loadCase, verifyJsNoPolicy, dcapQvlJs, loadWeb, verifyWeb, outcome, crossCheckString,
  CROSS_CHECK_KEY,
} from './lib.mjs';

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node verify-cases.mjs [--self-check] [--policy off|default] [--impl js|web] [CASE_DIR ...]');
  process.exit(2);
}

const args = process.argv.slice(2);
let selfCheck = false;
let policy = 'off';
let impl = 'js';
const dirs = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--self-check') selfCheck = true;
  else if (a === '--policy') policy = args[++i];
  else if (a === '--impl') impl = args[++i];
  else if (a === '-h' || a === '--help') usage();
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else dirs.push(a);
}
if (!['off', 'default'].includes(policy)) usage(`--policy must be off or default`);
if (!['js', 'web'].includes(impl)) usage(`--impl must be js or web`);
if (impl === 'web' && policy === 'off') {
  // The Rust/wasm API has no switch for its policy checks.
  if (args.includes('--policy')) usage('--impl web only supports --policy default');
  policy = 'default';
}
if (selfCheck && (impl !== 'js' || args.includes('--policy'))) usage('--self-check always checks the JS package, both policies');

const caseDirs = dirs.length ? dirs : allCaseDirs();
const webMod = impl === 'web' ? await loadWeb() : null;

function run(c, which) {
  if (which === 'web') return outcome(() => verifyWeb(webMod, new Uint8Array(c.quote), c.collateral, c.now));
  if (which === 'off') return outcome(() => verifyJsNoPolicy(c.quote, c.collateral, c.now));
  return outcome(() => dcapQvlJs.verify(c.quote, c.collateral, c.now));
}

if (!selfCheck) {
  for (const dir of caseDirs) {
    const c = loadCase(dir);
    const r = run(c, impl === 'web' ? 'web' : policy);
    console.log(JSON.stringify({ case: c.id, ok: r.ok, status: r.status, advisoryIds: r.advisoryIds, error: r.error }));
  }
  process.exit(0);
}

let mismatches = 0;
let checked = 0;
for (const dir of caseDirs) {
  const c = loadCase(dir);
  const stored = c.caseJson?.expected?.[CROSS_CHECK_KEY];
  if (!stored || typeof stored.policy_checks_disabled !== 'string') {
    console.log(`MISSING ${c.id}: case.json has no expected.${CROSS_CHECK_KEY}.policy_checks_disabled`);
    mismatches++;
    continue;
  }
  const checks = [['policy_checks_disabled', 'off']];
  if (typeof stored.with_default_policy === 'string') checks.push(['with_default_policy', 'default']);
  for (const [key, mode] of checks) {
    checked++;
    const got = crossCheckString(run(c, mode));
    const want = stored[key];
    if (got === want) {
      console.log(`ok       ${c.id} [${key}] ${got}`);
    } else {
      mismatches++;
      console.log(`MISMATCH ${c.id} [${key}]\n    stored: ${want}\n    got:    ${got}`);
    }
  }
}
console.log(`self-check: ${caseDirs.length} cases, ${checked} comparisons, ${mismatches} mismatches`);
process.exit(mismatches ? 1 : 0);
