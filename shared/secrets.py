"""Keep credentials out of everything printed or logged: `mask_uri` hides the password of
every URI in a text (user:password@ -> user:***@) and secret query parameters."""

from __future__ import annotations

import re

# scheme://user:password@ -- the password runs to the last '@' of the URI (an unescaped '@'
# or '/' in it must not leak its tail); quotes and whitespace end a URI inside a message.
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s\"'<>]*):[^\s\"'<>]*@")
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&][^=&\s\"'<>]*(?:password|secret|token)[^=&\s\"'<>]*=)[^&\s\"'<>]*",
    re.IGNORECASE,
)


def mask_uri(text: str) -> str:
    """`text` (a URI, or a message quoting URIs) with passwords and secret query values
    replaced by `***`; user names, hosts and options stay readable."""
    text = _USERINFO.sub(r"\g<head>:***@", text)
    return _SECRET_PARAM.sub(r"\g<head>***", text)
