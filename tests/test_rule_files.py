"""Learned rule files: a scenario's ``rule = NAME`` (shipped, ``user:NAME`` or a path) sets the rule and
its keys; ``learn-rule --install`` puts one in the user folder; run, compare and the dashboard load them
by name; the tabular family is a static synaptic-RL policy written out (``policy.actions``)."""

from __future__ import annotations

import numpy as np
import pytest
from test_mirror import assert_same_state, run_both

from synapse_sim import Scenario
from synapse_sim.cli import main
from synapse_sim.engine.simulation import Simulation
from synapse_sim.locations import learned_rule_folder, learned_rule_names
from synapse_sim.scenario import ScenarioError, read_rule_file
from synapse_sim.studies import learn_rule as lr

MOMENTUM = '[run]\nmethod = "momentum_search"\n\n[momentum_search]\nc = 0.004\nbeta = 0.3\nbroadcast = "real"\n'


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "home"
    (folder / "rules").mkdir(parents=True)
    (folder / "rules" / "fast.toml").write_text(MOMENTUM)
    monkeypatch.setenv("SYNAPSE_SIM_HOME", str(folder))
    return folder


def test_a_rule_file_sets_the_rule_and_its_keys_and_the_scenario_wins(home, tmp_path):
    scenario = Scenario({"rule": "user:fast", "momentum_search": {"beta": 0.1}})
    assert scenario["run"]["method"] == "momentum_search" and scenario.rule == "user:fast"
    assert scenario["momentum_search"]["c"] == 0.004 and scenario["momentum_search"]["beta"] == 0.1
    assert scenario["momentum_search"]["broadcast"] == "real"
    path = tmp_path / "here.toml"
    path.write_text(MOMENTUM)
    (tmp_path / "s.toml").write_text('rule = "here.toml"\n[task]\nn_points = 300\n')  # beside the scenario
    loaded = Scenario.load(tmp_path / "s.toml")
    assert loaded["momentum_search"]["c"] == 0.004 and loaded.rule == str(path.resolve())
    # what a run writes reloads to the same scenario, without needing the file
    (tmp_path / "again.toml").write_text(loaded.to_toml())
    path.unlink()
    assert Scenario.load(tmp_path / "again.toml").data == loaded.data


def test_swapping_to_a_rule_file_resets_the_previous_rule_and_keeps_the_task(home):
    base = Scenario.load("notmnist_0hu_keep_or_revert").with_overrides({"keep_or_revert.a": 0.01})
    swapped = base.with_overrides({"rule": "user:fast", "momentum_search.decay": 0.001})
    assert swapped["run"]["method"] == "momentum_search" and swapped["keep_or_revert"]["a"] == 0.002
    assert swapped["momentum_search"]["decay"] == 0.001 and swapped["momentum_search"]["c"] == 0.004
    assert swapped["task"] == base["task"] and swapped["network"] == base["network"]
    assert base.with_sets(["rule=user:fast"]).data == swapped.with_overrides({"momentum_search.decay": 0.0}).data
    assert swapped.with_overrides({"run.seed": 3}).rule == "user:fast"
    (home / "rules" / "fast.toml").unlink()  # a scenario made from a file no longer needs it (a Dask worker's copy)
    assert swapped.with_overrides({"run.seed": 3}).data == {**swapped.data, "run": {**swapped["run"], "seed": 3}}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[run]\nmethod = 'spsa'\nseed = 1\n", "only `method`"),
        ("[momentum_search]\nc = 0.1\n", "expected \\[run\\]"),
        ("[run]\nmethod = 'momentum_search'\n[spsa]\na = 0.1\n", "section \\[spsa\\] is not a section of the rule"),
        ("[run]\nmethod = 'no_such_rule'\n", "not a known learning rule"),
        ("[run\n", "cannot be read as TOML"),
        ("[run]\nmethod = 'momentum_search'\n[momentum_search]\nc = -1.0\n", "momentum_search.c"),
    ],
)
def test_a_bad_rule_file_is_a_clear_error(tmp_path, text, match):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ScenarioError, match=match):
        Scenario({"rule": str(tmp_path / "bad.toml")})


def test_unknown_names_and_a_clash_with_run_method_are_clear_errors(home):
    with pytest.raises(ScenarioError, match=r"no such learned rule file; known: .*user:fast"):
        Scenario({"rule": "nope"})
    with pytest.raises(ScenarioError, match=r"is a 'momentum_search' rule, but the scenario sets run\.method = 'spsa'"):
        Scenario({"rule": "user:fast", "run": {"method": "spsa"}})
    with pytest.raises(ScenarioError, match="expected the name or path"):
        Scenario({"rule": 3})


def test_every_shipped_rule_file_loads_and_runs_the_same_in_both_views():
    names = [n for n in learned_rule_names() if not n.startswith("user:")]
    assert names == sorted(p.stem for p in learned_rule_folder().glob("*.toml")) and names
    for name in names:
        assert read_rule_file(name)[0] == name
        scenario = Scenario.load("decision_boundary_static").with_overrides(
            {"rule": name, "run.iterations": 30, "task.n_points": 100, "network.layers": [2, 6, 1]}
        )
        assert_same_state(*run_both(scenario, 30))


def test_learn_rule_installs_its_rule_by_name_and_rules_lists_it(home, tmp_path, capsys):
    out = tmp_path / "study"
    args = ["learn-rule", "tabular", "--tasks", "tiny", "--budget", "40", "--generations", "1"]
    assert main([*args, "--population", "2", "--processes", "1", "--out", str(out), "--install", "tab1"]) == 0
    assert (home / "rules" / "tab1.toml").read_text() == (out / "rule.toml").read_text()
    assert 'rule = "user:tab1"' in capsys.readouterr().out
    assert main(["rules"]) == 0
    listed = capsys.readouterr().out
    assert "user:tab1: synaptic_rl" in listed and "user:fast: momentum_search" in listed
    scenario = Scenario({"rule": "user:tab1"})
    assert scenario["policy"]["mode"] == "static" and len(scenario["policy"]["actions"]) == lr.TABULAR_STATES
    with pytest.raises(SystemExit):
        main([*args, "--install", "../elsewhere"])


def test_the_tabular_family_is_a_static_policy_written_out_with_a_decaying_step():
    family = lr.FAMILIES["tabular"]
    x = [0.9, -0.9, 0.1, -0.2, 0.5, -1.0, 0.0, 2.0, -0.34, np.log(0.002), np.log(1e-3), 0.0]
    settings = family.settings(x)
    assert settings["policy.actions"] == [1, -1, 0, 0, 1, -1, 0, 1, -1]
    assert settings["policy.epsilon"] == pytest.approx(0.5) and settings["synapse.alpha_s"] == pytest.approx(0.002)
    schedule = settings["synapse.alpha_s_schedule"]
    steps, values = zip(*schedule, strict=True)
    assert list(steps) == sorted(steps) and all(np.diff(values) < 0)
    assert values[steps.index(1000)] == pytest.approx(0.002 / 2)  # alpha_s / (1 + decay t)
    scenario = Scenario().with_overrides({**settings, "run.method": "synaptic_rl"})
    rule = Simulation(scenario).rule
    assert list(rule.policy.greedy - 1) == settings["policy.actions"] and not rule.policy.adaptive


def test_a_written_out_policy_is_checked():
    base = {"run": {"method": "synaptic_rl"}, "state": {"features": lr.TABULAR_FEATURES}}
    with pytest.raises(ScenarioError, match="has 3 actions, but the state space"):
        Scenario({**base, "policy": {"mode": "static", "actions": [1, 0, -1]}})
    with pytest.raises(ScenarioError, match="both give the policy"):
        Scenario({**base, "policy": {"mode": "static", "actions": [0] * 9, "file": "shipped"}})
    with pytest.raises(ScenarioError, match="an action other than"):
        Scenario({**base, "policy": {"mode": "static", "actions": [2] * 9}})


def test_the_dashboard_offers_rule_files_by_name_and_they_set_every_key(home):
    from synapse_sim.dashboard.controls import resolve
    from synapse_sim.dashboard.params import control_values, model_params, pending_changes

    assert "learned:user:fast" in model_params()["rule"]["values"]
    scenario, _, problems = resolve(None, None, rule="learned:user:fast", momentum_search_c=0.5)
    assert problems == [] and scenario.rule == "user:fast"
    assert scenario["run"]["method"] == "momentum_search" and scenario["momentum_search"]["c"] == 0.004
    values = control_values(scenario)
    assert values["rule"] == "learned:user:fast" and pending_changes(values, scenario) == []
    back, _, _ = resolve(scenario, None, rule="spsa")
    assert back["run"]["method"] == "spsa" and back["momentum_search"]["c"] == 0.002
    (home / "rules" / "broken.toml").write_text("[run\n")
    assert "learned:user:broken" not in model_params()["rule"]["values"]
    _, _, problems = resolve(None, None, rule="learned:user:broken")
    assert problems and "cannot be read as TOML" in problems[0]


def test_a_rule_is_shown_in_words_and_pictures(home, tmp_path):
    from synapse_sim.studies.rule_portrait import describe_rule, figure_rule, figure_study, step_sizes

    momentum = Scenario({"rule": "user:fast", "momentum_search": {"decay": 0.01}})
    assert step_sizes(momentum, [1, 101]) == pytest.approx([0.004, 0.002])
    assert "c_t = 0.004 / (1 + 0.01 t)" in describe_rule(momentum) and "b / c_t" in describe_rule(momentum)
    ror = Scenario.load("notmnist_0hu_repeat_or_reverse")
    words = describe_rule(ror)
    assert "dec | -  ->  increment" in words and "inc | +  ->  increment" in words
    steps = lr.tabular_settings(
        {**{f"action_{s}": 0.0 for s in range(9)}, "alpha_s": 0.01, "decay": 0.001, "epsilon": 0.1}
    )
    tabular = ror.with_overrides(steps)
    assert step_sizes(tabular, [999, 1000, 2000]) == pytest.approx([0.01, 0.005, 0.01 / 3])
    wider = lr.tabular_family([{"name": "last_actions", "n": 2}]).settings([0.5] * 9 + [-7.0, -9.0, -2.0])
    for scenario in (momentum, tabular, ror.with_overrides(wider)):
        fig = figure_rule(scenario, compare=[(Scenario.load("notmnist_0hu_keep_or_revert"), "keep-or-revert")])
        assert len(fig.axes) == 2 and fig.axes[0].lines
    (tmp_path / "progress.json").write_text('{"rows": [{"generation": 0, "best": 0.5, "mean": 0.3}]}')
    assert len(figure_study(tmp_path).axes[0].lines) == 2
    with pytest.raises(ValueError, match="no description"):
        describe_rule(Scenario.load("notmnist_0hu_spsa"))


def test_the_tabular_family_takes_any_state_space_of_registered_features(tmp_path, capsys):
    family = lr.tabular_family([{"name": "last_actions", "n": 2}, {"name": "streak", "cap": 2}])
    assert len(family.parameters) == 9 * 3 + 3
    with pytest.raises(ValueError, match="at most 243"):
        lr.tabular_family([{"name": "last_actions", "n": 6}])
    args = ["learn-rule", "tabular", "--tasks", "tiny", "--budget", "30", "--generations", "1", "--population", "2"]
    out = tmp_path / "s"
    assert main([*args, "--processes", "1", "--features", "last_actions:2", "--out", str(out)]) == 0
    assert len(Scenario({"rule": str(out / "rule.toml")})["policy"]["actions"]) == 9
    assert main([*args, "--features", "last_actions:1", "--out", str(out)]) == 1  # other settings, same folder
    assert main([*args, "--features", "nope", "--out", str(tmp_path / "t")]) == 1
    assert "'nope' is not registered" in capsys.readouterr().err
    assert main(["learn-rule", "momentum_search", *args[2:], "--features", "last_actions:1", "--out", str(out)]) == 1
