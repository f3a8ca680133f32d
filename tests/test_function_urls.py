"""Function URLs: configuration, and HTTP requests to a function as AWS's function URLs answer them
(words recorded by LocalStack's AWS-validated TestLambdaURL tests)."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ECHO = "def handler(event, context):\n    return {'event': event, 'request_id': context.aws_request_id}\n"
RETURNS = "import json\ndef handler(event, context):\n    return json.loads(event['body'])\n"
FAILS = "def handler(event, context):\n    raise RuntimeError('no')\n"


def let_anyone_call_its_url(lam, name: str) -> None:
    """The two statements a URL with AuthType NONE needs since October 2025 (AWS's urls-auth page)."""
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName=name, StatementId="url-invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)


def public_url(fn, lam, source: str, **config) -> tuple[str, str]:
    """A function with a URL anyone may call: (name, URL)."""
    name = fn.create(source)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", **config)["FunctionUrl"]
    let_anyone_call_its_url(lam, name)
    return name, url


def test_a_url_configuration_lives_and_dies_as_aws_answers(fn, lam):
    name = fn.create(ECHO)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert {k for k in created if k != "ResponseMetadata"} == {"AuthType", "CreationTime", "FunctionArn", "FunctionUrl"}
    with pytest.raises(lam.exceptions.ResourceConflictException) as conflict:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert conflict.value.response["Error"]["Message"] == (
        f"Failed to create function url config for [functionArn = {created['FunctionArn']}]. Error message:  "
        "FunctionUrlConfig exists for this Lambda function")
    got = lam.get_function_url_config(FunctionName=name)
    assert (got["InvokeMode"], got["FunctionUrl"]) == ("BUFFERED", created["FunctionUrl"]) and "LastModifiedTime" in got
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and "InvokeMode" not in updated
    assert [c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]] == \
        [created["FunctionUrl"]]
    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as missing:
        lam.get_function_url_config(FunctionName=name)
    assert missing.value.response["Error"]["Message"] == "The resource you requested does not exist."


@pytest.mark.parametrize(("returned", "body"), [
    ({"hello": "world"}, b'{"hello":"world"}'),
    ("hello", b"hello"),
    (["hello", 3, True], b'["hello",3,true]'),
    (3.1, b"3.1"),
    (True, b"true"),
    ({"statusCode": 200, "body": "body123"}, b"body123"),
])
def test_what_a_function_returns_becomes_the_response(fn, lam, returned, body):
    _, url = public_url(fn, lam, RETURNS)
    response = requests.post(f"{url}custom_path/extend?test_param=test_value", data=json.dumps(returned))
    assert (response.status_code, response.headers["Content-Type"], response.content) == \
        (200, "application/json", body)


def test_status_headers_cookies_and_base64_bodies(fn, lam):
    _, url = public_url(fn, lam, RETURNS)
    answer = {"statusCode": 201, "headers": {"Content-Type": "application/json", "My-Custom-Header": "Custom Value"},
              "body": json.dumps({"message": "hello-world"}), "cookies": ["a=1", "b=2; Path=/"]}
    response = requests.post(url, data=json.dumps(answer))
    assert (response.status_code, response.json(), response.headers["my-custom-header"]) == \
        (201, {"message": "hello-world"}, "Custom Value")
    assert response.cookies.get("a") == "1" and response.cookies.get("b") == "2"
    teapot = requests.post(url, data=json.dumps({"statusCode": "418", "body": "i'm a teapot"}))
    assert (teapot.status_code, teapot.text) == (418, "i'm a teapot")
    png = bytes(range(256))
    binary = requests.post(url, data=json.dumps({"statusCode": 200, "isBase64Encoded": True,
                                                 "headers": {"Content-Type": "image/png"},
                                                 "body": base64.b64encode(png).decode()}))
    assert (binary.headers["Content-Type"], binary.content) == ("image/png", png)


def test_the_function_gets_the_payload_format_2_event(cloud, fn, lam):
    _, url = public_url(fn, lam, ECHO)
    url_id = url.rstrip("/").rsplit("/", 1)[1]
    response = requests.post(f"{url}shop/items?size=L&colour=red&colour=blue", data="text",
                             headers={"Content-Type": "text/plain", "Cookie": "session=abc; theme=dark",
                                      "User-Agent": "learner/1.0"})
    answer = response.json()
    event = answer["event"]
    assert response.headers["x-amzn-RequestId"] == answer["request_id"]
    assert (event["version"], event["routeKey"], event["rawPath"], event["rawQueryString"]) == \
        ("2.0", "$default", "/shop/items", "size=L&colour=red&colour=blue")
    assert event["queryStringParameters"] == {"size": "L", "colour": "red,blue"}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["headers"]["content-type"] == "text/plain" and "cookie" not in event["headers"]
    assert (event["body"], event["isBase64Encoded"]) == ("text", False)
    context = event["requestContext"]
    assert (context["accountId"], context["apiId"], context["domainName"], context["stage"]) == \
        ("anonymous", url_id, f"{url_id}.lambda-url.{cloud.region}.on.aws", "$default")
    assert context["http"] == {"method": "POST", "path": "/shop/items", "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "learner/1.0"}
    binary = requests.put(url, data=b"\x00\xff\x10", headers={"Content-Type": "application/octet-stream"}).json()
    assert (binary["event"]["body"], binary["event"]["isBase64Encoded"]) == (base64.b64encode(b"\x00\xff\x10").decode(),
                                                                             True)
    assert "body" not in requests.get(url).json()["event"]


# AWS's words for a refused call, as LocalStack's AWS-validated TestLambdaPermissions::
# test_lambda_permission_url_invocation recorded them (test_lambda.snapshot.json, November 2025)
RECORDED_FORBIDDEN = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
                      "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")


def test_errors_and_refusals_are_awss(fn, lam):
    _, failing = public_url(fn, lam, FAILS)
    response = requests.post(failing, data=b"{}")
    assert (response.status_code, response.text) == (502, "Internal Server Error")
    private = fn.create(ECHO)  # a URL, but no permission for anyone
    url = lam.create_function_url_config(FunctionName=private, AuthType="NONE")["FunctionUrl"]
    refused = requests.get(url)
    assert (refused.status_code, refused.json(), refused.headers["x-amzn-ErrorType"]) == \
        (403, {"Message": RECORDED_FORBIDDEN}, "AccessDeniedException")
    unknown = requests.get(url.replace(url.rstrip("/").rsplit("/", 1)[1], "0123456789abcdefghijklmnopqrstuv"))
    assert (unknown.status_code, unknown.text, unknown.headers["Content-Type"]) == \
        (403, '{"Message":null}', "application/json")
    lam.delete_function(FunctionName=private)  # the URL goes with its function
    assert requests.get(url).text == '{"Message":null}'


def test_a_url_wants_both_invoke_function_url_and_invoke_function_as_since_october_2025(cloud, fn, lam):
    """AWS's urls-auth page: "Starting in October 2025, new function URLs will require both
    lambda:InvokeFunctionUrl and lambda:InvokeFunction permissions". The second, granted for URLs only
    (InvokedViaFunctionUrl), lets nobody call Invoke through the API."""
    name = fn.create(ECHO)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    refused = requests.get(url)
    assert (refused.status_code, refused.json()) == (403, {"Message": RECORDED_FORBIDDEN})
    lam.add_permission(FunctionName=name, StatementId="url-invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)
    statement = json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"][1]
    assert statement["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert requests.get(url).status_code == 200
    partner = cloud.client("lambda", account=cloud.other_account)
    with pytest.raises(partner.exceptions.ClientError) as denied:
        partner.invoke(FunctionName=lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def test_an_aws_iam_url_wants_a_signed_request_its_caller_may_make(cloud, fn, lam):
    name = fn.create(ECHO)
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    assert requests.get(url).status_code == 403  # unsigned
    keys = cloud.credentials
    request = AWSRequest(method="GET", url=url + "who")
    SigV4Auth(Credentials(keys["AccessKeyId"], keys["SecretAccessKey"]), "lambda", cloud.region).add_auth(request)
    response = requests.get(url + "who", headers=dict(request.headers))
    assert response.status_code == 200
    iam = response.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert (iam["userArn"], iam["accountId"], iam["accessKey"]) == \
        (f"arn:aws:iam::{cloud.account}:root", cloud.account, keys["AccessKeyId"])


def test_cors_preflight_and_headers(fn, lam):
    _, url = public_url(fn, lam, ECHO, Cors={"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"],
                                             "AllowHeaders": ["content-type"], "MaxAge": 300})
    preflight = requests.options(url, headers={"Origin": "https://example.com",
                                               "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert (preflight.headers["Access-Control-Allow-Origin"], preflight.headers["Access-Control-Allow-Methods"],
            preflight.headers["Access-Control-Max-Age"]) == ("https://example.com", "GET,POST", "300")
    other = requests.get(url, headers={"Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_a_function_that_times_out_is_a_502_as_any_error(fn, lam):
    name = fn.create("import time\ndef handler(event, context):\n    time.sleep(5)\n", Timeout=1)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    let_anyone_call_its_url(lam, name)
    response = requests.get(url)
    assert (response.status_code, response.text) == (502, "Internal Server Error")
    assert fn.records(name)["error_type"].iloc[-1] == "Sandbox.Timedout"
