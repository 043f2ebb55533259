"""Webhook receiver for crm-milter's own schema v1 (doc/webhook.md).

Checks, in order: method and Content-Type; webhook-id (crm_ + 32 hex);
webhook-timestamp inside the tolerance (default 300 s); webhook-signature
(space-separated "v1,<base64>" entries, HMAC-SHA256 over id.timestamp.body,
one per line of the secret file, all required by default); Idempotency-Key
equal to the quoted webhook-id; then every field of the body.  A document
is stored once per webhook-id; a repeat with the same body answers 409
("already stored", which the flusher treats as done), a repeat with another
body 422 (IETF Idempotency-Key draft).

Public: class Webhook (vendor "webhook", prefix /webhook).
"""

import base64
import hashlib
import hmac
import re
import time

from common import ApiError, Response, Vendor

ID_RE = re.compile(r"^crm_[0-9a-f]{32}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ACTIVITY_KEYS = ("direction", "message_id", "in_reply_to", "subject", "date", "from", "to", "cc", "bcc",
                 "text", "html", "attachments", "attachments_dropped", "regarding", "category",
                 "correlation", "track_id")
EVENT_KEYS = ("kind", "message_id", "track_id", "at", "class", "reason", "link", "target",
              "recipient", "status", "diagnostic")
EVENT_KINDS = ("opened", "clicked", "bounced", "delayed", "delivered", "relayed", "expanded")
CLASSES = ("human", "privacy_proxy", "scanner")


class Bad(Exception):
    """A body check failed at a JSON path."""

    def __init__(self, path, msg):
        super().__init__(msg)
        self.path = path
        self.msg = msg


def problem(status, title, detail, field=None):
    """An application/problem+json answer."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if field:
        body["field"] = field
    return Response.json(status, body, content_type="application/problem+json")


def _kind(v):
    if v is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object"}.get(type(v), type(v).__name__)


def need(obj, key, path, types, nullable=False):
    """obj[key] must be present and of the JSON type(s) named; returns it."""
    if key not in obj:
        raise Bad(path + "." + key, "required field %s.%s is missing" % (path, key))
    v = obj[key]
    if v is None:
        if nullable:
            return None
        raise Bad(path + "." + key, "%s.%s must not be null" % (path, key))
    want = {"string": (str,), "integer": (int,), "object": (dict,), "array": (list,), "boolean": (bool,)}[types]
    if isinstance(v, bool) and types != "boolean" or not isinstance(v, want):
        raise Bad(path + "." + key, "%s.%s must be %s%s, got %s" % (path, key, types,
                                                                   " or null" if nullable else "", _kind(v)))
    return v


def need_enum(obj, key, path, values, nullable=False):
    """A string field whose value is one of values."""
    v = need(obj, key, path, "string", nullable)
    if v is not None and v not in values:
        raise Bad(path + "." + key, "%s.%s is %r; allowed: %s" % (path, key, v, " | ".join(values)))
    return v


def need_time(obj, key, path, nullable=False):
    """An RFC 3339 UTC date-time string (…Z)."""
    v = need(obj, key, path, "string", nullable)
    if v is not None and not RFC3339_UTC.match(v):
        raise Bad(path + "." + key, "%s.%s is %r, not an RFC 3339 UTC time like 2026-11-22T12:00:00Z"
                  % (path, key, v))
    return v


def check_address(a, path):
    """{"address": "x@y", "name": string|null}."""
    if not isinstance(a, dict):
        raise Bad(path, "%s must be an object {address, name}, got %s" % (path, _kind(a)))
    addr = need(a, "address", path, "string")
    if "@" not in addr or "<" in addr or " " in addr.strip():
        raise Bad(path + ".address", "%s.address %r is not a bare address" % (path, addr))
    need(a, "name", path, "string", nullable=True)


def check_activity(act, req):
    """Every field of an activity document."""
    p = "activity"
    need_enum(act, "direction", p, ("outbound", "inbound", "internal"))
    for key in ("message_id", "in_reply_to"):
        v = need(act, key, p, "string", nullable=True)
        if v is not None and (v.startswith("<") or v.endswith(">")):
            raise Bad(p + "." + key, "%s.%s must be given without <>: %r" % (p, key, v))
    need(act, "subject", p, "string", nullable=True)  # null for a message without Subject: (doc silent)
    need_time(act, "date", p, nullable=True)
    check_address(need(act, "from", p, "object"), p + ".from")
    for key in ("to", "cc", "bcc"):
        for i, a in enumerate(need(act, key, p, "array")):
            check_address(a, "%s.%s[%d]" % (p, key, i))
    need(act, "text", p, "string", nullable=True)
    need(act, "html", p, "string", nullable=True)
    for i, att in enumerate(need(act, "attachments", p, "array")):
        ap = "%s.attachments[%d]" % (p, i)
        if not isinstance(att, dict):
            raise Bad(ap, "%s must be an object" % ap)
        need(att, "filename", ap, "string", nullable=True)
        ct = need(att, "content_type", ap, "string")
        if "/" not in ct:
            raise Bad(ap + ".content_type", "%s.content_type %r is not a MIME type" % (ap, ct))
        size = need(att, "size", ap, "integer")
        b64 = need(att, "content_base64", ap, "string")
        try:
            raw = base64.b64decode(b64.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise Bad(ap + ".content_base64", "%s.content_base64 is not valid base64" % ap) from None
        if len(raw) != size:
            raise Bad(ap + ".size", "%s.size is %d but content_base64 decodes to %d bytes" % (ap, size, len(raw)))
    for i, s in enumerate(need(act, "attachments_dropped", p, "array")):
        if not isinstance(s, str):
            raise Bad("%s.attachments_dropped[%d]" % (p, i), "attachments_dropped entries must be strings")
    reg = need(act, "regarding", p, "string", nullable=True)
    if reg is not None and not re.match(r"^[^:\s]+:\S+$", reg):
        raise Bad(p + ".regarding", "activity.regarding must be \"type:id\" or null, got %r" % reg)
    need(act, "category", p, "string", nullable=True)
    corr = need(act, "correlation", p, "object", nullable=True)
    if corr is not None:
        need(corr, "method", p + ".correlation", "string")
        need(corr, "message_id", p + ".correlation", "string", nullable=True)
    need(act, "track_id", p, "string", nullable=True)
    for k in act:
        if k not in ACTIVITY_KEYS:
            req.warn("unknown field activity.%s (allowed: fields are only added in v1)" % k)


def check_event(ev, req):
    """Every field of an event document, including which fields apply to which kind."""
    p = "event"
    kind = need_enum(ev, "kind", p, EVENT_KINDS)
    need(ev, "message_id", p, "string", nullable=True)
    track = need(ev, "track_id", p, "string", nullable=True)
    need_time(ev, "at", p)
    cls = need_enum(ev, "class", p, CLASSES, nullable=True)
    need(ev, "reason", p, "string", nullable=True)
    link = need(ev, "link", p, "integer", nullable=True)
    target = need(ev, "target", p, "string", nullable=True)
    for key in ("recipient", "status", "diagnostic"):
        need(ev, key, p, "string", nullable=True)
    engagement = kind in ("opened", "clicked")
    if engagement and cls is None:
        raise Bad(p + ".class", "event.class is required for %s events (human | privacy_proxy | scanner)" % kind)
    if not engagement:
        for key, val in (("class", cls), ("track_id", track)):
            if val is not None:
                raise Bad(p + "." + key, "event.%s must be null for %s events" % (key, kind))
    if kind == "clicked":
        if link is None or link < 0:
            raise Bad(p + ".link", "event.link must be a link index >= 0 for clicked events")
        if target is None:
            raise Bad(p + ".target", "event.target is required for clicked events")
    else:
        for key, val in (("link", link), ("target", target)):
            if val is not None:
                raise Bad(p + "." + key, "event.%s must be null for %s events" % (key, kind))
    for k in ev:
        if k not in EVENT_KEYS:
            req.warn("unknown field event.%s" % k)


class Webhook(Vendor):
    """The receiver for crm-milter's webhook connector."""

    name = "webhook"
    prefixes = ("/webhook",)
    kinds = ("activity", "event")

    # Secret lines for a path (endpoint override, else secret_file).
    def secrets(self, sub):
        path = self.cfg.get("endpoints", {}).get(sub.strip("/"), {}).get("secret_file") \
            or self.cfg.get("secret_file")
        if not path:
            raise ApiError(problem(500, "emulator not configured", "webhook.secret_file is not set in the config"))
        with open(path, "rb") as f:
            lines = [ln.rstrip(b"\r\n") for ln in f.read().split(b"\n")]
        return [ln for ln in lines if ln]

    def error(self, req, kind, retry_after=None):
        titles = {"401": (401, "Unauthorized"), "429": (429, "Too Many Requests"),
                  "503": (503, "Service Unavailable"), "500": (500, "Internal Server Error"),
                  "request_limit": (429, "Too Many Requests"), "concurrency": (429, "Too Many Requests")}
        status, title = titles.get(kind, (500, "Internal Server Error"))
        return problem(status, title, "injected fault: %s" % kind)

    def handle(self, req):
        if req.method != "POST":
            return problem(405, "Method Not Allowed", "the webhook endpoint takes POST only")
        ctype = req.h("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            return problem(415, "Unsupported Media Type", "Content-Type must be application/json, got %r" % ctype)
        ua = req.h("user-agent", "")
        if not ua.startswith("crm-milter/"):
            req.warn("User-Agent %r does not start with crm-milter/" % ua)
        wid = req.h("webhook-id")
        if wid is None or not ID_RE.match(wid):
            return problem(400, "Bad webhook-id", "webhook-id must be crm_ followed by 32 lower-case hex digits,"
                           " got %r" % wid, "webhook-id")
        ts = req.h("webhook-timestamp", "")
        if not re.match(r"^\d+$", ts):
            return problem(400, "Bad webhook-timestamp", "webhook-timestamp must be unix seconds, got %r" % ts,
                           "webhook-timestamp")
        tol = float(self.opt("tolerance", 300))
        skew = time.time() - int(ts)
        if abs(skew) > tol:
            return problem(400, "Timestamp outside window", "webhook-timestamp is %d s %s the receiver's clock;"
                           " tolerance %d s" % (abs(skew), "behind" if skew > 0 else "ahead of", tol),
                           "webhook-timestamp")
        bad = self.check_signature(req, wid, ts)
        if bad:
            return problem(401, "Bad signature", bad, "webhook-signature")
        idem = req.h("idempotency-key")
        if idem != '"%s"' % wid:
            return problem(400, "Bad Idempotency-Key", "Idempotency-Key must be the webhook-id as a quoted"
                           " string (\"%s\"), got %r" % (wid, idem), "Idempotency-Key")
        try:
            doc = req.json()
            self.check_body(doc, wid, req)
        except ValueError as e:
            return problem(400, "Bad body", str(e))
        except Bad as e:
            return problem(400, "Bad body", e.msg, e.path)
        return self.store_doc(req, wid, ts, doc)

    # None when the signature header is right, else the reason.
    def check_signature(self, req, wid, ts):
        header = req.h("webhook-signature")
        if not header:
            return "webhook-signature header missing"
        if header != header.strip() or "  " in header:
            return "webhook-signature entries must be separated by exactly one space"
        content = wid.encode() + b"." + ts.encode() + b"." + req.body
        sigs = []
        for entry in header.split(" "):
            ver, _, val = entry.partition(",")
            if ver != "v1":
                req.warn("signature entry with version %r ignored" % ver)
                continue
            if len(val) % 4:
                return "signature %r is not padded base64" % val
            try:
                raw = base64.b64decode(val.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                return "signature %r is not base64" % val
            sigs.append(raw)
        if not sigs:
            return "no v1 signature in webhook-signature"
        keys = self.secrets(req.sub)
        for k in keys:
            if len(k) < 16:
                req.warn("secret line shorter than 16 bytes in the emulator's secret file")
        matched = []
        for k in keys:
            want = hmac.new(k, content, hashlib.sha256).digest()
            matched.append(any(hmac.compare_digest(want, s) for s in sigs))
        if not any(matched):
            return "no signature matches any secret (signed content: webhook-id.webhook-timestamp.body)"
        if self.opt("require_all_keys", True):
            if not all(matched):
                return "the secret file has %d lines but only %d of them signed" % (len(keys), sum(matched))
            if len(sigs) != len(keys):
                return "%d v1 signatures for %d secrets" % (len(sigs), len(keys))
        return None

    # Top-level fields, then the activity or event.
    def check_body(self, doc, wid, req):
        if not isinstance(doc, dict):
            raise Bad("$", "the body must be a JSON object")
        v = need(doc, "version", "$", "integer")
        if v != 1:
            raise Bad("$.version", "version must be 1, got %r" % v)
        typ = need_enum(doc, "type", "$", ("activity", "event"))
        if need(doc, "id", "$", "string") != wid:
            raise Bad("$.id", "id %r differs from webhook-id %r" % (doc["id"], wid))
        if not need(doc, "profile", "$", "string"):
            raise Bad("$.profile", "profile must not be empty")
        if typ == "activity":
            check_activity(need(doc, "activity", "$", "object"), req)
            if "event" in doc:
                raise Bad("$.event", "an activity document carries no event")
        else:
            check_event(need(doc, "event", "$", "object"), req)
            if "activity" in doc:
                raise Bad("$.activity", "an event document carries no activity")
        for k in doc:
            if k not in ("version", "type", "id", "profile", "activity", "event"):
                req.warn("unknown top-level field %s" % k)

    # Stores a document once per id.
    def store_doc(self, req, wid, ts, doc):
        digest = hashlib.sha256(req.body).hexdigest()
        kind = doc["type"]
        old = self.rec("activity", wid) or self.rec("event", wid)
        if old is not None:
            old["_emu_deliveries"] += 1
            req.note["repeat"] = True
            if old["_emu_digest"] == digest:
                status = int(self.opt("duplicate_status", 409))
                return Response.json(status, {"id": wid, "stored": False, "status": "already stored"})
            return problem(422, "Idempotency-Key reused", "webhook-id %s was stored with another body" % wid,
                           "Idempotency-Key")
        rec = {"id": wid, "type": kind, "profile": doc["profile"], "path": req.sub or "/",
               "timestamp": int(ts), "received_at": time.time(), "document": doc,
               "_emu_digest": digest, "_emu_deliveries": 1}
        self.put(kind, wid, rec)
        return Response.json(int(self.opt("success_status", 200)), {"id": wid, "stored": True})

    def dup_keys(self):
        keys = []
        for r in self.recs("activity"):
            mid = r["document"]["activity"].get("message_id")
            if mid:
                keys.append(("activity", r["profile"], mid))
        for r in self.recs("event"):
            e = r["document"]["event"]
            keys.append(("event", r["profile"], e.get("kind"), e.get("message_id"), e.get("track_id"),
                         e.get("at"), e.get("link"), e.get("recipient")))
        return keys

    def extra_stats(self):
        recs = self.recs("activity") + self.recs("event")
        return {"repeat_deliveries": sum(r["_emu_deliveries"] - 1 for r in recs)}
