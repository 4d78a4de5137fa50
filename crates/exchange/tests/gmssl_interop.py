"""SM2 interop with an independent implementation, Python's gmssl (used by gmssl_interop.rs).

It computes the signed bytes itself from the envelope's JSON wire form, following
docs/EXCHANGE.md, so it checks the documented format as well as the signature.

  verify  FILE         FILE holds {"envelope": WIRE_JSON_TEXT, "public_key": HEX}; prints "valid"
                       or "invalid" (exit 0 either way; exit 2 on a bad input).
  sign    FILE         FILE holds {"envelope": WIRE_JSON_TEXT (unsigned), "algorithm": ...,
                       "key_id": ...}; prints JSON {"public_key": HEX, "signature": HEX}.
  verify_batch FILE    FILE holds {"envelopes": [WIRE_JSON_TEXT, ...] (version 2, batch-signed),
                       "public_key": HEX}; prints "valid" or "invalid" per envelope, one a line.
  sign_batch   FILE    FILE holds {"envelopes": [WIRE_JSON_TEXT, ...] (version 2, unsigned),
                       "key_id": ...}; signs them as one batch (SM3 Merkle tree, RFC 9162) and
                       prints JSON {"public_key": HEX, "signature": HEX, "proofs": [HEX, ...]}.

Batch signatures (envelope version 2, docs/EXCHANGE.md "Batch signatures"): leaf = SM3(0x00 ||
signed bytes of the envelope), node = SM3(0x01 || left || right), the root's signed bytes are
fields "jinguan.exchange.batch.v2", sender, algorithm, key id, leaf count, root.

gmssl's conventions, matched: keys are hex; the public key is x||y (128 hex digits) without the
04 prefix (the constructor's lstrip("04") would eat leading 0 and 4 digits of x, so the
attribute is set directly); sign_with_sm3/verify_with_sm3 hash Z_A (ENTL 0x0080, ID
"1234567812345678") with the message; signatures are r||s as 128 hex digits (asn1=False).
"""
import json
import secrets
import struct
import sys

from gmssl import func, sm2, sm3

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


def field(x):
    return struct.pack(">I", len(x)) + x


def h(data):
    return bytes.fromhex(sm3.sm3_hash(func.bytes_to_list(data)))


def leaf(env, algorithm, key_id):
    return h(b"\x00" + signing_bytes(env, algorithm, key_id))


def node(left, right):
    return h(b"\x01" + left + right)


def split(n):
    """The largest power of two below n (RFC 9162)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m, leaves):
    """RFC 9162 PATH(m, D[n]), leaf to root."""
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def root_from_proof(leaf_hash, index, size, proof):
    """RFC 9162 section 2.1.3.2; None when the proof does not fit (index, size)."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def root_bytes(sender, algorithm, key_id, size, root):
    return b"".join(
        field(x)
        for x in [
            b"jinguan.exchange.batch.v2",
            sender.encode(),
            algorithm.encode(),
            key_id.encode(),
            str(size).encode(),
            root,
        ]
    )


def crypt(private_hex, public_xy_hex):
    c = sm2.CryptSM2(private_key=private_hex, public_key="")
    c.public_key = public_xy_hex
    return c


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        job = json.load(f)
    env = json.loads(job["envelope"]) if "envelope" in job else None
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
    elif mode == "verify_batch":
        pub = job["public_key"]
        if not (len(pub) == 130 and pub.startswith("04")):
            sys.exit(2)
        c = crypt("", pub[2:])
        for text in job["envelopes"]:
            env = json.loads(text)
            sig = env["signature"]
            assert env["version"] == 2 and sig["algorithm"] == "SM2-SM3", env
            b = sig["batch"]
            proof = bytes.fromhex(b["proof"])
            proof = [proof[i : i + 32] for i in range(0, len(proof), 32)]
            r = root_from_proof(
                leaf(env, sig["algorithm"], sig["key_id"]), b["index"], b["size"], proof
            )
            ok = r is not None and c.verify_with_sm3(
                sig["value"],
                root_bytes(env["sender"], sig["algorithm"], sig["key_id"], b["size"], r),
            )
            print("valid" if ok else "invalid")
    elif mode == "sign_batch":
        envs = [json.loads(t) for t in job["envelopes"]]
        algorithm, key_id = "SM2-SM3", job["key_id"]
        d = secrets.randbelow(N - 2) + 1
        c = crypt("%064x" % d, "")
        xy = c._kg(d, sm2.default_ecc_table["g"])
        c.public_key = xy
        leaves = [leaf(e, algorithm, key_id) for e in envs]
        data = root_bytes(envs[0]["sender"], algorithm, key_id, len(leaves), mth(leaves))
        sig = None
        while sig is None:
            sig = c.sign_with_sm3(data)
        assert c.verify_with_sm3(sig, data)
        proofs = [b"".join(inclusion_path(m, leaves)).hex() for m in range(len(leaves))]
        print(json.dumps({"public_key": "04" + xy, "signature": sig, "proofs": proofs}))
    else:
        sys.exit(2)


main()
