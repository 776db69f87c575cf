"""README, docs and the acceptance tests stay in step: every documented command is run by an acceptance test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from shell import REPO

ACCEPTANCE = Path(__file__).parent
RUNNABLE = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:python -m pipeline\b|roadtune\b)")
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
INDENTED = re.compile(r"(?:^|\n\n)((?: {4}[^\n]*(?:\n|$))+)")  # Markdown's indented code block after a blank line
DOCUMENTS = ["README.md", *sorted(p.relative_to(REPO).as_posix() for p in (REPO / "docs").rglob("*.md"))]
THREE_COMMANDS = ['pip install torch==2.14.1 torchvision==0.29.1 && pip install -e ".[dev]"',
                  "python -m pipeline.run recipes/quickstart.yaml", "python -m pytest -q"]


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a Markdown text, then its indented ones (outside the fenced blocks)."""
    return FENCED.findall(text) + [re.sub(r"^ {4}", "", b, flags=re.MULTILINE)
                                   for b in INDENTED.findall(FENCED.sub("", text))]


def readme_commands(text: str) -> list[str]:
    """The `python -m pipeline...` and `roadtune ...` commands of a Markdown text's code blocks, continuation
    lines joined, comments and extra spaces dropped.
    """
    commands = []
    for block in code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            command = " ".join(line.split(" #")[0].split())
            if RUNNABLE.match(command):
                commands.append(command)
    return commands


def acceptance_strings() -> set[str]:
    """Every string literal of the acceptance tests (adjacent literals joined, as Python joins them)."""
    found = set()
    for path in ACCEPTANCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(" ".join(node.value.split()))
    return found


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_documented_command_has_an_acceptance_test(document):
    commands = readme_commands((REPO / document).read_text())
    untested = [c for c in commands if c not in acceptance_strings()]
    assert not untested, f"{document} commands no acceptance test types: {untested}"


def test_readme_and_docs_show_the_commands():
    """The extraction finds them (a change of code-block style would otherwise pass the check above vacuously)."""
    assert len(readme_commands((REPO / "README.md").read_text())) >= 6
    assert len({c for d in DOCUMENTS for c in readme_commands((REPO / d).read_text())}) >= 20


def test_readme_first_screen_holds_the_three_commands_and_a_report():
    readme = (REPO / "README.md").read_text()
    assert len(readme) < 10_000, f"README.md has {len(readme)} characters"
    first_screen = readme.split("\n## ", 1)[0]
    setup = [" ".join(line.split(" #")[0].split()) for line in code_blocks(first_screen)[0].splitlines()]
    assert setup == THREE_COMMANDS
    (picture,) = re.findall(r"!\[[^]]*\]\((docs/example-report/[^)]+\.png)\)", first_screen)
    assert (REPO / picture).is_file(), picture


@pytest.mark.parametrize("document", DOCUMENTS)
def test_relative_links_point_at_files(document):
    path = REPO / document
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", FENCED.sub("", path.read_text()))
    missing = [link for link in links if not (path.parent / link).exists()]
    assert not missing, f"{document} links to missing files: {missing}"


def test_the_check_reads_continuations_comments_and_indented_blocks():
    text = "```bash\nexport X=1\npython -m pipeline.run a.yaml \\\n    --set b=1   # note\nls\n```\n"
    assert readme_commands(text) == ["python -m pipeline.run a.yaml --set b=1"]
    text = "Run:\n\n    python -m pipeline.compare a \\\n        --no-links\n\nprose python -m pipeline.run x\n"
    assert readme_commands(text) == ["python -m pipeline.compare a --no-links"]
