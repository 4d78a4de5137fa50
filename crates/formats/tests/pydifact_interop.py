"""Differential helper for pydifact_interop.rs: reads a JSON job on stdin, answers JSON.

{"parse": text}  -> {"segments": [[tag, [[component, ...], ...]], ...]} (every segment but UNA/UNB/UNZ)
{"build": {"segments": [[tag, [[...]]]], "sender", "recipient", "reference"}} -> {"text": interchange}
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")
from pydifact.segmentcollection import Interchange  # noqa: E402
from pydifact.segments import Segment  # noqa: E402


def norm(elements):
    out = []
    for e in elements:
        comps = [e] if isinstance(e, str) else list(e)
        while len(comps) > 1 and comps[-1] == "":
            comps.pop()
        out.append(comps)
    while out and all(c == "" for c in out[-1]):
        out.pop()
    return out


job = json.load(sys.stdin)
if "parse" in job:
    i = Interchange.from_str(job["parse"])
    segs = [[s.tag, norm(s.elements)] for s in i.segments if s.tag not in ("UNA", "UNB", "UNZ")]
    print(json.dumps({"segments": segs}))
else:
    b = job["build"]
    i = Interchange(sender=b["sender"], recipient=b["recipient"],
                    control_reference=b["reference"], syntax_identifier=("UNOW", 4))
    for tag, els in b["segments"]:
        i.add_segment(Segment(tag, *[c[0] if len(c) == 1 else c for c in els]))
    print(json.dumps({"text": i.serialize()}))
