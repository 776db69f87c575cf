"""The house rules of the layout, checked on the source: the run folder's names are spelled in
pipeline/run_folder.py alone, no module of pipeline/ imports (even lazily) one that imports it back, and no package
imports one above it in :data:`LAYERS`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO

import pipeline.run_folder as run_folder

PACKAGE = REPO / "pipeline"
# a folder name is only looked for where a path is joined (`x / "stages"`): "stages" is also a recipe key
FOLDERS = {v for v in (run_folder.STAGES, run_folder.PSEUDO, run_folder.POINTS, run_folder.VIDEO,
                                     run_folder.EXPORT)}
# other folders' own names that happen to equal a run folder's: the video demo's output folder, a dataset's yaml
OWNED_ELSEWHERE = {("video/outputs.py", "summary.json"), ("datasets", "data.yaml"), ("distill/pseudo.py", "data.yaml")}
# The package order, lowest first (docs/code-layout.md quotes it): a package imports only from its own layer and
# the layers below it. The first layer is pipeline/'s own modules that every package may use.
LAYERS = (
    ("errors", "textfile", "run_folder", "records", "cache", "ultralytics_api", "checkpoints", "bootstrap", "cli"),
    ("recipe",),
    ("datasets",),
    ("evaluation",),
    ("train",),
    ("distill",),
    ("video",),
    ("export",),
    ("execute",),
    ("compare",),
    ("sweep",),
    ("run",),
)


def _names() -> set[str]:
    """Every file name the run folder module defines (the last part of each path constant)."""
    values = [v for k, v in vars(run_folder).items() if k.isupper() and isinstance(v, str)]
    values += [p for k, v in vars(run_folder).items() if k.isupper() and isinstance(v, tuple) for p in v]
    return {Path(v).name for v in values if "." in Path(v).name}


def _code_strings(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, text, joined by `/`) of every string constant that is not a docstring."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    joined = {id(node.right) for node in ast.walk(tree) if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)}
    return [(node.lineno, node.value, id(node) in joined) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _owned_elsewhere(module: str, name: str) -> bool:
    return any((module == where or module.startswith(f"{where}/")) and name == n for where, n in OWNED_ELSEWHERE)


def test_no_module_but_run_folder_spells_a_run_folder_name():
    pattern = re.compile(rf"(?<![\w.])({'|'.join(map(re.escape, sorted(_names())))})(?![\w])")
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "run_folder.py":
            continue
        for line, text, is_joined in _code_strings(ast.parse(path.read_text())):
            spelled += [f"{module}:{line}: {m}" for m in pattern.findall(text) if not _owned_elsewhere(module, m)]
            if is_joined and text.strip("/") in FOLDERS:
                spelled.append(f"{module}:{line}: / {text!r}")
    assert len(_names()) >= 20, sorted(_names())  # the check really looks for the layout's names
    assert spelled == [], "run-folder names spelled outside pipeline/run_folder.py:\n" + "\n".join(spelled)


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def import_graph() -> dict[str, set[str]]:
    """Module -> the pipeline modules it imports, at module level or inside functions (a lazy import is still
    a dependency; TYPE_CHECKING imports too)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}

    def owner(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        graph[name] = {owner(t) for t in targets if t.startswith("pipeline")} - {name, "pipeline", ""}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 50 and "pipeline.execute.loop" in graph["pipeline.run"]
    assert cycles(graph) == []


# Modules without a mirrored test file, each with the tests that cover it. A new module gets its own test file
# (tests/<subpackage>/test_<module>.py) or an entry here; a module that gets its test file leaves this list.
TESTED_ELSEWHERE = {
    "bootstrap.py": "every entry point calls it first; tests/test_checkpoints.py runs it before Ultralytics",
    "compare/__main__.py": "the compare command: tests/compare/test_compare.py, tests/acceptance/",
    "compare/advise.py": "tests/compare/test_compare.py, tests/acceptance/test_compare_commands.py",
    "compare/collect.py": "run folders read back, failed, stopped and unreadable ones: tests/compare/test_compare.py, "
                          "tests/compare/test_results.py, tests/sweep/test_search.py",
    "compare/comparison.py": "the report's contents: tests/compare/test_view.py, tests/compare/test_report.py",
    "compare/plots.py": "the report's figures: tests/compare/test_compare.py, tests/compare/test_report.py",
    "compare/recommend.py": "tests/compare/test_compare.py",
    "compare/tables.py": "the report's tables: tests/compare/test_report.py",
    "datasets/__main__.py": "the datasets command: tests/datasets/test_check.py, tests/datasets/test_convert.py",
    "distill/losses.py": "tests/distill/test_trainers.py",
    "export/__main__.py": "the export command: tests/export/test_export_run.py",
    "execute/prepare.py": "tests/recipe/test_schema.py, tests/datasets/test_check.py (the run's checks)",
    "execute/console.py": "the closing lines of every run: tests/test_run.py, tests/acceptance/test_run_commands.py",
    "recipe/distill.py": "the distill section of every distillation test: tests/distill/test_trainers.py",
    "recipe/video.py": "tests/video/test_video.py, tests/test_cli.py",
    "recipe/sweep.py": "tests/sweep/test_grid.py",
    "sweep/asha.py": "the successive-halving search on Ray Tune: tests/sweep/test_search.py",
    "sweep/executors.py": "tests/sweep/test_sweep.py",
    "sweep/run.py": "tests/sweep/test_sweep.py",
    "sweep/worker.py": "tests/sweep/test_sweep.py, tests/test_run_folder.py",
    "train/stages.py": "tests/execute/test_loop.py (each stage through Ultralytics' trainer)",
    "video/__main__.py": "the video command: tests/acceptance/test_video_datasets_commands.py",
    "video/backend.py": "tests/video/test_video.py",
    "video/cli.py": "tests/video/test_video.py, tests/test_cli.py",
    "video/run.py": "tests/video/test_video.py",
}


def mirrored_tests(module: str) -> list[Path]:
    """Where a module's own tests live: tests/<subpackage>/test_<module>.py, or test_<subpackage>_<module>.py where
    that file name is taken (pytest needs each test file name once: tests/test_run.py, tests/export/test_config.py)."""
    path = Path(module)
    folder = REPO / "tests" / path.parent
    return [folder / f"test_{path.stem}.py", folder / f"test_{'_'.join((*path.parent.parts, path.stem))}.py"]


def modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def test_each_module_has_its_test_file_or_names_the_tests_that_cover_it():
    own = {m for m in modules() if any(t.is_file() for t in mirrored_tests(m))}
    untested = [m for m in modules() if m not in own and m not in TESTED_ELSEWHERE]
    assert untested == [], f"add tests/<subpackage>/test_<module>.py (or an entry in TESTED_ELSEWHERE): {untested}"
    stale = sorted(m for m in TESTED_ELSEWHERE if m in own or m not in modules())
    assert stale == [], f"remove from TESTED_ELSEWHERE (gone, or it has its own test file now): {stale}"
    named = {t for reason in TESTED_ELSEWHERE.values() for t in re.findall(r"tests/[\w/]*\w(?:\.py)?", reason)}
    assert sorted(t for t in named if not (REPO / t).exists()) == []


def test_code_layout_counts_the_modules_with_their_own_test_file():
    total = len(modules())
    own = total - len(TESTED_ELSEWHERE)
    layout = (REPO / "docs" / "code-layout.md").read_text()
    assert f"for {own} of {total} modules" in layout, f"docs/code-layout.md: say `for {own} of {total} modules`"


def layer_of(module: str) -> int:
    """The index in LAYERS of a pipeline module's package (or of the top-level module itself)."""
    part = module.split(".")[1]
    return next(i for i, names in enumerate(LAYERS) if part in names)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """`module -> imported` for every import from a lower layer to a higher one."""
    return sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                  if layer_of(target) > layer_of(module))


def test_the_layer_check_finds_an_upward_import():
    graph = {"pipeline.recipe.schema": {"pipeline.train.args", "pipeline.errors"},
             "pipeline.train.args": {"pipeline.recipe.schema"}}
    assert upward_imports(graph) == ["pipeline.recipe.schema -> pipeline.train.args"]


def test_every_package_has_its_layer():
    placed = {name for names in LAYERS for name in names}
    present = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
               if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert present == placed
    assert " < ".join(map("/".join, LAYERS)) in (REPO / "docs" / "code-layout.md").read_text()


def test_no_package_imports_one_above_it():
    upward = upward_imports(import_graph())
    assert upward == [], f"imports from a lower package to a higher one ({' < '.join(map('/'.join, LAYERS))}):\n" + \
        "\n".join(upward)
