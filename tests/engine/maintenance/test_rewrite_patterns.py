"""rewrite's exclude patterns follow restic's filter.Match (internal/filter/filter.go)."""

from __future__ import annotations

import pytest

from boxvault.engine.rewrite import RewriteError, match, validate_patterns


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.log", "/var/app/x.log", True),  # relative: any component run, here the last one
        ("*.log", "/var/app.log/inner", True),  # a matching directory excludes what is below it
        ("*.log", "/var/app/x.logs", False),
        ("app", "/var/app/x", True),
        ("app", "/var/application", False),
        ("var/app", "/srv/var/app/x", True),
        ("/var/app", "/var/app/x", True),  # absolute: a prefix of the path
        ("/app", "/var/app", False),
        ("/var/*/x", "/var/app/x", True),
        ("/var/*/x", "/var/a/b/x", False),
        ("/var/**/x", "/var/a/b/x", True),  # ** spans any number of components, including none
        ("/var/**/x", "/var/x", True),
        ("**/secret.txt", "/home/jane/docs/secret.txt", True),
        ("/**/secret.txt", "/secret.txt", True),
        ("secret.tx?", "/a/secret.txt", True),
        ("file[0-9].bin", "/d/file7.bin", True),
        ("file[^0-9].bin", "/d/file7.bin", False),
        ("file[^0-9].bin", "/d/fileX.bin", True),
        ("a\\*b", "/x/a*b", True),
        ("a\\*b", "/x/aXb", False),
        ("jane@corp.com/Docs", "/jane@corp.com/Docs/contract.pdf", True),
        ("Ünïcødé", "/src/Ünïcødé/ファイル.txt", True),
        ("", "/anything", True),
    ],
)
def test_match(pattern: str, path: str, expected: bool) -> None:
    assert match(pattern, path) is expected


def test_validate_patterns() -> None:
    assert validate_patterns([" *.log ", "", "/a/**/b"]) == ["*.log", "/a/**/b"]
    with pytest.raises(RewriteError, match="unclosed"):
        validate_patterns(["file[0-9"])
