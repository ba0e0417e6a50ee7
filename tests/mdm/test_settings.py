"""Settings from the environment: what a deployment over HTTPS switches on."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def deploy_check(**env) -> str:
    """``manage.py check --deploy`` in a fresh process with ``env`` (settings are read at import)."""
    environment = {**os.environ, "SECRET_KEY": "k" * 60, "DEBUG": "false", **env}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    return result.stdout + result.stderr


def test_plain_http_is_the_default_and_the_deploy_check_says_what_https_needs():
    report = deploy_check()
    assert all(code in report for code in ("security.W004", "security.W008", "security.W012", "security.W016"))


def test_one_switch_makes_cookies_secure_redirects_http_and_sends_hsts():
    report = deploy_check(MDM_HTTPS="true")
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code not in report
    # Whether every subdomain is HTTPS-only (and preloading) is the operator's call for the whole domain.
    assert "security.W005" in report
