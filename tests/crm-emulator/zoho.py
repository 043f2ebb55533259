"""Zoho accounts (refresh-token grant) and Zoho CRM API v8, as documented in
/work/notes/vendor-hubspot-zoho-webhook.md section 2.

Paths (prefix /zoho; accounts URL = BASE/zoho, api_domain = BASE/zoho):
  POST /oauth/v2/token                          refresh_token grant (query or form parameters);
                                                at most mint_limit (10) tokens per refresh token in
                                                mint_window (600 s), else 200 "Access Denied";
                                                at most 15 live tokens (the 16th invalidates the oldest)
  POST /crm/v8/{module}/{id}/actions/associate_email   wrapper Emails, exactly one email
  GET  /crm/v8/{module}/search?email=|criteria=         204 when nothing matches
  GET  /crm/v8/{module}?fields=...&per_page&page|page_token   (fields required; If-Modified-Since)
  GET  /crm/v8/{module}/{id}
  POST /crm/v8/files                                    multipart/form-data, <= 10 files, <= 20 MB each
  POST /crm/v8/Notes, PUT|GET /crm/v8/Notes/{id}, GET /crm/v8/{module}/{id}/Notes   (zoho_notes.py)

API calls take "Authorization: Zoho-oauthtoken <token>".

Public: class Zoho.
"""

import re
import secrets
import time

from common import ApiError, Response, Vendor, form_data_files, now_iso, parse_form, parse_time, public
import zoho_checks
import zoho_notes

MODULES = ("Leads", "Contacts", "Accounts", "Deals", "Quotes", "Invoices", "Sales_Orders", "Purchase_Orders")
SEEDABLE = ("Leads", "Contacts", "Accounts", "Deals")


def zerr(status, code, message, details=None):
    """{"code","message","status":"error","details"}."""
    return Response.json(status, {"code": code, "message": message, "status": "error", "details": details or {}})


class Zoho(Vendor):
    """Refresh-token minting with Zoho's limits, associate_email, search and listing."""

    name = "zoho"
    prefixes = ("/zoho",)
    kinds = ("Emails", "files", "Notes") + SEEDABLE

    def reset(self):
        super().reset()
        self.mints = []          # times of successful mints
        self.denied = 0
        self.live = []           # live tokens, oldest first
        self.credits = 0
        self.id_seq = 0

    def is_token_path(self, req):
        return req.sub.startswith("/oauth/")

    def api_domain(self):
        return self.emu.base_url + "/zoho"

    def error(self, req, kind, retry_after=None):
        if self.is_token_path(req):
            status = {"429": 429, "503": 503, "401": 401}.get(kind, 500)
            return Response.json(status, {"error": "internal_error", "error_description": "injected fault %s" % kind})
        if kind == "401":
            return zerr(401, "INVALID_TOKEN", "invalid oauth token")
        if kind in ("429", "request_limit", "concurrency"):
            details = {"retry_after": retry_after} if retry_after is not None else {}
            return zerr(429, "TOO_MANY_REQUESTS", "Number of API requests for the 24 hour period is exceeded or the"
                        " concurrency limit of the user for the app is exceeded", details)
        if kind == "503":
            return zerr(503, "INTERNAL_ERROR", "Service temporarily unavailable")
        return zerr(500, "INTERNAL_ERROR", "Internal Server Error")

    def handle(self, req):
        if self.is_token_path(req):
            return self.token(req)
        auth = req.h("authorization", "")
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0] != "Zoho-oauthtoken":
            # UNCONFIRMED code for a missing header or another scheme.
            return zerr(401, "AUTHENTICATION_FAILURE", "Authentication failed: send Authorization:"
                        " Zoho-oauthtoken <access_token>")
        state = self.tokens.check(parts[1].strip())
        if state == "revoked":
            return zerr(401, "INVALID_OAUTHTOKEN", "invalid oauth token (invalidated: more than 15 live tokens)")
        if state != "ok":
            return zerr(401, "INVALID_TOKEN", "invalid oauth token")
        self.credits += 1
        if self.credits > int(self.opt("daily_credits", 10 ** 9)):
            return self.error(req, "429")
        n = re.match(r"^/crm/v8/Notes(?:/(\d+))?/?$", req.sub)
        if n:
            return zoho_notes.handle(self, req, n.group(1), None)
        n = re.match(r"^/crm/v8/(\w+)/(\d+)/Notes/?$", req.sub)
        if n:
            if n.group(1) not in MODULES:
                return Response.json(404, {"code": "INVALID_MODULE", "details": {"resource_path_index": 0},
                                           "message": "the module name given seems to be invalid", "status": "error"})
            return zoho_notes.handle(self, req, None, (n.group(1), n.group(2)))
        m = re.match(r"^/crm/v8/(\w+)(?:/(\w+))?(?:/(actions/associate_email))?/?$", req.sub)
        if not m:
            return zerr(404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
        module, rid, action = m.groups()
        try:
            if module == "files" and rid is None and req.method == "POST":
                return self.upload(req)
            if module not in MODULES and module not in self.opt("custom_modules", []):
                return Response.json(404, {"code": "INVALID_MODULE", "details": {"resource_path_index": 0},
                                           "message": "the module name given seems to be invalid", "status": "error"})
            if action and req.method == "POST":
                return zoho_checks.associate(self, req, module, rid)
            if rid == "search" and req.method == "GET":
                return self.search(req, module)
            if rid is None and req.method == "GET":
                return self.list(req, module)
            if rid and req.method == "GET":
                rec = self.rec(module, rid)
                if rec is None:
                    return Response(204)
                return Response.json(200, {"data": [public(rec)]})
        except ApiError as e:
            return e.response
        return zerr(405, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one")

    # POST /oauth/v2/token (errors come with HTTP 200, as Zoho does).
    def token(self, req):
        if req.sub.rstrip("/") != "/oauth/v2/token":
            return Response.json(404, {"error": "invalid_request"})
        if req.method != "POST":
            return Response.json(200, {"error": "invalid_request", "error_description": "use POST"})
        form = parse_form(req)
        if form.get("grant_type") != "refresh_token":
            return Response.json(200, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.cfg.get("client_id") or \
                form.get("client_secret") != self.secret("client_secret"):
            return Response.json(200, {"error": "invalid_client"})
        if form.get("refresh_token") != self.secret("refresh_token"):
            return Response.json(200, {"error": "invalid_code"})
        now = time.time()
        window = float(self.opt("mint_window", 600))
        self.mints = [t for t in self.mints if t > now - window]
        if len(self.mints) >= int(self.opt("mint_limit", 10)):
            self.denied += 1
            # UNCONFIRMED exact body (notes 2.1): HTTP 200, no access_token.
            return Response.json(200, {"error": "Access Denied", "error_description": "You have made too many"
                                       " requests continuously. Please try again after some time.",
                                       "status": "failure"})
        self.mints.append(now)
        ttl = int(self.opt("token_ttl", 3600))
        tok = "1000.%s.%s" % (secrets.token_hex(16), secrets.token_hex(16))
        self.tokens.tokens[tok] = {"expires": now + ttl, "revoked": False, "meta": {}, "issued": now}
        self.tokens.issued += 1
        self.live = [t for t in self.live if self.tokens.check(t) == "ok"]
        self.live.append(tok)
        maxlive = int(self.opt("max_live_tokens", 15))
        while len(self.live) > maxlive:
            self.tokens.tokens[self.live.pop(0)]["revoked"] = True
        return Response.json(200, {"access_token": tok, "scope": self.opt("scope", "ZohoCRM.modules.ALL"),
                                   "api_domain": self.api_domain(), "token_type": "Bearer", "expires_in": ttl})

    # POST /crm/v8/files
    def upload(self, req):
        try:
            files = [f for f in form_data_files(req) if f[0] == "file"]
        except ValueError as e:
            return zerr(400, "failure_in_attachment_handling", "Problem in uploading attachment. kindly upload the"
                        " file properly (%s)" % e)
        if not files:
            return zerr(400, "failure_in_attachment_handling", "Problem in uploading attachment. kindly upload the"
                        " file properly (no 'file' field)")
        if len(files) > 10:
            return zerr(400, "INVALID_REQUEST", "at most 10 files per request")
        out = []
        for _, fname, ctype, content in files:
            if len(content) > int(self.opt("max_file_bytes", 20 * 1024 * 1024)):
                return zerr(415, "FILE_SIZE_MORE_THAN_ALLOWED_SIZE", "Please check if the size of the file is in the"
                            " correct range")
            fid = secrets.token_hex(20)
            self.put("files", fid, {"id": fid, "name": fname, "content_type": ctype, "size": len(content),
                                    "created": now_iso()})
            out.append({"status": "success", "code": "SUCCESS", "message": "%s uploaded successfully" % fname,
                        "details": {"name": fname, "id": fid}})
        return Response.json(200, {"data": out})

    # Paging info block.
    def info(self, per_page, count, page, more, **extra):
        out = {"per_page": per_page, "count": count, "page": page, "more_records": more}
        out.update(extra)
        return out

    # GET /crm/v8/{module}/search
    def search(self, req, module):
        keys = [k for k in ("email", "criteria", "phone", "word") if req.q(k)]
        if not keys:
            return zerr(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param_name": "criteria"})
        per_page, page = self.paging(req)
        recs = self.recs(module)
        if req.q("email"):
            e = req.q("email").lower()
            recs = [r for r in recs if any(str(r.get(f) or "").lower() == e for f in ("Email", "Secondary_Email"))]
        if req.q("criteria"):
            pred = zoho_checks.criteria(req.q("criteria"))
            recs = [r for r in recs if pred(r)]
        if req.q("word"):
            w = req.q("word").lower()
            recs = [r for r in recs if any(w in str(v).lower() for v in r.values())]
        if req.q("phone"):
            recs = [r for r in recs if req.q("phone") in (r.get("Phone"), r.get("Mobile"))]
        chunk = recs[(page - 1) * per_page: page * per_page]
        if not chunk:
            return Response(204)
        return Response.json(200, {"data": [public(r) for r in chunk],
                                   "info": self.info(per_page, len(chunk), page, page * per_page < len(recs))})

    # per_page and page query parameters.
    def paging(self, req):
        pp, pg = req.q("per_page", "200"), req.q("page", "1")
        if not pp.isdigit() or not 1 <= int(pp) <= 200:
            raise ApiError(zerr(400, "INVALID_DATA", "per_page must be 1..200", {"param_name": "per_page"}))
        if not pg.isdigit() or int(pg) < 1:
            raise ApiError(zerr(400, "INVALID_DATA", "page must be >= 1", {"param_name": "page"}))
        return int(pp), int(pg)

    # GET /crm/v8/{module}?fields=...
    def list(self, req, module):
        fields = req.q("fields")
        if not fields:
            return zerr(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                        {"param_name": "fields"})
        names = [f.strip() for f in fields.split(",") if f.strip()]
        if len(names) > 50:
            return zerr(400, "LIMIT_EXCEEDED", "fields: at most 50", {"param_name": "fields"})
        per_page, page = self.paging(req)
        recs = self.recs(module)
        ims = req.h("if-modified-since")
        if ims:
            t = parse_time(ims, require_zone=True)
            if t is None:
                return zerr(400, "INVALID_DATA", "If-Modified-Since must be an ISO 8601 date-time with offset",
                            {"header_name": "If-Modified-Since"})
            recs = [r for r in recs if (parse_time(r.get("Modified_Time")) or 0) > t]
            if not recs:
                return Response(304)
        sort_by = req.q("sort_by", "id")
        if sort_by not in ("id", "Created_Time", "Modified_Time"):
            return zerr(400, "INVALID_DATA", "sort_by must be id, Created_Time or Modified_Time",
                        {"param_name": "sort_by"})
        desc = req.q("sort_order", "asc") == "desc"
        recs = sorted(recs, key=lambda r: (int(r["id"]) if sort_by == "id" else parse_time(r.get(sort_by)) or 0),
                      reverse=desc)
        tok = req.q("page_token")
        if tok:
            m = re.match(r"^emu-(\d+)$", tok)
            if not m:
                return zerr(400, "INVALID_DATA", "invalid page_token", {"param_name": "page_token"})
            offset = int(m.group(1))
        else:
            offset = (page - 1) * per_page
            if offset + per_page > 2000:
                return zerr(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "you cannot fetch more than 2000 records with"
                            " page; use page_token", {"limit": 2000})
        if offset >= 100000:
            return zerr(400, "PAGINATION_LIMIT_EXCEEDED", "page_token reaches 100,000 records at most")
        chunk = recs[offset: offset + per_page]
        if not chunk:
            return Response(204)
        for n in names:
            if not any(n in r for r in recs) and n != "id":
                req.warn("field %s is not in the emulated %s records" % (n, module))
        data = [{"id": r["id"], **{n: r.get(n) for n in names if n != "id"}} for r in chunk]
        more = offset + per_page < len(recs)
        info = self.info(per_page, len(chunk), page if not tok else None, more, sort_by=sort_by,
                         sort_order="desc" if desc else "asc",
                         next_page_token="emu-%d" % (offset + per_page) if more else None,
                         previous_page_token=None, page_token_expiry=None)
        return Response.json(200, {"data": data, "info": info})

    # ----------------------------------------------------------- seeding

    # A new 19-digit record id.
    def new_id(self):
        self.id_seq += 1
        return str(4150868000000000000 + self.id_seq)

    def seed(self, kind, records):
        if kind not in SEEDABLE:
            raise ApiError(Response.json(400, {"error": "zoho seed kinds: %s" % ", ".join(SEEDABLE)}))
        out = []
        for r in records:
            if r.get("_generic"):
                g = r
                r = {"Email": g["email"], "First_Name": g["first"], "Last_Name": g["last"],
                     "Email_Opt_Out": g["opt_out"]}
                if kind == "Accounts":
                    r = {"Account_Name": "%s %s" % (g["first"], g["last"])}
                elif kind == "Deals":
                    r = {"Deal_Name": "Deal %s" % g["last"], "Stage": "Qualification"}
            rid = str(r.get("id") or self.new_id())
            t = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 86400 + len(self.recs(kind))))
            rec = {"id": rid, "Created_Time": t, "Modified_Time": t,
                   "Owner": {"name": "Emulated Owner", "id": "4150868000000225013", "email": "owner@example.test"}}
            if kind in ("Leads", "Contacts"):
                rec["Email_Opt_Out"] = False
                rec["Full_Name"] = ("%s %s" % (r.get("First_Name") or "", r.get("Last_Name") or "")).strip()
            rec.update({k: v for k, v in r.items() if k != "id"})
            self.put(kind, rid, rec)
            out.append(public(rec))
        return out

    def dup_keys(self):
        return [(r["module"], r["record_id"], r["original_message_id"]) for r in self.recs("Emails")] + \
            zoho_notes.dup_keys(self)

    def extra_stats(self):
        return {"mints": self.tokens.issued, "mints_denied": self.denied, "credits_used": self.credits,
                "live_tokens": len(self.live)}
