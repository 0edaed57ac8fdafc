"""The Simplified Chinese catalogue is complete and compiled."""

import subprocess
from pathlib import Path

import pytest
from django.utils import translation

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "zh_Hans" / "LC_MESSAGES"


@pytest.mark.parametrize("domain", ["django", "djangojs"])
@pytest.mark.parametrize("which", ["--untranslated", "--only-fuzzy"])
def test_every_message_is_translated(domain, which):
    out = subprocess.run(
        ["msgattrib", which, "--no-wrap", str(LOCALE / f"{domain}.po")], capture_output=True, text=True, check=True
    ).stdout
    # Only the header entry (msgid "") may remain.
    left = [line for line in out.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
    assert left == []


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_the_compiled_catalogue_is_shipped(domain):
    assert (LOCALE / f"{domain}.mo").stat().st_size > 1000


def test_domain_messages_come_out_in_chinese():
    with translation.override("zh-hans"):
        assert translation.gettext("Write a disposal note before closing the warning.") == "关闭预警前请填写处置说明。"
