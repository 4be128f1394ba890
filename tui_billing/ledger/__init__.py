"""The posting kernel: the books' vocabulary and one pure planner per posting kind.

A planner takes plain values and what it needs read from the books (passed in as plain data,
see each ``*Facts`` record) and returns a :class:`~.records.Plan`, the rows to write in order and
the audit event, or raises :class:`~.errors.BillingError`, a refusal a clerk can act on. Nothing
here reads or writes a database or imports Textual: ``store/operations.py`` reads, plans and
writes in one transaction, and the demo's bulk load plans through the same functions.

Modules (imported one by one, so a report that needs only the vocabulary loads only that):

- :mod:`.vocab` methods, sources, void kinds, month bounds, the audit detail format
- :mod:`.errors` :class:`BillingError`
- :mod:`.records` typed rows (one NamedTuple per table), inputs, read state, :class:`Plan`, ids
- :mod:`.checks` field checks shared by the planners
- :mod:`.batches`, :mod:`.charges`, :mod:`.receipts`, :mod:`.distributions`, :mod:`.voids`,
  :mod:`.closes` the planners, one per posting kind (closes and voids keep their checks in
  registries: ``DAY_CLOSE_CHECKS``, ``MONTH_CLOSE_CHECKS``, ``VOID_PLANNERS``)
"""
