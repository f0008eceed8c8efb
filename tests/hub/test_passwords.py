"""A hub account's password: long, neither common nor obvious (OWASP ASVS 2.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.cli import main
from hub.passwords import password_problem

EMAIL = "chef.atelier@example.org"


@pytest.mark.parametrize("password", [
    "aaaaaaaa", "aaaaaaaaaaaaaaaa", "abcabcabcabcabc", "121212121212", "123456789012",
    "Password2024!", "motdepasse1234", "AZERTYUIOP123", "!!Reeeboot2026!!", "short",
    EMAIL, f"xx{EMAIL}xx", "chef.atelier-2026",
])
def test_common_and_obvious_passwords_are_refused(password: str) -> None:
    assert password_problem(password, EMAIL) is not None


@pytest.mark.parametrize("password", [
    "correct horse battery", "le vélo bleu de Mamie", "tZ7#qv!2Lp9w", "a long enough secret",
])
def test_long_unusual_passwords_are_accepted(password: str) -> None:
    assert password_problem(password, EMAIL) is None


def test_the_command_line_refuses_them_in_the_operators_language(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weak = tmp_path / "weak"
    weak.write_text("aaaaaaaa\n")
    assert main(["--database", database_url, "user", "add", EMAIL, "--role", "admin",
                 "--password-file", str(weak)]) == 2
    assert "12" in capsys.readouterr().err
    weak.write_text(f"{EMAIL}\n")
    assert main(["--database", database_url, "user", "add", EMAIL, "--role", "admin",
                 "--password-file", str(weak)]) == 2
    assert "adresse" in capsys.readouterr().err  # French by default
