"""Configuration: URL rules, token only from env or code, CanvasSettings."""

from __future__ import annotations

import pytest

from reconcile.canvas import CanvasClient, ConfigError
from reconcile.canvas.settings import is_loopback, normalize_base_url
from reconcile.config import CanvasSettings


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.3.4.5", "[::1]", "api.localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["canvas.example.edu", "10.0.0.1", "localhost.evil.com", "0.0.0.0"])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback(host)


def test_plain_http_refused_except_loopback() -> None:
    with pytest.raises(ConfigError, match="http://"):
        normalize_base_url("http://canvas.example.edu")
    assert normalize_base_url("http://127.0.0.1:8080/")[0] == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://canvas.example.edu", "https://canvas.example.edu"),
        ("https://Canvas.Example.edu/", "https://canvas.example.edu"),
        ("https://canvas.example.edu/api/v1/", "https://canvas.example.edu"),
        ("https://example.edu/canvas/api/v1", "https://example.edu/canvas"),
    ],
)
def test_base_url_normalised(url: str, base: str) -> None:
    assert normalize_base_url(url) == (base, None)


@pytest.mark.parametrize("url", ["", "canvas.example.edu", "ftp://x", "https://u:p@canvas.example.edu"])
def test_bad_urls_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        normalize_base_url(url)


def test_token_in_url_is_lifted_out() -> None:
    base, token = normalize_base_url("https://canvas.example.edu/api/v1?access_token=abc")
    assert base == "https://canvas.example.edu" and token == "abc"


def test_from_env_reads_url_and_token_and_env_overrides_settings() -> None:
    env = {"CANVAS_API_URL": "https://env.example.edu", "CANVAS_API_TOKEN": "tok-1"}
    settings = CanvasSettings(
        url="https://file.example.edu", concurrency=3, timeout=4.0, retries=2, per_page=50
    )
    with CanvasClient.from_env(settings, env=env) as client:
        assert client.base_url == "https://env.example.edu"
        assert client.concurrency == 3 and client.per_page == 50
        assert client.transport.timeout == (4.0, 4.0) and client.transport.retries == 2
        assert "tok-1" not in repr(client) and "tok-1" not in repr(client.transport)


def test_from_env_uses_settings_url_when_env_has_none() -> None:
    with CanvasClient.from_env(
        CanvasSettings(url="https://file.example.edu"), env={"CANVAS_API_TOKEN": "t"}
    ) as c:
        assert c.base_url == "https://file.example.edu"


def test_missing_token_or_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="CANVAS_API_TOKEN"):
        CanvasClient.from_env(env={"CANVAS_API_URL": "https://x.example.edu"})
    with pytest.raises(ConfigError, match="CANVAS_API_URL"):
        CanvasClient.from_env(env={"CANVAS_API_TOKEN": "t"})
    with pytest.raises(ConfigError):
        CanvasClient("https://x.example.edu", "")


def test_bad_numbers_refused() -> None:
    with pytest.raises(ConfigError):
        CanvasClient("https://x.example.edu", "t", per_page=500)
    with pytest.raises(ConfigError):
        CanvasClient("https://x.example.edu", "t", concurrency=0)


def test_tls_verification_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with CanvasClient("https://x.example.edu", "t") as client:
        assert client.transport.session.verify is True


def test_proxy_and_ca_bundle_come_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.edu:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/campus.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with CanvasClient("https://x.example.edu", "t") as client:
        session = client.transport.session
        assert session.proxies.get("https") == "http://proxy.example.edu:3128"
        assert session.verify == "/etc/ssl/campus.pem"  # a bundle, never False
        assert session.trust_env is False
