#!/usr/bin/env python3
"""crm-milter's CRM emulator: one local HTTP server that plays the webhook
receiver, Dataverse (with Entra ID tokens), Salesforce, HubSpot and Zoho,
checks what it receives field by field, stores records in memory, injects
faults on demand and counts requests sent inside an announced Retry-After
window.  It listens on 127.0.0.1 only.

    python3 emulator.py --config example-config.json --port 0 --port-file /tmp/p

Public: Emulator (the state and dispatch), make_server(), main().  The
control API lives under /_emu/ (see README.md).  All state is in memory and
guarded by Emulator.lock; the HTTP server runs one thread per connection.
Python 3 standard library only.
"""

import argparse
import collections
import email.utils
import json
import math
import os
import random
import re
import select
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ApiError, Request, Response, Store, public  # noqa: E402
import dynamics  # noqa: E402
import hubspot  # noqa: E402
import salesforce  # noqa: E402
import webhook  # noqa: E402
import zoho  # noqa: E402

VENDOR_CLASSES = (webhook.Webhook, dynamics.Dynamics, salesforce.Salesforce,
                  hubspot.HubSpot, zoho.Zoho)
FAULT_KINDS = ("401", "429", "503", "500", "request_limit", "slow", "drop", "timeout")


class Fault:
    """One fault rule from POST /_emu/faults."""

    def __init__(self, fid, spec, vendors):
        self.id = fid
        self.vendor = spec.get("vendor", "*")
        if self.vendor != "*" and self.vendor not in vendors:
            raise ValueError("unknown vendor %r" % self.vendor)
        self.kind = str(spec.get("kind", ""))
        if self.kind not in FAULT_KINDS:
            raise ValueError("kind must be one of %s" % ", ".join(FAULT_KINDS))
        try:
            self.regex = re.compile(spec.get("path_regex", ""))
        except re.error as e:
            raise ValueError("path_regex: %s" % e) from None
        self.method = spec.get("method")
        self.rate = spec.get("rate")
        self.count = spec.get("count")
        if self.rate is None and self.count is None:
            self.count = 1
        if self.rate is not None and not (isinstance(self.rate, (int, float)) and 0 <= self.rate <= 1):
            raise ValueError("rate must be a number in 0..1")
        if self.count is not None and not (isinstance(self.count, int) and self.count > 0):
            raise ValueError("count must be a positive integer")
        self.retry_after = spec.get("retry_after")
        self.retry_after_format = spec.get("retry_after_format", "seconds")
        if self.retry_after_format not in ("seconds", "date"):
            raise ValueError("retry_after_format must be seconds or date")
        self.delay = float(spec.get("delay", 30.0 if self.kind == "timeout" else 2.0))
        self.phase = spec.get("phase", "before")
        if self.phase not in ("before", "after"):
            raise ValueError("phase must be before or after")
        self.tokens_too = bool(spec.get("token_endpoints", True))
        self.hits = 0

    # True when the rule applies to this request (consumes a count).
    def take(self, req, rng, is_token):
        if self.vendor != "*" and self.vendor != req.vendor:
            return False
        if self.method and self.method.upper() != req.method:
            return False
        if is_token and not self.tokens_too:
            return False
        target = req.raw_path + ("?" + req.raw_query if req.raw_query else "")
        if not self.regex.search(target):
            return False
        if self.count is not None:
            self.count -= 1
            self.hits += 1
            return True
        if rng.random() < self.rate:
            self.hits += 1
            return True
        return False

    # The rule as JSON.
    def describe(self):
        return {"id": self.id, "vendor": self.vendor, "kind": self.kind, "path_regex": self.regex.pattern,
                "method": self.method, "rate": self.rate, "count": self.count, "retry_after": self.retry_after,
                "retry_after_format": self.retry_after_format, "delay": self.delay, "phase": self.phase,
                "hits": self.hits}


class Emulator:
    """Vendors, records, faults, Retry-After windows and the request log."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.store = Store()
        self.base_url = "http://127.0.0.1:0"
        self.vendors = {}
        self.routes = []
        for cls in VENDOR_CLASSES:
            v = cls(self, cfg.get(cls.name, {}))
            self.vendors[cls.name] = v
            for p in cls.prefixes:
                self.routes.append((p, v))
        self.routes.sort(key=lambda r: -len(r[0]))
        self.grace = float(cfg.get("retry_after_grace", 0.02))
        self.reaction = float(cfg.get("retry_after_reaction", 0.2))
        self.log_limit = int(cfg.get("log_limit", 200000))
        self.rng = random.Random(cfg.get("seed"))
        self.reset()

    # Clears records, log, counters, faults, windows and vendor state.
    def reset(self):
        with self.lock:
            self.store.clear()
            self.log = []
            self.seq = 0
            self.faults = []
            self.fault_seq = 0
            self.windows = {}
            self.inflight = collections.Counter()
            self.recent = collections.defaultdict(collections.deque)
            self.c = {"requests": 0, "by_vendor": collections.Counter(), "api_calls": collections.Counter(),
                      "token_requests": collections.Counter(), "violations": collections.Counter(),
                      "by_status": collections.defaultdict(collections.Counter), "faults": collections.Counter(),
                      "announced": collections.Counter(), "warnings": 0, "internal_errors": 0,
                      "unrouted": 0}
            for v in self.vendors.values():
                v.reset()

    # The vendor serving a path, with the rest of the path, or (None, None).
    def route(self, path):
        for prefix, v in self.routes:
            if path == prefix or path.startswith(prefix + "/"):
                return v, path[len(prefix):]
        return None, None

    # Remembers a Retry-After window announced to a vendor's client.
    def announce(self, vendor, resp, now):
        ra = resp.header("Retry-After")
        if ra is None:
            return
        try:
            until = now + float(ra)
        except ValueError:
            try:
                until = email.utils.parsedate_to_datetime(ra).timestamp()
            except (TypeError, ValueError):
                return
        self.windows[vendor] = {"from": now + self.reaction, "until": until}
        self.c["announced"][vendor] += 1

    # Adds an entry to the request log (bounded) and updates counters.
    def record(self, req, status, fault, started, violation, is_token):
        v = req.vendor or "-"
        self.c["by_status"][v][str(status)] += 1
        self.c["warnings"] += len(req.warnings)
        entry = {"seq": req.note.pop("_seq", 0), "time": started, "method": req.method,
                 "path": req.raw_path + ("?" + req.raw_query if req.raw_query else ""),
                 "status": status, "vendor": req.vendor, "token_request": is_token, "fault": fault,
                 "in_retry_window": violation, "duration_ms": round((time.time() - started) * 1000, 2),
                 "warnings": req.warnings}
        if req.note:
            entry["note"] = req.note
        if len(entry["path"]) > 600:
            entry["path"] = entry["path"][:600] + "..."
        self.log.append(entry)
        if len(self.log) > self.log_limit:
            del self.log[: len(self.log) - self.log_limit]

    # Built-in limits: per-vendor sliding-window rate and concurrency.
    def builtin_limit(self, vendor, now):
        cfg = vendor.cfg
        maxc = cfg.get("max_concurrent")
        if maxc and self.inflight[vendor.name] > maxc:
            return "concurrency", cfg.get("concurrency_retry_after", 1)
        rl = cfg.get("rate_limit")
        if rl:
            dq = self.recent[vendor.name]
            win = float(rl.get("window", 10))
            while dq and dq[0] <= now - win:
                dq.popleft()
            if len(dq) >= int(rl["max"]):
                ra = rl.get("retry_after")
                if ra is None:
                    ra = max(1, math.ceil(dq[0] + win - now))
                return "request_limit", ra  # the vendor's quota answer (Salesforce: 403, others: 429)
            dq.append(now)
        return None, None

    # Stats for GET /_emu/stats.
    def stats(self):
        dup_total = 0
        dups = {}
        for name, v in self.vendors.items():
            keys = [k for k in v.dup_keys() if k is not None]
            n = len(keys) - len(set(keys))
            dups[name] = n
            dup_total += n
        records = {name: {k: len(self.store.all(name, k)) for k in self.store.kinds(name)}
                   for name in self.vendors}
        return {"requests": self.c["requests"], "by_vendor": dict(self.c["by_vendor"]),
                "api_calls": dict(self.c["api_calls"]), "token_requests": dict(self.c["token_requests"]),
                "by_status": {k: dict(v) for k, v in self.c["by_status"].items()},
                "retry_after_violations": sum(self.c["violations"].values()),
                "violations_by_vendor": dict(self.c["violations"]),
                "retry_after_announced": dict(self.c["announced"]),
                "duplicates": dup_total, "duplicates_by_vendor": dups,
                "faults_injected": dict(self.c["faults"]), "warnings": self.c["warnings"],
                "internal_errors": self.c["internal_errors"], "unrouted": self.c["unrouted"],
                "records": records,
                "vendors": {n: v.extra_stats() for n, v in self.vendors.items()}}


# ---------------------------------------------------------------------------
# Control API


def control(emu, req):
    """Answers /_emu/... requests."""
    path = req.path.rstrip("/")
    m = req.method
    with emu.lock:
        if path == "/_emu/health":
            return Response.json(200, {"ok": True, "base_url": emu.base_url})
        if path == "/_emu/stats" and m == "GET":
            return Response.json(200, emu.stats())
        if path == "/_emu/records" and m == "GET":
            vendor = req.q("vendor")
            if vendor not in emu.vendors:
                return Response.json(400, {"error": "vendor= must be one of %s" % ", ".join(emu.vendors)})
            kind = req.q("kind")
            if kind:
                return Response.json(200, [public(r) for r in emu.store.all(vendor, kind)])
            return Response.json(200, {k: [public(r) for r in emu.store.all(vendor, k)]
                                       for k in emu.store.kinds(vendor)})
        if path == "/_emu/requests" and m == "GET":
            since = int(req.q("since", "0") or 0)
            vendor = req.q("vendor")
            out = [e for e in emu.log if e["seq"] > since and (not vendor or e["vendor"] == vendor)]
            return Response.json(200, out)
        if path == "/_emu/faults":
            if m == "GET":
                return Response.json(200, [f.describe() for f in emu.faults])
            if m == "DELETE":
                n = len(emu.faults)
                emu.faults = []
                return Response.json(200, {"deleted": n})
            if m == "POST":
                try:
                    spec = req.json()
                    specs = spec if isinstance(spec, list) else [spec]
                    new = []
                    for s in specs:
                        if not isinstance(s, dict):
                            raise ValueError("each fault is a JSON object")
                        emu.fault_seq += 1
                        new.append(Fault(emu.fault_seq, s, emu.vendors))
                        if "seed" in s:
                            emu.rng.seed(s["seed"])
                except ValueError as e:
                    return Response.json(400, {"error": str(e)})
                emu.faults.extend(new)
                return Response.json(200, {"ids": [f.id for f in new]})
        if path == "/_emu/reset" and m == "POST":
            emu.reset()
            return Response.json(200, {"reset": True})
        if path == "/_emu/seed" and m == "POST":
            return control_seed(emu, req)
        if path == "/_emu/config" and m == "POST":
            try:
                body = req.json()
                v = emu.vendors[body["vendor"]]
                v.cfg.update(body.get("set", {}))
            except (ValueError, KeyError, TypeError) as e:
                return Response.json(400, {"error": "want {\"vendor\":..., \"set\":{...}}: %s" % e})
            return Response.json(200, {"vendor": v.name, "config": v.cfg})
        if path == "/_emu/tokens/expire" and m == "POST":
            vendor = req.q("vendor")
            vs = [emu.vendors[vendor]] if vendor in emu.vendors else list(emu.vendors.values())
            return Response.json(200, {"expired": sum(v.tokens.expire_all() for v in vs)})
    return Response.json(404, {"error": "no control endpoint %s %s" % (m, req.path)})


def control_seed(emu, req):
    """POST /_emu/seed: {"vendor","kind","records":[...]} or {"vendor","kind","generate":N}."""
    try:
        body = req.json()
        items = body if isinstance(body, list) else [body]
        out = []
        for it in items:
            v = emu.vendors[it["vendor"]]
            recs = it.get("records")
            if recs is None:
                recs = generate(it["kind"], int(it.get("generate", 0)), it.get("domain", "example.test"),
                                it.get("opt_out_every", 0))
            if not isinstance(recs, list):
                raise ValueError("records must be a list")
            out.extend(v.seed(it["kind"], recs))
    except ApiError as e:
        return e.response
    except (ValueError, KeyError, TypeError) as e:
        return Response.json(400, {"error": "bad seed request: %s" % e})
    return Response.json(200, out)


def generate(kind, n, domain, opt_out_every):
    """n neutral directory entries (email, first, last, opt_out) for seed generation."""
    out = []
    for i in range(n):
        out.append({"_generic": True, "email": "%s%04d@%s" % (kind.lower().rstrip("s")[:8], i, domain),
                    "first": "First%d" % i, "last": "Last%d" % i,
                    "opt_out": bool(opt_out_every and i % opt_out_every == 0)})
    return out


# ---------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    """One connection; every method goes through serve()."""

    protocol_version = "HTTP/1.1"
    server_version = "crm-emulator/1"

    def log_message(self, fmt, *args):  # noqa: D401 - stdlib hook
        if self.server.verbose:
            sys.stderr.write("crm-emulator: %s\n" % (fmt % args))

    # Turns off Nagle: an answer goes out in one segment, without delayed-ACK stalls.
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # Reads the request body (Content-Length or chunked).
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline(8)
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # Sends a Response (status line, headers and body in one write).
    def send(self, resp):
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        if resp.status not in (204, 304):
            self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self._headers_buffer.append(b"\r\n")
        if resp.status not in (204, 304) and self.command != "HEAD":
            self._headers_buffer.append(resp.body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []
        self.wfile.flush()

    # Holds the connection up to delay seconds, returning early if the client closes.
    def hold(self, delay):
        end = time.time() + delay
        sock = self.connection
        while True:
            left = end - time.time()
            if left <= 0:
                return
            r, _, _ = select.select([sock], [], [], min(left, 0.5))
            if r:
                try:
                    if sock.recv(1024) == b"":  # the connection is closed afterwards anyway
                        return
                except ssl.SSLWantReadError:
                    continue
                except OSError:
                    return

    def do_GET(self):
        self.serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    # Dispatches one request: control API, or vendor with faults and limits.
    def serve(self):
        emu = self.server.emu
        started = time.time()
        body = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(self.command, self.path, headers, body, emu.base_url)
        if req.path.startswith("/_emu/") or req.path == "/_emu":
            self.send(control(emu, req))
            return
        vendor, sub = emu.route(req.path)
        if vendor is None:
            with emu.lock:
                emu.c["unrouted"] += 1
                emu.seq += 1
                req.note["_seq"] = emu.seq
                resp = Response.json(404, {"error": "no emulated vendor serves %s" % req.path})
                emu.record(req, 404, None, started, False, False)
            self.send(resp)
            return
        req.vendor, req.sub = vendor.name, sub
        is_token = vendor.is_token_path(req)
        with emu.lock:
            emu.seq += 1
            req.note["_seq"] = emu.seq
            emu.c["requests"] += 1
            emu.c["by_vendor"][vendor.name] += 1
            emu.c["token_requests" if is_token else "api_calls"][vendor.name] += 1
            w = emu.windows.get(vendor.name)
            violation = bool(w and w["from"] <= started < w["until"] - emu.grace)
            if violation:
                emu.c["violations"][vendor.name] += 1
            fault = next((f for f in emu.faults if f.take(req, emu.rng, is_token)), None)
            emu.faults = [f for f in emu.faults if f.count is None or f.count > 0]
            emu.inflight[vendor.name] += 1
            limit_kind, limit_ra = emu.builtin_limit(vendor, started)
        fault_name = fault.kind if fault else None
        try:
            resp = self.run(emu, vendor, req, fault, limit_kind, limit_ra, is_token)
        finally:
            with emu.lock:
                emu.inflight[vendor.name] -= 1
        with emu.lock:
            if fault:
                emu.c["faults"][fault.kind] += 1
            elif limit_kind:
                fault_name = "limit:" + limit_kind
            status = resp.status if resp is not None else 0
            if resp is not None and resp.status in (429, 503):
                emu.announce(vendor.name, resp, time.time())
            emu.record(req, status, fault_name, started, violation, is_token)
        if resp is None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send(resp)

    # Applies a fault or limit, else asks the vendor; None means no answer.
    def run(self, emu, vendor, req, fault, limit_kind, limit_ra, is_token):
        if fault and fault.phase == "before":
            k = fault.kind
            if k == "drop":
                return None
            if k == "timeout":
                self.hold(fault.delay)
                return None
            if k == "slow":
                time.sleep(fault.delay)
            else:
                with emu.lock:
                    resp = vendor.error(req, k, fault.retry_after)
                return with_retry_after(resp, k, fault)
        if limit_kind:
            with emu.lock:
                resp = vendor.error(req, limit_kind, limit_ra)
            if limit_ra is not None and resp.status in (429, 503) and resp.header("Retry-After") is None:
                resp.headers.append(("Retry-After", str(int(math.ceil(limit_ra)))))
            return resp
        with emu.lock:
            try:
                resp = vendor.handle(req)
            except ApiError as e:
                resp = e.response
            except Exception:  # an emulator bug must show, not hang the client
                emu.c["internal_errors"] += 1
                resp = Response.json(500, {"emulator_internal_error": traceback.format_exc()})
        if fault and fault.phase == "after":
            req.note["processed_then"] = fault.kind
            if fault.kind == "timeout":
                self.hold(fault.delay)
                return None
            if fault.kind == "drop":
                return None
            if fault.kind == "slow":
                time.sleep(fault.delay)
                return resp
            with emu.lock:
                return with_retry_after(vendor.error(req, fault.kind, fault.retry_after), fault.kind, fault)
        return resp


def with_retry_after(resp, kind, fault):
    """Adds the fault's Retry-After (seconds or HTTP date) to a 429/503 answer."""
    if kind not in ("429", "503") or fault.retry_after is None:
        return resp
    resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "retry-after"]
    if fault.retry_after_format == "date":
        value = email.utils.formatdate(math.ceil(time.time() + float(fault.retry_after)), usegmt=True)
    else:
        value = str(fault.retry_after)
    resp.headers.append(("Retry-After", value))
    return resp


class Server(ThreadingHTTPServer):
    """The threading HTTP server carrying the Emulator."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    # Quiet about clients that go away or fail the TLS handshake, unless --verbose.
    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def make_server(cfg, port=0, verbose=False, tls_cert=None, tls_key=None):
    """Binds 127.0.0.1:port (HTTPS with a cert and key) and returns the server."""
    emu = Emulator(cfg)
    srv = Server(("127.0.0.1", port), Handler)
    srv.emu = emu
    srv.verbose = verbose
    scheme = "http"
    if tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        # the handshake runs in the connection's thread, on first read
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    emu.base_url = "%s://127.0.0.1:%d" % (scheme, srv.server_address[1])
    for v in emu.vendors.values():
        if hasattr(v, "configure"):
            v.configure()
    return srv


def load_config(path):
    """Reads the JSON config; relative file names are taken from its folder."""
    if not path:
        return {}
    with open(path, "r", encoding="utf-8") as f:
        cfg = json.load(f)
    base = os.path.dirname(os.path.abspath(path))
    for section in cfg.values():
        if isinstance(section, dict):
            for k, v in list(section.items()):
                if k.endswith("_file") and isinstance(v, str) and not os.path.isabs(v):
                    section[k] = os.path.join(base, v)
    return cfg


def main(argv=None):
    """Command line entry point."""
    ap = argparse.ArgumentParser(description="CRM emulator for crm-milter tests (127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    ap.add_argument("--config", help="JSON config (credentials, limits); see example-config.json")
    ap.add_argument("--port-file", help="write the chosen port to this file")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain)")
    ap.add_argument("--tls-key", help="private key of --tls-cert (default: in the same file)")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        srv = make_server(cfg, args.port, args.verbose, args.tls_cert, args.tls_key)
    except (OSError, ValueError, ssl.SSLError) as e:
        sys.stderr.write("crm-emulator: %s\n" % e)
        return 2
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("crm-emulator listening on %s" % srv.emu.base_url, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

