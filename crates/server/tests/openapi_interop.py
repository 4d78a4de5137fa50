"""The served OpenAPI document checked by tools that are not ours (crates/server/tests/openapi_interop.rs).

Reads a job from stdin: {"document": {...}, "instances": [[schema_name, value], ...]}.
Validates the document with openapi-spec-validator (OpenAPI 3.1, with its JSON Schema dialect),
then each instance against its component schema with jsonschema (Draft 2020-12, the dialect of
OpenAPI 3.1), resolving the document's own $refs. Prints {"errors": [...]} (empty when all is well).
"""

import json
import sys

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate


def main():
    job = json.load(sys.stdin)
    doc = job["document"]
    errors = []
    try:
        validate(doc)
    except Exception as e:  # the validator's own error, with its path
        errors.append("document: %s" % e)
    for name, value in job["instances"]:
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"],
            "$ref": "#/components/schemas/%s" % name,
        }
        validator = Draft202012Validator(schema)
        for e in validator.iter_errors(value):
            errors.append("%s at %s: %s" % (name, "/".join(str(p) for p in e.absolute_path), e.message))
    json.dump({"errors": errors}, sys.stdout)


if __name__ == "__main__":
    main()
