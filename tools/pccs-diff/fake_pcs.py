#!/usr/bin/env python3
"""A loopback stand-in for Intel PCS (API v4) serving the Intel-signed vectors of this repository.

Used by tools/pccs-diff to feed Veritee and Intel's PCCS the same upstream. It serves:
  /sgx/certification/v4/pckcerts (GET with encrypted_ppid+pceid, or POST {platformManifest, pceid})
  /sgx/certification/v4/tcb, qe/identity, qve/identity, pckcrl
  /tdx/certification/v4/tcb, qe/identity
  /IntelSGXRootCA.der (the root CA CRL, for clients that reach it over plain HTTP)
and, as an HTTP proxy, answers CONNECT certificates.trustedservices.intel.com:443 by terminating TLS with a leaf from a
throwaway CA (--tls-dir) and serving the root CA CRL: Intel's PCCS downloads that CRL from a hard-wired Intel host.

Every request is appended to --log as one JSON line (method, path, query, selected headers), so a caller can count
what each PCCS asked upstream. Nothing here is Intel's code; the material comes from tests/vectors (see README.md).
"""

import argparse
import base64
import http.server
import json
import os
import ssl
import subprocess
import urllib.parse

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CASES = os.path.join(REPO, "tests", "vectors", "dcap", "cases")
PCCS_VECTORS = os.path.join(REPO, "tests", "vectors", "dcap", "pccs")

# One SGX platform (Processor CA, FMSPC 00A067110000) and one TDX platform (Platform CA, FMSPC B0C06F000000).
SGX_CASE = "sgx-v3-processorca-confsw-2025-07"
TDX_CASE = "tdx-v4-uptodate-2025-07"
SGX_PLATFORM_CASE = "sgx-v3-platformca-swhardening-2025-08"


def read(case, name, mode="rb"):
    with open(os.path.join(CASES, case, name), mode) as f:
        return f.read()


def header_chain(pem_text):
    """PCS percent-encodes issuer chains (space %20, LF %0A, + %2B, / %2F, = %3D)."""
    return urllib.parse.quote(pem_text, safe="-")


def quote_pck_chain(quote):
    """The PEM chain in a v3 SGX quote's certification data (type 5): leaf, intermediate, root."""
    sig_len = int.from_bytes(quote[432:436], "little")
    sig = quote[436:436 + sig_len]
    auth_len = int.from_bytes(sig[576:578], "little")
    cert = sig[578 + auth_len:]
    kind = int.from_bytes(cert[0:2], "little")
    size = int.from_bytes(cert[2:6], "little")
    if kind != 5:
        raise ValueError(f"certification data type {kind}, 5 expected")
    text = cert[6:6 + size].rstrip(b"\0").decode("ascii")
    marker = "-----END CERTIFICATE-----"
    parts = [p.strip() + "\n" + marker + "\n" for p in text.split(marker) if p.strip()]
    return parts


class Material:
    def __init__(self, not_available):
        chain = quote_pck_chain(read(SGX_CASE, "quote.bin"))
        self.pck_leaf = chain[0]
        self.pck_issuer_chain = {"processor": chain[1] + chain[2]}
        case = json.loads(read(SGX_CASE, "case.json"))
        comps = case["pck"]["sgx_tcb_comp_svns"]
        pcesvn = case["pck"]["pcesvn"]
        self.fmspc = case["pck"]["fmspc"].upper()
        self.ca = case["pck"]["ca"]
        tcb = {f"sgxtcbcomp{i + 1:02d}svn": v for i, v in enumerate(comps)}
        tcb["pcesvn"] = pcesvn
        tcbm = bytes(comps).hex().upper() + pcesvn.to_bytes(2, "little").hex().upper()
        self.pckcerts = [{"tcb": tcb, "tcbm": tcbm, "cert": urllib.parse.quote(self.pck_leaf, safe="-")}]
        if not_available:
            higher = dict(tcb)
            higher["pcesvn"] = pcesvn + 1
            self.pckcerts.insert(0, {"tcb": higher, "tcbm": bytes(comps).hex().upper() + (pcesvn + 1).to_bytes(2, "little").hex().upper(), "cert": "Not available"})
        self.pckcrl = {"processor": read(SGX_CASE, "pck_crl.der"), "platform": read(TDX_CASE, "pck_crl.der")}
        self.pckcrl_chain = {
            "processor": read(SGX_CASE, "pck_crl_issuer_chain.pem", "r"),
            "platform": read(TDX_CASE, "pck_crl_issuer_chain.pem", "r"),
        }
        self.tcb = {("sgx", self.fmspc): (read(SGX_CASE, "tcb_info.json"), read(SGX_CASE, "tcb_info_issuer_chain.pem", "r"))}
        tdx_case = json.loads(read(TDX_CASE, "case.json"))
        self.tcb[("tdx", tdx_case["pck"]["fmspc"].upper())] = (read(TDX_CASE, "tcb_info.json"), read(TDX_CASE, "tcb_info_issuer_chain.pem", "r"))
        plat_case = json.loads(read(SGX_PLATFORM_CASE, "case.json"))
        self.tcb[("sgx", plat_case["pck"]["fmspc"].upper())] = (read(SGX_PLATFORM_CASE, "tcb_info.json"), read(SGX_PLATFORM_CASE, "tcb_info_issuer_chain.pem", "r"))
        self.identity = {
            ("sgx", "qe"): (read(SGX_CASE, "qe_identity.json"), read(SGX_CASE, "qe_identity_issuer_chain.pem", "r")),
            ("tdx", "qe"): (read(TDX_CASE, "qe_identity.json"), read(TDX_CASE, "qe_identity_issuer_chain.pem", "r")),
        }
        with open(os.path.join(PCCS_VECTORS, "qve_identity.json"), "rb") as f:
            body = f.read()
        with open(os.path.join(PCCS_VECTORS, "qve_identity_issuer_chain.pem")) as f:
            self.identity[("sgx", "qve")] = (body, f.read())
        self.root_crl = read(SGX_CASE, "root_ca_crl.der")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    material = None
    log_path = None
    tls_context = None
    fail_status = None

    def log_message(self, fmt, *args):
        pass

    def record(self, extra=None):
        entry = {"method": self.command, "path": self.path,
                 "apiKey": self.headers.get("Ocp-Apim-Subscription-Key")}
        if extra:
            entry.update(extra)
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-ID", os.urandom(16).hex())
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        self.record()
        host = self.path.split(":")[0]
        if host != "certificates.trustedservices.intel.com" or self.tls_context is None:
            self.send(403)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        try:
            tls = self.tls_context.wrap_socket(self.connection, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                request += chunk
            body = self.material.root_crl
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: "
                        + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            tls.close()
        except (ssl.SSLError, OSError):
            pass
        self.close_connection = True

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.record({"body": body.decode("utf-8", "replace")[:200]})
        if url.path.endswith("/sgx/certification/v4/pckcerts"):
            self.pckcerts()
            return
        self.send(404)

    def do_GET(self):
        self.record()
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        m = self.material
        if self.fail_status:
            self.send(self.fail_status, headers={"Error-Code": "Upstream", "Error-Message": "fake PCS told to fail"})
            return
        path = url.path
        if path == "/IntelSGXRootCA.der":
            self.send(200, m.root_crl, {"Content-Type": "application/pkix-crl"})
            return
        for tee in ("sgx", "tdx"):
            prefix = f"/{tee}/certification/v4/"
            if not path.startswith(prefix):
                continue
            leaf = path[len(prefix):]
            if leaf == "pckcerts" and tee == "sgx":
                self.pckcerts()
                return
            if leaf == "tcb":
                item = m.tcb.get((tee, query.get("fmspc", "").upper()))
                if item is None:
                    self.send(404)
                    return
                self.send(200, item[0], {"Content-Type": "application/json", "TCB-Info-Issuer-Chain": header_chain(item[1])})
                return
            if leaf in ("qe/identity", "qve/identity"):
                item = m.identity.get((tee, leaf.split("/")[0]))
                if item is None:
                    self.send(404)
                    return
                self.send(200, item[0], {"Content-Type": "application/json", "SGX-Enclave-Identity-Issuer-Chain": header_chain(item[1])})
                return
            if leaf == "pckcrl" and tee == "sgx":
                ca = query.get("ca", "").lower()
                if ca not in m.pckcrl:
                    self.send(400)
                    return
                der = m.pckcrl[ca]
                if query.get("encoding", "pem").lower() == "der":
                    body, ctype = der, "application/pkix-crl"
                else:

                    b64 = base64.encodebytes(der).decode().replace("\n", "")
                    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
                    body = ("-----BEGIN X509 CRL-----\n" + "\n".join(lines) + "\n-----END X509 CRL-----\n").encode()
                    ctype = "application/x-pem-file"
                self.send(200, body, {"Content-Type": ctype, "SGX-PCK-CRL-Issuer-Chain": header_chain(m.pckcrl_chain[ca])})
                return
        self.send(404)

    def pckcerts(self):
        m = self.material
        body = json.dumps(m.pckcerts, separators=(",", ":")).encode()
        self.send(200, body, {
            "Content-Type": "application/json",
            "SGX-PCK-Certificate-Issuer-Chain": header_chain(m.pck_issuer_chain[m.ca]),
            "SGX-FMSPC": m.fmspc,
            "SGX-PCK-Certificate-CA-Type": m.ca,
        })


def make_tls(tls_dir):
    """A throwaway CA and a leaf for certificates.trustedservices.intel.com (for NODE_EXTRA_CA_CERTS)."""
    os.makedirs(tls_dir, exist_ok=True)
    ca_key, ca_crt = os.path.join(tls_dir, "ca.key"), os.path.join(tls_dir, "ca.crt")
    key, csr, crt = (os.path.join(tls_dir, n) for n in ("leaf.key", "leaf.csr", "leaf.crt"))
    ext = os.path.join(tls_dir, "leaf.ext")
    if not os.path.exists(crt):
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=pccs-diff throwaway CA")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=certificates.trustedservices.intel.com")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:certificates.trustedservices.intel.com\n")
        run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    return context


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--log", help="append one JSON line per request here")
    parser.add_argument("--tls-dir", help="make/keep a throwaway CA here and answer CONNECT for Intel's CRL host")
    parser.add_argument("--not-available", action="store_true", help="add a 'Not available' level to pckcerts")
    parser.add_argument("--fail", type=int, help="answer every GET with this status (upstream outage)")
    args = parser.parse_args()
    Handler.material = Material(args.not_available)
    Handler.log_path = args.log
    Handler.fail_status = args.fail
    if args.tls_dir:
        Handler.tls_context = make_tls(args.tls_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"fake PCS on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
