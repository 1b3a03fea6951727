"""``govcloud serve``: the approval portal (server-rendered pages) and the REST API (``/api/v1``).

Thin like the CLI: every read and every step goes through :class:`orchestrator.services.lifecycle.Lifecycle`
and the core's rules; the portal only says who acts (a verified token or, with the development
flag, a chosen actor) and how the answer looks. It keeps no state of its own: any number of
worker processes serve one ledger.
"""
