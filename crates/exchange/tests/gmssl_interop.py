"""SM2 interop with an independent implementation, Python's gmssl (used by gmssl_interop.rs).

It computes the signed bytes itself from the envelope's JSON wire form, following
docs/EXCHANGE.md, so it checks the documented format as well as the signature.

  verify  FILE         FILE holds {"envelope": WIRE_JSON_TEXT, "public_key": HEX}; prints "valid"
                       or "invalid" (exit 0 either way; exit 2 on a bad input).
  sign    FILE         FILE holds {"envelope": WIRE_JSON_TEXT (unsigned), "algorithm": ...,
                       "key_id": ...}; prints JSON {"public_key": HEX, "signature": HEX}.

gmssl's conventions, matched: keys are hex; the public key is x||y (128 hex digits) without the
04 prefix (the constructor's lstrip("04") would eat leading 0 and 4 digits of x, so the
attribute is set directly); sign_with_sm3/verify_with_sm3 hash Z_A (ENTL 0x0080, ID
"1234567812345678") with the message; signatures are r||s as 128 hex digits (asn1=False).
"""
import json
import secrets
import struct
import sys

from gmssl import sm2

N = int(sm2.default_ecc_table["n"], 16)


def signing_bytes(env, algorithm, key_id):
    fields = [
        b"jinguan.exchange.v1",
        str(env["version"]).encode(),
        env["id"].encode(),
        env["kind"].encode(),
        env["sender"].encode(),
        ",".join(env["recipients"]).encode(),
        env["created_at"].encode(),
        algorithm.encode(),
        key_id.encode(),
        env["payload"].encode("utf-8"),
    ]
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def crypt(private_hex, public_xy_hex):
    c = sm2.CryptSM2(private_key=private_hex, public_key="")
    c.public_key = public_xy_hex
    return c


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        job = json.load(f)
    env = json.loads(job["envelope"])
    if mode == "verify":
        sig = env["signature"]
        assert sig["algorithm"] == "SM2-SM3", sig
        pub = job["public_key"]
        if not (len(pub) == 130 and pub.startswith("04")):
            sys.exit(2)
        c = crypt("", pub[2:])
        data = signing_bytes(env, sig["algorithm"], sig["key_id"])
        print("valid" if c.verify_with_sm3(sig["value"], data) else "invalid")
    elif mode == "sign":
        d = secrets.randbelow(N - 2) + 1
        private_hex = "%064x" % d
        c = crypt(private_hex, "")
        xy = c._kg(d, sm2.default_ecc_table["g"])
        c.public_key = xy
        data = signing_bytes(env, job["algorithm"], job["key_id"])
        sig = None
        while sig is None:  # gmssl returns None on the rare r=0 or s=0 draw
            sig = c.sign_with_sm3(data)
        assert c.verify_with_sm3(sig, data)
        print(json.dumps({"public_key": "04" + xy, "signature": sig}))
    else:
        sys.exit(2)


main()
