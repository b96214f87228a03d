"""Errors of local mode that are the user's to fix before anything runs."""

from __future__ import annotations


class LocalModeError(Exception):
    """Local mode cannot start (missing data, no container engine...).

    ``str(error)`` is one line per problem, each naming the job or channel
    concerned and what to change; the CLI prints them without a traceback.
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(dict.fromkeys(problems))
        super().__init__("\n".join(self.problems))
