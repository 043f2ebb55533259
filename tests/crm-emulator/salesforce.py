"""Salesforce OAuth 2.0 token endpoint and REST API, as documented in
/work/notes/vendor-dynamics-salesforce.md section 3.

Paths (prefix /salesforce; also served without it under /services so a
nextRecordsUrl resolved against the host works; instance_url = BASE/salesforce):
  POST /services/oauth2/token                 client_credentials, JWT bearer (RS256 via openssl)
  GET  /services/data/                        versions (not counted)
  POST /services/data/vNN.N/sobjects/{Type}/  EmailMessage, EmailMessageRelation, ContentVersion,
                                              ContentDocumentLink, ContentNote
  GET  /services/data/vNN.N/sobjects/{Type}/{Id}
  PATCH /services/data/vNN.N/sobjects/EmailMessage/{Id}   (custom __c fields after send)
  PATCH /services/data/vNN.N/sobjects/ContentNote/{Id}    (Title, Content)
  POST /services/data/vNN.N/composite/sobjects            sObject Collections (<= 200, allOrNone)
  GET  /services/data/vNN.N/query?q=...                   SOQL subset (soql.py), nextRecordsUrl paging
  GET  /services/data/vNN.N/query/{locator}

Every data answer carries Sforce-Limit-Info: api-usage=N/LIMIT; past the
daily limit the answer is 403 REQUEST_LIMIT_EXCEEDED.

Public: class Salesforce.
"""

import base64
import json
import os
import re
import subprocess
import tempfile
import time

import soql
import sf_schema
from common import ApiError, Response, Vendor, bearer, new_guid, now_iso, parse_form, public


def sf_err(status, message, code, fields=None):
    """Top-level REST error: a JSON array of {message, errorCode[, fields]}."""
    e = {"message": message, "errorCode": code}
    if fields is not None:
        e["fields"] = fields
    return Response.json(status, [e])


def oauth_err(error, desc, status=400):
    """OAuth error body (community-observed shape, notes 3.3)."""
    return Response.json(status, {"error": error, "error_description": desc})


def b64url(data):
    """Decodes base64url without padding."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class Salesforce(Vendor):
    """OAuth tokens, sObjects, collections and SOQL."""

    name = "salesforce"
    prefixes = ("/salesforce", "/services")
    kinds = tuple(sf_schema.OBJECTS)

    def reset(self):
        super().reset()
        self.api_used = 0
        self.cursors = {}
        self.cursor_seq = 0
        self.id_seq = 0
        self.jwt_seen = 0

    # instance_url handed out with tokens.
    def instance_url(self):
        return self.emu.base_url + "/salesforce"

    # The path after /services (prefix-independent).
    def svc(self, req):
        sub = req.sub if req.path.startswith("/salesforce") else req.path[len("/services"):]
        if req.path.startswith("/salesforce"):
            if not sub.startswith("/services"):
                return None
            sub = sub[len("/services"):]
        return sub

    def is_token_path(self, req):
        return (self.svc(req) or "").startswith("/oauth2/")

    def error(self, req, kind, retry_after=None):
        if self.is_token_path(req):
            status = int(kind) if kind in ("401", "429", "500", "503") else 500
            return oauth_err("temporarily_unavailable", "injected fault %s" % kind, status)
        if kind == "401":
            return sf_err(401, "Session expired or invalid", "INVALID_SESSION_ID")
        if kind in ("request_limit", "concurrency"):
            return self.limited(sf_err(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"))
        if kind == "429":
            # Salesforce documents no 429 (notes section 0); sent only when a test asks for it.
            return self.limited(sf_err(429, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"))
        if kind == "503":
            return self.limited(sf_err(503, "Server is down for maintenance or overloaded.", "SERVER_UNAVAILABLE"))
        return self.limited(sf_err(500, "An unexpected error occurred. Please include this ErrorId if you contact"
                                   " support: %s" % new_guid()[:18], "UNKNOWN_EXCEPTION"))

    # Adds the Sforce-Limit-Info header.
    def limited(self, resp):
        resp.headers.append(("Sforce-Limit-Info", "api-usage=%d/%d" % (self.api_used,
                                                                      int(self.opt("daily_limit", 100000)))))
        return resp

    def handle(self, req):
        sub = self.svc(req)
        if sub is None:
            return sf_err(404, "The requested resource does not exist", "NOT_FOUND")
        if sub == "/oauth2/token":
            if req.method != "POST":
                return oauth_err("invalid_request", "must use HTTP POST")
            return self.token(req)
        if sub.rstrip("/") == "/data":
            return Response.json(200, [{"label": "Summer '26", "url": "/services/data/v%s" % v, "version": v}
                                       for v in ("60.0", "61.0", "62.0", "63.0", "64.0", "65.0", "66.0", "67.0")])
        m = re.match(r"^/data/v(\d+)\.(\d)(/.*)$", sub)
        if not m:
            return sf_err(404, "The requested resource does not exist", "NOT_FOUND")
        ver = "%s.%s" % (m.group(1), m.group(2))
        if int(m.group(1)) < 37:
            return sf_err(404, "API version %s is below 37.0 (EmailMessageRelation needs 37.0)" % ver, "NOT_FOUND")
        tok = bearer(req) or bearer(req, "OAuth")
        if tok is None or self.tokens.check(tok) != "ok":
            return sf_err(401, "Session expired or invalid", "INVALID_SESSION_ID")
        self.api_used += 1
        if self.api_used > int(self.opt("daily_limit", 100000)):
            return self.limited(sf_err(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED"))
        try:
            resp = self.data(req, ver, m.group(3))
        except ApiError as e:
            resp = e.response
        return self.limited(resp)

    # ------------------------------------------------------------ tokens

    # POST /services/oauth2/token
    def token(self, req):
        form = parse_form(req)
        grant = form.get("grant_type")
        if grant == "client_credentials":
            cid, sec = form.get("client_id"), form.get("client_secret")
            auth = req.h("authorization", "")
            if auth.lower().startswith("basic ") and cid is None:
                req.warn("client credentials in a Basic header: UNCONFIRMED for Salesforce (notes 3.1)")
                try:
                    cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    pass
            if cid != self.cfg.get("client_id") or sec != self.secret("client_secret"):
                return oauth_err("invalid_client", "invalid client credentials")
            return self.issue(self.cfg.get("username", "integration@example.test"))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.jwt(form.get("assertion", ""))
        return oauth_err("unsupported_grant_type", "grant type not supported")

    # A token answer (no expires_in: tokens end with the session timeout).
    def issue(self, user):
        tok = self.tokens.issue("00DEMU0000000001!", int(self.opt("token_ttl", 7200)), {"user": user})
        issued = str(int(time.time() * 1000))
        inst = self.instance_url()
        sig = base64.b64encode(os.urandom(32)).decode()
        return Response.json(200, {"access_token": tok, "signature": sig, "scope": "api",
                                   "instance_url": inst, "id": "%s/id/00DEMU0000000001AAA/005EMU0000000001AAA" % inst,
                                   "token_type": "Bearer", "issued_at": issued})

    # JWT bearer: header alg RS256, claims iss/sub/aud/exp, RS256 signature.
    def jwt(self, assertion):
        parts = assertion.split(".")
        if len(parts) != 3:
            return oauth_err("invalid_grant", "invalid assertion: not header.claims.signature")
        try:
            header = json.loads(b64url(parts[0]))
            claims = json.loads(b64url(parts[1]))
            sig = b64url(parts[2])
        except (ValueError, UnicodeDecodeError):
            return oauth_err("invalid_grant", "invalid assertion: bad base64url or JSON")
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return oauth_err("invalid_grant", "invalid assertion: alg must be RS256")
        if not isinstance(claims, dict):
            return oauth_err("invalid_grant", "invalid assertion: claims must be an object")
        if claims.get("iss") != self.cfg.get("client_id"):
            return oauth_err("invalid_client_id", "client identifier invalid")
        auds = self.opt("audiences", ["https://login.salesforce.com", "https://test.salesforce.com"])
        if claims.get("aud") not in auds:
            return oauth_err("invalid_grant", "audience is invalid: %r not in %s" % (claims.get("aud"), auds))
        user = claims.get("prn", claims.get("sub"))
        if user != self.cfg.get("username"):
            return oauth_err("invalid_grant", "user hasn't approved this consumer")
        exp = claims.get("exp")
        try:
            exp = int(exp)  # the vendor example shows exp as a string; a number is standard
        except (TypeError, ValueError):
            return oauth_err("invalid_grant", "invalid assertion: exp missing or not seconds since the epoch")
        now = time.time()
        if exp <= now:
            return oauth_err("invalid_grant", "expired assertion")
        if exp > now + 180 + float(self.opt("jwt_skew", 5)):
            return oauth_err("invalid_grant", "invalid assertion: exp must be within 3 minutes")
        if not self.verify_rs256((parts[0] + "." + parts[1]).encode(), sig):
            return oauth_err("invalid_grant", "invalid assertion: signature does not verify")
        self.jwt_seen += 1
        return self.issue(user)

    # RS256 check with `openssl dgst -sha256 -verify` (the stdlib has no RSA).
    def verify_rs256(self, data, sig):
        pem = self.cfg.get("public_key_file")
        if not pem:
            raise ApiError(oauth_err("invalid_grant", "emulator config lacks salesforce.public_key_file", 500))
        with tempfile.TemporaryDirectory() as d:
            dp, sp = os.path.join(d, "data"), os.path.join(d, "sig")
            with open(dp, "wb") as f:
                f.write(data)
            with open(sp, "wb") as f:
                f.write(sig)
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sp, dp],
                               capture_output=True, timeout=20)
        return r.returncode == 0

    # --------------------------------------------------------------- data

    # Routes /services/data/vNN.N/...
    def data(self, req, ver, rest):
        m = re.match(r"^/sobjects/(\w+)/?$", rest)
        if m:
            if req.method != "POST":
                return sf_err(405, "HTTP Method '%s' not allowed. Allowed are GET,HEAD,POST" % req.method,
                              "METHOD_NOT_ALLOWED")
            return self.create_one(req, ver, m.group(1))
        m = re.match(r"^/sobjects/(\w+)/(\w{15}|\w{18})/?$", rest)
        if m:
            return self.one(req, ver, m.group(1), m.group(2))
        if rest.rstrip("/") == "/composite/sobjects":
            if req.method != "POST":
                return sf_err(405, "Only POST (create) of sObject Collections is emulated", "METHOD_NOT_ALLOWED")
            return self.collection(req, ver)
        if rest.rstrip("/") == "/query" and req.method == "GET":
            return self.query(req, ver)
        m = re.match(r"^/query/(01g\w+)-(\d+)/?$", rest)
        if m and req.method == "GET":
            return self.more(ver, m.group(1), int(m.group(2)))
        return sf_err(404, "The requested resource does not exist", "NOT_FOUND")

    # The JSON body or a JSON_PARSER_ERROR.
    def body(self, req):
        try:
            return req.json()
        except ValueError as e:
            raise ApiError(sf_err(400, str(e), "JSON_PARSER_ERROR")) from None

    # POST /sobjects/{Type}/
    def create_one(self, req, ver, typ):
        body = self.body(req)
        if typ not in sf_schema.OBJECTS or not sf_schema.OBJECTS[typ].get("createable"):
            return sf_err(404, "The requested resource does not exist", "NOT_FOUND")
        if not isinstance(body, dict):
            return sf_err(400, "Cannot deserialize instance of %s from START_ARRAY" % typ, "JSON_PARSER_ERROR")
        errs, rec = self.validate(typ, body, req)
        if errs:
            e = errs[0]
            return sf_err(400, e["message"], e["statusCode"], e["fields"])
        rid = self.save(typ, rec)
        return Response.json(201, {"id": rid, "success": True, "errors": []})

    # Field checks for one record: (errors in collection form, record).
    def validate(self, typ, body, req):
        try:
            rec = sf_schema.check(self, typ, body)
        except sf_schema.SfError as e:
            return [{"statusCode": e.code, "message": e.message, "fields": e.fields}], None
        for w in rec.pop("_emu_warnings", []):
            req.warn(w)
        return [], rec

    # Stores a validated record (plus side records); returns its Id.
    def save(self, typ, rec):
        rid = self.new_id(sf_schema.OBJECTS[typ]["prefix"])
        t = now_iso()
        rec.update({"Id": rid, "CreatedDate": t, "LastModifiedDate": t, "SystemModstamp": t})
        if typ == "ContentVersion":
            doc = self.new_id("069")
            rec["ContentDocumentId"] = doc
            rec.setdefault("Title", os.path.splitext(rec["PathOnClient"])[0])
            ext = os.path.splitext(rec["PathOnClient"])[1].lstrip(".").lower()
            rec["FileExtension"] = ext
            rec["FileType"] = ext.upper() or "UNKNOWN"
            rec["ContentSize"] = rec.pop("_emu_size")
            self.put("ContentDocument", doc, {"Id": doc, "Title": rec["Title"], "LatestPublishedVersionId": rid,
                                              "CreatedDate": t})
            if rec.get("FirstPublishLocationId"):
                link = self.new_id("06A")
                self.put("ContentDocumentLink", link, {"Id": link, "ContentDocumentId": doc,
                                                       "LinkedEntityId": rec["FirstPublishLocationId"],
                                                       "ShareType": "V", "Visibility": "AllUsers",
                                                       "CreatedDate": t, "SystemModstamp": t})
        if typ == "ContentNote":
            rec.update({"FileType": "SNOTE", "FileExtension": "snote", "IsReadOnly": False,
                        "ContentSize": len(base64.b64decode(rec.get("Content") or ""))})
            self.put("ContentDocument", rid, {"Id": rid, "Title": rec["Title"], "FileType": "SNOTE",
                                              "CreatedDate": t})
        if typ == "EmailMessage":
            rec.setdefault("ActivityId", self.new_id("00T"))
        if typ == "EmailMessageRelation" and rec.get("RelationId"):
            rec["RelationObjectType"] = sf_schema.type_of(rec["RelationId"])
        self.put(typ, rid, rec)
        return rid

    # A new 18-character Id with the given key prefix.
    def new_id(self, prefix):
        self.id_seq += 1
        n = self.id_seq
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        s = ""
        for _ in range(10):
            s = digits[n % 62] + s
            n //= 62
        return sf_schema.to18(prefix + "EM" + s)

    # GET one record, or PATCH an EmailMessage.
    def one(self, req, ver, typ, rid):
        if typ not in sf_schema.OBJECTS:
            return sf_err(404, "The requested resource does not exist", "NOT_FOUND")
        rec = self.rec(typ, sf_schema.to18(rid))
        if rec is None:
            return sf_err(404, "The requested resource does not exist", "NOT_FOUND")
        if req.method == "GET":
            return Response.json(200, self.shape(typ, rec, ver, None))
        if req.method == "PATCH" and typ in ("EmailMessage", "ContentNote"):
            body = self.body(req)
            if not isinstance(body, dict):
                return sf_err(400, "Cannot deserialize the body", "JSON_PARSER_ERROR")
            try:
                changes = sf_schema.check_update(self, rec, body) if typ == "EmailMessage" else \
                    sf_schema.check_note_update(self, body)
                if typ == "ContentNote" and "Content" in changes:
                    changes["ContentSize"] = len(base64.b64decode(changes["Content"] or ""))
            except sf_schema.SfError as e:
                return sf_err(400, e.message, e.code, e.fields)
            rec.update(changes)
            rec["LastModifiedDate"] = rec["SystemModstamp"] = now_iso()
            self.store.touch(rec)
            return Response(204)
        return sf_err(405, "HTTP Method '%s' not allowed here" % req.method, "METHOD_NOT_ALLOWED")

    # A record as the API returns it.
    def shape(self, typ, rec, ver, fields):
        out = {"attributes": {"type": typ, "url": "/services/data/v%s/sobjects/%s/%s" % (ver, typ, rec["Id"])}}
        names = fields if fields is not None else [k for k in rec if not k.startswith("_emu_")]
        for f in names:
            if typ == "ContentVersion" and f == "VersionData":
                out[f] = "/services/data/v%s/sobjects/ContentVersion/%s/VersionData" % (ver, rec["Id"])
            else:
                out[f] = rec.get(f)
        return out

    # POST /composite/sobjects
    def collection(self, req, ver):
        body = self.body(req)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return sf_err(400, "records is required: {\"allOrNone\": bool, \"records\": [...]}", "INVALID_FIELD")
        aon = body.get("allOrNone", False)
        if not isinstance(aon, bool):
            return sf_err(400, "allOrNone must be a boolean", "JSON_PARSER_ERROR")
        for k in body:
            if k not in ("allOrNone", "records"):
                return sf_err(400, "Unrecognized field \"%s\"" % k, "JSON_PARSER_ERROR")
        recs = body["records"]
        if not recs:
            return sf_err(400, "records must not be empty", "INVALID_FIELD")
        if len(recs) > 200:
            return sf_err(400, "EXCEEDED_ID_LIMIT: record limit reached. cannot submit more than 200 records into"
                          " this call", "EXCEEDED_ID_LIMIT")
        req.note["records"] = len(recs)
        checked = []
        for r in recs:
            if not isinstance(r, dict) or not isinstance(r.get("attributes"), dict) or \
                    not isinstance(r["attributes"].get("type"), str):
                return sf_err(400, "Each record needs \"attributes\": {\"type\": \"<SObject>\"}", "INVALID_TYPE")
            typ = r["attributes"]["type"]
            if typ not in sf_schema.OBJECTS or not sf_schema.OBJECTS[typ].get("createable"):
                return sf_err(400, "sObject type '%s' is not supported." % typ, "INVALID_TYPE")
            fields = {k: v for k, v in r.items() if k != "attributes"}
            errs, rec = self.validate(typ, fields, req)
            checked.append((typ, errs, rec))
        if aon and any(errs for _, errs, _ in checked):
            out = []
            for typ, errs, rec in checked:
                out.append({"success": False, "errors": errs or [{
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the request was using"
                               " AllOrNone header", "fields": []}]})
            return Response.json(200, out)
        out = []
        for typ, errs, rec in checked:
            if errs:
                out.append({"success": False, "errors": errs})
            else:
                out.append({"id": self.save(typ, rec), "success": True, "errors": []})
        return Response.json(200, out)

    # GET /query?q=
    def query(self, req, ver):
        text = req.q("q")
        if not text:
            return sf_err(400, "A query string has to be specified", "MALFORMED_QUERY")
        try:
            q = soql.parse(text)
        except soql.SoqlError as e:
            return sf_err(400, "%s\n%s" % (text, e), "MALFORMED_QUERY")
        typ = sf_schema.canon_object(q.obj)
        if typ is None:
            return sf_err(400, "sObject type '%s' is not supported." % q.obj, "INVALID_TYPE")
        fields = []
        for f in q.fields + soql.where_fields(q.where) + [o[0] for o in q.order]:
            c = sf_schema.canon_field(typ, f)
            if c is None:
                return sf_err(400, "No such column '%s' on entity '%s'. If you are attempting to use a custom field,"
                              " be sure to append the '__c' after the custom field name." % (f, typ), "INVALID_FIELD")
            fields.append(c)
        select = [sf_schema.canon_field(typ, f) for f in q.fields]
        canon = lambda f: sf_schema.canon_field(typ, f)  # noqa: E731
        recs = [r for r in self.recs(typ) if soql.matches(q.where, r, canon)]
        recs = soql.sort_records(recs, q.order, canon)
        recs = recs[q.offset:]
        if q.limit is not None:
            recs = recs[: q.limit]
        rows = [self.shape(typ, r, ver, select) for r in recs]
        size = int(self.opt("query_batch_size", 2000))
        m = re.search(r"batchSize=(\d+)", req.h("sforce-query-options", ""))
        if m:
            size = min(2000, max(200, int(m.group(1))))
        self.cursor_seq += 1
        loc = "01gEM%013d" % self.cursor_seq
        self.cursors[loc] = (rows, size)
        req.note["soql"] = text[:200]
        return self.more(ver, loc, 0)

    # One batch of a query result (first page or GET nextRecordsUrl).
    def more(self, ver, loc, offset):
        cur = self.cursors.get(loc)
        if cur is None:
            return sf_err(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        rows, size = cur
        chunk = rows[offset: offset + size]
        body = {"totalSize": len(rows), "done": offset + size >= len(rows), "records": chunk}
        if not body["done"]:
            body["nextRecordsUrl"] = "/services/data/v%s/query/%s-%d" % (ver, loc, offset + size)
        return Response.json(200, body)

    # ------------------------------------------------------------ seeding

    def seed(self, kind, records):
        if kind not in ("Contact", "Lead", "User", "Account"):
            raise ApiError(Response.json(400, {"error": "salesforce seed kinds: Contact, Lead, User, Account"}))
        out = []
        for r in records:
            if r.get("_generic"):
                r = {"Email": r["email"], "FirstName": r["first"], "LastName": r["last"]} | (
                    {"IsActive": True} if kind == "User" else {"HasOptedOutOfEmail": r["opt_out"]})
                if kind == "Account":
                    r = {"Name": "%s %s" % (r["FirstName"], r["LastName"])}
            known = sf_schema.OBJECTS[kind]["fields"]
            for k in r:
                # CreatedDate/LastModifiedDate may be given, so tests of an
                # incremental sync can place records in time
                if k not in known and k not in ("Id", "CreatedDate", "LastModifiedDate"):
                    raise ApiError(Response.json(400, {"error": "%s has no field %r" % (kind, k)}))
            rid = sf_schema.to18(r["Id"]) if r.get("Id") else self.new_id(sf_schema.OBJECTS[kind]["prefix"])
            t = now_iso(t=time.time() - 86400 + len(self.recs(kind)) * 0.001)
            rec = {"Id": rid, "CreatedDate": t, "LastModifiedDate": t, "SystemModstamp": t}
            rec.update(sf_schema.DEFAULTS.get(kind, {}))
            rec.update({k: v for k, v in r.items() if k != "Id"})
            if r.get("LastModifiedDate"):
                rec["SystemModstamp"] = r["LastModifiedDate"]
            if "Name" in known and kind != "Account":
                rec["Name"] = ("%s %s" % (rec.get("FirstName") or "", rec.get("LastName") or "")).strip()
            self.put(kind, rid, rec)
            out.append(public(rec))
        return out

    def dup_keys(self):
        # A message saved as a sent and a received copy (internal mail) is two
        # EmailMessages with one MessageIdentifier: the key includes Incoming.
        return ["%s|%s" % (r["MessageIdentifier"], "in" if r.get("Incoming") else "out")
                for r in self.recs("EmailMessage") if r.get("MessageIdentifier")]

    def extra_stats(self):
        return {"api_usage": self.api_used, "daily_limit": int(self.opt("daily_limit", 100000)),
                "tokens_issued": self.tokens.issued, "jwt_grants": self.jwt_seen}
