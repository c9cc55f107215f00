"""Kubernetes resource quantities, read exactly as the API server reads them (one implementation).

``parse_quantity`` is a port of ``ParseQuantity`` in k8s.io/apimachinery pkg/api/resource
quantity.go (its scanner ``parseQuantityString``, the suffix table of suffix.go, and the
round-up of anything finer than 1n). The grammar, from that file::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

The scanner is more lenient than the grammar in ways that are kept here on purpose, because
the API server accepts them: a bare sign or ``.`` is 0, ``2.`` is 2, leading zeros are dropped.

``extended_count`` is how a count of an extended resource (``nvidia.com/gpu: N``) reads: the
value sigs.k8s.io/yaml hands to ``Quantity.UnmarshalJSON`` (which trims spaces), then the
validation of extended resources (k8s.io/kubernetes pkg/apis/core/validation
``ValidateResourceQuantityValue``: non-negative, and ``must be an integer`` for names that are
not native resources). The result is the whole number, or why there is none.

Stdlib only: this is on the rewrite path (start-up time).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

_DIGITS = "0123456789"
_SUFFIX_CHARS = "eEinumkKMGTP"  # parseQuantityString's suffix alphabet
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_NANO = Fraction(1, 10**9)
_INT64_MAX = 2**63 - 1
#: Exponents beyond this make numbers no int64 field can hold; computing 10**(2**31) would hang.
_EXP_LIMIT = 400


def _scan(s: str) -> tuple[bool, str, str, str]:
    """(positive, numerator digits, denominator digits, suffix), or ValueError (parseQuantityString)."""
    pos, end, positive = 0, len(s), True
    if pos < end and s[0] in "+-":
        positive = s[0] == "+"
        pos += 1
    while pos < end and s[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "", ""
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    denom = ""
    if pos < end and s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]
    suffix_start = pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise ValueError(f"invalid quantity {s!r}")
    return positive, num, denom, s[suffix_start:]


def _go_int(text: str) -> int:
    """strconv.ParseInt(text, 10, 64)."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or any(c not in _DIGITS for c in body):
        raise ValueError(text)
    v = int(text)
    if not -(2**63) <= v <= _INT64_MAX:
        raise ValueError(text)
    return v


def parse_quantity(text: str) -> Fraction:
    """The exact value of resource.ParseQuantity(text) (no trimming: quantity() in CEL does none)."""
    s = str(text)
    if not s:
        raise ValueError("invalid quantity ''")
    positive, num, denom, suffix = _scan(s)
    binary = False
    if suffix in _DECIMAL:
        exponent = _DECIMAL[suffix]
    elif suffix in _BINARY:
        exponent, binary = _BINARY[suffix], True
    elif len(suffix) > 1 and suffix[0] in "eE":
        try:
            exponent = _go_int(suffix[1:])
        except ValueError:
            raise ValueError(f"invalid quantity {s!r}: bad exponent") from None
        if not -(2**31 - 1) <= exponent <= 2**31 - 1:
            # suffix.go interpret: "an exponent outside the int32 scale is rejected rather than
            # truncated" (quantity_test.go TestInterpretExponentInt32Bounds; older releases wrapped)
            raise ValueError(f"invalid quantity {s!r}: exponent out of range")
    else:
        raise ValueError(f"invalid quantity {s!r}: unknown suffix {suffix!r}")
    if exponent < -9 and not binary and not any(c in _DIGITS for c in s[:len(s) - len(suffix)]):
        # the inf.Dec path (scale below nano) parses the number text itself: "." or "" fails there
        raise ValueError(f"invalid quantity {s!r}: no digits")
    mantissa = Fraction(int(num + denom), 10 ** len(denom))
    if mantissa == 0:
        return Fraction(0)
    if binary:
        value = mantissa * 2**exponent
    elif exponent > _EXP_LIMIT:
        raise ValueError(f"invalid quantity {s!r}: out of range")
    elif exponent < -_EXP_LIMIT:
        value = _NANO  # rounds up to the smallest quantity, as below
    else:
        value = mantissa * Fraction(10) ** exponent
    # "rounds non-zero values up to the minimum representable value" (inf.RoundUp at scale 9)
    if (value / _NANO).denominator != 1:
        value = math.ceil(value / _NANO) * _NANO
    if binary and value > _INT64_MAX:  # "The max is just a simple cap" (BinarySI only)
        value = Fraction(_INT64_MAX)
    return value if positive else -value


def read_quantity(text: str) -> Fraction:
    """A quantity field as decoded from JSON/YAML (Quantity.UnmarshalJSON: strings.TrimSpace first)."""
    return parse_quantity(str(text).strip(" \t\n\r\v\f"))


@dataclass(frozen=True, slots=True)
class Count:
    """How the API server reads a count of an extended resource."""

    value: int | None  #: the whole number, or None when the API would reject it (or cannot be known)
    problem: str | None = None  #: why there is no value, phrased to follow "count X "


def extended_count(value: Any, tag: str | None = None) -> Count:
    """``value``: the YAML scalar as the safe schema reads it; ``tag``: an explicit non-core tag.

    Floats go through float64 in sigs.k8s.io/yaml as in PyYAML, and Go prints them in the
    shortest form that round-trips, as ``repr`` does: the quantity is the same number.
    """
    if value.__class__ is int and 0 <= value <= _INT64_MAX and tag is None:
        return Count(value)  # the common case, without the exact-fraction arithmetic below
    try:
        return _extended_count(value, tag)  # manifests repeat the same few counts
    except TypeError:  # an unhashable value (data, not a YAML scalar): not a quantity either way
        return _uncached_count(value, tag)


@functools.lru_cache(maxsize=4096, typed=True)  # typed: 1, 1.0 and True are three answers
def _extended_count(value: Any, tag: str | None) -> Count:
    return _uncached_count(value, tag)


def _uncached_count(value: Any, tag: str | None) -> Count:
    if tag is not None:
        return Count(None, f"carries the YAML tag {tag} (not a number until what reads that tag replaces it)")
    if isinstance(value, bool):
        return Count(None, f"is a boolean ({str(value).lower()}), not a quantity")
    if value is None:
        return Count(None, "is null, not a quantity")
    try:
        if isinstance(value, int):
            q = Fraction(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                return Count(None, "is not a finite number, not a quantity")
            q = Fraction(repr(value))
        elif isinstance(value, str):
            q = read_quantity(value)
        else:
            return Count(None, "is not a quantity")
    except ValueError:
        return Count(None, "is not a Kubernetes quantity")
    if q < 0:
        return Count(None, "is negative (the API requires a count >= 0)")
    if q.denominator != 1:
        return Count(None, f"is {_show(q)}, not a whole number (the API requires an integer for an extended resource)")
    if q > _INT64_MAX:
        return Count(None, "is larger than the API can count (int64)")
    return Count(int(q))


def _show(q: Fraction) -> str:
    whole, rest = divmod(q.numerator, q.denominator)
    digits = ""
    for _ in range(9):  # quantities have at most nano precision
        rest *= 10
        d, rest = divmod(rest, q.denominator)
        digits += str(d)
        if not rest:
            break
    return f"{whole}.{digits.rstrip('0') or '0'}"


def parse_count(value: Any) -> int | None:
    """A count as read from a Python value (verify's pods): the API server's whole number, or None."""
    return extended_count(value).value
