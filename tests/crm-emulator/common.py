"""Shared pieces of the CRM emulator: request/response objects, the record
store, access tokens, JSON field checks, time parsing and multipart parsing.

Public: Request, Response, ApiError, Store, TokenStore, FieldError,
check_* validators, parse_time, now_iso, new_guid, split_multipart,
parse_headers_block, parse_form.

Ownership: one Store and one TokenStore per vendor live in the Emulator
(emulator.py); every mutation happens under Emulator.lock, so nothing here
locks on its own.  Written for crm-milter's tests; Python 3 stdlib only.
"""

import base64
import binascii
import datetime
import json
import re
import secrets
import time
import urllib.parse
import uuid


class Response:
    """One HTTP answer: status, header list and body bytes."""

    def __init__(self, status, body=b"", headers=None, content_type=None):
        self.status = status
        self.headers = list(headers or [])
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        if content_type:
            self.headers.append(("Content-Type", content_type))

    # A JSON answer.
    @classmethod
    def json(cls, status, obj, headers=None, content_type="application/json; charset=utf-8"):
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, headers, content_type)

    # Header value by name (case-insensitive), or None.
    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class ApiError(Exception):
    """Raised by vendor code to answer at once with a ready Response."""

    def __init__(self, response):
        super().__init__("api error %d" % response.status)
        self.response = response


class FieldError(Exception):
    """A field check failed: the field name, a message and an error code."""

    def __init__(self, field, message, code="INVALID"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


class Request:
    """One HTTP request as the vendor modules see it."""

    def __init__(self, method, target, headers, body, base_url):
        self.method = method
        parts = urllib.parse.urlsplit(target)
        self.path = urllib.parse.unquote(parts.path)
        self.raw_path = parts.path
        self.raw_query = parts.query
        self.query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers          # dict: lower-case name -> value
        self.body = body
        self.base_url = base_url        # http://127.0.0.1:PORT
        self.vendor = None
        self.sub = ""                   # path after the vendor prefix
        self.warnings = []
        self.note = {}                  # extra facts for the request log

    # First value of a query parameter, or default.
    def q(self, name, default=None):
        vals = self.query.get(name)
        return vals[0] if vals else default

    # Header value (case-insensitive), or default.
    def h(self, name, default=None):
        return self.headers.get(name.lower(), default)

    # Records a non-fatal remark about the request (shown in the request log).
    def warn(self, msg):
        self.warnings.append(msg)

    # The body parsed as JSON; raises ValueError with a readable message.
    def json(self):
        if not self.body:
            raise ValueError("empty body")
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ValueError("body is not UTF-8: %s" % e) from None
        except json.JSONDecodeError as e:
            raise ValueError("body is not JSON: %s" % e) from None


# ---------------------------------------------------------------------------
# Record store


class Store:
    """Records per vendor and kind, in insertion order, addressed by id."""

    def __init__(self):
        self.data = {}
        self.seq = 0

    # Drops every record.
    def clear(self):
        self.data = {}
        self.seq = 0

    # The id->record dict of one vendor and kind (created on first use).
    def table(self, vendor, kind):
        return self.data.setdefault(vendor, {}).setdefault(kind, {})

    # Adds (or replaces) a record; returns it.
    def put(self, vendor, kind, rid, rec):
        self.seq += 1
        rec.setdefault("_emu_seq", self.seq)
        rec["_emu_version"] = self.seq
        self.table(vendor, kind)[rid] = rec
        return rec

    # Marks a record as changed now (for change tracking).
    def touch(self, rec):
        self.seq += 1
        rec["_emu_version"] = self.seq

    # One record or None.
    def get(self, vendor, kind, rid):
        return self.data.get(vendor, {}).get(kind, {}).get(rid)

    # Removes a record if present.
    def remove(self, vendor, kind, rid):
        self.data.get(vendor, {}).get(kind, {}).pop(rid, None)

    # All records of a kind, oldest first.
    def all(self, vendor, kind):
        return list(self.data.get(vendor, {}).get(kind, {}).values())

    # Kinds that hold records for a vendor.
    def kinds(self, vendor):
        return sorted(self.data.get(vendor, {}).keys())


def public(rec):
    """A record without the emulator's bookkeeping keys."""
    return {k: v for k, v in rec.items() if not k.startswith("_emu_")}


# ---------------------------------------------------------------------------
# Access tokens


class TokenStore:
    """Issued access tokens with their expiry and revocation state."""

    def __init__(self):
        self.tokens = {}
        self.issued = 0

    # Forgets every token.
    def clear(self):
        self.tokens = {}
        self.issued = 0

    # Issues a new token valid for ttl seconds (None = no expiry).
    def issue(self, prefix, ttl, meta=None):
        tok = prefix + secrets.token_hex(20)
        self.tokens[tok] = {"expires": (time.time() + ttl) if ttl else None,
                            "revoked": False, "meta": meta or {}, "issued": time.time()}
        self.issued += 1
        return tok

    # Adds a fixed, never-expiring token (private-app tokens).
    def add_static(self, tok, meta=None):
        self.tokens[tok] = {"expires": None, "revoked": False, "meta": meta or {},
                            "issued": time.time()}

    # "ok", "expired", "revoked" or "unknown".
    def check(self, tok):
        t = self.tokens.get(tok)
        if t is None:
            return "unknown"
        if t["revoked"]:
            return "revoked"
        if t["expires"] is not None and time.time() >= t["expires"]:
            return "expired"
        return "ok"

    # Makes every issued token expire now; returns how many.
    def expire_all(self):
        n = 0
        for t in self.tokens.values():
            if t["expires"] is not None or t["meta"].get("expirable"):
                t["expires"] = time.time() - 1
                n += 1
        return n


def bearer(req, scheme="Bearer"):
    """The token of an Authorization header with the given scheme, or None."""
    auth = req.h("authorization", "")
    parts = auth.split(None, 1)
    if len(parts) == 2 and parts[0].lower() == scheme.lower():
        return parts[1].strip()
    return None


# ---------------------------------------------------------------------------
# Field checks.  Each raises FieldError(field, message, code).

_BOOL = bool


def check_type(obj, field, types, required=False, nullable=False, code="INVALID_TYPE"):
    """Checks obj[field] is one of types (bool is never an int here)."""
    if field not in obj:
        if required:
            raise FieldError(field, "required field '%s' is missing" % field, "REQUIRED")
        return None
    v = obj[field]
    if v is None:
        if nullable:
            return None
        raise FieldError(field, "field '%s' must not be null" % field, code)
    if isinstance(v, bool) and _BOOL not in types:
        raise FieldError(field, "field '%s' must be %s, got a boolean" % (field, _names(types)), code)
    if not isinstance(v, types):
        raise FieldError(field, "field '%s' must be %s, got %s" % (field, _names(types), _jtype(v)), code)
    return v


def check_str(obj, field, maxlen=None, required=False, nullable=False, enum=None, code="INVALID_TYPE"):
    """Checks a string field, its length and allowed values."""
    v = check_type(obj, field, (str,), required, nullable, code)
    if v is None:
        return None
    if maxlen is not None and len(v) > maxlen:
        raise FieldError(field, "field '%s' is %d characters, more than the maximum %d" % (field, len(v), maxlen),
                         "TOO_LONG")
    if enum is not None and v not in enum:
        raise FieldError(field, "field '%s' has value %r, allowed: %s" % (field, v, ", ".join(sorted(map(str, enum)))),
                         "BAD_VALUE")
    return v


def check_bool(obj, field, required=False, nullable=False):
    """Checks a JSON boolean field."""
    return check_type(obj, field, (bool,), required, nullable)


def check_int(obj, field, required=False, nullable=False, lo=None, hi=None):
    """Checks a JSON integer field and its range."""
    v = check_type(obj, field, (int,), required, nullable)
    if v is None:
        return None
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise FieldError(field, "field '%s' is %d, allowed %s..%s" % (field, v, lo, hi), "BAD_VALUE")
    return v


def _names(types):
    m = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
         list: "an array", dict: "an object"}
    return " or ".join(m.get(t, t.__name__) for t in types)


def _jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    return _names((type(v),))


def check_base64(field, value):
    """Decodes standard base64 with padding; FieldError if malformed."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise FieldError(field, "field '%s' is not valid base64" % field, "BAD_BASE64") from None


EMAIL_RE = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$")


def is_email(s):
    """A plain addr-spec check (local@domain.tld)."""
    return isinstance(s, str) and bool(EMAIL_RE.match(s))


# ---------------------------------------------------------------------------
# Time

_ISO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
                     r"(Z|[+-]\d{2}:?\d{2})?)?$")


def parse_time(s, require_zone=False):
    """An ISO 8601 / RFC 3339 date or date-time to epoch seconds, or None."""
    if not isinstance(s, str):
        return None
    m = _ISO_RE.match(s.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, zone = m.groups()
    if hh is not None and zone is None and require_zone:
        return None
    try:
        dt = datetime.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0),
                               tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    off = 0
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        z = zone[1:].replace(":", "")
        off = sign * (int(z[:2]) * 3600 + int(z[2:]) * 60)
    return dt.timestamp() - off + (float(frac) if frac else 0.0)


def now_iso(ms=True, t=None):
    """Current (or given) UTC time as 2026-11-22T12:00:00.000Z."""
    dt = datetime.datetime.fromtimestamp(time.time() if t is None else t, datetime.timezone.utc)
    if ms:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_guid():
    """A random GUID string."""
    return str(uuid.uuid4())


# ---------------------------------------------------------------------------
# Forms and multipart


def parse_form(req):
    """Query parameters merged with an x-www-form-urlencoded body (body wins)."""
    out = {k: v[0] for k, v in req.query.items()}
    ctype = req.h("content-type", "")
    if req.body and ("x-www-form-urlencoded" in ctype or not ctype):
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items():
            out[k] = v[0]
    return out


def header_param(value, name):
    """A parameter of a header value, e.g. boundary of a Content-Type."""
    for part in value.split(";")[1:]:
        if "=" in part:
            k, v = part.split("=", 1)
            if k.strip().lower() == name:
                v = v.strip()
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                return v
    return None


def split_multipart(body, boundary):
    """The parts of a multipart body, each as (headers dict, content bytes).

    Raises ValueError when the delimiter or the closing delimiter is missing.
    """
    delim = b"--" + boundary.encode("latin-1")
    if delim not in body:
        raise ValueError("boundary '%s' not found in the body" % boundary)
    chunks = body.split(delim)
    parts = []
    closed = False
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            closed = True
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        elif chunk.startswith(b"\n"):
            chunk = chunk[1:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        headers, content = parse_headers_block(chunk)
        parts.append((headers, content))
    if not closed:
        raise ValueError("closing delimiter '--%s--' missing" % boundary)
    return parts


def parse_headers_block(data):
    """Splits 'Header: v CRLF ... CRLF CRLF body' into (dict lower->value, body)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = data.find(sep)
        if idx >= 0:
            head, rest = data[:idx], data[idx + len(sep):]
            break
    else:
        head, rest = data, b""
    headers = {}
    for line in head.decode("latin-1").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return headers, rest


def form_data_files(req):
    """Files of a multipart/form-data body: list of (field, filename, ctype, bytes)."""
    ctype = req.h("content-type", "")
    boundary = header_param(ctype, "boundary")
    if "multipart/form-data" not in ctype or not boundary:
        raise ValueError("Content-Type must be multipart/form-data with a boundary")
    out = []
    for headers, content in split_multipart(req.body, boundary):
        disp = headers.get("content-disposition", "")
        name = header_param(disp, "name")
        fname = header_param(disp, "filename")
        out.append((name, fname, headers.get("content-type", "application/octet-stream"), content))
    return out


# ---------------------------------------------------------------------------
# Vendor base class


class Vendor:
    """What every vendor module provides to the emulator core.

    handle(req) answers a request under the vendor's prefix (req.sub is the
    rest of the path); error(req, kind, retry_after) builds the vendor's
    documented body for an injected or built-in fault; seed() loads
    directory records; dup_keys() lists the message ids of stored records
    (a key seen twice is a duplicate); is_token_path() tells token requests
    from API calls.
    """

    name = ""
    prefixes = ()
    kinds = ()

    def __init__(self, emu, cfg):
        self.emu = emu
        self.cfg = cfg
        self.tokens = TokenStore()

    # The shared record store.
    @property
    def store(self):
        return self.emu.store

    # Forgets vendor state (tokens, counters); records are cleared by the core.
    def reset(self):
        self.tokens.clear()

    # Answers one request.
    def handle(self, req):
        raise NotImplementedError

    # The vendor's answer to an injected fault of the given kind.
    def error(self, req, kind, retry_after=None):
        raise NotImplementedError

    # Loads directory records of one kind; returns them as stored.
    def seed(self, kind, records):
        raise ApiError(Response.json(400, {"error": "vendor %s has no seedable kinds" % self.name}))

    # Keys (message ids) of stored activity records.
    def dup_keys(self):
        return []

    # Extra numbers for /_emu/stats.
    def extra_stats(self):
        return {}

    # True for token-endpoint requests.
    def is_token_path(self, req):
        return False

    # Config value with a default.
    def opt(self, name, default=None):
        v = self.cfg.get(name)
        return default if v is None else v

    # A secret from the config: NAME or the contents of NAME_file.
    def secret(self, name):
        if self.cfg.get(name) is not None:
            return str(self.cfg[name])
        path = self.cfg.get(name + "_file")
        if path:
            with open(path, "r", encoding="utf-8") as f:
                return f.read().strip()
        return None

    # A stored record or None.
    def rec(self, kind, rid):
        return self.store.get(self.name, kind, rid)

    # All stored records of a kind.
    def recs(self, kind):
        return self.store.all(self.name, kind)

    # Stores a record.
    def put(self, kind, rid, rec):
        return self.store.put(self.name, kind, rid, rec)
