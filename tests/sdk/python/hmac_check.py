"""Asks pycronofy whether a push notification's Cronofy-HMAC-SHA256 header is valid.

Usage: hmac_check.py CLIENT_SECRET HEADER BODY_FILE; prints `valid` or `invalid`.
"""
import sys

import pycronofy

secret, header, body_file = sys.argv[1], sys.argv[2], sys.argv[3]
with open(body_file, encoding="utf-8") as f:
    body = f.read()
client = pycronofy.Client(client_id="unused", client_secret=secret)
print("valid" if client.hmac_valid(header, body) else "invalid")
