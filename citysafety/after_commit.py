"""Work done once per transaction, after it commits, for all it gathered.

A chunk of evaluation opens and routes many warnings in one transaction.
Pushing each warning, or enqueueing each announcement, from a callback of
its own costs a query or a round trip per warning; ``collect`` gathers the
ids under a name and hands them to one callback, registered with
``transaction.on_commit`` when the first id arrives. Callbacks run in the
order they were registered, so what is collected first is sent first.

A transaction (or savepoint) that rolls back drops the callback with it;
the next ``collect`` notices that its gathering is no longer waiting for a
commit and starts a new one, so nothing is appended to a callback that will
never run.
"""

from collections.abc import Callable, Iterable

from asgiref.local import Local
from django.db import DEFAULT_DB_ALIAS, connections, transaction

# Per thread (and per async context), as Django keeps its connections.
_gathering = Local()


class _Gathered:
    def __init__(self, send: Callable[[list], None]) -> None:
        self.send = send
        self.items: dict = {}  # ordered, without repeats
        self.done = False

    def __call__(self) -> None:
        self.done = True
        if self.items:
            self.send(list(self.items))


def collect(name: str, items: Iterable, send: Callable[[list], None], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Have ``send`` called once after the current transaction commits, with every item collected under ``name``.

    Outside a transaction ``send`` is called at once, as ``on_commit`` does.
    """
    items = list(items)
    if not items:
        return
    batches = getattr(_gathering, "batches", None)
    if batches is None:
        batches = _gathering.batches = {}
    key = (using, name)
    batch = batches.get(key)
    if batch is None or batch.done or not _waiting(batch, using):
        batch = batches[key] = _Gathered(send)
        batch.items.update(dict.fromkeys(items))
        transaction.on_commit(batch, using=using)
    else:
        batch.items.update(dict.fromkeys(items))


def _waiting(batch: _Gathered, using: str) -> bool:
    # Django keeps (savepoint ids, callback, robust) per callback; a rollback
    # removes the callbacks it undoes.
    return any(entry[1] is batch for entry in connections[using].run_on_commit)
