"""A worker's per-trial reads and writes of Optuna's tables, in SQLAlchemy Core.

Optuna's ``RDBStorage`` does each of them through the ORM: a session, the trial loaded as an ORM
instance to check it is still running, then the write, flushed and committed. A trial makes about
a dozen such calls (three parameters, an intermediate value per epoch, attrs, the result), and at
32 workers on one machine that Python work, not the database, is what trials wait for. Here each
call is one transaction of two or three plain statements with the same checks, the same errors
(``KeyError`` for an unknown trial, ``UpdateFinishedTrialError`` for a finished one, ``ValueError``
for an incompatible distribution) and the same rows. ``tests/storage_tests/test_trial_rows.py`` runs
every call both ways against one database and compares what was stored.

``CoreTrialRows`` is the base of the storage every command opens (``ResilientRDBStorage`` in
``sweeper.storage.resilient``, which adds the retries and the budget); the Optuna tables and
session it uses come from ``sweeper.storage.optuna_private``. Only PostgreSQL and SQLite are
covered (their upserts); other databases use Optuna's own methods.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import optuna
import sqlalchemy
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite
from optuna import distributions
from optuna.trial import FrozenTrial, TrialState

from sweeper.storage import optuna_private
from sweeper.storage.optuna_private import models, scoped_session

# Which child table a row of the one-query trial read comes from.
_PARAM, _VALUE, _USER, _SYSTEM, _STEP = range(5)

_TRIALS = models.TrialModel.__table__
_PARAMS = models.TrialParamModel.__table__
_VALUES = models.TrialValueModel.__table__
_USER_ATTRS = models.TrialUserAttributeModel.__table__
_SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
_STEPS = models.TrialIntermediateValueModel.__table__


class CoreTrialRows(optuna.storages.RDBStorage):
    """The trial reads and writes of ``RDBStorage`` that every trial makes, in Core."""

    # -- reads -------------------------------------------------------------------------------
    def _get_trials(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        """Optuna's read of a study's trials (the one behind its trial cache), with the same
        filters. Every worker makes this call once per trial, and it carries every running trial
        of the study."""
        included = {i for i in included_trial_ids if i <= trial_id_greater_than}
        of_study = [_TRIALS.c.study_id == study_id]
        if states is not None:
            of_study.append(_TRIALS.c.state.in_(list(states)))  # type: ignore[arg-type]
        where = list(of_study)
        if included and trial_id_greater_than > -1:
            where.append(sqlalchemy.or_(_TRIALS.c.trial_id.in_(included), _TRIALS.c.trial_id > trial_id_greater_than))
        elif trial_id_greater_than > -1:
            where.append(_TRIALS.c.trial_id > trial_id_greater_than)
        # The rows are read in the transaction and turned into trials after it: a starting
        # worker's first read of a 10,000-trial study is 450,000 rows, and building them held
        # the transaction (a pooler's server connection) open for seconds.
        with scoped_session(self) as session:
            filtered = False
            try:
                rows = _read_rows(session, where)
            except sqlalchemy.exc.OperationalError:
                if not included:
                    raise
                # As Optuna does: the IN list has more ids than the database takes variables
                # (SQLite: 32,766, and the list is in each of the read's six statements), so read
                # the study's trials without it and keep the wanted ones here.
                session.rollback()
                rows, filtered = _read_rows(session, of_study), True
            if not rows[0]:
                # No trial: the study may not exist (Optuna raises KeyError). Asked only then, it
                # saves a statement in every read that finds trials (a worker's, twice a trial).
                models.StudyModel.find_or_raise_by_id(study_id, session)
        trials = _build_trials(*rows)
        if filtered:
            return [t for t in trials
                    if optuna_private.trial_id(t) in included or optuna_private.trial_id(t) > trial_id_greater_than]
        return trials

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with scoped_session(self) as session:
            rows = _read_rows(session, [_TRIALS.c.trial_id == trial_id])
        found = _build_trials(*rows)
        if not found:
            raise KeyError(models.NOT_FOUND_MSG)
        return found[0]

    # -- writes ------------------------------------------------------------------------------
    @property
    def _core_writes(self) -> bool:
        return self.engine.name in ("postgresql", "sqlite")

    @contextmanager
    def _running(self, trial_id: int, *, for_update: bool = False) -> Iterator[Any]:
        """A transaction (its connection) on a trial that must not be finished yet."""
        with self.engine.begin() as conn:
            query = sqlalchemy.select(_TRIALS.c.state).where(_TRIALS.c.trial_id == trial_id)
            state = conn.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
            if state is None:
                raise KeyError(models.NOT_FOUND_MSG)
            self.check_trial_is_updatable(trial_id, state)
            yield conn

    def _upsert_running(self, trial_id: int, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
        """``_upsert`` of a trial that must not be finished yet, checked in the same statement
        (``INSERT ... SELECT ... WHERE EXISTS``): one round trip where a read of the state and
        the write took two. Only when nothing was written is the state read, to raise Optuna's
        error (``KeyError``, ``UpdateFinishedTrialError``)."""
        updatable = sqlalchemy.exists().where(
            _TRIALS.c.trial_id == trial_id, _TRIALS.c.state.in_([TrialState.RUNNING, TrialState.WAITING]))
        columns = list(rows[0])
        source = sqlalchemy.union_all(*(
            sqlalchemy.select(*(sqlalchemy.literal(row[c], table.c[c].type).label(c) for c in columns)).where(updatable)
            for row in rows)) if len(rows) > 1 else sqlalchemy.select(
            *(sqlalchemy.literal(rows[0][c], table.c[c].type).label(c) for c in columns)).where(updatable)
        insert = self._dialect().insert(table).from_select(columns, source)
        updated = {c: insert.excluded[c] for c in columns if c not in keys}
        with self.engine.begin() as conn:
            written = conn.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=updated)).rowcount
            if written:
                return
            state = conn.execute(sqlalchemy.select(_TRIALS.c.state).where(_TRIALS.c.trial_id == trial_id)).scalar()
        if state is None:
            raise KeyError(models.NOT_FOUND_MSG)
        self.check_trial_is_updatable(trial_id, state)
        raise RuntimeError(f"trial {trial_id} is {state.name} and yet nothing was written")  # not reached

    def _dialect(self) -> Any:
        return sqlalchemy.dialects.postgresql if self.engine.name == "postgresql" else sqlalchemy.dialects.sqlite

    def _upsert(self, conn: Any, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
        insert = self._dialect().insert(table).values(rows)
        updated = {c: insert.excluded[c] for c in rows[0] if c not in keys}
        conn.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=updated))

    # Parameters set inside ``params_in_one_transaction``: trial id -> [(name, value, distribution,
    # previous distribution)], written when it ends.
    _param_buffer: dict[int, list[tuple[str, float, Any, Any]]] | None = None

    @contextmanager
    def params_in_one_transaction(self, trial_id: int) -> Iterator[None]:
        """The parameters a trial sets inside (a sampler's suggestions) are written together when
        the block ends: one transaction where each took its own. Optuna's ``Trial`` keeps what it
        suggested in its own copy of the trial, so nothing reads them back before then."""
        if not self._core_writes or self._param_buffer is not None:
            yield
            return
        self._param_buffer = {trial_id: []}
        try:
            yield
            params = self._param_buffer[trial_id]
        finally:
            self._param_buffer = None
        if params:
            self._set_trial_params(trial_id, params)

    def _set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: distributions.BaseDistribution,
        previous_distribution: distributions.BaseDistribution | None,
    ) -> None:
        if not self._core_writes:
            return super()._set_trial_param(trial_id, param_name, param_value_internal, distribution, previous_distribution)
        if self._param_buffer is not None and trial_id in self._param_buffer:
            self._param_buffer[trial_id].append((param_name, param_value_internal, distribution, previous_distribution))
            return
        self._set_trial_params(trial_id, [(param_name, param_value_internal, distribution, previous_distribution)])

    def _set_trial_params(self, trial_id: int, params: list[tuple[str, float, Any, Any]]) -> None:
        """Write parameters of a running trial in one transaction: the trial's state, the study's
        distributions of those not checked yet (one read), the rows (one insert)."""
        params = list({name: (name, *rest) for name, *rest in reversed(params)}.values())[::-1]  # first wins
        with self._running(trial_id) as conn:  # a finished trial is refused first, as Optuna does
            for _, _, distribution, previous in params:
                if previous is not None:
                    distributions.check_distribution_compatibility(previous, distribution)
            unchecked = [name for name, _, _, previous in params if previous is None]
            if unchecked:
                # Optuna's trial cache passes the study's distribution once it has seen one.
                study_id = sqlalchemy.select(_TRIALS.c.study_id).where(_TRIALS.c.trial_id == trial_id).scalar_subquery()
                known = dict(conn.execute(
                    sqlalchemy.select(_PARAMS.c.param_name, sqlalchemy.func.min(_PARAMS.c.distribution_json))
                    .join(_TRIALS, _TRIALS.c.trial_id == _PARAMS.c.trial_id)
                    .where(_TRIALS.c.study_id == study_id, _PARAMS.c.param_name.in_(unchecked))
                    .group_by(_PARAMS.c.param_name)
                ).all())
                for name, _, distribution, previous in params:
                    if previous is None and name in known:
                        distributions.check_distribution_compatibility(
                            distributions.json_to_distribution(known[name]), distribution)
            # A parameter set twice keeps its first value, as Optuna's ignored integrity error does.
            conn.execute(self._dialect().insert(_PARAMS).values([
                {"trial_id": trial_id, "param_name": name, "param_value": value,
                 "distribution_json": distributions.distribution_to_json(distribution)}
                for name, value, distribution, _ in params
            ]).on_conflict_do_nothing(index_elements=["trial_id", "param_name"]))

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        if not self._core_writes:
            return super().set_trial_intermediate_value(trial_id, step, intermediate_value)
        stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(intermediate_value)
        self._upsert_running(trial_id, _STEPS, [{"trial_id": trial_id, "step": step, "intermediate_value": stored,
                                                 "intermediate_value_type": kind}], ("trial_id", "step"))

    def set_trial_user_attrs(self, trial_id: int, attrs: dict[str, Any]) -> None:
        """Several user attrs in one transaction (a trial stores about ten at its end)."""
        if not self._core_writes or not attrs:
            for key, value in attrs.items():
                super().set_trial_user_attr(trial_id, key, value)
            return
        self._upsert_running(trial_id, _USER_ATTRS, [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
                                                     for k, v in attrs.items()], ("trial_id", "key"))

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.set_trial_user_attrs(trial_id, {key: value})

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        if not self._core_writes:
            return super().set_trial_system_attr(trial_id, key, value)
        self._upsert_running(trial_id, _SYSTEM_ATTRS, [{"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}],
                             ("trial_id", "key"))

    def _finish(self, trial_id: int, state: TrialState, values: Sequence[float] | None) -> bool:
        """``set_trial_state_values`` to a finished state (Optuna's tell), row locked as Optuna
        locks it, so a worker reaping the trial as stale cannot finish it at the same time."""
        if not self._core_writes:
            return super().set_trial_state_values(trial_id, state, values)
        try:
            with self.engine.begin() as conn:
                # The state change first, only from a running trial: it locks the row, and
                # saves reading the state before it (which it reads only when nothing changed).
                changed = conn.execute(
                    _TRIALS.update()
                    .where(_TRIALS.c.trial_id == trial_id, _TRIALS.c.state.in_([TrialState.RUNNING, TrialState.WAITING]))
                    .values(state=state, datetime_complete=datetime.now())).rowcount
                if not changed:
                    current = conn.execute(sqlalchemy.select(_TRIALS.c.state).where(_TRIALS.c.trial_id == trial_id)).scalar()
                    if current is None:
                        raise KeyError(models.NOT_FOUND_MSG)
                    self.check_trial_is_updatable(trial_id, current)
                if values is not None:
                    rows = []
                    for objective, v in enumerate(values):
                        stored, kind = models.TrialValueModel.value_to_stored_repr(v)
                        rows.append({"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind})
                    if rows:
                        self._upsert(conn, _VALUES, rows, ("trial_id", "objective"))
        except sqlalchemy.exc.IntegrityError:
            return False
        return True


def _read_rows(session: Any, where: list[Any]) -> tuple[list[Any], list[Any]]:
    """The rows of the trials matching ``where``: two queries, no ORM instances; the trials'
    own rows and their child tables' (``_build_trials`` turns them into trials)."""
    chosen = sqlalchemy.select(_TRIALS.c.trial_id).where(*where)
    heads = session.execute(
        sqlalchemy.select(
            _TRIALS.c.trial_id, _TRIALS.c.number, _TRIALS.c.state,
            _TRIALS.c.datetime_start, _TRIALS.c.datetime_complete,
        ).where(*where).order_by(_TRIALS.c.trial_id)
    ).all()
    if not heads:
        return [], []

    # The five child tables in one round trip, as rows of one shape: (trial, kind, key, number,
    # text). Statements, not rows, are what a worker's reads cost.
    number_type = _PARAMS.c.param_value.type

    def child(table: Any, kind: int, key: Any, number: Any, text: Any, order: Any) -> Any:
        return sqlalchemy.select(
            table.c.trial_id,
            sqlalchemy.literal(kind, sqlalchemy.Integer).label("kind"),
            sqlalchemy.cast(key, sqlalchemy.String).label("key"),
            sqlalchemy.cast(number if number is not None else sqlalchemy.null(), number_type).label("number"),
            sqlalchemy.cast(text, sqlalchemy.Text).label("text"),
            order.label("ord"),
        ).where(table.c.trial_id.in_(chosen))

    p, v, u, s, i = _PARAMS.c, _VALUES.c, _USER_ATTRS.c, _SYSTEM_ATTRS.c, _STEPS.c
    children = session.execute(
        sqlalchemy.union_all(
            child(_PARAMS, _PARAM, p.param_name, p.param_value, p.distribution_json, p.param_id),
            child(_VALUES, _VALUE, v.objective, v.value, v.value_type, v.trial_value_id),
            child(_USER_ATTRS, _USER, u.key, None, u.value_json, u.trial_user_attribute_id),
            child(_SYSTEM_ATTRS, _SYSTEM, s.key, None, s.value_json, s.trial_system_attribute_id),
            child(_STEPS, _STEP, i.step, i.intermediate_value, i.intermediate_value_type, i.trial_intermediate_value_id),
        ).order_by("kind", "ord")
    ).all()
    return heads, children


def _build_trials(heads: list[Any], children: list[Any]) -> list[FrozenTrial]:
    """The trials of ``_read_rows``'s rows, as Optuna builds them."""
    parts: dict[int, dict[str, Any]] = {
        h.trial_id: {"params": {}, "distributions": {}, "values": {}, "user": {}, "system": {}, "steps": {}}
        for h in heads
    }
    parsed: dict[str, distributions.BaseDistribution] = {}  # one parse per distinct JSON
    value_type = models.TrialValueModel.TrialValueType
    step_type = models.TrialIntermediateValueModel.TrialIntermediateValueType
    for r in children:
        part = parts.get(r.trial_id)
        if part is None:  # a trial created between the two queries: it is read next time
            continue
        if r.kind == _PARAM:
            dist = parsed.get(r.text) or parsed.setdefault(r.text, distributions.json_to_distribution(r.text))
            part["params"][r.key] = dist.to_external_repr(r.number)
            part["distributions"][r.key] = dist
        elif r.kind == _VALUE:
            part["values"][int(r.key)] = models.TrialValueModel.stored_repr_to_value(r.number, value_type[r.text])
        elif r.kind == _USER:
            part["user"][r.key] = json.loads(r.text)
        elif r.kind == _SYSTEM:
            part["system"][r.key] = json.loads(r.text)
        else:
            part["steps"][int(r.key)] = models.TrialIntermediateValueModel.stored_repr_to_intermediate_value(
                r.number, step_type[r.text]
            )
    out = []
    for h in heads:
        part = parts[h.trial_id]
        values = [part["values"][k] for k in sorted(part["values"])] if part["values"] else None
        out.append(FrozenTrial(
            number=h.number, state=h.state, value=None, values=values,
            datetime_start=h.datetime_start, datetime_complete=h.datetime_complete,
            params=part["params"], distributions=part["distributions"], user_attrs=part["user"],
            system_attrs=part["system"], intermediate_values=part["steps"], trial_id=h.trial_id,
        ))
    return out
