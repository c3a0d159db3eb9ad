"""The CA's ACME state as `tlsgate` lists it, for the refusal tests' "nothing
changed" (standard library only: imported by scripts run with either Python,
the project's client's and Debian's python3-acme's)."""

import json
import os
import subprocess

TLSGATE = os.environ["TLSGATE"]
PKI = os.environ["PKI"]
PREFIX = "urn:ietf:params:acme:error:"


def state():
    """Accounts, orders and certificates, as `--json` lists them."""
    out = []
    for args in (["acme", "accounts"], ["acme", "orders"], ["cert", "list"]):
        r = subprocess.run([TLSGATE] + args + ["--dir", PKI, "--json"], check=True,
                           capture_output=True, text=True, timeout=60)
        out.append(json.loads(r.stdout))
    return out


def check_after(name, before, changes=None):
    """After a refusal: the state as before, or as changes(before, after)
    says."""
    after = state()
    if changes is None:
        assert before == after, "%s changed the store:\n%s\n%s" % (name, before, after)
    else:
        changes(before, after)


def one_invalid_order(ptype):
    """The change a failed validation makes: one new order, invalid with
    problem ptype and no certificate; accounts (but their order lists) and
    certificates as they were. A changes function for check_after."""
    def changes(before, after):
        def accounts(s):
            return [{k: v for k, v in a.items() if k != "orders"} for a in s[0]]
        assert accounts(before) == accounts(after), "accounts changed"
        assert before[2] == after[2], "certificates changed"
        new = [o for o in after[1] if o not in before[1]]
        assert len(new) == 1 and new[0]["status"] == "invalid" and new[0]["serial"] is None, new
        assert new[0]["error"]["type"] == PREFIX + ptype, new[0]
    return changes


# What a wrong challenge answer changes.
only_an_invalid_order = one_invalid_order("incorrectResponse")
