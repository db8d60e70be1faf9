#!/usr/bin/env python3
"""A loopback Intel PCS for comparing Veritee's PCCS with Intel's PCCS (tools/pccs-oracle/README.md).

Serves the Intel-signed vectors the service tests use (tests/vectors/dcap): case sgx-v3-processorca-confsw-2025-07
(SGX TCB Info and QE identity of FMSPC 00A067110000, Processor CA CRL, its quote's PCK certificate as a one-entry
pckcerts set), the Platform CA CRL of sgx-v3-platformca-swhardening-2025-08, the TDX TCB Info and TD_QE identity of
tdx-v4-uptodate-2025-07 and a captured QvE identity. Logs every request line to stdout.
Usage: fake_pcs.py PORT
"""
import http.server
import os
import re
import sys
import urllib.parse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "vectors", "dcap")
SGX = os.path.join(ROOT, "cases", "sgx-v3-processorca-confsw-2025-07")
PLATFORM = os.path.join(ROOT, "cases", "sgx-v3-platformca-swhardening-2025-08")
TDX = os.path.join(ROOT, "cases", "tdx-v4-uptodate-2025-07")
PCCS = os.path.join(ROOT, "pccs")
FMSPC, TDX_FMSPC = "00A067110000", "B0C06F000000"


def read(folder, name, mode="rb"):
    with open(os.path.join(folder, name), mode) as f:
        return f.read()


def enc(text):
    return urllib.parse.quote(text, safe="")


PEMS = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", read(SGX, "quote.bin"), re.S)
LEAF = PEMS[0].decode() + "\n"
CHAIN = "".join(p.decode() + "\n" for p in PEMS[1:])
TCB = ",".join('"sgxtcbcomp%02dsvn":%d' % (i + 1, v) for i, v in enumerate([11, 11, 2, 2, 255, 1] + [0] * 10))
PCKCERTS = ('[{"tcb":{%s,"pcesvn":13},"tcbm":"0b0b0202ff01000000000000000000000d00","cert":"%s"}]' % (TCB, enc(LEAF))).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.command, self.path))
        sys.stdout.flush()

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        p = url.path
        fmspc = q.get("fmspc", "").upper()
        if p == "/sgx/certification/v4/tcb" and fmspc == FMSPC:
            return self.answer(200, read(SGX, "tcb_info.json"), [("TCB-Info-Issuer-Chain", enc(read(SGX, "tcb_info_issuer_chain.pem", "r")))])
        if p == "/tdx/certification/v4/tcb" and fmspc == TDX_FMSPC:
            return self.answer(200, read(TDX, "tcb_info.json"), [("TCB-Info-Issuer-Chain", enc(read(TDX, "tcb_info_issuer_chain.pem", "r")))])
        identities = {"/sgx/certification/v4/qe/identity": (SGX, "qe_identity"), "/sgx/certification/v4/qve/identity": (PCCS, "qve_identity"),
                      "/tdx/certification/v4/qe/identity": (TDX, "qe_identity")}
        if p in identities:
            folder, name = identities[p]
            return self.answer(200, read(folder, name + ".json"), [("SGX-Enclave-Identity-Issuer-Chain", enc(read(folder, name + "_issuer_chain.pem", "r")))])
        if p == "/sgx/certification/v4/pckcrl" and q.get("ca") in ("processor", "platform"):
            folder = SGX if q["ca"] == "processor" else PLATFORM
            return self.answer(200, read(folder, "pck_crl.der"), [("SGX-PCK-CRL-Issuer-Chain", enc(read(folder, "pck_crl_issuer_chain.pem", "r")))])
        if p == "/sgx/certification/v4/pckcerts":
            return self.answer(200, PCKCERTS, [("SGX-PCK-Certificate-Issuer-Chain", enc(CHAIN)), ("SGX-FMSPC", FMSPC.lower()),
                                               ("SGX-PCK-Certificate-CA-Type", "processor"), ("Content-Type", "application/json")])
        if p.endswith("IntelSGXRootCA.der") or p == "/rootcrl.der":
            return self.answer(200, read(SGX, "root_ca_crl.der"))
        return self.answer(404, b"", [("Error-Code", "NotFound")])

    def do_GET(self):
        self.route()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.route()


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
