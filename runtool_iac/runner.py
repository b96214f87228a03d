"""The runner: start, follow, stop, redrive, rerun and collect executions of a deployed project.

Thin by design: the fan-out runs in AWS (Step Functions), so starting an
experiment of any size is a constant number of API calls. Everything that can
be computed (plans, manifests, job names) is computed by the pure modules;
this module only talks to CloudFormation (to find the deployment), S3
(manifests, results) and Step Functions.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from runtool_iac import manifest
from runtool_iac.errors import ActionError
from runtool_iac.history import Execution
from runtool_iac.manifest import ADHOC, ADHOC_OUTPUTS, DEFAULT_GROUP, output_id
from runtool_iac.plan import Plan
from runtool_iac.results import (
    MAX_RESULT_FILE_BYTES,
    JobResult,
    ResultsSkipped,
    Unreadable,
    collect_latest,
    failure_records,
    load_json,
    with_planned,
)

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# AWS redrives an execution only if "the execution status isn't SUCCEEDED" (and it is
# not running): Step Functions guide, "Redriving executions", redrive eligibility.
REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")
EXECUTION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class RunnerError(ActionError):
    """A one-line, actionable problem (missing stack, credentials, access...)."""


def token_for(execution_name: str) -> str:
    """The job-name suffix of an execution: derived from its name, so a repeated
    start of the same name can never create differently named (duplicate) jobs."""
    return hashlib.sha256(execution_name.encode()).hexdigest()[:8]


def default_execution_name(experiment: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    return f"{experiment}-{stamp}"[:80]


@dataclass
class Deployment:
    """What the stack's outputs say about a deployed project."""

    stack_name: str
    region: str
    outputs: dict[str, str]

    def machine_arn(self, experiment: str) -> str:
        key = f"{output_id(experiment)}StateMachineArn"
        if key not in self.outputs:
            known = sorted(k[: -len("StateMachineArn")] for k in self.outputs if k.endswith("StateMachineArn"))
            raise RunnerError(
                f"experiment '{experiment}' is not deployed in stack {self.stack_name} "
                f"(deployed: {', '.join(known) or 'none'}); add it to runtool.yml and run `npx cdk deploy`"
            )
        return self.outputs[key]

    def groups(self, experiment: str) -> dict[str, int]:
        return json.loads(self.outputs.get(f"{output_id(experiment)}Groups", "{}"))

    @property
    def bucket(self) -> str:
        return self.outputs["OutputBucketName"]

    @property
    def job_prefix(self) -> str:
        return self.outputs["JobPrefix"]

    @property
    def role_arn(self) -> str:
        return self.outputs["SageMakerRoleArn"]

    def experiments(self) -> list[str]:
        return sorted(k[: -len("StateMachineArn")] for k in self.outputs if k.endswith("StateMachineArn"))


@dataclass
class Started:
    execution_arn: str
    execution_name: str
    console_url: str
    job_names: list[str]
    already_existed: bool = False
    status: str = "RUNNING"


@dataclass
class GroupProgress:
    label: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ExecutionStatus:
    execution_arn: str
    name: str
    status: str
    started: datetime | None
    stopped: datetime | None
    groups: list[GroupProgress]
    error: str = ""
    cause: str = ""

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for group in self.groups:
            for key, value in group.counts.items():
                out[key] = out.get(key, 0) + value
        return out


def console_url(region: str, execution_arn: str) -> str:
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


class Runner:
    """boto3 operations on one deployed project stack."""

    def __init__(
        self,
        stack_name: str,
        session: Any = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.session = session or boto3.Session(profile_name=profile, region_name=region)
        self.region = region or self.session.region_name
        if not self.region:
            raise RunnerError("no AWS region: pass --region or set AWS_REGION / a profile with a region")
        # Throttling is retried by botocore itself (adaptive mode backs off client-side too).
        config = Config(retries={"mode": "adaptive", "max_attempts": 10})
        self._clients = {
            name: self.session.client(name, region_name=self.region, endpoint_url=endpoint_url, config=config)
            for name in ("cloudformation", "stepfunctions", "s3")
        }
        self.stack_name = stack_name
        self._deployment: Deployment | None = None

    @property
    def sfn(self) -> Any:
        return self._clients["stepfunctions"]

    @property
    def s3(self) -> Any:
        return self._clients["s3"]

    # --------------------------------------------------------------- discovery

    def deployment(self) -> Deployment:
        if self._deployment is None:
            response = self._call(
                self._clients["cloudformation"].describe_stacks,
                StackName=self.stack_name,
                missing=f"stack {self.stack_name} not found in {self.region}: deploy it first with `npx cdk deploy`",
            )
            stack = response["Stacks"][0]
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            if "OutputBucketName" not in outputs:
                raise RunnerError(f"stack {self.stack_name} is not a runtool_iac stack (no OutputBucketName output)")
            self._deployment = Deployment(self.stack_name, self.region, outputs)
        return self._deployment

    def _call(self, method: Callable, missing: str | None = None, **kwargs: Any) -> Any:
        """Call AWS, turning the usual failures into one-line RunnerErrors."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, getattr(method, "__name__", "call"), missing) from None

    # -------------------------------------------------------------------- start

    def start(
        self,
        experiment: str,
        declared: Plan,
        runs: int | None = None,
        name: str | None = None,
        plan_for_runs: Callable[[int], Plan] | None = None,
    ) -> Started:
        """Start a declared experiment: as deployed, or with another number of runs
        (then a manifest of exactly the jobs planned for them is uploaded)."""
        if runs is not None and runs != declared.runs:
            if plan_for_runs is None:
                raise RunnerError(f"{experiment} declares {declared.runs} runs; planning {runs} needs the project")
            return self.start_jobs(experiment, plan_for_runs(runs), name=name)
        deployment = self.deployment()
        arn = deployment.machine_arn(experiment)
        name = self._name(name or default_execution_name(experiment))
        token = token_for(name)
        return self._start(arn, name, {"token": token}, [f"{j.name}-{token}-0" for j in declared.jobs])

    def start_jobs(self, experiment: str, jobs: Plan, name: str | None = None) -> Started:
        """Start a declared experiment's state machine over exactly ``jobs`` (any
        subset of its plan, any number of runs): see ``start_items``."""
        return self.start_items(experiment, [manifest.item(job) for job in jobs.jobs], name=name)

    def start_items(self, experiment: str, items: Iterable[dict], name: str | None = None) -> Started:
        """Start an execution of the deployed ``experiment`` state machine over exactly
        ``items`` (manifest items, ``manifest.item(job)``), whatever they are: a plan for
        more or fewer runs, the jobs an execution did not complete (``rerun``), a subset
        of a plan. Their manifest is uploaded (one JSON-lines file per job group that
        has jobs) and the execution input says how many items each group has, so no map
        reads an empty file and the failure threshold counts only these jobs.
        A constant number of AWS calls, whatever the number of jobs."""
        items = list(items)
        deployment = self.deployment()
        arn = deployment.machine_arn(experiment)
        name = self._name(name or default_execution_name(experiment))
        token = token_for(name)
        deployed = deployment.groups(experiment)
        by_group: dict[str, list[dict]] = {group: [] for group in deployed}
        unknown: set[str] = set()
        for item in items:
            group = self._group_of(experiment, item, deployed)
            if group in by_group:
                by_group[group].append(item)
            else:
                unknown.add(group)
        if unknown:
            raise RunnerError(
                f"the configs now plan job groups {', '.join(sorted(unknown))} that the deployed {experiment} "
                "state machine does not have: run `npx cdk deploy` first"
            )
        prefix = f"{experiment}/_manifests/{name}"
        for group, members in by_group.items():
            if members:  # a group without jobs gets no file: its map is skipped
                ordered = sorted(members, key=lambda i: i["job"].get("run", 0))  # run-major, stable
                self._put(f"{prefix}/{group}.jsonl", "".join(json.dumps(i, ensure_ascii=False, separators=(",", ":")) + "\n" for i in ordered))
        execution_input = {
            "token": token,
            # Keys as in state data: the group id with '_' for '-' (JSONPath dot notation).
            "manifest": {
                "bucket": deployment.bucket,
                "prefix": prefix,
                "items": {g.replace("-", "_"): len(m) for g, m in by_group.items()},
            },
        }
        runs = max((int(i["job"].get("run", 0)) + 1 for i in items), default=1)
        if experiment == ADHOC or runs > 1:
            execution_input["runs"] = runs
        return self._start(arn, name, execution_input, [f"{i['job']['name']}-{token}-0" for i in items])

    @staticmethod
    def _group_of(experiment: str, item: dict, deployed: dict[str, int]) -> str:
        instance_type = item["job"]["instance_type"]
        if experiment == ADHOC:  # one group per capped instance type, the rest share one
            group = instance_type.replace(".", "-")
            return group if group in deployed else DEFAULT_GROUP
        return manifest.group_id(instance_type, tuple(sorted(item["request"])))

    def start_plan(self, plan: Plan, name: str | None = None) -> Started:
        """Run an ad-hoc plan (Client.run) on the deployed generic state machine."""
        items = []
        for job in plan.jobs:
            extra = set(job.request) - set(manifest.STANDARD_FIELDS) - set(manifest.STATE_MACHINE_FIELDS)
            if extra:
                raise RunnerError(
                    f"job {job.name} sets {', '.join(sorted(extra))} ($sagemaker overrides); the ad-hoc state machine "
                    "runs the standard request fields only: declare this experiment in runtool.yml and deploy it"
                )
            item = manifest.item(job)
            # The SageMaker role may write ad-hoc model outputs below ADHOC_OUTPUTS only.
            item["job"]["output_key"] = f"{ADHOC_OUTPUTS}/{item['job']['output_key']}"
            items.append(item)
        return self.start_items(ADHOC, items, name=name or default_execution_name(plan.experiment_name))

    def _name(self, name: str) -> str:
        if not EXECUTION_NAME_RE.fullmatch(name):
            raise RunnerError(f"execution name {name!r} must be 1-80 letters, digits, '-' or '_'")
        return name

    def _put(self, key: str, body: str) -> None:
        self._call(self.s3.put_object, Bucket=self.deployment().bucket, Key=key, Body=body.encode())

    def _start(self, state_machine_arn: str, name: str, execution_input: dict, job_names: list[str]) -> Started:
        from botocore.exceptions import ClientError

        execution_arn = _execution_arn(state_machine_arn, name)
        existing = self._describe_or_none(execution_arn)
        if existing is None:
            try:
                response = self.sfn.start_execution(
                    stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input, sort_keys=True)
                )
                execution_arn = response["executionArn"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                    raise _translate(exc, "start_execution") from None
                existing = self._describe_or_none(execution_arn) or {"status": "UNKNOWN"}
        return Started(
            execution_arn=execution_arn,
            execution_name=name,
            console_url=console_url(self.region, execution_arn),
            job_names=job_names,
            already_existed=existing is not None,
            status=(existing or {}).get("status", "RUNNING"),
        )

    def _describe_or_none(self, execution_arn: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.sfn.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
                return None
            raise

    # ------------------------------------------------------- existing executions

    def resolve(self, execution: str) -> str:
        """An execution ARN from an ARN or a name (searched in the project's state machines)."""
        if execution.startswith("arn:"):
            return execution
        deployment = self.deployment()
        for experiment in deployment.experiments():
            arn = _execution_arn(deployment.outputs[f"{experiment}StateMachineArn"], execution)
            if self._describe_or_none(arn) is not None:
                return arn
        raise RunnerError(f"no execution named {execution!r} in stack {self.stack_name}; see `runtool-iac list`")

    def status(self, execution: str) -> ExecutionStatus:
        arn = self.resolve(execution)
        described = self._call(self.sfn.describe_execution, executionArn=arn, missing=f"no execution {execution}")
        groups = []
        runs = self._call(self.sfn.list_map_runs, executionArn=arn).get("mapRuns", [])
        for run in runs:
            detail = self._call(self.sfn.describe_map_run, mapRunArn=run["mapRunArn"])
            counts = {k: v for k, v in detail.get("itemCounts", {}).items() if isinstance(v, int)}
            label = run["mapRunArn"].split(":")[-2].split("/")[-1] if ":" in run["mapRunArn"] else run["mapRunArn"]
            groups.append(GroupProgress(label=label, counts=counts))
        return ExecutionStatus(
            execution_arn=arn,
            name=described.get("name", arn.split(":")[-1]),
            status=described["status"],
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
            groups=sorted(groups, key=lambda g: g.label),
            error=described.get("error", ""),
            cause=described.get("cause", ""),
        )

    def stop(self, execution: str, cause: str = "stopped with runtool-iac stop") -> str:
        """Stop an execution; the .sync integration then stops its running training jobs."""
        arn = self.resolve(execution)
        self._call(self.sfn.stop_execution, executionArn=arn, cause=cause)
        return arn

    def redrive(self, execution: str) -> str:
        """Redrive an unsuccessful execution: AWS re-runs only its failed, aborted or
        timed-out items, each from the state where it stopped, with new job names
        (``$$.Execution.RedriveCount`` is in them); completed jobs keep their results."""
        arn = self.resolve(execution)
        described = self._call(self.sfn.describe_execution, executionArn=arn, missing=f"no execution {execution}")
        name, status = described.get("name", arn.split(":")[-1]), described["status"]
        if status == "SUCCEEDED":
            raise RunnerError(
                f"execution {name} SUCCEEDED and AWS cannot redrive it (only FAILED, ABORTED or TIMED_OUT executions): "
                f"run `runtool-iac rerun {name}` to run the jobs it did not complete in a new execution"
            )
        if status not in REDRIVABLE:
            raise RunnerError(f"execution {name} is {status}: only a FAILED, ABORTED or TIMED_OUT execution can be redriven")
        from botocore.exceptions import ClientError

        try:
            self.sfn.redrive_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ExecutionNotRedrivable":
                message = exc.response.get("Error", {}).get("Message", "")
                raise RunnerError(
                    f"AWS cannot redrive {name} ({message}); run `runtool-iac rerun {name}` to run the jobs it did not "
                    "complete in a new execution"
                ) from None
            raise _translate(exc, "redrive_execution") from None
        return arn

    def rerun(
        self, execution: str, plan_for_runs: Callable[[int | None], Plan] | None = None, name: str | None = None
    ) -> Started | None:
        """A new execution of the same experiment over exactly the jobs EXECUTION did not
        complete (failed, stopped, aborted, never started), with new job names; None when
        every job completed. Works for an execution in any terminal state, including one
        that SUCCEEDED with tolerated failures (which AWS cannot redrive)."""
        arn = self.resolve(execution)
        described = self._call(self.sfn.describe_execution, executionArn=arn, missing=f"no execution {execution}")
        if described["status"] not in TERMINAL:
            raise RunnerError(
                f"execution {described.get('name', arn)} is {described['status']}: wait for it to end "
                "(or `runtool-iac stop` it) before rerunning its jobs"
            )
        experiment = experiment_of(self.deployment(), arn)
        planned = self.planned_items(arn, plan_for_runs, described)
        done = {r.planned_name for r in self.results(arn, [], planned=planned, failure_details=False) if r.status == "Completed"}
        todo = [item for item in planned if item["job"]["name"] not in done]
        if not todo:
            return None
        return self.start_items(experiment, todo, name=name)

    def planned_items(
        self, execution: str, plan_for_runs: Callable[[int | None], Plan] | None = None, described: dict | None = None
    ) -> list[dict]:
        """The manifest items an execution was started with: its uploaded manifest, or the
        declared experiment planned for its runs (``plan_for_runs``; from the project)."""
        arn = self.resolve(execution)
        described = described or self._call(self.sfn.describe_execution, executionArn=arn, missing=f"no execution {execution}")
        try:
            execution_input = json.loads(described.get("input") or "{}")
        except json.JSONDecodeError:
            execution_input = {}
        uploaded = execution_input.get("manifest") if isinstance(execution_input, dict) else None
        if isinstance(uploaded, dict) and isinstance(uploaded.get("prefix"), str):
            items: list[dict] = []
            keys = []
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=uploaded["bucket"], Prefix=uploaded["prefix"] + "/"):
                keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".jsonl")]
            for key in sorted(keys):
                response = self._call(self.s3.get_object, Bucket=uploaded["bucket"], Key=key, missing=f"no manifest {key}")
                items += manifest.read_jsonl(response["Body"].read().decode())
            return items
        if plan_for_runs is None:
            raise RunnerError(f"execution {described.get('name', arn)} ran the declared manifest: its jobs need the project (runtool.yml)")
        runs = execution_input.get("runs") if isinstance(execution_input, dict) else None
        plan = plan_for_runs(runs if isinstance(runs, int) and not isinstance(runs, bool) else None)
        return [manifest.item(job) for job in plan.jobs]

    def list(self, limit: int = 20) -> list[dict]:
        deployment = self.deployment()
        rows = []
        for experiment in deployment.experiments():
            arn = deployment.outputs[f"{experiment}StateMachineArn"]
            response = self._call(self.sfn.list_executions, stateMachineArn=arn, maxResults=limit)
            for item in response.get("executions", []):
                rows.append({"experiment": experiment, **item})
        rows.sort(key=lambda r: r.get("startDate") or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
        return rows[:limit]

    def results(
        self,
        execution: str,
        skipped: list[str] | None = None,
        planned: list[dict] | None = None,
        failure_details: bool = True,
    ) -> list[JobResult]:
        """One row per job of the execution, its latest attempt, from the ResultWriter files
        of its map runs (``results.collect_latest``); with ``planned`` (its manifest items,
        ``planned_items``), jobs with no result yet are listed as NotStarted.
        ``failure_details=False`` skips the one GetObject per failed job that reads its
        failure record (callers that only need what completed).

        A damaged or missing file is noted in ``skipped`` (``s3://bucket/key: why``;
        a ``ResultsSkipped`` warning without it) and the rest is read.
        """
        arn = self.resolve(execution)
        deployment = self.deployment()
        experiment = experiment_of(deployment, arn)
        prefix = f"{experiment}/_results/{arn.split(':')[-1]}/"
        listed: dict[str, Any] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=deployment.bucket, Prefix=prefix):
            listed.update({o["Key"]: o.get("LastModified") for o in page.get("Contents", [])})
        notes: list[str] = [] if skipped is None else skipped
        manifests = sorted((k for k in listed if k.endswith("/manifest.json")), key=lambda k: (str(listed[k] or ""), k))
        records = failure_records(prefix, listed) if failure_details else {}
        found = collect_latest(manifests, self._json_object, lambda _, key: key, notes, records)
        if skipped is None:
            for note in notes:
                warnings.warn(f"skipped {note}", ResultsSkipped, stacklevel=2)
        return with_planned(found, planned) if planned is not None else found

    def executions(self, experiment: str, experiment_name: str | None = None) -> list[Execution]:
        """Every execution of ``experiment``'s state machine with the results it wrote, oldest first.

        A constant number of calls per execution, whatever its number of jobs:
        ListExecutions (one page per 1,000 executions), then per execution one
        listing of its results prefix and one GetObject per ResultWriter file.
        ``experiment_name`` keeps only the executions with jobs of that
        experiment, and only those jobs (for the ad-hoc state machine, which
        runs every ``Client.run`` experiment).
        """
        arn = self.deployment().machine_arn(experiment)
        listed = []
        for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
            listed += page.get("executions", [])
        found = []
        for item in listed:
            rows = self.results(item["executionArn"], failure_details=False) if item.get("status") != "RUNNING" else []
            if experiment_name is not None:
                rows = [r for r in rows if r.run_configuration_id.rsplit("_", 1)[0] == experiment_name]
                if not rows:
                    continue  # another experiment's execution
            started = item.get("startDate")
            found.append(Execution(item["name"], started.isoformat() if started else "", item.get("status", ""), tuple(rows)))
        return sorted(found, key=lambda e: (e.started, e.name))

    def _json_object(self, key: str) -> Any:
        """An S3 object's JSON, or ``Unreadable`` (missing, too big, damaged) naming ``s3://bucket/key``."""
        from botocore.exceptions import ClientError

        bucket = self.deployment().bucket
        location = f"s3://{bucket}/{key}"
        try:
            response = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise Unreadable(location, "no such object") from None
            raise _translate(exc, "get_object") from None
        if (response.get("ContentLength") or 0) > MAX_RESULT_FILE_BYTES:
            raise Unreadable(location, f"{response['ContentLength']} bytes: more than the {MAX_RESULT_FILE_BYTES} bytes a results file may have")
        return load_json(response["Body"].read(MAX_RESULT_FILE_BYTES + 1), location)

    def wait(self, execution: str, on_status: Callable[[ExecutionStatus], None] | None = None, poll_seconds: float = 10.0) -> ExecutionStatus:
        while True:
            status = self.status(execution)
            if on_status:
                on_status(status)
            if status.status in TERMINAL:
                return status
            time.sleep(poll_seconds)


def _translate(exc: Exception, operation: str, missing: str | None = None) -> RunnerError:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return RunnerError("no AWS credentials: configure a profile (--profile) or environment credentials")
    if isinstance(exc, NoRegionError):
        return RunnerError("no AWS region: pass --region or set AWS_REGION")
    if isinstance(exc, EndpointConnectionError):
        return RunnerError(f"cannot reach {exc.kwargs.get('endpoint_url', 'AWS')}: wrong region or endpoint?")
    if not isinstance(exc, ClientError):
        return RunnerError(f"{operation} failed: {exc}")
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    gone = ("ValidationError", "ExecutionDoesNotExist", "StateMachineDoesNotExist", "NoSuchKey", "404")
    if missing and (code in gone or "does not exist" in message):
        return RunnerError(missing)
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
        return RunnerError(f"access denied for {operation}: {message}")
    if code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"):
        return RunnerError(f"AWS rejected the credentials ({code}): {message}")
    return RunnerError(f"{operation} failed ({code}): {message}")


def _execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def experiment_of(deployment: Deployment, execution_arn: str) -> str:
    """The experiment (runtool.yml name) an execution belongs to."""
    machine = execution_arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    for experiment in deployment.experiments():
        if deployment.outputs[f"{experiment}StateMachineArn"] == machine:
            return _experiment_name(experiment, deployment)
    raise RunnerError(f"execution {execution_arn} does not belong to stack {deployment.stack_name}")


def _experiment_name(output_prefix: str, deployment: Deployment) -> str:
    """The experiment's own name (results prefix) from its ResultsLocation output."""
    location = deployment.outputs.get(f"{output_prefix}ResultsLocation", "")
    match = re.match(r"^s3://[^/]+/(.+)/_results/?$", location)
    return match.group(1) if match else output_prefix.lower()
