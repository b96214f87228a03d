"""The runner: start, follow, stop, redrive and collect executions of a deployed project.

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
from typing import Any, Callable

from runtool_iac import manifest
from runtool_iac.errors import ActionError
from runtool_iac.history import Execution
from runtool_iac.manifest import ADHOC, ADHOC_OUTPUTS, DEFAULT_GROUP, output_id
from runtool_iac.plan import Plan
from runtool_iac.results import MAX_RESULT_FILE_BYTES, JobResult, ResultsSkipped, Unreadable, collect, load_json

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
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
        (then a manifest planned for them is uploaded, so every item is a job)."""
        deployment = self.deployment()
        arn = deployment.machine_arn(experiment)
        name = self._name(name or default_execution_name(experiment))
        token = token_for(name)
        execution_input: dict[str, Any] = {"token": token}
        if runs is not None and runs != declared.runs:
            if plan_for_runs is None:
                raise RunnerError(f"{experiment} declares {declared.runs} runs; planning {runs} needs the project")
            return self.start_jobs(experiment, plan_for_runs(runs), name)
        return self._start(arn, name, execution_input, [f"{j.name}-{token}-0" for j in declared.jobs])

    def start_jobs(self, experiment: str, jobs: Plan, name: str | None = None) -> Started:
        """Start a declared experiment's state machine over exactly ``jobs`` (any
        subset of its plan, any number of runs): their manifest is uploaded and
        named in the input, so every item is one of these jobs."""
        deployment = self.deployment()
        arn = deployment.machine_arn(experiment)
        name = self._name(name or default_execution_name(experiment))
        token = token_for(name)
        prefix = f"{experiment}/_manifests/{name}"
        self._upload_groups(manifest.groups(jobs), deployment.groups(experiment), prefix, experiment)
        execution_input = {"token": token, "runs": jobs.runs, "manifest": {"bucket": deployment.bucket, "prefix": prefix}}
        return self._start(arn, name, execution_input, [f"{j.name}-{token}-0" for j in jobs.jobs])

    def start_plan(self, plan: Plan, name: str | None = None) -> Started:
        """Run an ad-hoc plan (Client.run) on the deployed generic state machine."""
        deployment = self.deployment()
        arn = deployment.machine_arn(ADHOC)
        name = self._name(name or default_execution_name(plan.experiment_name))
        token = token_for(name)
        deployed = deployment.groups(ADHOC)
        by_group: dict[str, list[dict]] = {group: [] for group in deployed}
        for job in plan.jobs:
            extra = set(job.request) - set(manifest.STANDARD_FIELDS) - set(manifest.STATE_MACHINE_FIELDS)
            if extra:
                raise RunnerError(
                    f"job {job.name} sets {', '.join(sorted(extra))} ($sagemaker overrides); the ad-hoc state machine "
                    "runs the standard request fields only: declare this experiment in runtool.yml and deploy it"
                )
            group = job.instance_type.replace(".", "-")
            item = manifest.item(job)
            # The SageMaker role may write ad-hoc model outputs below ADHOC_OUTPUTS only.
            item["job"]["output_key"] = f"{ADHOC_OUTPUTS}/{item['job']['output_key']}"
            by_group[group if group in deployed else DEFAULT_GROUP].append(item)
        prefix = f"{ADHOC}/_manifests/{name}"
        for group, items in by_group.items():
            self._put(f"{prefix}/{group}.jsonl", "".join(json.dumps(i, separators=(",", ":")) + "\n" for i in items))
        execution_input = {"token": token, "runs": plan.runs, "manifest": {"bucket": deployment.bucket, "prefix": prefix}}
        return self._start(arn, name, execution_input, [f"{j.name}-{token}-0" for j in plan.jobs])

    def _name(self, name: str) -> str:
        if not EXECUTION_NAME_RE.fullmatch(name):
            raise RunnerError(f"execution name {name!r} must be 1-80 letters, digits, '-' or '_'")
        return name

    def _upload_groups(self, groups: list[manifest.Group], deployed: dict[str, int], prefix: str, experiment: str) -> None:
        ids = {g.id for g in groups}
        unknown = ids - set(deployed)
        if unknown:
            raise RunnerError(
                f"the configs now plan job groups {', '.join(sorted(unknown))} that the deployed {experiment} "
                "state machine does not have: run `npx cdk deploy` first"
            )
        by_id = {g.id: g for g in groups}
        for group_id in deployed:  # every deployed map reads its file, possibly empty
            self._put(f"{prefix}/{group_id}.jsonl", by_id[group_id].jsonl() if group_id in by_id else "")

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
        """Re-run only the failed/aborted items (Step Functions redrive; new job names via RedriveCount)."""
        arn = self.resolve(execution)
        self._call(self.sfn.redrive_execution, executionArn=arn)
        return arn

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

    def results(self, execution: str, skipped: list[str] | None = None) -> list[JobResult]:
        """Per-job results from the ResultWriter files of every map run of the execution.

        A damaged or missing file is noted in ``skipped`` (``s3://bucket/key: why``;
        a ``ResultsSkipped`` warning without it) and the rest is read.
        """
        arn = self.resolve(execution)
        deployment = self.deployment()
        experiment = _experiment_of(deployment, arn)
        prefix = f"{experiment}/_results/{arn.split(':')[-1]}/"
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=deployment.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        notes: list[str] = [] if skipped is None else skipped
        found = collect(sorted(k for k in keys if k.endswith("/manifest.json")), self._json_object, lambda _, key: key, notes)
        if skipped is None:
            for note in notes:
                warnings.warn(f"skipped {note}", ResultsSkipped, stacklevel=2)
        return found

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
            rows = self.results(item["executionArn"]) if item.get("status") != "RUNNING" else []
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


def _experiment_of(deployment: Deployment, execution_arn: str) -> str:
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
