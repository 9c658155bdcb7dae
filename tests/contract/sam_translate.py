"""Expand template.yaml with the SAM translator, offline, and print the CloudFormation JSON.

Runs in .venv-sam (the SAM CLI's own environment): `python sam_translate.py template.yaml`.
Local code locations are swapped for placeholder S3 URIs, as `sam validate` does.
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicyLookup:
    def load(self):
        return {}


def main(path: str) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(path) as f:
        template = yaml_parse(f.read())
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = "s3://placeholder-bucket/placeholder-key"
    json.dump(transform(template, {}, _NoManagedPolicyLookup()), sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main(sys.argv[1])
