"""Schema check for wcodm_schema_interop.rs: reads a JSON job on stdin, answers JSON.

{"schema": path to an XSD, "docs": [xml text, ...]} -> {"errors": [[message, ...], ...]}
(one list per document, empty when the document is valid; at most 5 messages each)
"""
import json
import sys

import xmlschema

job = json.load(sys.stdin)
schema = xmlschema.XMLSchema(job["schema"])
out = []
for doc in job["docs"]:
    errors = []
    for e in schema.iter_errors(doc):
        errors.append(f"{e.reason} (at {e.path})")
        if len(errors) >= 5:
            break
    out.append(errors)
print(json.dumps({"errors": out}))
