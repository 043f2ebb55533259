"""Cases of the CRM emulator self-test (run by selftest.py).  Each case
gets a Harness on a freshly reset emulator; CASES lists them in order.

Public: CASES.
"""

import json
import re
import time
import urllib.parse

DYN = "/dynamics/api/data/v9.2"
SF = "/salesforce/services/data/v62.0"
GUIDISH = re.compile(r"\(([0-9a-f-]{36})\)")


# ------------------------------------------------------------------ webhook

def activity_doc(wid, **over):
    act = {"direction": "outbound", "message_id": "abc@example.com", "in_reply_to": None, "subject": "Our pricing",
           "date": "2026-11-22T12:00:00Z", "from": {"address": "alice@example.com", "name": "Alice"},
           "to": [{"address": "bob@customer.test", "name": None}], "cc": [], "bcc": [], "text": "hi", "html": None,
           "attachments": [{"filename": "q.pdf", "content_type": "application/pdf", "size": 3,
                            "content_base64": "YWJj"}],
           "attachments_dropped": [], "regarding": "account:0001", "category": None, "correlation": None,
           "track_id": "a241c3afa498880d1eec5176"}
    act.update(over)
    return {"version": 1, "type": "activity", "id": wid, "profile": "hooks", "activity": act}


def post_hook(h, doc, wid=None, **kw):
    wid = wid or doc["id"]
    body = json.dumps(doc).encode()
    return h.call("POST", "/webhook/hooks", body, h.webhook_headers(wid, body, **kw))


def case_webhook(h):
    wid = "crm_" + "a" * 32
    r = post_hook(h, activity_doc(wid))
    h.check("webhook: activity stored", r.status == 200 and r.json["stored"], r)
    h.check("webhook: record listed", len(h.records("webhook", "activity")) == 1)
    r = post_hook(h, activity_doc(wid))
    h.check("webhook: same id + body -> 409", r.status == 409, r)
    r = post_hook(h, activity_doc(wid, subject="changed"))
    h.check("webhook: same id, other body -> 422", r.status == 422, r)
    w2 = "crm_" + "b" * 32
    r = post_hook(h, activity_doc(w2), secrets=[b"wrong-secret-wrong-secret"])
    h.check("webhook: bad signature -> 401", r.status == 401, r)
    r = post_hook(h, activity_doc(w2), secrets=h.secrets[:1])
    h.check("webhook: one of two secrets signing -> 401", r.status == 401 and "only 1" in r.json["detail"], r)
    r = post_hook(h, activity_doc(w2), ts=int(time.time()) - 400)
    h.check("webhook: stale timestamp -> 400", r.status == 400 and "window" in r.json["title"].lower(), r)
    r = post_hook(h, activity_doc(w2), idem=w2)
    h.check("webhook: unquoted Idempotency-Key -> 400", r.status == 400, r)
    doc = activity_doc(w2)
    del doc["activity"]["to"]
    r = post_hook(h, doc)
    h.check("webhook: missing activity.to -> 400 naming it", r.status == 400 and r.json["field"] == "activity.to", r)
    r = post_hook(h, activity_doc(w2, attachments=[{"filename": "a", "content_type": "text/plain", "size": 9,
                                                    "content_base64": "YWJj"}]))
    h.check("webhook: attachment size mismatch -> 400", r.status == 400 and "size" in r.json["field"], r)
    r = post_hook(h, activity_doc(w2, direction=1))
    h.check("webhook: wrong type -> 400", r.status == 400 and "string" in r.json["detail"], r)
    r = post_hook(h, activity_doc(w2, message_id="<abc@example.com>"))
    h.check("webhook: message_id with <> -> 400", r.status == 400, r)
    r = post_hook(h, activity_doc("crm_" + "c" * 32), wid="crm_" + "d" * 32)
    h.check("webhook: body id != webhook-id -> 400", r.status == 400 and r.json["field"] == "$.id", r)
    ev = {"version": 1, "type": "event", "id": "crm_" + "e" * 32, "profile": "hooks",
          "event": {"kind": "opened", "message_id": "abc@example.com", "track_id": "a241", "at": "2026-11-22T12:05:00Z",
                    "class": "human", "reason": "no sign of a machine", "link": None, "target": None,
                    "recipient": None, "status": None, "diagnostic": None}}
    r = post_hook(h, ev)
    h.check("webhook: event stored", r.status == 200, r)
    ev2 = json.loads(json.dumps(ev))
    ev2["id"] = "crm_" + "f" * 32
    ev2["event"]["class"] = None
    r = post_hook(h, ev2)
    h.check("webhook: opened without class -> 400", r.status == 400 and r.json["field"] == "event.class", r)
    r = h.call("POST", "/webhook/hooks", b"{}", {"Content-Type": "text/plain"})
    h.check("webhook: wrong Content-Type -> 415", r.status == 415, r)


# ----------------------------------------------------------------- dynamics

def dyn_token(h, secret="dyn-secret", scope=None):
    scope = scope or h.base + "/dynamics/.default"
    form = urllib.parse.urlencode({"client_id": "dyn-client", "client_secret": secret, "scope": scope,
                                   "grant_type": "client_credentials"})
    return h.call("POST", "/dynamics/login/contoso-test/oauth2/v2.0/token", form,
                  {"Content-Type": "application/x-www-form-urlencoded"})


def dyn_headers(tok, **more):
    hd = {"Authorization": "Bearer " + tok, "OData-MaxVersion": "4.0", "OData-Version": "4.0",
          "Accept": "application/json"}
    hd.update(more)
    return hd


def dyn_email(contact, user, **over):
    body = {"subject": "Re: quote", "description": "<p>hi</p>", "directioncode": True,
            "messageid": "<m1@example.com>", "actualend": "2026-11-22T12:00:00Z",
            "regardingobjectid_contact_email@odata.bind": "/contacts(%s)" % contact,
            "email_activity_parties": [
                {"participationtypemask": 1, "partyid_systemuser@odata.bind": "/systemusers(%s)" % user},
                {"participationtypemask": 2, "partyid_contact@odata.bind": "/contacts(%s)" % contact},
                {"participationtypemask": 3, "addressused": "someone@outside.example"}]}
    body.update(over)
    return body


def case_dynamics(h):
    r = dyn_token(h, secret="nope")
    h.check("dynamics: bad secret -> 401 invalid_client", r.status == 401 and r.json["error"] == "invalid_client", r)
    r = dyn_token(h, scope="https://elsewhere.example/.default")
    h.check("dynamics: wrong scope -> 400 invalid_scope", r.status == 400 and r.json["error"] == "invalid_scope", r)
    r = dyn_token(h)
    h.check("dynamics: token issued", r.status == 200 and r.json["token_type"] == "Bearer" and r.json["expires_in"] > 0,
            r)
    tok = r.json["access_token"]
    contact = h.seed("dynamics", "contacts", generate=3)[0]["contactid"]
    user = h.seed("dynamics", "systemusers", generate=1)[0]["systemuserid"]
    r = h.call("POST", DYN + "/emails", dyn_email(contact, user), dyn_headers(tok))
    h.check("dynamics: email created 204 + OData-EntityId", r.status == 204 and "odata-entityid" in r.headers, r)
    eid = GUIDISH.search(r.headers.get("odata-entityid", "")).group(1)
    rec = h.records("dynamics", "emails")[0]
    h.check("dynamics: parties stored", len(rec["email_activity_parties"]) == 3 and
            rec["_regardingobjectid_value"] == contact, rec)
    r = h.call("GET", DYN + "/emails?$select=activityid,statecode&$filter=" +
               urllib.parse.quote("messageid eq '<m1@example.com>'"), headers=dyn_headers(tok))
    h.check("dynamics: query by messageid", r.status == 200 and len(r.json["value"]) == 1 and
            r.json["value"][0]["activityid"] == eid, r)
    r = h.call("POST", DYN + "/activitymimeattachments",
               {"objectid_email@odata.bind": "/emails(%s)" % eid, "filename": "q.pdf", "mimetype": "application/pdf",
                "body": "YWJj"}, dyn_headers(tok))
    h.check("dynamics: attachment created", r.status == 204, r)
    r = h.call("POST", DYN + "/activitymimeattachments",
               {"objectid_activitypointer@odata.bind": "/activitypointers(%s)" % eid, "filename": "q.pdf",
                "body": "YWJj"}, dyn_headers(tok))
    h.check("dynamics: activitypointer bind without objecttypecode -> 400", r.status == 400, r)
    r = h.call("PATCH", DYN + "/emails(%s)" % eid, {"statecode": 1, "statuscode": 3}, dyn_headers(tok))
    h.check("dynamics: SetState sent -> 204", r.status == 204, r)
    r = h.call("PATCH", DYN + "/emails(%s)" % eid, {"subject": "x"}, dyn_headers(tok))
    h.check("dynamics: completed email is read-only -> 400", r.status == 400, r)
    bad = [({"email_activity_parties": [{"participationtypemask": 5, "addressused": "a@b.test"}]}, "mask 5"),
           ({"directioncode": "true"}, "directioncode string"), ({"subject": "x" * 801}, "subject > 800"),
           ({"bogus": 1}, "unknown column"), ({"statecode": 1, "statuscode": 4, "messageid": "<m2@x>"}, None)]
    for over, what in bad:
        r = h.call("POST", DYN + "/emails", dyn_email(contact, user, **over), dyn_headers(tok))
        if what:
            h.check("dynamics: %s -> 400" % what, r.status == 400 and "error" in r.json, r)
    h.check("dynamics: 0x80044331 on length", "0x80044331" in json.dumps(
        h.call("POST", DYN + "/emails", dyn_email(contact, user, subject="x" * 801), dyn_headers(tok)).json))
    r = h.call("POST", DYN + "/emails", dyn_email(contact, "00000000-0000-0000-0000-000000000009"), dyn_headers(tok))
    h.check("dynamics: bind to missing systemuser -> 404", r.status == 404, r)
    h.call("POST", DYN + "/emails", dyn_email(contact, user), dyn_headers(tok, Prefer="return=representation"))
    st = h.stats()
    h.check("dynamics: same messageid twice counts a duplicate", st["duplicates_by_vendor"]["dynamics"] == 1, st)
    h.emu("POST", "tokens/expire?vendor=dynamics")
    r = h.call("GET", DYN + "/emails", headers=dyn_headers(tok))
    h.check("dynamics: expired token -> 401 with error body", r.status == 401 and "error" in r.json, r)


def batch_body(h, contact, user, fail=False):
    email = json.dumps(dyn_email(contact, user, messageid="<batch@example.com>"))
    att = json.dumps({"objectid_email@odata.bind": "$1", "filename": "a.txt", "mimetype": "text/plain",
                      "body": "!!" if fail else "YWJj"})
    parts = [("POST", DYN + "/emails", email, 1), ("POST", "activitymimeattachments", att, 2),
             ("PATCH", "$1", '{"statecode":1,"statuscode":3}', 3)]
    out = "--batch_x\r\nContent-Type: multipart/mixed; boundary=changeset_y\r\n\r\n"
    for method, url, body, cid in parts:
        out += ("--changeset_y\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                "Content-ID: %d\r\n\r\n%s %s HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n%s\r\n"
                % (cid, method, url, body))
    out += "--changeset_y--\r\n"
    out += ("--batch_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            "GET %s/emails?$select=subject HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--batch_x--\r\n" % DYN)
    return out


def case_dynamics_batch_paging(h):
    tok = dyn_token(h).json["access_token"]
    contacts = h.seed("dynamics", "contacts", generate=25, opt_out_every=5)
    user = h.seed("dynamics", "systemusers", generate=1)[0]["systemuserid"]
    hd = dyn_headers(tok, **{"Content-Type": "multipart/mixed; boundary=batch_x"})
    r = h.call("POST", DYN + "/$batch", batch_body(h, contacts[0]["contactid"], user), hd)
    text = r.body.decode()
    h.check("dynamics $batch: 200 multipart", r.status == 200 and "multipart/mixed" in r.headers["content-type"], r)
    h.check("dynamics $batch: changeset answered 3 x 204 + GET 200",
            text.count("HTTP/1.1 204") == 3 and "HTTP/1.1 200" in text and "changesetresponse_" in text, text[:600])
    em = h.records("dynamics", "emails")
    h.check("dynamics $batch: $1 resolved (state set, attachment bound)",
            len(em) == 1 and em[0]["statecode"] == 1 and
            h.records("dynamics", "activitymimeattachments")[0]["_objectid_value"] == em[0]["activityid"], em)
    r = h.call("POST", DYN + "/$batch", batch_body(h, contacts[0]["contactid"], user, fail=True), hd)
    h.check("dynamics $batch: failing changeset -> 400, rolled back",
            r.status == 400 and len(h.records("dynamics", "emails")) == 1, r)
    r = h.call("POST", DYN + "/$batch", "--batch_x\r\nContent-Type: application/http\r\n\r\nPOST $7 HTTP/1.1\r\n\r\n{}\r\n"
               "--batch_x--\r\n", hd)
    h.check("dynamics $batch: unknown Content-ID reference -> 400", r.status == 400 and "$7" in r.body.decode(), r)
    pages, url, changed = [], DYN + "/contacts?$select=emailaddress1,followemail,donotemail", None
    while url:
        r = h.call("GET", url, headers=dyn_headers(tok, Prefer="odata.maxpagesize=10"))
        if r.status != 200:
            break
        pages.append(len(r.json["value"]))
        url = r.json.get("@odata.nextLink")
        if url and changed is None:
            changed = url + "&$top=3"
    h.check("dynamics: paging 10/10/5 via @odata.nextLink", pages == [10, 10, 5], pages)
    r = h.call("GET", changed, headers=dyn_headers(tok, Prefer="odata.maxpagesize=10"))
    h.check("dynamics: altered nextLink -> 400", r.status == 400, r)
    r = h.call("GET", DYN + "/contacts?$filter=" + urllib.parse.quote("followemail eq false"), headers=dyn_headers(tok))
    h.check("dynamics: followemail filter", r.status == 200 and len(r.json["value"]) == 5, r)
    r = h.call("GET", DYN + "/contacts?$select=emailaddress1", headers=dyn_headers(tok, Prefer="odata.track-changes"))
    delta = r.json.get("@odata.deltaLink")
    h.check("dynamics: track changes gives @odata.deltaLink", r.status == 200 and delta is not None, r)
    h.seed("dynamics", "contacts", [{"emailaddress1": "new@x.test"}])
    h.call("DELETE", DYN + "/contacts(%s)" % contacts[1]["contactid"], headers=dyn_headers(tok))
    r = h.call("GET", delta, headers=dyn_headers(tok, Prefer="odata.track-changes"))
    vals = r.json["value"] if r.json else []
    h.check("dynamics: delta returns new and deleted rows",
            len(vals) == 2 and any(v.get("reason") == "deleted" for v in vals), r)
    h.config("dynamics", token_ttl=1)
    t2 = dyn_token(h).json["access_token"]
    time.sleep(1.2)
    r = h.call("GET", DYN + "/contacts", headers=dyn_headers(t2))
    h.check("dynamics: short token_ttl expires -> 401", r.status == 401, r)
    h.config("dynamics", token_ttl=3599)


# --------------------------------------------------------------- salesforce

def sf_token(h, **form):
    body = {"grant_type": "client_credentials", "client_id": "sf-client", "client_secret": "sf-secret"}
    body.update(form)
    return h.call("POST", "/salesforce/services/oauth2/token", urllib.parse.urlencode(body),
                  {"Content-Type": "application/x-www-form-urlencoded"})


def sf_jwt(h, key="sf", **claims):
    c = {"iss": "sf-client", "sub": "integration@example.test", "aud": "https://login.salesforce.com",
         "exp": int(time.time()) + 170}
    c.update(claims)
    return sf_token(h, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=h.jwt(c, key),
                    client_id=None, client_secret=None)


def sf_email(**over):
    rec = {"Status": "3", "Incoming": False, "MessageIdentifier": "<sf1@example.com>", "Subject": "Hello",
           "FromAddress": "alice@example.com", "FromName": "Alice", "ToAddress": "bob@customer.test",
           "TextBody": "hi", "HtmlBody": "<p>hi</p>", "MessageDate": "2026-11-22T12:00:00Z"}
    rec.update(over)
    return rec


def case_salesforce(h):
    r = sf_token(h, client_secret="bad")
    h.check("salesforce: bad client secret -> 400 invalid_client",
            r.status == 400 and r.json["error"] == "invalid_client", r)
    r = sf_jwt(h)
    h.check("salesforce: JWT bearer grant", r.status == 200 and r.json["instance_url"].endswith("/salesforce"), r)
    for what, kw in (("wrong aud", {"aud": "https://evil.example"}), ("exp > 3 min", {"exp": int(time.time()) + 900}),
                     ("expired", {"exp": int(time.time()) - 5}), ("wrong iss", {"iss": "x"}),
                     ("other key", {"key": "other"})):
        r = sf_jwt(h, **kw)
        h.check("salesforce: JWT %s -> 400" % what, r.status == 400 and "error" in r.json, r)
    r = sf_token(h)
    tok = r.json["access_token"]
    hd = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
    contact = h.seed("salesforce", "Contact", generate=1)[0]["Id"]
    r = h.call("POST", SF + "/sobjects/EmailMessage/", sf_email(), hd)
    h.check("salesforce: EmailMessage 201", r.status == 201 and r.json["success"], r)
    h.check("salesforce: Sforce-Limit-Info header", r.headers.get("sforce-limit-info", "").startswith("api-usage="), r)
    em = r.json["id"]
    r = h.call("POST", SF + "/sobjects/EmailMessageRelation/", {"EmailMessageId": em, "RelationId": contact,
                                                                 "RelationType": "ToAddress"}, hd)
    h.check("salesforce: EmailMessageRelation 201", r.status == 201, r)
    r = h.call("POST", SF + "/sobjects/EmailMessageRelation/", {"EmailMessageId": em, "RelationAddress": "x@y.test",
                                                                 "RelationType": "To"}, hd)
    h.check("salesforce: bad RelationType -> restricted picklist",
            r.status == 400 and r.json[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", r)
    r = h.call("POST", SF + "/sobjects/EmailMessage/", sf_email(HtmlBody="x" * 32001), hd)
    h.check("salesforce: HtmlBody > 32000 -> STRING_TOO_LONG",
            r.status == 400 and r.json[0]["errorCode"] == "STRING_TOO_LONG" and r.json[0]["fields"] == ["HtmlBody"], r)
    for what, over, code in (("Status 0 without case", {"Status": "0"}, "FIELD_INTEGRITY_EXCEPTION"),
                             ("Incoming as string", {"Incoming": "false"}, "JSON_PARSER_ERROR"),
                             ("unknown field", {"Bogus": 1}, "INVALID_FIELD"),
                             ("contact in RelatedToId", {"RelatedToId": contact}, "FIELD_INTEGRITY_EXCEPTION"),
                             ("missing Status", {"Status": None}, "REQUIRED_FIELD_MISSING")):
        r = h.call("POST", SF + "/sobjects/EmailMessage/", sf_email(**over), hd)
        h.check("salesforce: %s -> %s" % (what, code), r.status == 400 and r.json[0]["errorCode"] == code, r)
    r = h.call("POST", SF + "/sobjects/ContentVersion/", {"Title": "q", "PathOnClient": "q.pdf", "VersionData": "YWJj",
                                                          "FirstPublishLocationId": em}, hd)
    h.check("salesforce: ContentVersion 201", r.status == 201, r)
    links = h.records("salesforce", "ContentDocumentLink")
    h.check("salesforce: FirstPublishLocationId links the file", len(links) == 1 and links[0]["LinkedEntityId"] == em,
            links)
    r = h.call("POST", SF + "/sobjects/ContentDocumentLink/", {"ContentDocumentId": links[0]["ContentDocumentId"],
                                                               "LinkedEntityId": em, "ShareType": "V"}, hd)
    h.check("salesforce: duplicate ContentDocumentLink -> DUPLICATE_VALUE",
            r.status == 400 and r.json[0]["errorCode"] == "DUPLICATE_VALUE", r)
    recs = [dict(sf_email(MessageIdentifier="<c%d@x>" % i), attributes={"type": "EmailMessage"}) for i in range(3)]
    recs[1]["Status"] = "9"
    r = h.call("POST", SF + "/composite/sobjects", {"allOrNone": False, "records": recs}, hd)
    ok = r.status == 200 and [x["success"] for x in r.json] == [True, False, True]
    h.check("salesforce: collection per-record results (statusCode)", ok and "statusCode" in r.json[1]["errors"][0], r)
    r = h.call("POST", SF + "/composite/sobjects", {"allOrNone": True, "records": recs}, hd)
    h.check("salesforce: allOrNone rolls back", r.status == 200 and not any(x["success"] for x in r.json) and
            r.json[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK", r)
    r = h.call("POST", SF + "/composite/sobjects", {"records": [recs[0]] * 201}, hd)
    h.check("salesforce: 201 records -> 400", r.status == 400, r)
    h.check("salesforce: stored 3 EmailMessages", len(h.records("salesforce", "EmailMessage")) == 3)
    q = urllib.parse.quote("SELECT Id FROM EmailMessage WHERE MessageIdentifier = '<sf1@example.com>'")
    r = h.call("GET", SF + "/query?q=" + q, headers=hd)
    h.check("salesforce: SOQL by MessageIdentifier", r.status == 200 and r.json["totalSize"] == 1 and
            r.json["records"][0]["Id"] == em, r)
    r = h.call("GET", SF + "/query?q=" + urllib.parse.quote("SELECT Nope FROM Contact"), headers=hd)
    h.check("salesforce: unknown column -> INVALID_FIELD", r.status == 400 and r.json[0]["errorCode"] == "INVALID_FIELD",
            r)
    r = h.call("GET", SF + "/query?q=" + urllib.parse.quote("SELEC Id FROM Contact"), headers=hd)
    h.check("salesforce: bad SOQL -> MALFORMED_QUERY", r.status == 400 and r.json[0]["errorCode"] == "MALFORMED_QUERY",
            r)
    h.emu("POST", "tokens/expire?vendor=salesforce")
    r = h.call("GET", SF + "/query?q=" + q, headers=hd)
    h.check("salesforce: expired session -> 401 INVALID_SESSION_ID",
            r.status == 401 and r.json[0]["errorCode"] == "INVALID_SESSION_ID", r)


def case_salesforce_paging_limits(h):
    tok = sf_token(h).json["access_token"]
    hd = {"Authorization": "Bearer " + tok, "Sforce-Query-Options": "batchSize=200"}
    h.seed("salesforce", "Contact", generate=450, opt_out_every=10)
    q = "SELECT Id, Email, HasOptedOutOfEmail FROM Contact WHERE Email != null ORDER BY CreatedDate"
    r = h.call("GET", SF + "/query/?q=" + urllib.parse.quote(q), headers=hd)
    inst = h.base + "/salesforce"
    sizes, ids = [], set()
    while r.status == 200:
        sizes.append(len(r.json["records"]))
        ids |= {x["Id"] for x in r.json["records"]}
        if r.json["done"]:
            break
        r = h.call("GET", inst + r.json["nextRecordsUrl"], headers=hd)
    h.check("salesforce: nextRecordsUrl paging 200/200/50", sizes == [200, 200, 50] and len(ids) == 450, sizes)
    r = h.call("GET", h.base + "/services/data/v62.0/query/?q=" + urllib.parse.quote(
        "SELECT Id FROM Contact WHERE HasOptedOutOfEmail = true LIMIT 100"), headers=hd)
    h.check("salesforce: WHERE boolean + LIMIT (host-rooted path)", r.status == 200 and r.json["totalSize"] == 45, r)
    r = h.call("GET", SF + "/query?q=" + urllib.parse.quote(
        "SELECT Id FROM Contact WHERE Email = 'CONTACT0007@EXAMPLE.TEST'"), headers=hd)
    h.check("salesforce: Email = is case-insensitive", r.status == 200 and r.json["totalSize"] == 1, r)
    used = h.stats()["vendors"]["salesforce"]["api_usage"]
    h.config("salesforce", daily_limit=used + 1)
    r1 = h.call("GET", SF + "/query?q=" + urllib.parse.quote("SELECT Id FROM User"), headers=hd)
    r2 = h.call("GET", SF + "/query?q=" + urllib.parse.quote("SELECT Id FROM User"), headers=hd)
    h.check("salesforce: daily limit -> 403 REQUEST_LIMIT_EXCEEDED", r1.status == 200 and r2.status == 403 and
            r2.json[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED", (r1, r2))
    h.config("salesforce", daily_limit=100000)
    h.config("salesforce", max_body_chars=10)
    r = h.call("POST", SF + "/sobjects/EmailMessage", sf_email(TextBody="x" * 11),
               {"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    h.check("salesforce: configurable max_body_chars", r.status == 400 and r.json[0]["errorCode"] == "STRING_TOO_LONG",
            r)
    h.config("salesforce", max_body_chars=32000)


# ------------------------------------------------------------------ hubspot

HS = "/hubspot/crm/v3/objects"
HSH = {"Authorization": "Bearer pat-na1-selftest", "Content-Type": "application/json"}


def hs_email(contact=None, deal=None, **props):
    p = {"hs_timestamp": "2026-11-22T12:00:00.000Z", "hs_email_direction": "EMAIL", "hs_email_status": "SENT",
         "hs_email_subject": "Hi", "hs_email_text": "hello",
         "hs_email_headers": json.dumps({"from": {"email": "alice@example.com", "firstName": "Alice",
                                                  "lastName": "A"},
                                         "to": [{"email": "bob@customer.test", "firstName": "Bob", "lastName": "B"}],
                                         "cc": [], "bcc": []})}
    p.update(props)
    body = {"properties": p, "associations": []}
    if contact:
        body["associations"].append({"to": {"id": contact}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}]})
    if deal:
        body["associations"].append({"to": {"id": int(deal)}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 210}]})
    return body


def case_hubspot(h):
    r = h.call("POST", HS + "/emails", hs_email(), {"Content-Type": "application/json"})
    h.check("hubspot: no token -> 401", r.status == 401 and r.json["category"] == "INVALID_AUTHENTICATION", r)
    contact = h.seed("hubspot", "contacts", generate=25, opt_out_every=5)[0]["id"]
    deal = h.seed("hubspot", "deals", generate=1)[0]["id"]
    r = h.call("POST", HS + "/emails", hs_email(contact, deal), HSH)
    h.check("hubspot: email 201 with associations", r.status == 201 and r.json["properties"]["hs_email_from_email"] ==
            "alice@example.com", r)
    r = h.call("GET", HS + "/emails/%s?associations=contacts,companies,deals" % r.json["id"], headers=HSH)
    h.check("hubspot: GET ?associations= lists the email's contact and deal", r.status == 200 and
            r.json["associations"]["contacts"]["results"][0]["id"] == str(contact) and
            r.json["associations"]["deals"]["results"][0]["type"] == "email_to_deal", r)
    owner = h.seed("hubspot", "owners", generate=3)[0]["id"]
    r = h.call("GET", "/hubspot/crm/v3/owners?limit=2", headers=HSH)
    h.check("hubspot: owners list, paged", r.status == 200 and r.json["results"][0]["id"] == owner and
            r.json["results"][0]["email"] == "owner0000@example.test" and "after" in r.json["paging"]["next"], r)
    boundary = "b0undary"
    form = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.pdf\"\r\nContent-Type: "
            "application/pdf\r\n\r\n%%PDF-1\r\n--%s\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
            "{\"access\":\"PRIVATE\"}\r\n--%s\r\nContent-Disposition: form-data; name=\"folderPath\"\r\n\r\n"
            "/crm\r\n--%s--\r\n" % ((boundary,) * 4)).encode()
    r = h.call("POST", "/hubspot/files/v3/files", form, dict(HSH, **{"Content-Type":
                                                                    "multipart/form-data; boundary=" + boundary}))
    h.check("hubspot: file upload 201", r.status == 201 and r.json["extension"] == "pdf" and r.json["size"] == 6 and
            "content_base64" not in r.json and "_emu_seq" not in r.json, r)
    r2 = h.call("POST", HS + "/emails", hs_email(hs_attachment_ids=r.json["id"] + ";999999"), HSH)
    h.check("hubspot: hs_attachment_ids of a file that does not exist -> 400", r2.status == 400, r2)
    h.check("hubspot: rate-limit headers", "x-hubspot-ratelimit-remaining" in r.headers, r.headers)
    bad = (("direction OUTGOING", hs_email(hs_email_direction="OUTGOING")),
           ("numeric property", hs_email(hs_email_subject=5)),
           ("headers not JSON", hs_email(hs_email_headers="{from")),
           ("missing hs_timestamp", hs_email(hs_timestamp=None)),
           ("unknown property", hs_email(hs_foo="1")),
           ("missing contact", hs_email("999999")),
           ("bad type id", {"properties": hs_email()["properties"], "associations": [
               {"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                  "associationTypeId": 999}]}]}))
    for what, body in bad:
        if body["properties"].get("hs_timestamp") is None:
            body["properties"].pop("hs_timestamp", None)
        r = h.call("POST", HS + "/emails", body, HSH)
        h.check("hubspot: %s -> 400 VALIDATION_ERROR" % what, r.status == 400 and r.json["category"] ==
                "VALIDATION_ERROR", r)
    r = h.call("POST", HS + "/emails", hs_email(hs_email_headers=json.dumps(
        {"from": {"email": "Alice A<alice@example.com>"}, "to": [{"email": "ToFirst+ToLast<to@test.com>"}]})), HSH)
    h.check("hubspot: 'Name<addr>' header forms accepted", r.status == 201 and
            r.json["properties"]["hs_email_to_email"] == "to@test.com", r)
    inputs = [dict(hs_email(contact), objectWriteTraceId="job-%d" % i) for i in range(3)]
    inputs[1] = dict(hs_email(hs_email_status="DONE"), objectWriteTraceId="job-1")
    r = h.call("POST", HS + "/emails/batch/create", {"inputs": inputs}, HSH)
    h.check("hubspot: batch with a bad input -> 207", r.status == 207 and len(r.json["results"]) == 2 and
            r.json["errors"][0]["context"]["objectWriteTraceId"] == ["job-1"], r)
    n = len(h.records("hubspot", "emails"))
    r = h.call("POST", HS + "/emails/batch/create", {"inputs": [hs_email(), hs_email(hs_email_status="DONE")]}, HSH)
    h.check("hubspot: batch without trace ids -> 400, nothing stored",
            r.status == 400 and len(h.records("hubspot", "emails")) == n, r)
    r = h.call("POST", HS + "/emails/batch/create", {"inputs": [hs_email()] * 101}, HSH)
    h.check("hubspot: 101 inputs -> 400", r.status == 400, r)
    r = h.call("POST", HS + "/emails/batch/create", {"inputs": [dict(hs_email(), objectWriteTraceId="job-0")]}, HSH)
    h.check("hubspot: batch ok", r.status in (200, 201) and r.json["status"] == "COMPLETE", r)
    h.check("hubspot: same objectWriteTraceId twice counts a duplicate",
            h.stats()["duplicates_by_vendor"]["hubspot"] == 1)
    pages, after = [], None
    for _ in range(5):
        r = h.call("GET", HS + "/contacts?limit=10&properties=email,hs_email_optout" +
                   ("&after=" + after if after else ""), headers=HSH)
        pages.append(len(r.json["results"]))
        after = r.json.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    h.check("hubspot: list paging 10/10/5", pages == [10, 10, 5], pages)
    r = h.call("POST", HS + "/contacts/search", {"filterGroups": [{"filters": [
        {"propertyName": "email", "operator": "EQ", "value": "CONTACT0003@example.test"}]}],
        "properties": ["email", "hs_email_optout"], "limit": 100}, HSH)
    h.check("hubspot: search by email", r.status == 200 and r.json["total"] == 1, r)
    r = h.call("POST", HS + "/contacts/search", {"filterGroups": [{"filters": [
        {"propertyName": "hs_email_optout", "operator": "EQ", "value": "true"}]}], "limit": 2}, HSH)
    h.check("hubspot: search paging", r.status == 200 and r.json["total"] == 5 and
            r.json["paging"]["next"]["after"] == "2", r)
    r = h.call("POST", HS + "/contacts/search", {"limit": 201}, HSH)
    h.check("hubspot: search limit 201 -> 400", r.status == 400, r)
    codes = [h.call("POST", HS + "/contacts/search", {"limit": 1}, HSH).status for _ in range(4)]
    h.check("hubspot: 6th search in a second -> 429 + Retry-After", codes[-1] == 429, codes)
    time.sleep(1.1)


# --------------------------------------------------------------------- zoho

def zoho_mint(h, refresh="1000.r.selftest"):
    return h.call("POST", "/zoho/oauth/v2/token?" + urllib.parse.urlencode(
        {"grant_type": "refresh_token", "client_id": "zoho-client", "client_secret": "zoho-secret",
         "refresh_token": refresh}))


def zoho_email(**over):
    e = {"from": {"user_name": "Alice", "email": "alice@example.com"},
         "to": [{"user_name": "Bob", "email": "bob@customer.test"}], "subject": "Hi", "content": "<p>x</p>",
         "mail_format": "html", "original_message_id": "<z1@example.com>", "sent": True,
         "date_time": "2026-11-22T12:00:00+00:00"}
    e.update(over)
    return {"Emails": [e]}


def case_zoho(h):
    r = zoho_mint(h, refresh="bad")
    h.check("zoho: bad refresh token -> 200 invalid_code", r.status == 200 and r.json == {"error": "invalid_code"}, r)
    r = zoho_mint(h)
    h.check("zoho: mint", r.status == 200 and r.json["api_domain"] == h.base + "/zoho", r)
    zh = {"Authorization": "Zoho-oauthtoken " + r.json["access_token"], "Content-Type": "application/json"}
    lead = h.seed("zoho", "Leads", generate=25, opt_out_every=5)[0]["id"]
    url = "/zoho/crm/v8/Leads/%s/actions/associate_email" % lead
    r = h.call("POST", url, zoho_email(), zh)
    h.check("zoho: associate_email 201", r.status == 201 and r.json["Emails"][0]["code"] == "SUCCESS", r)
    r = h.call("POST", url, zoho_email(), zh)
    h.check("zoho: same original_message_id -> DUPLICATE_DATA", r.status == 400 and
            r.json["Emails"][0]["code"] == "DUPLICATE_DATA", r)
    e = zoho_email(original_message_id="<z2@x>")
    del e["Emails"][0]["subject"]
    r = h.call("POST", url, e, zh)
    h.check("zoho: missing subject -> MANDATORY_NOT_FOUND", r.status == 400 and
            r.json["Emails"][0]["code"] == "MANDATORY_NOT_FOUND", r)
    two = zoho_email(original_message_id="<z3@x>")
    two["Emails"].append(two["Emails"][0])
    r = h.call("POST", url, two, zh)
    h.check("zoho: two emails -> maximum_length 1", r.status == 400 and r.json["details"].get("maximum_length") == 1, r)
    r = h.call("POST", url, zoho_email(original_message_id="<z4@x>", sent="yes"), zh)
    h.check("zoho: sent not boolean -> INVALID_DATA", r.status == 400 and r.json["code"] == "INVALID_DATA", r)
    r = h.call("POST", "/zoho/crm/v8/Leads/123/actions/associate_email", zoho_email(original_message_id="<z5@x>"), zh)
    h.check("zoho: unknown record -> INVALID_DATA", r.status == 400 and "related id" in r.json["message"], r)
    r = h.call("POST", "/zoho/crm/v8/Nope/1/actions/associate_email", zoho_email(), zh)
    h.check("zoho: bad module -> 404 INVALID_MODULE", r.status == 404 and r.json["code"] == "INVALID_MODULE", r)
    r = h.call("POST", url, zoho_email(), dict(zh, Authorization=zh["Authorization"].replace("Zoho-oauthtoken",
                                                                                              "Bearer")))
    h.check("zoho: Bearer scheme -> 401", r.status == 401, r)
    body = (b"--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"q.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n%PDF-1\r\n--b0--\r\n")
    r = h.call("POST", "/zoho/crm/v8/files", body, dict(zh, **{"Content-Type": "multipart/form-data; boundary=b0"}))
    fid = r.json["data"][0]["details"]["id"] if r.status == 200 else None
    h.check("zoho: file upload", fid is not None, r)
    r = h.call("POST", url, zoho_email(original_message_id="<z6@x>", attachments=[{"id": fid}]), zh)
    h.check("zoho: associate with attachment id", r.status == 201, r)
    r = h.call("GET", "/zoho/crm/v8/Leads/search?email=LEAD0002@example.test", headers=zh)
    h.check("zoho: search by email", r.status == 200 and r.json["info"]["count"] == 1, r)
    r = h.call("GET", "/zoho/crm/v8/Leads/search?email=none@example.test", headers=zh)
    h.check("zoho: search without match -> 204", r.status == 204 and r.body == b"", r)
    r = h.call("GET", "/zoho/crm/v8/Leads", headers=zh)
    h.check("zoho: list without fields -> REQUIRED_PARAM_MISSING", r.status == 400 and
            r.json["code"] == "REQUIRED_PARAM_MISSING", r)
    sizes, tok = [], None
    for _ in range(5):
        r = h.call("GET", "/zoho/crm/v8/Leads?fields=Email,Email_Opt_Out&per_page=10" +
                   ("&page_token=" + tok if tok else ""), headers=zh)
        sizes.append(len(r.json["data"]))
        tok = r.json["info"].get("next_page_token")
        if not r.json["info"]["more_records"]:
            break
    h.check("zoho: list paging 10/10/5", sizes == [10, 10, 5], sizes)
    h.emu("POST", "tokens/expire?vendor=zoho")
    r = h.call("GET", "/zoho/crm/v8/Leads/search?email=x@y.test", headers=zh)
    h.check("zoho: expired token -> 401 INVALID_TOKEN", r.status == 401 and r.json["code"] == "INVALID_TOKEN", r)


def case_zoho_mint_limit(h):
    results = [zoho_mint(h).json for _ in range(11)]
    h.check("zoho: 10 mints allowed", all("access_token" in x for x in results[:10]), results[:10])
    h.check("zoho: 11th mint in 10 min -> Access Denied (HTTP 200)", results[10].get("error") == "Access Denied",
            results[10])
    st = h.stats()["vendors"]["zoho"]
    h.check("zoho: stats count mints and denials", st["mints"] == 10 and st["mints_denied"] == 1, st)
    h.emu("POST", "reset")
    h.config("zoho", mint_limit=20)
    toks = [zoho_mint(h).json["access_token"] for _ in range(16)]
    r = h.call("GET", "/zoho/crm/v8/Leads/search?email=a@b.test", headers={"Authorization": "Zoho-oauthtoken " + toks[0]})
    h.check("zoho: 16th live token invalidates the oldest", r.status == 401 and r.json["code"] == "INVALID_OAUTHTOKEN", r)
    h.config("zoho", mint_limit=10)


CASES = [case_webhook, case_dynamics, case_dynamics_batch_paging, case_salesforce, case_salesforce_paging_limits,
         case_hubspot, case_zoho, case_zoho_mint_limit]

from selftest_faults import FAULT_CASES  # noqa: E402

CASES += FAULT_CASES

from selftest_zoho_notes import ZOHO_NOTE_CASES  # noqa: E402

CASES += ZOHO_NOTE_CASES
