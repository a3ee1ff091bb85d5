"""iot-data with boto3 against iotlab: every operation iotlab implements, errors included.

Only the environment differs from a run against AWS: AWS_ENDPOINT_URL points boto3 at the emulator and
AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE hold a [default] profile with dummy keys. The Go test has
made a retained message on status/lamp and a connected client dev-1 beforehand, and checks afterwards
what the broker was asked to publish and disconnect. Prints "ok" at the end; exits non-zero on the
first surprise.
"""

import json
import time

import boto3

session = boto3.Session(profile_name='default', region_name='eu-west-1')
iot = session.client('iot')
data = session.client('iot-data')

# The MQTT endpoint, as a device program would look it up.
assert iot.describe_endpoint(endpointType='iot:Data-ATS')['endpointAddress'] == 'localhost'


def doc(resp):
    return json.loads(resp['payload'].read())


def expect_error(exc, status, fn, **kwargs):
    try:
        fn(**kwargs)
    except exc as e:
        got = e.response['ResponseMetadata']['HTTPStatusCode']
        assert got == status, (exc, got, e.response)
        return e.response['Error']['Message']
    raise AssertionError(f'{fn.__name__} {kwargs}: no {exc.__name__}')


# --- Shadows ---------------------------------------------------------------------------------------
msg = expect_error(data.exceptions.ResourceNotFoundException, 404, data.get_thing_shadow, thingName='lamp')
assert msg == "No shadow exists with name: 'lamp'", msg

acc = doc(data.update_thing_shadow(thingName='lamp', payload=json.dumps(
    {'state': {'desired': {'color': 'red', 'brightness': 80}}, 'clientToken': 'boto3-1'})))
assert acc['version'] == 1 and acc['clientToken'] == 'boto3-1', acc
assert acc['state'] == {'desired': {'color': 'red', 'brightness': 80}}, acc
assert set(acc['metadata']['desired']) == {'color', 'brightness'}, acc

doc(data.update_thing_shadow(thingName='lamp', payload=b'{"state":{"reported":{"color":"blue","brightness":80}}}'))
got = doc(data.get_thing_shadow(thingName='lamp'))
assert got['version'] == 2, got
assert got['state']['delta'] == {'color': 'red'}, got
assert got['state']['reported'] == {'color': 'blue', 'brightness': 80}, got

msg = expect_error(data.exceptions.ConflictException, 409, data.update_thing_shadow, thingName='lamp',
                   payload=json.dumps({'state': {'desired': {'color': 'green'}}, 'version': 1}))
assert msg == 'Version conflict', msg
msg = expect_error(data.exceptions.InvalidRequestException, 400, data.update_thing_shadow, thingName='lamp',
                   payload=b'{"state": ')
assert msg == 'Invalid JSON', msg
expect_error(data.exceptions.RequestEntityTooLargeException, 413, data.update_thing_shadow, thingName='lamp',
             payload=json.dumps({'state': {'reported': {'blob': 'x' * 9000}}}))
expect_error(data.exceptions.UnsupportedDocumentEncodingException, 415, data.update_thing_shadow, thingName='lamp',
             payload=b'{"state":{"reported":{"a":"\xff"}}}')

# Named shadows are separate documents; the classic shadow is never listed.
for name in ['wifi', 'firmware', 'battery']:
    data.update_thing_shadow(thingName='lamp', shadowName=name, payload=json.dumps({'state': {'reported': {'ok': True}}}))
got = doc(data.get_thing_shadow(thingName='lamp', shadowName='wifi'))
assert got['version'] == 1 and got['state'] == {'reported': {'ok': True}}, got
names, token = [], None
while True:
    kwargs = {'thingName': 'lamp', 'pageSize': 2}
    if token:
        kwargs['nextToken'] = token
    page = data.list_named_shadows_for_thing(**kwargs)
    assert isinstance(page['timestamp'], int), page
    names += page['results']
    token = page.get('nextToken')
    if not token:
        break
assert names == ['battery', 'firmware', 'wifi'], names

deleted = doc(data.delete_thing_shadow(thingName='lamp', shadowName='wifi'))
assert deleted['version'] == 1, deleted
expect_error(data.exceptions.ResourceNotFoundException, 404, data.get_thing_shadow, thingName='lamp', shadowName='wifi')
assert data.list_named_shadows_for_thing(thingName='lamp')['results'] == ['battery', 'firmware']

# --- Publish -----------------------------------------------------------------------------------------
data.publish(topic='sensors/lamp/temperature', qos=1, payload=json.dumps({'t': 21.5}))
data.publish(topic='status/lamp', qos=1, retain=True, payload=b'online')
data.publish(topic='requests/lamp', payload=b'ping',
             userProperties=json.dumps([{'deviceName': 'alpha'}, {'deviceCnt': '45'}]),
             contentType='text/plain', responseTopic='responses/lamp',
             correlationData='AAEC', payloadFormatIndicator='UTF8_DATA', messageExpiry=30)
expect_error(data.exceptions.InvalidRequestException, 400, data.publish, topic='a', qos=2)
expect_error(data.exceptions.InvalidRequestException, 400, data.publish, topic='$aws/things/lamp/shadow/update',
             retain=True, payload=b'{}')

# A publish to a shadow request topic is a shadow update.
data.publish(topic='$aws/things/heater/shadow/update', qos=1, payload=json.dumps({'state': {'desired': {'temp': 19}}}))
for _ in range(100):
    try:
        heater = doc(data.get_thing_shadow(thingName='heater'))
        break
    except data.exceptions.ResourceNotFoundException:
        time.sleep(0.05)
else:
    raise AssertionError('the shadow update published over HTTP was never applied')
assert heater['state']['desired'] == {'temp': 19}, heater

# --- Retained messages -------------------------------------------------------------------------------
ret = data.get_retained_message(topic='status/lamp')
assert ret['topic'] == 'status/lamp' and ret['payload'] == b'on' and ret['qos'] == 1, ret
assert ret['lastModifiedTime'] == 1772366400123, ret
assert json.loads(ret['userProperties']) == [{'origin': 'test'}], ret
expect_error(data.exceptions.ResourceNotFoundException, 404, data.get_retained_message, topic='no/such/topic')
topics = []
for page in data.get_paginator('list_retained_messages').paginate(PaginationConfig={'PageSize': 1}):
    topics += [t['topic'] for t in page['retainedTopics']]
    for t in page['retainedTopics']:
        assert t['payloadSize'] > 0 and t['qos'] in (0, 1), t
assert topics == ['status/fan', 'status/lamp'], topics

# --- Connections -------------------------------------------------------------------------------------
data.delete_connection(clientId='dev-1', cleanSession=True, preventWillMessage=True)
expect_error(data.exceptions.ResourceNotFoundException, 404, data.delete_connection, clientId='nobody')
expect_error(data.exceptions.InvalidRequestException, 400, data.delete_connection, clientId='$nope')

print('ok')
