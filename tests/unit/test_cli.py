from infra.cli import Api, parser


def test_without_a_token_requests_are_signed_with_sigv4(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    headers = Api("https://abc.execute-api.eu-west-1.amazonaws.com/prod", token=None)._headers(
        "GET", "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/explanations?model_id=m"
    )
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]


def test_with_a_token_the_local_stack_gets_a_bearer():
    assert Api("http://127.0.0.1:3000", token="t")._headers("GET", "http://x") == {"Authorization": "Bearer t"}


def test_every_command_has_help():
    text = parser().parse_args(["audit", "fairness", "--model", "m", "--attribute", "a"])
    assert text.command == "fairness"


def test_sigv4_signs_the_body_and_the_usage_plan_api_key(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # another region: the API's host wins
    url = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/decisions/ticket-router"
    api = Api("https://abc.execute-api.eu-west-1.amazonaws.com/prod", token=None, api_key="usage-plan-key")
    headers = api._headers("POST", url, b'{"request_id": "r"}', {"Content-Type": "application/json"})
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert headers["x-api-key"] == "usage-plan-key"
    signed = headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"content-type", "host", "x-amz-date", "x-api-key"} <= set(signed)
    other_body = api._headers("POST", url, b'{"request_id": "s"}', {"Content-Type": "application/json"})
    assert other_body["Authorization"] != headers["Authorization"]  # the body is part of the signature


def test_a_bearer_token_carries_the_api_key_too():
    headers = Api("http://127.0.0.1:3000", token="t", api_key="k")._headers("GET", "http://x")
    assert headers == {"x-api-key": "k", "Authorization": "Bearer t"}


def test_smoke_options_take_a_role_and_a_value():
    args = parser().parse_args(["smoke", "--api", "http://x", "--token", "chatbot=a", "--profile", "auditor=p"])
    assert args.token == [("chatbot", "a")] and args.profile == [("auditor", "p")]
