"""Fault-injection, Retry-After, concurrency and update cases of the CRM
emulator self-test.

Public: FAULT_CASES (appended to selftest_cases.CASES).
"""

import email.utils
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from selftest_cases import (DYN, GUIDISH, HS, HSH, SF, activity_doc, dyn_email, dyn_headers, dyn_token, hs_email,
                            post_hook, sf_email, sf_token, zoho_mint)


def case_fault_status_kinds(h):
    h.seed("hubspot", "contacts", generate=3)
    h.fault(vendor="hubspot", path_regex="/objects/emails$", kind="401", count=1)
    r1 = h.call("POST", HS + "/emails", hs_email(), HSH)
    r2 = h.call("POST", HS + "/emails", hs_email(), HSH)
    h.check("fault 401: next call only", r1.status == 401 and r1.json["category"] == "INVALID_AUTHENTICATION" and
            r2.status == 201, (r1, r2))
    tok = sf_token(h).json["access_token"]
    sfh = {"Authorization": "Bearer " + tok}
    h.fault(vendor="salesforce", path_regex="/query", kind="500", count=1)
    r = h.call("GET", "/salesforce/services/data/v62.0/query?q=" + urllib.parse.quote("SELECT Id FROM User"),
               headers=sfh)
    h.check("fault 500: vendor-shaped body", r.status == 500 and r.json[0]["errorCode"] == "UNKNOWN_EXCEPTION", r)
    h.fault(vendor="salesforce", kind="request_limit", count=1)
    r = h.call("GET", "/salesforce/services/data/v62.0/query?q=" + urllib.parse.quote("SELECT Id FROM User"),
               headers=sfh)
    h.check("fault request_limit: Salesforce 403 REQUEST_LIMIT_EXCEEDED",
            r.status == 403 and r.json[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED", r)
    h.fault(vendor="zoho", kind="503", count=1, retry_after=2, retry_after_format="date")
    r = h.call("GET", "/zoho/crm/v8/Leads?fields=Email")
    when = email.utils.parsedate_to_datetime(r.headers.get("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT"))
    h.check("fault 503: Retry-After as an HTTP date", r.status == 503 and when.timestamp() > time.time(), r.headers)
    h.fault(vendor="*", path_regex="/oauth2/", kind="429", count=2, retry_after=1)
    a, b = dyn_token(h), sf_token(h)
    h.check("fault vendor '*': token endpoints of two vendors", a.status == 429 and b.status == 429, (a, b))
    h.fault(vendor="hubspot", path_regex="/batch/create", kind="503", count=1)
    r = h.call("POST", HS + "/emails", hs_email(), HSH)
    h.check("fault path_regex: other paths untouched", r.status == 201, r)
    h.check("fault: pending rule listed", len(h.emu("GET", "faults").json) == 1)
    h.emu("DELETE", "faults")
    h.check("fault: DELETE clears rules", h.emu("GET", "faults").json == [])


def case_fault_retry_after_window(h):
    tok = dyn_token(h).json["access_token"]
    h.fault(vendor="dynamics", path_regex="/contacts", kind="429", count=1, retry_after=1)
    r = h.call("GET", DYN + "/contacts", headers=dyn_headers(tok))
    h.check("fault 429: Dataverse body + Retry-After", r.status == 429 and r.headers.get("retry-after") == "1" and
            r.json["error"]["code"] == "0x80072322", r)
    time.sleep(0.4)
    h.call("GET", DYN + "/contacts", headers=dyn_headers(tok))
    st = h.stats()
    h.check("Retry-After: a call inside the window is a violation", st["retry_after_violations"] == 1 and
            st["violations_by_vendor"] == {"dynamics": 1}, st)
    h.call("GET", "/hubspot/crm/v3/objects/contacts", headers=HSH)
    h.check("Retry-After: other vendors are not paused", h.stats()["retry_after_violations"] == 1)
    time.sleep(1.0)
    h.call("GET", DYN + "/contacts", headers=dyn_headers(tok))
    st = h.stats()
    h.check("Retry-After: a call after the window is fine", st["retry_after_violations"] == 1, st)
    log = h.emu("GET", "requests?vendor=dynamics").json
    flagged = [e for e in log if e["in_retry_window"]]
    h.check("request log: fields and the flagged call", len(flagged) == 1 and
            all(k in log[0] for k in ("time", "method", "path", "status", "vendor", "in_retry_window")), log)
    h.config("dynamics", rate_limit={"max": 3, "window": 2})
    codes = [h.call("GET", DYN + "/contacts", headers=dyn_headers(tok)) for _ in range(4)]
    h.check("built-in rate limit: 4th call in the window -> 429 + Retry-After",
            [c.status for c in codes] == [200, 200, 200, 429] and codes[3].headers.get("retry-after"), codes)
    h.config("dynamics", rate_limit=None)
    time.sleep(2.1)


def case_fault_connection_kinds(h):
    h.fault(vendor="hubspot", kind="slow", delay=0.5, count=1)
    r = h.call("GET", "/hubspot/crm/v3/objects/contacts", headers=HSH)
    h.check("fault slow: answered late", r.status == 200 and r.elapsed >= 0.5, (r, r.elapsed))
    h.fault(vendor="hubspot", kind="drop", count=1)
    r = h.call("GET", "/hubspot/crm/v3/objects/contacts", headers=HSH)
    h.check("fault drop: connection closed without answer", r.status == 0, r)
    h.fault(vendor="hubspot", kind="timeout", delay=3, count=1)
    r = h.call("GET", "/hubspot/crm/v3/objects/contacts", headers=HSH, timeout=1)
    h.check("fault timeout: client times out", r.status == 0 and r.elapsed < 2.5 and "timed out" in r.error.lower(),
            (r, r.elapsed))
    for _ in range(40):  # the server logs the timeout once it sees the client go away
        log = h.emu("GET", "requests?vendor=hubspot").json
        if len(log) >= 3:
            break
        time.sleep(0.1)
    h.check("request log: drop/timeout have status 0", [e["fault"] for e in log if e["status"] == 0] ==
            ["drop", "timeout"], log)
    wid = "crm_" + "9" * 32
    h.fault(vendor="webhook", kind="drop", phase="after", count=1)
    r = post_hook(h, activity_doc(wid))
    stored = h.records("webhook", "activity")
    h.check("fault drop after processing: stored, client saw nothing", r.status == 0 and len(stored) == 1, r)
    r = post_hook(h, activity_doc(wid))
    h.check("fault drop after: the retry is answered 409", r.status == 409, r)
    h.check("no duplicate from the retry", h.stats()["duplicates"] == 0)
    h.emu("POST", "faults", {"vendor": "hubspot", "kind": "500", "rate": 0.5, "seed": 3})
    codes = [h.call("GET", "/hubspot/crm/v3/objects/contacts", headers=HSH).status for _ in range(40)]
    bad = codes.count(500)
    h.check("fault rate 0.5: about half fail", 8 <= bad <= 32 and bad + codes.count(200) == 40, codes)
    h.emu("DELETE", "faults")
    st = h.stats()
    h.check("stats: faults counted by kind", st["faults_injected"].get("500") == bad and
            st["faults_injected"].get("drop") == 2, st["faults_injected"])
    h.check("stats: requests by vendor", st["by_vendor"]["hubspot"] == 43 and st["requests"] == 45,
            (st["requests"], st["by_vendor"]))
    r = h.call("POST", "/_emu/faults", json.dumps({"kind": "nope"}), {"Content-Type": "application/json"})
    h.check("control: bad fault rejected", r.status == 400, r)


def case_concurrency_limit(h):
    h.config("zoho", max_concurrent=1)
    zh = {"Authorization": "Zoho-oauthtoken " + zoho_mint(h).json["access_token"]}
    h.fault(vendor="zoho", kind="slow", delay=0.8, count=1)
    out = []
    t = threading.Thread(target=lambda: out.append(h.call("GET", "/zoho/crm/v8/Leads/search?email=a@b.test",
                                                          headers=zh)))
    t.start()
    time.sleep(0.3)
    r = h.call("GET", "/zoho/crm/v8/Leads/search?email=a@b.test", headers=zh)
    t.join()
    h.check("max_concurrent: a second call in flight -> 429 TOO_MANY_REQUESTS",
            r.status == 429 and r.json["code"] == "TOO_MANY_REQUESTS" and out[0].status == 204, (r, out))
    h.config("zoho", max_concurrent=None)
    time.sleep(1.1)


def case_updates(h):
    tok = dyn_token(h).json["access_token"]
    contact = h.seed("dynamics", "contacts", generate=2)[1]["contactid"]
    user = h.seed("dynamics", "systemusers", generate=1)[0]["systemuserid"]
    body = dyn_email(contact, user)
    del body["email_activity_parties"]
    r = h.call("POST", DYN + "/emails", body, dyn_headers(tok))
    eid = GUIDISH.search(r.headers.get("odata-entityid", "")).group(1)
    r = h.call("PUT", DYN + "/emails(%s)/email_activity_parties" % eid, {"value": [
        {"participationtypemask": 1, "partyid_systemuser@odata.bind": "systemusers(%s)" % user},
        {"participationtypemask": 4, "addressused": "hidden@x.test"}]}, dyn_headers(tok))
    h.check("dynamics: PUT email_activity_parties (vendor form)", r.status == 204 and
            len(h.records("dynamics", "activityparties")) == 2, r)
    r = h.call("POST", DYN + "/emails(%s)/email_activity_parties" % eid,
               {"participationtypemask": 1, "addressused": "second-sender@x.test"}, dyn_headers(tok))
    h.check("dynamics: a second sender -> 400", r.status == 400, r)
    sfh = {"Authorization": "Bearer " + sf_token(h).json["access_token"], "Content-Type": "application/json"}
    em = h.call("POST", SF + "/sobjects/EmailMessage/", sf_email(), sfh).json["id"]
    r = h.call("PATCH", SF + "/sobjects/EmailMessage/" + em, {"Open_Count__c": 3}, sfh)
    h.check("salesforce: custom field update after send -> 204", r.status == 204, r)
    r = h.call("PATCH", SF + "/sobjects/EmailMessage/" + em, {"Subject": "x"}, sfh)
    h.check("salesforce: standard field update after send -> 400", r.status == 400, r)
    r = h.call("GET", SF + "/sobjects/EmailMessage/" + em[:15], headers=sfh)
    h.check("salesforce: GET by 15-char Id", r.status == 200 and r.json["Open_Count__c"] == 3, r)
    company = h.seed("hubspot", "companies", generate=1)[0]["id"]
    oid = h.call("POST", HS + "/emails", hs_email(), HSH).json["id"]
    r = h.call("PUT", HS + "/emails/%s/associations/company/%s/186" % (oid, company), None, HSH)
    h.check("hubspot: PUT association email->company 186", r.status == 200, r)
    r = h.call("PUT", HS + "/emails/%s/associations/contact/%s/186" % (oid, company), None, HSH)
    h.check("hubspot: PUT association with mismatched type -> 400", r.status == 400, r)
    r = h.call("PATCH", HS + "/emails/" + oid, {"properties": {"hs_email_status": "BOUNCED", "hs_object_id": "1"}}, HSH)
    h.check("hubspot: PATCH ignores read-only", r.status == 200 and r.json["properties"]["hs_email_status"] ==
            "BOUNCED" and r.json["properties"]["hs_object_id"] == oid, r)
    zh = {"Authorization": "Zoho-oauthtoken " + zoho_mint(h).json["access_token"]}
    h.seed("zoho", "Contacts", generate=3)
    r = h.call("GET", "/zoho/crm/v8/Contacts/search?criteria=" + urllib.parse.quote(
        "((Email:equals:contact0001@example.test)or(Email:equals:contact0002@example.test))"), headers=zh)
    h.check("zoho: criteria search with or", r.status == 200 and r.json["info"]["count"] == 2, r)
    r = h.call("GET", "/zoho/crm/v8/Contacts?fields=Email", headers=dict(zh, **{
        "If-Modified-Since": "2099-01-01T00:00:00+00:00"}))
    h.check("zoho: If-Modified-Since in the future -> 304", r.status == 304, r)


def case_tls(h):
    proc, base, cafile = h.start_tls()
    try:
        ctx = ssl.create_default_context(cafile=cafile)
        with urllib.request.urlopen(base + "/_emu/health", context=ctx, timeout=10) as r:
            body = json.loads(r.read())
        h.check("tls: HTTPS with a verified certificate", body["base_url"] == base, body)
        req = urllib.request.Request(base + "/zoho/oauth/v2/token?" + urllib.parse.urlencode(
            {"grant_type": "refresh_token", "client_id": "zoho-client", "client_secret": "zoho-secret",
             "refresh_token": "1000.r.selftest"}), method="POST", data=b"")
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            tok = json.loads(r.read())
        h.check("tls: api_domain is https", tok.get("api_domain") == base + "/zoho", tok)
        try:
            urllib.request.urlopen(base + "/_emu/health", context=ssl.create_default_context(), timeout=10)
            refused = False
        except (urllib.error.URLError, ssl.SSLError):
            refused = True
        h.check("tls: an untrusted CA is refused by the client", refused)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


FAULT_CASES = [case_fault_status_kinds, case_fault_retry_after_window, case_fault_connection_kinds,
               case_concurrency_limit, case_updates, case_tls]
