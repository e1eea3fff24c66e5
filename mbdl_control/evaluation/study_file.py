"""The shape of a study file, checked whole: every type, sign and key, every error at once.

A pydantic schema (strict: ``"ten"`` is no integer, ``2.7`` no episode count, ``true`` no
number) of the TOML tables that :mod:`mbdl_control.evaluation.study` turns into a
:class:`~mbdl_control.evaluation.study.Study`. :func:`parse_study_file` returns the validated
tables, or raises one :class:`StudyError` that lists every problem with its place in the file
(``agents[2].kwargs``, ``evaluation.episodes``) and what was found there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from pydantic import field_validator as validator

from mbdl_control.core import FAMILIES, KNOWLEDGE


class StudyError(ValueError):
    """A study file that cannot be run, with the key at fault and what would be valid."""


NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
#: a finite float >= 0 (an int is fine; a bool or a string is not)
Mismatch = Annotated[float, Field(ge=0, allow_inf_nan=False, strict=True)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetTable(_Table):
    steps: NonNegativeInt = 0
    samples: NonNegativeInt = 0


class EvaluationTable(_Table):
    episodes: Annotated[StrictInt, Field(ge=2)] = 100
    seed_offset: NonNegativeInt = 1000


class EnvTable(_Table):
    id: StrictStr
    kwargs: dict[StrictStr, Any] = {}
    sweep: dict[StrictStr, Annotated[list[Any], Field(min_length=1)]] = {}
    max_episode_steps: Annotated[StrictInt, Field(ge=1)] | None = None
    label: StrictStr | None = None


class AgentTable(_Table):
    cls: Any = Field(alias="class")
    knowledge: Literal[KNOWLEDGE]  # type: ignore[valid-type]
    kwargs: dict[StrictStr, Any] = {}
    label: StrictStr | None = None
    envs: list[StrictStr] | None = None
    family: Literal[FAMILIES] | None = None  # type: ignore[valid-type]
    budgets: Annotated[list[BudgetTable], Field(min_length=1)] | None = None
    mismatch: Annotated[list[Mismatch], Field(min_length=1)] | None = None
    fit_env: dict[StrictStr, Any] = {}
    sweep: dict[StrictStr, Annotated[list[Any], Field(min_length=1)]] = {}

    @validator("cls")
    @classmethod
    def _class_name_or_class(cls, value: Any) -> Any:
        if not isinstance(value, str | type):
            raise ValueError("must be an agent's name, an import path 'module:Class', or a class")
        return value


class QuickTable(_Table):
    episodes: Annotated[StrictInt, Field(ge=2)] | None = None
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1)] | None = None
    mismatch: Annotated[list[Mismatch], Field(min_length=1)] | None = None
    budgets: Annotated[list[BudgetTable], Field(min_length=1)] | None = None
    agents: dict[StrictStr, dict[StrictStr, Any]] = {}


class StudyFile(_Table):
    name: Annotated[StrictStr, Field(pattern=r"^[^/\\\s]+$")]
    description: StrictStr = ""
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1)] = [0]
    mismatch: Annotated[list[Mismatch], Field(min_length=1)] = [0.0]
    evaluation: EvaluationTable = EvaluationTable()
    budgets: Annotated[list[BudgetTable], Field(min_length=1)] = [BudgetTable()]
    envs: Annotated[list[EnvTable], Field(min_length=1)]
    agents: Annotated[list[AgentTable], Field(min_length=1)]
    quick: QuickTable = QuickTable()


def _place(location: tuple) -> str:
    """``("agents", 2, "kwargs")`` as ``agents[2].kwargs``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the study"


def _table_at(location: tuple) -> type[BaseModel] | None:
    """The schema table at ``location`` of the file (``None`` past the tables)."""
    table: Any = StudyFile
    for part in location:
        if isinstance(part, int):
            continue
        field = table.model_fields.get(part) or next(
            (f for f in table.model_fields.values() if f.alias == part), None
        )
        table = field and _model_in(field.annotation)
        if table is None:
            return None
    return table


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The first table class inside an annotation such as ``list[EnvTable] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, get_args(annotation))), None)


def _message(item: dict[str, Any]) -> str:
    location = tuple(item["loc"])
    if item["type"] == "extra_forbidden":
        table = _table_at(location[:-1])
        valid = sorted(f.alias or name for name, f in table.model_fields.items()) if table else []
        return f"{_place(location[:-1])}: unknown key(s) [{location[-1]!r}]; valid keys: {valid}"
    if item["type"] == "missing":
        return f"{_place(location[:-1])}: missing key(s) [{location[-1]!r}]"
    return f"{_place(location)}: {item['msg']} (got {item['input']!r})"


def problems(error: ValidationError) -> list[str]:
    """One line per problem: where, what is wrong, what was found (or what is valid)."""
    return [_message(item) for item in error.errors()]


def parse_study_file(raw: Any) -> StudyFile:
    """The validated tables of a parsed study file; :class:`StudyError` lists every problem."""
    try:
        return StudyFile.model_validate(raw)
    except ValidationError as error:
        raise StudyError(listing("the study file", problems(error))) from None


def listing(what: str, lines: list[str]) -> str:
    """``what has N problem(s):`` and one ``- line`` per problem."""
    return f"{what} has {len(lines)} problem(s):\n" + "\n".join(f"- {line}" for line in lines)
