"""README and the acceptance tests stay in step: every documented command is run by an acceptance test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shell import REPO

ACCEPTANCE = Path(__file__).parent
RUNNABLE = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:python -m pipeline\b|roadtune\b)")


def readme_commands(text: str) -> list[str]:
    """The `python -m pipeline...` and `roadtune ...` commands of README's fenced bash blocks, continuation
    lines joined, comments and extra spaces dropped.
    """
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
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


def test_every_readme_command_has_an_acceptance_test():
    commands = readme_commands((REPO / "README.md").read_text())
    assert len(commands) >= 15, commands
    untested = [c for c in commands if c not in acceptance_strings()]
    assert not untested, f"README commands no acceptance test types: {untested}"


def test_the_check_reads_continuations_and_comments():
    text = "```bash\nexport X=1\npython -m pipeline.run a.yaml \\\n    --set b=1   # note\nls\n```\n"
    assert readme_commands(text) == ["python -m pipeline.run a.yaml --set b=1"]
