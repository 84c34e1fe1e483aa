"""The declared configuration schema: defaults, environment, checks, instance folder, docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import PROJECT_ROOT, ConfigError, load_config, markdown_reference, resolve_instance


def test_defaults_need_no_service():
    values = load_config(environ={})
    assert values["SEARCH_ENGINE"] == "sqlite"
    assert values["REDIS_URL"] == ""
    assert values["OTP_TTL_SECONDS"] == 60
    assert values["PROVINCES"] == ["80"]
    assert values["DATABASE_URL"] == ""  # filled in from the instance folder


def test_environment_overrides_with_prefix():
    values = load_config(environ={"PAKN_REDIS_URL": "redis://127.0.0.1:6379/2",
                                  "PAKN_OTP_TTL_SECONDS": "90", "PAKN_SQL_ECHO": "yes",
                                  "PAKN_PROVINCES": "80, 79"})
    assert values["REDIS_URL"] == "redis://127.0.0.1:6379/2"
    assert values["OTP_TTL_SECONDS"] == 90
    assert values["SQL_ECHO"] is True
    assert values["PROVINCES"] == ["80", "79"]


def test_explicit_overrides_win_over_environment():
    values = load_config({"OTP_TTL_SECONDS": 30}, environ={"PAKN_OTP_TTL_SECONDS": "90"})
    assert values["OTP_TTL_SECONDS"] == 30


@pytest.mark.parametrize(("env", "key"), [
    ({"PAKN_DATABASE_URL": "mysql://x@localhost/db"}, "DATABASE_URL"),
    ({"PAKN_DATABASE_URL": "not a url"}, "DATABASE_URL"),
    ({"PAKN_REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
    ({"PAKN_REDIS_URL": "redis://127.0.0.1:notaport"}, "REDIS_URL"),
    ({"PAKN_ELASTICSEARCH_URL": "http://"}, "ELASTICSEARCH_URL"),
    ({"PAKN_SEARCH_ENGINE": "solr"}, "SEARCH_ENGINE"),
    ({"PAKN_OTP_TTL_SECONDS": "-5"}, "OTP_TTL_SECONDS"),
    ({"PAKN_OTP_TTL_SECONDS": "một phút"}, "OTP_TTL_SECONDS"),
    ({"PAKN_PORT": "0"}, "PORT"),
    ({"PAKN_SQL_ECHO": "maybe"}, "SQL_ECHO"),
    ({"PAKN_PROVINCES": ""}, "PROVINCES"),
    ({"PAKN_PROVINCES": "Tây Ninh"}, "PROVINCES"),
    ({"PAKN_TIMEZONE": "Mars/Olympus"}, "TIMEZONE"),
    ({"PAKN_REDIS_URLL": "redis://127.0.0.1"}, "PAKN_REDIS_URLL"),
])
def test_bad_values_stop_startup_naming_the_key(env, key):
    with pytest.raises(ConfigError) as excinfo:
        load_config(environ=env)
    assert str(excinfo.value).startswith(key + ":")


def test_unknown_override_key_is_rejected():
    with pytest.raises(ConfigError, match="^SEARCH_ENGIN:"):
        load_config({"SEARCH_ENGIN": "sqlite"}, environ={})


def test_create_app_refuses_bad_config(tmp_path, monkeypatch):
    from webapp import create_app

    monkeypatch.setenv("PAKN_SEARCH_ENGINE", "whoosh")
    with pytest.raises(ConfigError, match="SEARCH_ENGINE"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_instance_folder_holds_local_files_and_a_generated_secret(tmp_path):
    instance = tmp_path / "inst"
    values = resolve_instance(load_config({"INSTANCE_PATH": str(instance)}, environ={}))
    assert values["DATABASE_URL"] == f"sqlite:///{instance / 'pakn.sqlite3'}"
    assert values["SEARCH_INDEX_PATH"] == str(instance / "search.sqlite3")
    assert values["SMS_FILE_PATH"] == str(instance / "sms.jsonl")
    assert values["UPLOAD_PATH"] == str(instance / "uploads")
    secret = values["SECRET_KEY"]
    assert len(secret) >= 40
    key_file = instance / "secret_key"
    assert key_file.read_text() == secret
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    # Generated once: a second start reads the same key; another instance gets another key.
    again = resolve_instance(load_config({"INSTANCE_PATH": str(instance)}, environ={}))
    assert again["SECRET_KEY"] == secret
    other = resolve_instance(load_config({"INSTANCE_PATH": str(tmp_path / "b")}, environ={}))
    assert other["SECRET_KEY"] != secret


def test_relative_instance_path_is_taken_from_the_project(tmp_path):
    values = resolve_instance(load_config({"INSTANCE_PATH": "instance", "SECRET_KEY": "k"}, environ={}))
    assert Path(values["INSTANCE_PATH"]) == PROJECT_ROOT / "instance"


def test_configuration_doc_is_in_sync_with_the_schema():
    doc = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == markdown_reference(), "run: flask --app wsgi config-doc --write docs/configuration.md"
