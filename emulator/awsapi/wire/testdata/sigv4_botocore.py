"""Signs a few requests with botocore's own SigV4 signers and prints them as JSON, one object per
request, for wire's verifier test to replay: {name, method, url, headers, body}.

usage: sigv4_botocore.py BASE_URL ACCESS_KEY SECRET
"""
import json
import sys

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

base, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]
creds = Credentials(key, secret)

cases = [
    # name, signer, service, method, path+query, headers, body
    ("list things", SigV4Auth, "iot", "GET", "/things?maxResults=10&nextToken=a%2Fb", {}, b""),
    ("create thing with a body", SigV4Auth, "iot", "POST", "/things/lamp-1",
     {"Content-Type": "application/json"}, b'{"attributePayload":{"attributes":{"room":"hall"}}}'),
    ("path needing escapes", SigV4Auth, "iot", "GET", "/things/a%3Ab%20c", {}, b""),
    ("query with spaces, plus and empty", SigV4Auth, "iot", "GET", "/things?q=a%20b&p=c%2Bd&empty=", {}, b""),
    ("iot-data publish", SigV4Auth, "iotdata", "POST", "/topics/home%2Fhall%2Ftemp?qos=1",
     {"Content-Type": "application/octet-stream"}, b"\x00\x01binary"),
    ("sts form", SigV4Auth, "sts", "POST", "/",
     {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, b"Action=GetCallerIdentity&Version=2011-06-15"),
    ("presigned", SigV4QueryAuth, "iot", "GET", "/things?maxResults=5", {}, b""),
]

out = []
for name, signer, service, method, path, headers, body in cases:
    req = AWSRequest(method=method, url=base + path, headers=dict(headers), data=body)
    if signer is SigV4QueryAuth:
        signer(creds, service, "eu-west-1", expires=300).add_auth(req)
    else:
        signer(creds, service, "eu-west-1").add_auth(req)
    p = req.prepare()
    out.append({
        "name": name,
        "method": p.method,
        "url": p.url,
        "headers": {k: v if isinstance(v, str) else v.decode() for k, v in p.headers.items()},
        "body": list(p.body or b""),
    })
print(json.dumps(out))
