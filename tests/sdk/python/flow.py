"""Drives a running calsync with pycronofy, as an integrator would, to prove wire compatibility.

Usage: flow.py BASE_URL CLIENT_ID CLIENT_SECRET

Each step is recorded as passed or failed (with the error, including the response body of an
HTTP failure) so one broken endpoint does not hide the rest. The last stdout line is a JSON
summary {"steps": {name: "ok" | "failed: ..."}, "values": {...}}; the exit status is 1 when a
step failed. Dates come from the real clock, so the server must run on (or follow) real time.
The 403 case is not exercised: application calendars are always granted read_write, so no
token with fewer scopes can be had through this path (the in-process API tests cover 403).
"""

import datetime
import json
import sys
import time
import traceback

import pycronofy
from pycronofy import settings
from pycronofy.batch import BatchBuilder
from pycronofy.exceptions import PyCronofyPartialSuccessError, PyCronofyRequestError

BULK_EVENTS = 230

steps = {}
values = {}


def step(name, needs=("application_calendar", "list_calendars")):
    """Runs the decorated function now, recording its outcome under `name`; skipped (and
    reported so) when a step it needs did not pass."""

    def run(fn):
        missing = [n for n in needs if steps.get(n) != "ok"]
        if missing:
            steps[name] = "skipped: needs %s" % ", ".join(missing)
            return fn
        try:
            fn()
            steps[name] = "ok"
        except PyCronofyRequestError as e:
            steps[name] = "failed: HTTP %s %s: %s" % (
                e.response.status_code, e.request.url, e.response.text[:500])
        except PyCronofyPartialSuccessError as e:
            statuses = [entry.response for entry in e.batch_response.entries]
            steps[name] = "failed: %s: %s" % (e.message, json.dumps(statuses)[:500])
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            steps[name] = "failed: %s: %s" % (type(e).__name__, e)
            traceback.print_exc(file=sys.stderr)
        return fn

    return run


def http_status(call):
    """The HTTP status (and parsed body) of a call expected to fail."""
    try:
        call()
    except PyCronofyRequestError as e:
        try:
            body = e.response.json()
        except ValueError:
            body = e.response.text
        return e.response.status_code, body
    return 200, None


def main():
    base_url, client_id, client_secret = sys.argv[1:4]
    # cronofy-api.md §2: the base URLs are read when a client is constructed.
    settings.API_BASE_URL = base_url
    settings.APP_BASE_URL = base_url

    client = pycronofy.Client(client_id=client_id, client_secret=client_secret)
    today = datetime.datetime.now(tz=datetime.timezone.utc).date()
    start = datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(9, 0), datetime.timezone.utc)
    window = {"from_date": today, "to_date": today + datetime.timedelta(days=30), "tzid": "Etc/UTC"}
    state = {}

    @step("application_calendar", needs=())
    def _():
        auth = client.application_calendar("sdk-python")
        state["access_token"] = auth["access_token"]
        values["application_calendar_id"] = auth["application_calendar_id"]
        values["sub_is_application_calendar"] = str(auth["sub"]).startswith("apc_")

    @step("identity", needs=("application_calendar",))
    def _():
        values["account_has_id"] = bool(client.account().get("account_id"))
        values["userinfo_has_sub"] = bool(client.userinfo().get("sub"))
        values["profiles"] = len(client.list_profiles())

    @step("list_calendars", needs=("application_calendar",))
    def _():
        calendars = client.list_calendars()
        values["calendars"] = len(calendars)
        state["calendar_id"] = calendars[0]["calendar_id"]

    calendar_id = lambda: state["calendar_id"]  # noqa: E731 - read when the step runs

    @step("upsert_timed_all_day_and_tzid_events")
    def _():
        client.upsert_event(calendar_id(), {
            "event_id": "sdk-timed", "summary": "Timed (UTC)",
            "start": start, "end": start + datetime.timedelta(hours=1)})
        client.upsert_event(calendar_id(), {
            "event_id": "sdk-all-day", "summary": "All day",
            "start": today + datetime.timedelta(days=2), "end": today + datetime.timedelta(days=3)})
        client.upsert_event(calendar_id(), {
            "event_id": "sdk-tzid", "summary": "With a zone",
            "start": {"time": start + datetime.timedelta(hours=1), "tzid": "Europe/Paris"},
            "end": {"time": start + datetime.timedelta(hours=2), "tzid": "Europe/Paris"}})

    @step("upsert_bulk_events")
    def _():
        for i in range(BULK_EVENTS):
            at = start + datetime.timedelta(hours=2 + i)
            client.upsert_event(calendar_id(), {
                "event_id": "sdk-bulk-%d" % i, "summary": "Bulk %d" % i, "description": "bulk",
                "start": at, "end": at + datetime.timedelta(minutes=30)})

    @step("read_events_paginated")
    def _():
        pages = client.read_events(**window)
        values["events_pages"] = pages.total
        events = list(pages)
        values["events_read"] = len(events)
        by_id = {e.get("event_id"): e for e in events}
        values["all_day_start"] = by_id["sdk-all-day"]["start"] == (today + datetime.timedelta(days=2)).isoformat()
        values["tzid_event_start"] = by_id["sdk-tzid"]["start"] == (
            start + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    @step("free_busy_paginated")
    def _():
        periods = list(client.read_free_busy(**window))
        statuses = {}
        for period in periods:
            statuses[period["free_busy_status"]] = statuses.get(period["free_busy_status"], 0) + 1
        values["free_busy_statuses"] = statuses

    @step("delete_event_then_read_it_as_deleted")
    def _():
        # Whole seconds separate the earlier writes from the delete, as last_modified has
        # second precision.
        time.sleep(1.2)
        before_delete = datetime.datetime.now(tz=datetime.timezone.utc).replace(microsecond=0)
        time.sleep(0.2)
        client.delete_event(calendar_id(), "sdk-bulk-0")
        changed = list(client.read_events(include_deleted=True, last_modified=before_delete, **window))
        values["changed_since_delete"] = [[e.get("event_id"), e.get("deleted")] for e in changed]
        values["events_after_delete"] = len(list(client.read_events(**window)))

    @step("batch_upsert_and_delete")
    def _():
        at = start + datetime.timedelta(days=5)
        builder = BatchBuilder()
        builder.upsert_event(calendar_id(), {
            "event_id": "sdk-batch", "summary": "From a batch",
            "start": at, "end": at + datetime.timedelta(hours=1)})
        builder.delete_event(calendar_id(), "sdk-bulk-1")
        result = client.batch(builder)
        values["batch_statuses"] = [entry.status() for entry in result.entries]
        values["events_after_batch"] = len(list(client.read_events(**window)))

    @step("error_422_missing_summary")
    def _():
        status, body = http_status(lambda: client.upsert_event(calendar_id(), {
            "event_id": "sdk-invalid", "start": start, "end": start + datetime.timedelta(hours=1)}))
        values["missing_summary"] = [status, body]

    @step("error_401_bogus_token", needs=())
    def _():
        bogus = pycronofy.Client(access_token="bogus-token-for-the-sdk-test")
        values["bogus_token_status"] = http_status(bogus.list_calendars)[0]

    @step("error_404_unknown_calendar")
    def _():
        values["unknown_calendar_status"] = http_status(lambda: client.upsert_event("cal_nonsense", {
            "event_id": "sdk-nowhere", "summary": "Nowhere",
            "start": start, "end": start + datetime.timedelta(hours=1)}))[0]

    @step("revoke_then_401", needs=("application_calendar",))
    def _():
        client.revoke_authorization()
        revoked = pycronofy.Client(access_token=state["access_token"])
        values["status_after_revoke"] = http_status(revoked.list_calendars)[0]

    print(json.dumps({"steps": steps, "values": values}, sort_keys=True))
    return 0 if all(outcome == "ok" for outcome in steps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
