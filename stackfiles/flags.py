"""Yes/no words in settings files and environment variables, read one way everywhere."""

from __future__ import annotations

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "none", ""})  # "None": an absent query value


def parse_flag(value: object, *, name: str = "value") -> bool:
    """``value`` as a boolean; ValueError naming ``name`` for a word that is neither yes nor no.

    Booleans pass through; ``None`` and the empty string are false (an unset variable).
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(
        f"{name} must be one of {', '.join(sorted(TRUE_WORDS))} or {', '.join(sorted(FALSE_WORDS - {''}))}, "
        f"not {value!r}"
    )
