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
