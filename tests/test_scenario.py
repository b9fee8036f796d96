import pytest

from synapse_sim import Scenario, ScenarioError


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
    with pytest.raises(ScenarioError, match="one of 'tanh', 'relu', 'identity'"):
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
