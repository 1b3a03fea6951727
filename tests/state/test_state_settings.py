"""The ``state`` section of govcloud.yaml and how the engine's environment is made from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.adapters import engine
from orchestrator.errors import UsageError
from orchestrator.settings import SettingsInvalid, current_settings, load_settings
from orchestrator.settings_state import check_passphrase_file

S3 = "s3://govcloud-state?endpoint=https://s3.cloud.example.gov.cn&s3ForcePathStyle=true&region=RegionOne"


def settings_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "govcloud.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def private_file(path: Path, text: str = "correct horse\n") -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_shared_backend_with_its_passphrase_and_credentials_files_is_read(tmp_path: Path) -> None:
    settings = load_settings(
        settings_file(
            tmp_path,
            f"""
state:
  backend: "{S3}"
  passphraseFile: /etc/govcloud/state-passphrase
  credentialsFile: /etc/govcloud/s3-credentials
  profile: govcloud
""",
        )
    )
    assert settings.state is not None
    assert settings.state.engine_env() == {
        "PULUMI_BACKEND_URL": S3,
        "PULUMI_CONFIG_PASSPHRASE_FILE": "/etc/govcloud/state-passphrase",
        "AWS_SHARED_CREDENTIALS_FILE": "/etc/govcloud/s3-credentials",
        "AWS_PROFILE": "govcloud",
    }


@pytest.mark.parametrize(
    ("backend", "says"),
    [
        ("ftp://files.example/state", "must be an s3:// URL"),
        ("s3://", "must name one bucket"),
        ("s3://state/sub/dir", "must name one bucket"),
        ("s3://state?endpoint=http://s3.example.gov.cn", "https://"),
        ("s3://state?endpoint=https://s3.example&sse=aws:kms", "unknown S3 parameter(s) sse"),
        ("file://relative/state", "absolute path"),
    ],
)
def test_a_backend_url_that_is_not_a_team_backend_is_named_with_its_line(
    tmp_path: Path, backend: str, says: str
) -> None:
    path = settings_file(tmp_path, f'auth: local\nstate:\n  backend: "{backend}"\n')
    with pytest.raises(SettingsInvalid) as raised:
        load_settings(path)
    text = str(raised.value)
    assert str(path) in text and "state.backend" in text and says in text and "line 3" in text


def test_http_is_allowed_only_to_a_loopback_endpoint(tmp_path: Path) -> None:
    local = "s3://state?endpoint=http://127.0.0.1:8080&s3ForcePathStyle=true"
    assert load_settings(settings_file(tmp_path, f'state: {{backend: "{local}"}}\n')).state.backend == local


def test_relative_file_paths_and_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = settings_file(
        tmp_path, "state:\n  backend: file:///srv/state\n  passphraseFile: secrets/pass\n  password: x\n"
    )
    with pytest.raises(SettingsInvalid) as raised:
        load_settings(path)
    assert "state.passphraseFile" in str(raised.value) and "absolute path" in str(raised.value)
    assert "state.password" in str(raised.value)


def test_the_passphrase_file_must_be_private_regular_and_outside_any_checkout(tmp_path: Path) -> None:
    good = private_file(tmp_path / "pass")
    check_passphrase_file(good)
    good.chmod(0o640)
    with pytest.raises(UsageError, match=r"readable by others \(mode 0640\).*passphrase-private"):
        check_passphrase_file(good)
    with pytest.raises(UsageError, match=r"cannot be read.*passphrase-file"):
        check_passphrase_file(tmp_path / "missing")
    with pytest.raises(UsageError, match="not a regular file"):
        check_passphrase_file(tmp_path)
    checkout = tmp_path / "repo"
    (checkout / ".git").mkdir(parents=True)
    (checkout / "ops").mkdir()
    inside = private_file(checkout / "ops" / "pass")
    with pytest.raises(UsageError, match=r"inside the checkout .*repo.*passphrase-outside-repository"):
        check_passphrase_file(inside)


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    passphrase = private_file(tmp_path / "pass")
    config = settings_file(tmp_path, f'state: {{backend: "{S3}", passphraseFile: "{passphrase}"}}\n')
    monkeypatch.setenv("GOVCLOUD_CONFIG", str(config))
    current_settings.cache_clear()
    yield passphrase
    current_settings.cache_clear()


def test_the_configured_backend_and_passphrase_file_reach_the_engine(configured: Path, tmp_path: Path) -> None:
    env = engine.backend_env(tmp_path, environ={})
    assert env == {"PULUMI_BACKEND_URL": S3, "PULUMI_CONFIG_PASSPHRASE_FILE": str(configured)}
    engine.require_passphrase(env, {})


def test_the_environment_wins_as_it_does_for_plain_pulumi(configured: Path, tmp_path: Path) -> None:
    env = engine.backend_env(
        tmp_path, environ={"PULUMI_BACKEND_URL": "file:///srv/other", "PULUMI_CONFIG_PASSPHRASE": "from-the-vault"}
    )
    assert env == {"PULUMI_BACKEND_URL": "file:///srv/other"}  # the file is not given as well: pulumi refuses both
    engine.require_passphrase(env, {"PULUMI_CONFIG_PASSPHRASE": "from-the-vault"})


def test_the_credentials_of_an_environment_given_for_another_process_reach_the_engine(tmp_path: Path) -> None:
    passphrase = private_file(tmp_path / "pass")
    config = settings_file(
        tmp_path,
        f'state: {{backend: "{S3}", passphraseFile: "{passphrase}", '
        "credentialsFile: /etc/govcloud/s3, profile: govcloud}\n",
    )
    current_settings.cache_clear()
    try:
        env = engine.backend_env(
            tmp_path, environ={"GOVCLOUD_CONFIG": str(config), "AWS_SHARED_CREDENTIALS_FILE": "/run/other/s3"}
        )
    finally:
        current_settings.cache_clear()
    assert env == {
        "PULUMI_BACKEND_URL": S3,
        "PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase),
        "AWS_SHARED_CREDENTIALS_FILE": "/run/other/s3",
        "AWS_PROFILE": "govcloud",
    }


def test_without_configuration_the_checkout_keeps_its_own_file_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GOVCLOUD_CONFIG", raising=False)
    current_settings.cache_clear()
    try:
        env = engine.backend_env(tmp_path, environ={})
    finally:
        current_settings.cache_clear()
    assert env == {"PULUMI_BACKEND_URL": f"file://{tmp_path / '.govcloud' / 'state'}"}
    with pytest.raises(UsageError, match=r"state\.passphraseFile"):
        engine.require_passphrase(env, {})


def test_a_world_readable_passphrase_file_stops_the_engine_before_it_starts(configured: Path, tmp_path: Path) -> None:
    os.chmod(configured, 0o644)
    env = engine.backend_env(tmp_path, environ={})
    with pytest.raises(UsageError, match="chmod 600"):
        engine.require_passphrase(env, {})


def test_the_backups_section_names_the_archive_project_and_the_backup_site(tmp_path: Path) -> None:
    assert load_settings(settings_file(tmp_path, "auth: local\n")).backups.archive_project == "govcloud-archive"
    settings = load_settings(settings_file(tmp_path, "backups:\n  archiveProject: ops-archive\n  site: dr-site\n"))
    assert (settings.backups.archive_project, settings.backups.site) == ("ops-archive", "dr-site")
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(settings_file(tmp_path, "backups:\n  archiveProject: 'a/b'\n  sites: x\n"))
    text = str(refused.value)
    assert "backups.archiveProject" in text and "backups.sites" in text and "line 2" in text
