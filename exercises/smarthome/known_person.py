#!/usr/bin/env python3
"""The hall door's backend function, as the book writes it for AWS Lambda.

A rule sends it the hall door's "person detected" message. It checks the person against the known users
and, for a known one, commands the lock through its shadow's desired state (iot-data UpdateThingShadow).
The lock acts on the delta it receives in its own MQTT session and reports its new state.

On AWS this is a Lambda function. Locally iotlab runs it with the event on stdin (`iotlab up --function
known-person="python3 exercises/smarthome/known_person.py"`) and AWS_ENDPOINT_URL pointing at itself, so the
same boto3 code reaches the local iot-data API.
"""
import json
import sys

import boto3

KNOWN_USERS = {"alice", "bob"}


def handler(event, context=None):
    person = event.get("person")
    lock = event.get("lock", "hall-lock")
    if person not in KNOWN_USERS:
        print(f"unknown person {person!r}: the door stays locked")
        return {"opened": False}
    data = boto3.client("iot-data")
    data.update_thing_shadow(
        thingName=lock,
        payload=json.dumps({"state": {"desired": {"lock": "unlocked"}}}),
    )
    print(f"{person} is known: unlocking {lock}")
    return {"opened": True}


if __name__ == "__main__":
    handler(json.load(sys.stdin))
