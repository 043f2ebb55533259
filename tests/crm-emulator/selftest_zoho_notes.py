"""Self-test cases of the emulated Zoho Notes API (zoho_notes.py): create on a
record, the record's Notes related list, update, the field checks, and a
second Note with the same title on one record counted as a duplicate.

Public: ZOHO_NOTE_CASES (appended to selftest_cases.CASES).
"""

from selftest_cases import zoho_mint

NOTES = "/zoho/crm/v8/Notes"


def note(module, rid, title="Email engagement [crm-milter 0123456789abcdef]", content="Opened by people: 1"):
    return {"data": [{"Note_Title": title, "Note_Content": content,
                      "Parent_Id": {"module": {"api_name": module}, "id": rid}}]}


def case_zoho_notes(h):
    zh = {"Authorization": "Zoho-oauthtoken " + zoho_mint(h).json["access_token"],
          "Content-Type": "application/json"}
    contact = h.seed("zoho", "Contacts", generate=2)[0]["id"]
    r = h.call("POST", NOTES, note("Contacts", contact), zh)
    nid = r.json["data"][0]["details"]["id"] if r.status == 201 else None
    h.check("zoho notes: create on a contact -> 201 with details.id",
            nid is not None and r.json["data"][0]["code"] == "SUCCESS", r)
    r = h.call("GET", "/zoho/crm/v8/Contacts/%s/Notes?fields=Note_Title" % contact, headers=zh)
    h.check("zoho notes: the record's related list", r.status == 200 and r.json["data"][0]["id"] == nid and
            r.json["data"][0]["Note_Title"].startswith("Email engagement"), r)
    r = h.call("GET", "/zoho/crm/v8/Contacts/%s/Notes" % contact, headers=zh)
    h.check("zoho notes: related list without fields -> REQUIRED_PARAM_MISSING",
            r.status == 400 and r.json["code"] == "REQUIRED_PARAM_MISSING", r)
    other = h.seed("zoho", "Leads", generate=1)[0]["id"]
    r = h.call("GET", "/zoho/crm/v8/Leads/%s/Notes?fields=Note_Title" % other, headers=zh)
    h.check("zoho notes: a record without notes -> 204", r.status == 204, r)
    r = h.call("PUT", NOTES + "/" + nid, {"data": [{"Note_Content": "Opened by people: 2"}]}, zh)
    h.check("zoho notes: update -> 200", r.status == 200 and r.json["data"][0]["status"] == "success", r)
    r = h.call("GET", NOTES + "/" + nid, headers=zh)
    h.check("zoho notes: updated content stored", r.status == 200 and
            r.json["data"][0]["Note_Content"] == "Opened by people: 2", r)
    r = h.call("PUT", NOTES + "/999", {"data": [{"Note_Content": "x"}]}, zh)
    h.check("zoho notes: update of an unknown note -> INVALID_DATA", r.status == 400 and
            r.json["code"] == "INVALID_DATA", r)
    r = h.call("POST", NOTES, note("Contacts", "123"), zh)
    h.check("zoho notes: unknown parent -> INVALID_DATA", r.status == 400 and
            r.json["data"][0]["code"] == "INVALID_DATA", r)
    r = h.call("POST", NOTES, note("Contacts", contact, title="x" * 121), zh)
    h.check("zoho notes: title over 120 -> INVALID_DATA", r.status == 400 and
            r.json["data"][0]["details"].get("maximum_length") == 120, r)
    r = h.call("POST", NOTES, {"data": [{"Parent_Id": {"module": {"api_name": "Contacts"}, "id": contact}}]}, zh)
    h.check("zoho notes: neither title nor content -> EXPECTED_FIELD_MISSING", r.status == 400 and
            r.json["data"][0]["code"] == "EXPECTED_FIELD_MISSING", r)
    h.check("zoho notes: no duplicate yet", h.stats()["duplicates_by_vendor"].get("zoho") == 0, h.stats())
    h.call("POST", NOTES, note("Contacts", contact), zh)
    h.check("zoho notes: a second Note with the same title on the record is a duplicate",
            h.stats()["duplicates_by_vendor"].get("zoho") == 1, h.stats())


ZOHO_NOTE_CASES = [case_zoho_notes]
