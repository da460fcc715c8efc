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
