"""API Gateway HTTP APIs in front of functions: routes, path parameters, stages and the Lambda proxy
integration (payload format 2.0), as API Gateway serves them."""

from __future__ import annotations

import json

import pytest
import requests
from deploy import ACCOUNT

ECHO = "def handler(event, context):\n    return {'event': event}\n"
FAILS = "def handler(event, context):\n    raise ValueError('no')\n"


@pytest.fixture
def apigw(cloud):
    return cloud.client("apigatewayv2")


def http_api(cloud, apigw, lam, function_name: str, routes: list[str], stage: str = "$default",
             allow: bool = True, **stage_config) -> str:
    """An HTTP API whose routes all go to the function, deployed on ``stage``: its endpoint URL."""
    api = apigw.create_api(Name="shop", ProtocolType="HTTP")
    function_arn = lam.get_function(FunctionName=function_name)["Configuration"]["FunctionArn"]
    integration = apigw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                           IntegrationUri=function_arn, PayloadFormatVersion="2.0")
    for key in routes:
        apigw.create_route(ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{integration['IntegrationId']}")
    apigw.create_stage(ApiId=api["ApiId"], StageName=stage, AutoDeploy=True, **stage_config)
    if allow:
        lam.add_permission(FunctionName=function_name, StatementId=f"api-{api['ApiId']}",
                           Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                           SourceArn=f"arn:aws:execute-api:{cloud.region}:{ACCOUNT}:{api['ApiId']}/*")
    assert api["ApiEndpoint"].startswith(cloud.endpoint_url)
    return api["ApiEndpoint"]


def test_routes_pick_the_most_specific_and_pass_path_parameters(cloud, fn, lam, apigw):
    name = fn.create(ECHO)
    url = http_api(cloud, apigw, lam, name, ["GET /items", "GET /items/{id}", "GET /items/special", "ANY /{proxy+}",
                                             "POST /items"])

    def event(method: str, path: str) -> dict:
        response = requests.request(method, url + path)
        assert response.status_code == 200
        return response.json()["event"]

    got = event("GET", "/items/42?colour=red")
    assert (got["routeKey"], got["pathParameters"], got["rawPath"], got["queryStringParameters"]) == \
        ("GET /items/{id}", {"id": "42"}, "/items/42", {"colour": "red"})
    assert event("GET", "/items/special")["routeKey"] == "GET /items/special"
    assert event("GET", "/items")["routeKey"] == "GET /items"
    assert event("POST", "/items")["routeKey"] == "POST /items"
    greedy = event("DELETE", "/a/b/c")
    assert (greedy["routeKey"], greedy["pathParameters"]) == ("ANY /{proxy+}", {"proxy": "a/b/c"})
    context = got["requestContext"]
    api_id = url.rsplit("/", 1)[1]
    assert (context["stage"], context["apiId"], context["accountId"], context["domainName"]) == \
        ("$default", api_id, ACCOUNT, f"{api_id}.execute-api.{cloud.region}.amazonaws.com")


def test_no_route_is_a_404_and_a_refusal_or_an_error_a_500(cloud, fn, lam, apigw):
    name = fn.create(ECHO)
    url = http_api(cloud, apigw, lam, name, ["GET /items"])
    missing = requests.get(url + "/nothing")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    closed = fn.create(ECHO)
    refused = requests.get(http_api(cloud, apigw, lam, closed, ["GET /items"], allow=False) + "/items")
    assert (refused.status_code, refused.json()) == (500, {"message": "Internal Server Error"})
    failing = fn.create(FAILS)
    error = requests.get(http_api(cloud, apigw, lam, failing, ["GET /items"]) + "/items")
    assert (error.status_code, error.json()) == (500, {"message": "Internal Server Error"})
    denied = [j for j in cloud.authorizer.judgements() if j.principal == "apigateway.amazonaws.com"
              and j.resource.endswith(f":function:{closed}")]
    assert denied and not denied[-1].allowed


def test_a_named_stage_serves_paths_under_its_name_with_its_variables(cloud, fn, lam, apigw):
    name = fn.create(ECHO)
    url = http_api(cloud, apigw, lam, name, ["GET /items/{id}"], stage="prod", StageVariables={"table": "items-prod"})
    got = requests.get(url + "/prod/items/7").json()["event"]
    assert (got["requestContext"]["stage"], got["rawPath"], got["pathParameters"], got["stageVariables"]) == \
        ("prod", "/prod/items/7", {"id": "7"}, {"table": "items-prod"})
    assert requests.get(url + "/items/7").status_code == 404  # no $default stage


def test_a_json_service_answers_with_its_status_and_body(cloud, fn, lam, apigw):
    source = ("import json\n"
              "ITEMS = {'1': 'apple'}\n"
              "def handler(event, context):\n"
              "    item = ITEMS.get(event['pathParameters']['id'])\n"
              "    if item is None:\n"
              "        return {'statusCode': 404, 'body': json.dumps({'error': 'no such item'})}\n"
              "    return {'id': event['pathParameters']['id'], 'name': item}\n")
    name = fn.create(source)
    url = http_api(cloud, apigw, lam, name, ["GET /items/{id}"])
    found = requests.get(url + "/items/1")
    assert (found.status_code, found.headers["Content-Type"], found.json()) == \
        (200, "application/json", {"id": "1", "name": "apple"})
    missing = requests.get(url + "/items/9")
    assert (missing.status_code, json.loads(missing.text)) == (404, {"error": "no such item"})


def test_a_function_that_times_out_behind_an_api_is_a_500(cloud, fn, lam, apigw):
    name = fn.create("import time\ndef handler(event, context):\n    time.sleep(5)\n", Timeout=1)
    response = requests.get(http_api(cloud, apigw, lam, name, ["GET /slow"]) + "/slow")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert fn.records(name)["error_type"].iloc[-1] == "Sandbox.Timedout"
