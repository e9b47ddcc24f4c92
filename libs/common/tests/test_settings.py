import pytest
from pydantic import Field, SecretStr

from opensqt_common.settings import ServiceSettings, load_settings, service_config


class DemoSettings(ServiceSettings):
    model_config = service_config("demo", prog="opensqt-demo")

    listen: str = Field("127.0.0.1:50099", description="address to listen on")
    auth_token_file: str | None = Field(None, description="token file")
    api_key: SecretStr | None = Field(None, description="venue API key")


def test_flags_override_env_override_defaults(monkeypatch):
    assert load_settings(DemoSettings, []).listen == "127.0.0.1:50099"
    monkeypatch.setenv("OPENSQT_DEMO_LISTEN", "0.0.0.0:1")
    assert load_settings(DemoSettings, []).listen == "0.0.0.0:1"
    settings = load_settings(
        DemoSettings, ["--listen", "127.0.0.1:2", "--auth-token-file", "secrets/token.txt"]
    )
    assert settings.listen == "127.0.0.1:2"
    assert settings.auth_token_file == "secrets/token.txt"


def test_secret_from_file_never_printed(monkeypatch, tmp_path):
    (tmp_path / "OPENSQT_DEMO_API_KEY").write_text("very-secret-key\n")
    monkeypatch.setenv("OPENSQT_SECRETS_DIR", str(tmp_path))
    settings = load_settings(DemoSettings, [])
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "very-secret-key"
    assert "very-secret-key" not in repr(settings)
    assert "very-secret-key" not in str(settings.model_dump())


def test_unknown_flag_exits_with_error(capsys):
    with pytest.raises(SystemExit) as raised:
        load_settings(DemoSettings, ["--no-such-flag", "1"])
    assert raised.value.code != 0
    assert "no-such-flag" in capsys.readouterr().err


def test_settings_are_frozen():
    settings = load_settings(DemoSettings, [])
    with pytest.raises(ValueError, match="frozen"):
        settings.listen = "x"
