#!/usr/bin/env node
// Single-thread throughput benchmark of full DCAP quote verification with Phala's dcap-qvl npm packages.
//
//   node bench.mjs --case DIR --seconds S [--impl web|js] [--warmup W] [--json]
//
//   --impl web  @phala/dcap-qvl-web 0.3.3 (Rust core compiled to wasm): js_verify(quote, collateral, BigInt(now))
//   --impl js   @phala/dcap-qvl 0.3.9 (pure JS, default):               verify(quote, collateral, now)
//
// Both are called through their public API with their default policy; the case's quote (OE header stripped)
// and collateral JSON are loaded and parsed once, outside the timed loop; verification time is
// case.json verification_time.unix. Each iteration is a complete verification (quote parsing, all
// signatures, certificate chains, CRLs, TCB/QE identity matching). The verification must succeed: an
// error in warm-up or in the loop aborts the run (we never benchmark an error path), as does a status
// that differs from the one seen in warm-up.
//
// Output (--json): {"impl":"dcap-qvl-web"|"dcap-qvl-js","operations":N,"seconds":S,"opsPerSecond":X,"cpuSeconds":C,"opsPerCpuSecond":Y}
// where seconds is the measured elapsed wall time of the N operations and cpuSeconds the process's CPU time
// (user + system, all threads) over the same loop: on a machine shared with other work, wall time includes
// waiting for a core, CPU time does not (veritee bench verify reports the same pair).

import { loadCase, loadWeb, verifyWeb, dcapQvlJs } from './lib.mjs';

function usage(msg) {
  if (msg) console.error(msg);
  console.error('usage: node bench.mjs --case DIR --seconds S [--impl web|js] [--warmup W] [--json]');
  process.exit(2);
}

const args = process.argv.slice(2);
let caseDir = null;
let seconds = null;
let warmup = null;
let impl = 'js';
let json = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--case') caseDir = args[++i];
  else if (a === '--seconds') seconds = Number(args[++i]);
  else if (a === '--warmup') warmup = Number(args[++i]);
  else if (a === '--impl') impl = args[++i];
  else if (a === '--json') json = true;
  else if (a === '-h' || a === '--help') usage();
  else usage(`unknown argument ${a}`);
}
if (!caseDir) usage('--case is required');
if (!(seconds > 0)) usage('--seconds must be a positive number');
if (!['web', 'js'].includes(impl)) usage('--impl must be web or js');
if (warmup === null) warmup = Math.min(2, Math.max(0.5, seconds / 5));
if (!(warmup >= 0)) usage('--warmup must be >= 0');

const c = loadCase(caseDir);
let verifyOnce;
let name;
if (impl === 'web') {
  const webMod = await loadWeb();
  const quoteU8 = new Uint8Array(c.quote);
  verifyOnce = () => verifyWeb(webMod, quoteU8, c.collateral, c.now);
  name = 'dcap-qvl-web';
} else {
  verifyOnce = () => dcapQvlJs.verify(c.quote, c.collateral, c.now);
  name = 'dcap-qvl-js';
}

// First call: must succeed, fixes the expected status.
let first;
try {
  first = verifyOnce();
} catch (e) {
  throw new Error(`${name}: verification of case ${c.id} fails (${e instanceof Error ? e.message : e}); refusing to benchmark an error path`);
}
const expectedStatus = first?.status;
if (typeof expectedStatus !== 'string' || !expectedStatus) {
  throw new Error(`${name}: verification of case ${c.id} returned no TCB status`);
}
function check(r) {
  if (r?.status !== expectedStatus) {
    throw new Error(`${name}: status changed from ${expectedStatus} to ${r?.status}`);
  }
}

// Warm-up (lets V8 / Liftoff->TurboFan tier up).
{
  const end = process.hrtime.bigint() + BigInt(Math.round(warmup * 1e9));
  do check(verifyOnce()); while (process.hrtime.bigint() < end);
}

// Timed loop.
const budget = BigInt(Math.round(seconds * 1e9));
let operations = 0;
const cpuStart = process.cpuUsage();
const start = process.hrtime.bigint();
let now = start;
while (now - start < budget) {
  check(verifyOnce());
  operations++;
  now = process.hrtime.bigint();
}
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const opsPerCpuSecond = operations / cpuSeconds;
const elapsedNs = now - start;
const elapsed = Number(elapsedNs / 1000n) / 1e6 + Number(elapsedNs % 1000n) / 1e9;
const opsPerSecond = operations / elapsed;

if (json) {
  console.log(JSON.stringify({ impl: name, operations, seconds: elapsed, opsPerSecond, cpuSeconds, opsPerCpuSecond }));
} else {
  console.log(`${name}: case ${c.id} -> ${expectedStatus} ${JSON.stringify(first.advisory_ids ?? [])}`);
  console.log(`  ${operations} verifications in ${elapsed.toFixed(3)} s (warm-up ${warmup} s) = ${opsPerSecond.toFixed(1)} ops/s, ${(1e3 / opsPerSecond).toFixed(3)} ms/op; ${opsPerCpuSecond.toFixed(1)} ops per CPU second`);
}
