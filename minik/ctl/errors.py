"""How minictl reports failures: kubectl's wording (cmdutil.CheckErr) and exit code 1.

Server errors keep the Status reason (`Error from server (NotFound): ...`); Invalid errors list
their causes (`The Pod "x" is invalid: ...`); everything else is `error: ...`.
"""

from __future__ import annotations

from minik.api.errors import StatusError


class CtlError(Exception):
    """A failure to print as is (already worded like kubectl, without the trailing newline)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error(message: str) -> CtlError:
    """A client-side error: kubectl prints these as `error: <message>`."""
    return CtlError(f"error: {message}")


class UsageError(CtlError):
    """Bad flags or arguments: the message plus kubectl's `See '... --help' for usage.` hint."""

    def __init__(self, message: str, command: str = "", hint: bool = True) -> None:
        text = f"error: {message}"
        if hint:
            text += f"\nSee 'minictl {command} --help' for usage." if command else "\nSee 'minictl --help' for usage."
        super().__init__(text)


def with_source(verb: str, source: str, err: StatusError) -> StatusError:
    """cmdutil.AddSourceToErr: `error when creating "pod.yaml": <message>` keeping the Status type."""
    if not source:
        return err
    wrapped = type(err)(f'error when {verb} "{source}": {err.message}', details=err.details,
                        code=err.code, reason=err.reason)
    return wrapped


def format_status_error(err: StatusError) -> str:
    """cmdutil.StandardErrorMessage for API errors, Invalid ones expanded like kubectl does."""
    if err.reason == "Invalid" or err.code == 422:
        details = err.details or {}
        kind, name = str(details.get("kind") or ""), str(details.get("name") or "")
        if not details:
            return f"The request is invalid: {err.message}" if err.message else "The request is invalid"
        if kind or name:
            head = f'The {kind} "{name}" is invalid'
        elif err.message:
            head = f"The request is invalid: {err.message}"
        else:
            head = "The request is invalid"
        causes = [c for c in details.get("causes") or [] if isinstance(c, dict)]
        if not causes:
            return head
        texts = list(dict.fromkeys(f"{c.get('field', '')}: {c.get('message', '')}" for c in causes))
        if len(texts) == 1:
            return f"{head}: {texts[0]}"
        return f"{head}: \n" + "\n".join(f"* {t}" for t in texts)
    if err.reason == "Unauthorized":
        return f"error: You must be logged in to the server ({err.message})"
    if err.reason:
        return f"Error from server ({err.reason}): {err.message}"
    return f"Error from server: {err.message}"



class Errors:
    """Errors collected while visiting objects (kubectl's ContinueOnError), reported at the end.

    One error prints as CheckErr prints it (`error: ...` for client-side ones); several print one per
    line without the prefix, as kubectl prints an aggregate.
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, bool]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def status(self, err: StatusError) -> None:
        self.items.append((format_status_error(err), False))

    def plain(self, message: str) -> None:
        self.items.append((message.removeprefix("error: "), True))

    def ctl(self, err: CtlError) -> None:
        if err.message.startswith("error: "):
            self.plain(err.message)
        else:
            self.items.append((err.message, False))

    def raise_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            message, plain = self.items[0]
            raise CtlError(f"error: {message}" if plain else message)
        raise CtlError("\n".join(message for message, _ in self.items))
