"""Ed25519 (RFC 8032, pure Python, standard library only).

Written from RFC 8032 §5.1 for the rankproof oracle verifiers. Not constant
time: use it to *verify* public data, never to handle secrets in production.
(`sign` exists only so the tests can build signatures.)

Verification is STRICT, matching FORMAT.md §3.2 (ed25519-dalek
`verify_strict`):

- the public key A and the signature's R must be canonical encodings
  (y < p; no "negative zero" x = 0 with the sign bit set) of curve points;
- A and R must not have small order ([8]P != identity);
- S must be canonical (S < L);
- the equation is the COFACTORLESS one, [S]B == R + [k]A with
  k = SHA-512(R_bytes || A_bytes || M) mod L (RFC 8032 §5.1.7 step 3 without
  the optional multiplication by 8). With the small-order checks above the
  two equations accept exactly the same signatures made by honest signers.
"""

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

IDENTITY = (0, 1, 1, 0)


def _recover_x(y, sign):
    """RFC 8032 §5.1.3 steps 2-4; None if no square root / non-canonical."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    vx2 = (v * x * x) % P
    if vx2 == u:
        pass
    elif vx2 == (-u) % P:
        x = (x * SQRT_M1) % P
    else:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = P - x
    return x


_BY = (4 * pow(5, P - 2, P)) % P
_BX = _recover_x(_BY, 0)
BASE = (_BX, _BY, 1, (_BX * _BY) % P)


def point_add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = ((y1 - x1) * (y2 - x2)) % P
    b = ((y1 + x1) * (y2 + x2)) % P
    c = (t1 * 2 * D * t2) % P
    d = (z1 * 2 * z2) % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return ((e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P)


def point_double(p1):
    x1, y1, z1, _ = p1
    a = (x1 * x1) % P
    b = (y1 * y1) % P
    c = (2 * z1 * z1) % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1)
    g = a - b
    f = c + g
    return ((e * f) % P, (g * h) % P, (f * g) % P, (e * h) % P)


def point_mul(s, pt):
    q = IDENTITY
    while s > 0:
        if s & 1:
            q = point_add(q, pt)
        pt = point_double(pt)
        s >>= 1
    return q


def point_equal(p1, p2):
    x1, y1, z1, _ = p1
    x2, y2, z2, _ = p2
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def point_compress(pt):
    x, y, z, _ = pt
    zi = pow(z, P - 2, P)
    x = (x * zi) % P
    y = (y * zi) % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def point_decompress(b):
    """Canonical decoding (RFC 8032 §5.1.3): None unless b is the canonical
    32-byte encoding of a point on the curve."""
    if len(b) != 32:
        return None
    n = int.from_bytes(b, "little")
    sign = n >> 255
    y = n & ((1 << 255) - 1)
    if y >= P:
        return None
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, (x * y) % P)


def has_small_order(pt):
    return point_equal(point_double(point_double(point_double(pt))), IDENTITY)


def public_key_ok(pub):
    """True iff pub is a canonical point encoding of a point not of small order."""
    pt = point_decompress(pub)
    return pt is not None and not has_small_order(pt)


def _sha512_int(*parts):
    h = hashlib.sha512()
    for x in parts:
        h.update(x)
    return int.from_bytes(h.digest(), "little")


def verify(pub, msg, sig):
    """Strict Ed25519 verification. Returns True/False, never raises on bad input."""
    if not isinstance(pub, (bytes, bytearray)) or not isinstance(sig, (bytes, bytearray)):
        return False
    if len(pub) != 32 or len(sig) != 64:
        return False
    a = point_decompress(bytes(pub))
    if a is None or has_small_order(a):
        return False
    rb = bytes(sig[:32])
    r = point_decompress(rb)
    if r is None or has_small_order(r):
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return False
    k = _sha512_int(rb, bytes(pub), bytes(msg)) % L
    return point_equal(point_mul(s, BASE), point_add(r, point_mul(k, a)))


def _expand(seed):
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_from_seed(seed):
    a, _ = _expand(seed)
    return point_compress(point_mul(a, BASE))


def sign(seed, msg):
    """RFC 8032 §5.1.6 (test helper)."""
    a, prefix = _expand(seed)
    pub = point_compress(point_mul(a, BASE))
    r = _sha512_int(prefix, msg) % L
    rb = point_compress(point_mul(r, BASE))
    k = _sha512_int(rb, pub, msg) % L
    s = (r + k * a) % L
    return rb + int.to_bytes(s, 32, "little")
