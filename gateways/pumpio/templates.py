"""The two HTML pages of the OAuth dance: log in and approve a client, and the out-of-band verifier."""

from __future__ import annotations

from html import escape

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 3rem auto; padding: 0 1rem; }}
label {{ display: block; margin: 0.8rem 0 0.2rem; }}
input[type=text], input[type=password] {{ width: 100%; padding: 0.4rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: 0.5rem 1.2rem; }}
.error {{ color: #a00; }}
#verifier {{ font-size: 1.4rem; user-select: all; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def login(action: str, client_name: str, token: str, error: str = "") -> str:
    """Logging in and approving are one step: the form posts both the credentials and the approval."""
    notice = f'<p class="error" id="error">{escape(error)}</p>\n' if error else ""
    body = (
        f"<h1>Authorize {escape(client_name)}</h1>\n"
        f"<p><strong>{escape(client_name)}</strong> asks to act on your behalf: post and read your media "
        "and activities.</p>\n"
        f"{notice}"
        f'<form method="post" action="{escape(action)}">\n'
        f'<input type="hidden" name="oauth_token" value="{escape(token)}">\n'
        '<label for="username">Username</label>\n'
        '<input type="text" id="username" name="username" autocomplete="username" required autofocus>\n'
        '<label for="password">Password</label>\n'
        '<input type="password" id="password" name="password" autocomplete="current-password" required>\n'
        '<button type="submit" name="approve" value="1">Approve</button>\n'
        "</form>"
    )
    return _PAGE.format(title="Authorize an application", body=body)


def verifier(code: str) -> str:
    body = (
        "<h1>Application authorized</h1>\n"
        "<p>Copy this verifier into the application:</p>\n"
        f'<p><code id="verifier">{escape(code)}</code></p>'
    )
    return _PAGE.format(title="Application authorized", body=body)
