"""One refusal of the ACME server, checked the same way by every refusal
test that uses the project's client (acme_client): the problem type and
HTTP status, the reason in the detail, and the store as before (or as a
changes function of acme_store says)."""

import acme_client as ac
from acme_store import PREFIX, check_after, state

passed = []


def refused(name, fn, ptype, status, reason, changes=None):
    """fn must fail with problem ptype, HTTP status and reason in its
    detail; the store must be as before (or as changes(before, after)
    says). Returns the problem."""
    before = state()
    try:
        fn()
    except ac.Problem as p:
        assert p.type == ptype, "%s: type %s, wanted %s (%s)" % (name, p.type, ptype, p)
        assert p.status == status, "%s: status %d, wanted %d (%s)" % (name, p.status, status, p)
        assert reason in p.doc.get("detail", ""), "%s: detail %r lacks %r" % (
            name, p.doc.get("detail"), reason)
        assert p.doc["type"].startswith(PREFIX), p.doc
        check_after(name, before, changes)
        passed.append(name)
        print("ok - %s: %d %s: %s" % (name, p.status, p.type, p.doc.get("detail")))
        return p
    raise AssertionError("%s was not refused" % name)
