"""What ``sweeper tasks`` lists: the tasks registered under the ``sweeper.tasks`` entry-point
group (the built-in case studies, then those of installed packages), each with its data set,
model, defaults and options. A registered task that cannot be loaded is listed with why, not
dropped."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from sweeper.errors import TaskError
from sweeper.tasks.api import Description
from sweeper.tasks.entry_points import task_references
from sweeper.tasks.loading import load_task


def describe_tasks(search_path: Sequence[Path] = ()) -> list[Description]:
    rows = []
    for reference, origin in task_references():
        try:
            loaded = load_task(reference, search_path)
        except TaskError as exc:
            rows.append(Description(reference, reference, origin, "", "", problem=str(exc)))
            continue
        task = loaded.task
        rows.append(
            Description(
                name=task.name,
                reference=reference,
                origin=origin,
                dataset=task.dataset,
                model=task.model,
                defaults=dataclasses.asdict(task.defaults),
                options={k: dataclasses.asdict(v) for k, v in task.options.items()},
                objective=task.objective.to_dict(),
            )
        )
    return rows
