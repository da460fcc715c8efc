"""Settings for the test run: the product's own settings, plus the switches only tests use.

pytest (pyproject's DJANGO_SETTINGS_MODULE) and the daphne and worker processes that tests
start load this module; a deployment never does.
"""

from studio.env import env_str
from studio.settings import *  # noqa: F403 - the product's settings, unchanged

# Where the engine's entry points live (``generation.pipeline.compose_module`` and
# ``transfer_module``). Empty: the real ones, generation.ml.compose and generation.ml.transfer.
# Worker-process tests set them in the worker's environment to tests.jobs_engine, a small
# stand-in with a known speed (see its docstring); in-process tests set them with the
# ``settings`` fixture.
STUDIO_COMPOSE_MODULE = env_str("STUDIO_COMPOSE_MODULE", "")
STUDIO_TRANSFER_MODULE = env_str("STUDIO_TRANSFER_MODULE", "")


def _pause_while_finishing() -> None:
    """``STUDIO_TEST_FINISH_DELAY`` (seconds, env): a worker process pauses while finishing a
    job, after it has moved a variant's folder into ``tracks/`` and before the transaction
    that makes the tracks commits, so a test can kill it there."""
    import os

    seconds = float(os.environ.get("STUDIO_TEST_FINISH_DELAY", "0") or 0)
    if seconds <= 0:
        return
    import shutil
    import time
    from pathlib import Path

    real_move = shutil.move

    def move(src, dst, *args, **kwargs):
        out = real_move(src, dst, *args, **kwargs)
        if Path(dst).parent.name == "tracks":  # finish_job moving a variant into place
            time.sleep(seconds)
        return out

    shutil.move = move


_pause_while_finishing()
