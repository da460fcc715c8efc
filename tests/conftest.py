"""Shared fixtures: people, a real headless Chromium, throw-away Redis servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.processes import start_redis, stop_process

# The fixtures of the studio pages' tests (rendered_variant, make_track, studio_server, ...)
# and of the jobs tests (fast_jobs, worker_factory), registered once for every test file.
pytest_plugins = ["tests.jobs_fixtures", "tests.studio_fixtures"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "a-Long-enough-passw0rd"


@pytest.fixture
def make_user(django_user_model):
    def make(username: str = "owner", email: str | None = None, password: str = PASSWORD):
        return django_user_model.objects.create_user(
            username=username, email=email or f"{username}@example.com", password=password)
    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def stranger(make_user):
    return make_user("stranger")


@pytest.fixture(autouse=True)
def _clear_cache():
    """Every test starts with an empty cache (login throttling and rate limits live there)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session")
def tiny_model():
    """The one builder of tiny continuation Transformers (2 layers, 32 wide: a few thousand
    parameters, seconds to train): ``tiny_model(seed=0, block_size=64)``, in eval mode, with
    the project's tokenizer's vocabulary."""
    import torch

    from generation.ml.transformer import MusicTransformer, TransformerConfig
    from generation.music.tokenizer import Tokenizer

    vocab = Tokenizer().vocab_size

    def build(seed: int = 0, block_size: int = 64) -> MusicTransformer:
        torch.manual_seed(seed)
        cfg = TransformerConfig(vocab_size=vocab, block_size=block_size, n_layer=2, n_head=2,
                                n_embd=32, dropout=0.0)
        return MusicTransformer(cfg).eval()

    return build


@pytest.fixture(scope="module")
def random_grid_engine():
    """An untrained v2 grid model: what the decoding promises must hold whatever it prefers."""
    import torch

    from generation.ml.compose_v2 import GridEngine
    from generation.ml.train_grid import model_config
    from generation.ml.transformer import MusicTransformer
    from generation.music.grid import GridCodec

    codec = GridCodec()
    torch.manual_seed(1)
    model = MusicTransformer(model_config(codec.vocab_size, 32, 2, 2, 256, dropout=0.0)).eval()
    return GridEngine(model, codec, torch.device("cpu"), "random", Path("."), {})


@pytest.fixture
def spare_redis():
    """A second, private redis-server that a test may stop to simulate an outage."""
    proc, url = start_redis()
    yield proc, url
    stop_process(proc)


@pytest.fixture(scope="module")
def playwright_browser():
    """Debian's Chromium driven by Playwright; never a browser that Playwright downloads.

    Module-scoped: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is open, which would break ``async_to_sync`` in every later test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(playwright_browser):
    """A fresh browser context and page; console errors and CSP violations are collected
    in ``page.console_errors`` so tests can assert there are none."""
    context = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    yield pg
    context.close()


def log_in(page, base: str, name: str) -> None:
    """Log ``name`` in through the log-in form (by field ids: any interface language)."""
    page.goto(base + "/accounts/login/")
    page.locator("#id_username").fill(name)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(base + "/")


def screenshot(page, name: str) -> Path:
    """Save a screenshot under test-artifacts/ for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
