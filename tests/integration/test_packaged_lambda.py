"""The zip `make package` builds, run as Lambda runs it.

test_deployment.py checks the template and the zip's file list; this unpacks the zip into an
empty folder and calls its handler (`app.app`) in a fresh `python -I -S` whose import path is
that folder, the packages the Lambda Python 3.13 runtime ships (boto3 and its dependencies)
and the standard library: a dependency missing from requirements.txt fails here, not after a
deploy. The handler gets API Gateway REST proxy events and the prod stage's environment from
the template, with DynamoDB Local standing in for the table.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import boto3
import jwt
import pyotp
import pytest

from bench.events import api_event, http_api_event
from chalicelib.access_tokens import new_keyring_json
from chalicelib.keyring import Keyring
from chalicelib.store import ADMIN_CLIENT_CONFIG, create_table
from devtools.dynamodb_local import LOCAL_AWS_ENV, DynamoDBLocal, MotoServer
from devtools.outbox import Mail, parse
from devtools.packaged_lambda import HandlerFailed, PackagedHandler, link_runtime, unpack
from tests.helpers import PASSWORD, parse_set_cookie
from tests.softkey import SoftKey

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

# The execute-api host API Gateway puts in Host; the stage (`api`) prefixes every path.
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
SPA_ORIGIN = "https://app.example.com"  # the CorsOrigins parameter
COOKIE = "__Host-auth_session"  # COOKIE_SECURE is true on prod: the __Host- name
SESSION_MAX_AGE = 30 * 86400  # SESSION_LIFETIME 30d
COOKIE_ATTRIBUTES = {"path", "max-age", "expires", "httponly", "samesite", "secure"}

# Lambda's python3.13 runtime runs on Amazon Linux 2023, whose glibc is 2.34: a wheel built for
# a newer glibc installs and even imports here, then fails on Lambda.
LAMBDA_PYTHON = (3, 13)
LAMBDA_GLIBC = (2, 34)
# The legacy manylinux names and the glibc version each stands for (PEP 600).
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
# Extension modules (`.so`) and the versioned libraries auditwheel vendors (`.so.1.2`).
SHARED_OBJECT = re.compile(r".*\.so(\.\d+)*")


# How each API type hands the function a request, and the prefix its stage puts on paths.
EVENTS = {"rest": api_event, "http": http_api_event}
PREFIX = {"rest": "/api", "http": ""}


@dataclass
class Package:
    folder: Path  # sam.json and deployment.zip
    task_root: Path  # the zip, unpacked: Lambda's /var/task
    runtime_root: Path  # boto3 and its dependencies, linked from the venv
    api: str = "rest"  # make package API=...

    @property
    def template(self) -> dict[str, Any]:
        template: dict[str, Any] = json.loads((self.folder / "sam.json").read_text())
        return template

    @property
    def function(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.template["Resources"]["APIHandler"]["Properties"]
        return properties


@pytest.fixture(scope="module", params=["rest", "http"])
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Package:
    """`make package STAGE=prod`, and with API=http, each unpacked as Lambda would."""
    built: Path = request.getfixturevalue(f"prod_{request.param}_package")
    folder = tmp_path_factory.mktemp("lambda")
    return Package(
        built,
        unpack(built / "deployment.zip", folder / "task"),
        link_runtime(folder / "runtime"),
        request.param,
    )


@pytest.fixture
def table(dynamodb_local: DynamoDBLocal) -> Iterator[str]:
    """A fresh table on DynamoDB Local (the autouse _aws_env points boto3 at it)."""
    name = f"pkg-{uuid.uuid4().hex[:12]}"
    client = boto3.client("dynamodb", config=ADMIN_CLIENT_CONFIG)
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)


MAIL_FROM = "no-reply@training.example"
TOTP_KEYS = "/session-auth/totp-keys"
TOKEN_KEYS = "/session-auth/access-token-keys"


@pytest.fixture(scope="module")
def ses() -> Iterator[str]:
    """moto's server standing in for Amazon SES, with the sender's identity verified. It runs
    in this process, so the test reads what the packaged handler sent from moto's backend."""
    with MotoServer() as server:
        client = boto3.client(
            "sesv2",
            endpoint_url=server.endpoint,
            region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_email_identity(EmailIdentity=MAIL_FROM)
        ssm = boto3.client(
            "ssm",
            endpoint_url=server.endpoint,
            region_name=LOCAL_AWS_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )
        ssm.put_parameter(Name=TOTP_KEYS, Value=Keyring.new_json(), Type="SecureString")
        keyring = new_keyring_json(int(time.time()))
        ssm.put_parameter(Name=TOKEN_KEYS, Value=keyring, Type="SecureString")
        yield server.endpoint


def sent_mail() -> list[Mail]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    messages = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    return [parse(message.raw_data.encode()) for message in messages]


EVENT_PARAMETERS = {
    "WEBHOOKS": "Webhooks",
    "WEBHOOK_SECRETS_PARAMETER": "WebhookSecretsParameter",
    "HOOKS_MODULE": "HooksModule",
    "EVENT_RETENTION": "EventRetention",
    "WEBHOOK_GIVE_UP": "WebhookGiveUp",
}


def function_environment(
    package: Package, table: str, endpoint: str, ses_endpoint: str
) -> dict[str, str]:
    """The prod stage's variables as `chalice package` wrote them into the template, with the
    Refs resolved (the table to ours, the parameters to test values), plus what reaches
    DynamoDB Local and the stand-in SES."""
    variables = dict(package.function["Environment"]["Variables"])
    assert variables.pop("TABLE_NAME") == {"Ref": "SessionsTable"}
    assert variables.pop("MAIL_FROM") == {"Ref": "MailFrom"}
    assert variables.pop("PUBLIC_ORIGIN") == {"Ref": "PublicOrigin"}
    assert variables.pop("TOTP_KEYS_PARAMETER") == {"Ref": "TotpKeysParameter"}
    assert variables.pop("OAUTH_SECRETS_PARAMETER") == {"Ref": "OAuthSecretsParameter"}
    assert variables.pop("CORS_ORIGINS") == {"Ref": "CorsOrigins"}
    assert variables.pop("COOKIE_SAMESITE") == {"Ref": "CookieSameSite"}
    assert variables.pop("ACCESS_TOKEN_KEYS_PARAMETER") == {"Ref": "AccessTokenKeysParameter"}
    assert variables.pop("ACCESS_TOKEN_AUDIENCES") == {"Ref": "AccessTokenAudiences"}
    # The event pipeline's: parameters at their defaults, the queues left out (no SQS here).
    parameters = package.template["Parameters"]
    for name, parameter in EVENT_PARAMETERS.items():
        assert variables.pop(name) == {"Ref": parameter}
        variables[name] = parameters[parameter]["Default"]
    assert variables.pop("WEBHOOK_QUEUE_URL") == {"Ref": "WebhookQueue"}
    assert variables.pop("WEBHOOK_DEAD_LETTER_QUEUE_URL") == {"Ref": "WebhookDeadLetterQueue"}
    assert all(isinstance(value, str) for value in variables.values()), variables
    return {
        **variables,
        "CORS_ORIGINS": SPA_ORIGIN,
        "COOKIE_SAMESITE": package.template["Parameters"]["CookieSameSite"]["Default"],
        "TABLE_NAME": table,
        "MAIL_FROM": MAIL_FROM,
        "PUBLIC_ORIGIN": f"https://{HOST}",
        "TOTP_KEYS_PARAMETER": TOTP_KEYS,
        "ACCESS_TOKEN_KEYS_PARAMETER": TOKEN_KEYS,
        "ACCESS_TOKEN_AUDIENCES": package.template["Parameters"]["AccessTokenAudiences"]["Default"],
        **LOCAL_AWS_ENV,  # dummy credentials and region
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_SESV2": ses_endpoint,
        "AWS_ENDPOINT_URL_SSM": ses_endpoint,  # moto's one server stands in for both
    }


@contextmanager
def running(
    package: Package, env: dict[str, str], function: str = "APIHandler"
) -> Iterator[PackagedHandler]:
    """The handler the template names for `function`, started; its failures fail the test with
    its stderr."""
    handler_name = package.template["Resources"][function]["Properties"]["Handler"]
    try:
        with PackagedHandler(package.task_root, package.runtime_root, handler_name, env) as handler:
            yield handler
    except HandlerFailed as failure:
        pytest.fail(str(failure), pytrace=False)


def request(
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    api: str,
    resource: str | None = None,
) -> dict[str, Any]:
    """A browser's request through API Gateway of type `api`: Host, X-Forwarded-Proto, and
    for a POST the Origin a same-origin fetch sends (so the cross-origin check runs as in
    production)."""
    sent = {"host": HOST, "x-forwarded-proto": "https", "user-agent": "pytest"}
    if method == "POST":
        sent["origin"] = f"https://{HOST}"
    if token is not None:
        sent["cookie"] = f"{COOKIE}={token}"
    return EVENTS[api](method, path, {**sent, **(headers or {})}, body, resource=resource)


def answer(handler: PackagedHandler, event: dict[str, Any], status: int) -> dict[str, Any]:
    response = handler.invoke(event)
    assert response["statusCode"] == status, (
        f"{event['httpMethod']} {event['path']}: {response['statusCode']}, expected {status}\n"
        f"body: {response.get('body')}\n--- handler stderr ---\n{handler.stderr}"
    )
    return response


def the_set_cookie(response: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The one Set-Cookie, which must come in multiValueHeaders (API Gateway would drop a
    second cookie given in `headers`); returns its value and attributes."""
    assert "Set-Cookie" not in response.get("headers", {})
    (cookie,) = response["multiValueHeaders"]["Set-Cookie"]
    name, value, attributes = parse_set_cookie(cookie)
    assert name == COOKIE
    assert set(attributes) == COOKIE_ATTRIBUTES  # no Domain: __Host- forbids it
    assert (attributes["path"], attributes["samesite"]) == ("/", "Lax")
    assert attributes["httponly"] == attributes["secure"] == ""  # flags
    return value, attributes


def expires(attributes: dict[str, str]) -> float:
    return parsedate_to_datetime(attributes["expires"]).timestamp()


def test_the_packaged_handler_serves_signup_session_page_and_logout(
    package, table, dynamodb_local, ses
):
    env = function_environment(package, table, dynamodb_local.endpoint, ses)
    send = functools.partial(request, api=package.api)
    prefix = PREFIX[package.api]  # REST's `api` stage; the HTTP API's $default adds none
    email = f"packaged-{package.api}@example.com"  # one SES stand-in serves both runs
    with running(package, env) as handler:
        assert handler.started["version_info"] == list(LAMBDA_PYTHON)

        signup = answer(
            handler,
            send("POST", "/auth/signup", body={"email": email, "password": PASSWORD}),
            201,
        )
        assert json.loads(signup["body"])["user"]["email"] == email
        token, attributes = the_set_cookie(signup)
        assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", token)
        # The clock may tick between the session's creation and the cookie's serialisation.
        assert int(attributes["max-age"]) in (SESSION_MAX_AGE, SESSION_MAX_AGE - 1)
        assert abs(expires(attributes) - (time.time() + SESSION_MAX_AGE)) < 60

        session = answer(handler, send("GET", "/auth/session", token), 200)
        assert json.loads(session["body"])["user"]["email"] == email

        # The verification code went out through SES, both parts built from the zip's
        # templates, its links on the public origin.
        (mail,) = [m for m in sent_mail() if m.to == email]
        assert mail.subject == "Your verification code"
        assert MAIL_FROM in mail.sender
        code = re.search(r"^    ([0-9A-Z]{8})$", mail.text, re.MULTILINE)
        assert code is not None
        assert f"https://{HOST}" in mail.html
        # The code verifies the address (what an account needs before adding factors).
        verified = answer(
            handler, send("POST", "/auth/email/verify", token, {"code": code.group(1)}), 200
        )
        token, _ = the_set_cookie(verified)  # rotated

        # Two-factor set-up: pyotp, segno and cryptography (a native wheel) from the zip, the
        # keyring read from SSM, the secret sealed with AES-GCM.
        setup = answer(
            handler, send("POST", "/auth/2fa/totp/setup", token, {"password": PASSWORD}), 200
        )
        secret = json.loads(setup["body"])["secret"]
        assert json.loads(setup["body"])["qr_svg"].startswith("<svg")
        code = pyotp.TOTP(secret).now()
        enabled = answer(handler, send("POST", "/auth/2fa/totp/enable", token, {"code": code}), 200)
        assert len(json.loads(enabled["body"])["recovery_codes"]) == 10
        token, _ = the_set_cookie(enabled)  # rotated, and two-factor verified
        # The notice's link is under the stage's prefix, and only there.
        (notice,) = [m for m in sent_mail() if m.to == email and "is on" in m.subject]
        assert f'href="https://{HOST}{prefix}/forgot-password"' in notice.html

        # A passkey: py_webauthn and cbor2 from the zip verify a real ES256 attestation.
        options = answer(
            handler,
            send("POST", "/auth/passkeys/register/options", token, {"password": PASSWORD}),
            200,
        )
        key = SoftKey(origin=f"https://{HOST}", rp_id=HOST)
        body = {"credential": key.create(json.loads(options["body"])), "name": "Laptop"}
        registered = answer(handler, send("POST", "/auth/passkeys/register", token, body), 201)
        assert json.loads(registered["body"])["passkey"]["id"] == key.id

        # A single-page app's preflight, and a native app's token, as API Gateway sends them.
        preflight = send("OPTIONS", "/auth/login", headers={"origin": SPA_ORIGIN})
        allowed = answer(handler, preflight, 204)["headers"]
        assert allowed["Access-Control-Allow-Origin"] == SPA_ORIGIN
        assert allowed["Access-Control-Allow-Methods"] == "POST"
        credentials = {"email": email, "password": PASSWORD}
        sign_in = send(
            "POST", "/auth/login", body=credentials, headers={"x-session-transport": "token"}
        )
        signed_in = answer(handler, sign_in, 200)
        assert "Set-Cookie" not in signed_in.get("multiValueHeaders", {})
        bearer = {"authorization": f"Bearer {json.loads(signed_in['body'])['session_token']}"}
        answer(handler, send("GET", "/auth/session", headers=bearer), 200)

        # An access token (PyJWT and cryptography from the zip, the keyring from SSM), verified
        # against the JWKS as served, with the issuer and audience the HTTP API's authorizer
        # trusts; then the sample route behind that authorizer, with the claims it passes.
        access = answer(handler, send("POST", "/auth/token", token), 200)
        access_token = json.loads(access["body"])["access_token"]
        jwks = json.loads(answer(handler, send("GET", "/.well-known/jwks.json"), 200)["body"])
        key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(access_token)["kid"]]
        issuer, audiences = trusted_by_the_authorizer(package, env)
        claims = jwt.decode(
            access_token, key.key, algorithms=["RS256"], audience=audiences, issuer=issuer
        )
        assert claims["email"] == email
        assert claims["amr"] == ["pwd", "otp", "mfa"]
        as_verified = {k: str(v) for k, v in claims.items() if isinstance(v, str | int)}
        whoami = send("GET", "/whoami", headers={"authorization": f"Bearer {access_token}"})
        if package.api == "http":
            whoami["requestContext"]["authorizer"] = {"claims": as_verified, "scopes": None}
            me = json.loads(answer(handler, whoami, 200)["body"])
            assert (me["user_id"], me["email"]) == (claims["sub"], email)
        else:  # no JWT authorizer on the REST API: nothing verified, nothing served
            answer(handler, whoami, 401)

        # A route with a path parameter: the app's own session revokes the app's.
        listed = answer(handler, send("GET", "/auth/sessions", token), 200)
        (other,) = [s for s in json.loads(listed["body"])["sessions"] if not s["current"]]
        revoke = send(
            "DELETE",
            f"/auth/sessions/{other['id']}",
            token,
            resource="/auth/sessions/{session_id}",
        )
        answer(handler, revoke, 204)
        answer(handler, send("GET", "/auth/session", headers=bearer), 401)

        # A visitor without a session (with one, the form redirects to the training page).
        page = answer(handler, send("GET", "/login"), 200)
        assert page["headers"]["Content-Type"].startswith("text/html")
        html = page["body"]
        assert f'<form method="post" action="{prefix}/login">' in html
        assert 'name="password"' in html
        links = re.findall(r'(?:href|action)="([^"]*)"', html)
        assert f"{prefix}/signup" in links
        assert all(link.startswith(f"{prefix}/") for link in links), links

        logout = answer(handler, send("POST", "/auth/logout", token), 204)
        blank, attributes = the_set_cookie(logout)
        assert blank == ""
        assert attributes["max-age"] == "0"
        assert expires(attributes) < time.time()

        replay = answer(handler, send("GET", "/auth/session", token), 401)
        assert json.loads(replay["body"])["error"]["code"] == "unauthenticated"

        modules = handler.finish()

    # Everything the handler imported came from the zip, the runtime's packages or the
    # standard library, never from the venv around it.
    own = [str(package.task_root), str(package.runtime_root)]
    stdlib: list[str] = handler.started["stdlib"]
    assert handler.started["sys_path"] == [*own, *stdlib]
    assert not any("site-packages" in entry for entry in stdlib), stdlib
    roots = tuple(own + [entry for entry in stdlib if entry])
    strays = {name: file for name, file in modules.items() if not file.startswith(roots)}
    assert strays == {}
    assert modules["jinja2"].startswith(str(package.task_root))
    assert modules["botocore"].startswith(str(package.runtime_root))
    assert "boto3" not in modules  # our clients are botocore's: boto3 only adds cold start


def trusted_by_the_authorizer(package: Package, env: dict[str, str]) -> tuple[str, list[str]]:
    """The issuer and audiences the HTTP API's JWT authorizer trusts, its Refs resolved as the
    stack would resolve them; the REST API has no authorizer, so there: the origin and the
    stage prefix, as documented."""
    if package.api == "rest":
        return f"{env['PUBLIC_ORIGIN']}/api", env["ACCESS_TOKEN_AUDIENCES"].split(",")
    (authorizer,) = [
        r["Properties"]["JwtConfiguration"]
        for r in package.template["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Authorizer"
    ]
    assert authorizer["Issuer"] == {"Ref": "PublicOrigin"}
    separator, audiences = authorizer["Audience"]["Fn::Split"]
    assert audiences == {"Ref": "AccessTokenAudiences"}
    default = package.template["Parameters"]["AccessTokenAudiences"]["Default"]
    return env["PUBLIC_ORIGIN"], default.split(separator)


def test_a_handler_that_cannot_import_fails_with_its_traceback(tmp_path):
    """The failure a forgotten requirement causes at import: named, with the traceback. The
    `chalice` imported here is installed in the venv, so this also shows the venv is out of
    reach."""
    task_root = tmp_path / "task"
    task_root.mkdir()
    (task_root / "app.py").write_text("import chalice\n\napp = chalice.Chalice('x')\n")
    runtime_root = link_runtime(tmp_path / "runtime")
    with (
        pytest.raises(HandlerFailed) as failed,
        PackagedHandler(task_root, runtime_root, "app.app", LOCAL_AWS_ENV),
    ):
        pass
    message = str(failed.value)
    assert "failed to import the handler app.app: the handler could not be imported" in message
    assert "ModuleNotFoundError: No module named 'chalice'" in message


# -- native code ---------------------------------------------------------------------------------
# The x86_64 zip runs above; the arm64 one (`make package ARCH=arm64`) is built and checked here
# but cannot run on this x86_64 machine.

# ELF e_machine of each Lambda architecture, and its machine in manylinux platform tags.
ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64
WHEEL_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


@pytest.fixture(scope="module", params=["x86_64", "arm64"])
def built(request, prod_package, arm64_package) -> tuple[str, Path]:
    """Each architecture's package folder."""
    return request.param, {"x86_64": prod_package, "arm64": arm64_package}[request.param]


def wheel_tags(wheel_file: str) -> list[str]:
    return [
        line.partition(":")[2].strip()
        for line in wheel_file.splitlines()
        if line.startswith("Tag:")
    ]


def glibc_of(platform: str, machine: str) -> tuple[int, int] | None:
    """The glibc version a manylinux platform tag for this machine requires; None for any other
    tag (another machine, macOS, Windows, musl)."""
    if not platform.endswith(f"_{machine}"):
        return None
    if match := re.fullmatch(rf"manylinux_(\d+)_(\d+)_{machine}", platform):
        return int(match[1]), int(match[2])
    return LEGACY_MANYLINUX.get(platform.removesuffix(f"_{machine}"))


def fits_lambda(tag: str, machine: str) -> bool:
    """Whether a wheel tag runs on Lambda's python3.13 on this machine: CPython 3.13's own ABI,
    or the stable ABI from a CPython 3.x no newer than 3.13; manylinux for glibc <= 2.34."""
    python, abi, platform = tag.split("-")
    minor = re.fullmatch(r"cp3(\d+)", python)
    fits_python = (python, abi) == ("cp313", "cp313") or (
        abi == "abi3" and minor is not None and int(minor[1]) <= LAMBDA_PYTHON[1]
    )
    glibc = glibc_of(platform, machine)
    return fits_python and glibc is not None and glibc <= LAMBDA_GLIBC


def test_fits_lambda_reads_the_tags_as_pip_would():
    assert fits_lambda("cp313-cp313-manylinux_2_28_x86_64", "x86_64")
    assert fits_lambda("cp310-abi3-manylinux_2_34_aarch64", "aarch64")
    assert fits_lambda("cp311-abi3-manylinux2014_x86_64", "x86_64")
    assert not fits_lambda("cp313-cp313-manylinux_2_35_x86_64", "x86_64")  # glibc too new
    assert not fits_lambda("cp313-cp313-manylinux_2_28_aarch64", "x86_64")  # other machine
    assert not fits_lambda("cp312-cp312-manylinux_2_28_x86_64", "x86_64")  # other ABI
    assert not fits_lambda("cp314-abi3-manylinux_2_28_x86_64", "x86_64")  # abi3 from a newer 3.x
    assert not fits_lambda("cp313-cp313-musllinux_1_2_x86_64", "x86_64")


def test_every_compiled_wheel_fits_the_python_3_13_lambda_runtime(built):
    arch, folder = built
    with zipfile.ZipFile(folder / "deployment.zip") as zipped:
        names = zipped.namelist()
        shared_objects = {n for n in names if SHARED_OBJECT.fullmatch(n)}
        # Each installed wheel lists its files in RECORD: the wheels that brought a .so.
        compiled: dict[str, list[str]] = {}
        claimed: set[str] = set()
        for record in (n for n in names if n.endswith(".dist-info/RECORD")):
            rows = csv.reader(zipped.read(record).decode().splitlines())
            files = {row[0] for row in rows if row}
            if files & shared_objects:
                dist_info = record.removesuffix("/RECORD")
                compiled[dist_info] = wheel_tags(zipped.read(f"{dist_info}/WHEEL").decode())
                claimed |= files & shared_objects
    assert claimed == shared_objects, "a .so that no wheel in the zip installed"
    for native in ("argon2_cffi_bindings-", "cbor2-", "cryptography-"):
        assert any(d.startswith(native) for d in compiled), sorted(compiled)
    machine = WHEEL_MACHINE[arch]
    misfits = {
        d: tags for d, tags in compiled.items() if not any(fits_lambda(t, machine) for t in tags)
    }
    assert misfits == {}, f"wheels that cannot load on Lambda's python3.13 ({arch}, glibc 2.34)"


def test_every_shared_object_is_an_elf_library_of_the_architecture(built):
    arch, folder = built
    with zipfile.ZipFile(folder / "deployment.zip") as zipped:
        headers = {n: zipped.read(n)[:20] for n in zipped.namelist() if SHARED_OBJECT.fullmatch(n)}
    assert headers
    for name, header in headers.items():
        # ELF magic, 64-bit (EI_CLASS 2), little-endian (EI_DATA 1); e_type ET_DYN (3), a shared
        # object; e_machine the architecture's: a macOS or other-machine build would fail there.
        assert header[:4] == b"\x7fELF", name
        assert (header[4], header[5]) == (2, 1), name
        assert int.from_bytes(header[16:18], "little") == 3, name
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE[arch], name


def test_the_template_names_the_architecture_and_the_python_3_13_runtime(built):
    arch, folder = built
    resources = json.loads((folder / "sam.json").read_text())["Resources"]
    functions = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::Serverless::Function"
    ]
    assert functions
    for function in functions:
        assert function["Runtime"] == "python3.13"
        assert function["Architectures"] == [arch]


def test_the_packaged_consumer_turns_the_tables_stream_into_events(
    package, table, dynamodb_local, ses
):
    """The template's second function, from the same zip: fed DynamoDB Local's stream as
    Lambda feeds it, it stores each user's numbered events with nothing beyond the zip and
    the runtime's own libraries."""
    from devtools.streams import StreamReader

    env = function_environment(package, table, dynamodb_local.endpoint, ses)
    email = f"events-{package.api}@example.com"
    with running(package, env) as api:
        send = functools.partial(request, api=package.api)
        answer(api, send("POST", "/auth/signup", body={"email": email, "password": PASSWORD}), 201)
    with running(package, env, "EventsConsumer") as consumer:
        reader = StreamReader(table, handler=lambda event, _: consumer.invoke(event))
        assert reader.poll() > 0
        assert reader.failed == []
    client = boto3.client("dynamodb", config=ADMIN_CLIENT_CONFIG)
    events = [
        item
        for item in client.scan(TableName=table, ConsistentRead=True)["Items"]
        if item["pk"]["S"].startswith("EVENT#")
    ]
    assert sorted((int(e["event_seq"]["N"]), e["event_type"]["S"]) for e in events) == [
        (1, "user.created"),
        (2, "session.created"),
    ]
