"""Zoho CRM v8 Notes, for the zoho connector's engagement rollups (Zoho's own
OpenAPI spec, repository zoho/crm-oas, v8.0/notes and v8.0/related_records):

  POST /crm/v8/Notes                 {"data":[{Note_Title?, Note_Content?, Parent_Id:{module:{api_name}, id}}]}
                                     (<= 100 items) -> 201 data[] {code SUCCESS, details{id, Created_Time, ...}}
                                     (207 when some items fail)
  PUT  /crm/v8/Notes/{id}            {"data":[{Note_Title?, Note_Content?}]} (exactly 1) -> 200
  GET  /crm/v8/Notes/{id}            -> 200 {"data":[note]}, 204 when unknown
  GET  /crm/v8/{module}/{id}/Notes   the record's Notes related list: fields required, per_page <= 200, page,
                                     sort_by id|Created_Time|Modified_Time, sort_order (default desc); 204 if none

Limits: Note_Title <= 120, Note_Content <= 65535 characters; at least one of the two. Parent_Id.module.api_name
and Parent_Id.id are required, and the parent record must exist. Error shapes follow the spec's examples:
per-item errors inside data[] (EXPECTED_FIELD_MISSING, INVALID_DATA), a bad note id INVALID_DATA with
details.resource_path_index. Our choices (the spec is silent): unknown item keys are accepted with a warning
(additionalProperties: any); the related list is served for Leads, Contacts, Accounts and Deals.

Public: handle(zoho, req, note_id, parent) -> Response or None.
"""

from common import ApiError, Response, now_iso, public

CREATED_BY = {"name": "Emulated Owner", "id": "4150868000000225013"}


def item_error(code, message, details, status=400, wrapper="data"):
    """A per-item error inside data[]."""
    return Response.json(status, {wrapper: [{"code": code, "details": details, "message": message,
                                             "status": "error"}]})


def check_text(item, path):
    """Note_Title / Note_Content types and lengths; returns an error dict or None."""
    for k, lim in (("Note_Title", 120), ("Note_Content", 65535)):
        v = item.get(k)
        if v is None:
            continue
        if not isinstance(v, str):
            return {"code": "INVALID_DATA", "message": "invalid data",
                    "details": {"api_name": k, "json_path": "%s.%s" % (path, k)}}
        if len(v) > lim:
            return {"code": "INVALID_DATA", "message": "invalid data",
                    "details": {"api_name": k, "json_path": "%s.%s" % (path, k), "maximum_length": lim}}
    if item.get("Note_Title") is None and item.get("Note_Content") is None:
        return {"code": "EXPECTED_FIELD_MISSING", "message": "one of the expected field is missing",
                "details": {"expected_fields": [{"api_name": "Note_Title", "json_path": path + ".Note_Title"},
                                                {"api_name": "Note_Content", "json_path": path + ".Note_Content"}]}}
    return None


def body_items(req, maximum):
    """data[] of the request body (1..maximum objects), or raises ApiError."""
    try:
        body = req.json()
    except ValueError as e:
        raise ApiError(Response.json(400, {"code": "INVALID_DATA", "message": str(e), "status": "error",
                                           "details": {}}))
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise ApiError(Response.json(400, {"code": "INVALID_DATA", "message": "invalid data", "status": "error",
                                           "details": {"api_name": "data", "json_path": "$.data"}}))
    if len(items) > maximum:
        raise ApiError(Response.json(400, {"code": "INVALID_DATA", "message": "invalid data", "status": "error",
                                           "details": {"maximum_length": maximum, "api_name": "data",
                                                       "json_path": "$.data"}}))
    for i, item in enumerate(items):
        for k in item:
            if k not in ("Note_Title", "Note_Content", "Parent_Id"):
                req.warn("$.data[%d].%s: not a Notes field the connector is expected to send" % (i, k))
    return items


def details(note):
    """The details block of a create or update answer."""
    return {"Modified_Time": note["Modified_Time"], "Modified_By": CREATED_BY, "Created_Time": note["Created_Time"],
            "id": note["id"], "Created_By": CREATED_BY}


def create(zoho, req):
    """POST /crm/v8/Notes."""
    out, ok = [], 0
    for i, item in enumerate(body_items(req, 100)):
        path = "$.data[%d]" % i
        err = check_text(item, path)
        parent = item.get("Parent_Id")
        if err is None:
            module = parent.get("module") if isinstance(parent, dict) else None
            api = module.get("api_name") if isinstance(module, dict) else None
            pid = parent.get("id") if isinstance(parent, dict) else None
            if not isinstance(api, str) or pid is None:
                err = {"code": "MANDATORY_NOT_FOUND", "message": "required field not found",
                       "details": {"api_name": "Parent_Id", "json_path": path + ".Parent_Id"}}
            elif zoho.rec(api, str(pid)) is None:
                err = {"code": "INVALID_DATA", "message": "the related id given seems to be invalid",
                       "details": {"api_name": "Parent_Id", "json_path": path + ".Parent_Id.id"}}
        if err is not None:
            out.append(dict(err, status="error"))
            continue
        t = now_iso(ms=False).replace("Z", "+00:00")
        nid = zoho.new_id()
        note = {"id": nid, "Note_Title": item.get("Note_Title"), "Note_Content": item.get("Note_Content"),
                "Parent_Id": {"module": {"api_name": api}, "id": str(pid)}, "Created_Time": t, "Modified_Time": t,
                "updates": 0}
        zoho.put("Notes", nid, note)
        out.append({"code": "SUCCESS", "details": details(note), "message": "record added", "status": "success"})
        ok += 1
    status = 201 if ok == len(out) else (400 if ok == 0 else 207)
    return Response.json(status, {"data": out})


def update(zoho, req, note_id):
    """PUT /crm/v8/Notes/{id}."""
    item = body_items(req, 1)[0]
    note = zoho.rec("Notes", note_id)
    if note is None:
        return Response.json(400, {"code": "INVALID_DATA", "message": "the related id given seems to be invalid",
                                   "status": "error", "details": {"resource_path_index": 1}})
    if "Parent_Id" in item:
        return item_error("NOT_ALLOWED", "Parent_Id cannot be changed", {"api_name": "Parent_Id",
                                                                         "json_path": "$.data[0].Parent_Id"})
    err = check_text(item, "$.data[0]")
    if err is not None:
        return item_error(err["code"], err["message"], err["details"])
    for k in ("Note_Title", "Note_Content"):
        if k in item:
            note[k] = item[k]
    note["Modified_Time"] = now_iso(ms=False).replace("Z", "+00:00")
    note["updates"] = note.get("updates", 0) + 1
    zoho.store.touch(note)
    return Response.json(200, {"data": [{"code": "SUCCESS", "details": details(note), "message": "record updated",
                                         "status": "success"}]})


def related(zoho, req, module, rid):
    """GET /crm/v8/{module}/{id}/Notes."""
    fields = req.q("fields")
    if not fields:
        return Response.json(400, {"code": "REQUIRED_PARAM_MISSING", "message": "One of the expected parameter is"
                                   " missing", "status": "error", "details": {"param_name": "fields"}})
    if zoho.rec(module, rid) is None:
        return Response.json(404, {"code": "INVALID_DATA", "message": "the related id given seems to be invalid",
                                   "status": "error", "details": {"id": rid}})
    per_page, page = zoho.paging(req)
    sort_by = req.q("sort_by", "id")
    if sort_by not in ("id", "Created_Time", "Modified_Time"):
        return Response.json(400, {"code": "INVALID_DATA", "message": "invalid data", "status": "error",
                                   "details": {"param_name": "sort_by"}})
    notes = [n for n in zoho.recs("Notes") if n["Parent_Id"]["module"]["api_name"] == module and
             n["Parent_Id"]["id"] == rid]
    notes.sort(key=lambda n: (int(n["id"]) if sort_by == "id" else n.get(sort_by) or "", int(n["id"])),
               reverse=req.q("sort_order", "desc") != "asc")
    chunk = notes[(page - 1) * per_page: page * per_page]
    if not chunk:
        return Response(204)
    names = [f.strip() for f in fields.split(",") if f.strip()]
    data = [{"id": n["id"], **{k: n.get(k) for k in names if k != "id"}} for n in chunk]
    return Response.json(200, {"data": data, "info": zoho.info(per_page, len(chunk), page,
                                                                page * per_page < len(notes))})


def handle(zoho, req, note_id, parent):
    """Route a Notes request; parent is (module, id) for the related list."""
    try:
        if parent is not None and req.method == "GET":
            return related(zoho, req, parent[0], parent[1])
        if parent is None and note_id is None and req.method == "POST":
            return create(zoho, req)
        if parent is None and note_id is not None and req.method == "PUT":
            return update(zoho, req, note_id)
        if parent is None and note_id is not None and req.method == "GET":
            note = zoho.rec("Notes", note_id)
            return Response(204) if note is None else Response.json(200, {"data": [public(note)]})
    except ApiError as e:
        return e.response
    return Response.json(405, {"code": "INVALID_REQUEST_METHOD", "message": "The http request method type is not a"
                               " valid one", "status": "error", "details": {}})


def dup_keys(zoho):
    """One rollup Note per message: (parent module, parent id, title) repeated is a duplicate."""
    return [("Notes", n["Parent_Id"]["module"]["api_name"], n["Parent_Id"]["id"], n.get("Note_Title"))
            for n in zoho.recs("Notes")]

