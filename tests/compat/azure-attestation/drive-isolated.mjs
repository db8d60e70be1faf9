#!/usr/bin/env node
// Drives an isolated-mode instance with the official Azure SDK client (@azure/attestation 1.0.0): signed setPolicy,
// signed resetPolicy, list/add/remove policy management certificates, and a refused unsigned setPolicy.
// Prints {"steps":[{name, ok, detail}]}.
//
//   node drive-isolated.mjs --endpoint https://127.0.0.1:PORT --admin-token T --signer-key K.pem --signer-cert C.pem
//                           --new-key K2.pem --new-cert C2.pem
import fs from 'node:fs';
import { AttestationAdministrationClient, KnownAttestationType } from '@azure/attestation';
import { option, recorder, expect, bearer } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name) => option(args, name);
const endpoint = opt('--endpoint');
const need = ['--admin-token', '--signer-key', '--signer-cert', '--new-key', '--new-cert'].map(opt);
if (!endpoint || need.some((v) => !v)) {
  console.error('usage: node drive-isolated.mjs --endpoint URL --admin-token T --signer-key K --signer-cert C --new-key K2 --new-cert C2');
  process.exit(2);
}
const [adminToken, keyFile, certFile, newKeyFile, newCertFile] = need;
const key = fs.readFileSync(keyFile, 'utf8');
const cert = fs.readFileSync(certFile, 'utf8');
const newKey = fs.readFileSync(newKeyFile, 'utf8');
const newCert = fs.readFileSync(newCertFile, 'utf8');
const credential = bearer(adminToken);
const admin = new AttestationAdministrationClient(endpoint, credential, {
  allowInsecureConnection: false, retryOptions: { maxRetries: 0 },
  validationOptions: { validateToken: true, validateIssuer: true, expectedIssuer: endpoint },
});

const { steps, step } = recorder();
const policy = 'version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type=="x-ms-sgx-svn"] => issue(type="iso", value=c.value);};';

await step('unsigned setPolicy is refused', async () => {
  try { await admin.setPolicy(KnownAttestationType.SgxEnclave, policy); } catch (e) { expect(e.statusCode === 400, 'status 400, got ' + e.statusCode); return { code: e.code }; }
  throw new Error('an unsigned policy was accepted by an isolated instance');
});
await step('signed setPolicy', async () => {
  const r = (await admin.setPolicy(KnownAttestationType.SgxEnclave, policy, { privateKey: key, certificate: cert })).body;
  expect(r.policyResolution === 'Updated', 'Updated, got ' + r.policyResolution);
  expect(r.policySigner && r.policySigner.certificates.length === 1, 'policySigner returned');
});
await step('getPolicy returns the signed policy', async () => {
  const p = (await admin.getPolicy(KnownAttestationType.SgxEnclave)).body;
  expect(p === policy, 'policy text round trip');
});
await step('signed resetPolicy', async () => {
  const r = (await admin.resetPolicy(KnownAttestationType.SgxEnclave, { privateKey: key, certificate: cert })).body;
  expect(r.policyResolution === 'Removed', 'Removed, got ' + r.policyResolution);
});
await step('list certificates', async () => {
  const r = (await admin.getPolicyManagementCertificates()).body;
  expect(r.length === 1, 'one signer, got ' + r.length);
});
await step('add certificate', async () => {
  const r = (await admin.addPolicyManagementCertificate(newCert, key, cert)).body;
  expect(r.certificateResolution === 'IsPresent', 'IsPresent, got ' + r.certificateResolution);
});
await step('new signer sets a policy', async () => {
  const r = (await admin.setPolicy(KnownAttestationType.OpenEnclave, policy, { privateKey: newKey, certificate: newCert })).body;
  expect(r.policyResolution === 'Updated', 'Updated');
});
await step('remove certificate', async () => {
  const r = (await admin.removePolicyManagementCertificate(newCert, key, cert)).body;
  expect(r.certificateResolution === 'IsAbsent', 'IsAbsent, got ' + r.certificateResolution);
  const list = (await admin.getPolicyManagementCertificates()).body;
  expect(list.length === 1, 'back to one signer');
});
await step('removed signer is refused', async () => {
  try { await admin.setPolicy(KnownAttestationType.OpenEnclave, policy, { privateKey: newKey, certificate: newCert }); } catch (e) { expect(e.statusCode === 400, 'status 400'); return { code: e.code }; }
  throw new Error('a removed signer was accepted');
});
console.log(JSON.stringify({ steps }));
