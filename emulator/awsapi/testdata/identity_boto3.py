"""The book's two identity paths, run with boto3 against iotlab.

Usage: identity_boto3.py <output dir>

Only the environment differs from a run against AWS: AWS_ENDPOINT_URL points boto3 at the emulator and
AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE hold a [default] profile with dummy keys.

Path 1: AWS makes the key pair (create_keys_and_certificate); the files are saved as the book names them.
Path 2: the device keeps its key; AWS signs a CSR whose CN is the thing name (create_certificate_from_csr).
Then a policy is created and attached, and the certificate attached to the thing. Every answer is
checked; the script prints "ok" at the end and exits non-zero on the first surprise.
"""

import hashlib
import json
import os
import sys

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out_dir = sys.argv[1]
session = boto3.Session(profile_name='default', region_name='eu-west-1')
iot = session.client('iot')
account = session.client('sts').get_caller_identity()['Account']
region = 'eu-west-1'


def same_public_key(a, b):
    fmt = dict(encoding=serialization.Encoding.DER, format=serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(**fmt) == b.public_bytes(**fmt)


# --- Path 1: create_keys_and_certificate -------------------------------------------------------------
thing1 = 'book-thing-1'
iot.create_thing(thingName=thing1)
resp = iot.create_keys_and_certificate(setAsActive=True)
cert_id, cert_arn, cert_pem = resp['certificateId'], resp['certificateArn'], resp['certificatePem']
assert cert_arn == f'arn:aws:iot:{region}:{account}:cert/{cert_id}', cert_arn

with open(os.path.join(out_dir, f'{thing1}.pem.crt'), 'w') as f:
    f.write(cert_pem)
with open(os.path.join(out_dir, f'{thing1}.private.pem.key'), 'w') as f:
    f.write(resp['keyPair']['PrivateKey'])
with open(os.path.join(out_dir, f'{thing1}.public.pem.key'), 'w') as f:
    f.write(resp['keyPair']['PublicKey'])

with open(os.path.join(out_dir, f'{thing1}.pem.crt'), 'rb') as f:
    cert = x509.load_pem_x509_certificate(f.read())
with open(os.path.join(out_dir, f'{thing1}.private.pem.key'), 'rb') as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
assert key.key_size == 2048, key.key_size
assert same_public_key(cert.public_key(), key.public_key()), 'private key does not match the certificate'
assert hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest() == cert_id, cert_id

desc = iot.describe_certificate(certificateId=cert_id)['certificateDescription']
assert desc['status'] == 'ACTIVE', desc['status']
assert desc['certificatePem'] == cert_pem
assert desc['ownedBy'] == account, desc['ownedBy']
assert desc['certificateMode'] == 'DEFAULT', desc['certificateMode']
assert desc['validity']['notAfter'].year == 2049, desc['validity']

# --- Path 2: a CSR, CN = thing name ------------------------------------------------------------------
thing2 = 'book-thing-2'
iot.create_thing(thingName=thing2)
device_key = ec.generate_private_key(ec.SECP256R1())
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing2)]))
       .sign(device_key, hashes.SHA256()))
csr_pem = csr.public_bytes(serialization.Encoding.PEM).decode()
resp2 = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem, setAsActive=True)
assert 'keyPair' not in resp2, 'a CSR answer carries no key'
cert2 = x509.load_pem_x509_certificate(resp2['certificatePem'].encode())
assert same_public_key(cert2.public_key(), device_key.public_key()), 'certificate is not for the CSR key'
assert cert2.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == thing2
with open(os.path.join(out_dir, f'{thing2}.pem.crt'), 'w') as f:
    f.write(resp2['certificatePem'])
again = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem)
assert again['certificateId'] != resp2['certificateId'], 'the same CSR twice must give two certificates'

# --- Policy, attachments -----------------------------------------------------------------------------
policy_doc = {
    'Version': '2012-10-17',
    'Statement': [
        {'Effect': 'Allow', 'Action': 'iot:Connect',
         'Resource': f'arn:aws:iot:{region}:{account}:client/${{iot:Connection.Thing.ThingName}}'},
        {'Effect': 'Allow', 'Action': 'iot:Publish',
         'Resource': f'arn:aws:iot:{region}:{account}:topic/book/${{iot:Connection.Thing.ThingName}}/*'},
    ],
}
pol = iot.create_policy(policyName='BookThingPolicy', policyDocument=json.dumps(policy_doc))
assert pol['policyVersionId'] == '1', pol
assert pol['policyArn'] == f'arn:aws:iot:{region}:{account}:policy/BookThingPolicy', pol

for thing, arn in ((thing1, cert_arn), (thing2, resp2['certificateArn'])):
    iot.attach_policy(policyName='BookThingPolicy', target=arn)
    iot.attach_thing_principal(thingName=thing, principal=arn)
    things = iot.list_principal_things(principal=arn)['things']
    assert things == [thing], things
    principals = iot.list_thing_principals(thingName=thing)['principals']
    assert principals == [arn], principals
    attached = iot.list_attached_policies(target=arn)['policies']
    assert [p['policyName'] for p in attached] == ['BookThingPolicy'], attached

auth = iot.test_authorization(
    principal=resp2['certificateArn'], clientId=thing2,
    authInfos=[{'actionType': 'CONNECT', 'resources': [f'arn:aws:iot:{region}:{account}:client/{thing2}']},
               {'actionType': 'PUBLISH', 'resources': [f'arn:aws:iot:{region}:{account}:topic/book/{thing1}/x']}],
)['authResults']
assert [r['authDecision'] for r in auth] == ['ALLOWED', 'IMPLICIT_DENY'], auth
assert auth[0]['allowed']['policies'][0]['policyName'] == 'BookThingPolicy', auth[0]

# --- Errors boto3 code catches by name ---------------------------------------------------------------
try:
    iot.create_policy(policyName='Broken', policyDocument='{"Version": "2012-10-17"')
    raise AssertionError('a malformed policy was accepted')
except iot.exceptions.MalformedPolicyException as e:
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 400, e.response
    assert e.response['Error']['Message'].startswith('Policy document is Malformed'), e.response

try:
    iot.delete_certificate(certificateId=cert_id)
    raise AssertionError('an ACTIVE certificate was deleted')
except iot.exceptions.CertificateStateException as e:
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 406, e.response
    assert e.response['Error']['Message'] == \
        f'Certificate must be deactivated (not ACTIVE) before deletion. Id: {cert_id}', e.response

try:
    iot.describe_certificate(certificateId='0' * 64)
    raise AssertionError('an unknown certificate was described')
except iot.exceptions.ResourceNotFoundException as e:
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 404, e.response

try:
    iot.create_certificate_from_csr(certificateSigningRequest='not a CSR')
    raise AssertionError('a bad CSR was accepted')
except iot.exceptions.InvalidRequestException as e:
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 400, e.response

print('ok')
