"""The read side: every way into the stored audit trail, through one door.

People read and operate the store (the dashboard, ``query``, ``export``,
``erase``, ``hold``, ``retention``, ``verify``, ``report``, ``digest``) only
through :class:`readside.session.ReadSession`: it takes an authenticated
operator, runs reads on connections the engine keeps read-only and bounded,
and records each access, refused ones included, as an AUDIT_ACCESS event.
"""
