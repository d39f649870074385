"""Finding a task by its reference and validating it once: built-ins, modules, module:Name,
files, entry points; and every bad task as one line naming the file."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from sweeper.errors import TaskError
from sweeper.tasks import Objective, load_task, resolve_options
from sweeper.tasks.fingerprint import fingerprint

GOOD = '''
from sweeper import DataRequest, Hyperparams, Option, Splits, Task, TaskDefaults

class Tiny(Task):
    name = "tiny"
    dataset = "nothing"
    model = "nothing"
    defaults = TaskDefaults(epochs=2, batch_size=8)
    options = {"width": Option(4, minimum=1), "kind": Option("a", choices=("a", "b")), "flag": Option(False)}

    def load_data(self, request: DataRequest) -> Splits:
        raise NotImplementedError

    def build_model(self, hp: Hyperparams, splits: Splits, learning_rate):
        raise NotImplementedError
'''


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize("name", ["cifar10", "librispeech", "imdb"])
def test_builtin_names_load_the_case_studies(name: str) -> None:
    loaded = load_task(name)
    assert loaded.name == name and loaded.origin == "built-in"
    assert loaded.source is not None and loaded.source.name == f"{name}.py"
    assert len(loaded.fingerprint) == 16


def test_a_file_by_path_relative_to_the_working_directory(tmp_path: Path) -> None:
    _write(tmp_path, "my_task.py", GOOD)
    loaded = load_task("./my_task.py")
    assert loaded.name == "tiny" and loaded.origin == "file" and loaded.where == "my_task.py"
    assert load_task("./my_task.py") is loaded  # loaded once per process
    assert load_task("my_task.py:Tiny").name == "tiny"


def test_a_file_on_the_task_path(tmp_path: Path) -> None:
    _write(tmp_path / "tasks", "remote_task.py", GOOD)
    with pytest.raises(TaskError, match="task file remote_task.py not found"):
        load_task("remote_task.py")
    assert load_task("remote_task.py", [tmp_path / "tasks"]).name == "tiny"


def test_a_module_and_a_module_attribute(tmp_path: Path) -> None:
    _write(tmp_path / "pkg_a", "__init__.py", "")
    _write(tmp_path / "pkg_a", "tasks.py", GOOD + "\nclass Other(Tiny):\n    name = 'other'\n")
    with pytest.raises(TaskError, match=r"defines several tasks \(Other, Tiny\): name one, e.g. .*:Other"):
        load_task("pkg_a.tasks")
    assert load_task("pkg_a.tasks:Other").name == "other"
    assert load_task("pkg_a.tasks:Tiny").origin == "module"


def test_a_bare_module_name_in_the_working_directory(tmp_path: Path) -> None:
    """`sweeper run mytask` with mytask.py in the current folder (no PYTHONPATH needed)."""
    _write(tmp_path, "mytask.py", GOOD)
    assert load_task("mytask").name == "tiny"


def test_an_instance_stands_for_its_class(tmp_path: Path) -> None:
    _write(tmp_path, "inst.py", GOOD + "\ntask = Tiny()\n")
    assert load_task("inst.py").name == "tiny"


def test_fingerprint_follows_the_code(tmp_path: Path) -> None:
    path = _write(tmp_path, "fp_a.py", GOOD)
    first = load_task(str(path)).fingerprint
    copy = _write(tmp_path, "fp_b.py", GOOD)
    assert load_task(str(copy)).fingerprint == first  # same code, same fingerprint
    changed = _write(tmp_path, "fp_c.py", GOOD + "\n# changed\n")
    assert load_task(str(changed)).fingerprint != first


def test_fingerprint_reads_the_source_and_the_class_file(tmp_path: Path) -> None:
    """The reference's file and the file defining the task's class both count; a task with no
    file to read is fingerprinted by its class's name."""
    _write(tmp_path / "fp_pkg", "__init__.py", "")
    base = _write(tmp_path / "fp_pkg", "base.py", GOOD)
    user = _write(tmp_path, "fp_user.py", "from fp_pkg.base import Tiny\ntask = Tiny()\n")
    sys.path.insert(0, str(tmp_path))
    try:
        from fp_pkg.base import Tiny
    finally:
        sys.path.remove(str(tmp_path))
    task = Tiny()
    first = fingerprint(task, user)
    assert len(first) == 16 and fingerprint(task, user) == first
    user.write_text(user.read_text() + "# an edit to the file the reference names\n")
    second = fingerprint(task, user)
    assert second != first
    base.write_text(base.read_text() + "# an edit to the class's own file\n")
    assert fingerprint(task, user) not in (first, second)
    assert fingerprint(task, None) != fingerprint(task, user)  # the class file alone


def test_the_builtins_are_declared_in_pyproject_and_load() -> None:
    """The case studies are entry points of the sweeper.tasks group in sweeper's own pyproject.toml
    (what `pip install` registers), each naming the class its module defines."""
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["sweeper.tasks"]
    assert declared == {"cifar10": "studies.cifar10:Cifar10", "librispeech": "studies.librispeech:LibriSpeech",
                        "imdb": "studies.imdb:Imdb"}
    for name, target in declared.items():
        loaded = load_task(name)
        assert loaded.origin == "built-in" and loaded.name == name
        assert f"{type(loaded.task).__module__}:{type(loaded.task).__name__}" == target


def test_builtins_are_found_in_installed_metadata_like_any_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed sweeper (a wheel: no pyproject.toml beside the package) finds its case studies
    through its entry points alone, and labels them built-in."""
    from sweeper.tasks import entry_points, loading

    monkeypatch.setattr(entry_points, "_checkout_entry_points", lambda: [])
    monkeypatch.setattr(loading, "_LOADED", {})
    site = tmp_path / "site"
    info = site / "sweeper-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sweeper\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[sweeper.tasks]\nimdb = studies.imdb:Imdb\n")
    monkeypatch.syspath_prepend(str(site))
    assert entry_points.task_references() == [("imdb", "built-in")]
    assert load_task("imdb").origin == "built-in"
    with pytest.raises(TaskError, match=r"^built-in task 'cifar10' is not registered: reinstall sweeper \(pip install -e \.\)$"):
        load_task("cifar10")


BAD = [
    ("syntax.py", "class Broken(:\n", r"syntax.py has a syntax error at line 1"),
    ("imports.py", "import no_such_module_anywhere\n",
     r"imports.py cannot be imported: ModuleNotFoundError: No module named 'no_such_module_anywhere' \(imports.py, line 1\)"),
    ("raises.py", "x = 1\nraise RuntimeError('boom')\n", r"raises.py cannot be imported: RuntimeError: boom \(raises.py, line 2\)"),
    ("empty.py", "x = 1\n", r"empty.py defines no sweeper task: subclass sweeper.Task"),
    ("no_build.py", GOOD.replace("def build_model", "def other"), r"no_build.py: Tiny has no build_model: define build_model\(self, hp, splits, learning_rate\)"),
    ("no_load.py", GOOD.replace("def load_data", "def other"), r"no_load.py: Tiny has no load_data"),
    ("bad_sig.py", GOOD.replace("def build_model(self, hp: Hyperparams, splits: Splits, learning_rate)", "def build_model(self, hp)"),
     r"bad_sig.py: Tiny.build_model\(hp\) cannot be called as build_model\(hp, splits, learning_rate\)"),
    ("bad_name.py", GOOD.replace('name = "tiny"', 'name = "no spaces please"'), r"bad_name.py: Tiny.name is 'no spaces please'"),
    ("no_name.py", GOOD.replace('name = "tiny"', ''), r"no_name.py: Tiny.name is ''"),
    ("bad_defaults.py", GOOD.replace("defaults = TaskDefaults(epochs=2, batch_size=8)", "defaults = {'epochs': 2}"),
     r"bad_defaults.py: Tiny.defaults is a dict: set defaults = TaskDefaults"),
    ("bad_default_values.py", GOOD.replace("TaskDefaults(epochs=2, batch_size=8)", "TaskDefaults(epochs=0)"),
     r"bad_default_values.py cannot be imported: ValueError: TaskDefaults needs epochs >= 1"),
    ("bad_options.py", GOOD.replace('"width": Option(4, minimum=1)', '"width": 4'), r"bad_options.py: Tiny.options must map option names to sweeper.Option"),
    ("bad_objective.py", GOOD.replace('model = "nothing"', 'model = "nothing"\n    objective = Objective("val_auc")').replace("Option, Splits", "Objective, Option, Splits"),
     r"bad_objective.py cannot be imported: ValueError: Objective metric 'val_auc' must be a Keras metric name"),
    ("two_lines.py", GOOD.replace('dataset = "nothing"', 'dataset = "a\\nb"'), r"two_lines.py: Tiny.dataset must be one line"),
]


@pytest.mark.parametrize(("filename", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_task_file_is_one_line_naming_the_file_and_the_piece(tmp_path: Path, filename: str, text: str, message: str) -> None:
    _write(tmp_path, filename, text)
    with pytest.raises(TaskError, match=message) as caught:
        load_task(filename)
    assert "\n" not in str(caught.value)


def test_a_missing_file_and_an_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=r"task file nope.py not found \(looked at"):
        load_task("nope.py")
    with pytest.raises(TaskError, match=r"unknown task 'nosuchtask': not a built-in task \(cifar10, imdb, librispeech\)"):
        load_task("nosuchtask")
    with pytest.raises(TaskError, match=r"has no 'Missing': name a Task subclass"):
        load_task("studies.cifar10:Missing")
    with pytest.raises(TaskError, match=r"ARCHIVE is a Archive, not a sweeper Task"):
        load_task("studies.cifar10:ARCHIVE")


def _entry_point(site: Path, name: str, target: str, dist: str = "demo-tasks") -> None:
    """What `pip install` writes for a package that registers a task (its dist-info)."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sweeper.tasks]\n{name} = {target}\n")


def test_entry_points_register_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _write(site / "demo_pkg", "__init__.py", GOOD)
    _entry_point(site, "demo", "demo_pkg:Tiny")
    monkeypatch.syspath_prepend(str(site))
    loaded = load_task("demo")
    assert loaded.name == "tiny" and loaded.origin == "entry point of demo-tasks"
    from sweeper.tasks.describe import describe_tasks

    rows = {r.reference: r for r in describe_tasks()}
    assert rows["demo"].origin == "entry point of demo-tasks" and rows["demo"].problem is None
    assert rows["cifar10"].origin == "built-in"


def test_an_entry_point_naming_a_missing_object_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _write(site / "demo_pkg2", "__init__.py", GOOD)
    _entry_point(site, "broken", "demo_pkg2:Gone", dist="broken-tasks")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(TaskError, match=r"entry point 'broken' \(entry point of broken-tasks\) names demo_pkg2:Gone, "
                                        r"which does not exist .*fix \[project.entry-points.\"sweeper.tasks\"\]"):
        load_task("broken")
    from sweeper.tasks.describe import describe_tasks

    (row,) = [r for r in describe_tasks() if r.reference == "broken"]
    assert "does not exist" in (row.problem or "")  # listed with why, not dropped


def test_options_are_declared_once_and_checked(tmp_path: Path) -> None:
    _write(tmp_path, "opts.py", GOOD)
    loaded = load_task("opts.py")
    assert resolve_options(loaded, {}) == {"width": 4, "kind": "a", "flag": False}
    assert resolve_options(loaded, {"width": "7", "flag": "yes", "kind": "b"}) == {"width": 7, "kind": "b", "flag": True}
    for given, message in [
        ({"depth": 3}, r"unknown option 'depth' for task tiny: its options are width, kind, flag"),
        ({"width": 0}, r"option width=0 is below its minimum 1"),
        ({"width": 2.5}, r"option width=2.5 is not a int"),
        ({"kind": "c"}, r"option kind='c' is not one of a, b"),
        ({"flag": "maybe"}, r"option flag='maybe' is not a bool"),
    ]:
        with pytest.raises(TaskError, match=message):
            resolve_options(loaded, given)


def test_objective_names_and_directions() -> None:
    auc = Objective("auc")
    assert auc.log_key == "val_auc" and auc.on("test") == "test auc" and auc.better(0.9, 0.8)
    loss = Objective("loss", "minimize", label="cross-entropy")
    assert loss.better(0.1, 0.2) and not loss.in_points and loss.on("validation") == "validation cross-entropy"
    with pytest.raises(ValueError, match="'maximize' or 'minimize'"):
        Objective("loss", "down")


def teardown_module() -> None:
    # Modules the tests imported from their temporary folders must not leak into other tests.
    for name in [m for m in sys.modules if m.startswith(("sweeper_task_", "pkg_a", "demo_pkg", "mytask", "fp_pkg"))]:
        del sys.modules[name]
