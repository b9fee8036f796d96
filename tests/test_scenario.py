import pytest

from synapse_sim import Scenario, ScenarioError
from synapse_sim.rules.episodic import EpisodicRule
from synapse_sim.rules.registry import RULES
from synapse_sim.scenario import SECTION_OWNER


def write(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_shipped_scenarios_load():
    adaptive = Scenario.load("scenarios/decision_boundary_adaptive.toml")
    assert adaptive["policy"]["epsilon"] == 0.25 and adaptive["network"]["layers"] == [2, 100, 1]
    static = Scenario.load("scenarios/decision_boundary_static.toml")
    assert static["policy"]["mode"] == "static" and static["policy"]["file"] == "shipped"


def test_unknown_key_names_key_and_allowed(tmp_path):
    with pytest.raises(ScenarioError) as err:
        Scenario.load(write(tmp_path, "[policy]\nepsilonn = 0.1\n"))
    assert "policy.epsilonn" in str(err.value) and "epsilon" in str(err.value).split("allowed")[1]


def test_unknown_section(tmp_path):
    with pytest.raises(ScenarioError, match=r"unknown scenario section \[polcy\]"):
        Scenario.load(write(tmp_path, "[polcy]\nepsilon = 0.1\n"))


def test_wrong_type(tmp_path):
    with pytest.raises(ScenarioError, match=r"'run.iterations' = '100' is invalid: expected int"):
        Scenario.load(write(tmp_path, '[run]\niterations = "100"\n'))


def test_out_of_range_epsilon():
    with pytest.raises(ScenarioError, match=r"'policy.epsilon' = 1.5 is invalid: expected float >= 0.0 and <= 1.0"):
        Scenario().with_sets(["policy.epsilon=1.5"])


def test_bad_choice_lists_choices():
    with pytest.raises(ScenarioError, match="one of 'tanh', 'relu', 'leaky_relu', 'identity'"):
        Scenario().with_overrides({"hidden_activation": "sigmoid"})


def test_static_needs_a_policy_file():
    with pytest.raises(ScenarioError, match=r"policy\.file' is required"):
        Scenario().with_overrides({"policy.mode": "static"})


def test_bad_feature_spec():
    with pytest.raises(ScenarioError, match="unknown state feature 'colour'"):
        Scenario({"state": {"features": [{"name": "colour"}]}})


def test_invalid_toml(tmp_path):
    with pytest.raises(ScenarioError, match="not valid TOML"):
        Scenario.load(write(tmp_path, "[run\n"))


def test_sets_and_bare_keys():
    s = Scenario().with_sets(["epsilon=0.1", "network.layers=[2, 5, 1]", "run.engine=agent"])
    assert s.get("policy.epsilon") == 0.1 and s["network"]["layers"] == [2, 5, 1] and s["run"]["engine"] == "agent"
    with pytest.raises(ScenarioError, match="expected key=value"):
        Scenario().with_sets(["epsilon"])


def test_toml_round_trip(tmp_path):
    s = Scenario().with_sets(["epsilon=0.1", "alpha_s_schedule=[[10, 0.0005]]"])
    again = Scenario.load(write(tmp_path, s.to_toml()))
    assert again.to_dict() == s.to_dict()


# --- values that used to pass validation and fail later with a traceback ---------------------------------------------
def float_keys():
    from synapse_sim.scenario import SCHEMA

    return [f"{s}.{k}" for s, fields in SCHEMA.items() for k, f in fields.items() if f.kind == "float"]


@pytest.mark.parametrize("key", float_keys())
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_every_float_key_refuses_non_finite_numbers(key, value):
    with pytest.raises(ScenarioError, match=rf"'{key}' = -?(inf|nan) is not a finite number"):
        Scenario().with_sets([f"{key}={value}"])


@pytest.mark.parametrize("key", ["task.extent", "task.target_range", "network.init_range"])
def test_scales_beyond_the_uniform_draw_are_refused(key):
    """extent = 1e308 overflowed NumPy's uniform draw (OverflowError: high - low range exceeds valid bounds)."""
    assert Scenario().with_overrides({key: 1e6}).get(key) == 1e6
    with pytest.raises(ScenarioError, match=rf"'{key}' = 1e\+308 is invalid: expected float .*<= 1000000.0"):
        Scenario().with_overrides({key: 1e308})


def test_negative_zero_is_zero():
    """init_range = -0.0 passed '>= 0' and NumPy then refused uniform(0.0, -0.0)."""
    value = Scenario().with_overrides({"network.init_range": -0.0}).get("network.init_range")
    assert value == 0.0 and str(value) == "0.0"


def test_schedules_refuse_non_finite_or_huge_steps_and_bool_iterations():
    for bad in ([[10, float("inf")]], [[10, float("nan")]], [[10, 1e308]], [[10, 2**70]], [[True, 0.1]]):
        with pytest.raises(ScenarioError, match=r"synapse.alpha_s_schedule.*0 <= value <= 1e\+06"):
            Scenario().with_overrides({"synapse.alpha_s_schedule": bad})


@pytest.mark.parametrize(
    "key",
    [
        "gradient.learning_rate",
        "synapse.alpha_s",
        "spsa.a",
        "spsa.c",
        "keep_or_revert.a",
        "momentum_search.c",
        "momentum_search.eta",
        "node_perturbation.eta",
        "nrl.eta",
        "rmhl.eta",
        "reinforce.eta",
        "qagrel.alpha",
        "backprop.learning_rate",
        "spiking.alpha",
    ],
)
def test_a_step_size_too_large_for_any_run_is_refused_at_load_naming_its_key(key):
    """1e308 used to pass the schema and overflow in the first step (RuntimeWarnings, then the NaN stop)."""
    owner = SECTION_OWNER.get(key.split(".")[0])
    method = {"run.method": owner} if owner else {}
    if owner and issubclass(RULES[owner], EpisodicRule):
        method["task.name"] = "control"
    elif owner in ("qagrel", "error_backprop"):  # trial and softmax rules need classes
        method["task.name"] = "digits"
    with pytest.raises(ScenarioError, match=rf"'{key}' = 1e\+308 is invalid.*<= 1000000.0"):
        Scenario().with_overrides({**method, key: 1e308})
    assert Scenario().with_overrides({**method, key: 1e6}).get(key) == 1e6


def test_a_method_of_the_wrong_type_is_a_clear_error():
    with pytest.raises(ScenarioError, match="is not a known learning rule"):
        Scenario().with_overrides({"run.method": ["spsa"]})


def test_integers_are_64_bit_as_in_a_scenario_file():
    """TOML integers are 64-bit; a larger one overflowed later (float(10**400), NumPy shapes, seeds)."""
    assert Scenario().with_overrides({"run.seed": 2**63 - 1}).get("run.seed") == 2**63 - 1
    for key in ("run.seed", "task.data_seed", "task.n_points", "run.iterations"):
        for value in (2**63, 10**400):
            with pytest.raises(ScenarioError, match=rf"'{key}' = {value} is too large: scenario files hold 64-bit"):
                Scenario().with_overrides({key: value})
    with pytest.raises(ScenarioError, match=r"positive \(64-bit\) integers"):
        Scenario().with_overrides({"network.layers": [2, 2**63, 1]})
    with pytest.raises(ScenarioError, match=rf"'policy.epsilon' = {10**400} is not a finite number"):
        Scenario().with_overrides({"policy.epsilon": 10**400})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"run.method": "spsa", "spsa.a": 0.0}, r"'spsa.a': the SPSA step is 0, so no weight would ever change"),
        (
            {"run.method": "node_perturbation", "node_perturbation.eta": 0.0},
            r"'node_perturbation.eta': the learning rate eta is 0",
        ),
        ({"run.method": "gradient_descent", "gradient.learning_rate": 0.0}, r"'gradient.learning_rate' = 0 with"),
        (
            {"run.method": "gradient_descent", "network.init_range": 0.0, "network.layers": [784, 32, 10]},
            r"'network.init_range' = 0 with hidden layers .* the hidden layers never learn",
        ),
    ],
    ids=["spsa-a", "node-perturbation-eta", "gd-learning-rate", "gd-zero-init-hidden"],
)
def test_a_run_that_cannot_learn_at_all_is_refused(overrides, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario().with_overrides(overrides)


def test_zero_initial_weights_are_fine_where_the_network_can_still_learn():
    """Gradient descent without hidden layers (softmax regression) and every perturbation rule break the
    symmetry of all-zero weights; only gradient descent through hidden layers cannot."""
    Scenario().with_overrides({"run.method": "gradient_descent", "network.init_range": 0.0, "network.layers": [4, 3]})
    for method in ("synaptic_rl", "spsa", "node_perturbation"):
        Scenario().with_overrides({"run.method": method, "network.init_range": 0.0})


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([{"name": "last_actions", "n": 40}], r"last_actions needs n <= 12 .*got 40"),
        ([{"name": "last_actions", "n": 2.5}], r"last_actions needs a whole number n, got 2.5"),
        ([{"name": "last_rewards", "n": True}], r"last_rewards needs a whole number n, got True"),
        ([{"name": "streak", "cap": 2**70}], r"streak needs cap <= 999"),
        ([{"name": "pre_activity", "bins": 10**9}], r"pre_activity needs bins <= 1000"),
        ([{"name": "post_activity", "absolute": "false"}], r"post_activity needs absolute = true or false"),
        ([{"name": "post_activity", "edges": "abc"}], r"post_activity edges must be a list of numbers"),
        ([{"name": "weight_sign", "tol": "0.1"}], r"weight_sign needs a number tol"),
        ([{"name": ["last_actions"]}], r"a state feature needs a name \(a string\), got \['last_actions'\]"),
    ],
)
def test_feature_parameters_are_checked_when_the_scenario_is_read(features, message):
    with pytest.raises(ScenarioError, match=rf"'state.features': {message}"):
        Scenario({"state": {"features": features}})


def test_a_state_space_too_large_for_a_q_table_is_a_clear_error():
    from synapse_sim import VectorEngine

    features = [{"name": "last_actions", "n": 10}, {"name": "last_rewards", "n": 10}]
    scenario = Scenario({"state": {"features": features}, "network": {"layers": [2, 3, 1]}})
    with pytest.raises(ScenarioError, match=r"3,486,784,401 states .* use fewer or coarser features"):
        VectorEngine(scenario)
