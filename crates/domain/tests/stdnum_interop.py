"""Verdicts of python-stdnum (an independent implementation) on identifiers, for
stdnum_interop.rs.

Reads JSON {"uscc": [TEXT, ...], "ric": [TEXT, ...]} on stdin; prints JSON
{"uscc": [VERDICT, ...], "ric": [[VERDICT, KNOWN_DIVISION], ...]}, where VERDICT is "valid" or
the name of stdnum's exception (InvalidLength, InvalidFormat, InvalidChecksum,
InvalidComponent) and KNOWN_DIVISION says whether stdnum's table has the number's first six
digits at all (in any year).
"""
import json
import sys

from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError


def verdict(module, text):
    try:
        module.validate(text)
        return "valid"
    except ValidationError as e:
        return type(e).__name__
    except KeyError:
        # stdnum 2.2's get_birth_place looks up info['county'] unguarded: a number whose first
        # two digits are a province and the next four nothing known raises KeyError.
        return "KeyError"


def known_division(loc, text):
    parts = loc.info(ric.compact(text)[:6])
    return sum(len(p) for p, _ in parts) == 6 and all(props for _, props in parts)


def main():
    job = json.load(sys.stdin)
    loc = numdb.get("cn/loc")
    out = {
        "uscc": [verdict(uscc, t) for t in job["uscc"]],
        "ric": [
            [verdict(ric, t), known_division(loc, t)]
            for t in job["ric"]
        ],
    }
    json.dump(out, sys.stdout)


main()
