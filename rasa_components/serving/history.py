"""A long conversation costs no more per message than a short one (issue 14, the hot path).

Why: four things in Rasa 3.6 went over the whole conversation at every message, so the
100th message of a conversation cost half as much again as the 10th (``make load``'s
long-conversation figure; a profile of a 200-message conversation put 34 % of the Rasa
process in the rule policy's states and 12 % in the action server's request):

1. **Applied events.** ``DialogueStateTracker.applied_events`` replays every event to drop
   the reverted ones, several times per message. A tracker now keeps its last answer and,
   when only plain events were appended since (no restart, session start, revert, or
   event of a form), extends it instead of replaying. Anything else: Rasa's own replay.
2. **The rule policy's states.** ``RulePolicy`` turned the whole conversation into states
   (a replay plus one state per action) to match rules against its *last* states only: a
   rule of k states is checked against the last k states, and every rule is applicable
   further back (``RulePolicy._is_rule_applicable``). It now gets the last states only,
   as many as its longest rule, computed incrementally per conversation (the replay goes
   on from where the previous message left it, checked event by event against the applied
   events). The states are the ones Rasa computes: the replay is Rasa's own
   ``tracker.update`` and ``domain.get_active_state``; only the older states, which no
   rule can reach, are left out.
3. **The action server's request.** Rasa sent every event of the conversation with each
   custom action call. It now sends the events from the tenth-last user message on,
   preceded by the last value each slot was set to before them; the slots themselves are
   sent in full as before. Our actions read the latest messages, the previous one, the
   slot values before the latest message (``actions.texts``) and, for forms, the events
   since the last message: all inside that window.
4. **A copy of the tracker.** Rasa copies the tracker before each action by replaying every
   event into a new one; the state is now copied instead (see :func:`_install_tracker_copy`).

Each part is checked against Rasa's own computation in ``tests/e2e/test_long_conversation_history.py``
(same predictions, same states, same applied events, same copies over conversations with
forms, reverts and restarts). ``HOT_PATH_OFF=history`` leaves all four out.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: user messages whose events the action server receives (part 3)
ACTION_USER_TURNS = 10
#: conversations whose rule states are kept (part 2), the least recently used dropped first
_MAX_CONVERSATIONS = 1_000

#: Rasa's own functions, replaced here, kept for the equivalence tests
RASA: dict[str, Any] = {}
#: rule-state replays carried on from the previous call / started again (the tests read them)
REPLAYS = {"carried": 0, "started": 0}


# -- 1. applied events, extended rather than replayed --------------------------------------------------------------


def _install_applied_events(module: ModuleType) -> None:
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        ActiveLoop,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )

    tracker_class = module.DialogueStateTracker
    rasa_applied_events = RASA["applied_events"] = tracker_class.applied_events
    rewrites = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)

    def plain(event: Any, loop_names: set[str]) -> bool:
        """True if Rasa's ``applied_events`` would just append ``event`` (its last branch)."""
        if isinstance(event, rewrites):
            return False
        if isinstance(event, ActiveLoop):
            return not event.name or event.name in loop_names  # a new form name changes earlier events
        return not (isinstance(event, ActionExecuted) and event.action_name in loop_names)

    def applied_events(self: Any) -> list[Any]:
        events = self.events
        count = len(events)
        kept = self.__dict__.get("_applied_kept")
        if kept is not None:
            kept_events, kept_count, kept_last, applied, loop_names = kept
            if kept_events is events and kept_count <= count and (kept_count == 0 or events[kept_count - 1]
                                                                   is kept_last):
                new = list(itertools.islice(events, kept_count, count))
                if all(plain(event, loop_names) for event in new):
                    applied = applied + new
                    self._applied_kept = (events, count, events[-1] if count else None, applied, loop_names)
                    return list(applied)  # callers may change their list; ours stays as it is
        applied = rasa_applied_events(self)
        loop_names = {event.name for event in events if isinstance(event, ActiveLoop) and event.name}
        self._applied_kept = (events, count, events[-1] if count else None, applied, loop_names)
        return list(applied)

    tracker_class.applied_events = applied_events


# -- 2. the rule policy's last states, computed incrementally --------------------------------------------------------


class _Replay:
    """One conversation's replay: the applied events replayed so far and the states before its last actions."""

    __slots__ = ("domain", "tracker", "applied", "states")

    def __init__(self, domain: Any, tracker: Any, window: int) -> None:
        self.domain = domain
        self.tracker = tracker  # Rasa's replay tracker (generate_all_prior_trackers), carried on
        self.applied: list[Any] = []
        self.states: deque[dict[str, Any]] = deque(maxlen=window)


def _copied(state: dict[str, Any]) -> dict[str, Any]:
    """A state the caller may change: Rasa's featurizer deletes keys of the sub-states."""
    return {kind: dict(sub_state) for kind, sub_state in state.items()}


_NO_RULES: dict[str, str] = {}


def _longest_rule(policy: Any, lookup: dict[str, str]) -> int:
    """The number of states of the longest rule in ``lookup`` (one of the policy's rule tables),
    kept per table and computed again if the table changed."""
    lengths = policy.__dict__.get("_lookup_lengths")
    if lengths is None:
        lengths = policy._lookup_lengths = {}
    known = lengths.get(id(lookup))
    if known is None or known[0] is not lookup or known[1] != len(lookup):
        longest = max((len(policy._rule_key_to_state(key)) for key in lookup), default=0)
        known = lengths[id(lookup)] = (lookup, len(lookup), longest)
    return int(known[2])


def _rule_window(policy: Any) -> int:
    """The number of states the longest rule (or loop unhappy-path rule) looks at, plus the current one."""
    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH

    return max(_longest_rule(policy, policy.lookup.get(table, _NO_RULES))
               for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH)) + 1


def _install_rule_states(module: ModuleType) -> None:
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.core.policies.policy import SupportedData
    from rasa.shared.core.constants import PREVIOUS_ACTION
    from rasa.shared.core.events import ActionExecuted

    policy_class = module.RulePolicy
    rasa_prediction_states = RASA["rule_states"] = policy_class._prediction_states
    replays: OrderedDict[str, _Replay] = OrderedDict()

    def recent_states(tracker: Any, domain: Any, window: int) -> list[dict[str, Any]]:
        """``tracker.past_states(domain)[-window:]`` (at least), carried on from the previous call."""
        applied = tracker.applied_events()
        replay = replays.pop(tracker.sender_id, None)
        if (replay is None or replay.domain is not domain or replay.states.maxlen != window
                or len(replay.applied) > len(applied)
                or not all(a is b for a, b in zip(replay.applied, applied))):
            replay = _Replay(domain, tracker.init_copy(), window)
            REPLAYS["started"] += 1
        else:
            REPLAYS["carried"] += 1
        for event in applied[len(replay.applied):]:
            if isinstance(event, ActionExecuted):
                replay.states.append(domain.get_active_state(replay.tracker))
            replay.tracker.update(event)
        replay.applied = applied
        replays[tracker.sender_id] = replay
        while len(replays) > _MAX_CONVERSATIONS:
            replays.popitem(last=False)
        return [*(_copied(state) for state in replay.states), domain.get_active_state(replay.tracker)]

    def _prediction_states(self: Any, tracker: Any, domain: Any, use_text_for_last_user_input: bool = False,
                           rule_only_data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        featurizer = self.featurizer
        if (self.supported_data() == SupportedData.ML_DATA or type(featurizer) is not MaxHistoryTrackerFeaturizer
                or featurizer.max_history is not None):
            return rasa_prediction_states(self, tracker, domain, use_text_for_last_user_input, rule_only_data)
        states = recent_states(tracker, domain, _rule_window(self))
        # what MaxHistoryTrackerFeaturizer.prediction_states does after past_states for this policy
        # (no rule-only turns ignored, no action_unlikely_intent removed, no max_history)
        featurizer._choose_last_user_input([states], use_text_for_last_user_input)
        return states

    def _is_rule_applicable(self: Any, rule_key: str, turn_index: int, conversation_state: dict[str, Any]) -> bool:
        """Rasa's ``RulePolicy._is_rule_applicable``, the rule's states reversed once (not at each call)."""
        reversed_rules = self.__dict__.get("_reversed_rules")
        if reversed_rules is None:
            reversed_rules = self._reversed_rules = {}
        reversed_rule_states = reversed_rules.get(rule_key)
        if reversed_rule_states is None:
            reversed_rule_states = reversed_rules[rule_key] = list(reversed(self._rule_key_to_state(rule_key)))
        if turn_index >= len(reversed_rule_states):
            return True
        current_previous_action = conversation_state.get(PREVIOUS_ACTION)
        rule_previous_action = reversed_rule_states[turn_index].get(PREVIOUS_ACTION)
        if not rule_previous_action and not current_previous_action:
            return True
        if not rule_previous_action or not current_previous_action:
            return False
        return bool(self._does_rule_match_state(reversed_rule_states[turn_index], conversation_state))

    def _get_possible_keys(self: Any, lookup: dict[str, str], states: list[dict[str, Any]]) -> set[str]:
        """Rasa's ``RulePolicy._get_possible_keys``, stopping once every rule left is shorter than the turns
        looked at (Rasa goes on over the whole conversation, keeping them all)."""
        longest = _longest_rule(self, lookup)
        possible_keys = set(lookup.keys())
        for index, state in enumerate(reversed(states)):
            if not possible_keys or index >= longest:  # every rule left is applicable from here on
                break
            possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, index, state)}
        return possible_keys

    RASA["is_rule_applicable"] = policy_class._is_rule_applicable
    RASA["get_possible_keys"] = policy_class._get_possible_keys
    policy_class._prediction_states = _prediction_states
    policy_class._is_rule_applicable = _is_rule_applicable
    policy_class._get_possible_keys = _get_possible_keys


# -- 3. the action server gets the recent events ----------------------------------------------------------------------


def action_events(events: list[Any]) -> list[dict[str, Any]]:
    """The events sent to the action server: from the ``ACTION_USER_TURNS``-th last user
    message on, after the last event that set each slot before it (in their order)."""
    from rasa.shared.core.events import SlotSet, UserUttered

    users = [index for index, event in enumerate(events) if isinstance(event, UserUttered)]
    if len(users) <= ACTION_USER_TURNS:
        return [event.as_dict() for event in events]
    cut = users[-ACTION_USER_TURNS]
    last_set: dict[str, int] = {}
    for index in range(cut):
        if isinstance(events[index], SlotSet):
            last_set[events[index].key] = index
    return [events[index].as_dict() for index in sorted(last_set.values())] + \
        [event.as_dict() for event in events[cut:]]


def _install_action_window(module: ModuleType) -> None:
    import rasa
    from rasa.shared.core.trackers import EventVerbosity

    RASA["action_call_format"] = module.RemoteAction._action_call_format

    def _action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        """Rasa's ``RemoteAction._action_call_format`` with the recent events only."""
        tracker_state = tracker.current_state(EventVerbosity.NONE)
        tracker_state["events"] = action_events(list(tracker.events))
        result = {
            "next_action": self._name,
            "sender_id": tracker.sender_id,
            "tracker": tracker_state,
            "version": rasa.__version__,
        }
        if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
            result["domain"] = domain.as_dict()
        return result

    module.RemoteAction._action_call_format = _action_call_format


# -- 4. a copy of the tracker without replaying the conversation -----------------------------------------------------


def _install_tracker_copy(module: ModuleType) -> None:
    import copy
    import dataclasses

    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        FollowupAction,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    tracker_class = module.DialogueStateTracker
    rasa_copy = RASA["copy"] = tracker_class.copy
    unknown = object()

    def replayed_followup(events: Any) -> Any:
        """The follow-up action a replay of ``events`` ends with (Rasa's ``apply_to`` of each
        event), or ``unknown`` when a revert would replay again."""
        for event in reversed(events):
            if isinstance(event, (UserUttered, ActionExecuted)):
                return None  # both clear it
            if isinstance(event, FollowupAction):
                return event.action_name
            if isinstance(event, Restarted):
                return ACTION_SESSION_START_NAME
            if isinstance(event, SessionStarted):
                return ACTION_LISTEN_NAME  # its reset
            if isinstance(event, (UserUtteranceReverted, ActionReverted)):
                return unknown  # they replay the applied events again
        return ACTION_LISTEN_NAME  # a new tracker's

    def copy_tracker(self: Any) -> Any:
        """Rasa's ``copy`` replays every event into a new tracker (``travel_back_in_time``), at
        each action run (``MessageProcessor._run_action``). The replayed state is the state
        this tracker holds, so it is copied instead: the same events, slot copies, the last
        message and action, the form. The follow-up action is the one a replay ends with (the
        processor clears it on the tracker itself, without an event); after a revert, Rasa's copy."""
        followup = replayed_followup(self.events)
        if followup is unknown or type(self) is not tracker_class or type(self.slots) is not dict:
            return rasa_copy(self)
        new = self.init_copy()  # what Rasa's copy starts from: no model id, no sender source
        new.events = new._create_events(list(self.events))
        new.slots = {name: copy.copy(slot) for name, slot in self.slots.items()}
        new._paused = self._paused
        new.followup_action = followup
        new.latest_action = dict(self.latest_action) if self.latest_action is not None else None
        new.latest_message = self.latest_message
        new.latest_bot_utterance = self.latest_bot_utterance
        new.active_loop = dataclasses.replace(self.active_loop) if self.active_loop is not None else None
        return new

    tracker_class.copy = copy_tracker


def patches() -> list[tuple[str, Callable[[ModuleType], None]]]:
    """(module, patch) pairs, for :func:`rasa_components.serving.hot_path.install`."""
    return [
        ("rasa.shared.core.trackers", _install_applied_events),
        ("rasa.shared.core.trackers", _install_tracker_copy),
        ("rasa.core.policies.rule_policy", _install_rule_states),
        ("rasa.core.actions.action", _install_action_window),
    ]
