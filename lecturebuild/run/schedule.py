"""Which stale section runs next, and where: decisions only; the worker carries them out.

Two rules, both about not doing work twice:

- Order: a section goes before others by the length of the longest chain of work that waits on it
  (its own last run time plus that of the longest chain of sections that go on from it), so the
  longest chain starts first and a quick setup that every section needs is not left for last.
- Waiting: where a section process can be forked (section.py), a section that needs what a pending or
  running section will leave in its process waits for it and then starts from a fork of that
  process, instead of redoing the work in a process of its own. Waiting costs no time: the section
  could not have finished sooner by redoing, from the start, what the other is already doing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable

from lecturebuild.model import Lecture, required


@dataclass(eq=False)
class Item:
    lecture: Lecture
    job: object
    need: tuple[str, ...]  # what must have run in its process before it
    state: tuple[str, ...]  # what its process holds after it: need + (its section,)
    started: bool = False


def items(work: list) -> list[Item]:
    return [Item(lecture, job, need := required(lecture, job.section), need + (job.section,))
            for lecture, job in work]


def by_critical_path(work: list, seconds: Callable[[Lecture, object], float]) -> list:
    """`work` ((lecture, job) pairs) ordered longest chain first; ties keep their order."""
    all_items = items(work)
    lectures: dict[str, list[Item]] = defaultdict(list)
    for item in all_items:
        lectures[item.lecture.name].append(item)
    chain: dict[int, float] = {}
    for item in sorted(all_items, key=lambda i: -len(i.state)):  # those that go on from an item come first
        after = [chain[id(other)] for other in lectures[item.lecture.name]
                 if len(other.need) >= len(item.state) and other.need[:len(item.state)] == item.state]
        chain[id(item)] = seconds(item.lecture, item.job) + max(after, default=0.0)
    order = sorted(range(len(all_items)), key=lambda n: -chain[id(all_items[n])])
    return [work[n] for n in order]


class Plan:
    """The sections of one request not yet finished, and what their processes will hold."""

    def __init__(self, work: list, forks: Callable[[Lecture], bool]):
        self.pending = items(work)
        self.forks = forks  # whether this lecture's processes can be forked (then sections wait, as above)
        self._coming: dict[str, Counter] = defaultdict(Counter)  # lecture -> states of unfinished items
        self._by_lecture: dict[str, list[Item]] = defaultdict(list)
        for item in self.pending:
            self._coming[item.lecture.name][item.state] += 1
            self._by_lecture[item.lecture.name].append(item)

    def next(self, idle: list) -> tuple[Item, object | None] | None:
        """The first pending item that should start now, with the idle process (one with `lecture` and
        `history`) it goes on from, or None for a fresh one; None when every pending item waits."""
        for index, item in enumerate(self.pending):
            best = max((p for p in idle if continues(p, item)), key=lambda p: len(p.history), default=None)
            reach = len(best.history) if best is not None else 0
            if self.forks(item.lecture) and self._producer_coming(item, reach):
                continue
            del self.pending[index]
            item.started = True
            return item, best
        return None

    def finished(self, item: Item) -> None:
        self._coming[item.lecture.name][item.state] -= 1
        self._by_lecture[item.lecture.name].remove(item)

    def wanted(self, process) -> bool:
        """Whether a pending item could go on from this idle process."""
        return any(continues(process, item) for item in self._by_lecture.get(process.lecture, ())
                   if not item.started)

    def _producer_coming(self, item: Item, reach: int) -> bool:
        coming = self._coming[item.lecture.name]
        return any(coming[item.need[:length]] for length in range(len(item.need), reach, -1))


def continues(process, item: Item) -> bool:
    """Whether `item` can go on from what `process` ran."""
    history = process.history
    return (bool(history) and process.lecture == item.lecture.name and len(history) <= len(item.need)
            and item.need[:len(history)] == history)
