#!/usr/bin/env python3
"""Side-by-side diff of Veritee's PCCS routes and Intel's PCCS over the same fake PCS.

For each fill mode (LAZY, REQ, OFFLINE) it starts a fresh fake PCS (fake_pcs.py), a fresh Intel PCCS (from an
installed copy you give with --intel-pccs; see README.md) and a fresh `veritee serve --pccs <mode>`, sends both the
same ordered request sequence, and prints, per request, the status, the headers a client may read and the body of each
side, marking every difference. Upstream requests each side caused are counted from the fake PCS's log.

Nothing of Intel's is in this repository; the script only starts the copy you point it at.
"""

import argparse
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import fake_pcs  # noqa: E402

USER_TOKEN = "pccs-diff-user-token"
ADMIN_TOKEN = "pccs-diff-admin-token"
QE_ID = "00112233445566778899AABBCCDDEEFF"
PCE_ID = "0000"
CPUSVN = "0B0B0202FF0100000000000000000000"
CPUSVN_HIGHER = "0C0C0303FF0200000000000000000000"
CPUSVN_LOWER = "0A0B0202FF0100000000000000000000"
PCESVN = "0D00"
ENC_PPID = "AB" * 384
SGX_FMSPC = "00A067110000"
TDX_FMSPC = "B0C06F000000"
ROOT_CDP = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

# Response headers a client may read; everything else (Date, Connection, ETag, X-Powered-By, ...) is ignored.
COMPARED_HEADERS = [
    "content-type", "sgx-tcbm", "sgx-fmspc", "sgx-pck-certificate-ca-type", "sgx-pck-certificate-issuer-chain",
    "sgx-pck-crl-issuer-chain", "tcb-info-issuer-chain", "sgx-tcb-info-issuer-chain", "sgx-enclave-identity-issuer-chain",
    "platform-count", "warning", "request-id",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def platform_collaterals(material):
    """A pcsclient-shaped platform_collaterals.json (API v4) for the fake PCS's one SGX platform."""
    tcb_sgx = json.loads(material.tcb[("sgx", SGX_FMSPC)][0])
    tcb_tdx = json.loads(material.tcb[("tdx", TDX_FMSPC)][0])
    platform = {"enc_ppid": ENC_PPID.lower(), "pce_id": PCE_ID, "cpu_svn": CPUSVN.lower(), "pce_svn": PCESVN.lower(),
                "qe_id": QE_ID.lower(), "platform_manifest": ""}
    return {
        "platforms": [platform],
        "collaterals": {
            "version": 4,
            "pck_certs": [{"qe_id": QE_ID.lower(), "pce_id": PCE_ID, "enc_ppid": ENC_PPID.lower(), "platform_manifest": "",
                           "certs": [c for c in material.pckcerts if c["cert"] != "Not available"]}],
            "tcbinfos": [{"fmspc": SGX_FMSPC, "sgx_tcbinfo": tcb_sgx}, {"fmspc": TDX_FMSPC, "tdx_tcbinfo": tcb_tdx}],
            "pckcacrl": {"processorCrl": material.pckcrl["processor"].hex(), "platformCrl": material.pckcrl["platform"].hex()},
            "qeidentity": material.identity[("sgx", "qe")][0].decode(),
            "tdqeidentity": material.identity[("tdx", "qe")][0].decode(),
            "qveidentity": material.identity[("sgx", "qve")][0].decode(),
            "certificates": {
                "SGX-PCK-Certificate-Issuer-Chain": {"PROCESSOR": fake_pcs.header_chain(material.pck_issuer_chain["processor"]),
                                                     "PLATFORM": fake_pcs.header_chain(material.pckcrl_chain["platform"])},
                "TCB-Info-Issuer-Chain": fake_pcs.header_chain(material.tcb[("sgx", SGX_FMSPC)][1]),
                "SGX-Enclave-Identity-Issuer-Chain": fake_pcs.header_chain(material.identity[("sgx", "qe")][1]),
            },
            "rootcacrl": material.root_crl.hex(),
            "rootcacrl_cdp": ROOT_CDP,
        },
    }


def probes(mode, material):
    """The ordered request sequence: (label, method, path, headers, body). Stateful: later probes see earlier effects."""
    v4, tdx, v3 = "/sgx/certification/v4/", "/tdx/certification/v4/", "/sgx/certification/v3/"
    admin, user = {"admin-token": ADMIN_TOKEN}, {"user-token": USER_TOKEN}
    pck = f"pckcert?qeid={QE_ID}&cpusvn={CPUSVN}&pcesvn={PCESVN}&pceid={PCE_ID}"
    reg = {"qe_id": QE_ID, "pce_id": PCE_ID, "cpu_svn": CPUSVN, "pce_svn": PCESVN, "enc_ppid": ENC_PPID, "platform_manifest": ""}
    seq = []
    add = lambda label, path, method="GET", headers=None, body=None: seq.append((label, method, path, headers or {}, body))
    if mode == "offline":
        add("import: no token", v4 + "platformcollateral", "PUT", {"Content-Type": "application/json"}, platform_collaterals(material))
        add("import", v4 + "platformcollateral", "PUT", {"Content-Type": "application/json", **admin}, platform_collaterals(material))
    if mode in ("req", "offline"):
        add("register: no token", v4 + "platforms", "POST", {"Content-Type": "application/json"}, reg)
        add("register: wrong token", v4 + "platforms", "POST", {"Content-Type": "application/json", "user-token": "wrong"}, reg)
        add("register", v4 + "platforms", "POST", {"Content-Type": "application/json", **user}, reg)
        add("queue", v4 + "platforms", "GET", admin)
        add("queue again (destructive read)", v4 + "platforms", "GET", admin)
    add("tcb sgx", v4 + f"tcb?fmspc={SGX_FMSPC}")
    add("tcb sgx lower-case fmspc, update=EARLY", v4 + f"tcb?fmspc={SGX_FMSPC.lower()}&update=EARLY")
    add("tcb fmspc short", v4 + "tcb?fmspc=00A0671100")
    add("tcb fmspc not hex", v4 + "tcb?fmspc=ZZA067110000")
    add("tcb update=all", v4 + f"tcb?fmspc={SGX_FMSPC}&update=all")
    add("tcb repeated fmspc (first wins)", v4 + f"tcb?fmspc={SGX_FMSPC}&fmspc=ZZ")
    add("tcb tcbEvaluationDataNumber ignored", v4 + f"tcb?fmspc={SGX_FMSPC}&tcbEvaluationDataNumber=17")
    add("tcb unknown fmspc", v4 + "tcb?fmspc=112233445566")
    add("tdx tcb", tdx + f"tcb?fmspc={TDX_FMSPC}")
    add("qe identity", v4 + "qe/identity")
    add("qe identity update=bogus", v4 + "qe/identity?update=bogus")
    add("qve identity", v4 + "qve/identity")
    add("tdx qe identity", tdx + "qe/identity")
    add("tdx qve identity (not routed)", tdx + "qve/identity")
    add("pckcrl processor (hex)", v4 + "pckcrl?ca=processor")
    add("pckcrl PROCESSOR der", v4 + "pckcrl?ca=PROCESSOR&encoding=der")
    add("pckcrl platform pem", v4 + "pckcrl?ca=platform&encoding=pem")
    add("pckcrl bad ca", v4 + "pckcrl?ca=root")
    add("rootcacrl", v4 + "rootcacrl")
    add("crl by CDP", v4 + "crl?uri=" + ROOT_CDP)
    add("crl loopback uri", v4 + "crl?uri=http://127.0.0.1/x.crl")
    if mode == "lazy":
        add("pckcert unknown platform, no PPID", v4 + pck)
        add("pckcert unknown platform, zero PPID", v4 + pck + "&encrypted_ppid=" + "0" * 768)
    add("pckcert", v4 + pck + "&encrypted_ppid=" + ENC_PPID)
    add("pckcert raw TCB higher", v4 + f"pckcert?qeid={QE_ID}&cpusvn={CPUSVN_HIGHER}&pcesvn=0E00&pceid={PCE_ID}")
    add("pckcert raw TCB lower", v4 + f"pckcert?qeid={QE_ID}&cpusvn={CPUSVN_LOWER}&pcesvn={PCESVN}&pceid={PCE_ID}")
    add("pckcert cpusvn short", v4 + f"pckcert?qeid={QE_ID}&cpusvn=0B0B&pcesvn={PCESVN}&pceid={PCE_ID}")
    add("pckcert pceid missing", v4 + f"pckcert?qeid={QE_ID}&cpusvn={CPUSVN}&pcesvn={PCESVN}")
    add("pckcert unknown platform (lower-case qeid of another)", v4 + f"pckcert?qeid={'9' * 32}&cpusvn={CPUSVN}&pcesvn={PCESVN}&pceid={PCE_ID}")
    add("cache listing all", v4 + "platforms?source=[]", "GET", admin)
    add("cache listing one fmspc", v4 + f"platforms?source=[{SGX_FMSPC}]", "GET", admin)
    add("cache listing bare fmspc", v4 + f"platforms?source={SGX_FMSPC}", "GET", admin)
    add("platforms no admin token", v4 + "platforms", "GET", user)
    add("refresh", v4 + "refresh", "POST", admin)
    add("refresh certs one fmspc", v4 + f"refresh?type=certs&fmspc={SGX_FMSPC}", "POST", admin)
    add("refresh certs all (empty)", v4 + "refresh?type=certs&fmspc=", "POST", admin)
    add("refresh type=crls", v4 + "refresh?type=crls", "POST", admin)
    add("refresh no token", v4 + "refresh", "POST")
    add("v3 tcb", v3 + f"tcb?fmspc={SGX_FMSPC}")
    add("v3 pckcrl", v3 + "pckcrl?ca=processor")
    add("tdx v3 tcb (not mounted)", "/tdx/certification/v3/" + f"tcb?fmspc={TDX_FMSPC}")
    add("pckcerts (not routed)", v4 + "pckcerts")
    add("appraisalpolicy none", v4 + f"appraisalpolicy?fmspc={SGX_FMSPC}")
    add("malformed JSON registration", v4 + "platforms", "POST", {"Content-Type": "application/json", **user}, "{not json")
    add("oversized body", v4 + "platforms", "POST", {"Content-Type": "application/json", **user}, "x" * (3 * 1024 * 1024))
    return seq


class Side:
    def __init__(self, name, port, tls):
        self.name, self.port, self.tls = name, port, tls

    def request(self, method, path, headers, body):
        if self.tls:
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=60, context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        try:
            try:
                conn.request(method, path, body=data, headers=headers)
            except BrokenPipeError:
                # The server answered (413) and closed before the whole body was sent: its answer is still readable.
                pass
            response = conn.getresponse()
            payload = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
        except (OSError, http.client.HTTPException) as e:
            return 0, {}, f"transport error: {e}".encode()
        finally:
            conn.close()


def show_body(payload):
    if len(payload) <= 160:
        try:
            return json.dumps(payload.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return f"{len(payload)} bytes sha256:{hashlib.sha256(payload).hexdigest()[:16]}"


def normalise_headers(headers):
    out = {}
    for name in COMPARED_HEADERS:
        if name in headers:
            value = headers[name]
            if name == "request-id":
                value = "<32 hex>" if len(value) == 32 and all(c in "0123456789abcdef" for c in value) else value
            out[name] = value
    return out


def upstream_count(log_path):
    if not os.path.exists(log_path):
        return 0
    with open(log_path) as f:
        return sum(1 for _ in f)


def start_intel(intel_dir, mode, port, upstream_port, tls_dir, work):
    config_dir = os.path.join(work, "intel-config")
    os.makedirs(config_dir, exist_ok=True)
    config = {
        "HTTPS_PORT": port, "hosts": "127.0.0.1", "uri": f"http://127.0.0.1:{upstream_port}/sgx/certification/v4/",
        "ApiKey": "pccs-diff-api-key", "proxy": "", "RefreshSchedule": "0 0 1 * * *",
        "UserTokenHash": hashlib.sha512(USER_TOKEN.encode()).hexdigest(),
        "AdminTokenHash": hashlib.sha512(ADMIN_TOKEN.encode()).hexdigest(),
        "MaxRequestBodySize": "2MB", "HeadersTimeoutSeconds": 10, "RequestTimeoutSeconds": 15, "KeepAliveTimeoutSeconds": 60,
        "CachingFillMode": mode.upper(), "OPENSSL_FIPS_MODE": False, "LogLevel": "debug", "DB_CONFIG": "sqlite",
        "sqlite": {"options": {"dialect": "sqlite", "define": {"freezeTableName": True}, "logging": False,
                               "storage": os.path.join(work, "intel-pckcache.db")}},
    }
    with open(os.path.join(config_dir, "default.json"), "w") as f:
        json.dump(config, f, indent=1)
    ssl_dir = os.path.join(intel_dir, "ssl_key")
    if not os.path.exists(os.path.join(ssl_dir, "file.crt")):
        os.makedirs(ssl_dir, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", os.path.join(ssl_dir, "private.pem"), "-out", os.path.join(ssl_dir, "file.crt"),
                        "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
    env = dict(os.environ, NODE_ENV="production", NODE_CONFIG_DIR=config_dir,
               HTTPS_PROXY=f"http://127.0.0.1:{upstream_port}", NODE_EXTRA_CA_CERTS=os.path.join(tls_dir, "ca.crt"))
    log = open(os.path.join(work, "intel.out"), "w")
    return subprocess.Popen(["node", "pccs_server.js"], cwd=intel_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_veritee(veritee, mode, port, upstream_port, work):
    data = os.path.join(work, "veritee-data")
    os.makedirs(data, exist_ok=True)
    args = veritee + [
        "serve", "--urls", f"http://127.0.0.1:{port}", "--data", data,
        "--pccs", mode, "--collateral-service", f"http://127.0.0.1:{upstream_port}",
        "--root-ca-crl", f"http://127.0.0.1:{upstream_port}/IntelSGXRootCA.der",
        "--pcs-key", "pccs-diff-api-key",
        "--pccs-user-token-hash", hashlib.sha512(USER_TOKEN.encode()).hexdigest(),
        "--pccs-admin-token-hash", hashlib.sha512(ADMIN_TOKEN.encode()).hexdigest(),
    ]
    log = open(os.path.join(work, "veritee.out"), "w")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process):
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_mode(args, mode, out):
    work = tempfile.mkdtemp(prefix=f"pccs-diff-{mode}-")
    tls_dir = os.path.join(work, "tls")
    processes = []
    try:
        pcs_ports = {"intel": free_port(), "veritee": free_port()}
        for side, pcs_port in pcs_ports.items():
            processes.append(subprocess.Popen(
                [sys.executable, os.path.join(HERE, "fake_pcs.py"), "--port", str(pcs_port),
                 "--log", os.path.join(work, f"upstream-{side}.log"), "--tls-dir", tls_dir],
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"fake-{side}.err"), "w"), start_new_session=True))
            wait_port(pcs_port)
        intel_port, veritee_port = free_port(), free_port()
        processes.append(start_intel(args.intel_pccs, mode, intel_port, pcs_ports["intel"], tls_dir, work))
        processes.append(start_veritee(args.veritee, mode, veritee_port, pcs_ports["veritee"], work))
        wait_port(intel_port)
        wait_port(veritee_port, 120)
        intel, veritee = Side("intel", intel_port, True), Side("veritee", veritee_port, False)
        material = fake_pcs.Material(False)
        differences = 0
        out.write(f"\n## {mode.upper()}\n\n| # | request | Intel PCCS 1.27 | Veritee | same? |\n|---|---|---|---|---|\n")
        for i, (label, method, path, headers, body) in enumerate(probes(mode, material), 1):
            before = {s: upstream_count(os.path.join(work, f"upstream-{s}.log")) for s in pcs_ports}
            a = intel.request(method, path, headers, body)
            b = veritee.request(method, path, headers, body)
            time.sleep(0.05)
            after = {s: upstream_count(os.path.join(work, f"upstream-{s}.log")) for s in pcs_ports}
            cells = []
            for side, (status, hdrs, payload) in (("intel", a), ("veritee", b)):
                hdr = normalise_headers(hdrs)
                cells.append((status, hdr, payload, after[side] - before[side]))
            same = cells[0][0] == cells[1][0] and cells[0][2] == cells[1][2]
            # Veritee keeps Intel's error text as the start of its body and says why after it (docs/pccs.md).
            extended = (not same and cells[0][0] == cells[1][0] and cells[0][0] >= 400 and len(cells[0][2]) > 0
                        and cells[1][2].startswith(cells[0][2]) and cells[0][1].get("content-type") == cells[1][1].get("content-type"))
            header_diff = sorted(k for k in set(cells[0][1]) | set(cells[1][1]) if cells[0][1].get(k) != cells[1][1].get(k))
            if not (same or extended) or header_diff:
                differences += 1

            def describe(cell):
                status, _, payload, upstream = cell
                return f"{status} {show_body(payload)} (upstream {upstream})".replace("|", "\\|")

            if same or extended:
                verdict = ("yes" if same else "Intel's text + reason") + ("; headers differ: " + ", ".join(header_diff) if header_diff else "")
            else:
                verdict = "**no**"
            out.write(f"| {i} | {method} {label} | {describe(cells[0])} | {describe(cells[1])} | {verdict} |\n")
            if header_diff and args.verbose:
                for k in header_diff:
                    out.write(f"|   | `{k}` | {cells[0][1].get(k, '(absent)')[:80]} | {cells[1][1].get(k, '(absent)')[:80]} | |\n")
        out.write(f"\n{differences} of {len(probes(mode, material))} requests differ in {mode.upper()}.\n")
        return differences
    finally:
        for process in reversed(processes):
            stop(process)
        if args.keep:
            out.write(f"\n(kept {work})\n")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intel-pccs", required=True, help="an installed Intel PCCS service folder (npm ci done)")
    parser.add_argument("--veritee", default=None,
                        help="command that runs veritee (default: the Release build of this clone via dotnet)")
    parser.add_argument("--mode", choices=["lazy", "req", "offline", "all"], default="all")
    parser.add_argument("--out", help="write the Markdown report here (default: stdout)")
    parser.add_argument("--keep", action="store_true", help="keep the work folders (logs, databases)")
    parser.add_argument("--verbose", action="store_true", help="show differing header values")
    args = parser.parse_args()
    if args.veritee is None:
        dll = os.path.join(REPO, "src", "Veritee.Cli", "bin", "Release", "net10.0", "veritee.dll")
        if not os.path.exists(dll):
            subprocess.run(["dotnet", "build", "-c", "Release", os.path.join(REPO, "src", "Veritee.Cli")], check=True)
        args.veritee = ["dotnet", dll]
    else:
        args.veritee = args.veritee.split()
    out = open(args.out, "w") if args.out else sys.stdout
    out.write("# PCCS side-by-side: Intel PCCS 1.27 vs Veritee, same fake PCS\n")
    total = 0
    for mode in (["lazy", "req", "offline"] if args.mode == "all" else [args.mode]):
        total += run_mode(args, mode, out)
    out.write(f"\nTotal differing requests: {total}\n")


if __name__ == "__main__":
    main()
