"""Asks a running calsync for mailboxes through a service account with pycronofy's
`authorize_with_service_account` and `authorize_multiple_accounts_via_service_account`.

Usage: service_account.py BASE_URL SERVICE_ACCOUNT_ACCESS_TOKEN CALLBACK_URL

The last stdout line is a JSON summary: each call's outcome ("ok", or the HTTP status of a
refusal), and the status of a request for an address outside the service account's domain.
"""

import json
import sys

import pycronofy
from pycronofy import settings
from pycronofy.exceptions import PyCronofyRequestError

base_url, access_token, callback_url = sys.argv[1], sys.argv[2], sys.argv[3]
settings.API_BASE_URL = settings.APP_BASE_URL = base_url
client = pycronofy.Client(access_token=access_token)


def outcome(call):
    try:
        call()
        return "ok"
    except PyCronofyRequestError as e:
        return e.response.status_code


summary = {
    "single": outcome(lambda: client.authorize_with_service_account(
        "ada@corp.example", "read_events", callback_url, state="py-one")),
    "batch": outcome(lambda: client.authorize_multiple_accounts_via_service_account(
        [{"email": "grace@corp.example", "scope": "read_events", "callback_url": callback_url},
         {"email": "alan@corp.example", "scope": "read_events", "callback_url": callback_url,
          "state": "py-alan"}],
        state="py-batch")),
    "outside_domain": outcome(lambda: client.authorize_with_service_account(
        "eve@elsewhere.example", "read_events", callback_url)),
}
print(json.dumps(summary))
