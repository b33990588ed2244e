"""Tests of the independent bundle/receipt verifiers (standard library only).

    python3 -m unittest discover -s tests/oracle

Known answers (RFC 8032 §7.1, C2SP signed-note, RFC 8785, FORMAT.md §10) run
everywhere. The end-to-end tests run `rankproof demo` with the built binary
(target/debug or target/release) and are skipped only if no binary has been
built.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ed25519  # noqa: E402
import jcs  # noqa: E402
import verify_bundle as vb  # noqa: E402
import verify_receipt as vr  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
VERIFY_BUNDLE = os.path.join(HERE, "verify_bundle.py")
VERIFY_RECEIPT = os.path.join(HERE, "verify_receipt.py")

# ---------------------------------------------------------------- Ed25519

RFC8032 = [  # (secret seed, public key, message, signature): RFC 8032 §7.1
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     hashlib.sha512(b"abc").hexdigest(),
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
]


def _enc_point(y, sign=0):
    return int.to_bytes(y | (sign << 255), 32, "little")


class Ed25519Test(unittest.TestCase):
    def test_rfc8032_vectors(self):
        for sk, pk, msg, sig in RFC8032:
            sk, pk, msg, sig = map(bytes.fromhex, (sk, pk, msg, sig))
            with self.subTest(pk=pk.hex()[:8]):
                self.assertEqual(ed25519.public_from_seed(sk), pk)
                self.assertEqual(ed25519.sign(sk, msg), sig)
                self.assertTrue(ed25519.verify(pk, msg, sig))
                self.assertFalse(ed25519.verify(pk, msg + b"\x00", sig))
                bad = bytearray(sig)
                bad[5] ^= 1
                self.assertFalse(ed25519.verify(pk, msg, bytes(bad)))
                bad = bytearray(sig)
                bad[40] ^= 1
                self.assertFalse(ed25519.verify(pk, msg, bytes(bad)))

    def test_signed_note_example(self):
        # C2SP signed-note / Go sumdb note example
        k = vb.parse_vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        blob = vb.b64decode_strict("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgK"
                                   "vqfqdngotpRZb6KE6RyyBwJnAM=")
        text = (b"If you think cryptography is the answer to your problem,\n"
                b"then you don't know what your problem is.\n")
        self.assertEqual(blob[:4], k.kid)
        self.assertTrue(ed25519.verify(k.pub, text, blob[4:]))
        self.assertFalse(ed25519.verify(k.pub, text[:-1], blob[4:]))

    def test_non_canonical_s_rejected(self):
        sk, pk, msg, sig = map(bytes.fromhex, RFC8032[0])
        s = int.from_bytes(sig[32:], "little")
        malleated = sig[:32] + int.to_bytes(s + ed25519.L, 32, "little")
        self.assertFalse(ed25519.verify(pk, msg, malleated))
        self.assertFalse(ed25519.verify(pk, msg, sig[:32] + b"\xff" * 32))

    def test_small_order_and_non_canonical_points(self):
        p = ed25519.P
        identity = _enc_point(1)
        order2 = _enc_point(p - 1)           # (0, -1)
        self.assertFalse(ed25519.public_key_ok(identity))
        self.assertFalse(ed25519.public_key_ok(order2))
        self.assertFalse(ed25519.public_key_ok(_enc_point(1, 1)))   # x = 0 with sign bit: non-canonical
        self.assertFalse(ed25519.public_key_ok(_enc_point(p + 1)))  # y >= p: non-canonical
        self.assertIsNone(ed25519.point_decompress(_enc_point(p + 1)))
        self.assertIsNone(ed25519.point_decompress(_enc_point(2)))  # not on the curve
        # With A = identity and R = identity, S = 0 satisfies the equation;
        # strict verification must still refuse (small-order A and R).
        self.assertFalse(ed25519.verify(identity, b"m", identity + b"\x00" * 32))
        # Small-order R with an honest key: R = identity, S = k*a is a forgery
        # only its signer can build; refused for the small-order R.
        sk, pk = bytes.fromhex(RFC8032[0][0]), bytes.fromhex(RFC8032[0][1])
        self.assertFalse(ed25519.verify(pk, b"m", identity + b"\x00" * 32))
        # a weak verifier key is refused by parse_vkey
        name = "weak"
        vk = "%s+%s+%s" % (name, vb.key_id(name, identity).hex(),
                           base64.b64encode(b"\x01" + identity).decode())
        with self.assertRaisesRegex(ValueError, "small order"):
            vb.parse_vkey(vk)

    def test_worked_example_keys(self):
        # FORMAT.md §10
        for seed, vk in ((b"\x01" * 32, "example.org/ledger+c186e258+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"),
                         (b"\x02" * 32, "admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"),
                         (b"\x03" * 32, "hr+822d27c7+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR")):
            k = vb.parse_vkey(vk)
            self.assertEqual(k.pub, ed25519.public_from_seed(seed))
        name, kid, seed = parse_secret_key("PRIVATE+KEY+admin+51d78fe5+AQICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC\n")
        self.assertEqual((name, kid, seed), ("admin", "51d78fe5", b"\x02" * 32))

    def test_vkey_rejections(self):
        good = "admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
        vb.parse_vkey(good)
        for bad in ("admin+51d78fe6+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",   # key ID
                    "admin+51D78FE5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",   # uppercase hex
                    "admin+51d78fe5+AoE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",   # type byte
                    "admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybO",    # length/padding
                    "admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOV",   # trailing bits
                    "ad min+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU",  # whitespace
                    "admin+51d78fe5"):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    vb.parse_vkey(bad)


# -------------------------------------------------------------------- JCS

class JCSTest(unittest.TestCase):
    def test_rfc8785_example(self):
        src = ('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
               ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
               ' "literals": [null, true, false]}')
        want = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
                '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
        self.assertEqual(jcs.canonicalize(jcs.parse(src)), want.encode("utf-8"))

    def test_rfc8785_sorting(self):
        src = ('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",'
               '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control",'
               '"\\u00f6":"Latin Small Letter O With Diaeresis"}')
        keys = [k for k in json.loads(jcs.canonicalize(jcs.parse(src)), object_pairs_hook=lambda p: [x[0] for x in p])]
        self.assertEqual(keys, ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600", "\ufb33"])

    def test_numbers(self):
        cases = {0: "0", -0.0: "0", 1: "1", -17: "-17", 2**53: "9007199254740992",
                 2**53 + 1: "9007199254740992", 1e21: "1e+21", 1e20: "100000000000000000000",
                 1e-6: "0.000001", 1e-7: "1e-7", 5e-324: "5e-324", 1.5: "1.5",
                 1.7976931348623157e308: "1.7976931348623157e+308", -1.25e-9: "-1.25e-9"}
        for v, s in cases.items():
            with self.subTest(v=v):
                self.assertEqual(jcs.number_to_string(v), s)
        for bad in (float("nan"), float("inf"), 10**400):
            with self.assertRaises(jcs.JCSError):
                jcs.number_to_string(bad)

    def test_strings(self):
        self.assertEqual(jcs.canonicalize("\x00\x1f\x7f\u2028\"\\/é😀"),
                         '"\\u0000\\u001f\x7f\u2028\\"\\\\/é😀"'.encode("utf-8"))
        self.assertEqual(jcs.canonicalize("\b\t\n\f\r"), b'"\\b\\t\\n\\f\\r"')
        with self.assertRaises(jcs.JCSError):
            jcs.canonicalize(jcs.parse('"\\ud800"'))

    def test_strict_parse(self):
        for bad in (b'{"a":1,"a":2}', b"NaN", b"[Infinity]", b"\xef\xbb\xbf{}", b"\xff", b"{", b"[1,]"):
            with self.subTest(bad=bad):
                with self.assertRaises(jcs.JCSError):
                    jcs.parse(bad)

    def test_is_canonical(self):
        self.assertTrue(jcs.is_canonical(b'{"a":[1,"x"],"b":{}}')[1])
        for nc in (b'{"b":1,"a":2}', b'{"a": 1}', b'{"a":1.0}', b'{"a":"\\u0041"}', b'{"a":"\\/"}',
                   b' {}', b'{}\n', b'{"a":1e2}', b'{"a":-0}'):
            with self.subTest(nc=nc):
                self.assertFalse(jcs.is_canonical(nc)[1])


# ------------------------------------------------- FORMAT.md §10 worked example

W_LOG = "example.org/ledger+c186e258+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
W_ENTRIES = (
    '{"blobs":[],"body":{"admins":["admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"],'
    '"log_vkey":"example.org/ledger+c186e258+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",'
    '"origin":"example.org/ledger"},"kind":"genesis","prev":"0000000000000000000000000000000000000000000000000000000000000000",'
    '"seq":0,"sig":"/ercqtfAKMbUn6vC7ej87yQKAbgrKgCKnfjpDREZK6IhfhCwxMJ4oAqj+pAKxOOhYbF04WPABj9bjIKIbe0rDw==",'
    '"signer":"example.org/ledger+c186e258"}\n'
    '{"blobs":[],"body":{"effective_from":2,"role":"hr","vkey":"hr+822d27c7+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR"},'
    '"kind":"key.grant","prev":"12552c146afe9589ebe38b71720934f394648e0d0efaa1d7cf586c4fc1f9209d","seq":1,'
    '"sig":"vWcn7ocPq19BOeKAJhh8a2jK/xplmHQTIZ8xv+Bt7vRWcO+kMdQvOXCYgmmZl9zDKk0cF8MgYDQy3DDuOQnpDQ==",'
    '"signer":"admin+51d78fe5"}\n'
    '{"blobs":["5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"],'
    '"body":{"name":"marketing","version":"1.0.0"},"kind":"rules.publish",'
    '"prev":"1e8c03d99c0193930d9b01784b9885f436ba210cad4d56b8318013b0df02d00f","seq":2,'
    '"sig":"V2ZIYW26afoZv2vv4eaMILbHIOzXH+aXfHnkKyL+1UqaTYdADKip6AHiDzj8muvKG//xCg5St8+NZBbqfCdlCw==",'
    '"signer":"hr+822d27c7"}\n').encode("utf-8")
W_CHECKPOINT = ("example.org/ledger\n3\n11Gfd4IAehfb9XDmIrT5yXykMQAayon4lurz8PvUSp8=\n\n"
                "\u2014 example.org/ledger wYbiWM+mjpYxasp5EGYGQOaejccTr2wGLaEDlkKuJ8TNpVI7bAoyZ8AyOf2YK9GYOfB+"
                "LcGUNmB4GXKiur6jTHkRYQs=\n").encode("utf-8")
W_KEYS = ("log " + W_LOG + "\n"
          "key admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU admin@0\n"
          "key hr+822d27c7+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR hr@1\n").encode("utf-8")
W_PROOF = ("c2sp.org/tlog-proof@v1\nindex 1\nElUsFGr+lYnr44txcgk085Rkjg0O+qHXz1hsT8H5IJ0=\n"
           "gOsbFLOKY4pB9m6vKAb7Rqu6Z7kFZP58K0MmIAtKotw=\n\n") + W_CHECKPOINT.decode("utf-8")


def write_bundle(d, entries, checkpoint, keys, blobs):
    os.makedirs(os.path.join(d, "blobs"), exist_ok=True)
    for name, data in ((("entries.jsonl"), entries), ("checkpoint", checkpoint), ("keys", keys)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    for b in blobs:
        with open(os.path.join(d, "blobs", hashlib.sha256(b).hexdigest()), "wb") as f:
            f.write(b)


def run(script, *args):
    p = subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class WorkedExampleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rp-worked-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_leaves_root_signatures(self):
        lines = W_ENTRIES[:-1].split(b"\n")
        leaves = [vb.leaf_hash(x) for x in lines]
        self.assertEqual([x.hex() for x in leaves], [
            "12552c146afe9589ebe38b71720934f394648e0d0efaa1d7cf586c4fc1f9209d",
            "1e8c03d99c0193930d9b01784b9885f436ba210cad4d56b8318013b0df02d00f",
            "80eb1b14b38a638a41f66eaf2806fb46abba67b90564fe7c2b4326200b4aa2dc"])
        self.assertEqual(vb.mth(leaves[:2]).hex(), "97a51467c9f7657d59bc7d87c97aa4dd023ce2c84bf968f1075d1b0c694400bb")
        self.assertEqual(vb.mth(leaves).hex(), "d7519f7782007a17dbf570e622b4f9c97ca431001aca89f896eaf3f0fbd44a9f")
        e1 = vb.parse_entry(lines[1])
        self.assertEqual(e1.signed_message(), b'rankproof/entry/v1\n{"blobs":[],"body":{"effective_from":2,"role":"hr",'
                         b'"vkey":"hr+822d27c7+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR"},"kind":"key.grant",'
                         b'"prev":"12552c146afe9589ebe38b71720934f394648e0d0efaa1d7cf586c4fc1f9209d","seq":1,'
                         b'"signer":"admin+51d78fe5"}')
        self.assertTrue(vb.entry_sig_ok(e1, ed25519.public_from_seed(b"\x02" * 32)))
        # the worked example's signatures are deterministic: re-sign and compare
        self.assertEqual(ed25519.sign(b"\x02" * 32, e1.signed_message()), e1.sig)
        cp = vb.parse_checkpoint(W_CHECKPOINT, vb.parse_vkey(W_LOG))
        self.assertEqual((cp.size, cp.root), (3, vb.mth(leaves)))
        self.assertEqual(vb.mth([]), hashlib.sha256(b"").digest())

    def test_tlog_proof(self):
        log = vb.parse_vkey(W_LOG)
        tp = vb.parse_tlog_proof(W_PROOF, log)
        leaf = vb.leaf_hash(W_ENTRIES.split(b"\n")[1])
        self.assertEqual(tp.index, 1)
        self.assertTrue(vb.verify_inclusion(leaf, 1, 3, tp.path, tp.checkpoint.root))
        self.assertFalse(vb.verify_inclusion(leaf, 1, 3, tp.path[:1], tp.checkpoint.root))
        self.assertFalse(vb.verify_inclusion(leaf, 1, 3, tp.path + [leaf], tp.checkpoint.root))
        self.assertFalse(vb.verify_inclusion(leaf, 0, 3, tp.path, tp.checkpoint.root))
        self.assertFalse(vb.verify_inclusion(leaf, 3, 3, tp.path, tp.checkpoint.root))

    def test_inclusion_all_sizes(self):
        for n in range(1, 20):
            leaves = [hashlib.sha256(bytes([i])).digest() for i in range(n)]
            root = vb.mth(leaves)
            for i in range(n):
                path = audit_path(leaves, i)
                self.assertTrue(vb.verify_inclusion(leaves[i], i, n, path, root), (n, i))
                if path:
                    self.assertFalse(vb.verify_inclusion(leaves[i], i, n, path[:-1], root))
                self.assertFalse(vb.verify_inclusion(leaves[i], i, n, path + [root], root))

    def test_checkpoint_rules(self):
        log = vb.parse_vkey(W_LOG)
        text, sigs = W_CHECKPOINT.split(b"\n\n")
        witness = ("\u2014 witness.example " + base64.b64encode(b"\x01\x02\x03\x04" + b"\x00" * 64).decode() + "\n").encode()
        vb.parse_checkpoint(text + b"\n\n" + witness + sigs, log)          # unknown signer ignored
        for bad in (text + b"\n\n" + sigs + sigs,                           # two signatures by the log key
                    text + b"\n\n" + witness,                               # no log-key signature
                    text + b"\nextension\n\n" + sigs,                       # text changed: bad signature
                    text + b"\n" + sigs,                                    # no blank line
                    text.replace(b"\n3\n", b"\n03\n") + b"\n\n" + sigs):    # size not canonical decimal
            with self.subTest(bad=bad[-40:]):
                with self.assertRaises(ValueError):
                    vb.parse_checkpoint(bad, log)

    def test_bundle_cli(self):
        d = os.path.join(self.tmp, "b")
        write_bundle(d, W_ENTRIES, W_CHECKPOINT, W_KEYS, [b"hello\n"])
        rc, out, err = run(VERIFY_BUNDLE, d, "--log-vkey", W_LOG)
        self.assertEqual(rc, 0, err)
        self.assertIn("entries:  3", out)
        self.assertIn("d7519f7782007a17dbf570e622b4f9c97ca431001aca89f896eaf3f0fbd44a9f", out)
        # trusted = itself
        tp = os.path.join(self.tmp, "t")
        with open(tp, "wb") as f:
            f.write(W_CHECKPOINT)
        self.assertEqual(run(VERIFY_BUNDLE, d, "--log-vkey", W_LOG, "--trusted", tp)[0], 0)
        # wrong log key: usage is fine but genesis does not match
        other = vb.parse_vkey("admin+51d78fe5+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU").text
        rc, _, err = run(VERIFY_BUNDLE, d, "--log-vkey", other)
        self.assertEqual(rc, 1)
        self.assertIn("entry 0:", err)
        self.assertEqual(run(VERIFY_BUNDLE, d, "--log-vkey", "garbage")[0], 2)


def audit_path(leaves, m):
    """RFC 6962 §2.1.1 PATH(m, D[n])."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return audit_path(leaves[:k], m) + [vb.mth(leaves[k:])]
    return audit_path(leaves[k:], m - k) + [vb.mth(leaves[:k])]


def parse_secret_key(text):
    m = re.fullmatch(r"PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+(\S+)\n", text)
    if not m:
        raise ValueError("not a secret key file")
    raw = vb.b64decode_strict(m.group(3))
    assert len(raw) == 33 and raw[0] == 1
    return m.group(1), m.group(2), raw[1:]


# ----------------------------------------------------------- end to end

def find_binary():
    for sub in ("debug", "release"):
        p = os.path.join(REPO, "target", sub, "rankproof")
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


BINARY = find_binary()


class Signer:
    """A demo key read from its secret key file, to forge entries for tests."""

    def __init__(self, path):
        with open(path) as f:
            self.name, self.kid, self.seed = parse_secret_key(f.read())
        self.pub = ed25519.public_from_seed(self.seed)
        self.vkey = "%s+%s+%s" % (self.name, self.kid, base64.b64encode(b"\x01" + self.pub).decode())
        self.handle = "%s+%s" % (self.name, self.kid)


def forge_append(src, dst, log, signer, kind, body, blobs=(), keys=None):
    """Copy bundle src to dst, append an entry signed by `signer` and a fresh
    checkpoint signed by the real log key (so only the rule under test fails)."""
    shutil.copytree(src, dst)
    with open(os.path.join(dst, "entries.jsonl"), "rb") as f:
        lines = f.read()[:-1].split(b"\n")
    for b in blobs:
        with open(os.path.join(dst, "blobs", hashlib.sha256(b).hexdigest()), "wb") as f:
            f.write(b)
    obj = {"blobs": sorted(hashlib.sha256(b).hexdigest() for b in blobs), "body": body, "kind": kind,
           "prev": vb.leaf_hash(lines[-1]).hex(), "seq": len(lines), "signer": signer.handle}
    obj["sig"] = base64.b64encode(ed25519.sign(signer.seed, vb.ENTRY_PREFIX + jcs.canonicalize(obj))).decode()
    lines.append(jcs.canonicalize(obj))
    with open(os.path.join(dst, "entries.jsonl"), "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    with open(os.path.join(dst, "checkpoint"), "wb") as f:
        f.write(make_checkpoint(log, lines))
    if keys is not None:
        with open(os.path.join(dst, "keys"), "wb") as f:
            f.write(keys)


def make_checkpoint(log, lines):
    root = vb.mth([vb.leaf_hash(x) for x in lines])
    text = ("%s\n%d\n%s\n" % (log.name, len(lines), base64.b64encode(root).decode())).encode()
    sig = ed25519.sign(log.seed, text)
    return text + b"\n" + ("\u2014 %s %s\n" % (log.name, base64.b64encode(bytes.fromhex(log.kid) + sig).decode())).encode()


@unittest.skipIf(BINARY is None, "no rankproof binary built (target/debug/rankproof or target/release/rankproof "
                 "missing; run `cargo build -p rankproof-cli`): end-to-end tests skipped")
class EndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rp-oracle-e2e-")
        cls.demo = os.path.join(cls.tmp, "demo")
        p = subprocess.run([BINARY, "demo", "--dir", cls.demo], capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise RuntimeError("rankproof demo failed: %s\n%s" % (p.stdout[-2000:], p.stderr[-2000:]))
        m = re.search(r"^   log +(\S+)$", p.stdout, re.M)
        if not m:
            raise RuntimeError("no '   log <vkey>' line in the demo output")
        cls.vkey = m.group(1)
        cls.bundle = os.path.join(cls.demo, "bundle")
        receipts = sorted(f for f in os.listdir(cls.demo)
                          if f.endswith(".receipt.json") and ".forged." not in f)
        cls.receipt = os.path.join(cls.demo, receipts[0])
        keys = os.path.join(cls.demo, "keys")
        cls.keys = {n[:-4]: Signer(os.path.join(keys, n)) for n in os.listdir(keys) if n.endswith(".key")}
        # extend the ledger (a second role, a revocation) and export it again
        ledger = os.path.join(cls.demo, "ledger")
        cls.trusted9 = os.path.join(cls.tmp, "checkpoint-9")
        shutil.copy(os.path.join(cls.bundle, "checkpoint"), cls.trusted9)
        for args in (["key", "grant", "--signer", os.path.join(keys, "admin.key"), "--role", "reviewer",
                      "--vkey", cls.keys["operator"].vkey],
                     ["key", "revoke", "--signer", os.path.join(keys, "admin.key"), "--vkey", cls.keys["steward"].vkey]):
            subprocess.run([BINARY] + args[:2] + ["--ledger", ledger] + args[2:], check=True,
                           capture_output=True, timeout=120)
        cls.bundle2 = os.path.join(cls.tmp, "bundle2")
        subprocess.run([BINARY, "export", "--ledger", ledger, "--out", cls.bundle2], check=True,
                       capture_output=True, timeout=120)
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def fresh(self, name):
        EndToEndTest.n += 1
        return os.path.join(self.tmp, "%s-%d" % (name, EndToEndTest.n))

    def rust_bundle_registry_ok(self, d):
        """rankproof verify passed every signature and role check: it exits 0,
        or 1 only for a workflow body it holds to the writer's rules (a
        forged `rules.publish` that is no package)."""
        r = subprocess.run([BINARY, "verify", "--bundle", d, "--log-vkey", self.vkey],
                           capture_output=True, timeout=300)
        out = r.stdout.decode("utf-8", "replace")
        return r.returncode == 0 or (r.returncode == 1 and "false claim" in out and "entries:" in out)

    def rust_bundle_rc(self, d):
        return subprocess.run([BINARY, "verify", "--bundle", d, "--log-vkey", self.vkey],
                              capture_output=True, timeout=300).returncode

    def assertBundleFails(self, d, pattern, rust_too=True):
        rc, out, err = run(VERIFY_BUNDLE, d, "--log-vkey", self.vkey)
        self.assertEqual(rc, 1, out + err)
        self.assertRegex(err, pattern)
        if rust_too:  # differential: the real verifier must refuse it too
            self.assertNotEqual(self.rust_bundle_rc(d), 0, "rankproof verify accepted %s" % d)
        return err

    # ---------------------------------------------------------------- bundle

    def test_demo_bundle_verifies(self):
        rc, out, err = run(VERIFY_BUNDLE, self.bundle, "--log-vkey", self.vkey)
        self.assertEqual(rc, 0, err)
        self.assertIn("entries:  9", out)
        self.assertRegex(out, r"ranking 8: .* n = 60, results_root [0-9a-f]{64} matches")
        rc, out, err = run(VERIFY_BUNDLE, self.bundle2, "--log-vkey", self.vkey, "--trusted", self.trusted9)
        self.assertEqual(rc, 0, err)
        self.assertIn("entries:  11", out)

    def test_keys_file_revocation_and_roles(self):
        with open(os.path.join(self.bundle2, "keys")) as f:
            keys = f.read()
        self.assertIn(self.keys["steward"].vkey + " steward@2 revoked@10\n", keys)
        self.assertIn(self.keys["operator"].vkey + " operator@3 reviewer@9\n", keys)

    def test_demo_tampered_bundle_fails(self):
        self.assertBundleFails(os.path.join(self.demo, "bundle-tampered"), r"^FAILED: entry 8: ", rust_too=False)

    def test_trusted(self):
        rc, _, err = run(VERIFY_BUNDLE, self.bundle, "--log-vkey", self.vkey,
                         "--trusted", os.path.join(self.bundle2, "checkpoint"))
        self.assertEqual(rc, 1)
        self.assertIn("rollback", err)
        # a trusted checkpoint of the same size but another history
        d = self.fresh("fork")
        forge_append(self.bundle, d, self.keys["log"], self.keys["hr"], "rules.publish", {"name": "x", "version": "9.9.9"})
        t10 = os.path.join(d, "checkpoint")
        rc, _, err = run(VERIFY_BUNDLE, self.bundle2, "--log-vkey", self.vkey, "--trusted", t10)
        self.assertEqual(rc, 1)
        self.assertIn("history rewritten", err)

    def test_flip_entry_bytes(self):
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        offsets = [0]
        for ln in lines[:-1]:
            offsets.append(offsets[-1] + len(ln) + 1)
        cases = []
        for i in (0, 1, 3, 4, 8):
            line = lines[i]
            for what, pos in (("sig", line.index(b'"sig":"') + 10), ("body", line.index(b'"body":') + 12),
                              ("prev", line.index(b'"prev":"') + 12), ("kind", line.index(b'"kind":"') + 9)):
                cases.append((i, what, offsets[i] + pos))
        for i, what, pos in cases:
            with self.subTest(entry=i, field=what):
                d = self.fresh("flip")
                shutil.copytree(self.bundle, d)
                b = bytearray(data)
                b[pos] ^= 0x01
                with open(os.path.join(d, "entries.jsonl"), "wb") as f:
                    f.write(bytes(b))
                self.assertBundleFails(d, r"^FAILED: entry %d: " % i)

    def test_structural_entry_tampering(self):
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            lines = f.read()[:-1].split(b"\n")
        variants = {
            "dropped": (lines[:3] + lines[4:], r"entry 3: seq"),
            "swapped": (lines[:3] + [lines[4], lines[3]] + lines[5:], r"entry 3: seq"),
            "duplicated": (lines[:4] + [lines[3]] + lines[4:], r"entry 4: seq"),
            "truncated": (lines[:6], r"checkpoint: size"),
            "spaced": (lines[:2] + [lines[2].replace(b'"kind":', b'"kind": ')] + lines[3:], r"entry 2: .*canonical"),
        }
        for name, (ls, pat) in variants.items():
            with self.subTest(variant=name):
                d = self.fresh(name)
                shutil.copytree(self.bundle, d)
                with open(os.path.join(d, "entries.jsonl"), "wb") as f:
                    f.write(b"\n".join(ls) + b"\n")
                self.assertBundleFails(d, pat)
        d = self.fresh("crlf")
        shutil.copytree(self.bundle, d)
        with open(os.path.join(d, "entries.jsonl"), "wb") as f:
            f.write(b"\r\n".join(lines) + b"\r\n")
        self.assertBundleFails(d, r"entry 0: ")

    def test_blob_tampering(self):
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            e8 = json.loads(f.read().split(b"\n")[8])
        for hx in (e8["body"]["result"], e8["body"]["salts"]):
            with self.subTest(blob=hx[:8], how="flip"):
                d = self.fresh("blob")
                shutil.copytree(self.bundle, d)
                p = os.path.join(d, "blobs", hx)
                with open(p, "rb") as f:
                    b = bytearray(f.read())
                b[len(b) // 2] ^= 0x01
                with open(p, "wb") as f:
                    f.write(bytes(b))
                self.assertBundleFails(d, r"^FAILED: entry 8: blob %s does not hash" % hx)
            with self.subTest(blob=hx[:8], how="missing"):
                d = self.fresh("blob")
                shutil.copytree(self.bundle, d)
                os.remove(os.path.join(d, "blobs", hx))
                self.assertBundleFails(d, r"^FAILED: entry 8: blob %s is missing" % hx)
        d = self.fresh("blob")
        shutil.copytree(self.bundle, d)
        first = sorted(os.listdir(os.path.join(d, "blobs")))
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            e4 = json.loads(f.read().split(b"\n")[4])
        with open(os.path.join(d, "blobs", e4["blobs"][0]), "ab") as f:
            f.write(b"\n")
        self.assertBundleFails(d, r"^FAILED: entry 4: blob ")
        self.assertTrue(first)

    def test_bundle_files_regular_and_referenced(self):
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            e8 = json.loads(f.read().split(b"\n")[8])
        hx = e8["body"]["salts"]

        def variant(how):
            d = self.fresh("files")
            shutil.copytree(self.bundle, d)
            p = os.path.join(d, "blobs", hx)
            if how == "link":
                keep = os.path.join(d, "salts.keep")
                os.rename(p, keep)
                os.symlink(keep, p)
            elif how == "dev-zero":
                os.remove(p)
                os.symlink("/dev/zero", p)
            elif how == "fifo":
                os.remove(p)
                os.mkfifo(p)
            elif how == "unreferenced":
                with open(os.path.join(d, "blobs", hashlib.sha256(b"stray").hexdigest()), "wb") as f:
                    f.write(b"stray")
            elif how == "misnamed":
                with open(os.path.join(d, "blobs", "notes.txt"), "wb") as f:
                    f.write(b"x")
            elif how == "entries link":
                e = os.path.join(d, "entries.jsonl")
                os.rename(e, e + ".keep")
                os.symlink(e + ".keep", e)
            return d
        for how, pat in [("link", r"symbolic link"), ("dev-zero", r"symbolic link"), ("fifo", r"FIFO"),
                         ("unreferenced", r"not referenced by any entry"), ("misnamed", r"not named by a blob hash"),
                         ("entries link", r"entries\.jsonl: .* symbolic link")]:
            if how == "fifo" and not hasattr(os, "mkfifo"):
                continue
            with self.subTest(how=how):
                self.assertBundleFails(variant(how), pat)

    def test_checkpoint_tampering(self):
        with open(os.path.join(self.bundle, "checkpoint"), "rb") as f:
            cp = f.read()
        text, sig = cp.split(b"\n\n")
        origin, size, root = text.split(b"\n")
        rb = bytearray(vb.b64decode_strict(root.decode()))
        rb[0] ^= 1
        sigpos = len(cp) - 20
        flipped = bytearray(cp)
        flipped[sigpos] = ord("A") if flipped[sigpos] != ord("A") else ord("B")
        variants = {
            "signature": bytes(flipped),
            "root": b"\n".join([origin, size, base64.b64encode(bytes(rb))]) + b"\n\n" + sig,
            "size": b"\n".join([origin, b"8", root]) + b"\n\n" + sig,
            "origin": b"\n".join([origin + b"x", size, root]) + b"\n\n" + sig,
            "unsigned": text + b"\n\n",
            "empty": b"",
        }
        for name, data in variants.items():
            with self.subTest(variant=name):
                d = self.fresh("cp")
                shutil.copytree(self.bundle, d)
                with open(os.path.join(d, "checkpoint"), "wb") as f:
                    f.write(data)
                self.assertBundleFails(d, r"^FAILED: checkpoint: ")
        # a validly signed checkpoint of the wrong size/root
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            lines = f.read()[:-1].split(b"\n")
        d = self.fresh("cp")
        shutil.copytree(self.bundle, d)
        with open(os.path.join(d, "checkpoint"), "wb") as f:
            f.write(make_checkpoint(self.keys["log"], lines[:8]))
        self.assertBundleFails(d, r"^FAILED: checkpoint: size 8 but the bundle has 9")

    def test_keys_file_tampering(self):
        with open(os.path.join(self.bundle, "keys"), "rb") as f:
            keys = f.read()
        for name, data in (("role", keys.replace(b"operator@3", b"operator@2")),
                           ("dropped", b"\n".join(keys.split(b"\n")[:-2]) + b"\n"),
                           ("extra", keys + b"key " + self.keys["hr"].vkey.encode() + b" reviewer@5\n"),
                           ("order", b"\n".join([keys.split(b"\n")[0]] + sorted(keys.split(b"\n")[1:-1], reverse=True)) + b"\n")):
            with self.subTest(variant=name):
                d = self.fresh("keys")
                shutil.copytree(self.bundle, d)
                with open(os.path.join(d, "keys"), "wb") as f:
                    f.write(data)
                self.assertBundleFails(d, r"^FAILED: keys")

    def test_wrong_log_key(self):
        rc, _, err = run(VERIFY_BUNDLE, self.bundle, "--log-vkey", self.keys["admin"].vkey)
        self.assertEqual(rc, 1)
        self.assertIn("entry 0: genesis log_vkey", err)

    def test_ranking_supersedes_and_time(self):
        """§11: a re-run supersedes the ranking of its period and package with a
        reason; `time` is a UTC RFC 3339 time. Both verifiers agree."""
        log, op = self.keys["log"], self.keys["operator"]
        with open(os.path.join(self.bundle, "entries.jsonl"), "rb") as f:
            lines = f.read()[:-1].split(b"\n")
        ranking = json.loads(lines[8])
        self.assertEqual(ranking["kind"], "ranking.publish")
        blobs = []
        for h in ranking["blobs"]:
            with open(os.path.join(self.bundle, "blobs", h), "rb") as f:
                blobs.append(f.read())

        def forged(label, **changes):
            body = dict(ranking["body"])
            body.update(changes)
            d = self.fresh(label)
            forge_append(self.bundle, d, log, op, "ranking.publish", body, blobs=blobs)
            return d

        # control: a deliberate re-run of ranking 8, with a reason and a time
        d = forged("rerun", supersedes=8, reason="survey corrected", time="2025-04-02T10:00:00Z")
        rc, out, err = run(VERIFY_BUNDLE, d, "--log-vkey", self.vkey)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.rust_bundle_rc(d), 0)
        self.assertBundleFails(forged("noreason", supersedes=8), r"supersedes entry 8 without a reason")
        self.assertBundleFails(forged("notranking", supersedes=5, reason="x"),
                               r"supersedes 5 is not an earlier ranking.publish")
        self.assertBundleFails(forged("reasononly", reason="x"), r"gives a reason but supersedes nothing")
        self.assertBundleFails(forged("badtime", supersedes=8, reason="x", time="2025-04-02 10:00"),
                               r"time .* is not a UTC time")

    def test_forged_authorization(self):
        log, hr, st, op, adm = (self.keys[k] for k in ("log", "hr", "steward", "operator", "admin"))
        # control: a well-formed, authorized forged entry passes both verifiers
        d = self.fresh("ok")
        forge_append(self.bundle2, d, log, hr, "rules.publish", {"name": "x", "version": "1.0.0"}, blobs=[b"hi\n"])
        rc, out, err = run(VERIFY_BUNDLE, d, "--log-vkey", self.vkey)
        self.assertEqual(rc, 0, err)
        self.assertTrue(self.rust_bundle_registry_ok(d))
        # an operator granted reviewer at 9 may file an appeal
        d = self.fresh("ok")
        forge_append(self.bundle2, d, log, op, "appeal.file", {"x": 1})
        self.assertEqual(run(VERIFY_BUNDLE, d, "--log-vkey", self.vkey)[0], 0)
        self.assertEqual(self.rust_bundle_rc(d), 0)
        stranger = Signer.__new__(Signer)
        stranger.seed = b"\x07" * 32
        stranger.pub = ed25519.public_from_seed(stranger.seed)
        stranger.name = "stranger"
        stranger.kid = vb.key_id("stranger", stranger.pub).hex()
        stranger.handle = "stranger+" + stranger.kid
        stranger.vkey = "%s+%s" % (stranger.handle, base64.b64encode(b"\x01" + stranger.pub).decode())
        cases = [
            ("revoked", st, "input.record", {"period": "2025-Q2"}, r"entry 11: signer data\.steward\+\w+ was revoked at entry 10"),
            ("wrong role", hr, "ranking.publish", {"period": "2025-Q2"}, r"entry 11: .*does not hold role operator"),
            ("unknown", stranger, "rules.publish", {}, r"entry 11: signer stranger\+\w+ is not a registered key"),
            ("log key", log, "rules.publish", {}, r"entry 11: signed by the log key"),
            ("second genesis", log, "genesis", {}, r"entry 11: genesis is allowed only as entry 0"),
            ("grant to revoked", adm, "key.grant", {"effective_from": 12, "role": "hr", "vkey": st.vkey}, r"entry 11: key\.grant: .*was revoked"),
            ("grant held role", adm, "key.grant", {"effective_from": 12, "role": "hr", "vkey": hr.vkey}, r"entry 11: key\.grant: .*already holds hr"),
            ("grant to log key", adm, "key.grant", {"effective_from": 12, "role": "hr", "vkey": log.vkey}, r"entry 11: key\.grant to the log key"),
            ("grant effective_from", adm, "key.grant", {"effective_from": 11, "role": "hr", "vkey": stranger.vkey}, r"entry 11: key\.grant effective_from"),
            ("revoke twice", adm, "key.revoke", {"effective_from": 12, "vkey": st.vkey}, r"entry 11: key\.revoke: .*already revoked"),
            ("revoke unknown", adm, "key.revoke", {"effective_from": 12, "vkey": stranger.vkey}, r"entry 11: key\.revoke: .*not a registered key"),
            ("non-admin grant", op, "key.grant", {"effective_from": 12, "role": "hr", "vkey": stranger.vkey}, r"entry 11: .*does not hold role admin"),
        ]
        for name, signer, kind, body, pat in cases:
            with self.subTest(case=name):
                d = self.fresh("auth")
                forge_append(self.bundle2, d, log, signer, kind, body)
                self.assertBundleFails(d, pat)
        # a valid grant with a stale keys file: the keys check fails
        d = self.fresh("auth")
        forge_append(self.bundle2, d, log, adm, "key.grant", {"effective_from": 12, "role": "reviewer", "vkey": stranger.vkey})
        self.assertBundleFails(d, r"^FAILED: keys: line ")

    # --------------------------------------------------------------- receipt

    def receipt_rc(self, rec):
        p = os.path.join(self.tmp, "r-%d.json" % id(rec))
        with open(p, "w") as f:
            json.dump(rec, f, ensure_ascii=False, indent=2)
        return run(VERIFY_RECEIPT, p, "--log-vkey", self.vkey)

    def test_demo_receipt_verifies(self):
        rc, out, err = run(VERIFY_RECEIPT, self.receipt, "--log-vkey", self.vkey)
        self.assertEqual(rc, 0, err)
        with open(self.receipt) as f:
            rec = json.load(f)
        for k in ("staff_id", "name", "total", "rank", "grade", "bonus_multiplier"):
            self.assertIn(str(rec["result"][k]), out)
        rc, _, err = run(VERIFY_RECEIPT, os.path.join(self.demo, os.path.basename(self.receipt).replace(
            ".receipt.json", ".forged.receipt.json")), "--log-vkey", self.vkey)
        self.assertEqual(rc, 1)
        self.assertIn("check 5", err)
        rc, _, err = run(VERIFY_RECEIPT, self.receipt, "--log-vkey", self.keys["admin"].vkey)
        self.assertEqual(rc, 1)
        self.assertIn("check 2", err)

    def test_receipt_tampering(self):
        with open(self.receipt) as f:
            orig = json.load(f)

        def flip_hex(s, i=0):
            return s[:i] + ("0" if s[i] != "0" else "1") + s[i + 1:]

        def edit(fn):
            r = json.loads(json.dumps(orig))
            fn(r)
            return r

        def retarget_proof(r):
            r["proof"] = r["proof"].replace("\nindex %d\n" % json.loads(r["entry"])["seq"], "\nindex 7\n")

        def other_grant(r):
            g = json.loads(r["chain"][0]["entry"])
            g["body"]["role"] = "reviewer"
            r["chain"][0]["entry"] = jcs.canonicalize(g).decode()

        def swap_signer(r):
            r["signer"] = self.keys["hr"].vkey

        def edit_entry(r):
            e = json.loads(r["entry"])
            e["body"]["n"] += 1
            r["entry"] = jcs.canonicalize(e).decode()

        cases = {
            "format": (lambda r: r.update(format="rankproof-receipt/v1"), 1),
            "old grant member": (lambda r: r.update(grant=r.pop("chain")[0]), 1),
            "extra member": (lambda r: r.update(comment="hi"), 1),
            "entry not canonical": (lambda r: r.update(entry=r["entry"].replace('"kind":', '"kind": ')), 1),
            "entry edited": (edit_entry, 2),
            "proof index": (retarget_proof, 2),
            "proof hash": (lambda r: r.update(proof=r["proof"].replace("\n\n", "\nElUsFGr+lYnr44txcgk085Rkjg0O+qHXz1hsT8H5IJ0=\n\n", 1)), 2),
            "signer": (swap_signer, 3),
            "grant role": (other_grant, 4),
            "grant proof": (lambda r: r["chain"][0].update(proof=r["proof"]), 4),
            "chain without genesis": (lambda r: r["chain"].pop(), 4),
            "chain of genesis only": (lambda r: r.update(chain=r["chain"][-1:]), 4),
            "chain empty": (lambda r: r.update(chain=[]), 4),
            "chain reversed": (lambda r: r["chain"].reverse(), 4),
            "chain genesis twice": (lambda r: r["chain"].append(r["chain"][-1]), 4),
            "chain link extra member": (lambda r: r["chain"][0].update(signer=r["signer"]), 4),
            "grade": (lambda r: r["result"].update(grade="S"), 5),
            "total": (lambda r: r["result"].update(total="99.99"), 5),
            "salt": (lambda r: r.update(salt=flip_hex(r["salt"], 5)), 5),
            "path element": (lambda r: r["path"].__setitem__(2, flip_hex(r["path"][2])), 5),
            "path short": (lambda r: r["path"].pop(), 5),
            "path long": (lambda r: r["path"].append(r["path"][0]), 5),
            "leaf_index": (lambda r: r.update(leaf_index=r["leaf_index"] + 1), 5),
            "position": (lambda r: r["result"].update(position=r["result"]["position"] + 1), 5),
        }
        for name, (fn, check) in cases.items():
            with self.subTest(case=name):
                rc, out, err = self.receipt_rc(edit(fn))
                self.assertEqual(rc, 1, out + err)
                self.assertIn("check %d" % check, err)

    def test_receipt_duplicate_member(self):
        with open(self.receipt) as f:
            text = f.read()
        p = os.path.join(self.tmp, "dup.json")
        with open(p, "w") as f:
            f.write(text.replace('"format"', '"salt": "%s",\n  "format"' % ("00" * 32), 1))
        rc, _, err = run(VERIFY_RECEIPT, p, "--log-vkey", self.vkey)
        self.assertEqual(rc, 1)
        self.assertIn("check 1", err)
        self.assertIn("duplicate member", err)

    def test_synthetic_receipt_position(self):
        # Check 6 is unreachable with honest data (positions are inside the
        # signed tree), so forge a one-person ranking signed by the real
        # operator key in a log checkpointed by the real log key.
        log, op = self.keys["log"], self.keys["operator"]
        with open(os.path.join(self.bundle2, "entries.jsonl"), "rb") as f:
            lines = f.read()[:-1].split(b"\n")

        def receipt(position, leaf_index=0):
            result = {"staff_id": "Z1", "name": "Zed", "total": "1", "rank": 1, "grade": "S",
                      "bonus_multiplier": "1", "position": position}
            salt = "ab" * 32
            obj = {"blobs": [], "kind": "ranking.publish", "prev": vb.leaf_hash(lines[-1]).hex(),
                   "seq": len(lines), "signer": op.handle,
                   "body": {"n": 1, "period": "2099", "results_root": vb.results_leaf(result, salt).hex()}}
            obj["sig"] = base64.b64encode(ed25519.sign(op.seed, vb.ENTRY_PREFIX + jcs.canonicalize(obj))).decode()
            ls = lines + [jcs.canonicalize(obj)]
            cp = make_checkpoint(log, ls).decode()
            leaves = [vb.leaf_hash(x) for x in ls]

            def proof(i):
                return ("c2sp.org/tlog-proof@v1\nindex %d\n" % i
                        + "".join(base64.b64encode(h).decode() + "\n" for h in audit_path(leaves, i)) + "\n" + cp)
            return {"format": "rankproof-receipt/v2", "entry": ls[-1].decode(), "proof": proof(len(ls) - 1),
                    "signer": op.vkey, "chain": [{"entry": ls[3].decode(), "proof": proof(3)},
                                                 {"entry": ls[0].decode(), "proof": proof(0)}],
                    "result": result, "salt": salt, "leaf_index": leaf_index, "path": []}
        rc, out, err = self.receipt_rc(receipt(1))
        self.assertEqual(rc, 0, err)
        self.assertIn("Zed", out)
        rc, out, err = self.receipt_rc(receipt(5))
        self.assertEqual(rc, 1)
        self.assertIn("check 6", err)
        rc, out, err = self.receipt_rc(receipt(2, leaf_index=1))
        self.assertEqual(rc, 1)
        self.assertIn("check 5", err)

# ------------------------------------------- forged logs (authorization rules)

class ScalarKey:
    """A key given by its secret scalar (lets the tests use two keys whose
    handles collide: same name, same 4-byte key ID, different public keys)."""

    def __init__(self, name, a, pub=None):
        self.name, self.a = name, a
        self.pub = pub or ed25519.point_compress(ed25519.point_mul(a, ed25519.BASE))
        self.kid = vb.key_id(name, self.pub).hex()
        self.handle = name + "+" + self.kid
        self.vkey = self.handle + "+" + base64.b64encode(b"\x01" + self.pub).decode()

    @classmethod
    def from_seed(cls, name, seed):
        a = int.from_bytes(hashlib.sha512(seed).digest()[:32], "little")
        a = (a & ((1 << 254) - 8)) | (1 << 254)
        return cls(name, a)

    def sign(self, m):
        r = int.from_bytes(hashlib.sha512(b"nonce" + self.pub + m).digest(), "little") % ed25519.L
        rb = ed25519.point_compress(ed25519.point_mul(r, ed25519.BASE))
        k = int.from_bytes(hashlib.sha512(rb + self.pub + m).digest(), "little") % ed25519.L
        return rb + int.to_bytes((r + k * self.a) % ed25519.L, 32, "little")


# Found by a birthday search over a*B, a = 12345678901234567890, +1, ...:
# key_id("o", X) == key_id("o", Y) == d0143750.
COLL_X = ScalarKey("o", 12345678901234570701)
COLL_Y = ScalarKey("o", 12345678901234660805)
F_LOG = ScalarKey.from_seed("log.example", b"\x11" * 32)
F_ADM = ScalarKey.from_seed("adm", b"\x12" * 32)
F_BOB = ScalarKey.from_seed("bob", b"\x13" * 32)
F_TWIN = ScalarKey.from_seed("log.example", b"\x14" * 32)


def build_log(d, log, specs, keys_lines=()):
    lines = []
    for signer, kind, body in specs:
        o = {"blobs": [], "body": body, "kind": kind, "seq": len(lines), "signer": signer.handle,
             "prev": vb.leaf_hash(lines[-1]).hex() if lines else "0" * 64}
        o["sig"] = base64.b64encode(signer.sign(vb.ENTRY_PREFIX + jcs.canonicalize(o))).decode()
        lines.append(jcs.canonicalize(o))
    root = vb.mth([vb.leaf_hash(x) for x in lines])
    t = ("%s\n%d\n%s\n" % (log.name, len(lines), base64.b64encode(root).decode())).encode()
    cp = t + b"\n" + ("\u2014 %s %s\n" % (log.name, base64.b64encode(bytes.fromhex(log.kid) + log.sign(t)).decode())).encode()
    keys = ("log %s\n" % log.vkey + "".join(x + "\n" for x in keys_lines)).encode()
    write_bundle(d, b"\n".join(lines) + b"\n", cp, keys, [])


def genesis(log, admins):
    return (log, "genesis", {"admins": [k.vkey for k in admins], "log_vkey": log.vkey, "origin": log.name})


class ForgedLogTest(unittest.TestCase):
    """Registry rules of §3.4/§3.5, including the ambiguous ones FORMAT.md does
    not spell out (same-handle keys); with a built binary, `rankproof verify
    --bundle` must reach the same verdict."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rp-forged-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def test_collision_keys(self):
        self.assertEqual(COLL_X.handle, COLL_Y.handle)
        self.assertNotEqual(COLL_X.pub, COLL_Y.pub)
        vb.parse_vkey(COLL_X.vkey)
        vb.parse_vkey(COLL_Y.vkey)

    def test_rules(self):
        L, A, B, X, Y = F_LOG, F_ADM, F_BOB, COLL_X, COLL_Y
        adm0 = "key %s admin@0" % A.vkey
        cases = [
            ("control", L, [genesis(L, [A])], [adm0], None),
            ("last admin revokes itself", L, [genesis(L, [A]), (A, "key.revoke", {"effective_from": 2, "vkey": A.vkey})],
             [adm0 + " revoked@1"], r"entry 1: key\.revoke: .*last active admin"),
            ("admin revokes itself, another remains", L,
             [genesis(L, [A, B]), (A, "key.revoke", {"effective_from": 2, "vkey": A.vkey})],
             [adm0 + " revoked@1", "key %s admin@0" % B.vkey], None),
            ("last admin revoked by another admin", L,
             [genesis(L, [A, B]), (A, "key.revoke", {"effective_from": 2, "vkey": A.vkey}),
              (B, "key.revoke", {"effective_from": 3, "vkey": B.vkey})], [], r"entry 2: key\.revoke: .*last active admin"),
            ("grant to a key named like the origin", L,
             [genesis(L, [A]), (A, "key.grant", {"effective_from": 2, "role": "hr", "vkey": F_TWIN.vkey})],
             [], r"entry 1: key\.grant to .* named like the log's origin"),
            ("genesis admin named like the origin", L, [genesis(L, [F_TWIN])], [],
             r"entry 0: genesis admin .* named like the log's origin"),
            ("grant, used next entry", L, [genesis(L, [A]), (A, "key.grant", {"effective_from": 2, "role": "hr", "vkey": B.vkey}),
                                           (B, "rules.publish", {})], [adm0, "key %s hr@1" % B.vkey], None),
            ("grant used in same entry?", L, [genesis(L, [A]), (B, "rules.publish", {})], [adm0], r"entry 1: signer bob\+"),
            ("admins duplicated", L, [genesis(L, [A, A])], [adm0], r"entry 0: genesis admins not distinct"),
            ("admins share a handle", L, [genesis(L, [X, Y])], [], r"entry 0: genesis admins not distinct"),
            ("admin is the log key", L, [genesis(L, [A, L])], [], r"entry 0: genesis admin .* is the log key"),
            ("admin has the log key's handle", X, [genesis(X, [Y])], [], r"entry 0: genesis admin .* is the log key"),
            ("no admins", L, [genesis(L, [])], [], r"entry 0: genesis admins is not a non-empty array"),
            ("genesis extra member", L, [(L, "genesis", {"admins": [A.vkey], "log_vkey": L.vkey, "origin": L.name, "x": 1})],
             [], r"entry 0: genesis body must have exactly"),
            ("genesis signed by admin", L, [(A, "genesis", {"admins": [A.vkey], "log_vkey": L.vkey, "origin": L.name})],
             [], r"entry 0: genesis signer"),
            ("grant to same handle, other key", L, [genesis(L, [A]), (A, "key.grant", {"effective_from": 2, "role": "hr", "vkey": X.vkey}),
                                                    (A, "key.grant", {"effective_from": 3, "role": "hr", "vkey": Y.vkey})],
             [], r"entry 2: key\.grant: .*same handle as a different registered key"),
            ("revoke same handle, other key", L, [genesis(L, [A]), (A, "key.grant", {"effective_from": 2, "role": "hr", "vkey": X.vkey}),
                                                  (A, "key.revoke", {"effective_from": 3, "vkey": Y.vkey})],
             [], r"entry 2: key\.revoke: .*not a registered key"),
            ("grant to the log key's handle", X, [genesis(X, [A]), (A, "key.grant", {"effective_from": 2, "role": "hr", "vkey": Y.vkey})],
             [], r"entry 1: key\.grant to the log key"),
            ("revoke the log key", L, [genesis(L, [A]), (A, "key.revoke", {"effective_from": 2, "vkey": L.vkey})],
             [], r"entry 1: key\.revoke: .*not a registered key"),
            ("revoked admin grants", L, [genesis(L, [A, B]), (A, "key.revoke", {"effective_from": 2, "vkey": A.vkey}),
                                         (A, "key.grant", {"effective_from": 3, "role": "hr", "vkey": B.vkey})],
             [], r"entry 2: signer adm\+\w+ was revoked at entry 1"),
            ("grant extra member", L, [genesis(L, [A]), (A, "key.grant", {"effective_from": 2, "role": "hr", "vkey": B.vkey, "x": 1})],
             [], r"entry 1: key\.grant body must have exactly"),
            ("unknown role", L, [genesis(L, [A]), (A, "key.grant", {"effective_from": 2, "role": "boss", "vkey": B.vkey})],
             [], r"entry 1: key\.grant of unknown role"),
            ("keys file without revocation", L, [genesis(L, [A, B]), (A, "key.revoke", {"effective_from": 2, "vkey": A.vkey})],
             [adm0, "key %s admin@0" % B.vkey], r"^FAILED: keys: line 2"),
        ]
        for label, log, specs, keys, pat in cases:
            with self.subTest(case=label):
                d = os.path.join(self.tmp, re.sub(r"\W+", "-", label))
                build_log(d, log, specs, keys)
                rc, out, err = run(VERIFY_BUNDLE, d, "--log-vkey", log.vkey)
                if pat is None:
                    self.assertEqual(rc, 0, err)
                else:
                    self.assertEqual(rc, 1, out)
                    self.assertRegex(err, pat)
                if BINARY is not None:
                    r = subprocess.run([BINARY, "verify", "--bundle", d, "--log-vkey", log.vkey],
                                       capture_output=True, timeout=120)
                    rrc, rout = r.returncode, r.stdout.decode("utf-8", "replace")
                    # The registry verdict must agree. rankproof also holds
                    # workflow bodies to the writer's rules (a forged
                    # `rules.publish {}` is no package): that is reported
                    # after the signatures and roles all verified.
                    registry_ok = rrc == 0 or (rrc == 1 and "false claim" in rout and "entries:" in rout)
                    self.assertEqual(registry_ok, pat is None, "rankproof verify disagrees (exit %d)" % rrc)


def log_lines(specs):
    lines = []
    for signer, kind, body in specs:
        o = {"blobs": [], "body": body, "kind": kind, "seq": len(lines), "signer": signer.handle,
             "prev": vb.leaf_hash(lines[-1]).hex() if lines else "0" * 64}
        o["sig"] = base64.b64encode(signer.sign(vb.ENTRY_PREFIX + jcs.canonicalize(o))).decode()
        lines.append(jcs.canonicalize(o))
    return lines


def signed_checkpoint(log, lines):
    root = vb.mth([vb.leaf_hash(x) for x in lines])
    t = ("%s\n%d\n%s\n" % (log.name, len(lines), base64.b64encode(root).decode())).encode()
    return (t + b"\n" + ("\u2014 %s %s\n" % (log.name, base64.b64encode(bytes.fromhex(log.kid) + log.sign(t)).decode())).encode()).decode()


class ForgedReceiptTest(unittest.TestCase):
    """Receipts made by someone holding the log key (any tree it likes) but
    not an admin's key: keys in the grant chain are compared in full, so a
    second key with the same handle (COLL_X / COLL_Y) gets nowhere."""

    RESULT = {"staff_id": "Z1", "name": "Zed", "total": "1", "rank": 1, "grade": "S",
              "bonus_multiplier": "1", "position": 1}
    SALT = "cd" * 32

    def receipt(self, specs, ranking_by, signer, chain_seqs):
        L = F_LOG
        root = vb.results_leaf(self.RESULT, self.SALT).hex()
        lines = log_lines(specs + [(ranking_by, "ranking.publish", {"n": 1, "period": "2099", "results_root": root})])
        cp = signed_checkpoint(L, lines)
        leaves = [vb.leaf_hash(x) for x in lines]

        def proof(i):
            return ("c2sp.org/tlog-proof@v1\nindex %d\n" % i
                    + "".join(base64.b64encode(h).decode() + "\n" for h in audit_path(leaves, i)) + "\n" + cp)
        rec = {"format": "rankproof-receipt/v2", "entry": lines[-1].decode(), "proof": proof(len(lines) - 1),
               "signer": signer.vkey,
               "chain": [{"entry": lines[i].decode(), "proof": proof(i)} for i in chain_seqs],
               "result": self.RESULT, "salt": self.SALT, "leaf_index": 0, "path": []}
        try:
            vr.verify_receipt(rec, L.vkey)
        except vr.CheckFailed as ex:
            return ex
        return None

    def test_chain(self):
        L, A, B, X, Y = F_LOG, F_ADM, F_BOB, COLL_X, COLL_Y
        g = genesis(L, [A])
        grant_x = (A, "key.grant", {"effective_from": 2, "role": "operator", "vkey": X.vkey})
        # control: X was granted operator and signed
        self.assertIsNone(self.receipt([g, grant_x], X, X, [1, 0]))
        # Y has X's handle: the grant names X in full, the signer is Y
        ex = self.receipt([g, grant_x], Y, Y, [1, 0])
        self.assertEqual(ex.check, 4)
        self.assertIn("not to the signer", str(ex))
        # claiming X as the signer: Y's signature does not verify under X
        self.assertEqual(self.receipt([g, grant_x], Y, X, [1, 0]).check, 3)
        # an admin's handle-twin signs a grant of operator to B: the genesis
        # names the real admin X in full, the grant's signature fails
        g2 = genesis(L, [X])
        forged = (Y, "key.grant", {"effective_from": 2, "role": "operator", "vkey": B.vkey})
        ex = self.receipt([g2, forged], B, B, [1, 0])
        self.assertEqual(ex.check, 4)
        self.assertIn("does not verify", str(ex))
        # two levels: A grants admin to B, B grants operator to X
        specs = [g, (A, "key.grant", {"effective_from": 2, "role": "admin", "vkey": B.vkey}),
                 (B, "key.grant", {"effective_from": 3, "role": "operator", "vkey": X.vkey})]
        self.assertIsNone(self.receipt(specs, X, X, [2, 1, 0]))
        self.assertEqual(self.receipt(specs, X, X, [2, 0]).check, 4)    # a link left out
        self.assertEqual(self.receipt(specs, X, X, [2, 1]).check, 4)    # no genesis
        self.assertEqual(self.receipt(specs, X, X, [1, 2, 0]).check, 4)  # out of order
        # an admin grant used where operator is needed
        self.assertEqual(self.receipt(specs[:2], B, B, [1, 0]).check, 4)


class ReceiptArithmeticTest(unittest.TestCase):
    """FORMAT.md §12 check 7 on the worked example's result, and on edits of
    it (check 7 alone: an edited result would fail check 5 first)."""

    def result(self):
        path = os.path.join(REPO, "tests", "e2e", "data", "receipt-example.json")
        with open(path, encoding="utf-8") as f:
            return json.load(f)["result"]

    def refused(self, res, *words):
        with self.assertRaises(vr.VerifyError) as cm:
            vr.check_arithmetic(res)
        for w in words:
            self.assertIn(w, str(cm.exception))

    def test_the_worked_example_adds_up(self):
        vr.check_arithmetic(self.result())

    def test_a_wrong_contribution_is_named(self):
        res = self.result()
        res["explain"]["scoring"]["sales"]["terms"]["growth_pts"][2] = "11.91176476"
        self.refused(res, "sales", "growth_pts")

    def test_terms_that_do_not_add_up_are_refused(self):
        res = self.result()
        res["explain"]["unrounded"]["sales"] = "82.037816"
        self.refused(res, "sales")

    def test_a_reported_score_rounded_otherwise_is_refused(self):
        res = self.result()
        res["sales"] = "82.03"
        self.refused(res, "sales")

    def test_a_float_is_not_a_number(self):
        res = self.result()
        res["explain"]["scoring"]["sales"]["terms"]["growth_pts"][1] = 0.15
        self.refused(res, "growth_pts", "weight")


if __name__ == "__main__":
    unittest.main()
