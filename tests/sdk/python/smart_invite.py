"""Drives calsync's Smart Invites with pycronofy, checks each invitation with Python's
`icalendar` and imports it into Radicale, as a recipient's calendar would.

Usage: smart_invite.py BASE_URL CLIENT_ID CLIENT_SECRET (Radicale from CALSYNC_TEST_RADICALE_URL,
_USER and _PASSWORD). The last stdout line is a JSON summary {"steps": {name: "ok" | "failed: ..."},
"values": {...}}; the exit status is 1 when a step failed.
"""

import json
import sys
import os
import traceback
import uuid

import icalendar
import pycronofy
import requests
from pycronofy import settings

steps = {}
values = {}


def step(name, fn):
    try:
        fn()
        steps[name] = "ok"
    except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
        steps[name] = "failed: %s: %s" % (type(e).__name__, e)
        traceback.print_exc(file=sys.stderr)


def parsed(invite):
    """The invitation's VCALENDAR and its VEVENT, as icalendar reads them."""
    calendar = icalendar.Calendar.from_ical(invite["attachments"]["icalendar"])
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1, "one VEVENT, not %d" % len(events)
    return calendar, events[0]


def radicale_import(text):
    """PUTs the invitation into a fresh Radicale calendar and reads it back."""
    base = os.environ["CALSYNC_TEST_RADICALE_URL"].rstrip("/")
    auth = (os.environ["CALSYNC_TEST_RADICALE_USER"], os.environ["CALSYNC_TEST_RADICALE_PASSWORD"])
    collection = "%s/%s/smart-invite-%s/" % (base, auth[0], uuid.uuid4().hex)
    r = requests.request("MKCALENDAR", collection, auth=auth, timeout=30)
    assert r.status_code in (200, 201), "MKCALENDAR %s: %s" % (r.status_code, r.text[:300])
    # A stored calendar object carries no METHOD (RFC 4791 §4.1): a client importing the
    # invitation drops it, as this does.
    stored = "\r\n".join(l for l in text.split("\r\n") if not l.startswith("METHOD:"))
    r = requests.put(collection + "invite.ics", data=stored.encode(), auth=auth, timeout=30,
                     headers={"Content-Type": "text/calendar; charset=utf-8"})
    assert r.status_code in (200, 201, 204), "PUT %s: %s" % (r.status_code, r.text[:300])
    r = requests.get(collection + "invite.ics", auth=auth, timeout=30)
    assert r.status_code == 200, "GET %s" % r.status_code
    return icalendar.Calendar.from_ical(r.text)


def main():
    base_url, client_id, client_secret = sys.argv[1:4]
    settings.API_BASE_URL = base_url
    settings.APP_BASE_URL = base_url
    client = pycronofy.Client(client_id=client_id, client_secret=client_secret)
    recipient = {"email": "guest@example.com"}
    event = {
        "summary": "Board meeting",
        "description": "Quarterly, with numbers",
        "start": {"time": "2026-10-15T09:30:00Z", "tzid": "Europe/London"},
        "end": {"time": "2026-10-15T10:00:00Z", "tzid": "Europe/London"},
        "location": {"description": "Board room"},
    }
    state = {}

    def upsert():
        invite = client.upsert_smart_invite("sdk-invite", recipient, dict(event), organizer={"name": "Board"})
        calendar, vevent = parsed(invite)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert int(vevent["SEQUENCE"]) == 0
        assert str(vevent["ORGANIZER"]).startswith("mailto:invite+")
        assert str(vevent["ATTENDEE"]) == "mailto:guest@example.com"
        assert vevent["ATTENDEE"].params["RSVP"] == "TRUE"
        assert vevent["DTSTART"].dt.tzinfo is not None
        assert len(list(calendar.walk("VTIMEZONE"))) == 1
        state["uid"] = str(vevent["UID"])
        state["ics"] = invite["attachments"]["icalendar"]
        values["recipient"] = invite["recipient"]

    def update():
        moved = dict(event, summary="Board meeting (moved)")
        invite = client.upsert_smart_invite("sdk-invite", recipient, moved, organizer={"name": "Board"})
        _, vevent = parsed(invite)
        assert str(vevent["UID"]) == state["uid"]
        values["sequence_after_update"] = int(vevent["SEQUENCE"])

    def get():
        invite = client.get_smart_invite("sdk-invite", "guest@example.com")
        values["replies"] = invite["replies"]
        values["summary"] = invite["event"]["summary"]

    def radicale():
        stored = radicale_import(state["ics"])
        vevent = list(stored.walk("VEVENT"))[0]
        assert str(vevent["UID"]) == state["uid"]
        values["radicale_summary"] = str(vevent["SUMMARY"])

    def cancel():
        invite = client.cancel_smart_invite("sdk-invite", recipient)
        calendar, vevent = parsed(invite)
        values["cancel_method"] = str(calendar["METHOD"])
        values["cancel_status"] = str(vevent["STATUS"])
        assert str(vevent["UID"]) == state["uid"]

    step("upsert_smart_invite", upsert)
    step("update", update)
    step("get_smart_invite", get)
    step("radicale_import", radicale)
    step("cancel_smart_invite", cancel)
    print(json.dumps({"steps": steps, "values": values}, sort_keys=True))
    sys.exit(0 if all(v == "ok" for v in steps.values()) else 1)


if __name__ == "__main__":
    main()
