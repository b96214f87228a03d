"""Property-based tests: job counts of random grids; malformed YAML never crashes."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtool_iac import plan
from runtool_iac.config import loads
from runtool_iac.errors import ConfigError

axis_values = st.lists(st.integers(-1000, 1000), min_size=1, max_size=4, unique=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    algo_axes=st.lists(axis_values, min_size=0, max_size=3),
    dataset_axes=st.lists(axis_values, min_size=0, max_size=2),
    n_datasets=st.integers(1, 3),
    runs=st.integers(1, 3),
)
def test_grid_job_count_is_exact(algo_axes, dataset_axes, n_datasets, runs):
    hps = "".join(f"    p{i}: {{$each: {values}}}\n" for i, values in enumerate(algo_axes))
    meta = "".join(f"      m{i}: {{$each: {values}}}\n" for i, values in enumerate(dataset_axes))
    text = "algo:\n  image: img\n  instance: ml.m5.xlarge\n  hyperparameters:\n    fixed: 1\n" + hps
    text += "datasets:\n"
    for d in range(n_datasets):
        text += f"  - path: {{train: s3://b/{d}/}}\n    meta:\n      id: {d}\n" + meta
    config = loads(text)
    expected = 1
    for values in algo_axes:
        expected *= len(values)
    dataset_variants = 1
    for values in dataset_axes:
        dataset_variants *= len(values)
    expected *= dataset_variants * n_datasets * runs
    requests = plan(config.algo * config.datasets, runs=runs)
    assert len(requests) == expected
    assert len({r["TrainingJobName"] for r in requests}) == expected
    trials = {next(t["Value"] for t in r["Tags"] if t["Key"] == "run_configuration_id") for r in requests}
    assert len(trials) * runs == expected


yaml_chars = st.sampled_from(list("abc:{}[]-,&*!|>'\"\n #$%@`?\t") + ["$ref", "$each", "$from", "$eval", "$None", "  ", "<<"])


@settings(max_examples=300, deadline=None)
@given(st.lists(yaml_chars, max_size=60).map("".join))
def test_malformed_yaml_gives_config_error_or_loads(text):
    try:
        loads(text)
    except ConfigError as exc:
        assert str(exc)


structured = st.recursive(
    st.one_of(st.integers(), st.text(max_size=5), st.sampled_from(["$None", "img", "ml.m5.xlarge", "s3://b/x"])),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["image", "instance", "path", "hyperparameters", "$each", "$ref", "$from", "$eval", "x", "algorithm", "dataset", "$job_name"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), structured, min_size=1, max_size=3))
def test_random_directive_structures_never_crash(doc):
    import yaml

    text = yaml.safe_dump(doc)
    try:
        config = loads(text)
    except ConfigError as exc:
        assert str(exc)
        return
    from runtool_iac.config import Experiment

    for name in config:
        node = config[name]
        if isinstance(node, Experiment):
            try:
                plan(node)
            except ConfigError as exc:  # e.g. invalid values surfacing at plan time
                assert str(exc)
