"""`make package`: a deployable CloudFormation (SAM) template for one stage, with its table.

`chalice package` knows only the Lambda function and API Gateway. This merges in what the
code needs besides, all built from chalicelib.store so nothing is written twice:
- the DynamoDB table from TABLE_DEFINITION (on-demand, TTL on expires_at, the user_session_keys
  index), with point-in-time recovery, and retained if the stack is deleted or replaced;
- a least-privilege IAM policy: only the DynamoDB actions the store calls, only on this table
  and its index (Chalice's own policy generator reads only app.py and would grant `*`);
- the function's TABLE_NAME set from the table (Ref), not a hard-coded name;
- mail: the parameters MailFrom (the From address), MailIdentity (the verified SES identity
  that covers it: that address or its domain) and PublicOrigin (where links in mail point),
  passed to the function, and `ses:SendEmail` on that one identity, nothing wider;
- two-factor: the parameter TotpKeysParameter (the SSM SecureString holding the keyring that
  encrypts TOTP secrets), passed to the function, and `ssm:GetParameter` on that one parameter;
- social sign-in: the parameter OAuthSecretsParameter (the SSM SecureString holding the
  providers' client secrets), passed to the function, and `ssm:GetParameter` on it alone (the
  providers themselves are stage settings: OAUTH_PROVIDERS and OAUTH_<ID>_*);
- access tokens: the parameters AccessTokenKeysParameter (the SSM SecureString holding the
  keyring that signs them), with `ssm:GetParameter` on it alone, and AccessTokenAudiences,
  both passed to the function;
- the event pipeline (chalicelib.events): the table's stream (new and old images); the
  function EventsConsumer on it, which sees only the records STREAM_FILTERS lets through (event
  filtering), reports the records that failed, retries them at most 10 times after halving its
  batch, then sets the batch aside in the queue EventsFailedQueue; the high-throughput FIFO
  queue WebhookQueue (its dead letters in WebhookDeadLetterQueue) and the function
  WebhookDelivery on it. Both functions run the API's zip, runtime, architecture and
  environment (copied from Chalice's function once it is packaged), each with its own log
  group and role, which allows what its code does and no more; the API's role gains sending to
  WebhookQueue (an admin's replay) and Query on the events' indexes. The parameters Webhooks,
  WebhookSecretsParameter (with `ssm:GetParameter` on it), HooksModule, EventRetention and
  WebhookGiveUp reach all three functions.
Then cfn-lint checks the result, and the zip gains compiled bytecode: Lambda's file system is
read-only, so without shipped .pyc files every cold start compiles every module it imports.

The runtime is the Python that runs this (Chalice takes its version): the Makefile's 3.13. The
architecture is x86_64 unless asked: `--arch arm64` builds the zip from aarch64 manylinux wheels
and the template says `Architectures: [arm64]`.

The API is API Gateway's REST API unless asked (Chalice generates only that): `--api http`
replaces it with an HTTP API, one route per route of the app (its preflights included), all
integrated with the function by Lambda proxy in payload format 1.0 (the REST event shape
Chalice reads), on the `$default` stage (no path prefix), with default route throttling from
the ThrottlingBurstLimit and ThrottlingRateLimit parameters (the REST stage takes them too)
and access logs, and a JWT authorizer that trusts our own access tokens (issuer PublicOrigin,
audience AccessTokenAudiences) in front of every route marked `@web.access_token_required`,
which must carry the stage's first scope. Everything else in the template is the same for
both.

    python -m devtools.package --stage prod --out build/prod [--arch arm64] [--api http]
"""

from __future__ import annotations

import argparse
import compileall
import copy
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chalicelib.config import Settings
from chalicelib.events import CONSUMER_HANDLER, DELIVERY_HANDLER, STREAM_FILTERS
from chalicelib.store import (
    EVENTS_BY_TIME,
    IAM_INDEX_ACTIONS,
    IAM_TABLE_ACTIONS,
    SESSIONS_BY_USER,
    TABLE_DEFINITION,
    USER_EVENTS,
    USER_SEARCH,
)
from chalicelib.web import HSTS
from devtools.dynamodb_local import ROOT
from devtools.stage import stage_environment

TABLE = "SessionsTable"
# The logical ids Chalice gives the function and, with autogen_policy off, its role.
FUNCTION = "APIHandler"
ROLE = "ApiHandlerRole"
# Lambda's names; Chalice's lambda_architecture takes the same.
ARCHITECTURES = ("x86_64", "arm64")
# API Gateway's two kinds: REST (Chalice's, the default: WAF, usage plans, edge endpoints) and
# HTTP (a third of the price, lower latency, none of those).
APIS = ("rest", "http")
REST_API = "RestAPI"  # Chalice's logical id
HTTP_API = "HttpApi"
JWT_AUTHORIZER = "AccessTokenAuthorizer"
INVOKE_PERMISSION = "APIHandlerInvokePermission"  # Chalice's, for the REST API

# The event pipeline (chalicelib.events): two more functions from the API's zip, each with its
# own role and log group, and three queues.
CONSUMER = "EventsConsumer"  # fed by the table's stream
DELIVERY = "WebhookDelivery"  # fed by WEBHOOK_QUEUE
EVENT_FUNCTIONS = (CONSUMER, DELIVERY)
WEBHOOK_QUEUE = "WebhookQueue"
WEBHOOK_DEAD_LETTERS = "WebhookDeadLetterQueue"
FAILED_EVENTS = "EventsFailedQueue"  # the stream's batches that exhausted their retries
FOURTEEN_DAYS = 14 * 24 * 3600  # SQS's longest retention, in seconds
# What the event functions take from Chalice's function: the same zip, runtime and
# architecture (its environment too, so Settings.from_env reads the same stage there).
SHARED_WITH_THE_API = ("CodeUri", "Runtime", "Architectures")

# The IAM actions of the event pipeline, for the roles below.
# What Lambda's poller calls on the stream. ListStreams has no resource-level permission
# (the Service Authorization Reference lists no resource type): it alone takes "*".
IAM_STREAM_READ_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)
IAM_STREAM_LIST_ACTIONS = ("dynamodb:ListStreams",)
# What the consumer does to the table's items: reads an event and its user's counter in one
# BatchGetItem, then puts the one and updates the other in one transaction.
IAM_CONSUMER_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
# What the delivery does: reads and writes a failed delivery's tries, marks an endpoint
# failing (and reads the events a replay re-sends, through the index alone).
IAM_DELIVERY_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")
IAM_QUEUE_SEND_ACTIONS = ("sqs:SendMessage",)
# What Lambda's poller calls on the queue, and ChangeMessageVisibility for the code's backoff.
IAM_QUEUE_RECEIVE_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
# Into a function's own log group (it exists: no logs:CreateLogGroup).
IAM_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# What the HTTP API's access log says of each request: never a header, a query or a body,
# where tokens and codes travel; the route's template, not the path.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency",
    "integrationLatencyMs": "$context.integrationLatency",
    "error": "$context.error.message",
    "integrationError": "$context.integrationErrorMessage",
}


class PackagingError(Exception):
    """The template would not serve the app as it is: said in one line."""


# The template's parameters: what only the person deploying knows.
PARAMETERS: dict[str, dict[str, Any]] = {
    "MailFrom": {
        "Type": "String",
        "Description": "The From address of every message (covered by MailIdentity)",
        "AllowedPattern": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    },
    "MailIdentity": {
        "Type": "String",
        "Description": "The verified Amazon SES identity that sends: MailFrom or its domain",
        "AllowedPattern": r"[^\s/]+",
    },
    "TotpKeysParameter": {
        "Type": "String",
        "Description": "The SSM SecureString parameter holding the TOTP keyring (see README)",
        "Default": "/session-auth/totp-keys",
        "AllowedPattern": r"/[A-Za-z0-9_./-]+",
    },
    "OAuthSecretsParameter": {
        "Type": "String",
        "Description": "The SSM SecureString holding social sign-in's client secrets (see docs)",
        "Default": "/session-auth/oauth-secrets",
        "AllowedPattern": r"/[A-Za-z0-9_./-]+",
    },
    "PublicOrigin": {
        "Type": "String",
        "Description": "The origin browsers use (https://auth.example.com): links in mail",
        "AllowedPattern": r"https://[a-z0-9.-]+(:[0-9]{1,5})?",
    },
    "CorsOrigins": {
        "Type": "String",
        "Description": "Single-page apps on other origins that call the API with credentials: "
        "exact https origins, comma-separated (empty: none)",
        "Default": "",
        "AllowedPattern": r"(https://[a-z0-9.-]+(:[0-9]{1,5})?(, ?https://[a-z0-9.-]+(:[0-9]{1,5})?)*)?",
    },
    "ThrottlingBurstLimit": {
        "Type": "Number",
        "Description": "Requests API Gateway lets through at once, per stage, before 429",
        "Default": 1000,
        "MinValue": 1,
    },
    "ThrottlingRateLimit": {
        "Type": "Number",
        "Description": "Requests per second API Gateway lets through, per stage, before 429",
        "Default": 500,
        "MinValue": 1,
    },
    "AccessTokenKeysParameter": {
        "Type": "String",
        "Description": "The SSM SecureString holding the keyring that signs access tokens "
        "(python -m devtools.token_keys new; see docs)",
        "Default": "/session-auth/access-token-keys",
        "AllowedPattern": r"/[A-Za-z0-9_./-]+",
    },
    "AccessTokenAudiences": {
        "Type": "String",
        "Description": "The audiences access tokens are issued for, comma-separated without "
        "spaces (the first is the default); the HTTP API's JWT authorizer accepts these",
        "Default": "api",
        "AllowedPattern": r"[!-+\--~]{1,256}(,[!-+\--~]{1,256})*",
    },
    "CookieSameSite": {
        "Type": "String",
        "Description": "The session cookie's SameSite: lax (also for app. and api. of one "
        "site), strict, or none (an app on another site; prefer the token transport there)",
        "Default": "lax",
        "AllowedValues": ["lax", "strict", "none"],
    },
    "Webhooks": {
        "Type": "String",
        "Description": 'The webhooks: a JSON list of {"url", "events"} (see docs/events.md)',
        "Default": "[]",
    },
    "WebhookSecretsParameter": {
        "Type": "String",
        "Description": "The SSM SecureString holding the webhooks' signing secrets (see docs)",
        "Default": "/session-auth/webhook-secrets",
        "AllowedPattern": r"/[A-Za-z0-9_./-]+",
    },
    "HooksModule": {
        "Type": "String",
        "Description": "The module of the deployed code holding the team's reactions to events "
        "(empty: none)",
        "Default": "",
    },
    "EventRetention": {
        "Type": "String",
        "Description": "How long a user's events are kept: a number and d, h, m or s",
        "Default": "90d",
        "AllowedPattern": "[0-9]+[dhms]",
    },
    "WebhookGiveUp": {
        "Type": "String",
        "Description": "How long a webhook delivery is retried before it is given up: a "
        "number and d, h, m or s",
        "Default": "3d",
        "AllowedPattern": "[0-9]+[dhms]",
    },
}


# chalicelib.web sends these on every response of the function; a REST API sends them on its
# own answers too (values in API Gateway's quoted-literal form). An HTTP API cannot.
GATEWAY_RESPONSE_HEADERS = {
    "X-Content-Type-Options": "'nosniff'",
    "Strict-Transport-Security": f"'{HSTS}'",
}


def _statement(sid: str, actions: Sequence[str], resource: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resource}


def _policy(name: str, *statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyName": name,
        "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
    }


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _index_arn(index: str) -> dict[str, Any]:
    return {"Fn::Sub": f"${{{TABLE}.Arn}}/index/{index}"}


def _ssm_parameter_arn(parameter: str) -> dict[str, Any]:
    # The name starts with "/", which the ARN's "parameter" segment then carries.
    return {
        "Fn::Sub": (
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
            f":parameter${{{parameter}}}"
        )
    }


READ_WEBHOOK_SECRETS = _statement(
    "ReadTheWebhookSecrets", ["ssm:GetParameter"], _ssm_parameter_arn("WebhookSecretsParameter")
)
SEND_TO_WEBHOOK_QUEUE = _statement(
    "SendToTheWebhookQueue", IAM_QUEUE_SEND_ACTIONS, _arn(WEBHOOK_QUEUE)
)


def event_pipeline() -> dict[str, Any]:
    """The event pipeline's resources. The two functions lack their code, runtime,
    architecture and environment: share_the_api_code copies them from Chalice's function."""
    lambda_role = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }

    # Each function logs to its own log group, so its role can write there alone (Chalice's
    # policy, the API's, lets it write to any log group).
    logs = {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}

    def role(function: str, *policies: dict[str, Any]) -> dict[str, Any]:
        write_logs = _statement("WriteItsLogs", IAM_LOG_ACTIONS, _arn(f"{function}Logs"))
        return {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": lambda_role,
                "Policies": [_policy("WriteLogs", write_logs), *policies],
            },
        }

    def function(
        name: str, handler: str, description: str, event: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Description": description,
                "Handler": handler,
                "MemorySize": 256,
                "Timeout": 60,
                "Role": _arn(f"{name}Role"),
                "LoggingConfig": {"LogGroup": {"Ref": f"{name}Logs"}},
                "Events": event,
            },
        }

    def queue(**properties: Any) -> dict[str, Any]:
        return {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": FOURTEEN_DAYS,
                "SqsManagedSseEnabled": True,
                **properties,
            },
        }

    stream = {"Fn::GetAtt": [TABLE, "StreamArn"]}
    return {
        CONSUMER: function(
            CONSUMER,
            CONSUMER_HANDLER,
            "Turns the table's stream into users' events",
            {
                "TableStream": {
                    "Type": "DynamoDB",
                    "Properties": {
                        "Stream": stream,
                        "StartingPosition": "TRIM_HORIZON",
                        "BatchSize": 100,
                        "MaximumBatchingWindowInSeconds": 1,
                        # A failing record is isolated by halving the batch and retried 10
                        # times at most, however old; then FAILED_EVENTS receives where its
                        # batch is in the stream (not the records: the stream keeps them 24 h).
                        "BisectBatchOnFunctionError": True,
                        "MaximumRetryAttempts": 10,
                        "MaximumRecordAgeInSeconds": -1,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        "DestinationConfig": {"OnFailure": {"Destination": _arn(FAILED_EVENTS)}},
                        # Lambda's event filtering: only records that can make an event.
                        "FilterCriteria": {
                            "Filters": [
                                {"Pattern": json.dumps(pattern, separators=(",", ":"))}
                                for pattern in STREAM_FILTERS
                            ]
                        },
                    },
                }
            },
        ),
        f"{CONSUMER}Role": role(
            CONSUMER,
            _policy(
                "ReadTheStream",
                _statement("ReadTheTableStream", IAM_STREAM_READ_ACTIONS, stream),
                _statement("ListStreams", IAM_STREAM_LIST_ACTIONS, "*"),
            ),
            _policy(
                "SessionsTableAccess",
                _statement("SessionsTable", IAM_CONSUMER_TABLE_ACTIONS, _arn(TABLE)),
            ),
            _policy(
                "SendToQueues",
                # The failed batches' destination is sent to with the function's role.
                _statement(
                    "SendToTheQueues",
                    IAM_QUEUE_SEND_ACTIONS,
                    [_arn(WEBHOOK_QUEUE), _arn(FAILED_EVENTS)],
                ),
            ),
        ),
        f"{CONSUMER}Logs": logs,
        DELIVERY: function(
            DELIVERY,
            DELIVERY_HANDLER,
            "Delivers events to the webhooks and the team's reactions",
            {
                "Queue": {
                    "Type": "SQS",
                    "Properties": {
                        "Queue": _arn(WEBHOOK_QUEUE),
                        "BatchSize": 10,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    },
                }
            },
        ),
        f"{DELIVERY}Role": role(
            DELIVERY,
            _policy(
                "ConsumeTheWebhookQueue",
                _statement(
                    "ReceiveFromTheWebhookQueue", IAM_QUEUE_RECEIVE_ACTIONS, _arn(WEBHOOK_QUEUE)
                ),
                # A replay's next page, and a delivery given up on.
                _statement(
                    "SendToTheWebhookQueues",
                    IAM_QUEUE_SEND_ACTIONS,
                    [_arn(WEBHOOK_QUEUE), _arn(WEBHOOK_DEAD_LETTERS)],
                ),
            ),
            _policy(
                "SessionsTableAccess",
                _statement("SessionsTable", IAM_DELIVERY_TABLE_ACTIONS, _arn(TABLE)),
                _statement("EventsByTime", IAM_INDEX_ACTIONS, [_index_arn(EVENTS_BY_TIME)]),
            ),
            _policy("ReadSecrets", READ_WEBHOOK_SECRETS),
        ),
        f"{DELIVERY}Logs": logs,
        # High-throughput FIFO: ordered within a message group, deduplicated by the id each
        # send names. The visibility timeout outlasts the function's 60 s.
        WEBHOOK_QUEUE: queue(
            FifoQueue=True,
            ContentBasedDeduplication=False,
            DeduplicationScope="messageGroup",
            FifoThroughputLimit="perMessageGroupId",
            # Six times the function's timeout, as AWS advises for an SQS event source.
            VisibilityTimeout=360,
            # The code gives up on its own after WebhookGiveUp; this catches anything beyond.
            RedrivePolicy={
                "deadLetterTargetArn": _arn(WEBHOOK_DEAD_LETTERS),
                "maxReceiveCount": 100,
            },
        ),
        WEBHOOK_DEAD_LETTERS: queue(FifoQueue=True),  # a FIFO queue's must be FIFO too
        FAILED_EVENTS: queue(),
    }


def share_the_api_code(template: dict[str, Any]) -> None:
    """Give the event functions Chalice's function's code, runtime, architecture and
    environment, which the merge template cannot name: Chalice decides them as it packages."""
    resources = template["Resources"]
    api = resources[FUNCTION]["Properties"]
    for name in EVENT_FUNCTIONS:
        properties = resources[name]["Properties"]
        properties.update({key: copy.deepcopy(api[key]) for key in SHARED_WITH_THE_API})
        properties["Environment"] = copy.deepcopy(api["Environment"])


def table_definition(deployed_indexes: Sequence[str] | None = None) -> dict[str, Any]:
    """TABLE_DEFINITION, or, for a stage whose table has only `deployed_indexes`, those and the
    first one it lacks: CloudFormation adds at most one global secondary index to a table per
    update ("Cannot perform more than one GSI creation or deletion in a single update"), so a
    stage that is several indexes behind is brought up in as many deploys."""
    if deployed_indexes is None:
        return TABLE_DEFINITION
    wanted = [index["IndexName"] for index in TABLE_DEFINITION["GlobalSecondaryIndexes"]]
    unknown = sorted(set(deployed_indexes) - set(wanted))
    if unknown:
        raise PackagingError(f"the deployed table has indexes this code does not: {unknown}")
    missing = [name for name in wanted if name not in deployed_indexes]
    kept = {*deployed_indexes, *missing[:1]}
    indexes = [i for i in TABLE_DEFINITION["GlobalSecondaryIndexes"] if i["IndexName"] in kept]
    # DynamoDB takes no attribute definition that no key uses.
    keys = {"pk"} | {k["AttributeName"] for i in indexes for k in i["KeySchema"]}
    return {
        **TABLE_DEFINITION,
        "AttributeDefinitions": [
            a for a in TABLE_DEFINITION["AttributeDefinitions"] if a["AttributeName"] in keys
        ],
        "GlobalSecondaryIndexes": indexes,
    }


def indexes_still_missing(deployed_indexes: Sequence[str] | None) -> list[str]:
    """What a stage with `deployed_indexes` lacks after deploying `table_definition`'s."""
    if deployed_indexes is None:
        return []
    wanted = [index["IndexName"] for index in TABLE_DEFINITION["GlobalSecondaryIndexes"]]
    return [name for name in wanted if name not in deployed_indexes][1:]


def merge_template(deployed_indexes: Sequence[str] | None = None) -> dict[str, Any]:
    chalice_policy = json.loads((ROOT / ".chalice" / "policy.json").read_text(encoding="utf-8"))
    table_policy = {
        "Version": "2012-10-17",
        "Statement": [
            _statement("SessionsTable", IAM_TABLE_ACTIONS, _arn(TABLE)),
            _statement(
                "TableIndexes",
                IAM_INDEX_ACTIONS,
                [
                    _index_arn(index)
                    for index in (SESSIONS_BY_USER, USER_SEARCH, USER_EVENTS, EVENTS_BY_TIME)
                ],
            ),
        ],
    }
    mail_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SendMailFromOneIdentity",
                "Effect": "Allow",
                "Action": ["ses:SendEmail"],
                "Resource": {
                    "Fn::Sub": (
                        "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
                        ":identity/${MailIdentity}"
                    )
                },
            }
        ],
    }
    keys_policy = {
        "Version": "2012-10-17",
        "Statement": [
            *(
                _statement(sid, ["ssm:GetParameter"], _ssm_parameter_arn(parameter))
                for sid, parameter in (
                    ("ReadTheTotpKeyring", "TotpKeysParameter"),
                    ("ReadTheOAuthSecrets", "OAuthSecretsParameter"),
                    ("ReadTheAccessTokenKeys", "AccessTokenKeysParameter"),
                )
            ),
            READ_WEBHOOK_SECRETS,  # hook endpoints sign like webhooks
        ],
    }
    return {
        "Parameters": PARAMETERS,
        "Resources": {
            TABLE: {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    **table_definition(deployed_indexes),
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    # The events' source (chalicelib.events). CloudFormation's shape only:
                    # CreateTable's differs, and no local table needs a stream.
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                },
            },
            ROLE: {
                # Lists are replaced, not merged: restate the policy from .chalice/policy.json.
                "Properties": {
                    "Policies": [
                        {"PolicyName": "ApiHandlerRolePolicy", "PolicyDocument": chalice_policy},
                        {"PolicyName": "SessionsTableAccess", "PolicyDocument": table_policy},
                        {"PolicyName": "SendMail", "PolicyDocument": mail_policy},
                        {"PolicyName": "ReadSecrets", "PolicyDocument": keys_policy},
                        # The admin's replay of an event enqueues its deliveries.
                        _policy("EnqueueWebhooks", SEND_TO_WEBHOOK_QUEUE),
                    ]
                }
            },
            REST_API: {
                "Properties": {
                    # API Gateway's own answers (a path with no route, its throttling, its
                    # errors) carry the headers every answer of the function carries.
                    "GatewayResponses": {
                        kind: {"ResponseParameters": {"Headers": GATEWAY_RESPONSE_HEADERS}}
                        for kind in ("DEFAULT_4XX", "DEFAULT_5XX")
                    },
                    "MethodSettings": [
                        {
                            "ResourcePath": "/*",
                            "HttpMethod": "*",
                            "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
                            "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
                        }
                    ],
                }
            },
            FUNCTION: {
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "TABLE_NAME": {"Ref": TABLE},
                            "MAIL_FROM": {"Ref": "MailFrom"},
                            "PUBLIC_ORIGIN": {"Ref": "PublicOrigin"},
                            "CORS_ORIGINS": {"Ref": "CorsOrigins"},
                            "COOKIE_SAMESITE": {"Ref": "CookieSameSite"},
                            "TOTP_KEYS_PARAMETER": {"Ref": "TotpKeysParameter"},
                            "OAUTH_SECRETS_PARAMETER": {"Ref": "OAuthSecretsParameter"},
                            "ACCESS_TOKEN_KEYS_PARAMETER": {"Ref": "AccessTokenKeysParameter"},
                            "ACCESS_TOKEN_AUDIENCES": {"Ref": "AccessTokenAudiences"},
                            # The event pipeline's settings (the event functions copy these).
                            "WEBHOOKS": {"Ref": "Webhooks"},
                            "WEBHOOK_SECRETS_PARAMETER": {"Ref": "WebhookSecretsParameter"},
                            "HOOKS_MODULE": {"Ref": "HooksModule"},
                            "EVENT_RETENTION": {"Ref": "EventRetention"},
                            "WEBHOOK_GIVE_UP": {"Ref": "WebhookGiveUp"},
                            "WEBHOOK_QUEUE_URL": {"Ref": WEBHOOK_QUEUE},
                            "WEBHOOK_DEAD_LETTER_QUEUE_URL": {"Ref": WEBHOOK_DEAD_LETTERS},
                        }
                    }
                },
            },
            **event_pipeline(),
        },
        "Outputs": {
            "SessionsTableName": {"Value": {"Ref": TABLE}},
            **{
                f"{queue}Url": {"Value": {"Ref": queue}}
                for queue in (WEBHOOK_QUEUE, FAILED_EVENTS, WEBHOOK_DEAD_LETTERS)
            },
        },
    }


def package(
    stage: str,
    out: Path,
    arch: str = "x86_64",
    api: str = "rest",
    deployed_indexes: Sequence[str] | None = None,
) -> Path:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}: one of {', '.join(ARCHITECTURES)}")
    if api not in APIS:
        raise ValueError(f"unknown API {api!r}: one of {', '.join(APIS)}")
    out = out.resolve()  # Chalice runs in the staged project, not here
    out.mkdir(parents=True, exist_ok=True)
    merge_file = out.parent / f"merge-template-{stage}.json"
    merge_file.write_text(
        json.dumps(merge_template(deployed_indexes), indent=2) + "\n", encoding="utf-8"
    )
    bin_dir = Path(sys.executable).parent
    # Chalice insists on a region even to package; the template itself is region-neutral.
    env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ}
    with tempfile.TemporaryDirectory() as folder:
        project = stage_project(Path(folder), arch)
        subprocess.run(
            [str(bin_dir / "chalice"), "--project-dir", str(project), "package",
             "--stage", stage, "--merge-template", str(merge_file), str(out)],
            env=env, check=True,
        )  # fmt: skip
    template = out / "sam.json"
    document = json.loads(template.read_text(encoding="utf-8"))
    share_the_api_code(document)
    if api == "http":
        from app import app  # the routes `chalice package` just read, from the same files

        routes = [(m, p) for p, entries in app.routes.items() for m in entries]
        behind_tokens = [
            (m, p)
            for p, entries in app.routes.items()
            for m, entry in entries.items()
            if getattr(entry.view_function, "access_token_required", False)
        ]
        scope = Settings.from_env(stage_environment(stage)).access_token_scopes[0]
        as_http_api(document, routes, behind_tokens, scope)
    template.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    subprocess.run([str(bin_dir / "cfn-lint"), str(template)], check=True)
    add_bytecode(out / "deployment.zip")
    return template


def as_http_api(
    template: dict[str, Any],
    routes: list[tuple[str, str]],
    behind_tokens: Sequence[tuple[str, str]] = (),
    scope: str = "api",
) -> None:
    """Replace Chalice's REST API in `template` by an HTTP API with one route per (method,
    path) of `routes`, those of `behind_tokens` behind a JWT authorizer that trusts our access
    tokens and requires `scope`; fails if a route of Chalice's REST API would be left out."""
    resources, outputs = template["Resources"], template["Outputs"]
    rest = resources.pop(REST_API)["Properties"]["DefinitionBody"]["paths"]
    chalice_routes = {(m.upper(), p) for p, item in rest.items() for m in item}
    if missing := chalice_routes - set(routes):
        raise PackagingError(f"routes missing from the HTTP API: {sorted(missing)}")
    resources.pop(INVOKE_PERMISSION)
    outputs.pop("RestAPIId")
    api = {"Ref": HTTP_API}
    resources[HTTP_API] = {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {"Name": {"Ref": "AWS::StackName"}, "ProtocolType": "HTTP"},
    }
    resources["HttpApiIntegration"] = {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": api,
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": {"Fn::GetAtt": [FUNCTION, "Arn"]},
            # 1.0: the REST event (resourcePath, multiValueHeaders) that Chalice reads, and
            # multiValueHeaders in the response, so each Set-Cookie survives.
            "PayloadFormatVersion": "1.0",
            "TimeoutInMillis": 30000,
        },
    }
    resources[JWT_AUTHORIZER] = {
        "Type": "AWS::ApiGatewayV2::Authorizer",
        "Properties": {
            "ApiId": api,
            "Name": "AccessTokens",
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {
                # What POST /auth/token signs: the $default stage adds no prefix to `iss`.
                "Issuer": {"Ref": "PublicOrigin"},
                "Audience": {"Fn::Split": [",", {"Ref": "AccessTokenAudiences"}]},
            },
        },
    }
    guarded = set(behind_tokens)
    for method, path in sorted(routes, key=lambda route: (route[1], route[0])):
        logical_id = _route_id(method, path)
        if logical_id in resources:
            raise PackagingError(f"two routes would be {logical_id}: rename one")
        properties: dict[str, Any] = {
            "ApiId": api,
            "RouteKey": f"{method} {path}",
            "Target": {"Fn::Sub": "integrations/${HttpApiIntegration}"},
        }
        if (method, path) in guarded:
            # AWS: require a scope, so that some other issuer's ID token cannot pass.
            properties |= {
                "AuthorizationType": "JWT",
                "AuthorizerId": {"Ref": JWT_AUTHORIZER},
                "AuthorizationScopes": [scope],
            }
        resources[logical_id] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": properties}
    resources["HttpApiAccessLogs"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": 30},
    }
    resources["HttpApiStage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": api,
            "StageName": "$default",  # served at the root: no path prefix
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
                "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
            },
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]},
                "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            },
        },
    }
    resources[INVOKE_PERMISSION] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "FunctionName": {"Ref": FUNCTION},
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {
                "Fn::Sub": (
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
                    ":${HttpApi}/*"
                )
            },
        },
    }
    outputs["HttpApiId"] = {"Value": api}
    outputs["EndpointURL"] = {
        "Value": {"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"}
    }


def _route_id(method: str, path: str) -> str:
    """A CloudFormation logical id for a route: `OPTIONS /auth/sessions/{session_id}` ->
    RouteOptionsAuthSessionsSessionId."""
    words = re.findall(r"[A-Za-z0-9]+", path) or ["Root"]
    return "Route" + method.capitalize() + "".join(w[:1].upper() + w[1:] for w in words)


def stage_project(folder: Path, arch: str) -> Path:
    """A copy of what `chalice package` reads (the app, chalicelib, requirements.txt and the
    config), with `lambda_architecture` set: Chalice takes the architecture from its config
    only, and the one in git stays the default. Chalice's cache of built dependencies
    (.chalice/deployments, one zip per requirements, runtime and architecture) is shared with
    the checkout's, so a second build downloads nothing."""
    project = folder / "project"
    shutil.copytree(
        ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("app.py", "requirements.txt", ".chalice/policy.json"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, project / name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    config["lambda_architecture"] = arch
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    cache = ROOT / ".chalice" / "deployments"
    cache.mkdir(exist_ok=True)
    (project / ".chalice" / "deployments").symlink_to(cache, target_is_directory=True)
    return project


def add_bytecode(archive: Path) -> None:
    """Add __pycache__/*.cpython-313.pyc for every module in the zip.

    Chalice picks the Lambda runtime from the Python that runs it, so this interpreter's
    bytecode is the runtime's, on either architecture. Unchecked-hash pycs: Python loads them
    without comparing source timestamps, which a zip keeps only to two seconds.
    """
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(tree)
        compileall.compile_dir(
            tree, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        rebuilt = archive.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    zipped.write(path, path.relative_to(tree).as_posix())
        rebuilt.replace(archive)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--arch", default="x86_64")
    parser.add_argument("--api", default="rest")
    parser.add_argument(
        "--deployed-indexes",
        help="the indexes the stage's table has now (space- or comma-separated): the template"
        " then adds one more, as CloudFormation allows one a deploy",
    )
    args = parser.parse_args()
    deployed = None
    if args.deployed_indexes is not None:
        deployed = [n for n in args.deployed_indexes.replace(",", " ").split() if n]
    for name, value, allowed in (("ARCH", args.arch, ARCHITECTURES), ("API", args.api, APIS)):
        if value not in allowed:
            # One line, before anything is built.
            choices = ", ".join(allowed)
            print(f"make package: {name}={value} is not one of {choices}", file=sys.stderr)
            return 2
    out = args.out or ROOT / "build" / args.stage
    try:
        template = package(args.stage, out, args.arch, args.api, deployed)
    except PackagingError as error:
        print(f"make package: {error}", file=sys.stderr)
        return 1
    print(f"{template} and {template.with_name('deployment.zip')} are ready (cfn-lint passed)")
    still = indexes_still_missing(deployed)
    if still:
        print(f"after deploying it, package and deploy again: {', '.join(still)} still to add")
    return 0


if __name__ == "__main__":
    sys.exit(main())
