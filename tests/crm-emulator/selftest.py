#!/usr/bin/env python3
"""Self-test of the CRM emulator: starts emulator.py on a free 127.0.0.1
port with a generated config (webhook secrets, an RSA key pair for the
Salesforce JWT grant), then exercises each vendor's happy path, field
checks, paging, token expiry, the Zoho mint limit, every fault kind and the
Retry-After violation count, with urllib only.

    python3 tests/crm-emulator/selftest.py [-v]

Prints one line per failed check (every check with -v) and, last,
"N passed, N failed"; exits 1 if any check failed.  The cases live in
selftest_cases.py; this file holds the harness.
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


class Reply:
    """An HTTP answer (status 0 when the connection failed)."""

    def __init__(self, status, headers, body, error=None, elapsed=0.0):
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body or b""
        self.error = error
        self.elapsed = elapsed

    # The body as JSON (None if it is not JSON).
    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    def __repr__(self):
        return "<%s %s>" % (self.status, (self.body[:300].decode("utf-8", "replace") if self.body else self.error))


class Harness:
    """The running emulator, an HTTP client and the pass/fail tally."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0
        self.tmp = tempfile.TemporaryDirectory(prefix="crm-emu-selftest-")
        self.dir = self.tmp.name
        self.proc = None
        self.base = None

    # Records one check.
    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if self.verbose:
                print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s %s" % (name, detail))
        return ok

    # One request; body may be bytes, str or a JSON-able object.
    def call(self, method, url, body=None, headers=None, timeout=10):
        if not url.startswith("http"):
            url = self.base + url
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = body
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        t0 = time.time()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Reply(r.status, dict(r.headers), r.read(), elapsed=time.time() - t0)
        except urllib.error.HTTPError as e:
            return Reply(e.code, dict(e.headers), e.read(), elapsed=time.time() - t0)
        except Exception as e:  # dropped connections, timeouts
            return Reply(0, {}, b"", error="%s: %s" % (type(e).__name__, e), elapsed=time.time() - t0)

    # Shorthands for the control API.
    def emu(self, method, path, body=None):
        return self.call(method, "/_emu/" + path, body)

    def stats(self):
        return self.emu("GET", "stats").json

    def records(self, vendor, kind):
        return self.emu("GET", "records?vendor=%s&kind=%s" % (vendor, kind)).json

    def seed(self, vendor, kind, records=None, generate=None, **more):
        body = {"vendor": vendor, "kind": kind}
        if records is not None:
            body["records"] = records
        else:
            body["generate"] = generate
        body.update(more)
        r = self.emu("POST", "seed", body)
        assert r.status == 200, r
        return r.json

    def fault(self, **spec):
        r = self.emu("POST", "faults", spec)
        assert r.status == 200, r

    def config(self, vendor, **values):
        r = self.emu("POST", "config", {"vendor": vendor, "set": values})
        assert r.status == 200, r

    # Writes secrets, keys and config; starts the emulator.
    def start(self):
        d = self.dir
        self.secrets = [b"selftest-secret-number-one-abcdef", b"selftest-secret-number-two-123456"]
        with open(os.path.join(d, "wh.secret"), "wb") as f:
            f.write(b"\n".join(self.secrets) + b"\n")
        for name in ("sf", "other"):
            subprocess.run(["openssl", "genrsa", "-out", os.path.join(d, name + ".key"), "2048"],
                           check=True, capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", os.path.join(d, name + ".key"), "-pubout", "-out",
                            os.path.join(d, name + ".pub")], check=True, capture_output=True)
        cfg = {
            "seed": 7,
            "webhook": {"secret_file": os.path.join(d, "wh.secret")},
            "dynamics": {"tenant": "contoso-test", "client_id": "dyn-client", "client_secret": "dyn-secret"},
            "salesforce": {"client_id": "sf-client", "client_secret": "sf-secret",
                           "username": "integration@example.test", "public_key_file": os.path.join(d, "sf.pub")},
            "hubspot": {"tokens": ["pat-na1-selftest"]},
            "zoho": {"client_id": "zoho-client", "client_secret": "zoho-secret", "refresh_token": "1000.r.selftest"},
        }
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        port_file = os.path.join(d, "port")
        self.stderr = open(os.path.join(d, "emulator.err"), "w")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--config",
                                      os.path.join(d, "config.json"), "--port", "0", "--port-file", port_file],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("emulator exited: %s" % open(os.path.join(d, "emulator.err")).read())
            time.sleep(0.1)
        with open(port_file) as f:
            self.base = "http://127.0.0.1:%d" % int(f.read())

    # Starts a second emulator serving HTTPS with a fresh self-signed cert; returns (proc, base, cafile).
    def start_tls(self):
        d = self.dir
        cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        pf = os.path.join(d, "tls.port")
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "emulator.py"), "--config",
                                 os.path.join(d, "config.json"), "--port-file", pf, "--tls-cert", cert,
                                 "--tls-key", key], stdout=subprocess.DEVNULL, stderr=self.stderr)
        for _ in range(100):
            if os.path.exists(pf) or proc.poll() is not None:
                break
            time.sleep(0.1)
        with open(pf) as f:
            return proc, "https://127.0.0.1:%d" % int(f.read()), cert

    # Stops the emulator this harness started.
    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()
        self.tmp.cleanup()

    # A JWT signed with the named key (sf = the configured one).
    def jwt(self, claims, key="sf"):
        def enc(obj):
            return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
        signing = enc({"alg": "RS256"}) + "." + enc(claims)
        path = os.path.join(self.dir, "signing")
        with open(path, "w") as f:
            f.write(signing)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(self.dir, key + ".key"), path],
                             check=True, capture_output=True).stdout
        return signing + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()

    # Webhook headers for a body (signed with the given secrets).
    def webhook_headers(self, wid, body, secrets=None, ts=None, idem=None):
        ts = str(int(time.time()) if ts is None else ts)
        content = wid.encode() + b"." + ts.encode() + b"." + body
        sigs = " ".join("v1," + base64.b64encode(hmac.new(k, content, hashlib.sha256).digest()).decode()
                        for k in (self.secrets if secrets is None else secrets))
        return {"Content-Type": "application/json", "User-Agent": "crm-milter/selftest", "webhook-id": wid,
                "webhook-timestamp": ts, "webhook-signature": sigs,
                "Idempotency-Key": idem if idem is not None else '"%s"' % wid}


def main():
    verbose = "-v" in sys.argv
    sys.path.insert(0, HERE)
    import selftest_cases
    h = Harness(verbose)
    try:
        h.start()
        for case in selftest_cases.CASES:
            h.emu("POST", "reset")
            try:
                case(h)
            except Exception as e:  # a crashed case counts as one failure
                import traceback
                h.check(case.__name__, False, "raised %s\n%s" % (e, traceback.format_exc()))
            st = h.stats()
            h.check("%s: no emulator internal error" % case.__name__, st is not None and st["internal_errors"] == 0,
                    [e for e in h.emu("GET", "requests").json if e["status"] == 500])
    finally:
        h.stop()
    print("%d passed, %d failed" % (h.passed, h.failed))
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
