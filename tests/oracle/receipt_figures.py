#!/usr/bin/env python3
"""Print the figures of a receipt that FORMAT.md section 12.1 walks through,
step by step, computed independently of the product (stdlib only):

    python3 receipt_figures.py RECEIPT.json

It does not verify the receipt (verify_receipt.py does); it shows the bytes,
lengths and hashes each check of FORMAT.md section 12 works on.
"""

import json
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jcs  # noqa: E402
from verify_bundle import H, inclusion_steps, leaf_hash  # noqa: E402


def fold(leaf, index, size, path):
    """The intermediate hashes of RFC 9162 section 2.1.3.2 for one leaf."""
    return inclusion_steps(leaf, index, size, path)[0]


def main(path):
    with open(path, encoding="utf-8") as f:
        rec = json.load(f)
    entry = rec["entry"].encode("utf-8")
    e = json.loads(entry)
    print("1. entry: %d bytes; leaf hash %s" % (len(entry), leaf_hash(entry).hex()))
    print("2. proof:")
    for line in rec["proof"].splitlines():
        print("   " + line)
    print("3. signer %s; entry signer %s" % (rec["signer"], e["signer"]))
    print("4. chain of %d links:" % len(rec["chain"]))
    for k, link in enumerate(rec["chain"]):
        le = json.loads(link["entry"])
        proof_hashes = len(link["proof"].split("\n\n")[0].splitlines()) - 2
        print("   chain[%d]: entry %d, %s, signed by %s, %d-hash proof; leaf hash %s"
              % (k, le["seq"], le["kind"], le["signer"], proof_hashes,
                 leaf_hash(link["entry"].encode("utf-8")).hex()))
        if le["kind"] == "genesis":
            print("     admins: %s" % ", ".join(le["body"]["admins"]))
        elif "vkey" in le["body"]:
            print("     grants %s to %s" % (le["body"].get("role"), le["body"]["vkey"]))
    data = jcs.canonicalize({"result": rec["result"], "salt": rec["salt"]})
    leaf = H(b"\x00", data)
    print("5. leaf data: %d bytes, starts %s…" % (len(data), data[:60].decode("utf-8", "replace")))
    print("   leaf hash %s" % leaf.hex())
    n = e["body"]["n"]
    steps = fold(leaf, rec["leaf_index"], n, [bytes.fromhex(p) for p in rec["path"]])
    print("   leaf_index %d, n %d, path of %d hashes:" % (rec["leaf_index"], n, len(rec["path"])))
    for k, s in enumerate(steps):
        print("   after path[%d]: %s" % (k, s.hex()))
    print("   entry results_root: %s" % e["body"]["results_root"])
    print("6. result.position %d, leaf_index + 1 = %d" % (rec["result"]["position"], rec["leaf_index"] + 1))
    print("   result: %s %s, total %s, grade %s"
          % (rec["result"]["staff_id"], rec["result"].get("name", ""), rec["result"].get("total"),
             rec["result"].get("grade")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: receipt_figures.py RECEIPT.json")
    main(sys.argv[1])
