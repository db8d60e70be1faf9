#!/usr/bin/env node
// Drives an MAA-compatible service with the official Azure SDK client (@azure/attestation 1.0.0), its own token
// validation on (signature against the service's /certs, issuer). Prints one JSON object: {"steps":[{name, ok, detail}]}.
//
//   node drive.mjs --endpoint http://127.0.0.1:PORT --admin-token TOKEN --evidence DIR [--no-time-checks]
//
// DIR holds sgx-quote.debug.bin, oe-report.debug.bin and runtime-data.bin. --no-time-checks keeps signature and
// issuer validation but skips exp/nbf (for services whose clock is pinned to the collateral's past).
import fs from 'node:fs';
import path from 'node:path';
import { option, recorder, expect, bearer } from './lib.mjs';
import { AttestationClient, AttestationAdministrationClient, KnownAttestationType } from '@azure/attestation';

const args = process.argv.slice(2);
const opt = (name) => option(args, name);
const endpoint = opt('--endpoint');
const adminToken = opt('--admin-token');
const evidence = opt('--evidence');
if (!endpoint || !adminToken || !evidence) {
  console.error('usage: node drive.mjs --endpoint URL --admin-token TOKEN --evidence DIR [--no-time-checks]');
  process.exit(2);
}
const timeChecks = !args.includes('--no-time-checks');
const validationOptions = {
  validateToken: true, validateExpirationTime: timeChecks, validateNotBeforeTime: timeChecks,
  validateIssuer: true, expectedIssuer: endpoint,
};
const common = { allowInsecureConnection: true, retryOptions: { maxRetries: 0 }, validationOptions };
const credential = bearer(adminToken);
const client = new AttestationClient(endpoint, common);
const admin = new AttestationAdministrationClient(endpoint, credential, common);

const quote = fs.readFileSync(path.join(evidence, 'sgx-quote.debug.bin'));
const report = fs.readFileSync(path.join(evidence, 'oe-report.debug.bin'));
const runtime = fs.readFileSync(path.join(evidence, 'runtime-data.bin'));
const hex = (b) => Buffer.from(b).toString('hex');

const { steps, step } = recorder();

await step('openid', async () => {
  const m = await client.getOpenIdMetadata();
  expect(m.jwks_uri === endpoint + '/certs', 'jwks_uri');
});
await step('signers', async () => {
  const s = await client.getAttestationSigners();
  expect(s.length >= 1 && s[0].certificates.length >= 1, 'at least one signer with a certificate');
  return { count: s.length };
});
await step('attestSgxEnclave', async () => {
  const r = (await client.attestSgxEnclave(quote, { runTimeData: runtime })).body;
  expect(r.issuer === endpoint, 'issuer');
  expect(r.isDebuggable === true, 'isDebuggable');
  expect(r.productId === 1 && r.svn === 1, 'productId/svn');
  expect(hex(r.enclaveHeldData) === hex(runtime), 'enclaveHeldData = runtime data');
  expect(r.verifierType === 'sgx', 'verifierType');
  return { mrEnclave: r.mrEnclave, mrSigner: r.mrSigner };
});
await step('attestOpenEnclave', async () => {
  const r = (await client.attestOpenEnclave(report, { runTimeData: runtime })).body;
  expect(hex(r.enclaveHeldData) === hex(runtime), 'enclaveHeldData');
});
await step('attestSgxEnclave runTimeJson', async () => {
  const r = (await client.attestSgxEnclave(quote, { runTimeJson: runtime })).body;
  expect(r.runTimeClaims && r.runTimeClaims.jwk, 'runTimeClaims.jwk');
});
await step('attestSgxEnclave draft policy', async () => {
  const draft = 'version=1.0; authorizationrules{=> permit();}; issuancerules{=> issue(type="custom-name", value="veritee");};';
  const r = (await client.attestSgxEnclave(quote, { runTimeData: runtime, draftPolicyForAttestation: draft })).body;
  expect(r.policyClaims['custom-name'] === 'veritee', 'draft policy claim');
});
const policy = 'version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type=="x-ms-sgx-svn"] => issue(type="compat-svn", value=c.value);};';
await step('getPolicy default', async () => {
  const p = (await admin.getPolicy(KnownAttestationType.SgxEnclave)).body;
  expect(p.includes('authorizationrules'), 'default policy text');
});
await step('setPolicy', async () => {
  const r = (await admin.setPolicy(KnownAttestationType.SgxEnclave, policy)).body;
  expect(r.policyResolution === 'Updated', 'policyResolution Updated, got ' + r.policyResolution);
});
await step('getPolicy after set', async () => {
  const p = (await admin.getPolicy(KnownAttestationType.SgxEnclave)).body;
  expect(p === policy, 'policy round trip');
});
await step('attest under the new policy', async () => {
  const r = (await client.attestSgxEnclave(quote, { runTimeData: runtime })).body;
  expect(r.policyClaims['compat-svn'] === 1, 'policy claim from the stored policy');
});
await step('resetPolicy', async () => {
  const r = (await admin.resetPolicy(KnownAttestationType.SgxEnclave)).body;
  expect(r.policyResolution === 'Removed', 'policyResolution Removed, got ' + r.policyResolution);
});
// The 1.0.0 client has no attestTdxVm, but its policy calls take the type as a string: TdxVm policies round-trip.
const tdxPolicy = 'version= 1.2;authorizationrules{[type=="tdx_td_attributes_debug", value==false] => permit();};issuancerules{c:[type=="tdx_mrtd"] => issue(type="mrtd", value=c.value);};';
await step('TdxVm policy set, get and reset', async () => {
  const d = (await admin.getPolicy('TdxVm')).body;
  expect(d.includes('authorizationrules') && !d.includes('x-ms-sgx'), 'TdxVm default policy, got ' + d);
  const r = (await admin.setPolicy('TdxVm', tdxPolicy)).body;
  expect(r.policyResolution === 'Updated', 'policyResolution Updated, got ' + r.policyResolution);
  expect((await admin.getPolicy('TdxVm')).body === tdxPolicy, 'TdxVm policy round trip');
  expect((await admin.getPolicy(KnownAttestationType.SgxEnclave)).body !== tdxPolicy, 'SgxEnclave policy untouched');
  const x = (await admin.resetPolicy('TdxVm')).body;
  expect(x.policyResolution === 'Removed', 'policyResolution Removed, got ' + x.policyResolution);
});
await step('getPolicyManagementCertificates', async () => {
  const r = (await admin.getPolicyManagementCertificates()).body;
  expect(Array.isArray(r) && r.length === 0, 'no certificates on an AAD instance');
});
await step('attest tampered quote is refused', async () => {
  const bad = Buffer.from(quote); bad[100] ^= 1;
  try { await client.attestSgxEnclave(bad, { runTimeData: runtime }); } catch (e) {
    expect(e.statusCode === 400, 'status 400, got ' + e.statusCode);
    return { code: e.code };
  }
  throw new Error('a tampered quote was accepted');
});
console.log(JSON.stringify({ steps }));
