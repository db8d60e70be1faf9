#!/usr/bin/env node
// Drives a Veritee cluster through its load balancer with the official Azure SDK client (@azure/attestation 1.0.0),
// the client's own token validation on (signature against the instance's /certs, issuer, exp/nbf). The evidence is a
// quote of the simulated platform the nodes trust. Each call's serving node is read from the load balancer's
// X-Veritee-Upstream response header, so "on every node" is checked, not assumed. Prints {"steps":[{name, ok, detail}]}.
//
//   node drive-cluster.mjs --endpoint https://127.0.0.1:PORT --admin-token TOKEN --evidence DIR
//        --mrenclave HEX --product-id N --svn N [--rounds 6] [--nodes 3]
//
// DIR holds quote.bin (report data = SHA-256 of runtime-data.bin) and runtime-data.bin.
import fs from 'node:fs';
import path from 'node:path';
import { option, recorder, expect, bearer } from './lib.mjs';
import { AttestationClient, AttestationAdministrationClient, KnownAttestationType } from '@azure/attestation';

const args = process.argv.slice(2);
const opt = (name, fallback) => option(args, name) ?? fallback;
const endpoint = opt('--endpoint');
const adminToken = opt('--admin-token');
const evidence = opt('--evidence');
const mrEnclave = opt('--mrenclave');
const productId = Number(opt('--product-id'));
const svn = Number(opt('--svn'));
const rounds = Number(opt('--rounds', '6'));
const nodes = Number(opt('--nodes', '3'));
if (!endpoint || !adminToken || !evidence || !mrEnclave || Number.isNaN(productId) || Number.isNaN(svn)) {
  console.error('usage: node drive-cluster.mjs --endpoint URL --admin-token TOKEN --evidence DIR --mrenclave HEX --product-id N --svn N [--rounds N] [--nodes N]');
  process.exit(2);
}

// Records which node nginx sent each call to.
const served = [];
const upstreamPolicy = {
  policy: {
    name: 'veritee-upstream-recorder',
    async sendRequest(request, next) {
      const response = await next(request);
      served.push({ path: new URL(request.url).pathname, upstream: response.headers.get('x-veritee-upstream') ?? null });
      return response;
    },
  },
  position: 'perCall',
};
const validationOptions = { validateToken: true, validateExpirationTime: true, validateNotBeforeTime: true, validateIssuer: true, expectedIssuer: endpoint };
const common = { retryOptions: { maxRetries: 0 }, validationOptions, additionalPolicies: [upstreamPolicy] };
const credential = bearer;
const client = new AttestationClient(endpoint, common);
const admin = new AttestationAdministrationClient(endpoint, credential(adminToken), common);
const intruder = new AttestationAdministrationClient(endpoint, credential(adminToken + '-wrong'), common);

const quote = fs.readFileSync(path.join(evidence, 'quote.bin'));
const runtime = fs.readFileSync(path.join(evidence, 'runtime-data.bin'));
const hex = (b) => Buffer.from(b).toString('hex');

const { steps, step } = recorder();

// Attests `rounds` times; checks every result; returns the distinct nodes that served the attestations.
async function attestRounds(check) {
  const from = served.length;
  for (let i = 0; i < rounds; i++) {
    const r = (await client.attestSgxEnclave(quote, { runTimeData: runtime })).body;
    expect(r.issuer === endpoint, 'issuer ' + r.issuer);
    expect(String(r.mrEnclave).toLowerCase() === mrEnclave.toLowerCase(), 'mrEnclave');
    expect(r.productId === productId && r.svn === svn, `productId/svn ${r.productId}/${r.svn}`);
    expect(r.isDebuggable === false, 'isDebuggable');
    expect(hex(r.enclaveHeldData) === hex(runtime), 'enclaveHeldData = runtime data');
    expect(r.verifierType === 'sgx', 'verifierType');
    check(r);
  }
  const upstreams = [...new Set(served.slice(from).filter((s) => s.path.startsWith('/attest/')).map((s) => s.upstream))];
  expect(!upstreams.includes(null), 'every answer names its node (X-Veritee-Upstream)');
  expect(upstreams.length === nodes, `attestations served by ${nodes} nodes, got ${JSON.stringify(upstreams)}`);
  return { upstreams };
}

const marker = 'cluster-' + Date.now();
const policy = `version=1.0; authorizationrules{=> permit();}; issuancerules{c:[type=="x-ms-sgx-svn"] => issue(type="compat-svn", value=c.value); => issue(type="compat-marker", value="${marker}");};`;

await step('openid', async () => {
  const m = await client.getOpenIdMetadata();
  expect(m.issuer === endpoint, 'issuer');
  expect(m.jwks_uri === endpoint + '/certs', 'jwks_uri');
});
await step('signers', async () => {
  const s = await client.getAttestationSigners();
  expect(s.length === 1 && s[0].certificates.length >= 1, 'one signer (the shared instance key) with a certificate');
  return { keyId: s[0].keyId };
});
await step('attest through every node', () => attestRounds((r) => expect(r.policyClaims['compat-marker'] === undefined, 'no marker before the policy')));
await step('setPolicy', async () => {
  const r = (await admin.setPolicy(KnownAttestationType.SgxEnclave, policy)).body;
  expect(r.policyResolution === 'Updated', 'policyResolution Updated, got ' + r.policyResolution);
});
await step('getPolicy after set', async () => {
  const p = (await admin.getPolicy(KnownAttestationType.SgxEnclave)).body;
  expect(p === policy, 'policy round trip');
});
await step('attest under the new policy on every node', () => attestRounds((r) => {
  expect(r.policyClaims['compat-marker'] === marker, 'marker claim from the stored policy');
  expect(r.policyClaims['compat-svn'] === svn, 'svn claim from the stored policy');
}));
await step('resetPolicy', async () => {
  const r = (await admin.resetPolicy(KnownAttestationType.SgxEnclave)).body;
  expect(r.policyResolution === 'Removed', 'policyResolution Removed, got ' + r.policyResolution);
});
await step('attest after reset on every node', () => attestRounds((r) => expect(r.policyClaims['compat-marker'] === undefined, 'marker gone after reset')));
await step('getPolicyManagementCertificates', async () => {
  const r = (await admin.getPolicyManagementCertificates()).body;
  expect(Array.isArray(r) && r.length === 0, 'no certificates on an AAD instance');
});
await step('tampered quote is refused', async () => {
  const bad = Buffer.from(quote); bad[100] ^= 1;
  try { await client.attestSgxEnclave(bad, { runTimeData: runtime }); } catch (e) {
    expect(e.statusCode === 400, 'status 400, got ' + e.statusCode);
    return { code: e.code };
  }
  throw new Error('a tampered quote was accepted');
});
await step('bearer token required', async () => {
  try { await intruder.setPolicy(KnownAttestationType.SgxEnclave, policy); } catch (e) {
    expect(e.statusCode === 401, 'status 401, got ' + e.statusCode);
    return { code: e.code };
  }
  throw new Error('a policy change with a wrong bearer token was accepted');
});
console.log(JSON.stringify({ steps, served: served.length }));
