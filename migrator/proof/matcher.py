"""One device matcher for every command that asks "does this request reach this device?"
(``verify``'s prover and ``plan``'s model).

Selectors are CEL over the device's attributes and capacity (migrator/k8s/cel.py). When a selector
fails to evaluate on a device, the scheduler's allocator aborts allocation for that request
(k8s.io/dynamic-resource-allocation structured allocator: a CEL runtime error is returned, not
treated as false), so the device is never chosen *and* the error is kept: ``errors`` lists each
(node/device, message) once, for the caller to report. Nothing is silently "no match".
"""

from __future__ import annotations

from typing import Any

from migrator.k8s.cel import Evaluator, device_value


class DeviceMatcher:
    def __init__(self, evaluator: Evaluator | None = None) -> None:
        self.ev = evaluator or Evaluator()
        self._values: dict[tuple[str, ...], dict[str, Any]] = {}
        #: by what a selector sees of a device (driver, attributes, capacity; never its name or
        #: node): a cluster's devices repeat a few shapes, so each shape is evaluated once
        self._shapes: dict[tuple[str, ...], str] = {}
        self._cache: dict[tuple[Any, ...], bool | str] = {}
        #: (node/device, "selector error: ...") once each, in the order found
        self.errors: dict[tuple[str, str], None] = {}

    def value(self, d: Any) -> dict[str, Any]:
        v = self._values.get(d.key)
        if v is None:
            v = self._values[d.key] = device_value(d.driver, d.attributes, d.capacity)
        return v

    def match(self, exprs: list[str] | tuple[str, ...], d: Any) -> bool | str:
        """True or False, or the error text ("error: ...") when a selector cannot be evaluated on
        ``d`` (allocation would abort; also recorded in ``errors``)."""
        shape = self._shapes.get(d.key)
        if shape is None:
            shape = self._shapes[d.key] = repr((d.driver, d.attributes, d.capacity))
        key = (shape, tuple(exprs))
        hit = self._cache.get(key)
        if hit is None:
            hit = True
            for e in exprs:
                try:
                    if not self.ev.evaluate(e, self.value(d)):
                        hit = False
                        break
                except RuntimeError as exc:
                    hit = f"error: {exc}"
                    break
            self._cache[key] = hit
        if isinstance(hit, str):
            self.errors.setdefault((f"{d.node}/{d.name}", hit), None)
        return hit

    def matches(self, exprs: list[str] | tuple[str, ...], d: Any) -> bool:
        """``match`` where an error counts as no match (the device is never chosen); the error is kept."""
        return self.match(exprs, d) is True


def has_capacity(d: Any, caps: dict[str, str]) -> bool:
    """The device defines every requested capacity, each at least as large as asked (the
    allocator skips a device that lacks one: k8s.io/dynamic-resource-allocation v0.37.2
    structured/internal/incubating/consumable_capacity.go). Unqualified names are the driver's."""
    from migrator.k8s.quantity import parse_quantity

    for name, want in caps.items():
        domain, _, short = name.rpartition("/")
        have = d.capacity.get(domain or d.driver, {}).get(short)
        try:
            if have is None or parse_quantity(have) < parse_quantity(want):
                return False
        except Exception:
            return False
    return True
