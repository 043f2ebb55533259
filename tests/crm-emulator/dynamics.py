"""Dataverse Web API v9.2 and its Entra ID token endpoint, as documented in
/work/notes/vendor-dynamics-salesforce.md sections 1 and 2.

Paths (prefix /dynamics; the org URL is BASE/dynamics):
  POST  /login/{tenant}/oauth2/v2.0/token        client credentials
  POST  /api/data/v9.2/emails                    create (deep insert of email_activity_parties)
  GET   /api/data/v9.2/emails[(id)]              query ($filter/$select/$top/$orderby)
  PATCH /api/data/v9.2/emails(id)                update / SetState (statecode, statuscode)
  PUT|POST /api/data/v9.2/emails(id)/email_activity_parties
  POST  /api/data/v9.2/activitymimeattachments
  POST|PATCH|GET /api/data/v9.2/annotations[(id)]   notes (objectid_email and other binds)
  POST  /api/data/v9.2/$batch                    (dynamics_batch.py)
  GET   /api/data/v9.2/{contacts,leads,accounts,systemusers}  paging, track changes
  DELETE /api/data/v9.2/{directory set}(id)      (so delta queries can show deletions)

Public: class Dynamics.
"""

import copy
import hashlib
import json
import re
import time
import urllib.parse
import base64

import dynamics_batch
import dynamics_notes
from common import (ApiError, FieldError, Response, Vendor, bearer, check_base64, is_email, new_guid,
                    now_iso, parse_form, parse_time, public)
from odata import ODataError, apply_orderby, parse_filter, parse_orderby

API = "/api/data/v9.2"
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
BIND_RE = re.compile(r"^(?:https?://[^/]+)?(?:.*?/api/data/v9\.2/|/)?([a-z_]+)\((" + GUID + r")\)$")
ENTITY_URL = re.compile(r"^/([a-z_]+)(?:\((" + GUID + r")\))?(?:/([a-z_]+))?$")

# Entity set -> (logical name, primary key, readable columns).
DIRECTORY = {
    "contacts": ("contact", "contactid", ("fullname", "firstname", "lastname", "emailaddress1", "emailaddress2",
                                          "emailaddress3", "donotemail", "donotbulkemail", "followemail",
                                          "statecode", "createdon", "modifiedon")),
    "leads": ("lead", "leadid", ("fullname", "firstname", "lastname", "subject", "emailaddress1",
                                 "emailaddress2", "emailaddress3", "donotemail", "donotbulkemail", "followemail",
                                 "statecode", "createdon", "modifiedon")),
    "accounts": ("account", "accountid", ("name", "emailaddress1", "emailaddress2", "emailaddress3", "donotemail",
                                          "donotbulkemail", "followemail", "statecode", "createdon", "modifiedon")),
    "systemusers": ("systemuser", "systemuserid", ("fullname", "firstname", "lastname", "internalemailaddress",
                                                   "isdisabled", "createdon", "modifiedon")),
}
LOGICAL = {"contact": "contacts", "lead": "leads", "account": "accounts", "systemuser": "systemusers",
           "opportunity": "opportunities", "incident": "incidents", "quote": "quotes", "email": "emails",
           "activitypointer": "activitypointers", "queue": "queues"}
# email columns: name -> (type, max length or allowed values)
EMAIL_COLUMNS = {
    "subject": ("str", 800), "description": ("str", 1073741823), "directioncode": ("bool", None),
    "messageid": ("str", 320), "sender": ("str", 250), "torecipients": ("str", 500),
    "actualend": ("datetime", None), "actualstart": ("datetime", None), "scheduledend": ("datetime", None),
    "scheduledstart": ("datetime", None), "sortdate": ("datetime", None),
    "internetmessageheaders": ("str", 500), "notifications": ("int", (0, 1, 2)), "category": ("str", 250),
    "subcategory": ("str", 250), "prioritycode": ("int", (0, 1, 2)), "readreceiptrequested": ("bool", None),
    "deliveryreceiptrequested": ("bool", None), "statecode": ("int", (0, 1, 2)),
    "statuscode": ("int", (1, 2, 3, 4, 5, 6, 7, 8)),
}
READ_ONLY = ("senton", "conversationindex", "inreplyto", "activityid", "createdon", "modifiedon")
STATE_OF_STATUS = {1: 0, 8: 0, 2: 1, 3: 1, 4: 1, 6: 1, 7: 1, 5: 2}
DEFAULT_STATUS = {0: 1, 1: 2, 2: 5}
REGARDING_TYPES = ("account", "contact", "lead", "opportunity", "incident", "quote", "systemuser")
PARTY_TYPES = ("contact", "lead", "account", "systemuser", "queue")
ATTACH_COLUMNS = {"filename": ("str", 255), "mimetype": ("str", 256), "subject": ("str", 2000),
                  "body": ("str", 1073741823), "objecttypecode": ("str", None), "attachmentid": ("str", None)}


def err(status, message, code=""):
    """Dataverse error body: {"error":{"code","message"}}."""
    return Response.json(status, {"error": {"code": code, "message": message}},
                         headers=[("OData-Version", "4.0")])


def not_exist(logical, rid):
    """The 'does not exist' error (code 0x80040217)."""
    return err(404, "%s With Id = %s Does Not Exist" % (logical, rid), "0x80040217")


def duplicate_key(logical, rid):
    """A create with a primary key that exists: "Cannot insert duplicate key" (-2147220937).

    UNCONFIRMED: the HTTP status (we answer 412, the status the notes list for DuplicateRecord)."""
    return err(412, "Cannot insert duplicate key. A %s with id %s exists." % (logical, rid), "0x80040237")


def no_property(name, logical):
    """Unknown property error (code 0x80060888)."""
    return err(400, "Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'." % (name, logical),
               "0x80060888")


class Dynamics(Vendor):
    """Entra ID client-credentials tokens and the Dataverse Web API."""

    name = "dynamics"
    prefixes = ("/dynamics",)
    kinds = ("emails", "activityparties", "activitymimeattachments", "annotations") + tuple(DIRECTORY)

    def reset(self):
        super().reset()
        self.undo = None
        self.deleted = []

    # The org URL (the token scope's resource).
    def org_url(self):
        return (self.cfg.get("resource") or self.emu.base_url + "/dynamics").rstrip("/")

    def is_token_path(self, req):
        return req.sub.startswith("/login/")

    def error(self, req, kind, retry_after=None):
        if self.is_token_path(req):
            return self.token_error(500 if kind not in ("429", "503") else int(kind), "temporarily_unavailable",
                                    "AADSTS90033: A transient error has occurred. Please try again.", 90033)
        if kind == "401":
            return self.unauthorized("The access token has expired or is not valid (injected fault).")
        if kind in ("429", "request_limit"):
            return err(429, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
                       "0x80072322")
        if kind == "concurrency":
            return err(429, "Number of concurrent requests exceeded the limit of 52.", "0x80072326")
        if kind == "503":
            return err(503, "The service is temporarily unavailable.", "")
        return err(500, "An unexpected error occurred.", "0x80040216")

    # 401 for a missing, unknown or expired token (body UNCONFIRMED: notes 2.2).
    def unauthorized(self, message):
        resp = err(401, message, "")
        resp.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token", authorization_uri="%s/dynamics/login/'
                             '%s/oauth2/authorize"' % (self.emu.base_url, self.cfg.get("tenant", "tenant"))))
        return resp

    # Entra ID error body (notes section 1).
    def token_error(self, status, error, description, code):
        ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        trace, corr = new_guid(), new_guid()
        return Response.json(status, {
            "error": error, "error_description": "%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
            % (description, trace, corr, ts), "error_codes": [code], "timestamp": ts,
            "trace_id": trace, "correlation_id": corr})

    def handle(self, req):
        if self.is_token_path(req):
            return self.token(req)
        tok = bearer(req)
        if tok is None:
            return self.unauthorized("Bearer token is missing from the Authorization header.")
        state = self.tokens.check(tok)
        if state != "ok":
            return self.unauthorized("The access token is %s." % ("expired" if state == "expired" else "invalid"))
        if req.h("odata-maxversion", "4.0") != "4.0" or req.h("odata-version", "4.0") != "4.0":
            req.warn("OData-MaxVersion / OData-Version should be 4.0")
        if not req.sub.startswith(API + "/"):
            return err(404, "Resource not found for the segment '%s'." % req.sub)
        return self.api(req, req.sub[len(API):])

    # POST /login/{tenant}/oauth2/v2.0/token
    def token(self, req):
        m = re.match(r"^/login/([^/]+)/oauth2/v2\.0/token$", req.sub)
        if not m or req.method != "POST":
            return err(404, "not a token endpoint")
        if m.group(1) != self.cfg.get("tenant"):
            return self.token_error(400, "invalid_request", "AADSTS90002: Tenant '%s' not found." % m.group(1), 90002)
        form = parse_form(req)
        basic = req.h("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                cid, _, sec = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", urllib.parse.unquote(cid))
                form.setdefault("client_secret", urllib.parse.unquote(sec))
            except (ValueError, UnicodeDecodeError):
                pass
        if form.get("grant_type") != "client_credentials":
            return self.token_error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported"
                                    " grant type '%s'." % form.get("grant_type"), 70003)
        if form.get("client_id") != self.cfg.get("client_id"):
            return self.token_error(400, "unauthorized_client", "AADSTS700016: Application with identifier '%s' was"
                                    " not found in the directory." % form.get("client_id"), 700016)
        if form.get("client_secret") != self.secret("client_secret"):
            # UNCONFIRMED status/error for a bad secret: RFC 6749 says 401 invalid_client.
            return self.token_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.", 7000215)
        want = self.org_url() + "/.default"
        scopes = form.get("scope", "").split()
        if scopes == [self.org_url() + "//.default"]:
            req.warn("scope with a double slash before .default; use <org url>/.default")
            scopes = [want]
        if want not in scopes or len(scopes) != 1:
            return self.token_error(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter"
                                    " 'scope' is not valid. The scope %s is not valid; expected %s"
                                    % (form.get("scope"), want), 70011)
        ttl = int(self.opt("token_ttl", 3599))
        tok = self.tokens.issue("eyJ0eXAiOiJKV1Qi.emu-dyn.", ttl)
        return Response.json(200, {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                                   "access_token": tok})

    # ------------------------------------------------------------------ API

    # Routes one Web API request (also used by $batch parts).
    def api(self, req, path):
        if path == "/$batch":
            if req.method != "POST":
                return err(405, "The $batch endpoint takes POST.")
            return dynamics_batch.run(self, req)
        m = ENTITY_URL.match(path)
        if not m:
            return err(404, "Resource not found for the segment '%s'." % path)
        eset, rid, nav = m.groups()
        try:
            if eset == "emails":
                return self.emails(req, rid, nav)
            if eset == "activitymimeattachments" and req.method == "POST" and not rid:
                return self.create_attachment(req)
            if eset == "activitymimeattachments" and req.method == "GET":
                return self.collection(req, "activitymimeattachments", "activitymimeattachment",
                                       "activitymimeattachmentid", None, rid)
            if eset == "annotations" and not nav:
                return self.annotations(req, rid)
            if eset in DIRECTORY and not nav:
                logical, key, cols = DIRECTORY[eset]
                if req.method == "GET":
                    return self.collection(req, eset, logical, key, cols, rid)
                if req.method == "DELETE" and rid:
                    return self.delete(eset, logical, rid)
                return err(405, "Method %s is not supported on %s in the emulator." % (req.method, eset))
        except ODataError as e:
            return err(400, str(e), "0x80060888")
        return err(404, "Resource not found for the segment '%s'." % eset)

    # /emails, /emails(id), /emails(id)/email_activity_parties
    def emails(self, req, rid, nav):
        if nav:
            if nav != "email_activity_parties" or req.method not in ("PUT", "POST"):
                return err(405, "Only PUT/POST emails(id)/email_activity_parties is emulated.")
            return self.set_parties(req, rid, replace=req.method == "PUT")
        if req.method == "POST" and not rid:
            return self.create_email(req)
        if req.method == "PATCH" and rid:
            return self.patch_email(req, rid)
        if req.method == "GET":
            return self.collection(req, "emails", "email", "activityid", None, rid)
        return err(405, "Method %s is not supported on emails." % req.method)

    # The body as a JSON object, or an ApiError.
    def body(self, req):
        try:
            b = req.json()
        except ValueError as e:
            raise ApiError(err(400, "Error in request body: %s" % e, "0x80040216")) from None
        if not isinstance(b, dict):
            raise ApiError(err(400, "The request body must be a JSON object."))
        return b

    # The primary key a create body sets (removed from it), or a new GUID; raises on a bad or used one.
    # Dataverse lets a client set the primary key on create (create-entity-web-api, "Set the primary
    # key value"); a key in use is "Cannot insert duplicate key".
    def client_key(self, body, key, kind, logical):
        rid = body.pop(key, None)
        if rid is None:
            return new_guid()
        if not isinstance(rid, str) or not re.match("^" + GUID + "$", rid):
            raise ApiError(err(400, "Cannot convert the literal '%s' to the expected type 'Edm.Guid' for"
                               " property '%s'." % (rid, key), "0x80048d19"))
        rid = rid.lower()
        if self.rec(kind, rid) is not None:
            raise ApiError(duplicate_key(logical, rid))
        return rid

    # Checks one column value; returns it.
    def column(self, logical, name, value, spec):
        typ, lim = spec
        bad = None
        if typ == "str":
            if not isinstance(value, str):
                bad = "a string"
            elif lim and isinstance(lim, int) and len(value) > lim:
                raise ApiError(err(400, "A validation error occurred.  The length of the '%s' attribute of the '%s'"
                                   " entity exceeded the maximum allowed length of '%d'." % (name, logical, lim),
                                   "0x80044331"))
        elif typ == "bool" and not isinstance(value, bool):
            bad = "Edm.Boolean"
        elif typ == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                bad = "Edm.Int32"
            elif lim and value not in lim:
                raise ApiError(err(400, "%s value %d is not a valid option for '%s'; allowed: %s"
                                   % (logical, value, name, ", ".join(map(str, lim))), "0x8004431a"))
        elif typ == "datetime" and (not isinstance(value, str) or parse_time(value) is None):
            bad = "Edm.DateTimeOffset"
        if bad:
            raise ApiError(err(400, "Cannot convert the literal '%s' to the expected type '%s' for property '%s'."
                               % (value, bad, name), "0x80048d19"))
        return value

    # Resolves an @odata.bind value to (entity set, guid) or raises.
    def bind(self, prop, value, allowed_sets, check=True):
        if not isinstance(value, str):
            raise ApiError(err(400, "Value of '%s' must be a string like '/contacts(<guid>)'." % prop, "0x80048d19"))
        m = BIND_RE.match(value)
        if not m:
            raise ApiError(err(400, "'%s' value '%s' is not an entity reference like '/contacts(<guid>)'."
                               % (prop, value), "0x80048d19"))
        eset, gid = m.group(1), m.group(2).lower()
        if eset not in allowed_sets:
            raise ApiError(err(400, "'%s' must bind to %s, not to '%s'." % (prop, " or ".join(allowed_sets), eset),
                               "0x80048d19"))
        kind = "emails" if eset == "activitypointers" else eset
        if check and (kind in DIRECTORY or kind == "emails"):
            if self.rec(kind, gid) is None:
                logical = next((k for k, v in LOGICAL.items() if v == kind), kind)
                raise ApiError(not_exist(logical, gid))
        elif check:
            self.emu_warn = "bind to %s not checked (the emulator stores no %s)" % (value, eset)
        return eset, gid

    # Checks one activity party and returns the stored form.
    def party(self, p, i):
        if not isinstance(p, dict):
            raise ApiError(err(400, "email_activity_parties[%d] must be an object." % i))
        out = {"activitypartyid": new_guid()}
        binds = [k for k in p if k.endswith("@odata.bind")]
        for k, v in p.items():
            if k == "participationtypemask":
                self.column("activityparty", k, v, ("int", (1, 2, 3, 4)))
                out[k] = v
            elif k == "addressused":
                self.column("activityparty", k, v, ("str", 320))
                out[k] = v
            elif k == "unresolvedpartyname":
                self.column("activityparty", k, v, ("str", 200))
                out[k] = v
            elif k in binds:
                m = re.match(r"^partyid_(\w+)@odata\.bind$", k)
                if not m or m.group(1) not in PARTY_TYPES:
                    raise ApiError(no_property(k.split("@")[0], "activityparty"))
                eset, gid = self.bind(k, v, (LOGICAL[m.group(1)],))
                out["partyid_type"] = m.group(1)
                out["_partyid_value"] = gid
            else:
                raise ApiError(no_property(k, "activityparty"))
        if "participationtypemask" not in out:
            raise ApiError(err(400, "email_activity_parties[%d]: participationtypemask is required (1 Sender,"
                               " 2 To, 3 Cc, 4 Bcc)." % i, "0x80040203"))
        if len(binds) > 1:
            raise ApiError(err(400, "email_activity_parties[%d] binds %d parties; one at most." % (i, len(binds))))
        if not binds and not out.get("addressused"):
            raise ApiError(err(400, "email_activity_parties[%d] needs partyid_<type>@odata.bind or addressused." % i,
                               "0x80040203"))
        if out.get("addressused") and not is_email(out["addressused"]):
            self.emu_warn = "addressused %r does not look like an address" % out["addressused"]
        return out

    # Checks a list of parties (at most one sender).
    def parties(self, req, plist):
        if not isinstance(plist, list):
            raise ApiError(err(400, "email_activity_parties must be an array."))
        out = []
        for i, p in enumerate(plist):
            self.emu_warn = None
            out.append(self.party(p, i))
            if self.emu_warn:
                req.warn(self.emu_warn)
        if sum(1 for p in out if p["participationtypemask"] == 1) > 1:
            raise ApiError(err(400, "An email has one sender; %d parties have participationtypemask 1."
                               % sum(1 for p in out if p["participationtypemask"] == 1)))
        return out

    # Checks email columns of a create or update body into rec.
    def email_columns(self, req, body, rec, creating):
        custom = self.cfg.get("custom_fields", {}).get("emails", [])
        for k, v in body.items():
            if k == "email_activity_parties":
                if not creating:
                    raise ApiError(err(400, "Use PUT emails(id)/email_activity_parties to change parties."))
                rec["_emu_parties"] = self.parties(req, v)
            elif k.endswith("@odata.bind"):
                m = re.match(r"^regardingobjectid_(\w+?)(_email)?@odata\.bind$", k)
                if not m or m.group(1) not in REGARDING_TYPES:
                    raise ApiError(no_property(k.split("@")[0], "email"))
                if not m.group(2):
                    req.warn("%s: the notes say use the regardingobjectid_<type>_email form" % k)
                if "_regardingobjectid_value" in rec and rec.get("_emu_regarding_prop") != k:
                    raise ApiError(err(400, "More than one regardingobjectid bind in one email."))
                self.emu_warn = None
                eset, gid = self.bind(k, v, (LOGICAL[m.group(1)],))
                if self.emu_warn:
                    req.warn(self.emu_warn)
                rec["_regardingobjectid_value"] = gid
                rec["_emu_regarding_prop"] = k
                rec["regardingobjecttypecode"] = m.group(1)
            elif k in EMAIL_COLUMNS:
                rec[k] = self.column("email", k, v, EMAIL_COLUMNS[k])
            elif k in custom:
                rec[k] = v
            elif k in READ_ONLY:
                req.warn("'%s' is read-only on email; the value is ignored" % k)
            else:
                raise ApiError(no_property(k, "email"))

    # Validates a statecode/statuscode pair in rec (after an update).
    def check_state(self, rec, body):
        sc, st = body.get("statecode"), body.get("statuscode")
        if sc is None and st is None:
            return
        if st is None:
            rec["statuscode"] = DEFAULT_STATUS[sc]
        elif sc is None:
            rec["statecode"] = STATE_OF_STATUS[st]
        elif STATE_OF_STATUS[st] != sc:
            raise ApiError(err(400, "%d is not a valid status code for state code EmailState.%s on email."
                               % (st, {0: "Open", 1: "Completed", 2: "Canceled"}[sc]), "0x80040203"))

    # POST /emails
    def create_email(self, req):
        body = self.body(req)
        aid = self.client_key(body, "activityid", "emails", "email")
        t = now_iso()
        rec = {"activityid": aid, "statecode": 0, "statuscode": 1, "directioncode": True,
               "createdon": t, "modifiedon": t, "_emu_parties": []}
        self.email_columns(req, body, rec, creating=True)
        if "statecode" in body or "statuscode" in body:
            req.warn("statecode/statuscode in the create body: UNCONFIRMED that Dataverse accepts it (notes 2.4)")
            self.check_state(rec, body)
        for p in rec["_emu_parties"]:
            p["activityid"] = aid
            self.mut_create("activityparties", p["activitypartyid"], dict(p))
        rec["email_activity_parties"] = [public(p) for p in rec["_emu_parties"]]
        self.mut_create("emails", aid, rec)
        return self.created(req, "emails", aid, rec)

    # 204 + OData-EntityId, or 201 with the record when Prefer: return=representation.
    def created(self, req, eset, rid, rec):
        url = "%s%s/%s(%s)" % (self.org_url(), API, eset, rid)
        req.note["entity"] = url
        if "return=representation" in req.h("prefer", ""):
            body = self.shape(rec, eset)
            body["@odata.context"] = "%s%s/$metadata#%s/$entity" % (self.org_url(), API, eset)
            return Response.json(201, body, headers=[("OData-Version", "4.0"),
                                                     ("Preference-Applied", "return=representation")])
        return Response(204, headers=[("OData-Version", "4.0"), ("OData-EntityId", url), ("Location", url)])

    # PATCH /emails(id)
    def patch_email(self, req, rid):
        rid = rid.lower()
        rec = self.rec("emails", rid)
        if rec is None:
            return not_exist("email", rid)
        body = self.body(req)
        # SetState (PATCH of statecode/statuscode only, the table's documented message) may reopen a
        # completed email; any other column of a completed or canceled email is read-only (notes 2.4).
        # UNCONFIRMED: that Dataverse lets a sent email be reopened this way (our choice, for rollups).
        if rec["statecode"] != 0 and not (body and set(body) <= {"statecode", "statuscode"}):
            return err(400, "Completed and canceled email is read-only and can't be edited (email %s has statecode"
                       " %d)." % (rid, rec["statecode"]), "")
        before = copy.deepcopy(rec)
        self.email_columns(req, body, rec, creating=False)
        try:
            self.check_state(rec, body)
        except ApiError:
            rec.clear()
            rec.update(before)
            raise
        rec["modifiedon"] = now_iso()
        self.mut_update("emails", rid, before)
        self.store.touch(rec)
        if "return=representation" in req.h("prefer", ""):
            return Response.json(200, self.shape(rec, "emails"), headers=[("OData-Version", "4.0")])
        return Response(204, headers=[("OData-Version", "4.0")])

    # PUT (replace) or POST (add) email_activity_parties.
    def set_parties(self, req, rid, replace):
        rid = (rid or "").lower()
        rec = self.rec("emails", rid)
        if rec is None:
            return not_exist("email", rid)
        if rec["statecode"] != 0:
            return err(400, "Completed and canceled email is read-only and can't be edited.")
        body = self.body(req)
        if replace:
            if set(body) != {"value"}:
                return err(400, "PUT email_activity_parties takes {\"value\": [parties]}.")
            new = self.parties(req, body["value"])
        else:
            new = self.parties(req, [body])
        before = copy.deepcopy(rec)
        if replace:
            for p in rec["_emu_parties"]:
                self.store.remove(self.name, "activityparties", p["activitypartyid"])
            rec["_emu_parties"] = []
        for p in new:
            p["activityid"] = rid
            self.mut_create("activityparties", p["activitypartyid"], dict(p))
        rec["_emu_parties"] = rec["_emu_parties"] + new
        if sum(1 for p in rec["_emu_parties"] if p["participationtypemask"] == 1) > 1:
            rec.clear()
            rec.update(before)
            return err(400, "An email has one sender.")
        rec["email_activity_parties"] = [public(p) for p in rec["_emu_parties"]]
        self.mut_update("emails", rid, before)
        return Response(204, headers=[("OData-Version", "4.0")])

    # POST /activitymimeattachments
    def create_attachment(self, req):
        body = self.body(req)
        rec = {"activitymimeattachmentid": self.client_key(body, "activitymimeattachmentid", "activitymimeattachments",
                                                           "activitymimeattachment"), "createdon": now_iso()}
        target = None
        for k, v in body.items():
            if k in ("objectid_activitypointer@odata.bind", "objectid_email@odata.bind"):
                if target:
                    return err(400, "Bind objectid once (objectid_email or objectid_activitypointer).")
                # an email is an activitypointer: a change set's "$n" resolves to .../emails(id)
                sets = ("activitypointers", "emails") if "activitypointer" in k else ("emails",)
                target = self.bind(k, v, sets)[1]
                rec["_emu_bind"] = k
            elif k in ATTACH_COLUMNS:
                rec[k] = self.column("activitymimeattachment", k, v, ATTACH_COLUMNS[k])
            elif k == "filesize":
                req.warn("filesize is read-only; ignored")
            else:
                return no_property(k, "activitymimeattachment")
        if target is None:
            return err(400, "objectid is required: bind objectid_email@odata.bind or"
                       " objectid_activitypointer@odata.bind.", "0x80040203")
        otc = rec.get("objecttypecode")
        if rec["_emu_bind"].startswith("objectid_activitypointer") and otc is None:
            return err(400, "objecttypecode is required with objectid_activitypointer (use \"email\").", "0x80040203")
        if otc is not None and otc != "email":
            return err(400, "objecttypecode must be \"email\" for an email attachment, got %r." % otc)
        if "body" not in rec:
            return err(400, "body (base64 file contents) is required.", "0x80040203")
        try:
            raw = check_base64("body", rec["body"])
        except FieldError as e:
            return err(400, e.message, "0x80048d19")
        if "filename" not in rec:
            req.warn("attachment without filename")
        if len(raw) > int(self.opt("max_upload_bytes", 5 * 1024 * 1024)):
            return err(400, "The attachment is %d bytes, over the organization's MaxUploadFileSize of %d."
                       % (len(raw), int(self.opt("max_upload_bytes", 5 * 1024 * 1024))), "0x80044a02")
        email = self.rec("emails", target)
        if email["statecode"] != 0:
            return err(400, "Completed and canceled email is read-only: attachments must be added while it is Open.")
        rec["_objectid_value"] = target
        rec["filesize"] = len(raw)
        self.mut_create("activitymimeattachments", rec["activitymimeattachmentid"], rec)
        return self.created(req, "activitymimeattachments", rec["activitymimeattachmentid"], rec)

    # POST /annotations, PATCH|GET /annotations(id), GET /annotations (dynamics_notes.py).
    def annotations(self, req, rid):
        return dynamics_notes.run(self, req, rid)

    # DELETE a directory row (recorded for delta queries).
    def delete(self, eset, logical, rid):
        rid = rid.lower()
        if self.rec(eset, rid) is None:
            return not_exist(logical, rid)
        self.store.remove(self.name, eset, rid)
        self.store.seq += 1
        self.deleted.append((self.store.seq, eset, rid))
        return Response(204, headers=[("OData-Version", "4.0")])

    # -------------------------------------------------------------- queries

    # A record as the Web API returns it (optionally only selected columns).
    def shape(self, rec, eset, select=None):
        key = DIRECTORY[eset][1] if eset in DIRECTORY else {"emails": "activityid", "annotations": "annotationid"}.get(
            eset, "activitymimeattachmentid")
        out = {"@odata.etag": 'W/"%d"' % rec.get("_emu_version", 0)}
        for k, v in rec.items():
            if k.startswith("_emu_") or k == "email_activity_parties":
                continue
            if select is None or k in select or k == key:
                out[k] = v
        return out

    # GET a collection (filter, select, order, paging, track changes) or one row.
    def collection(self, req, eset, logical, key, cols, rid):
        known = set(cols or ()) | {key}
        recs = self.recs(eset)
        if recs:
            known |= set(k for r in recs for k in r if not k.startswith("_emu_"))
        known |= set(EMAIL_COLUMNS) if eset == "emails" else set()
        select = None
        if req.q("$select"):
            select = [s.strip() for s in req.q("$select").split(",")]
            for s in select:
                if s not in known:
                    return no_property(s, logical)
        if rid:
            rec = self.rec(eset, rid.lower())
            if rec is None:
                return not_exist(logical, rid)
            body = self.shape(rec, eset, select)
            body["@odata.context"] = "%s%s/$metadata#%s/$entity" % (self.org_url(), API, eset)
            return Response.json(200, body, headers=[("OData-Version", "4.0")])
        prefer = req.h("prefer", "")
        track = "odata.track-changes" in prefer
        delta = req.q("$deltatoken")
        if track or delta:
            for opt in ("$filter", "$orderby", "$expand", "$top"):
                if req.q(opt) is not None:
                    return err(400, 'The "%s" query parameter isn\'t supported when Change Tracking is enabled.'
                               % opt.lstrip("$"), "0x80060888")
        if req.q("$skip") is not None:
            return err(400, "The query parameter $skip is not supported", "0x80060888")
        if req.q("$expand") is not None:
            return err(400, "$expand is not emulated", "0x80060888")
        if req.q("$filter"):
            pred = parse_filter(req.q("$filter"))
            for f in pred.fields:
                if f not in known:
                    return no_property(f, logical)
            recs = [r for r in recs if pred(r)]
        if req.q("$orderby"):
            order = parse_orderby(req.q("$orderby"))
            for f, _ in order:
                if f not in known:
                    return no_property(f, logical)
            recs = apply_orderby(recs, order)
        deleted = []
        if delta is not None:
            if not delta.isdigit():
                return err(400, "Invalid delta token '%s'." % delta, "0x80044352")
            recs = [r for r in recs if r.get("_emu_version", 0) > int(delta)]
            deleted = [{"@odata.context": "%s%s/$metadata#%s/$deletedEntity" % (self.org_url(), API, eset),
                        "id": rid_, "reason": "deleted"} for seq, es, rid_ in self.deleted
                       if es == eset and seq > int(delta)]
        return self.page(req, eset, recs, select, deleted, track or delta is not None)

    # One page of a result with @odata.nextLink / @odata.deltaLink.
    def page(self, req, eset, recs, select, deleted, tracking):
        prefer = req.h("prefer", "")
        m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        maxmax = int(self.opt("max_page_size", 5000))
        size = int(m.group(1)) if m else maxmax
        if size < 1 or size > maxmax:
            return err(400, "odata.maxpagesize must be 1..%d, got %d." % (maxmax, size), "0x80060888")
        top = req.q("$top")
        if top is not None and not m:
            if not top.isdigit():
                return err(400, "Invalid $top '%s'." % top, "0x80060888")
            recs = recs[: int(top)]
        params = [(k, v) for k, v in urllib.parse.parse_qsl(req.raw_query, keep_blank_values=True)
                  if k not in ("$skiptoken", "$deltatoken")]
        qhash = hashlib.sha256(json.dumps(sorted(params)).encode()).hexdigest()[:16]
        offset = 0
        tok = req.q("$skiptoken")
        if tok:
            try:
                st = json.loads(base64.urlsafe_b64decode(tok.encode() + b"=="))
                offset = int(st["o"])
            except (ValueError, KeyError, TypeError):
                return err(400, "Invalid $skiptoken.", "0x80060888")
            if st.get("h") != qhash:
                return err(400, "The @odata.nextLink was changed: query options differ from the first page's.",
                           "0x80060888")
            if st.get("p") != size:
                req.warn("odata.maxpagesize %d differs from the first page's %s" % (size, st.get("p")))
            if st.get("d") is not None:
                params.append(("$deltatoken", st["d"]))
        rows = recs + deleted
        chunk = rows[offset: offset + size]
        value = [r if "reason" in r and "@odata.context" in r else self.shape(r, eset, select) for r in chunk]
        ctx = "%s%s/$metadata#%s" % (self.org_url(), API, eset)
        if select:
            ctx += "(%s)" % ",".join(select)
        if req.q("$deltatoken") or (tok and st.get("d") is not None):
            ctx += "/$delta"
        body = {"@odata.context": ctx, "value": value}
        headers = [("OData-Version", "4.0")]
        applied = []
        if m:
            applied.append("odata.maxpagesize=%d" % size)
        if tracking:
            applied.append("odata.track-changes")
        if applied:
            headers.append(("Preference-Applied", ",".join(applied)))
        base = "%s%s/%s" % (self.org_url(), API, eset)
        if offset + size < len(rows):
            st = {"o": offset + size, "h": qhash, "p": size, "d": req.q("$deltatoken") or (st.get("d") if tok else None)}
            st_enc = base64.urlsafe_b64encode(json.dumps(st).encode()).decode().rstrip("=")
            keep = [(k, v) for k, v in urllib.parse.parse_qsl(req.raw_query, keep_blank_values=True)
                    if k != "$skiptoken"]
            body["@odata.nextLink"] = base + "?" + urllib.parse.urlencode(keep + [("$skiptoken", st_enc)],
                                                                         safe="$,'()")
        elif tracking:
            keep = [(k, v) for k, v in params if k != "$deltatoken"]
            body["@odata.deltaLink"] = base + "?" + urllib.parse.urlencode(
                keep + [("$deltatoken", str(self.store.seq))], safe="$,'()")
        return Response.json(200, body, headers=headers)

    # ------------------------------------------------------ transactions

    # Stores a new record, remembering how to undo it inside a changeset.
    def mut_create(self, kind, rid, rec):
        self.put(kind, rid, rec)
        if self.undo is not None:
            self.undo.append(("remove", kind, rid, None))

    # Remembers the state before an update, for changeset rollback.
    def mut_update(self, kind, rid, before):
        if self.undo is not None:
            self.undo.append(("restore", kind, rid, before))

    # Undoes a changeset's writes.
    def rollback(self, undo):
        for op, kind, rid, before in reversed(undo):
            if op == "remove":
                self.store.remove(self.name, kind, rid)
            else:
                rec = self.rec(kind, rid)
                if rec is not None:
                    rec.clear()
                    rec.update(before)

    # ---------------------------------------------------------- seeding

    def seed(self, kind, records):
        if kind not in DIRECTORY:
            raise ApiError(Response.json(400, {"error": "dynamics seed kinds: %s" % ", ".join(DIRECTORY)}))
        logical, key, cols = DIRECTORY[kind]
        out = []
        for i, r in enumerate(records):
            if r.get("_generic"):
                mail = "internalemailaddress" if kind == "systemusers" else "emailaddress1"
                r = {mail: r["email"], "firstname": r["first"], "lastname": r["last"],
                     "fullname": "%s %s" % (r["first"], r["last"])} | (
                    {} if kind == "systemusers" else {"donotemail": r["opt_out"], "followemail": not r["opt_out"]})
                if kind == "accounts":
                    r = {"name": r["fullname"], "emailaddress1": r["emailaddress1"], "donotemail": r["donotemail"],
                         "followemail": r["followemail"]}
            rec = {key: str(r.get(key) or new_guid()).lower()}
            for c in cols:
                if c in r:
                    rec[c] = r[c]
            for k in r:
                if k not in cols and k != key:
                    raise ApiError(Response.json(400, {"error": "dynamics %s has no column %r (known: %s)"
                                                       % (kind, k, ", ".join(cols))}))
            defaults = {"donotemail": False, "donotbulkemail": False, "followemail": True, "statecode": 0,
                        "isdisabled": False}
            for c, v in defaults.items():
                if c in cols:
                    rec.setdefault(c, v)
            t = now_iso(t=time.time() - 86400 + len(self.recs(kind)) + i * 0.001)
            rec.setdefault("createdon", t)
            rec.setdefault("modifiedon", rec["createdon"])
            self.put(kind, rec[key], rec)
            out.append(public(rec))
        return out

    def dup_keys(self):
        return [r.get("messageid") for r in self.recs("emails") if r.get("messageid")]

    def extra_stats(self):
        return {"tokens_issued": self.tokens.issued}
