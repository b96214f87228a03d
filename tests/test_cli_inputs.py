"""Issue 13: special files, huge inputs and deep expressions are clear errors within a second."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from runtool_iac.config import load_config, loads
from runtool_iac.config.source import MAX_FILE_BYTES
from runtool_iac.errors import ConfigError
from runtool_iac.experiment_expr import MAX_NESTING, parse_experiment

from conftest import ALGO, DS, ROOT

CONFIG = textwrap.dedent(ALGO + DS)


def runtool(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtool_iac.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_validate_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.yml"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="named pipe"):
        load_config(fifo)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_devices_are_refused_without_reading(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(device)
    assert str(info.value) == f"{device}:1:1: is a character device, not a regular file"
    assert time.monotonic() - started < 5


def test_cli_special_files_exit_1_with_one_line(tmp_path):
    fifo = tmp_path / "pipe.yml"
    os.mkfifo(fifo)
    (tmp_path / "dir.yml").mkdir()
    (tmp_path / "runtool.yml").write_text("project: p\nconfigs: ['*.yml']\nexperiments: {e: {experiment: a * b}}\n")
    for args in (["validate", "/dev/zero"], ["validate", str(fifo)], ["validate", "--project", str(fifo)],
                 ["validate", "--project", str(tmp_path / "runtool.yml")]):
        started = time.monotonic()
        result = runtool(*args)
        assert time.monotonic() - started < 15  # a fresh interpreter on a shared machine; the check itself is instant
        assert result.returncode == 1, (args, result)
        assert "Traceback" not in result.stderr
        lines = result.stdout.strip().splitlines()
        assert lines and all(":1:1: is " in line for line in lines), (args, result.stdout)


def test_huge_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yml"
    with open(big, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES * 4)  # sparse: 20 MiB of NULs, cheap to make
    started = time.monotonic()
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big)
    assert time.monotonic() - started < 5


def test_invalid_utf8_is_located(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_bytes(b"a: 1\nb: caf\xc3\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(info.value).startswith(f"{bad}:2:7: file is not UTF-8")


def test_deeply_nested_expression_is_a_clear_error():
    config = loads(CONFIG)
    text = "(" * 5000 + "algo" + ")" * 5000 + " * ds"
    with pytest.raises(ConfigError) as info:
        parse_experiment(text, config)
    (line,) = str(info.value).splitlines()
    assert f"nested more than {MAX_NESTING} deep" in line and line.startswith("<experiment>:1:101:")
    assert len(line) < 300


def test_nesting_up_to_the_limit_works():
    config = loads(CONFIG)
    text = "(" * MAX_NESTING + "algo" + ")" * MAX_NESTING + " * ds"
    assert len(parse_experiment(text, config)) == 1


def test_long_sums_parse_in_linear_time():
    text = "".join(f"a{i}: {{image: img, instance: ml.m5.xlarge}}\n" for i in range(200)) + "ds: {path: {train: s3://b/x}}\n"
    config = loads(text)

    def parse(terms: int) -> float:
        expression = "(" + " + ".join(f"a{i % 200}" for i in range(terms)) + ") * ds"
        started = time.monotonic()
        assert len(parse_experiment(expression, config)) == terms
        return time.monotonic() - started

    parse(1000)
    small = min(parse(4000) for _ in range(3))
    large = min(parse(40000) for _ in range(3))
    assert large < 10.0
    assert large < 40 * max(small, 0.005)  # 10x the terms: ~10x the time (quadratic was 100x)


def test_mixed_sum_reports_the_offending_operator():
    config = loads(CONFIG)
    with pytest.raises(ConfigError) as info:
        parse_experiment("algo + algo + ds", config)
    assert str(info.value).startswith("<experiment>:1:13: cannot combine")


def test_cli_deep_expression_exits_1(tmp_path):
    file = tmp_path / "c.yml"
    file.write_text(CONFIG)
    result = runtool("plan", str(file), "-e", "(" * 5000 + "algo * ds" + ")" * 5000)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nested more than" in result.stdout
