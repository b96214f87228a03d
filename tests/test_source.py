"""YAML reading: locations, duplicate keys, hostile input."""

import pytest

from runtool_iac.config import load_config
from runtool_iac.config.source import MAX_FILE_BYTES, parse_yaml
from runtool_iac.errors import ConfigError

from conftest import problems


def test_locations_are_recorded_for_keys_and_values():
    doc = parse_yaml("a:\n  b: 1\n  c: [x, y]\n", "f.yml")
    assert doc.key_locs["a"].line == 1
    assert doc["a"].value_locs["b"].line == 2 and doc["a"].value_locs["b"].column == 6
    assert doc["a"]["c"].item_locs[1].column == 10


def test_every_duplicate_key_is_reported_with_both_lines():
    lines = problems("a: 1\nb: 2\na: 3\nc: {x: 1, x: 2}\n")
    assert "test.yml:3:1: duplicate key 'a' (first defined at line 1)" in lines
    assert any(l.startswith("test.yml:4:11: duplicate key 'x'") for l in lines)


def test_yaml_syntax_error_points_at_the_position():
    (line,) = problems("a: [1, 2\nb: 3\n")
    assert line.startswith("test.yml:") and "invalid YAML" in line


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb += f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n"
    (line,) = problems(bomb)
    assert "alias bomb" in line


def test_recursive_alias_is_an_error_not_a_recursion_error():
    (line,) = problems("a: &a [*a]\n")
    assert "nested more than" in line


def test_deep_nesting_is_an_error():
    (line,) = problems("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested" in line or "invalid YAML" in line


def test_file_size_limit(tmp_path):
    big = tmp_path / "big.yml"
    big.write_text("a: '" + "x" * (MAX_FILE_BYTES + 10) + "'\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big)


def test_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_python_tags_and_binary_are_refused():
    assert "could not determine a constructor" in problems("a: !!python/object:os.system x\n")[0]
    assert "binary" in problems("a: !!binary aGVsbG8=\n")[0]


def test_top_level_must_be_a_mapping_and_one_document():
    assert "mapping" in problems("- a\n- b\n")[0]
    assert "invalid YAML" in problems("a: 1\n---\nb: 2\n")[0]


def test_dates_stay_json_compatible_and_keys_stay_as_written():
    doc = parse_yaml("on: 2021-01-01\n1: yes\n", "f.yml")
    assert doc == {"on": "2021-01-01", "1": True}


def test_merge_keys_are_supported_and_explicit_keys_win():
    doc = parse_yaml("base: &b {x: 1, y: 2}\nc: {<<: *b, y: 3}\n", "f.yml")
    assert doc["c"] == {"y": 3, "x": 1}


def test_later_files_reference_earlier_ones_and_names_must_be_unique(tmp_path):
    a = tmp_path / "a.yml"
    b = tmp_path / "b.yml"
    a.write_text("base: {image: img, instance: ml.m5.xlarge}\n")
    b.write_text("algo: {$from: base, hyperparameters: {x: 1}}\n")
    config = load_config(a, b)
    assert config.algo[0].value["image"] == "img"
    b.write_text("base: {x: 1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(a, b)
    assert f"{b}:1:1: base: 'base' is already defined at {a}:1:1" in str(info.value)
