"""The deployable template that `make package` builds: cfn-lint clean, and its table and
permissions exactly what the code uses."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.events import CONSUMER_HANDLER, DELIVERY_HANDLER, STREAM_FILTERS
from chalicelib.store import IAM_INDEX_ACTIONS, IAM_TABLE_ACTIONS, TABLE_DEFINITION
from chalicelib.store.table import SINGLE_WRITE_CALLS
from devtools.dynamodb_local import ROOT

pytestmark = pytest.mark.slow  # builds the deployment packages: make test

# What each client call of the store needs from IAM.
IAM_FOR_CALL = {
    "batch_get_item": {"dynamodb:BatchGetItem"},
    "batch_write_item": {"dynamodb:BatchWriteItem"},
    "delete_item": {"dynamodb:DeleteItem"},
    "get_item": {"dynamodb:GetItem"},
    "put_item": {"dynamodb:PutItem"},
    "update_item": {"dynamodb:UpdateItem"},
    "query": {"dynamodb:Query"},
    # A transaction is authorised item by item, and ours may do any of the four item actions.
    "transact_write_items": {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
    },
}


@pytest.fixture(scope="module")
def resources(prod_package) -> dict:
    return json.loads((prod_package / "sam.json").read_text())["Resources"]


def test_the_table_is_the_one_definition_the_code_and_local_setup_use(resources):
    table = resources["SessionsTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    properties = table["Properties"]
    for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "BillingMode"):
        assert properties[key] == TABLE_DEFINITION[key]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # Events come from the table's stream, with both images: what changed, before and after.
    assert properties["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert "StreamSpecification" not in TABLE_DEFINITION  # CreateTable's shape differs
    assert "TableName" not in properties  # named by CloudFormation, passed to the code by Ref
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_function_gets_the_table_name_from_the_template(resources):
    function = resources["APIHandler"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "SessionsTable"}
    assert variables["MAIL_FROM"] == {"Ref": "MailFrom"}
    assert variables["PUBLIC_ORIGIN"] == {"Ref": "PublicOrigin"}
    assert variables["CORS_ORIGINS"] == {"Ref": "CorsOrigins"}
    assert variables["COOKIE_SAMESITE"] == {"Ref": "CookieSameSite"}
    assert "MAIL_OUTBOX_DIR" not in variables  # deployed stages send through SES
    assert variables["TOTP_KEYS_PARAMETER"] == {"Ref": "TotpKeysParameter"}
    assert variables["OAUTH_SECRETS_PARAMETER"] == {"Ref": "OAuthSecretsParameter"}
    assert "TOTP_KEYS_FILE" not in variables  # the keyring never lives beside the code
    assert variables["COOKIE_SECURE"] == "true"
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["x86_64"]  # the default; ARCH=arm64 is opt-in


def test_api_gateways_own_answers_carry_nosniff_and_hsts_too(resources):
    """A path with no route, API Gateway's throttling: answered before the function runs, with
    the headers the function sends on everything else."""
    responses = resources["RestAPI"]["Properties"]["GatewayResponses"]
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[kind]["ResponseParameters"]["Headers"] == {
            "X-Content-Type-Options": "'nosniff'",
            "Strict-Transport-Security": "'max-age=31536000; includeSubDomains'",
        }


def test_the_role_allows_only_the_dynamodb_actions_the_store_calls_on_this_table(resources):
    policies = {
        p["PolicyName"]: p["PolicyDocument"]
        for p in resources["ApiHandlerRole"]["Properties"]["Policies"]
    }
    statements = [s for doc in policies.values() for s in doc["Statement"]]
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert dynamodb == [
        {
            "Sid": "SessionsTable",
            "Effect": "Allow",
            "Action": list(IAM_TABLE_ACTIONS),
            "Resource": {"Fn::GetAtt": ["SessionsTable", "Arn"]},
        },
        {
            "Sid": "TableIndexes",
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [
                {"Fn::Sub": "${SessionsTable.Arn}/index/user_session_keys"},
                {"Fn::Sub": "${SessionsTable.Arn}/index/user_search"},
                # A user's events, and the admin's replay of them.
                {"Fn::Sub": "${SessionsTable.Arn}/index/user_events"},
                {"Fn::Sub": "${SessionsTable.Arn}/index/events_by_time"},
            ],
        },
    ]
    assert all("*" not in json.dumps(s["Action"]) for s in statements)
    # Only the Table class calls the client; every item family goes through it.
    for module in (ROOT / "chalicelib" / "store").glob("*.py"):
        if module.name != "table.py":
            assert "client." not in module.read_text(), module
    calls = set(
        re.findall(r"self\.client\.(\w+)\(", (ROOT / "chalicelib/store/table.py").read_text())
    )
    calls |= set(SINGLE_WRITE_CALLS.values())  # commit's single-write calls, made by name
    needed = set().union(*(IAM_FOR_CALL[call] for call in calls))
    assert needed == set(IAM_TABLE_ACTIONS) | set(IAM_INDEX_ACTIONS)


def test_mail_is_sent_through_ses_from_one_identity_only(prod_package, resources):
    template = json.loads((prod_package / "sam.json").read_text())
    assert set(template["Parameters"]) >= {"MailFrom", "MailIdentity", "PublicOrigin"}
    policies = {
        p["PolicyName"]: p["PolicyDocument"]
        for p in resources["ApiHandlerRole"]["Properties"]["Policies"]
    }
    ses = [
        s
        for doc in policies.values()
        for s in doc["Statement"]
        if any(a.startswith("ses:") for a in s["Action"])
    ]
    assert ses == [
        {
            "Sid": "SendMailFromOneIdentity",
            "Effect": "Allow",
            "Action": ["ses:SendEmail"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
                ":identity/${MailIdentity}"
            },
        }
    ]


def test_the_function_reads_four_ssm_parameters_the_keyrings_and_the_secrets(
    prod_package, resources
):
    template = json.loads((prod_package / "sam.json").read_text())
    assert template["Parameters"]["TotpKeysParameter"]["Default"] == "/session-auth/totp-keys"
    assert (
        template["Parameters"]["OAuthSecretsParameter"]["Default"] == "/session-auth/oauth-secrets"
    )
    assert (
        template["Parameters"]["AccessTokenKeysParameter"]["Default"]
        == "/session-auth/access-token-keys"
    )
    statements = [
        s
        for p in resources["ApiHandlerRole"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if any(a.startswith(("ssm:", "kms:", "secretsmanager:")) for a in s["Action"])
    ]
    assert statements == [
        {
            "Sid": "ReadTheTotpKeyring",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                ":parameter${TotpKeysParameter}"
            },
        },
        {
            "Sid": "ReadTheOAuthSecrets",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                ":parameter${OAuthSecretsParameter}"
            },
        },
        {
            "Sid": "ReadTheAccessTokenKeys",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                ":parameter${AccessTokenKeysParameter}"
            },
        },
        {
            # Hook endpoints are signed like webhooks.
            "Sid": "ReadTheWebhookSecrets",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": {
                "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                ":parameter${WebhookSecretsParameter}"
            },
        },
    ]


def test_chalice_does_not_generate_the_policy():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["autogen_policy"] is False


def test_the_package_holds_the_app_and_its_data_but_no_dev_code(prod_package):
    names = zipfile.ZipFile(prod_package / "deployment.zip").namelist()
    for required in (
        "app.py",
        "chalicelib/sessions.py",
        "chalicelib/data/common-passwords.txt",
        "chalicelib/templates/login.html",
        "chalicelib/static/style.css",
        "argon2/__init__.py",
        "jinja2/__init__.py",
        "email_validator/__init__.py",
        "jwt/__init__.py",  # PyJWT, for social sign-in
        # Shipped bytecode: Lambda cannot write __pycache__, so it would compile every cold start.
        "__pycache__/app.cpython-313.pyc",
        "chalicelib/__pycache__/sessions.cpython-313.pyc",
        "jinja2/__pycache__/environment.cpython-313.pyc",
    ):
        assert required in names
    assert not [n for n in names if n.startswith(("tests/", "devtools/", "boto3/", "moto/"))]


def test_every_json_routes_preflight_reaches_the_function_and_pages_have_none(resources):
    """API Gateway's own CORS (a mock integration) could echo one fixed origin only: our
    preflights go to the function, which knows CORS_ORIGINS."""
    from app import app

    (api,) = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Api"]
    paths = api["Properties"]["DefinitionBody"]["paths"]
    preflighted = {path for path, methods in app.routes.items() if "OPTIONS" in methods}
    assert len(preflighted) == 58
    for path, operations in paths.items():
        if path not in preflighted:
            assert "options" not in operations, path
            continue
        integration = operations["options"]["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", path
        assert "${APIHandler.Arn}" in integration["uri"]["Fn::Sub"], path


def test_the_cors_origins_parameter_accepts_what_the_service_accepts():
    from devtools.package import PARAMETERS

    pattern = re.compile(PARAMETERS["CorsOrigins"]["AllowedPattern"])
    for good in ("", "https://app.example.com", "https://a.example.com,https://b.example.com:8443"):
        assert pattern.fullmatch(good), good
    for bad in ("*", "https://*.example.com", "http://app.example.com", "https://app.example.com/"):
        assert not pattern.fullmatch(bad), bad


# -- The event pipeline: the table's stream -> EventsConsumer -> WebhookQueue -> WebhookDelivery

EVENT_PIPELINE = (
    "EventsConsumer",
    "EventsConsumerRole",
    "EventsConsumerLogs",
    "WebhookDelivery",
    "WebhookDeliveryRole",
    "WebhookDeliveryLogs",
    "WebhookQueue",
    "WebhookDeadLetterQueue",
    "EventsFailedQueue",
)
STREAM = {"Fn::GetAtt": ["SessionsTable", "StreamArn"]}
TABLE = {"Fn::GetAtt": ["SessionsTable", "Arn"]}
WEBHOOK_QUEUE = {"Fn::GetAtt": ["WebhookQueue", "Arn"]}
FAILED_EVENTS = {"Fn::GetAtt": ["EventsFailedQueue", "Arn"]}
WEBHOOK_DEAD_LETTERS = {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]}
WEBHOOK_SECRETS = {
    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    ":parameter${WebhookSecretsParameter}"
}
FOURTEEN_DAYS = 1_209_600


def index(name: str) -> dict:
    return {"Fn::Sub": f"${{SessionsTable.Arn}}/index/{name}"}


def grants(role: dict) -> dict[str, list]:
    """Each action a role allows, and the resources it allows it on."""
    allowed: dict[str, list] = {}
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            on = statement["Resource"]
            for action in statement["Action"]:
                allowed.setdefault(action, []).extend(on if isinstance(on, list) else [on])
    return allowed


def stream_source(resources: dict) -> dict:
    (event,) = resources["EventsConsumer"]["Properties"]["Events"].values()
    assert event["Type"] == "DynamoDB"
    return event["Properties"]


def passes(pattern: Any, value: Any) -> bool:
    """Lambda's event filtering, as much as our pattern uses: nested fields, each ending in a
    list of matchers of which one must match; a matcher is a value or {"prefix": ...}."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            field in value and passes(inner, value[field]) for field, inner in pattern.items()
        )
    for matcher in pattern:
        if isinstance(matcher, dict):
            ((operator, operand),) = matcher.items()
            assert operator == "prefix", matcher  # the only operator this matcher knows
            if isinstance(value, str) and value.startswith(operand):
                return True
        elif value == matcher:
            return True
    return False


def stream_record(pk: str, name: str = "MODIFY") -> dict:
    """A stream record as the event source mapping filters it (a change of item `pk`)."""
    keys = {"pk": {"S": pk}}
    return {
        "eventName": name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": keys,
            "OldImage": {**keys, "version": {"N": "1"}},
            "NewImage": {**keys, "version": {"N": "2"}},
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


def test_the_consumer_reads_the_tables_stream_filtered_to_the_event_families(resources):
    source = stream_source(resources)
    assert source["Stream"] == STREAM
    assert source["StartingPosition"] == "TRIM_HORIZON"  # from the oldest record it keeps
    assert (source["BatchSize"], source["MaximumBatchingWindowInSeconds"]) == (100, 1)
    patterns = [json.loads(f["Pattern"]) for f in source["FilterCriteria"]["Filters"]]
    assert patterns == list(STREAM_FILTERS)

    def let_through(record: dict) -> bool:  # Lambda ORs the patterns
        return any(passes(pattern, record) for pattern in patterns)

    for pk in ("USER#x", "EMAIL#ann@example.com", "MEMBER#o#u"):
        for name in ("INSERT", "MODIFY", "REMOVE"):
            assert let_through(stream_record(pk, name)), (pk, name)
    # A session's start and end; never its extensions and activity refreshes.
    assert let_through(stream_record("SESSION#x", "INSERT"))
    assert let_through(stream_record("SESSION#x", "REMOVE"))
    assert not let_through(stream_record("SESSION#x", "MODIFY"))
    # The consumer's own writes (events, counters) never invoke it again; nor a lookalike key.
    # Nor an organization's other items.
    for other in ("EVENT#x", "EVENTSEQ#x", "DELIVERY#x", "XUSER#x", "user#x", "USER", "ORG#o"):
        assert not let_through(stream_record(other)), other
    assert not let_through({"dynamodb": {"Keys": {"id": {"S": "USER#x"}}}})


def test_a_failing_stream_record_is_isolated_retried_ten_times_then_set_aside(resources):
    source = stream_source(resources)
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert source["BisectBatchOnFunctionError"] is True
    assert source["MaximumRetryAttempts"] == 10  # never -1: one bad record would hold its shard
    assert source["MaximumRecordAgeInSeconds"] == -1  # retries end by count, not by age
    assert source["DestinationConfig"] == {"OnFailure": {"Destination": FAILED_EVENTS}}
    failed = resources["EventsFailedQueue"]
    assert failed["Type"] == "AWS::SQS::Queue"
    assert failed["Properties"] == {  # a standard queue
        "MessageRetentionPeriod": FOURTEEN_DAYS,
        "SqsManagedSseEnabled": True,
    }


def test_webhooks_go_through_a_high_throughput_fifo_queue_with_a_fifo_dead_letter_queue(
    resources,
):
    queue = resources["WebhookQueue"]["Properties"]
    assert queue == {
        "MessageRetentionPeriod": FOURTEEN_DAYS,
        "SqsManagedSseEnabled": True,
        "FifoQueue": True,
        "ContentBasedDeduplication": False,  # each send names its deduplication id
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
        "VisibilityTimeout": 360,
        "RedrivePolicy": {
            "deadLetterTargetArn": {"Fn::GetAtt": ["WebhookDeadLetterQueue", "Arn"]},
            "maxReceiveCount": 100,
        },
    }
    assert resources["WebhookDeadLetterQueue"]["Properties"] == {
        "MessageRetentionPeriod": FOURTEEN_DAYS,
        "SqsManagedSseEnabled": True,
        "FifoQueue": True,
    }
    delivery = resources["WebhookDelivery"]["Properties"]
    assert delivery["Events"] == {
        "Queue": {
            "Type": "SQS",
            "Properties": {
                "Queue": WEBHOOK_QUEUE,
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            },
        }
    }
    # A message is not handed out again while the function may still be delivering it.
    assert delivery["Timeout"] < queue["VisibilityTimeout"]


def test_the_event_functions_run_the_apis_code_and_settings(resources):
    api = resources["APIHandler"]["Properties"]
    assert api["CodeUri"] == "./deployment.zip"
    for name, handler in (
        ("EventsConsumer", CONSUMER_HANDLER),
        ("WebhookDelivery", DELIVERY_HANDLER),
    ):
        assert resources[name]["Type"] == "AWS::Serverless::Function"
        function = resources[name]["Properties"]
        assert function["Handler"] == handler
        for key in ("CodeUri", "Runtime", "Architectures", "Environment"):
            assert function[key] == api[key], (name, key)  # Settings.from_env reads the same
        assert (function["MemorySize"], function["Timeout"]) == (256, 60)
        assert function["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
        assert function["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}Logs"}}
        assert resources[f"{name}Logs"]["Properties"] == {"RetentionInDays": 30}


def test_the_event_settings_are_stage_parameters_every_function_gets(prod_package, resources):
    template = json.loads((prod_package / "sam.json").read_text())
    parameters = template["Parameters"]
    assert parameters["Webhooks"]["Default"] == "[]"
    assert parameters["WebhookSecretsParameter"]["Default"] == "/session-auth/webhook-secrets"
    assert parameters["HooksModule"]["Default"] == ""
    for name, default in (("EventRetention", "90d"), ("WebhookGiveUp", "3d")):
        pattern = re.compile(parameters[name]["AllowedPattern"])  # CloudFormation: whole value
        assert parameters[name]["Default"] == default
        for good in (default, "36h", "15m", "90s"):
            assert pattern.fullmatch(good), good
        for bad in ("", "3", "3 d", "d", "3w", "-1d"):
            assert not pattern.fullmatch(bad), bad
    expected = {
        "TABLE_NAME": {"Ref": "SessionsTable"},
        "WEBHOOKS": {"Ref": "Webhooks"},
        "WEBHOOK_SECRETS_PARAMETER": {"Ref": "WebhookSecretsParameter"},
        "HOOKS_MODULE": {"Ref": "HooksModule"},
        "EVENT_RETENTION": {"Ref": "EventRetention"},
        "WEBHOOK_GIVE_UP": {"Ref": "WebhookGiveUp"},
        "WEBHOOK_QUEUE_URL": {"Ref": "WebhookQueue"},
    }
    # The API's environment, which the event functions' is (the test above).
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert {name: variables[name] for name in expected} == expected
    for queue in ("WebhookQueue", "EventsFailedQueue", "WebhookDeadLetterQueue"):
        assert template["Outputs"][f"{queue}Url"] == {"Value": {"Ref": queue}}


def test_each_event_role_allows_exactly_what_its_function_does(resources):
    def logs(function: str) -> dict[str, list]:
        group = [{"Fn::GetAtt": [f"{function}Logs", "Arn"]}]
        return {"logs:CreateLogStream": group, "logs:PutLogEvents": group}

    expected = {
        "EventsConsumerRole": {
            **logs("EventsConsumer"),
            # What Lambda's poller calls on the stream.
            "dynamodb:DescribeStream": [STREAM],
            "dynamodb:GetRecords": [STREAM],
            "dynamodb:GetShardIterator": [STREAM],
            "dynamodb:ListStreams": ["*"],  # IAM has no resource-level permission for it
            # An event and its user's counter: read together, written in one transaction.
            "dynamodb:BatchGetItem": [TABLE],
            "dynamodb:PutItem": [TABLE],
            "dynamodb:UpdateItem": [TABLE],
            # The failed batches' destination is sent to with the function's role.
            "sqs:SendMessage": [WEBHOOK_QUEUE, FAILED_EVENTS],
        },
        "WebhookDeliveryRole": {
            **logs("WebhookDelivery"),
            # What Lambda's poller calls on the queue, and the code's backoff.
            "sqs:ChangeMessageVisibility": [WEBHOOK_QUEUE],
            "sqs:DeleteMessage": [WEBHOOK_QUEUE],
            "sqs:GetQueueAttributes": [WEBHOOK_QUEUE],
            "sqs:ReceiveMessage": [WEBHOOK_QUEUE],
            # A replay's next page; a delivery given up on.
            "sqs:SendMessage": [WEBHOOK_QUEUE, WEBHOOK_DEAD_LETTERS],
            "dynamodb:GetItem": [TABLE],  # a failed delivery's tries
            "dynamodb:UpdateItem": [TABLE],  # those, and an endpoint marked failing
            "dynamodb:Query": [index("events_by_time")],  # what a replay re-sends
            "ssm:GetParameter": [WEBHOOK_SECRETS],
        },
    }
    for role, allowed in expected.items():
        assert resources[role]["Type"] == "AWS::IAM::Role"
        assert grants(resources[role]) == allowed, role
        (trust,) = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    everywhere = [
        (role, action)
        for role in expected
        for action, on in grants(resources[role]).items()
        if any("*" in json.dumps(resource) for resource in on)
    ]
    assert everywhere == [("EventsConsumerRole", "dynamodb:ListStreams")]


def test_the_api_may_enqueue_webhooks_but_not_consume_them_or_read_the_stream(resources):
    allowed = grants(resources["ApiHandlerRole"])
    assert allowed["sqs:SendMessage"] == [WEBHOOK_QUEUE]  # an admin's replay of an event
    assert [a for a in allowed if a.startswith("sqs:")] == ["sqs:SendMessage"]
    assert not set(allowed) & {"dynamodb:GetRecords", "dynamodb:GetShardIterator"}


def test_the_event_sources_are_what_sam_accepts(resources):
    """cfn-lint does not look inside a function's Events (a misspelt property passes): check
    each against the SAM schema cfn-lint ships, intrinsic functions standing for an ARN."""
    import cfnlint
    from cfnlint.jsonschema import StandardValidator

    folder = Path(cfnlint.__file__).parent / "data" / "schemas" / "resources"
    (schema,) = [
        schema
        for path in folder.glob("*.json")
        if (schema := json.loads(path.read_text())).get("typeName") == "AWS::Serverless::Function"
    ]

    def resolved(value: Any) -> Any:
        if isinstance(value, dict) and any(key.startswith(("Fn::", "Ref")) for key in value):
            return "arn:aws:sqs:us-east-1:123456789012:example"
        if isinstance(value, dict):
            return {key: resolved(inner) for key, inner in value.items()}
        return [resolved(inner) for inner in value] if isinstance(value, list) else value

    def errors(event: dict) -> list[str]:
        kind = {"definitions": schema["definitions"], "$ref": f"#/definitions/{event['Type']}Event"}
        return [error.message for error in StandardValidator(kind).iter_errors(resolved(event))]

    for name in ("EventsConsumer", "WebhookDelivery"):
        for event in resources[name]["Properties"]["Events"].values():
            assert errors(event) == [], name
    misspelt = json.loads(json.dumps(stream_source(resources)))
    misspelt["MaximumRetryAttempt"] = misspelt.pop("MaximumRetryAttempts")
    assert errors({"Type": "DynamoDB", "Properties": misspelt})  # the check can fail


# -- API=http: the same service behind an HTTP API ------------------------------------------


@pytest.fixture(scope="module")
def http_template(prod_http_package) -> dict:
    return json.loads((prod_http_package / "sam.json").read_text())


def test_the_two_templates_differ_only_in_their_api(prod_package, http_template):
    rest = json.loads((prod_package / "sam.json").read_text())
    assert rest["Parameters"] == http_template["Parameters"]
    for name in ("SessionsTable", "ApiHandlerRole", "APIHandler", *EVENT_PIPELINE):
        assert rest["Resources"][name] == http_template["Resources"][name], name
    rest_only = set(rest["Resources"]) - set(http_template["Resources"])
    http_only = {
        http_template["Resources"][name]["Type"]
        for name in set(http_template["Resources"]) - set(rest["Resources"])
    }
    assert rest_only == {"RestAPI"}
    assert http_only == {
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Logs::LogGroup",
    }
    assert not [r for r in http_template["Resources"].values() if "ApiGateway::" in r["Type"]]
    assert "Serverless::Api" not in json.dumps(http_template)
    # Both stages throttle from the same parameters.
    (settings,) = rest["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}


def test_every_route_of_the_app_and_its_document_is_an_http_api_route(http_template):
    from app import app

    resources = http_template["Resources"]
    keys = {
        r["Properties"]["RouteKey"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert keys == {f"{m} {p}" for p, entries in app.routes.items() for m in entries}
    document = json.loads((ROOT / "chalicelib" / "openapi.json").read_text())
    documented = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}
    preflights = {k for k in keys if k.startswith("OPTIONS ")}
    assert keys == documented | preflights
    assert "DELETE /auth/sessions/{session_id}" in keys
    for route in resources.values():
        if route["Type"] == "AWS::ApiGatewayV2::Route":
            assert route["Properties"]["Target"] == {
                "Fn::Sub": "integrations/${HttpApiIntegration}"
            }


def test_the_http_api_is_lambda_proxy_1_0_on_the_default_stage(http_template):
    resources = http_template["Resources"]
    integration = resources["HttpApiIntegration"]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "1.0"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["APIHandler", "Arn"]}
    stage = resources["HttpApiStage"]["Properties"]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
    }
    log = stage["AccessLogSettings"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    fields = json.loads(log["Format"])
    assert {"requestId", "ip", "routeKey", "status"} <= set(fields)
    # Never a header, a query string or a path (reset tokens and codes travel there).
    assert not [v for v in fields.values() if re.search(r"header|querystring|\.path\b", v)]
    permission = resources["APIHandlerInvokePermission"]["Properties"]
    assert "${HttpApi}/*" in permission["SourceArn"]["Fn::Sub"]
    assert http_template["Outputs"]["EndpointURL"]["Value"]["Fn::Sub"].endswith(
        "${AWS::URLSuffix}/"
    )  # no /api prefix


def test_routes_marked_for_access_tokens_sit_behind_a_jwt_authorizer_of_ours(http_template):
    resources = http_template["Resources"]
    (authorizer,) = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Authorizer"
    ]
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    # The issuer POST /auth/token signs on the $default stage, and the stage's audiences.
    assert authorizer["JwtConfiguration"] == {
        "Issuer": {"Ref": "PublicOrigin"},
        "Audience": {"Fn::Split": [",", {"Ref": "AccessTokenAudiences"}]},
    }
    guarded = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route" and "AuthorizationType" in r["Properties"]
    }
    assert set(guarded) == {"GET /whoami"}  # its preflight, and every other route, are open
    whoami = guarded["GET /whoami"]
    assert whoami["AuthorizationType"] == "JWT"
    assert whoami["AuthorizerId"] == {"Ref": "AccessTokenAuthorizer"}
    assert whoami["AuthorizationScopes"] == ["api"]  # AWS: so no other token's shape passes
    parameters = http_template["Parameters"]
    assert parameters["AccessTokenAudiences"]["Default"] == "api"
    variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["ACCESS_TOKEN_AUDIENCES"] == {"Ref": "AccessTokenAudiences"}
    assert variables["ACCESS_TOKEN_KEYS_PARAMETER"] == {"Ref": "AccessTokenKeysParameter"}


def test_packaging_fails_when_a_route_would_be_left_out(prod_package):
    from app import app
    from devtools.package import PackagingError, as_http_api

    template = json.loads((prod_package / "sam.json").read_text())
    routes = [(m, p) for p, entries in app.routes.items() for m in entries]
    routes.remove(("DELETE", "/auth/sessions/{session_id}"))
    with pytest.raises(PackagingError, match=re.escape("/auth/sessions/{session_id}")):
        as_http_api(template, routes)


@pytest.mark.parametrize(("option", "value"), [("--api", "soap"), ("--arch", "sparc")])
def test_an_unknown_api_or_arch_fails_at_once_in_one_line(tmp_path, option, value):
    done = subprocess.run(
        [sys.executable, "-m", "devtools.package", option, value, "--out", str(tmp_path / "x")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert value in done.stderr
    assert not (tmp_path / "x").exists()  # nothing was built


def test_a_stage_behind_by_several_indexes_gets_one_a_deploy():
    """CloudFormation adds one global secondary index per update: a table with only the first
    index gets the template's next one, and its attribute definitions exactly the keys in use."""
    from devtools.package import PackagingError, indexes_still_missing, table_definition

    every = [i["IndexName"] for i in TABLE_DEFINITION["GlobalSecondaryIndexes"]]
    assert table_definition(None) is TABLE_DEFINITION
    first = table_definition(every[:1])
    assert [i["IndexName"] for i in first["GlobalSecondaryIndexes"]] == every[:2]
    keys = {"pk"} | {
        k["AttributeName"] for i in first["GlobalSecondaryIndexes"] for k in i["KeySchema"]
    }
    assert {a["AttributeName"] for a in first["AttributeDefinitions"]} == keys
    assert indexes_still_missing(every[:1]) == every[2:]
    assert (
        table_definition(every)["GlobalSecondaryIndexes"]
        == TABLE_DEFINITION["GlobalSecondaryIndexes"]
    )
    assert indexes_still_missing(every) == []
    with pytest.raises(PackagingError, match="indexes this code does not"):
        table_definition([*every, "an_old_index"])
