"""reconcile.yaml loading: defaults, validation with file/key, env overrides, no tokens."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.config import Config, ConfigError, config_to_dict, find_config, load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reconcile.yaml"
    path.write_text(text)
    return path


def test_no_file_means_defaults(tmp_path: Path) -> None:
    config = load_config(None, env={}, cwd=tmp_path)
    assert config == dataclasses.replace(Config(), state_dir=str(tmp_path.resolve() / ".reconcile"))
    assert config.guards.protected_roles == ("TeacherEnrollment",)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "# nothing\n")
    assert load_config(path, env={}) == dataclasses.replace(
        Config(), state_dir=str(tmp_path.resolve() / ".reconcile"), source=str(path)
    )


def test_state_dir_is_resolved_against_the_config_files_folder(tmp_path: Path, monkeypatch) -> None:
    """cron starts in $HOME: a relative state_dir must not depend on where a command runs."""
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "reconcile.yaml"
    path.write_text("state_dir: state/here\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(path, env={}).state_dir == str(tmp_path.resolve() / "conf" / "state" / "here")
    monkeypatch.chdir(tmp_path)
    assert load_config(Path("conf/reconcile.yaml"), env={}).state_dir == str(
        tmp_path.resolve() / "conf" / "state" / "here"
    )
    path.write_text(f"state_dir: {tmp_path / 'abs'}\n")
    assert load_config(path, env={}).state_dir == str(tmp_path / "abs")


def test_config_is_found_by_flag_then_environment_then_working_directory(tmp_path: Path, monkeypatch) -> None:
    here = _write(tmp_path, "guards: {max_drops: 1}\n")
    named = tmp_path / "named.yaml"
    named.write_text("guards: {max_drops: 2}\n")
    flagged = tmp_path / "flagged.yaml"
    flagged.write_text("guards: {max_drops: 3}\n")
    monkeypatch.chdir(tmp_path)
    assert find_config(None, env={}) == Path("reconcile.yaml")
    assert find_config(None, env={"RECONCILE_CONFIG": str(named)}) == named
    assert find_config(str(flagged), env={"RECONCILE_CONFIG": str(named)}) == Path(flagged)
    here.unlink()
    assert find_config(None, env={}) is None
    with pytest.raises(ConfigError) as caught:
        find_config(None, env={"RECONCILE_CONFIG": str(tmp_path / "typo.yaml")})
    assert "typo.yaml: config file not found (named by RECONCILE_CONFIG)" in caught.value.problems[0]


def test_full_file_is_read_and_roles_normalised(tmp_path: Path) -> None:
    text = """
canvas: {url: "https://canvas.example.edu/", account_id: 1, per_page: 50, concurrency: 4, timeout: 10, retries: 2}
manage: {roles: [student, TaEnrollment, Grader], courses: [MATH101, "canvas:12"], ownership: sis}
policy: {drop: conclude, notify: true, enrollment_state: invited}
guards: {max_drop_percent: 10, min_course_size: 5, max_drops: 50, protected_roles: [teacher, ta]}
roster: {custom_roles: {Grader: ta, Auditor: null}}
oneroster: {class_maps_to: section, role_map: {Student: student, aide: Grader}, non_primary_teacher_as_ta: true}
state_dir: /var/lib/reconcile
"""
    config = load_config(_write(tmp_path, text), env={})
    assert config.canvas.url == "https://canvas.example.edu"
    assert config.canvas.account_id == "1" and config.canvas.timeout == 10.0
    assert config.manage.roles == ("StudentEnrollment", "TaEnrollment", "Grader")
    assert config.manage.courses == ("sis_course_id:MATH101", "12")
    assert config.policy.drop == "conclude" and config.policy.enrollment_state == "invited"
    assert config.guards.protected_roles == ("TeacherEnrollment", "TaEnrollment")
    assert config.roster.custom_roles == {"Grader": "TaEnrollment", "Auditor": None}
    assert config.oneroster.role_map == {"student": "StudentEnrollment", "aide": "Grader"}
    assert config.state_dir == "/var/lib/reconcile"


def test_unknown_keys_say_where_and_suggest(tmp_path: Path) -> None:
    path = _write(tmp_path, "canvas:\n  urll: https://x.edu\npolicy:\n  dorp: delete\ngaurds: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == (
        f'{path}: gaurds: unknown key (did you mean "guards"?)',
        f'{path}: canvas.urll: unknown key (did you mean "url"?)',
        f'{path}: policy.dorp: unknown key (did you mean "drop"?)',
    )


def test_every_bad_value_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "canvas: {per_page: 1000}\npolicy: {drop: everything}\nguards: {max_drops: -1}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    keys = [p.split(": ")[1] for p in caught.value.problems]
    assert keys == ["canvas.per_page", "guards.max_drops", "policy.drop"]


def test_token_in_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "canvas:\n  url: https://x.edu\n  token: s3cr3t-value\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert "canvas.token" in message and "CANVAS_API_TOKEN" in message and "s3cr3t" not in message


def test_env_url_overrides_and_is_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, "canvas: {url: 'https://file.example.edu'}\n")
    assert (
        load_config(path, env={"CANVAS_API_URL": "https://env.example.edu/"}).canvas.url
        == "https://env.example.edu"
    )
    assert (
        load_config(None, env={"CANVAS_API_URL": "http://127.0.0.1:8900"}).canvas.url
        == "http://127.0.0.1:8900"
    )
    with pytest.raises(ConfigError, match="CANVAS_API_URL.*plain http"):
        load_config(None, env={"CANVAS_API_URL": "http://canvas.example.edu"})


def test_plain_http_only_for_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="canvas.url: plain http"):
        load_config(_write(tmp_path, "canvas: {url: 'http://canvas.example.edu'}\n"), env={})
    for host in ("localhost", "127.0.0.1", "[::1]"):
        assert load_config(_write(tmp_path, f"canvas: {{url: 'http://{host}:1'}}\n"), env={}).canvas.url


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", env={})
    with pytest.raises(ConfigError, match=r"reconcile.yaml:3: not valid YAML"):
        load_config(_write(tmp_path, "canvas:\n  url: [\n"), env={})
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, "- a\n"), env={})


def test_config_to_dict_is_json_and_tokenless() -> None:
    config = load_config(EXAMPLES / "sis-export/reconcile.yaml", env={"CANVAS_API_TOKEN": "secret"})
    data = config_to_dict(config)
    text = json.dumps(data)
    assert "secret" not in text and "token" not in text
    assert data["guards"]["protected_roles"] == ["TeacherEnrollment"]
    assert data["roster"]["custom_roles"] == {"Grader": "TaEnrollment"}


def test_every_schema_key_has_a_description_and_default() -> None:
    from reconcile import schemas

    def walk(node: dict, path: str) -> None:  # type: ignore[type-arg]
        for key, sub in node.get("properties", {}).items():
            assert sub.get("description"), f"{path}{key} lacks a description"
            assert "default" in sub, f"{path}{key} lacks a default"
            walk(sub, f"{path}{key}.")

    walk(schemas.load("config"), "")


def test_schema_defaults_match_the_dataclasses() -> None:
    from reconcile import schemas

    schema = schemas.load("config")
    data = config_to_dict(Config())
    for section in ("canvas", "manage", "policy", "guards"):
        for key, sub in schema["properties"][section]["properties"].items():
            default = sub["default"]
            if key in {"protected_roles", "roles"} and default:
                default = [{"teacher": "TeacherEnrollment"}.get(r, r) for r in default]
            assert data[section][key] == default, f"{section}.{key}"


KEYS = [
    "canvas",
    "url",
    "manage",
    "roles",
    "policy",
    "drop",
    "guards",
    "roster",
    "custom_roles",
    "oneroster",
    "role_map",
    "state_dir",
    "per_page",
    "token",
    "x",
]
NODE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 500),
        st.text(max_size=6),
        st.sampled_from(["http://a.b", "teacher"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(document=NODE)
def test_any_document_gives_a_config_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, document: object
) -> None:
    path = tmp_path_factory.mktemp("cfg") / "reconcile.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        config = load_config(path, env={})
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(str(path)) for p in exc.problems)
    else:
        assert isinstance(config, Config)
        json.dumps(config_to_dict(config))


def test_urls_carrying_secrets_are_refused_without_echo(tmp_path: Path) -> None:
    for url in (
        "https://canvas.example.edu/?access_token=s3cr3t",
        "https://user:s3cr3t@canvas.example.edu",
        "s3cr3t",
    ):
        with pytest.raises(ConfigError) as caught:
            load_config(None, env={"CANVAS_API_URL": url})
        assert "s3cr3t" not in str(caught.value)


def test_manage_roles_are_checked_like_roster_roles(tmp_path: Path) -> None:
    text = (
        "manage: {roles: [student, t\u0435acher, Gradr, Grader, TaEnrollment]}\n"
        "guards: {protected_roles: [teachr]}\n"
        "roster: {custom_roles: {Grader: ta}}\n"
    )
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.problems == (
        f'{path}: manage.roles[1]: unknown role "t\u0435acher" (did you mean "teacher"?) '
        "(it holds '\u0435' CYRILLIC SMALL LETTER IE); declare custom roles in roster.custom_roles",
        f'{path}: manage.roles[2]: unknown role "Gradr" (did you mean "Grader"?); '
        "declare custom roles in roster.custom_roles",
        f'{path}: guards.protected_roles[0]: unknown role "teachr" (did you mean "teacher"?); '
        "declare custom roles in roster.custom_roles",
    )
    fixed = _write(
        tmp_path, text.replace("t\u0435acher", "teacher").replace("Gradr", "ta").replace("teachr", "Grader")
    )
    assert load_config(fixed, env={}).manage.roles == (
        "StudentEnrollment",
        "TeacherEnrollment",
        "TaEnrollment",
        "Grader",
    )
