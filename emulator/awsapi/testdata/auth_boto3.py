"""boto3 against an iotlab that requires SigV4 (--require-auth): the right secret lists things, a wrong
secret and an unknown access key are refused with the codes AWS gives, for iot and for sts.

usage: auth_boto3.py ACCESS_KEY SECRET   (AWS_ENDPOINT_URL points at the server)
Prints one line per call: "<client>.<operation> <credentials> -> <code or ok> <HTTP status>".
"""
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

key, secret = sys.argv[1], sys.argv[2]
cfg = Config(retries={'max_attempts': 1, 'mode': 'standard'})


def call(service, op, label, k, s):
    c = boto3.client(service, region_name='eu-west-1', aws_access_key_id=k, aws_secret_access_key=s, config=cfg)
    try:
        resp = getattr(c, op)()
        print(f'{service}.{op} {label} -> ok {resp["ResponseMetadata"]["HTTPStatusCode"]}')
    except ClientError as e:
        print(f'{service}.{op} {label} -> {e.response["Error"]["Code"]} {e.response["ResponseMetadata"]["HTTPStatusCode"]}')


for service, op in (('iot', 'list_things'), ('sts', 'get_caller_identity')):
    call(service, op, 'right', key, secret)
    call(service, op, 'wrong-secret', key, secret + 'x')
    call(service, op, 'unknown-key', 'AKIDNOBODYKNOWS', secret)
