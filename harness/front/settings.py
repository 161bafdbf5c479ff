"""A run's settings from what its front end was given: the defaults of the token script,
and the usage error of a window that is not a positive number of seconds."""

from __future__ import annotations

from collections.abc import Callable

from streamcompat.harness.engine.plan import Settings
from streamcompat.harness.front.selection import UsageError
from streamcompat.harness.kernel.tokens import HOLD_WINDOWS, SCRIPTS, THINK_S

#: Each window checked, by its field name; a front end spells it its own way.
WINDOWS = ("hold_window", "head_window", "deadline")


def settings_of(
    *,
    script: str = "default",
    hold_window: float | None = None,
    head_window: float | None = None,
    deadline: float | None = None,
    jobs: int | None = None,
    spelled: Callable[[str], str] = str,
) -> Settings:
    """The settings of a run (None: the default; the hold window's is the script's), or a
    UsageError naming the window, as ``spelled`` spells it, that is not positive."""
    given = Settings()
    chosen = Settings(
        hold_window=HOLD_WINDOWS.get(script, given.hold_window)
        if hold_window is None
        else hold_window,
        head_window=given.head_window if head_window is None else head_window,
        deadline=given.deadline if deadline is None else deadline,
        jobs=given.jobs if jobs is None else jobs,
        tokens=SCRIPTS[script],
        think=THINK_S.get(script, 0.0),
    )
    for name in WINDOWS:
        value = getattr(chosen, name)
        if not value > 0:
            raise UsageError(f"{spelled(name)} must be a positive number of seconds, not {value:g}")
    return chosen
