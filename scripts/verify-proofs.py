#!/usr/bin/env python3
"""Recompute streamsink proofs without streamsink (docs/proof.md), from the documented format only.

Reads NDJSON on stdin, one record per applied event:
  {"pipeline": "name@version", "envelope": {"id","type","v","key","ts","data"},
   "effects": [{"table","key":{...},"values":{...}}] or null, "input_hash": "<hex>", "proof": "<hex>"}
(`envelope` as the stream entry holds it; `effects` as the auditor derives them from the pipeline's rules).
Prints one line per mismatch and a summary; exit 0 when every record matches, 1 otherwise.

Python's sort_keys orders by code point, RFC 8785 by UTF-16 code unit: the same for keys without characters
beyond U+FFFF. Integers print the same in both; non-integer numbers need an RFC 8785 library.
"""
import hashlib
import json
import sys


def jcs(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def as_proof_value(v):
    # Numbers as decimal strings ("money as strings"); booleans and null as they are.
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return str(v)
    return v


def canonical_effects(effects):
    texts = [
        jcs({
            "key": {k: as_proof_value(v) for k, v in e["key"].items()},
            "table": e["table"],
            "values": {k: as_proof_value(v) for k, v in e["values"].items()},
        })
        for e in effects
    ]
    texts.sort()  # code-point order
    return "[" + ",".join(texts) + "]"


def main():
    checked = mismatched = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        e = r["envelope"]
        input_hash = sha256(jcs({k: e[k] for k in ("data", "id", "key", "ts", "type", "v")}))
        effects = "null" if r["effects"] is None else canonical_effects(r["effects"])
        proof_text = '{"effects":%s,"input_hash":%s,"pipeline":%s}' % (
            effects, json.dumps(input_hash), json.dumps(r["pipeline"], ensure_ascii=False))
        proof = sha256(proof_text)
        checked += 1
        if input_hash != r["input_hash"] or proof != r["proof"]:
            mismatched += 1
            print("MISMATCH %s: input %s vs %s, proof %s vs %s" % (
                e["id"], input_hash, r["input_hash"], proof, r["proof"]))
    print("checked %d, mismatched %d" % (checked, mismatched))
    return 1 if mismatched or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
