import pytest

from functions.api.auth import Role, caller_role, role_name
from functions.schemas.settings import CatalogSettings


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:sts::123456789012:assumed-role/candor-auditor/alice", "candor-auditor"),
        ("arn:aws:iam::123456789012:role/team/candor-chatbot", "candor-chatbot"),
        ("arn:aws:iam::123456789012:user/bob", None),
        ("", None),
        ("garbage", None),
    ],
)
def test_role_name_from_principal_arn(arn, name):
    assert role_name(arn) == name


def test_caller_role_maps_configured_role_names():
    settings = CatalogSettings(auditor_role="compliance-team")
    assert caller_role({"userArn": "arn:aws:sts::1:assumed-role/compliance-team/x"}, settings) is Role.auditor
    assert caller_role({"userArn": "arn:aws:sts::1:assumed-role/candor-auditor/x"}, settings) is None
    assert caller_role({}, settings) is None
