"""Case studies: one module per task, all of the shape described in ``sweeper.tasks``."""
