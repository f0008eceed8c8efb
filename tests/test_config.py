from pathlib import Path

from agent.config import StationConfig, load_config
from agent.i18n import set_language

DEFAULT_FILE = Path(__file__).parents[1] / "agent" / "data" / "reeeboot.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reeeboot.toml"
    path.write_text(text)
    return path


def test_shipped_default_file_is_valid_and_safe() -> None:
    config, problems = load_config(DEFAULT_FILE)
    assert problems == []
    assert config == StationConfig(language="fr", unattended=False)


def test_valid_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, 'language = "en"\nunattended = true\n[station]\nname = "lyon-3"\n'
                 '[hub]\nurl = "http://10.0.2.2:8080"\nenrollment_token = "abc"\n')
    config, problems = load_config(path)
    assert problems == []
    assert config == StationConfig("en", True, "lyon-3", "http://10.0.2.2:8080", "abc")


def test_missing_file_gives_defaults_and_says_so(tmp_path: Path) -> None:
    config, problems = load_config(tmp_path / "absent.toml")
    assert config == StationConfig()
    assert len(problems) == 1 and problems[0].line is None


def test_syntax_error_reports_line_and_never_goes_unattended(tmp_path: Path) -> None:
    path = write(tmp_path, 'unattended = true\nlanguage = "fr\n')
    config, problems = load_config(path)
    assert config.unattended is False
    assert problems[0].line == 2
    assert problems[0].describe().startswith(f"{path}:2:")


def test_wrong_type_reports_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'unattended = true\n\n[hub]\nurl = 42\n')
    config, problems = load_config(path)
    assert [(p.line, p.key) for p in problems] == [(4, "hub.url")]
    assert config.hub_url == ""
    assert config.unattended is False  # any problem turns unattended off


def test_unknown_key_and_bad_language(tmp_path: Path) -> None:
    path = write(tmp_path, 'langage = "fr"\nlanguage = "de"\n[station]\nnom = "x"\n')
    config, problems = load_config(path)
    assert {(p.line, p.key) for p in problems} == {(1, "langage"), (2, "language"),
                                                   (4, "station.nom")}
    assert config.language == "fr"


def test_problem_is_told_in_the_language_in_use_when_shown(tmp_path: Path) -> None:
    set_language("fr")
    path = write(tmp_path, 'unattended = "oui"\n')
    _config, problems = load_config(path)
    assert problems[0].describe().endswith("clé « unattended » : doit être true ou false")
    set_language("en")
    try:
        assert problems[0].describe().endswith("key 'unattended': must be true or false")
    finally:
        set_language("fr")


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'hub = "http://hub"\n')
    _config, problems = load_config(path)
    assert [(p.line, p.key) for p in problems] == [(1, "hub")]
    assert "[hub]" in problems[0].describe()


def test_the_windows_key_is_kept_only_when_the_workshop_asks(tmp_path: Path) -> None:
    path = tmp_path / "reeeboot.toml"
    path.write_text("[inventory]\nkeep_windows_key = true\n")
    config, problems = load_config(path)
    assert problems == [] and config.keep_windows_key
    path.write_text("")
    assert load_config(path)[0].keep_windows_key is False


def test_the_health_pass_is_set_in_its_own_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[health]\nself_test = "long"\ncpu_seconds = 0\nmemory_seconds = 30\n'
                 'battery_seconds = 600\n')
    config, problems = load_config(path)
    assert problems == []
    assert (config.health_self_test, config.health_cpu_seconds, config.health_memory_seconds,
            config.health_battery_seconds) == ("long", 0, 30, 600)
    wrong = write(tmp_path, 'unattended = true\n[health]\nself_test = "extended"\n'
                  'memory_seconds = -5\nbattery_seconds = "3 min"\n')
    config, problems = load_config(wrong)
    assert [(problem.line, problem.key) for problem in problems] == [
        (3, "health.self_test"), (4, "health.memory_seconds"), (5, "health.battery_seconds")]
    assert (config.health_self_test, config.health_memory_seconds,
            config.health_battery_seconds) == ("short", 120, 180)
    assert config.unattended is False
