"""$from, $ref, $each, $eval semantics — including DESIGN.md §2's job-count table."""

import pytest

from runtool_iac import plan
from runtool_iac.config.resolve import parse_path

from conftest import ALGO, DS, load, problems
from textwrap import dedent as d


def jobs(config_text: str, expression: str, runs: int = 1) -> list[dict]:
    from runtool_iac.experiment_expr import parse_experiment

    config = load(config_text)
    return plan(parse_experiment(expression, config), runs=runs)


# ---------------------------------------------------------------- DESIGN.md table


def test_each_on_image_gives_three_jobs():
    text = d("""
    algo: {image: {$each: [a, b, c]}, instance: ml.m5.xlarge}
    """) + DS
    requests = jobs(text, "algo * ds")
    assert [r["AlgorithmSpecification"]["TrainingImage"] for r in requests] == ["a", "b", "c"]


def test_two_axes_times_five_datasets_times_two_runs_is_120():
    text = d("""
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters:
        lr: {$each: [0.1, 0.01, 0.001]}
        ctx: {$each: [1, 2, 3, 4]}
    datasets:
    """) + "".join(f"  - {{path: {{train: s3://b/{i}/}}}}\n" for i in range(5))
    requests = jobs(text, "algo * datasets", runs=2)
    assert len(requests) == 120
    assert len({r["TrainingJobName"] for r in requests}) == 120
    combos = {(r["HyperParameters"]["lr"], r["HyperParameters"]["ctx"]) for r in requests}
    assert len(combos) == 12


def test_inherited_each_through_from_and_ref_list_gives_four():
    text = d("""
    base: {image: img, instance: ml.m5.xlarge, hyperparameters: {lr: {$each: [x, y]}}}
    a1: {$from: base}
    a2: {$from: base, image: other}
    algorithms: [{$ref: a1}, {$ref: a2}]
    """) + DS
    requests = jobs(text, "algorithms * ds")
    assert sorted((r["AlgorithmSpecification"]["TrainingImage"], r["HyperParameters"]["lr"]) for r in requests) == [
        ("img", "x"), ("img", "y"), ("other", "x"), ("other", "y"),
    ]


def test_dict_alternatives_merge_and_none_keeps_the_node():
    config = load("""
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters: {layers: 1, $each: [$None, {layers: 2}, {dropout: 0.1}]}
    """)
    assert [m.value["hyperparameters"] for m in config.algo] == [
        {"layers": 1}, {"layers": 2}, {"layers": 1, "dropout": 0.1},
    ]


def test_each_on_algorithm_and_dataset_multiplies_only_those_nodes():
    text = d("""
    algo: {image: {$each: [a, b, c]}, instance: ml.m5.xlarge}
    ds: {path: {train: s3://b/t/}, meta: {freq: {$each: [H, D]}}}
    unrelated: {image: z, instance: ml.m5.xlarge, hyperparameters: {x: {$each: [1, 2, 3, 4, 5]}}}
    """)
    assert len(jobs(text, "algo * ds")) == 6


def test_job_name_with_runs_gives_distinct_names():
    text = d("""
    algo: {image: img, instance: ml.m5.xlarge, $job_name: my-job}
    """) + DS
    names = [r["TrainingJobName"] for r in jobs(text, "algo * ds", runs=3)]
    assert names == ["my-job-r0", "my-job-r1", "my-job-r2"]


# ----------------------------------------------------------------------- $from


def test_from_deep_merges_and_child_wins():
    config = load("""
    base: {image: img, instance: ml.m5.xlarge, hyperparameters: {a: 1, b: 2}, tags: {t: 1}}
    child: {$from: base, hyperparameters: {b: 3, c: 4}}
    """)
    (member,) = config.child
    assert member.value["hyperparameters"] == {"a": 1, "b": 3, "c": 4}
    assert member.value["tags"] == {"t": 1}


def test_from_chain_and_dotted_path():
    config = load("""
    lib: {base: {image: img, instance: ml.m5.xlarge}}
    mid: {$from: lib.base, hyperparameters: {x: 1}}
    leaf: {$from: mid, instance: ml.c5.xlarge}
    """)
    assert config.leaf[0].value["hyperparameters"] == {"x": 1}
    assert config.leaf[0].value["instance"] == "ml.c5.xlarge"


def test_five_algorithms_inheriting_one_each_do_not_explode():
    text = "base: {image: img, instance: ml.m5.xlarge, hyperparameters: {lr: {$each: [1, 2, 3]}}}\n"
    text += "".join(f"a{i}: {{$from: base, hyperparameters: {{id: {i}}}}}\n" for i in range(5))
    text += "algos: [" + ", ".join(f"{{$ref: a{i}}}" for i in range(5)) + "]\n" + DS
    assert len(jobs(text, "algos * ds")) == 15  # the original: 3**5 whole-file versions


def test_from_must_name_a_mapping():
    (line,) = problems("x: 5\nalgo: {$from: x}\n")
    assert "test.yml:2:15: algo: $from 'x' must name a mapping, not a int" == line


# ------------------------------------------------------------------------ $ref


def test_ref_copies_values_with_list_indices():
    config = load("""
    values: {lrs: [0.1, 0.2], nested: {deep: hello}}
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters:
        lr: {$ref: "values.lrs[1]"}
        lr0: {$ref: values.lrs.0}
        word: {$ref: values.nested.deep}
    """)
    assert config.algo[0].value["hyperparameters"] == {"lr": 0.2, "lr0": 0.1, "word": "hello"}


def test_ref_to_a_value_with_each_carries_the_axis():
    config = load("""
    grid: {$each: [1, 2, 3]}
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {x: {$ref: grid}}}
    """)
    assert len(config.algo) == 3


def test_ref_into_node_with_unrelated_each_does_not_duplicate():
    config = load("""
    other: {name: fixed, x: {$each: [1, 2, 3]}}
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {n: {$ref: other.name}}}
    """)
    assert len(config.algo) == 1


def test_ref_must_be_alone_and_name_existing_paths():
    lines = problems("""
    base: {a: 1}
    x: {$ref: base, b: 2}
    y: {$ref: base.c}
    z: {$ref: nope}
    """)
    assert any("x: $ref must be the only key of its mapping, found also 'b'" in l for l in lines)
    assert any("y: reference to 'base.c': 'base' has no key 'c'" in l for l in lines)
    assert any("z: reference to 'nope': no top-level node 'nope'" in l for l in lines)


def test_reference_cycles_are_reported_not_recursed():
    lines = problems("""
    a: {$ref: b}
    b: {$from: a}
    """)
    assert any("reference cycle: " in l for l in lines)


def test_self_reference_within_a_node_is_fine():
    config = load("""
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters: {a: 3, b: {$ref: algo.hyperparameters.a}}
    """)
    assert config.algo[0].value["hyperparameters"]["b"] == 3


def test_long_reference_chains_fail_cleanly():
    text = "".join(f"v{i}: {{$ref: v{i + 1}}}\n" for i in range(200)) + "v200: 1\n"
    assert any("nested more than" in l for l in problems(text))


@pytest.mark.parametrize(
    "text,expected",
    [("a.b.c", ("a", "b", "c")), ("a.b[0].c", ("a", "b", 0, "c")), ("a.0", ("a", 0)), ("$.a['x-y']", ("a", "x-y"))],
)
def test_path_syntax(text, expected):
    assert parse_path(text) == expected


# ----------------------------------------------------------------------- $each


def test_bare_each_with_none_removes_the_key():
    config = load("""
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {lr: 1, dropout: {$each: [$None, 0.5]}}}
    """)
    assert [m.value["hyperparameters"] for m in config.algo] == [{"lr": 1}, {"lr": 1, "dropout": 0.5}]


def test_each_in_lists_is_a_product():
    config = load("""
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {layers: [{$each: [1, 2]}, {$each: [3, 4]}]}}
    """)
    assert [m.value["hyperparameters"]["layers"] for m in config.algo] == [[1, 3], [1, 4], [2, 3], [2, 4]]


def test_nested_each_inside_alternatives():
    config = load("""
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {$each: [{a: {$each: [1, 2]}}, {b: 3}]}}
    """)
    assert [m.value["hyperparameters"] for m in config.algo] == [{"a": 1}, {"a": 2}, {"b": 3}]


def test_each_errors():
    lines = problems("""
    a: {x: 1, $each: [1, 2]}
    b: {$each: []}
    c: {$each: 5}
    d: [$None]
    """)
    text = "\n".join(lines)
    assert "a: next to other keys, $each alternatives must be mappings" in text
    assert "b: $each takes a non-empty list" in text
    assert "c: $each takes a non-empty list" in text
    assert "'$None' is only meaningful as an alternative of $each" in text


def test_variant_labels_name_the_differences():
    config = load("""
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {lr: {$each: [0.1, 0.2]}, ctx: 3}}
    """)
    assert [m.label for m in config.algo] == ["algo[lr=0.1]", "algo[lr=0.2]"]


# ----------------------------------------------------------------------- $eval


def test_load_time_eval_reads_config_values_and_methods():
    config = load("""
    settings: {freq: D, sizes: [1, 2, 3], name: "a,b"}
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters:
        total: {$eval: "sum($.settings.sizes) * 2"}
        parts: {$eval: "$.settings.name.split(',')"}
        label: {$eval: "'{}-{}'.format($.settings.freq, len($.settings.sizes))"}
        f: {$eval: "f'{$.settings.freq}:{2 ** 10}'"}
    """)
    assert config.algo[0].value["hyperparameters"] == {
        "total": 12, "parts": ["a", "b"], "label": "D-3", "f": "D:1024",
    }


def test_eval_of_a_value_with_each_is_an_axis():
    config = load("""
    base: {lr: {$each: [1, 2]}}
    algo: {image: img, instance: ml.m5.xlarge, hyperparameters: {lr10: {$eval: "$.base.lr * 10"}}}
    """)
    assert [m.value["hyperparameters"]["lr10"] for m in config.algo] == [10, 20]


def test_trial_evals_resolve_per_job_and_recursively():
    text = d("""
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters:
        prediction_length: {$eval: $trial.dataset.meta.prediction_length}
        context_length: {$eval: "$trial.algorithm.hyperparameters.prediction_length * 4"}
        freq: {$eval: "$trial.dataset.meta['freq']"}
    ds1: {path: {train: s3://b/1/}, meta: {prediction_length: 7, freq: D}}
    ds2: {path: {train: s3://b/2/}, meta: {prediction_length: 24, freq: H}}
    dss: [{$ref: ds1}, {$ref: ds2}]
    """)
    requests = jobs(text, "algo * dss")
    assert [r["HyperParameters"] for r in requests] == [
        {"prediction_length": "7", "context_length": "28", "freq": "D"},
        {"prediction_length": "24", "context_length": "96", "freq": "H"},
    ]


def test_trial_eval_cycles_are_reported():
    text = d("""
    algo:
      image: img
      instance: ml.m5.xlarge
      hyperparameters:
        a: {$eval: "$trial.algorithm.hyperparameters.b + 1"}
        b: {$eval: "$trial.algorithm.hyperparameters.a + 1"}
    """) + DS
    from runtool_iac.errors import ConfigError

    with pytest.raises(ConfigError, match=r"\$eval cycle: algo.hyperparameters.a -> algo.hyperparameters.b -> algo.hyperparameters.a"):
        jobs(text, "algo * ds")


def test_uid_is_a_stable_short_hash_of_the_trial():
    text = d("""
    algo: {image: img, instance: ml.m5.xlarge, $job_name: {$eval: "'exp-' + uid"}}
    """) + DS
    first = [r["TrainingJobName"] for r in jobs(text, "algo * ds", runs=2)]
    second = [r["TrainingJobName"] for r in jobs(text, "algo * ds", runs=2)]
    assert first == second
    assert first[0].startswith("exp-") and len(first[0].split("-")[1]) == 8


def test_sagemaker_overrides_on_algorithms_and_datasets():
    text = d("""
    algo:
      image: img
      instance: ml.m5.xlarge
      $sagemaker.StoppingCondition.MaxRuntimeInSeconds: 3600
      $sagemaker.EnableManagedSpotTraining: true
    ds:
      path: {train: s3://b/t/}
      $sagemaker.ResourceConfig.VolumeSizeInGB: 200
      $sagemaker: {Environment: {MODE: test}}
    """)
    (request,) = jobs(text, "algo * ds")
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert request["EnableManagedSpotTraining"] is True
    assert request["ResourceConfig"] == {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 200}
    assert request["Environment"] == {"MODE": "test"}


def test_invalid_override_is_located():
    text = d("""
    algo:
      image: img
      instance: ml.m5.xlarge
      $sagemaker.ResourceConfig.VolumeSizeInGB: lots
    """) + DS
    from runtool_iac.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        jobs(text, "algo * ds")
    assert "test.yml:5:45: algo.$sagemaker.ResourceConfig.VolumeSizeInGB: the CreateTrainingJob request is invalid" in str(info.value)


def test_unknown_directive_suggests():
    (line,) = problems(ALGO + "  $each_: [1]\n")
    assert line.endswith("unknown directive '$each_' (did you mean '$each'?)")
