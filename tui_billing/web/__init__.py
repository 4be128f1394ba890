"""`tui-billing serve`: the billing screens in a browser (issue 18).

- :mod:`.accounts`: who may sign in (PAM on the OS account, a role in these books), the rate
  limit on failed sign-ins, and their audit events. No aiohttp, no Textual.
- :mod:`.server`: textual-serve's Server, subclassed: a login page before any screen, sessions in
  HttpOnly SameSite=Strict cookies that expire with the idle lock, a WebSocket that refuses other
  origins and requests without a session, and one app process per browser tab that runs as the
  signed-in OS user, so the operator is that process's real uid, as over SSH.
"""
