import os
from pathlib import Path

# One BLAS thread per test process (and the subprocesses it starts) unless the caller sets a count:
# two xdist workers with two OpenBLAS threads each on a 2-core machine ran 2.5-3x slower. The
# golden tests replay each recording with the thread count it was made with (golden/record_platform.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from dashboard_harness import check_prerequisites, chromium_page, dashboard_server  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from synapse_sim import Scenario  # noqa: E402
from synapse_sim.locations import notmnist_sample  # noqa: E402
from synapse_sim.randomness import STREAM_BATCH, generator  # noqa: E402
from synapse_sim.tasks import ClassificationTask  # noqa: E402
from synapse_sim.tasks.data import ENV_VAR  # noqa: E402

threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]), user_api="blas")  # numpy may have loaded before


def states(engine) -> np.ndarray:
    """Every synapse's synaptic-RL state index, sid order, from either view."""
    population = getattr(engine, "population", None)
    if population is not None:
        return population.state["state"]
    return np.array([agent.memory["state"] for agent in engine.synapses], dtype=np.int64)


def small_scenario(**overrides) -> Scenario:
    """The decision-boundary scenario on a smaller network, for fast tests."""
    base = {"layers": [2, 8, 1], "n_points": 200, "iterations": 100}
    base.update(overrides)
    return Scenario().with_overrides(base)


def random_classification_task(
    n_in=784, n_classes=10, n=600, seed=0, batch_size=200, batch_interval=3, dtype=np.float64
) -> ClassificationTask:
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_in))
    y = rng.integers(0, n_classes, n)
    split = n * 3 // 4
    return ClassificationTask(
        x[:split],
        y[:split],
        x[split:],
        y[split:],
        lambda b: generator(seed, STREAM_BATCH, b),
        batch_size=batch_size,
        batch_interval=batch_interval,
        hidden_activation="relu",
        dtype=dtype,
    )


@pytest.fixture
def scenario_small():
    return small_scenario()


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """``SYNAPSE_SIM_HOME`` in the test's own folder, so installed policies and rules never reach the real one."""
    monkeypatch.setenv("SYNAPSE_SIM_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def notmnist_path() -> Path:
    """The shared notMNIST sample: ``$SYNAPSE_SIM_NOTMNIST`` or ``../shared/data/notmnist`` beside the repository.

    Missing, the tests that need it are skipped, except under CI (``CI=true``), where that is a failure.
    """
    path = notmnist_sample() or Path(__file__).resolve().parents[2] / "shared" / "data" / "notmnist"
    if not path.exists():
        reason = (
            f"notMNIST sample not found at {path} (set {ENV_VAR} to the data, or keep the sample in "
            "../shared/data/notmnist beside the repository)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the data tests, so the sample has to be provided there")
        pytest.skip(reason)
    return path


PLUGIN_FEATURE = '''"""A user's state feature, outside the package: the sign of the summed weight change."""
import numpy as np

from synapse_sim import Feature, register_feature


@register_feature
class NetDrift(Feature):
    name = "net_drift"
    cardinality = 3

    def __init__(self, k: int = 4):
        self.k = int(k)
        self.action_memory = self.k

    def params(self):
        return {"k": self.k}

    def local(self, ctx):
        return int(np.sign(sum(a - 1 for a in ctx.action_history[: self.k]))) + 1

    def batch(self, ctx):
        drift = (ctx.action_history[:, : self.k].astype(np.int64) - 1).sum(axis=1)
        return (np.sign(drift) + 1).astype(np.int64)

    def digit_labels(self):
        return ["drift-", "drift0", "drift+"]
'''

PLUGIN_SCENARIO = """plugins = ["my_features"]

[task]
n_points = 200

[network]
layers = [2, 6, 1]

[state]
features = [{name = "net_drift", k = 4}, {name = "last_rewards", n = 2}]

[run]
iterations = 120
checkpoint_every = 40
"""


def write_plugin_folder(folder: Path) -> Path:
    """A folder a user might have: ``my_features.py`` beside ``drift.toml``, which lists it in ``plugins``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "my_features.py").write_text(PLUGIN_FEATURE)
    (folder / "drift.toml").write_text(PLUGIN_SCENARIO)
    static = PLUGIN_SCENARIO.replace("[run]", '[policy]\nmode = "static"\nfile = "shipped"\n\n[run]')
    (folder / "drift_static.toml").write_text(static)
    return folder / "drift.toml"


STEPS = 6  # the dashboard tests' models are stepped this often before a view is checked


def stepped(model, n=STEPS):
    for _ in range(n):
        model.step()
    return model


def html_of(rc) -> str:
    """The HTML of every Solara HTML widget in a render context, joined."""
    import solara

    return "".join(w.unsafe_innerHTML or "" for w in rc.find(solara.widgets.HTML).widgets)


def decode(png_bytes: bytes) -> np.ndarray:
    """A PNG's pixels as an RGB array."""
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"))


def render_page(*args, **kwargs):
    """The dashboard page (``synapse_sim.app.make_page(*args, **kwargs)``) rendered inside an AppLayout, as
    solara-server shows every page (which shows SolaraViz's sidebar); returns the render context."""
    import solara

    from synapse_sim.app import make_page

    page = make_page(*args, **kwargs)

    @solara.component
    def App():
        with solara.AppLayout():
            page()

    return solara.render(App(), handle_error=False)[1]


def render_all(model, sid: int = 5):
    """Every dashboard view of ``model`` rendered in one Solara column, synapse ``sid`` inspected."""
    import solara

    from synapse_sim.dashboard.components import dashboard_components

    selected = solara.Reactive(sid)

    @solara.component
    def All():
        with solara.Column():
            for component, _ in dashboard_components(selected):
                component(model)

    return solara.render(All(), handle_error=False)[1]


@pytest.fixture(scope="session")
def golden_cache(request, tmp_path_factory) -> Path:
    """Where a kind of machine with no committed golden copy gets one made (golden/record_platform.py):
    pytest's cache, shared by the xdist workers and kept between runs, else a temporary folder."""
    cache = getattr(request.config, "cache", None)
    return cache.mkdir("golden-replays") if cache is not None else tmp_path_factory.mktemp("golden-replays")


# the dashboard end-to-end tests' server and browser (tests/dashboard_harness.py), one per test module
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    check_prerequisites()
    log_path = tmp_path_factory.mktemp("dashboard") / "server.log"
    with dashboard_server([], log_path) as url:
        yield url, log_path


@pytest.fixture(scope="module")
def playwright_driver():
    check_prerequisites()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(server, playwright_driver, tmp_path_factory):
    with chromium_page(playwright_driver, server[0], tmp_path_factory.mktemp("chromium-profile")) as opened:
        yield opened
