"""`results` on damaged, missing and special files: each is named and skipped, the rest is shown, exit 3.

Reproductions from issue 13 (part B, deliverable 6). Two local runs are
written with the real writer; one file of the first run is then damaged.
"""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from runtool_iac import results
from runtool_iac.cli import main
from runtool_iac.commands.runner import EXIT_SKIPPED

GOOD_RUN, BAD_RUN = "20260102-000000-000000", "20260101-000000-000000"


def entry(name: str, algorithm: str, status: str = "SUCCEEDED", **result) -> dict:
    job_input = {"job": {"name": name, "algorithm": algorithm, "dataset": "ds", "run": 0}}
    if status == "SUCCEEDED":
        description = {"TrainingJobName": name, "TrainingJobStatus": "Completed", "TrainingTimeInSeconds": 3,
                       "FinalMetricDataList": [{"MetricName": "MASE", "Value": 0.5}], **result}
        return results.succeeded_entry(job_input, description, name)
    cause = json.dumps({"TrainingJobName": name, "TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: boom"})
    return results.failed_entry(job_input, "States.TaskFailed", cause, name)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    """<output>/exp/_results/<run>/ for a good run (job 'good-1') and a run to damage ('bad-1', 'bad-2')."""
    folder = tmp_path / "out"
    results.write_result_files(folder / "exp" / "_results" / GOOD_RUN, [entry("good-1", "good")])
    results.write_result_files(folder / "exp" / "_results" / BAD_RUN, [entry("bad-1", "bad"), entry("bad-2", "bad", "FAILED")])
    return folder


def bad(output: Path, name: str) -> Path:
    return output / "exp" / "_results" / BAD_RUN / name


def rewrite(path: Path, data: bytes | str) -> None:
    path.unlink()
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def edit_entries(path: Path, change) -> None:
    entries = json.loads(path.read_text())
    change(entries)
    path.write_text(json.dumps(entries))


def fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _socket(path: Path) -> None:
    import socket

    path.unlink()
    here = os.getcwd()
    os.chdir(path.parent)  # AF_UNIX paths are limited to 108 bytes
    try:
        server = socket.socket(socket.AF_UNIX)
        server.bind(path.name)
        server.close()  # the socket file stays
    finally:
        os.chdir(here)


def edit_manifest(change):
    def damage(output: Path) -> None:
        manifest = json.loads(bad(output, "manifest.json").read_text())
        change(manifest)
        bad(output, "manifest.json").write_text(json.dumps(manifest))
    return damage


DEEP = "[" * 100_000 + "]" * 100_000


def first_entry(change):
    def damage(output: Path) -> None:
        def edit(entries):
            change(entries[0])
        edit_entries(bad(output, "SUCCEEDED_0.json"), edit)
    return damage


def output_result(change):
    def edit(e):
        output = json.loads(e["Output"])
        change(output)
        e["Output"] = json.dumps(output)
    return first_entry(edit)


# name -> (damage, file reported, rows of the bad run still shown)
CASES = {
    "result-files-is-a-list": (edit_manifest(lambda m: m.update(ResultFiles=[])), "manifest.json", 0),
    "result-files-kind-not-a-list": (edit_manifest(lambda m: m["ResultFiles"].update(SUCCEEDED={"Key": "x"})), "manifest.json", 1),
    "result-file-ref-without-key": (edit_manifest(lambda m: m["ResultFiles"]["SUCCEEDED"][0].pop("Key")), "manifest.json", 1),
    "result-file-ref-key-not-a-string": (edit_manifest(lambda m: m["ResultFiles"]["SUCCEEDED"][0].update(Key=7)), "manifest.json", 1),
    "manifest-is-an-array": (lambda o: rewrite(bad(o, "manifest.json"), "[]"), "manifest.json", 0),
    "manifest-is-null": (lambda o: rewrite(bad(o, "manifest.json"), "null"), "manifest.json", 0),
    "missing-referenced-file": (lambda o: bad(o, "SUCCEEDED_0.json").unlink(), "SUCCEEDED_0.json", 1),
    "key-escaping-the-folder": (edit_manifest(lambda m: m["ResultFiles"]["FAILED"][0].update(Key="../../../../etc/passwd")), "passwd", 1),
    "truncated-manifest": (lambda o: rewrite(bad(o, "manifest.json"), bad(o, "manifest.json").read_bytes()[:40]), "manifest.json", 0),
    "truncated-result-file": (lambda o: rewrite(bad(o, "FAILED_0.json"), bad(o, "FAILED_0.json").read_bytes()[:60]), "FAILED_0.json", 1),
    "empty-manifest": (lambda o: rewrite(bad(o, "manifest.json"), ""), "manifest.json", 0),
    "empty-result-file": (lambda o: rewrite(bad(o, "SUCCEEDED_0.json"), b""), "SUCCEEDED_0.json", 1),
    "deep-json-manifest": (lambda o: rewrite(bad(o, "manifest.json"), DEEP), "manifest.json", 0),
    "deep-json-result-file": (lambda o: rewrite(bad(o, "SUCCEEDED_0.json"), DEEP), "SUCCEEDED_0.json", 1),
    "deep-json-in-an-entry-output": (first_entry(lambda e: e.update(Output=DEEP)), "SUCCEEDED_0.json", 1),
    "fifo-manifest": (lambda o: fifo(bad(o, "manifest.json")), "manifest.json", 0),
    "fifo-result-file": (lambda o: fifo(bad(o, "SUCCEEDED_0.json")), "SUCCEEDED_0.json", 1),
    "result-file-is-a-folder": (lambda o: (bad(o, "SUCCEEDED_0.json").unlink(), bad(o, "SUCCEEDED_0.json").mkdir()), "SUCCEEDED_0.json", 1),
    "result-file-links-to-dev-zero": (lambda o: (bad(o, "SUCCEEDED_0.json").unlink(), bad(o, "SUCCEEDED_0.json").symlink_to("/dev/zero")), "SUCCEEDED_0.json", 1),
    "dangling-symlink-manifest": (lambda o: (bad(o, "manifest.json").unlink(), bad(o, "manifest.json").symlink_to(o / "nowhere")), "manifest.json", 0),
    "binary-garbage": (lambda o: rewrite(bad(o, "SUCCEEDED_0.json"), bytes(range(256)) * 10), "SUCCEEDED_0.json", 1),
    "utf16-file": (lambda o: rewrite(bad(o, "manifest.json"), bad(o, "manifest.json").read_text().encode("utf-16")), "manifest.json", 0),
    "huge-integer": (lambda o: rewrite(bad(o, "SUCCEEDED_0.json"), "[" + "9" * 5000 + "]"), "SUCCEEDED_0.json", 1),
    "entries-not-an-array": (lambda o: rewrite(bad(o, "SUCCEEDED_0.json"), '{"Name": "x"}'), "SUCCEEDED_0.json", 1),
    "entry-not-an-object": (lambda o: edit_entries(bad(o, "SUCCEEDED_0.json"), lambda es: es.insert(0, 42)), "SUCCEEDED_0.json", 2),
    "run-not-a-number": (first_entry(lambda e: e.update(Input=json.dumps({"job": {"name": "bad-1", "run": "x"}}))), "SUCCEEDED_0.json", 1),
    "job-not-an-object": (first_entry(lambda e: e.update(Input=json.dumps({"job": [1, 2]}))), "SUCCEEDED_0.json", 1),
    "algorithm-not-a-string": (first_entry(lambda e: e.update(Input=json.dumps({"job": {"name": "b", "algorithm": {"x": 1}}}))), "SUCCEEDED_0.json", 1),
    "training-time-a-string": (output_result(lambda o: o["result"].update(TrainingTimeInSeconds="12s")), "SUCCEEDED_0.json", 1),
    "result-a-list": (output_result(lambda o: o.update(result=[1])), "SUCCEEDED_0.json", 1),
    "metric-name-a-number": (output_result(lambda o: o["result"].update(FinalMetricDataList=[{"MetricName": 5, "Value": 1}])), "SUCCEEDED_0.json", 1),
    "status-a-number": (output_result(lambda o: o["result"].update(TrainingJobStatus=5)), "SUCCEEDED_0.json", 1),
    "no-result-files": (edit_manifest(lambda m: m.pop("ResultFiles")), "manifest.json", 0),
    "result-files-null": (edit_manifest(lambda m: m.update(ResultFiles=None)), "manifest.json", 0),
    "key-with-a-nul-byte": (edit_manifest(lambda m: m["ResultFiles"]["FAILED"][0].update(Key="FAILED\u0000.json")), "FAILED", 1),
    "key-too-long-for-a-file-name": (edit_manifest(lambda m: m["ResultFiles"]["FAILED"][0].update(Key="F" * 5000)), "FFFF", 1),
    "manifest-is-a-folder": (lambda o: (bad(o, "manifest.json").unlink(), bad(o, "manifest.json").mkdir()), "manifest.json", 0),
    "manifest-missing": (lambda o: bad(o, "manifest.json").unlink(), BAD_RUN, 0),
    "manifest-symlink-loop": (lambda o: (bad(o, "manifest.json").unlink(), bad(o, "loop").symlink_to(bad(o, "manifest.json")),
                                         bad(o, "manifest.json").symlink_to(bad(o, "loop"))), "manifest.json", 0),
    "manifest-sparse-1-gib": (lambda o: os.truncate(bad(o, "manifest.json"), 1 << 30), "manifest.json", 0),
    "result-file-sparse-1-gib": (lambda o: os.truncate(bad(o, "FAILED_0.json"), 1 << 30), "FAILED_0.json", 1),
    "utf8-bom": (lambda o: rewrite(bad(o, "FAILED_0.json"), b"\xef\xbb\xbf" + bad(o, "FAILED_0.json").read_bytes()), "FAILED_0.json", 1),
    "deep-json-in-an-entry-input": (first_entry(lambda e: e.update(Input=DEEP)), "SUCCEEDED_0.json", 1),
    "deep-json-in-a-cause": (lambda o: edit_entries(bad(o, "FAILED_0.json"), lambda es: es[0].update(Cause=DEEP)), "FAILED_0.json", 1),
    "deep-metric-list": (first_entry(lambda e: e.update(Output=e["Output"].replace('"FinalMetricDataList":[', '"FinalMetricDataList":' + "[" * 980 + "]" * 979 + ","))), "SUCCEEDED_0.json", 1),
    "result-file-is-a-socket": (lambda o: _socket(bad(o, "SUCCEEDED_0.json")), "SUCCEEDED_0.json", 1),
    "cause-with-a-list-job-status": (lambda o: edit_entries(bad(o, "FAILED_0.json"), lambda es: es[0].update(Cause=json.dumps({"cause": json.dumps({"TrainingJobStatus": ["x"]})}))), "FAILED_0.json", 1),
}


def run_results(*args: str):
    return CliRunner().invoke(main, ["results", *args], catch_exceptions=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_file_is_named_and_skipped_and_the_rest_is_shown(output, case):
    damage, reported, bad_rows = CASES[case]
    damage(output)
    result = run_results(str(output))
    assert result.exit_code == EXIT_SKIPPED, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipped ")]
    assert warnings, result.stderr
    assert any(str(bad(output, "")) in line and reported in line for line in warnings), warnings
    assert "Traceback" not in result.stderr
    assert "good-1" in result.stdout
    assert sum(f"bad-{n}" in result.stdout for n in (1, 2)) == bad_rows


def test_every_case_is_also_skipped_by_read_local_with_a_warning(output):
    CASES["truncated-manifest"][0](output)
    with pytest.warns(results.ResultsSkipped, match="manifest.json: not valid JSON"):
        found = results.read_local(output)
    assert [r.job_name for r in found] == ["good-1"]


def test_undamaged_results_exit_0_and_json_output_stays_json(output):
    result = run_results(str(output), "--format", "json")
    assert result.exit_code == 0 and result.stderr == ""
    assert sorted(r["job_name"] for r in json.loads(result.stdout)) == ["bad-1", "bad-2", "good-1"]
    damaged = output / "exp" / "_results" / BAD_RUN / "FAILED_0.json"
    rewrite(damaged, "[{")
    result = run_results(str(output), "--format", "json")
    assert result.exit_code == EXIT_SKIPPED
    assert sorted(r["job_name"] for r in json.loads(result.stdout)) == ["bad-1", "good-1"]
    assert f"warning: skipped {damaged}: not valid JSON" in result.stderr


def test_pivot_still_works_over_what_could_be_read(output):
    fifo(bad(output, "SUCCEEDED_0.json"))
    result = run_results(str(output), "--pivot", "MASE")
    assert result.exit_code == EXIT_SKIPPED
    assert "good" in result.stdout and "0.500" in result.stdout


def test_nothing_readable_is_an_error_that_still_names_the_files(tmp_path):
    folder = tmp_path / "out" / "exp" / "_results" / "r"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text('{"ResultFiles": [}')
    result = run_results(str(tmp_path / "out"))
    assert result.exit_code == EXIT_SKIPPED
    assert f"warning: skipped {folder / 'manifest.json'}: not valid JSON" in result.stderr
    assert "error: no readable results" in result.stderr


def test_a_file_given_instead_of_a_folder_is_a_usage_error(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{}")
    result = run_results(str(path))
    assert result.exit_code == 2 and "is not a folder" in result.stderr


def test_oversized_files_are_skipped_unread(output, monkeypatch):
    monkeypatch.setattr(results, "MAX_RESULT_FILE_BYTES", 100)
    result = run_results(str(output))
    assert result.exit_code == EXIT_SKIPPED
    assert "more than the 100 bytes" in result.stderr


def test_a_very_deep_folder_tree_is_not_a_crash(output):
    deep = output / "exp"
    for _ in range(100):  # deeper than MAX_FOLDER_DEPTH; each level is walked without recursion
        deep = deep / "d"
    deep.mkdir(parents=True)
    result = run_results(str(output))
    assert result.exit_code == 0
    assert "good-1" in result.stdout


def test_exit_code_3_is_documented_in_the_cli_reference():
    text = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    section = text[text.index("## `runtool-iac results`"):]
    assert "3 some files or entries were skipped" in section


# ------------------------------------------------------------------ cloud: the same reading over S3


def test_damaged_objects_of_a_cloud_execution_are_named_and_skipped():
    import boto3
    from moto import mock_aws

    from runtool_iac.runner import Deployment, Runner

    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:exp"
    arn = machine.replace(":stateMachine:", ":execution:") + ":ex1"
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="out", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        prefix = "exp/_results/ex1"
        good = [entry("good-1", "good")]
        s3.put_object(Bucket="out", Key=f"{prefix}/run-a/SUCCEEDED_0.json", Body=json.dumps(good))
        s3.put_object(Bucket="out", Key=f"{prefix}/run-a/manifest.json", Body=json.dumps(
            {"ResultFiles": {"SUCCEEDED": [{"Key": f"{prefix}/run-a/SUCCEEDED_0.json"}], "FAILED": [{"Key": f"{prefix}/run-a/gone.json"}]}}))
        s3.put_object(Bucket="out", Key=f"{prefix}/run-b/manifest.json", Body=b'{"ResultFiles": ')
        s3.put_object(Bucket="out", Key=f"{prefix}/run-c/manifest.json", Body=DEEP)
        runner = Runner("stack", region="eu-west-1")
        runner._deployment = Deployment("stack", "eu-west-1", {
            "OutputBucketName": "out", "ExpStateMachineArn": machine, "ExpResultsLocation": "s3://out/exp/_results/"})
        skipped: list[str] = []
        found = runner.results(arn, skipped)
    assert [r.job_name for r in found] == ["good-1"]
    assert skipped == [
        f"s3://out/{prefix}/run-a/gone.json: no such object (listed in {prefix}/run-a/manifest.json)",
        f"s3://out/{prefix}/run-b/manifest.json: not valid JSON (Expecting value at line 1, column 17); truncated or damaged?",
        f"s3://out/{prefix}/run-c/manifest.json: JSON nested too deeply to read",
    ]


def test_results_of_an_experiment_across_local_runs_skip_damaged_files_too(output):
    CASES["truncated-result-file"][0](output)
    result = run_results("--experiment", "exp", "--local", "--output-dir", str(output))
    assert result.exit_code == EXIT_SKIPPED, result.output
    assert f"warning: skipped {bad(output, 'FAILED_0.json')}: not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr
