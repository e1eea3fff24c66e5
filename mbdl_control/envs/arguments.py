"""Checks of the envs' constructor arguments, written once for every env of the suite.

A bad argument must fail where it is passed, with a ``ValueError`` that names it, shows its
value and says what is valid. Unchecked, it fails later deep inside numpy or Gymnasium with a
message about something else, or worse, silently: a negative standard deviation squared away,
``True`` read as 1, ``system_seed=None`` drawing a new random system at every construction.
A wrong type is a ``ValueError`` too, so one ``except`` catches every bad argument; an
unknown argument stays a ``TypeError``, as Python raises it.

An env constructor declares the :class:`Integer`, :class:`Real`, :class:`RealOrRange` or
:class:`Choice` domain of each argument with :func:`checked_arguments`, which checks them
before the constructor runs.
``mismatch`` and ``render_mode``, the arguments of the contract, are checked by
:class:`~mbdl_control.envs.base.PartiallyKnownEnv` itself (:data:`MISMATCH`,
:func:`render_mode_domain`). :func:`argument_domains` lists every argument of an env class
with its domain, for the tests that try bad values of each.

>>> DIMENSION.check("n", 4)
4
>>> DIMENSION.check("n", True)
Traceback (most recent call last):
...
ValueError: n must be a positive integer <= 1000, got True (bool)
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

#: the largest state, input or measurement dimension: an env builds dense ``n × n`` matrices
#: and their eigenvalues at construction (about 15 s at ``n = 1000`` on 2 cores), and a typo
#: such as ``n=10**6`` would otherwise try to allocate terabytes
MAX_DIMENSION = 1000
#: the largest standard deviation or input bound: its square must leave room below the
#: largest float (1.8e308) for the variances, the costs and their sums over an episode
MAX_SCALE = 1e100
#: the largest relative error of a nominal model: past it the nominal model is noise, and
#: ``1e6`` keeps every perturbed entry, and ``V (1 + η)²``, far from overflow
MAX_RELATIVE_ERROR = 1e6
#: arguments of the contract, checked by ``PartiallyKnownEnv.__init__`` rather than by
#: :func:`checked_arguments`
CONTRACT_ARGUMENTS = ("mismatch", "render_mode")

_SHOWN_CHARACTERS = 60


def shown(value: Any) -> str:
    """The value as an error shows it: its repr on one line, shortened, and its type where the
    repr does not make it plain (``True (bool)``, ``'1' (str)``)."""
    text = " ".join(repr(value).split())
    if len(text) > _SHOWN_CHARACTERS:
        text = text[: _SHOWN_CHARACTERS - 3] + "..."
    kind = type(value).__name__
    if value is None or type(value) in (int, float, str) or kind in text:
        return text
    return f"{text} ({kind})"


def _meaning(meaning: str) -> str:
    return f" ({meaning})" if meaning else ""


def _is_integer(value: Any) -> bool:
    """An int or numpy integer; not a bool, which Python counts as an int but no one means
    as a count or a seed."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_float(value: Any) -> float | None:
    """``value`` as a float (``inf`` for an int too large for one), or ``None`` unless it is a
    real number: bools, complex numbers, strings, arrays and ``None`` are not."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an int past the largest float: as good as infinite
        return math.inf


@dataclass(frozen=True)
class Integer:
    """An integer in ``[minimum, maximum]`` (no upper end when ``maximum`` is ``None``); with
    ``none_means``, ``None`` is valid too and means that."""

    minimum: int
    maximum: int | None = None
    meaning: str = ""
    none_means: str = ""

    def check(self, name: str, value: Any) -> int | None:
        """``value`` as an int (``None`` where allowed), or a ``ValueError`` naming ``name``."""
        if value is None and self.none_means:
            return None
        if not _is_integer(value) or not self._contains(value):
            raise ValueError(f"{name} must be {self.describe()}, got {shown(value)}")
        return int(value)

    def _contains(self, value: int) -> bool:
        return value >= self.minimum and (self.maximum is None or value <= self.maximum)

    def describe(self) -> str:
        """What is valid, as the error says it."""
        kinds = {0: "a non-negative integer", 1: "a positive integer"}
        text = kinds.get(self.minimum, f"an integer >= {self.minimum}")
        if self.maximum is not None:
            text += f" <= {self.maximum}"
        if self.none_means:
            text += f" or None ({self.none_means})"
        return text + _meaning(self.meaning)


@dataclass(frozen=True)
class Real:
    """A finite real number in ``[minimum, maximum]`` (an open end where ``open_minimum`` or
    ``open_maximum``); ints are real numbers, bools are not. With ``none_means``, ``None`` is
    valid too and means that (a noiseless channel for an SNR)."""

    minimum: float = 0.0
    maximum: float = MAX_SCALE
    open_minimum: bool = False
    meaning: str = ""
    open_maximum: bool = False
    none_means: str = ""

    def check(self, name: str, value: Any) -> float | None:
        """``value`` as a float (``None`` where allowed), or a ``ValueError`` naming ``name``."""
        if value is None and self.none_means:
            return None
        number = _as_float(value)
        if number is None or not self.contains(number):
            raise ValueError(f"{name} must be {self.describe()}, got {shown(value)}")
        return number

    def contains(self, number: float) -> bool:
        """Whether the float ``number`` is in the domain."""
        above = number > self.minimum if self.open_minimum else number >= self.minimum
        below = number < self.maximum if self.open_maximum else number <= self.maximum
        return math.isfinite(number) and above and below

    def describe(self) -> str:
        """What is valid, as the error says it."""
        text = self.bounds_text() + (f" or None ({self.none_means})" if self.none_means else "")
        return text + _meaning(self.meaning)

    def bounds_text(self) -> str:
        """The interval, as an error says it."""
        lower = ">" if self.open_minimum else ">="
        upper = "<" if self.open_maximum else "<="
        return f"a finite float {lower} {self.minimum:g} and {upper} {self.maximum:g}"


@dataclass(frozen=True)
class RealOrRange:
    """A number of the domain ``numbers``, or a range ``[low, high]`` of two of them (a list or a
    tuple, ``low <= high``), as the pair ``(low, high)``: a number ``x`` is ``(x, x)``.

    >>> SNR = RealOrRange(Real(-30.0, 60.0))
    >>> SNR.check("snr_db", 10), SNR.check("snr_db", [7, 14])
    ((10.0, 10.0), (7.0, 14.0))
    >>> SNR.check("snr_db", [14, 7])
    Traceback (most recent call last):
    ...
    ValueError: snr_db must be a finite float >= -30 and <= 60, or a range [low, high] of such \
floats with low <= high, got [14, 7] (list)
    """

    numbers: Real
    meaning: str = ""

    def check(self, name: str, value: Any) -> tuple[float, float]:
        """``value`` as ``(low, high)``, or a ``ValueError`` naming ``name``."""
        pair = self._pair(value)
        if pair is None:
            raise ValueError(f"{name} must be {self.describe()}, got {shown(value)}")
        return pair

    def _pair(self, value: Any) -> tuple[float, float] | None:
        """``(low, high)``, or ``None`` unless ``value`` is a number or a range of them."""
        if isinstance(value, list | tuple):
            if len(value) != 2:
                return None
            low, high = _as_float(value[0]), _as_float(value[1])
        else:
            low = high = _as_float(value)
        if low is None or high is None or low > high:
            return None
        inside = self.numbers.contains(low) and self.numbers.contains(high)
        return (low, high) if inside else None

    def describe(self) -> str:
        """What is valid, as the error says it."""
        text = self.numbers.bounds_text() + ", or a range [low, high] of such floats"
        return text + " with low <= high" + _meaning(self.meaning)


@dataclass(frozen=True)
class Choice:
    """One of ``choices`` (strings, and ``None`` where it is one of them)."""

    choices: tuple[str | None, ...]
    meaning: str = ""

    def check(self, name: str, value: Any) -> str | None:
        """``value`` unchanged, or a ``ValueError`` naming ``name``. The type is checked first:
        ``in`` would compare an array element by element."""
        if (value is None or isinstance(value, str)) and value in self.choices:
            return value
        raise ValueError(f"{name} must be {self.describe()}, got {shown(value)}")

    def describe(self) -> str:
        """What is valid, as the error says it."""
        named = [choice for choice in self.choices if choice is not None]
        parts = (["None"] if None in self.choices else []) + ([f"one of {named}"] if named else [])
        return " or ".join(parts) + _meaning(self.meaning)


Domain = Integer | Real | RealOrRange | Choice

#: a dimension of the state, the input or the measurement
DIMENSION = Integer(1, MAX_DIMENSION)
#: a seed of numpy's legacy ``RandomState``, which draws the published random systems
LEGACY_SEED = Integer(0, 2**32 - 1, "a seed of numpy's RandomState, which draws the system")
#: a seed of ``numpy.random.default_rng``
SEED = Integer(0, None, "a seed of numpy's default_rng")
#: a count of envs or of steps
COUNT = Integer(1)
#: a standard deviation (0: no noise)
STD = Real(meaning="a standard deviation; larger ones overflow the variances and costs")
#: an input bound ``|u_i| <= u_max`` (the actuator's)
INPUT_BOUND = Real(open_minimum=True, meaning="the input bound |u_i| <= u_max")
#: an opt-in input bound of an unconstrained problem
OPTIONAL_INPUT_BOUND = Real(
    open_minimum=True, meaning="the input bound |u_i| <= u_max", none_means="no bound"
)
#: the nominal model's relative error, the contract's ``mismatch``
MISMATCH = Real(
    maximum=MAX_RELATIVE_ERROR, meaning="the nominal model's relative error; 0: nominal = true"
)


def render_mode_domain(render_modes: list[str]) -> Choice:
    """``render_mode``: ``None`` or one of an env's ``metadata["render_modes"]``."""
    return Choice((None, *render_modes))


_Init = TypeVar("_Init", bound=Callable[..., None])


def _named_parameters(signature: inspect.Signature) -> list[str]:
    """The parameters after ``self`` that take a name (not ``*args``, not ``**kwargs``)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    parameters = list(signature.parameters.values())[1:]
    return [parameter.name for parameter in parameters if parameter.kind not in variadic]


def checked_arguments(**domains: Domain) -> Callable[[_Init], _Init]:
    """Decorate an env's ``__init__``: check and convert (``np.int64(4)`` to ``4``) every
    argument passed, against its domain, before the constructor runs.

    Every named parameter needs a domain here, except the contract's (checked by the base
    class): decorating raises ``TypeError`` otherwise, so a new argument cannot go unchecked.
    The signature stays the constructor's (``inspect.signature`` and Gymnasium see it).
    """

    def decorate(init: _Init) -> _Init:
        signature = inspect.signature(init)
        named = _named_parameters(signature)
        unchecked = sorted(set(named) - set(domains) - set(CONTRACT_ARGUMENTS))
        absent = sorted(set(domains) - set(named))
        if unchecked or absent:
            raise TypeError(
                f"{init.__qualname__}: every argument needs a domain; none for {unchecked}, "
                f"and no parameter for the domains of {absent}"
            )

        @functools.wraps(init)
        def checked(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError as error:  # Python's message does not name the env
                raise TypeError(
                    f"{type(self).__name__}: {error}; its arguments are {', '.join(named)}"
                ) from None
            for name, value in bound.arguments.items():
                if name in domains:
                    bound.arguments[name] = domains[name].check(name, value)
            init(*bound.args, **bound.kwargs)

        checked.argument_domains = MappingProxyType(dict(domains))  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate


def argument_domains(cls: type[Any]) -> Mapping[str, Domain]:
    """Every named argument of ``cls``'s constructor with its domain, in signature order:
    what a test or a benchmark needs to try bad values of each."""
    declared = getattr(cls.__init__, "argument_domains", None)
    if declared is None:
        raise TypeError(
            f"{cls.__name__}.__init__ declares no argument domains: decorate it with "
            "mbdl_control.envs.arguments.checked_arguments"
        )
    names = _named_parameters(inspect.signature(cls.__init__))
    return {name: declared.get(name) or _contract_domain(cls, name) for name in names}


def _contract_domain(cls: type[Any], name: str) -> Domain:
    """The domain ``PartiallyKnownEnv`` checks a contract argument against."""
    if name == "mismatch":
        return MISMATCH
    return render_mode_domain(cls.metadata["render_modes"])
