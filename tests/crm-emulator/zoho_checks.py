"""Zoho associate_email body checks and the search criteria subset
(notes sections 2.2 and 2.4; error shapes from Zoho's v8 OpenAPI examples).

Error shapes used:
  missing field  400 {"Emails":[{"code":"MANDATORY_NOT_FOUND","details":{"api_name","json_path"},...}]}
  bad value      400 {"code":"INVALID_DATA","message":"invalid data","status":"error","details":{api_name,json_path}}
  too long       400 INVALID_DATA with details.maximum_length
  bad record id  400 {"code":"INVALID_DATA","message":"the related id given seems to be invalid",...}
  duplicate      400 {"Emails":[{"code":"DUPLICATE_DATA",...}]}  (UNCONFIRMED code, our choice)

Public: associate(zoho, req, module, record_id) -> Response, criteria(text) -> predicate.
"""

import re
import time

from common import ApiError, Response, is_email, now_iso, parse_time

FIELDS = ("from", "to", "cc", "bcc", "subject", "content", "mail_format", "original_message_id", "sent",
          "date_time", "attachments")
MANDATORY = ("from", "to", "subject", "content", "original_message_id", "sent", "date_time")


def invalid(api_name, json_path, message="invalid data", **more):
    """INVALID_DATA error."""
    details = {"api_name": api_name, "json_path": json_path}
    details.update(more)
    return ApiError(Response.json(400, {"code": "INVALID_DATA", "message": message, "status": "error",
                                        "details": details}))


def wrapped(wrapper, code, message, api_name, json_path, status=400):
    """A per-item error inside the wrapper array."""
    return ApiError(Response.json(status, {wrapper: [{"code": code, "details": {"api_name": api_name,
                                                                                 "json_path": json_path},
                                                      "message": message, "status": "error"}]}))


def check_person(p, path, api):
    """{user_name?, email}: email <= 255 and an address."""
    if not isinstance(p, dict):
        raise invalid(api, path)
    for k in p:
        if k not in ("user_name", "email"):
            raise invalid(api, "%s.%s" % (path, k), "unknown key %s (additionalProperties is false)" % k)
    if "email" not in p:
        raise invalid(api, path + ".email", "email is required")
    e = p["email"]
    if not isinstance(e, str) or not is_email(e):
        raise invalid(api, path + ".email")
    if len(e) > 255:
        raise invalid(api, path + ".email", maximum_length=255)
    if "user_name" in p and p["user_name"] is not None and not isinstance(p["user_name"], str):
        raise invalid(api, path + ".user_name")


def check_email(item, wrapper, req, zoho):
    """Every field of one associate_email item."""
    base = "$.%s[0]" % wrapper
    if not isinstance(item, dict):
        raise invalid(wrapper, base)
    for k in item:
        if k not in FIELDS:
            raise invalid(k, "%s.%s" % (base, k), "unknown field %s (additionalProperties is false)" % k)
    for k in MANDATORY:
        if item.get(k) is None:
            raise wrapped(wrapper, "MANDATORY_NOT_FOUND", "required field not found", k, "%s.%s" % (base, k))
    check_person(item["from"], base + ".from", "from")
    for k in ("to", "cc", "bcc"):
        if k not in item:
            continue
        v = item[k]
        if not isinstance(v, list):
            raise invalid(k, "%s.%s" % (base, k))
        if k == "to" and not v:
            raise invalid(k, "%s.%s" % (base, k), "to must list at least one recipient")
        if len(v) > 50:
            raise invalid(k, "%s.%s" % (base, k), maximum_length=50)
        for i, p in enumerate(v):
            check_person(p, "%s.%s[%d]" % (base, k, i), k)
    for k, lim in (("subject", 500), ("content", 32000), ("original_message_id", 255), ("date_time", 50)):
        v = item[k]
        if not isinstance(v, str):
            raise invalid(k, "%s.%s" % (base, k))
        if len(v) > lim:
            raise invalid(k, "%s.%s" % (base, k), maximum_length=lim)
    if not isinstance(item["sent"], bool):
        raise invalid("sent", base + ".sent", "sent must be a boolean")
    if parse_time(item["date_time"], require_zone=True) is None:
        raise invalid("date_time", base + ".date_time", "date_time must be ISO 8601 with an offset")
    fmt = item.get("mail_format", "text")
    if fmt not in ("text", "html"):
        raise invalid("mail_format", base + ".mail_format", "mail_format must be text or html")
    atts = item.get("attachments", [])
    if not isinstance(atts, list):
        raise invalid("attachments", base + ".attachments")
    if len(atts) > 20:
        raise invalid("attachments", base + ".attachments", maximum_length=20)
    for i, a in enumerate(atts):
        ap = "%s.attachments[%d]" % (base, i)
        if not isinstance(a, dict) or not isinstance(a.get("id"), str):
            raise invalid("attachments", ap + ".id")
        for k in a:
            if k == "file_name":
                req.warn("%s.file_name: v6 form; v8 declares only id" % ap)
            elif k != "id":
                raise invalid("attachments", "%s.%s" % (ap, k), "unknown key %s" % k)
        if zoho.rec("files", a["id"]) is None:
            raise invalid("attachments", ap + ".id", "the attachment id is not an uploaded file")


def associate(zoho, req, module, rid):
    """POST /crm/v8/{module}/{id}/actions/associate_email."""
    try:
        body = req.json()
    except ValueError:
        return Response.json(400, {"code": "INVALID_DATA", "message": "body is not JSON", "status": "error",
                                   "details": {}})
    if not isinstance(body, dict):
        return Response.json(400, {"code": "INVALID_DATA", "message": "body must be an object", "status": "error",
                                   "details": {}})
    keys = [k for k in ("Emails", "data") if k in body]
    if len(keys) != 1 or len(body) != 1:
        return Response.json(400, {"code": "INVALID_DATA", "message": "invalid data", "status": "error",
                                   "details": {"api_name": "Emails", "json_path": "$.Emails"}})
    wrapper = keys[0]
    if wrapper == "data":
        req.warn("wrapper 'data' (the v8 OAS request schema); the notes say send 'Emails' (UNCONFIRMED)")
    items = body[wrapper]
    if not isinstance(items, list) or not items:
        raise invalid(wrapper, "$.%s" % wrapper)
    if len(items) != 1:
        raise invalid(wrapper, "$.%s" % wrapper, maximum_length=1)
    rec = zoho.rec(module, rid)
    if rec is None:
        return Response.json(400, {"code": "INVALID_DATA", "message": "the related id given seems to be invalid",
                                   "status": "error", "details": {}})
    item = items[0]
    check_email(item, wrapper, req, zoho)
    omid = item["original_message_id"]
    for e in zoho.recs("Emails"):
        if e["module"] == module and e["record_id"] == rid and e["original_message_id"] == omid:
            raise wrapped(wrapper, "DUPLICATE_DATA", "duplicate data", "original_message_id",
                          "$.%s[0].original_message_id" % wrapper)
    eid = "%d%06d" % (int(time.time() * 1000), len(zoho.recs("Emails")))
    stored = dict(item)
    stored.update({"id": eid, "module": module, "record_id": rid, "wrapper": wrapper, "associated_at": now_iso()})
    zoho.put("Emails", eid, stored)
    return Response.json(int(zoho.opt("associate_status", 201)), {"Emails": [{
        "code": "SUCCESS", "details": {"message_id": omid}, "message": "Email associated successfully.",
        "status": "success"}]})


COND_RE = re.compile(r"\(\s*(\w+)\s*:\s*(equals|starts_with|in|not_equal)\s*:\s*((?:\\.|[^)\\])*)\)")


def criteria(text):
    """(Field:equals:value) conditions joined by 'and' / 'or' (one kind of joiner per query)."""
    inner = text.strip()
    while inner.startswith("((") and inner.endswith("))"):
        inner = inner[1:-1]
    conds = COND_RE.findall(inner)
    if not conds:
        raise ApiError(Response.json(400, {"code": "INVALID_QUERY", "message": "invalid query formed",
                                           "status": "error", "details": {"reason": "criteria %r" % text}}))
    joiner = "or" if re.search(r"\)\s*or\s*\(", inner, re.I) else "and"

    def one(rec, f, op, v):
        v = re.sub(r"\\(.)", r"\1", v)
        have = str(rec.get(f) or "").lower()
        if op == "equals":
            return have == v.lower()
        if op == "not_equal":
            return have != v.lower()
        if op == "starts_with":
            return have.startswith(v.lower())
        return have in [x.strip().lower() for x in v.split(",")]

    def pred(rec):
        hits = [one(rec, f, op, v) for f, op, v in conds]
        return any(hits) if joiner == "or" else all(hits)

    return pred
