"""One actionable line out of a failed step's output.

Build backends and pip print pages (tracebacks, compiler noise, help text); the user needs the
line that says what is wrong, e.g. ``Error: pg_config executable not found.`` in psycopg2's
output. The last line that looks like an error wins; wrappers that only say *that* something
failed (pip's "subprocess-exited-with-error", "Traceback ...") are skipped.
"""

from __future__ import annotations

import re

MAX_REASON = 300
# "error: x", "ERROR: x", "Error: x", "fatal error: x" (compilers), "SomeError: x" / "SomeException: x".
_ERROR_LINE = re.compile(
    r"^(?:\S+:\d+(?::\d+)?:\s*)?(?:(?P<plain>(?:fatal\s+)?error|ERROR|Error)\s*:\s*(?P<text>.+)"
    r"|(?P<exc>(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit))(?::\s*(?P<exc_text>.*))?)$"
)
_NOISE = re.compile(
    r"subprocess-exited-with-error|metadata-generation-failed|Failed building wheel|"
    r"Could not build wheels|Traceback \(most recent call last\)|^note:|^hint:|"
    r"exit code: \d+|See above for output|did not run successfully",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MEMORY = re.compile(r"\bMemoryError\b|Cannot allocate memory|std::bad_alloc|out of memory", re.IGNORECASE)


def _clean(line: str) -> str:
    line = _ANSI.sub("", line).strip()
    # pip draws boxes and bullets around subprocess output.
    return line.strip("│╰─╭×║ \t").strip()


def error_detail(output: str) -> str:
    """The most telling error line of ``output`` (or its last non-empty line), trimmed."""
    lines = [cleaned for cleaned in (_clean(line) for line in output.splitlines()) if cleaned]
    chosen = ""
    for line in reversed(lines):
        if _NOISE.search(line):
            continue
        match = _ERROR_LINE.match(line)
        if not match:
            continue
        if match.group("plain"):
            chosen = match.group("text").strip()
        elif match.group("exc") in ("SystemExit",) and match.group("exc_text"):
            chosen = match.group("exc_text").strip()
        elif match.group("exc") not in ("SystemExit", "CalledProcessError"):
            chosen = line
        if chosen:
            break
    if not chosen:
        meaningful = [line for line in lines if not _NOISE.search(line)]
        chosen = meaningful[-1] if meaningful else ""
    chosen = re.sub(r"^(?:error|Error|ERROR)\s*:\s*", "", chosen).rstrip(".").strip()
    if len(chosen) > MAX_REASON:
        chosen = chosen[: MAX_REASON - 3] + "..."
    return chosen


def ran_out_of_memory(output: str, returncode: int | None = None) -> bool:
    """True when the output or the exit status says the memory ceiling was hit."""
    # A process killed by SIGKILL/SIGSEGV under an address-space limit often leaves no message.
    return bool(_MEMORY.search(output)) or returncode in (-9, -11, 137, 139)


# pip's words for an index it could not talk to (its later "No matching distribution" is a consequence).
_NETWORK_TROUBLE = (
    (re.compile(r"Failed to establish a new connection: (?:\[Errno -?\d+\] )?([^\"')]+)"), None),
    (re.compile(r"(Temporary failure in name resolution|Name or service not known)"), None),
    (re.compile(r"ConnectTimeoutError|Connection to \S+ timed out"), "connection timed out"),
    (re.compile(r"Read timed out"), "read timed out"),
    (re.compile(r"CERTIFICATE_VERIFY_FAILED|SSLError"), "TLS error, check the CA bundle"),
    (re.compile(r"ProxyError"), "proxy error"),
    (re.compile(r"\b(40[13]|429|5\d\d) (?:Client |Server )?Error\b|HTTP error (\d{3})"), None),
)


def network_trouble(output: str) -> str | None:
    """A few words on why pip could not reach an index, or None when it could."""
    for pattern, words in _NETWORK_TROUBLE:
        match = pattern.search(output)
        if match:
            if words:
                return words
            group = next((g for g in match.groups() if g), match.group(0))
            return f"HTTP {group}" if group.isdigit() else group.strip()
    return None
