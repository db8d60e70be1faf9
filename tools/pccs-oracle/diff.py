#!/usr/bin/env python3
"""Sends the same PCCS requests to Intel's PCCS and to Veritee and prints where the answers differ.

Usage: diff.py INTEL_BASE VERITEE_BASE USER_TOKEN ADMIN_TOKEN
(bases like https://127.0.0.1:18081; both caches start empty and fetch from the same fake PCS, fake_pcs.py).
Compared per probe: status; media type; body (an error body of Veritee must start with Intel's text); the PCCS
headers (SGX-TCBm, SGX-FMSPC, SGX-PCK-Certificate-CA-Type, platform-count, Warning, and the issuer chains, decoded).
"""
import http.client
import json
import ssl
import sys
import urllib.parse

INTEL, VERITEE, USER, ADMIN = sys.argv[1:5]
PPID = "0123456789abcdef" * 48
QE = "00112233445566778899aabbccddeeff"
REG = json.dumps({"enc_ppid": PPID, "pce_id": "0000", "cpu_svn": "0c0c0303ff0200000000000000000000", "pce_svn": "0e00", "qe_id": "ffeeddccbbaa99887766554433221100", "platform_manifest": ""})
V4, V3, TDX = "/sgx/certification/v4/", "/sgx/certification/v3/", "/tdx/certification/v4/"
PROBES = [
    ("GET", V4 + "tcb?fmspc=00a067110000", None, {}),
    ("GET", V4 + "tcb?fmspc=00A067110000&update=early", None, {}),
    ("GET", V4 + "tcb?fmspc=00a06711000", None, {}),
    ("GET", V4 + "tcb?fmspc=00a067110000&update=all", None, {}),
    ("GET", V4 + "tcb?fmspc=00a067110000&fmspc=zz", None, {}),
    ("GET", TDX + "tcb?fmspc=b0c06f000000", None, {}),
    ("GET", V4 + "qe/identity", None, {}),
    ("GET", V4 + "qe/identity?update=Standard", None, {}),
    ("GET", V4 + "qve/identity", None, {}),
    ("GET", TDX + "qe/identity", None, {}),
    ("GET", V4 + "qe/identity?update=latest", None, {}),
    ("GET", V4 + "pckcrl?ca=processor", None, {}),
    ("GET", V4 + "pckcrl?ca=PLATFORM&encoding=der", None, {}),
    ("GET", V4 + "pckcrl?ca=both", None, {}),
    ("GET", V4 + "pckcert?qeid=%s&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000&encrypted_ppid=%s" % (QE, PPID), None, {}),
    ("GET", V4 + "pckcert?qeid=%s&cpusvn=0c0c0303ff0200000000000000000000&pcesvn=0e00&pceid=0000" % QE, None, {}),
    ("GET", V4 + "pckcert?qeid=%s&cpusvn=0a0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000" % QE, None, {}),
    ("GET", V4 + "pckcert?qeid=AA&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000", None, {}),
    ("GET", V4 + "pckcert?qeid=AA&cpusvn=0b0b&pcesvn=0d00&pceid=0000", None, {}),
    ("GET", V4 + "pckcert?qeid=AB&cpusvn=0b0b0202ff0100000000000000000000&pcesvn=0d00&pceid=0000&encrypted_ppid=" + "0" * 768, None, {}),
    ("POST", V4 + "platforms", REG, {"Content-Type": "application/json"}),
    ("POST", V4 + "platforms", REG, {"Content-Type": "application/json", "user-token": "wrong"}),
    ("POST", V4 + "platforms", REG, {"Content-Type": "application/json", "user-token": USER}),
    ("POST", V4 + "platforms", '{"qe_id":"00","pce_id":"00000"}', {"Content-Type": "application/json", "user-token": USER}),
    ("GET", V4 + "platforms", None, {"admin-token": ADMIN}),
    ("GET", V4 + "platforms?source=[]", None, {"admin-token": ADMIN}),
    ("GET", V4 + "platforms?source=00A067110000", None, {"admin-token": ADMIN}),
    ("GET", V4 + "platforms", None, {}),
    ("GET", V4 + "refresh?type=crls", None, {"admin-token": ADMIN}),
    ("GET", V3 + "tcb?fmspc=00a067110000", None, {}),
    ("GET", V3 + "pckcrl?ca=processor", None, {}),
    ("GET", "/tdx/certification/v3/tcb?fmspc=b0c06f000000", None, {}),
]
HEADERS = ["SGX-TCBm", "SGX-FMSPC", "SGX-PCK-Certificate-CA-Type", "platform-count", "Warning"]
CHAINS = ["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain", "SGX-Enclave-Identity-Issuer-Chain", "SGX-PCK-CRL-Issuer-Chain", "SGX-PCK-Certificate-Issuer-Chain"]


def send(base, method, path, body, headers):
    url = urllib.parse.urlsplit(base)
    cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": ssl._create_unverified_context()} if url.scheme == "https" else {}
    conn = cls(url.hostname, url.port, timeout=30, **kwargs)
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def main():
    same = differ = 0
    for method, path, body, headers in PROBES:
        a = send(INTEL, method, path, body, headers)
        b = send(VERITEE, method, path, body, headers)
        notes = []
        if a[0] != b[0]:
            notes.append("status %d vs %d" % (a[0], b[0]))
        ma, mb = a[1].get("content-type", "").split(";")[0], b[1].get("content-type", "").split(";")[0]
        if ma != mb and a[0] == 200:
            notes.append("media type %r vs %r" % (ma, mb))
        if a[0] == 200 and a[2] != b[2]:
            notes.append("body differs (%d vs %d bytes)" % (len(a[2]), len(b[2])))
        if a[0] != 200 and not b[2].startswith(a[2]):
            notes.append("error body %r vs %r" % (a[2][:60], b[2][:80]))
        for h in HEADERS:
            va, vb = a[1].get(h.lower()), b[1].get(h.lower())
            if (va is None) != (vb is None) or (va is not None and h != "Warning" and va != vb):
                notes.append("%s %r vs %r" % (h, va, vb))
        for h in CHAINS:
            va, vb = a[1].get(h.lower()), b[1].get(h.lower())
            if (va is None) != (vb is None):
                notes.append("%s present %s vs %s" % (h, va is not None, vb is not None))
            elif va is not None and (urllib.parse.unquote(va) != urllib.parse.unquote(vb) or not vb.endswith("%0A")):
                notes.append("%s differs" % h)
        if "request-id" not in b[1]:
            notes.append("no Request-ID from Veritee")
        label = "%s %s" % (method, path if len(path) < 90 else path[:87] + "...")
        if notes:
            differ += 1
            print("DIFF %-95s %d/%d  %s" % (label, a[0], b[0], "; ".join(notes)))
        else:
            same += 1
            print("same %-95s %d" % (label, a[0]))
    print("%d probes: %d same, %d differ" % (same + differ, same, differ))


main()
