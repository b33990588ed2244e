"""RFC 8785 JSON Canonicalization Scheme (standard library only).

`canonicalize(value) -> bytes` serializes Python values produced by `parse`
(dict, list, str, int, float, True/False/None):

- objects: members sorted by the UTF-16 code units of their names
  (RFC 8785 §3.2.3), no whitespace;
- strings: minimal escaping (RFC 8785 §3.2.2.2): only `"` `\\` and
  U+0000..U+001F are escaped, as \\b \\t \\n \\f \\r or \\u00xx (lowercase
  hex); everything else is written as UTF-8. Lone surrogates are refused;
- numbers: ECMAScript Number.prototype.toString of the IEEE-754 double the
  value denotes (RFC 8785 §3.2.2.3). Integers with |n| <= 2**53 are written
  as plain decimal. Larger integers are first rounded to a double, as a JCS
  implementation in any language would, so `9007199254740993` canonicalizes
  to `9007199254740992` (and such input bytes are therefore non-canonical).
  Floats are supported with the ECMAScript algorithm (shortest round-trip
  digits, exponent form outside 1e-6 <= |x| < 1e21); NaN and infinities are
  refused. rankproof itself writes no non-integer numbers (decimals are
  strings), so in practice only integers appear.

`parse(bytes_or_str)` is a strict JSON parser front end: input must be UTF-8
(no BOM), duplicate member names, NaN/Infinity and lone surrogates are
refused.
"""

import json
from decimal import Decimal

MAX_SAFE = 2**53


class JCSError(ValueError):
    pass


def _no_dupes(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise JCSError("duplicate member name %r" % k)
        out[k] = v
    return out


def _bad_constant(name):
    raise JCSError("%s is not valid JSON" % name)


def parse(data):
    """Parse JSON strictly. Raises JCSError (or ValueError) on anything odd."""
    if isinstance(data, (bytes, bytearray)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JCSError("not UTF-8: %s" % e)
    else:
        text = data
    if text.startswith("\ufeff"):
        raise JCSError("byte order mark")
    try:
        return json.loads(text, object_pairs_hook=_no_dupes,
                          parse_constant=_bad_constant)
    except JCSError:
        raise
    except (json.JSONDecodeError, RecursionError) as e:
        raise JCSError("invalid JSON: %s" % e)


_ESC = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r",
        0x22: '\\"', 0x5C: "\\\\"}


def _string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if c in _ESC:
            out.append(_ESC[c])
        elif c < 0x20:
            out.append("\\u%04x" % c)
        elif 0xD800 <= c <= 0xDFFF:
            raise JCSError("lone surrogate U+%04X in string" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def number_to_string(x):
    """ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3)."""
    if isinstance(x, bool):
        raise JCSError("bool is not a number")
    if isinstance(x, int):
        if -MAX_SAFE <= x <= MAX_SAFE:
            return str(x)
        try:
            x = float(x)
        except OverflowError:
            raise JCSError("integer out of the IEEE-754 double range")
    if x != x or x in (float("inf"), float("-inf")):
        raise JCSError("NaN/Infinity cannot be canonicalized")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + number_to_string(-x)
    # repr gives the shortest digit string that round-trips (same choice as
    # ECMAScript's "k as small as possible" rule).
    sign, digits, exp = Decimal(repr(x)).as_tuple()
    ds = "".join(map(str, digits)).rstrip("0")
    exp += len(digits) - len(ds)
    k = len(ds)
    n = exp + k  # value = 0.ds * 10**n
    if k <= n <= 21:
        return ds + "0" * (n - k)
    if 0 < n <= 21:
        return ds[:n] + "." + ds[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + ds
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return ds + "e" + es
    return ds[0] + "." + ds[1:] + "e" + es


def _ser(v, out):
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, (int, float)):
        out.append(number_to_string(v))
    elif isinstance(v, str):
        out.append(_string(v))
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _ser(x, out)
        out.append("]")
    elif isinstance(v, dict):
        for k in v:
            if not isinstance(k, str):
                raise JCSError("object member name is not a string")
        out.append("{")
        for i, k in enumerate(sorted(v, key=lambda s: s.encode("utf-16-be", "surrogatepass"))):
            if i:
                out.append(",")
            out.append(_string(k))
            out.append(":")
            _ser(v[k], out)
        out.append("}")
    else:
        raise JCSError("cannot canonicalize %s" % type(v).__name__)


def canonicalize(v):
    out = []
    _ser(v, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as e:  # pragma: no cover (surrogates refused above)
        raise JCSError(str(e))


def is_canonical(data):
    """(value, ok): parse bytes and say whether they are exactly their JCS form."""
    v = parse(data)
    return v, canonicalize(v) == bytes(data)
