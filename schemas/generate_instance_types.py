"""Refresh the `instance` enum in algorithm.schema.json from botocore's SageMaker model.

Run after upgrading botocore: `python schemas/generate_instance_types.py`.
tests/test_schemas.py fails while the two disagree.
"""

import json
from pathlib import Path

import botocore.session


def instance_types() -> list[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return list(model.shape_for("TrainingInstanceType").enum)


def main() -> None:
    path = Path(__file__).with_name("algorithm.schema.json")
    schema = json.loads(path.read_text())
    # "local": the original runtool's value for algorithms that run in local mode only.
    # "local": the original runtool's value for algorithms that run in local mode only.
    schema["properties"]["instance"]["enum"] = instance_types() + ["local"] + ["local"]
    path.write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    main()
