"""User-facing errors: the message and one line per problem, each capped; values shown briefly; a command's
UserError or a fault of the place it writes to is exit 2 without a traceback, anything else still raises."""

from __future__ import annotations

import errno

import pytest

from pipeline.errors import EXIT_USER_ERROR, MAX_LINE, UserError, brief, capped, cli_entry


def test_render_is_the_message_then_one_indented_line_per_problem():
    assert UserError("bad recipe", ["train.lr0: must be >= 0", "name: add this key"]).render() == (
        "error: bad recipe\n  - train.lr0: must be >= 0\n  - name: add this key")
    assert UserError("no such file: x.yaml").render() == "error: no such file: x.yaml"
    assert UserError("x", iter(["a"])).problems == ["a"]  # any sequence, kept as a list


def test_problem_lines_are_capped_and_values_shown_briefly():
    huge = "x" * 5_000_000
    rendered = UserError(f"bad {huge}", [f"train.lr0: {huge}"]).render()
    assert len(rendered) < 3 * MAX_LINE and "more characters)" in rendered
    assert all(len(line) < MAX_LINE + 60 for line in rendered.splitlines())
    assert brief(huge) == "a str of 5,000,000 characters" and brief([1] * 1000) == "a list of 1,000 items"
    assert brief("sixteen") == "'sixteen'"


def test_capped_keeps_a_line_at_the_limit_and_counts_what_it_cuts():
    assert capped("a" * 10, limit=10) == "a" * 10
    assert capped("a" * 1234 + "b", limit=10) == "a" * 10 + "... (1,225 more characters)"


@pytest.mark.parametrize("value, shown", [
    (b"y" * 61, "a bytes of 61 characters"), ("y" * 40, repr("y" * 40)),
    ({i: i for i in range(9)}, "a dict of 9 items"),
    ("y" * 60, "'" + "y" * 27 + "..." + "y" * 28 + "'"),  # reprlib's 60 characters, quotes included
    ((1, 2), "(1, 2)"), ([[[[1]]]], "[[[[...]]]]"), (None, "None"), (True, "True")])
def test_brief_shows_short_values_as_their_repr_and_long_ones_by_size(value, shown):
    assert brief(value) == shown


def test_cli_entry_turns_a_user_error_into_exit_2_with_its_message(capsys):
    def main(argv=None):
        raise UserError("invalid recipe r.yaml", ["train.lr0: must be >= 0"])

    assert cli_entry(main)([]) == EXIT_USER_ERROR == 2
    assert capsys.readouterr().err == "error: invalid recipe r.yaml\n  - train.lr0: must be >= 0\n"


@pytest.mark.parametrize("returned, code", [(None, 0), (0, 0), (1, 1), (3, 3)])
def test_cli_entry_passes_the_exit_code_through_and_keeps_the_docstring(returned, code):
    def main(argv=None):
        """Run the thing."""
        return returned

    assert cli_entry(main)(["x"]) == code and cli_entry(main).__doc__ == "Run the thing."


def test_a_fault_of_the_place_written_to_is_exit_2_naming_the_file(capsys):
    def main(argv=None):
        raise OSError(errno.ENOSPC, "No space left on device", "runs/x/1/metrics.json")

    assert cli_entry(main)([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write runs/x/1/metrics.json: the disk is full (No space left on device)")
    assert "--resume" in err and "Traceback" not in err


def test_other_os_errors_and_bugs_still_raise_and_ctrl_c_is_130(capsys):
    def missing(argv=None):
        raise OSError(errno.ENOENT, "No such file or directory", "x")

    def bug(argv=None):
        raise KeyError("x")

    def interrupted(argv=None):
        raise KeyboardInterrupt

    with pytest.raises(FileNotFoundError):
        cli_entry(missing)([])
    with pytest.raises(KeyError):
        cli_entry(bug)([])
    assert cli_entry(interrupted)([]) == 130 and capsys.readouterr().err == "interrupted\n"
