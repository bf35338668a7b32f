"""Planning one settlement batch: pure, sequential, deterministic.

Given the events of a batch (in delivery order) and the slice of ledger state they touch,
decide for each event: fenced (older epoch), duplicate (same id, same content), poison
(same id with different content, or a movement that would take an account below zero),
parked (an order it needs has not been accepted yet: the two topics are not ordered with
each other), or applied. Applying an OrderAccepted wakes the events parked on it.

The plan stops at the first poison event: everything before it is applied, nothing after
it (the consumer pauses that partition and re-reads the rest later).
"""

from dataclasses import dataclass, field

from exchange_ledger.domain.accounts import AccountKey, may_go_negative
from exchange_ledger.domain.inbound import EventKind, Inbound
from exchange_ledger.domain.rejection import Refusal, Rejection
from exchange_ledger.domain.sequence import Gap, SymbolState, observe_seq_in_place

RefKey = tuple[str, str]  # (event kind, trade id or order id)

# Plain module values: enum attribute access is a descriptor call, and these are read
# several times per event on the settlement hot path. EventKind is a StrEnum, so a member
# is equal (and hashes equal) to its value: (EventKind.TRADE, id) == ("trade", id).
_NOOP, _ACCEPT = EventKind.NOOP, EventKind.ACCEPT


def ref_key(event: Inbound) -> RefKey | None:
    kind = event.kind
    return None if kind == _NOOP else (kind, event.ref)


@dataclass
class LedgerView:
    """The state a batch reads, loaded (and locked) by the store before planning."""

    seen_events: dict[str, bytes] = field(default_factory=dict)
    seen_refs: dict[RefKey, bytes] = field(default_factory=dict)
    accepted: set[str] = field(default_factory=set)
    balances: dict[AccountKey, int] = field(default_factory=dict)
    symbols: dict[str, SymbolState] = field(default_factory=dict)
    gaps: dict[str, list[Gap]] = field(default_factory=dict)
    parked: list[Inbound] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Poison:
    index: int
    event: Inbound | None
    rejection: Rejection


@dataclass
class BatchPlan:
    applied: list[Inbound] = field(default_factory=list)
    processed: dict[str, tuple[Inbound, str]] = field(default_factory=dict)
    parked_new: list[Inbound] = field(default_factory=list)
    parked_done: list[str] = field(default_factory=list)
    stuck: list[tuple[Inbound, Rejection]] = field(default_factory=list)
    deltas: dict[AccountKey, int] = field(default_factory=dict)
    symbols: dict[str, SymbolState] = field(default_factory=dict)
    gaps: dict[str, list[Gap]] = field(default_factory=dict)
    poison: Poison | None = None
    consumed: int = 0
    fenced: int = 0
    duplicates: int = 0


class _Planner:
    def __init__(self, view: LedgerView) -> None:
        self.view = view
        self.plan = BatchPlan()

    def run(self, events: list[Inbound | Rejection]) -> BatchPlan:
        for index, event in enumerate(events):
            if isinstance(event, Rejection):
                self.plan.poison = Poison(index, None, event)
                break
            refusal = self._one(event)
            if refusal is not None:
                self.plan.poison = Poison(index, event, refusal)
                break
            self.plan.consumed = index + 1
        return self.plan

    def _one(self, event: Inbound) -> Rejection | None:
        view, plan = self.view, self.plan
        state = view.symbols.get(event.symbol)
        if state is not None and event.epoch < state.epoch:
            plan.fenced += 1
            return None
        seen = view.seen_events.get(event.event_id)
        if seen is not None:
            if seen != event.content_hash:
                return _conflict("event", event.event_id)
            plan.duplicates += 1
            return None
        key = ref_key(event)
        if key is not None and key in view.seen_refs:
            if view.seen_refs[key] != event.content_hash:
                return _conflict(key[0], key[1])
            self._record(event, "duplicate")
            plan.duplicates += 1
            return None
        if not view.accepted.issuperset(event.requires):
            self._record(event, "parked")
            plan.parked_new.append(event)
            view.seen_refs[key] = event.content_hash  # type: ignore[index]  # NOOP never parks
            return None
        refusal = self._apply(event)
        if refusal is None:
            self._record(event, "noop" if event.kind == _NOOP else "applied")
            self._wake(event)
        return refusal

    def _record(self, event: Inbound, outcome: str) -> None:
        view, plan = self.view, self.plan
        view.seen_events[event.event_id] = event.content_hash
        plan.processed[event.event_id] = (event, outcome)
        symbol, old = event.symbol, view.symbols.get(event.symbol)
        gaps = view.gaps.get(symbol)
        if old is not None and event.seq <= old.last_seq and event.epoch <= old.epoch and (
                not gaps):
            return  # the common case: nothing new about this symbol's sequence
        if gaps is None:
            gaps = []
        last, changed = observe_seq_in_place(None if old is None else old.last_seq, gaps,
                                             event.seq)
        epoch = event.epoch if old is None else max(old.epoch, event.epoch)
        if old is None or (epoch, last) != (old.epoch, old.last_seq):
            view.symbols[symbol] = plan.symbols[symbol] = SymbolState(epoch, last)
        if changed:
            view.gaps[symbol] = plan.gaps[symbol] = gaps

    def _apply(self, event: Inbound) -> Rejection | None:
        view, plan = self.view, self.plan
        entry = event.entry
        if entry is not None:
            # Move the balances in place, check every account the entry touched, undo on a
            # refusal (in reverse, so an account posted twice comes back exactly).
            # An account's final value is one of its running values: when none dipped
            # below zero (the usual case) no final value can be, and the check is skipped.
            balances, postings = view.balances, entry.postings
            dipped = False
            for account, units, _ in postings:
                value = balances[account] = balances.get(account, 0) + units
                if value < 0:
                    dipped = True
            for account, _, _ in postings if dipped else ():
                value = balances[account]
                if value < 0 and not may_go_negative(account):
                    for undo, units, _ in reversed(postings):
                        balances[undo] -= units
                    return Rejection(
                        Refusal.INSUFFICIENT_FUNDS,
                        f"{event.kind.value} {event.ref} ({event.event_id}) would take "
                        f"{account.owner}/{account.asset}/{account.kind} to {value}",
                    )
            deltas = plan.deltas
            for account, units, _ in postings:
                deltas[account] = deltas.get(account, 0) + units
        kind = event.kind
        if kind != _NOOP:
            view.seen_refs[(kind, event.ref)] = event.content_hash
            if kind == _ACCEPT:
                view.accepted.add(event.ref)
        plan.applied.append(event)
        return None

    def _wake(self, event: Inbound) -> None:
        """Apply the parked events that were waiting for the order just accepted."""
        if event.kind != _ACCEPT:
            return
        view, plan = self.view, self.plan
        waiting = [p for p in (*view.parked, *plan.parked_new) if event.ref in p.requires]
        for parked in waiting:
            if not view.accepted.issuperset(parked.requires):
                continue
            refusal = self._apply(parked)
            if refusal is not None:  # stays parked, raised as an alert, never dropped
                plan.stuck.append((parked, refusal))
                continue
            if parked in plan.parked_new:
                plan.parked_new.remove(parked)
                plan.processed[parked.event_id] = (parked, "applied")
            else:
                view.parked.remove(parked)
                plan.parked_done.append(parked.event_id)


def _conflict(what: str, ident: str) -> Rejection:
    return Rejection(Refusal.EXISTS_WITH_DIFFERENT_CONTENT,
                     f"{what} {ident} already recorded with different content")


def plan_batch(view: LedgerView, events: list[Inbound | Rejection]) -> BatchPlan:
    """Plan ``events`` against ``view`` (which the planner updates as it goes)."""
    return _Planner(view).run(events)
