"""HubSpot CRM v3 with a private-app token, as documented in
/work/notes/vendor-hubspot-zoho-webhook.md section 1.

Paths (prefix /hubspot; base URL = BASE/hubspot):
  POST  /crm/v3/objects/{emails,notes}                 create
  POST  /crm/v3/objects/{emails,notes}/batch/create    <= 100 inputs; 207 when some fail and every
                                                       input has objectWriteTraceId, else 400
  GET|PATCH /crm/v3/objects/{emails,notes}/{id}     GET takes ?associations=contacts,companies,deals
  PUT   /crm/v3/objects/emails/{id}/associations/{toType}/{toId}/{typeId}
  GET   /crm/v3/objects/{contacts,companies,deals}     list (limit <= 100, after cursor)
  POST  /crm/v3/objects/{contacts,companies,deals,emails}/search   (limit <= 200, 10,000 cap, 5/s)
  GET   /crm/v3/owners                                 owners (limit <= 500, after cursor; HubSpot's
                                                       owners guide, not in the notes)
  POST  /files/v3/files                                multipart/form-data upload: file, options
                                                       {"access"}, folderId or folderPath (files guide)

Non-search answers carry X-HubSpot-RateLimit-* headers; past the per-10 s
budget the answer is 429 TEN_SECONDLY_ROLLING.  Private-app tokens come from
the config and never expire (a 401 is terminal for the client).

Public: class HubSpot.
"""

import base64
import collections
import json
import re
import time
import uuid

import hs_checks

from common import ApiError, Response, Vendor, bearer, form_data_files, now_iso, public

OBJECT_TYPES = ("emails", "notes", "contacts", "companies", "deals")
DIRECTORY = ("contacts", "companies", "deals", "owners")
DEFAULT_PROPS = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_object_id", "hs_lastmodifieddate", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    "emails": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")


def hs_err(status, message, category="VALIDATION_ERROR", **extra):
    """The Error schema: status, message, correlationId, category (+ context, errors)."""
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    body.update(extra)
    return Response.json(status, body)


class HubSpot(Vendor):
    """Emails, notes, directory objects, search and batch create."""

    name = "hubspot"
    prefixes = ("/hubspot",)
    kinds = OBJECT_TYPES + ("owners", "files")

    def reset(self):
        super().reset()
        for t in self.opt("tokens", []):
            self.tokens.add_static(t)
        if self.cfg.get("token_file"):
            self.tokens.add_static(self.secret("token"))
        self.id_seq = 1000
        self.window = collections.deque()
        self.search_times = collections.deque()
        self.daily = 0

    def configure(self):
        self.reset()

    def error(self, req, kind, retry_after=None):
        if kind == "401":
            return hs_err(401, "Authentication credentials not found. This API supports OAuth 2.0 authentication and"
                          " you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                          "INVALID_AUTHENTICATION")
        if kind in ("429", "request_limit", "concurrency"):
            return self.rate_limited("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING")
        if kind == "503":
            return hs_err(503, "Service Unavailable", "SERVICE_UNAVAILABLE")
        return hs_err(500, "internal error", "INTERNAL_ERROR")

    # The 429 body quoted in the notes (section 1.8).
    def rate_limited(self, message, policy):
        resp = Response.json(429, {"status": "error", "message": message, "errorType": "RATE_LIMIT",
                                   "correlationId": str(uuid.uuid4()), "policyName": policy,
                                   "requestId": str(uuid.uuid4())})
        return resp

    # X-HubSpot-RateLimit-* headers (not on search answers).
    def limit_headers(self, resp):
        maxn = int(self.opt("per_10s", 190))
        daily = int(self.opt("daily", 1000000))
        resp.headers += [("X-HubSpot-RateLimit-Daily", str(daily)),
                         ("X-HubSpot-RateLimit-Daily-Remaining", str(max(0, daily - self.daily))),
                         ("X-HubSpot-RateLimit-Interval-Milliseconds", "10000"),
                         ("X-HubSpot-RateLimit-Max", str(maxn)),
                         ("X-HubSpot-RateLimit-Remaining", str(max(0, maxn - len(self.window))))]
        return resp

    def handle(self, req):
        tok = bearer(req)
        if tok is None or self.tokens.check(tok) != "ok":
            return self.error(req, "401")
        m = re.match(r"^/crm/v3/objects/(\w+)(/.*)?$", req.sub)
        if req.sub in ("/crm/v3/owners", "/crm/v3/owners/"):
            m = None
            otype, rest = "owners", ""
        elif req.sub == "/files/v3/files":
            otype, rest = "files", ""
        elif not m or m.group(1) not in OBJECT_TYPES:
            return hs_err(404, "Unable to infer object type from: %s" % req.sub, "OBJECT_NOT_FOUND")
        else:
            otype, rest = m.group(1), m.group(2) or ""
        now = time.time()
        if rest == "/search" and req.method == "POST":
            while self.search_times and self.search_times[0] <= now - 1:
                self.search_times.popleft()
            if len(self.search_times) >= int(self.opt("search_per_second", 5)):
                resp = self.rate_limited("You have reached your secondly limit.", "SECONDLY")
                if self.opt("search_retry_after", True):
                    resp.headers.append(("Retry-After", "1"))
                return resp
            self.search_times.append(now)
            try:
                return self.search(req, otype)
            except ApiError as e:
                return e.response
        while self.window and self.window[0] <= now - 10:
            self.window.popleft()
        if len(self.window) >= int(self.opt("per_10s", 190)):
            resp = self.limit_headers(self.rate_limited("You have reached your ten_secondly_rolling limit.",
                                                        "TEN_SECONDLY_ROLLING"))
            if self.opt("retry_after_on_429", True):
                resp.headers.append(("Retry-After", str(max(1, int(self.window[0] + 10 - now + 0.999)))))
            return resp
        if self.daily >= int(self.opt("daily", 1000000)):
            return self.limit_headers(self.rate_limited("You have reached your daily limit.", "DAILY"))
        self.window.append(now)
        self.daily += 1
        try:
            resp = self.route(req, otype, rest)
        except ApiError as e:
            resp = e.response
        return self.limit_headers(resp)

    # Non-search routes.
    def route(self, req, otype, rest):
        if otype == "owners":
            if req.method != "GET":
                return hs_err(405, "%s %s is not emulated" % (req.method, req.sub), "VALIDATION_ERROR")
            return self.owners(req)
        if otype == "files":
            if req.method != "POST":
                return hs_err(405, "%s %s is not emulated" % (req.method, req.sub), "VALIDATION_ERROR")
            return self.upload(req)
        writable = otype in ("emails", "notes")
        if rest == "" and req.method == "POST" and writable:
            return self.create(req, otype)
        if rest == "/batch/create" and req.method == "POST" and writable:
            return self.batch_create(req, otype)
        if rest == "" and req.method == "GET":
            return self.list(req, otype)
        m = re.match(r"^/(\d+)$", rest)
        if m:
            rec = self.rec(otype, m.group(1))
            if rec is None or rec.get("archived"):
                return hs_err(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND")
            if req.method == "GET":
                out = self.shape(otype, rec, self.wanted(req, otype))
                if req.q("associations"):
                    out["associations"] = self.associations_of(otype, rec, req.q("associations"))
                return Response.json(200, out)
            if req.method == "PATCH" and writable:
                return self.patch(req, otype, rec)
        m = re.match(r"^/(\d+)/associations/(\w+)/(\d+)/(\d+)$", rest)
        if m and req.method == "PUT" and writable:
            return self.associate(otype, *m.groups())
        return hs_err(405, "%s %s is not emulated" % (req.method, req.sub), "VALIDATION_ERROR")

    # The JSON body as an object.
    def body(self, req):
        try:
            b = req.json()
        except ValueError as e:
            raise ApiError(hs_err(400, "Invalid input JSON on line 1: %s" % e)) from None
        if not isinstance(b, dict):
            raise ApiError(hs_err(400, "Invalid input JSON: expected an object"))
        return b

    # A new numeric object id.
    def new_id(self):
        self.id_seq += 1
        return str(self.id_seq)

    # Stores a validated input; returns the record.
    def save(self, otype, item):
        oid = self.new_id()
        t = now_iso()
        props = dict(item["properties"])
        props.update(item.get("_emu_derived", {}))
        props.update({"hs_object_id": oid, "hs_createdate": t, "hs_lastmodifieddate": t})
        rec = {"id": oid, "properties": props, "associations": item.get("associations", []),
               "createdAt": t, "updatedAt": t, "archived": False}
        if item.get("objectWriteTraceId") is not None:
            rec["objectWriteTraceId"] = item["objectWriteTraceId"]
        self.put(otype, oid, rec)
        return rec

    # A stored object as SimplePublicObject.
    def shape(self, otype, rec, props=None):
        p = rec["properties"]
        if props is None:
            out_props = dict(p)
        else:
            out_props = {k: p.get(k) for k in props if k in p or k in DEFAULT_PROPS.get(otype, ())}
        out = {"id": rec["id"], "properties": out_props, "createdAt": rec["createdAt"],
               "updatedAt": rec["updatedAt"], "archived": rec.get("archived", False)}
        if "objectWriteTraceId" in rec:
            out["objectWriteTraceId"] = rec["objectWriteTraceId"]
        return out

    # POST /crm/v3/objects/{emails,notes}
    def create(self, req, otype):
        body = self.body(req)
        try:
            item = hs_checks.check_input(self, otype, body, req)
        except hs_checks.HsError as e:
            return hs_err(400, e.message, e.category, **e.extra)
        rec = self.save(otype, item)
        return Response.json(201, self.shape(otype, rec))

    # POST .../batch/create
    def batch_create(self, req, otype):
        body = self.body(req)
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return hs_err(400, "Invalid input JSON: inputs must be a non-empty array")
        for k in body:
            if k != "inputs":
                return hs_err(400, "Invalid input JSON on line 1: Unrecognized field \"%s\"" % k)
        if len(inputs) > int(self.opt("batch_max", 100)):
            return hs_err(400, "Batch input size must be less than or equal to %d; got %d"
                          % (int(self.opt("batch_max", 100)), len(inputs)))
        req.note["inputs"] = len(inputs)
        started = now_iso()
        checked = []
        for i, item in enumerate(inputs):
            try:
                checked.append((hs_checks.check_input(self, otype, item, req, index=i), None))
            except hs_checks.HsError as e:
                checked.append((item if isinstance(item, dict) else {}, e))
        multi = all(isinstance(it, dict) and it.get("objectWriteTraceId") for it, _ in checked)
        failures = [(it, e) for it, e in checked if e]
        if failures and not multi:
            e = failures[0][1]
            return hs_err(400, e.message, e.category, **e.extra)
        results = [self.shape(otype, self.save(otype, it)) for it, e in checked if e is None]
        body = {"status": "COMPLETE", "results": results, "requestedAt": started, "startedAt": started,
                "completedAt": now_iso(), "links": {}}
        if failures:
            body["numErrors"] = len(failures)
            body["errors"] = [{"status": "error", "category": e.category, "message": e.message,
                               "context": {"objectWriteTraceId": [str(it.get("objectWriteTraceId"))]},
                               "errors": e.extra.get("errors", [])} for it, e in failures]
            return Response.json(207, body)
        return Response.json(int(self.opt("batch_status", 201)), body)

    # PATCH /{id}: unknown and read-only properties are ignored (guide "Update emails").
    def patch(self, req, otype, rec):
        body = self.body(req)
        props = body.get("properties")
        if not isinstance(props, dict):
            return hs_err(400, "properties must be an object")
        for k, v in props.items():
            if not isinstance(v, str):
                return hs_err(400, "Property values were not valid: %s must be a string" % k)
            if k in hs_checks.READ_ONLY.get(otype, ()) or k not in hs_checks.known_props(self, otype):
                req.warn("PATCH property %s is read-only or unknown; ignored" % k)
                continue
            if v == "":
                rec["properties"].pop(k, None)
            else:
                rec["properties"][k] = v
        rec["updatedAt"] = rec["properties"]["hs_lastmodifieddate"] = now_iso()
        self.store.touch(rec)
        return Response.json(200, self.shape(otype, rec))

    # PUT .../associations/{toType}/{toId}/{typeId}
    def associate(self, otype, oid, to_type, to_id, type_id):
        rec = self.rec(otype, oid)
        if rec is None:
            return hs_err(404, "Object not found.", "OBJECT_NOT_FOUND")
        try:
            hs_checks.check_association(self, otype, {"to": {"id": to_id}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": int(type_id)}]}, "path",
                to_type=to_type)
        except hs_checks.HsError as e:
            return hs_err(400, e.message, e.category)
        rec["associations"].append({"to": {"id": to_id}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": int(type_id)}]})
        return Response.json(200, self.shape(otype, rec))

    # ?associations=contacts,companies,deals on a GET: {"contacts": {"results": [{"id", "type"}]}}
    # (SimplePublicObjectWithAssociations; only kinds that have some appear).
    def associations_of(self, otype, rec, wanted):
        singular = {"emails": "email", "notes": "note", "contacts": "contact", "companies": "company",
                    "deals": "deal", "tickets": "ticket"}
        out = {}
        for kind in [k for k in wanted.split(",") if k]:
            plural = kind if kind in singular else kind + "s"
            if kind == "company":
                plural = "companies"
            results = []
            for a in rec.get("associations", []):
                for t in a.get("types", []):
                    target = hs_checks.ASSOC.get(otype, {}).get(t.get("associationTypeId"))
                    if target == plural and t.get("associationCategory") == "HUBSPOT_DEFINED":
                        results.append({"id": str(a["to"]["id"]), "type": "%s_to_%s" % (
                            singular.get(otype, otype), singular.get(plural, plural))})
            if results:
                out[plural] = {"results": results}
        return out

    # GET /crm/v3/owners?limit&after&archived (owners guide: id, email, type, firstName, lastName,
    # userId, createdAt, updatedAt, archived).
    def owners(self, req):
        lim = req.q("limit", "100")
        if not lim.isdigit() or not 1 <= int(lim) <= 500:
            return hs_err(400, "limit must be 1..500, got %s" % lim)
        lim = int(lim)
        archived = req.q("archived", "false") == "true"
        recs = sorted((r for r in self.recs("owners") if bool(r.get("archived")) == archived),
                      key=lambda r: int(r["id"]))
        after = req.q("after")
        if after:
            if not after.isdigit():
                return hs_err(400, "after must be a cursor from paging.next.after")
            recs = [r for r in recs if int(r["id"]) >= int(after)]
        page = recs[:lim]
        body = {"results": [public(r) for r in page]}
        if len(recs) > lim:
            nxt = recs[lim]["id"]
            body["paging"] = {"next": {"after": nxt, "link": "%s/hubspot/crm/v3/owners?after=%s&limit=%d"
                                       % (self.emu.base_url, nxt, lim)}}
        return Response.json(200, body)

    # POST /files/v3/files (files guide): file required; options a JSON object with access;
    # exactly one of folderId and folderPath; 201 with the File object.
    def upload(self, req):
        try:
            fields = form_data_files(req)
        except ValueError as e:
            return hs_err(400, str(e))
        files = [f for f in fields if f[0] == "file" and f[1] is not None]
        values = {f[0]: f[3].decode("utf-8", "replace") for f in fields if f[1] is None}
        if len(files) != 1:
            return hs_err(400, "exactly one file field is required, got %d" % len(files))
        for k in values:
            if k not in ("options", "folderId", "folderPath", "fileName", "charsetHunch"):
                return hs_err(400, "Unrecognized field \"%s\"" % k)
        try:
            options = json.loads(values.get("options", ""))
        except ValueError:
            return hs_err(400, "options must be a JSON object with access")
        access = ("PUBLIC_INDEXABLE", "PUBLIC_NOT_INDEXABLE", "HIDDEN_INDEXABLE", "HIDDEN_NOT_INDEXABLE",
                  "HIDDEN_PRIVATE", "PRIVATE", "HIDDEN_SENSITIVE", "SENSITIVE")
        if not isinstance(options, dict) or options.get("access") not in access:
            return hs_err(400, "options.access is required, one of %s" % ", ".join(access))
        if ("folderId" in values) == ("folderPath" in values):
            return hs_err(400, "give exactly one of folderId and folderPath")
        _, fname, ctype, content = files[0]
        name = values.get("fileName") or fname or "file"
        stem, _, ext = name.rpartition(".")
        oid = self.new_id()
        t = now_iso()
        rec = {"id": oid, "name": stem or name, "extension": ext if stem else "", "access": options["access"],
               "size": len(content), "type": ctype, "path": "%s/%s" % (values.get("folderPath", ""), name),
               "parentFolderId": values.get("folderId", "77"), "createdAt": t, "updatedAt": t,
               "archived": False, "url": "https://files.example.test/%s/%s" % (oid, name),
               "content_base64": base64.b64encode(content).decode()}
        self.put("files", oid, rec)
        return Response.json(201, {k: v for k, v in public(rec).items() if k != "content_base64"})

    # Properties asked for by ?properties=, else the defaults.
    def wanted(self, req, otype):
        props = req.q("properties")
        if props is None:
            return list(DEFAULT_PROPS[otype])
        return [p for p in props.split(",") if p]

    # GET /crm/v3/objects/{type}?limit&after&properties&archived
    def list(self, req, otype):
        lim = req.q("limit", "10")
        if not lim.isdigit() or not 1 <= int(lim) <= int(self.opt("list_max", 100)):
            return hs_err(400, "limit must be 1..%d, got %s" % (int(self.opt("list_max", 100)), lim))
        lim = int(lim)
        archived = req.q("archived", "false") == "true"
        after = req.q("after")
        recs = sorted((r for r in self.recs(otype) if bool(r.get("archived")) == archived), key=lambda r: int(r["id"]))
        if after:
            if not after.isdigit():
                return hs_err(400, "after must be a cursor from paging.next.after")
            recs = [r for r in recs if int(r["id"]) >= int(after)]
        page = recs[:lim]
        props = self.wanted(req, otype)
        body = {"results": [self.shape(otype, r, props) for r in page]}
        if len(recs) > lim:
            nxt = recs[lim]["id"]
            body["paging"] = {"next": {"after": nxt, "link": "%s/hubspot/crm/v3/objects/%s?after=%s&limit=%d"
                                       % (self.emu.base_url, otype, nxt, lim)}}
        return Response.json(200, body)

    # POST /crm/v3/objects/{type}/search
    def search(self, req, otype):
        body = self.body(req)
        groups = body.get("filterGroups", [])
        if not isinstance(groups, list) or len(groups) > int(self.opt("search_max_groups", 6)):
            return hs_err(400, "filterGroups must be an array of at most %d groups"
                          % int(self.opt("search_max_groups", 6)))
        total_filters = 0
        for g in groups:
            fl = g.get("filters") if isinstance(g, dict) else None
            if not isinstance(fl, list) or len(fl) > 10:
                return hs_err(400, "each filter group needs a filters array of at most 10 filters")
            total_filters += len(fl)
            for f in fl:
                if not isinstance(f, dict) or not isinstance(f.get("propertyName"), str) or \
                        f.get("operator") not in OPERATORS:
                    return hs_err(400, "each filter needs propertyName and operator in %s" % ", ".join(OPERATORS))
        if total_filters > 25:
            return hs_err(400, "at most 25 filters in total, got %d" % total_filters)
        lim = body.get("limit", 10)
        if isinstance(lim, bool) or not isinstance(lim, int) or not 1 <= lim <= 200:
            return hs_err(400, "limit must be an integer 1..200")
        after = body.get("after", "0")
        if isinstance(after, int) and not isinstance(after, bool):
            after = str(after)
        if not isinstance(after, str) or not after.isdigit():
            return hs_err(400, "after must be a numeric string")
        off = int(after)
        if off + lim > 10000:
            return hs_err(400, "The search API can page through 10,000 results at most (after=%d, limit=%d)"
                          % (off, lim))
        recs = [r for r in self.recs(otype) if not r.get("archived")]
        if groups:
            recs = [r for r in recs if any(all(hs_checks.match(f, r["properties"]) for f in g["filters"])
                                           for g in groups)]
        recs = hs_checks.sort(recs, body.get("sorts", []))
        page = recs[off: off + lim]
        props = body.get("properties") or list(DEFAULT_PROPS[otype])
        out = {"total": len(recs), "results": [self.shape(otype, r, props) for r in page]}
        if off + lim < len(recs):
            out["paging"] = {"next": {"after": str(off + lim)}}
        return Response.json(200, out)

    # ----------------------------------------------------------- seeding

    def seed(self, kind, records):
        if kind not in DIRECTORY:
            raise ApiError(Response.json(400, {"error": "hubspot seed kinds: %s" % ", ".join(DIRECTORY)}))
        out = []
        for i, r in enumerate(records):
            if r.get("_generic"):
                if kind == "contacts":
                    r = {"email": r["email"], "firstname": r["first"], "lastname": r["last"],
                         "hs_email_optout": "true" if r["opt_out"] else "false"}
                elif kind == "owners":
                    r = {"email": r["email"], "firstName": r["first"], "lastName": r["last"]}
                elif kind == "companies":
                    r = {"name": "%s %s" % (r["first"], r["last"]), "domain": r["email"].split("@")[1]}
                else:
                    r = {"dealname": "Deal %s" % r["last"], "dealstage": "appointmentscheduled"}
            props = dict(r.get("properties", r))
            oid = str(props.pop("id", None) or self.new_id())
            if kind == "owners":
                t = now_iso()
                rec = {"id": oid, "email": props.get("email"), "type": "PERSON",
                       "firstName": props.get("firstName"), "lastName": props.get("lastName"),
                       "userId": int(oid) + 9000000, "userIdIncludingInactive": int(oid) + 9000000,
                       "createdAt": t, "updatedAt": t, "archived": bool(props.get("archived", False))}
                self.put(kind, oid, rec)
                out.append(public(rec))
                continue
            # a record may give its own lastmodifieddate (a change made "now", for incremental sync)
            t = props.pop("lastmodifieddate", None) or \
                now_iso(t=time.time() - 86400 + len(self.recs(kind)) * 0.001)
            if t == "now":
                t = now_iso()
            p = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in props.items()}
            p.update({"hs_object_id": oid, "createdate": t, "lastmodifieddate": t, "hs_lastmodifieddate": t})
            rec = {"id": oid, "properties": p, "createdAt": t, "updatedAt": t, "archived": False}
            self.put(kind, oid, rec)
            out.append(public(rec))
        return out

    def dup_keys(self):
        # HubSpot emails have no message-id property; objectWriteTraceId (= the ledger id) stands in.
        return [r.get("objectWriteTraceId") for r in self.recs("emails") if r.get("objectWriteTraceId")]

    def extra_stats(self):
        return {"daily_used": self.daily}
