"""The book's opening registry code, run unchanged against iotlab.

Only the environment differs from a run against AWS: AWS_ENDPOINT_URL points boto3 at the emulator and
AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE hold a [default] profile with dummy keys. Every answer is
checked; the script prints "ok" at the end and exits non-zero on the first surprise.
"""

import boto3

session = boto3.Session(profile_name='default', region_name='eu-west-1')
iot_c = session.client('iot')
account_id = session.client('sts').get_caller_identity()['Account']
assert account_id == '123456789012', account_id

# A fresh account has no things.
response = iot_c.list_things()
assert response['things'] == [], response
assert 'nextToken' not in response, response

# A billing group and a thing type come first: the thing refers to both.
billing_group = iot_c.create_billing_group(
    billingGroupName='LabBilling',
    billingGroupProperties={'billingGroupDescription': 'Devices of the lab'},
)
assert billing_group['billingGroupName'] == 'LabBilling', billing_group
assert billing_group['billingGroupArn'] == f'arn:aws:iot:eu-west-1:{account_id}:billinggroup/LabBilling', billing_group

thing_type = iot_c.create_thing_type(
    thingTypeName='TemperatureSensor',
    thingTypeProperties={
        'thingTypeDescription': 'Indoor temperature sensor',
        'searchableAttributes': ['building', 'floor', 'room'],
    },
)
assert thing_type['thingTypeName'] == 'TemperatureSensor', thing_type
assert thing_type['thingTypeArn'] == f'arn:aws:iot:eu-west-1:{account_id}:thingtype/TemperatureSensor', thing_type

thing = iot_c.create_thing(
    thingName='sensor-lab-001',
    thingTypeName='TemperatureSensor',
    attributePayload={'attributes': {'building': 'B1', 'floor': '2', 'room': '201', 'serial': 'SN-0001'}},
    billingGroupName='LabBilling',
)
assert thing['thingName'] == 'sensor-lab-001', thing
assert thing['thingArn'] == f'arn:aws:iot:eu-west-1:{account_id}:thing/sensor-lab-001', thing
assert len(thing['thingId']) == 36, thing

description = iot_c.describe_thing(thingName='sensor-lab-001')
assert description['thingName'] == 'sensor-lab-001', description
assert description['defaultClientId'] == 'sensor-lab-001', description
assert description['thingId'] == thing['thingId'], description
assert description['thingArn'] == thing['thingArn'], description
assert description['thingTypeName'] == 'TemperatureSensor', description
assert description['billingGroupName'] == 'LabBilling', description
assert description['version'] == 1, description
assert description['attributes'] == {'building': 'B1', 'floor': '2', 'room': '201', 'serial': 'SN-0001'}, description

thing_group = iot_c.create_thing_group(
    thingGroupName='Building-B1',
    thingGroupProperties={'thingGroupDescription': 'All devices of building B1'},
)
assert thing_group['thingGroupArn'] == f'arn:aws:iot:eu-west-1:{account_id}:thinggroup/Building-B1', thing_group
iot_c.add_thing_to_thing_group(thingGroupName='Building-B1', thingName='sensor-lab-001')

members = iot_c.list_things_in_thing_group(thingGroupName='Building-B1')
assert members['things'] == ['sensor-lab-001'], members
groups = iot_c.list_thing_groups_for_thing(thingName='sensor-lab-001')
assert [g['groupName'] for g in groups['thingGroups']] == ['Building-B1'], groups

response = iot_c.list_things()
assert [t['thingName'] for t in response['things']] == ['sensor-lab-001'], response
assert response['things'][0]['attributes']['room'] == '201', response

# boto3 raises the modelled exception class, with AWS's fields.
try:
    iot_c.create_thing(thingName='sensor-lab-001')
except iot_c.exceptions.ResourceAlreadyExistsException as e:
    assert e.response['Error']['Code'] == 'ResourceAlreadyExistsException', e.response
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 409, e.response
    assert e.response['resourceId'] == thing['thingId'], e.response
else:
    raise AssertionError('a different configuration must not be accepted')

try:
    iot_c.describe_thing(thingName='no-such-thing')
except iot_c.exceptions.ResourceNotFoundException as e:
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 404, e.response
else:
    raise AssertionError('an unknown thing must not be found')

print('ok')
