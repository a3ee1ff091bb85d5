"""API throttling (iotlab --api-throttle) as boto3 sees it, retries off.

The server's clock stands still, so the buckets never refill: the 11th ListThings (10 TPS) and the 21st
shadow request on one thing (20 per second per thing) are throttled. boto3 must raise the modelled
ThrottlingException of each client, with AWS's statuses: 400 from iot, 429 from iot-data. Prints "ok".
"""

import json

import boto3
from botocore.config import Config

session = boto3.Session(profile_name='default', region_name='eu-west-1')
no_retries = Config(retries={'total_max_attempts': 1, 'mode': 'standard'})
iot = session.client('iot', config=no_retries)
data = session.client('iot-data', config=no_retries)


def burst(n, exc, fn, **kwargs):
    """Calls fn n times; returns how many passed and the first exception's response."""
    for i in range(n):
        try:
            fn(**kwargs)
        except exc as e:
            return i, e.response
    raise AssertionError(f'{fn.__name__}: {n} calls, none throttled')


passed, resp = burst(20, iot.exceptions.ThrottlingException, iot.list_things)
assert passed == 10, passed
assert resp['ResponseMetadata']['HTTPStatusCode'] == 400, resp
assert resp['Error']['Code'] == 'ThrottlingException', resp
assert resp['Error']['Message'] == 'Rate exceeded', resp

data.update_thing_shadow(thingName='lamp', payload=json.dumps({'state': {'reported': {'on': True}}}))
passed, resp = burst(30, data.exceptions.ThrottlingException, data.get_thing_shadow, thingName='lamp')
assert passed == 19, passed
assert resp['ResponseMetadata']['HTTPStatusCode'] == 429, resp
assert resp['Error']['Code'] == 'ThrottlingException', resp

print('ok')
