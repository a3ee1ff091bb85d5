"""Topic rules with boto3 against iotlab: create, read, list, change and delete, errors included.

Only the environment differs from a run against AWS: AWS_ENDPOINT_URL points boto3 at the emulator and
AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE hold a [default] profile with dummy keys. Prints "ok" at
the end; exits non-zero on the first surprise.
"""

import datetime

import boto3

session = boto3.Session(profile_name='default', region_name='eu-west-1')
iot = session.client('iot')
account = session.client('sts').get_caller_identity()['Account']
role = f'arn:aws:iam::{account}:role/iot-rules'


def expect_error(exc, status, fn, **kwargs):
    try:
        fn(**kwargs)
    except exc as e:
        got = e.response['ResponseMetadata']['HTTPStatusCode']
        assert got == status, (exc, got, e.response)
        return e.response['Error']['Message']
    raise AssertionError(f'{fn.__name__} {kwargs}: no {exc.__name__}')


# The book's rule: hot readings republished per room, failures to an error topic.
sql = "SELECT temp, topic(2) AS room FROM 'home/+/temperature' WHERE temp > 30"
iot.create_topic_rule(
    ruleName='too_hot',
    topicRulePayload={
        'sql': sql,
        'description': 'Too hot in a room',
        'awsIotSqlVersion': '2016-03-23',
        'ruleDisabled': False,
        'actions': [{'republish': {'topic': 'alerts/${topic(2)}', 'roleArn': role, 'qos': 1}}],
        'errorAction': {'republish': {'topic': 'errors/too_hot', 'roleArn': role}},
    },
    tags='team=lab',
)
iot.create_topic_rule(ruleName='archive', topicRulePayload={
    'sql': "SELECT * FROM 'home/#'",
    'actions': [{'s3': {'roleArn': role, 'bucketName': 'archive', 'key': '${topic()}/${timestamp()}'}}],
    'ruleDisabled': True,
})

got = iot.get_topic_rule(ruleName='too_hot')
assert got['ruleArn'] == f'arn:aws:iot:eu-west-1:{account}:rule/too_hot', got
rule = got['rule']
assert rule['ruleName'] == 'too_hot' and rule['sql'] == sql, rule
assert rule['description'] == 'Too hot in a room' and rule['awsIotSqlVersion'] == '2016-03-23', rule
assert rule['ruleDisabled'] is False, rule
assert isinstance(rule['createdAt'], datetime.datetime), rule
assert rule['actions'] == [{'republish': {'topic': 'alerts/${topic(2)}', 'roleArn': role, 'qos': 1}}], rule
assert rule['errorAction'] == {'republish': {'topic': 'errors/too_hot', 'roleArn': role}}, rule

archive = iot.get_topic_rule(ruleName='archive')['rule']
assert archive['ruleDisabled'] is True and archive['awsIotSqlVersion'] == '2015-10-08', archive
assert archive['actions'][0]['s3']['bucketName'] == 'archive', archive

rules = iot.list_topic_rules()['rules']
assert [(r['ruleName'], r['topicPattern'], r['ruleDisabled']) for r in rules] == [
    ('archive', 'home/#', True), ('too_hot', 'home/+/temperature', False)], rules
assert all(isinstance(r['createdAt'], datetime.datetime) and r['ruleArn'].endswith('rule/' + r['ruleName']) for r in rules)
assert [r['ruleName'] for r in iot.list_topic_rules(ruleDisabled=False)['rules']] == ['too_hot']
assert [r['ruleName'] for r in iot.list_topic_rules(topic='home/kitchen/temperature')['rules']] == ['archive', 'too_hot']
pages = iot.get_paginator('list_topic_rules').paginate(PaginationConfig={'PageSize': 1})
assert [r['ruleName'] for page in pages for r in page['rules']] == ['archive', 'too_hot']

tags = iot.list_tags_for_resource(resourceArn=got['ruleArn'])['tags']
assert tags == [{'Key': 'team', 'Value': 'lab'}], tags

iot.disable_topic_rule(ruleName='too_hot')
assert iot.get_topic_rule(ruleName='too_hot')['rule']['ruleDisabled'] is True
iot.enable_topic_rule(ruleName='too_hot')
iot.replace_topic_rule(ruleName='too_hot', topicRulePayload={
    'sql': "SELECT * FROM 'home/+/temperature' WHERE temp > 35",
    'actions': [{'lambda': {'functionArn': f'arn:aws:lambda:eu-west-1:{account}:function:alarm'}}],
})
rule = iot.get_topic_rule(ruleName='too_hot')['rule']
assert rule['sql'].endswith('temp > 35') and 'errorAction' not in rule and rule['ruleDisabled'] is False, rule

# Errors, as boto3 raises them.
msg = expect_error(iot.exceptions.SqlParseException, 400, iot.create_topic_rule, ruleName='bad_sql',
                   topicRulePayload={'sql': 'SELECT temp FROM sensors/+/data', 'actions': []})
assert 'single quotes' in msg, msg
expect_error(iot.exceptions.InvalidRequestException, 400, iot.create_topic_rule, ruleName='my-rule',
             topicRulePayload={'sql': "SELECT * FROM 'a'", 'actions': []})
expect_error(iot.exceptions.ResourceAlreadyExistsException, 409, iot.create_topic_rule, ruleName='archive',
             topicRulePayload={'sql': "SELECT * FROM 'a'", 'actions': []})
msg = expect_error(iot.exceptions.UnauthorizedException, 401, iot.get_topic_rule, ruleName='nope')
assert msg == "Access to topic rule 'nope' was denied", msg
expect_error(iot.exceptions.UnauthorizedException, 401, iot.delete_topic_rule, ruleName='nope')

iot.delete_topic_rule(ruleName='too_hot')
iot.delete_topic_rule(ruleName='archive')
assert iot.list_topic_rules()['rules'] == []
print('ok')
