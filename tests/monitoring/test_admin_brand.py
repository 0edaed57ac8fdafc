"""The admin carries the platform's name in the reader's language, not the code name."""

import re

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "name"),
    [
        ("zh-hans", "城市安全风险综合监测预警平台"),
        ("en", "City Safety Risk Monitoring and Early Warning Platform"),
    ],
)
def test_the_admin_names_the_platform_in_the_readers_language(client, admin_user, language, name):
    client.force_login(admin_user)

    html = client.get("/admin/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert re.search(r'<div id="site-name"><a href="/admin/">\s*' + re.escape(name) + r"\s*</a></div>", html)
    assert f"| {name}</title>" in html
    assert "CitySafety" not in html
