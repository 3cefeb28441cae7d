#!/usr/bin/env python3
"""The checks of tests/ops/ldap.sh: real LDAP clients against a running scim-appliance.

  ldap_clients.py --bin BIN --data-dir DIR --http URL --ldap-port PORT
                  [--ldaps-port PORT --cacert PEM]

Creates three organizations through the command line (Acme, Globex, and Paging with 2,500
members), provisions members and groups over SCIM with their provision keys, binds with read
keys and asks the directory what applications ask it: with OpenLDAP's `ldapsearch`,
`ldapwhoami`, `ldapadd`… (their exit status is the LDAP result code) and with the `ldap3`
Python package. Every application filter below is the one that application sends (from its
source: Gitea/Forgejo `services/auth/source/ldap/source_search.go`, Nextcloud user_ldap
`Wizard::composeLdapFilter` and `Access`, the Jellyfin LDAP-Auth plugin
`LDAPAuthenticationProviderPlugin.cs`, Grafana `pkg/services/ldap`, Portainer `api/ldap`,
Authelia's documented `users_filter`/`groups_filter`, SSSD `sdap_async_*.c`), filled in as that
application fills it in, and each check asserts the exact set of entries that must come back.
docs/ldap.md gives the same settings as configurations.

Each check prints `ok  NAME` or `FAIL NAME: what was expected, what came`; the run ends with
`ldap: N passed, M failed` and exits 1 when anything failed.
"""

import argparse
import base64
import json
import os
import ssl
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

import ldap3
from ldap3.utils.conv import escape_filter_chars

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PAGED_RESULTS = "1.2.840.113556.1.4.319"
WHOAMI = "1.3.6.1.4.1.4203.1.11.3"

SUCCESS, SIZE_LIMIT, INVALID_CREDENTIALS = 0, 4, 49
INSUFFICIENT_ACCESS, NO_SUCH_OBJECT, UNWILLING = 50, 32, 53

PAGING_MEMBERS = 2500
BEYOND = 10500


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def same(got, expected, what):
    expect(got == expected, f"{what}: expected {expected!r}, got {got!r}")


class Run:
    """Runs named checks, prints each outcome, counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = []

    def section(self, title):
        print(f"-- {title} ({time.monotonic() - START:.0f} s)", flush=True)

    def check(self, name, fn):
        try:
            fn()
        except CheckFailed as e:
            self.failed.append(name)
            print(f"FAIL {name}: {e}", flush=True)
        except Exception as e:  # a crash in a check is a failed check, not the end of the run
            self.failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)


START = time.monotonic()


# ---- the command line and SCIM ------------------------------------------------------------


class Appliance:
    def __init__(self, args):
        self.bin = args.bin
        self.data_dir = args.data_dir
        self.http = args.http.rstrip("/")
        self.tls = ssl.create_default_context(cafile=args.cacert) if args.cacert else None

    def cli(self, *args):
        out = subprocess.run(
            [self.bin, *args, "--data-dir", self.data_dir],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return json.loads(out.stdout) if "--json" in args else out.stdout

    def create_org(self, name, base):
        org = self.cli("org", "create", name, "--json")
        self.cli("org", "set-ldap-base", org["id"], base)
        provision = org["api_key"]
        return Org(self, org["id"], base, provision, key_id(provision))

    def scim(self, org, method, path, body=None):
        request = urllib.request.Request(
            f"{self.http}/v2/{org.id}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {org.provision_key}",
                "Content-Type": "application/scim+json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=120, context=self.tls) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path} answered {e.code}: {e.read()[:500]!r}") from e
        return json.loads(raw) if raw else None


def key_id(token):
    """The key id inside an API key: scim_<key id>_<secret>."""
    return token.split("_")[1]


class Org:
    def __init__(self, app, org_id, base, provision_key, provision_key_id):
        self.app = app
        self.id = org_id
        self.base = base
        self.provision_key = provision_key
        self.provision_key_id = provision_key_id
        self.users = {}  # userName → SCIM id
        self.groups = {}  # displayName → SCIM id

    def read_key(self, name):
        added = self.app.cli(
            "org", "key", "add", self.id, "--name", name, "--scope", "read", "--json"
        )
        return added["key"]["key_id"], added["api_key"]

    def service_dn(self, key):
        return f"cn={key},{self.base}"

    def people(self):
        return f"ou=people,{self.base}"

    def groups_ou(self):
        return f"ou=groups,{self.base}"

    def scim(self, method, path, body=None):
        return self.app.scim(self, method, path, body)

    def add_user(self, user_name, **attrs):
        body = {"schemas": [USER], "userName": user_name, **attrs}
        self.users[user_name] = self.scim("POST", "/Users", body)["id"]
        return self.users[user_name]

    def add_group(self, name, members):
        body = {
            "schemas": [GROUP],
            "displayName": name,
            "members": [{"value": self.users[m]} for m in members],
        }
        self.groups[name] = self.scim("POST", "/Groups", body)["id"]
        return self.groups[name]

    def users_by_name(self, user_name):
        if user_name not in self.users:
            found = self.scim(
                "GET",
                f'/Users?filter=userName eq "{user_name}"'.replace(" ", "%20").replace('"', "%22"),
            )
            self.users[user_name] = found["Resources"][0]["id"]
        return self.users[user_name]

    def patch(self, path, *operations):
        return self.scim("PATCH", path, {"schemas": [PATCH], "Operations": list(operations)})


# ---- LDAP clients -------------------------------------------------------------------------


class Ldap:
    """A python-ldap3 connection, bound (or not), and searches returning comparable results."""

    def __init__(
        self, port, dn=None, password=None, use_ssl=False, cacert=None, get_info=ldap3.NONE
    ):
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=cacert) if use_ssl else None
        self.server = ldap3.Server(
            "127.0.0.1", port=port, use_ssl=use_ssl, tls=tls, get_info=get_info, connect_timeout=10
        )
        self.conn = ldap3.Connection(
            self.server,
            user=dn,
            password=password,
            receive_timeout=60,
            raise_exceptions=False,
            auto_referrals=False,
        )
        self.conn.open()
        self.bound = self.conn.bind() if dn is not None else True

    def code(self):
        return self.conn.result["result"]

    def search(self, base, filter, scope="subtree", attrs=(), **kw):
        """Entries as {dn: {attribute (lower case): [values]}}; raises on any result other
        than success (use `answer` to see it)."""
        entries, code = self.answer(base, filter, scope, attrs, **kw)
        expect(
            code == SUCCESS,
            f"search {filter!r} under {base!r} answered {code}"
            f" ({self.conn.result.get('message')!r})",
        )
        return entries

    def answer(self, base, filter, scope="subtree", attrs=(), **kw):
        scopes = {"base": ldap3.BASE, "one": ldap3.LEVEL, "subtree": ldap3.SUBTREE}
        self.conn.search(
            base, filter, search_scope=scopes[scope], attributes=list(attrs) or None, **kw
        )
        return entries_of(self.conn.response), self.code()

    def dns(self, base, filter, scope="subtree", attrs=("1.1",), **kw):
        return set(self.search(base, filter, scope, attrs, **kw))

    def entry(self, dn, attrs=("*", "+")):
        found = self.search(dn, "(objectClass=*)", "base", attrs)
        expect(len(found) == 1, f"{dn} not found")
        return found[dn]

    def close(self):
        self.conn.unbind()


def entries_of(response):
    entries = {}
    for item in response or []:
        if item.get("type") != "searchResEntry":
            continue
        expect(item["dn"] not in entries, f"{item['dn']} came twice")
        # (ldap3 lists every requested attribute, with no values when the entry has none.)
        entries[item["dn"]] = {
            name.lower(): [v.decode() for v in values]
            for name, values in item["raw_attributes"].items()
            if values
        }
    return entries


def tool(name, *args, stdin=None, env=None):
    """Runs an OpenLDAP client: (exit status, stdout, stderr)."""
    out = subprocess.run(
        [name, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return out.returncode, out.stdout, out.stderr


def parse_ldif(text):
    """`ldapsearch -LLL -o ldif-wrap=no` output as {dn: {attribute (lower case): [values]}}."""
    entries, dn = {}, None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            dn = None if not line else dn
            continue
        name, sep, value = line.partition(":")
        if value.startswith(":"):
            value = base64.b64decode(value[1:].strip()).decode()
        else:
            value = value.strip()
        if name.lower() == "dn":
            dn = value
            expect(dn not in entries, f"{dn} came twice")
            entries[dn] = {}
        elif dn is not None and sep:
            entries[dn].setdefault(name.lower(), []).append(value)
    return entries


def ci(values):
    return {v.lower() for v in values}


# ---- the directory the checks run against ---------------------------------------------------


class Fixture:
    """Organizations, keys, members and groups, created once."""

    def __init__(self, args):
        self.args = args
        self.app = Appliance(args)
        self.port = args.ldap_port
        self.uri = f"ldap://127.0.0.1:{self.port}"

        self.acme = acme = self.app.create_org("Acme", "dc=acme,dc=test")
        self.acme_key_id, self.acme_key = acme.read_key("apps")
        self.doomed_key_id, self.doomed_key = acme.read_key("revoked by the test")
        self.globex = globex = self.app.create_org("Globex", "o=globex")
        self.globex_key_id, self.globex_key = globex.read_key("apps")
        self.paging = paging = self.app.create_org("Paging", "dc=paging")
        self.paging_key_id, self.paging_key = paging.read_key("apps")

        acme.add_user(
            "ann",
            displayName="Ann Lee",
            name={"givenName": "Ann", "familyName": "Lee", "formatted": "Ann B. Lee"},
            emails=[
                {"value": "Ann@Acme.test", "type": "work", "primary": True},
                {"value": "ann.lee@home.test", "type": "home"},
            ],
            phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
            title="Engineer",
            **{ENTERPRISE: {"employeeNumber": "7", "department": "R&D"}},
        )
        acme.add_user(
            "bob",
            name={"formatted": "Robert Smith", "givenName": "Robert", "familyName": "Smith"},
            emails=[{"value": "bob@acme.test", "primary": True}],
        )
        acme.add_user("carol@acme.test")
        acme.add_user("Smith, John", emails=[{"value": "john.smith@acme.test", "primary": True}])
        acme.add_user("dave", displayName="Dave", emails=[{"value": "dave@acme.test"}])
        acme.add_user("erin", displayName="Erin", emails=[{"value": "erin@acme.test"}])
        acme.add_user("frank", active=False, emails=[{"value": "frank@acme.test"}])
        acme.add_user("zoe", displayName="Zoe", emails=[{"value": "zoe@acme.test"}])
        acme.add_user("#1 fan+club=yes", emails=[{"value": "fan@acme.test"}])
        everyone = ["ann", "bob", "carol@acme.test", "Smith, John", "dave", "erin", "frank"]
        acme.add_group("jellyfin-users", everyone)
        acme.add_group("jellyfin-admins", ["ann"])
        acme.add_group("gitea-admins", ["ann"])
        acme.add_group("grafana-editors", ["bob", "Smith, John"])
        acme.add_group("nextcloud", ["ann", "carol@acme.test", "frank"])
        acme.add_group("Ops", ["bob"])
        acme.add_group("ops", ["ann"])
        acme.add_group("R&D, Europe", ["Smith, John"])
        acme.add_group("empty", [])

        globex.add_user("ann", displayName="Ann of Globex", emails=[{"value": "ann@globex.test"}])
        globex.add_user("zed", emails=[{"value": "zed@globex.test"}])
        globex.add_group("jellyfin-users", ["ann", "zed"])

        names = [f"p{i:04d}@paging.test" for i in range(PAGING_MEMBERS)]
        for start in range(0, PAGING_MEMBERS, 1000):
            chunk = names[start : start + 1000]
            answer = paging.scim(
                "POST",
                "/Bulk",
                {
                    "schemas": [BULK],
                    "Operations": [
                        {
                            "method": "POST",
                            "path": "/Users",
                            "bulkId": name,
                            "data": {
                                "schemas": [USER],
                                "userName": name,
                                "displayName": name.split("@")[0],
                            },
                        }
                        for name in chunk
                    ],
                },
            )
            statuses = {op["status"] for op in answer["Operations"]}
            if statuses != {"201"}:
                raise RuntimeError(f"Bulk create answered {statuses}")
        self.paging_names = names

    def bound(self, org=None, use_ssl=False, get_info=ldap3.NONE):
        org = org or self.acme
        key_id, key = self.key_of(org)
        port = self.args.ldaps_port if use_ssl else self.port
        client = Ldap(port, org.service_dn(key_id), key, use_ssl, self.args.cacert, get_info)
        expect(client.bound, f"the read key of {org.base} could not bind: {client.conn.result}")
        return client

    def key_of(self, org):
        return {
            self.acme.id: (self.acme_key_id, self.acme_key),
            self.globex.id: (self.globex_key_id, self.globex_key),
            self.paging.id: (self.paging_key_id, self.paging_key),
        }[org.id]

    def bind_args(self, org=None):
        org = org or self.acme
        key_id, key = self.key_of(org)
        return ["-x", "-H", self.uri, "-D", org.service_dn(key_id), "-w", key]

    def ldapsearch(self, *args, org=None):
        """`ldapsearch -LLL` bound with org's read key: (exit status, entries)."""
        code, out, err = tool(
            "ldapsearch", *self.bind_args(org), "-LLL", "-o", "ldif-wrap=no", *args
        )
        return code, parse_ldif(out)

    def user_dn(self, uid, org=None):
        return f"uid={uid},{(org or self.acme).people()}"

    def group_dn(self, cn, org=None):
        return f"cn={cn},{(org or self.acme).groups_ou()}"


# ---- the checks -----------------------------------------------------------------------------


def binds(run, f):
    acme = f.acme
    uri = ["-x", "-H", f.uri]

    def whoami(dn, password):
        return tool("ldapwhoami", *uri, "-D", dn, "-w", password)

    def read_key():
        code, out, err = whoami(acme.service_dn(f.acme_key_id), f.acme_key)
        same(code, SUCCESS, f"ldapwhoami exit status ({err.strip()})")
        same(out.strip(), f"dn:{acme.service_dn(f.acme_key_id)}", "WhoAmI")

    def provision_key():
        code, _, err = whoami(acme.service_dn(acme.provision_key_id), acme.provision_key)
        same(code, INVALID_CREDENTIALS, "exit status")
        expect("read key" in err, f"the diagnostic should ask for a read key: {err.strip()!r}")

    def wrong_password():
        wrong = f"scim_{f.acme_key_id}_{'x' * 40}"
        for password in [wrong, "not a key at all"]:
            code, _, _ = whoami(acme.service_dn(f.acme_key_id), password)
            same(code, INVALID_CREDENTIALS, f"exit status with password {password!r}")

    def other_org_key():
        for dn in [acme.service_dn(f.globex_key_id), acme.service_dn(f.acme_key_id)]:
            code, _, _ = whoami(dn, f.globex_key)
            same(code, INVALID_CREDENTIALS, f"exit status binding {dn} with Globex's key")

    def revoked_key():
        dn = acme.service_dn(f.doomed_key_id)
        code, _, err = whoami(dn, f.doomed_key)
        same(code, SUCCESS, f"before the revocation ({err.strip()})")
        f.app.cli("org", "key", "revoke", acme.id, f.doomed_key_id)
        code, _, _ = whoami(dn, f.doomed_key)
        same(code, INVALID_CREDENTIALS, "exit status right after `org key revoke`")

    def member():
        code, _, err = whoami(f.user_dn("ann"), "any password")
        same(code, INVALID_CREDENTIALS, "exit status")
        expect("members cannot bind yet" in err, f"the diagnostic should say why: {err.strip()!r}")

    def anonymous_whoami():
        code, out, _ = tool("ldapwhoami", *uri)
        same((code, out.strip()), (SUCCESS, "anonymous"), "anonymous WhoAmI")

    def anonymous_root_dse():
        code, out, _ = tool("ldapsearch", *uri, "-LLL", "-s", "base", "-b", "", "+")
        same(code, SUCCESS, "exit status")
        dse = parse_ldif(out)[""]
        same(dse.get("supportedldapversion"), ["3"], "supportedLDAPVersion")
        same(dse.get("supportedcontrol"), [PAGED_RESULTS], "supportedControl")
        same(dse.get("supportedextension"), [WHOAMI], "supportedExtension")
        same(dse.get("vendorname"), ["scim-appliance"], "vendorName")
        same(dse.get("namingcontexts"), None, "namingContexts before a bind")

    def bound_root_dse():
        code, entries = f.ldapsearch("-s", "base", "-b", "", "(objectClass=*)", "namingContexts")
        same(code, SUCCESS, "exit status")
        same(entries, {"": {"namingcontexts": [acme.base]}}, "the root DSE")

    def anonymous_reads_nothing_else():
        for base in [acme.base, acme.people(), f.user_dn("ann")]:
            code, out, _ = tool("ldapsearch", *uri, "-LLL", "-b", base, "(objectClass=*)")
            same((code, out.strip()), (INSUFFICIENT_ACCESS, ""), f"anonymous search of {base}")

    def python_ldap3_binds():
        ok = Ldap(f.port, acme.service_dn(f.acme_key_id), f.acme_key)
        expect(ok.bound, f"read key: {ok.conn.result}")
        same(ok.conn.extend.standard.who_am_i(), f"dn:{acme.service_dn(f.acme_key_id)}", "who_am_i")
        ok.close()
        refused = {
            "provision key": (acme.service_dn(acme.provision_key_id), acme.provision_key),
            "wrong password": (acme.service_dn(f.acme_key_id), "scim_x_y"),
            "another organization's key": (acme.service_dn(f.globex_key_id), f.globex_key),
            "revoked key": (acme.service_dn(f.doomed_key_id), f.doomed_key),
            "member": (f.user_dn("ann"), "secret"),
        }
        for what, (dn, password) in refused.items():
            client = Ldap(f.port, dn, password)
            same((client.bound, client.code()), (False, INVALID_CREDENTIALS), what)
            client.close()

    def python_ldap3_root_dse():
        client = f.bound(get_info=ldap3.DSA)
        info = client.server.info
        same(list(info.naming_contexts), [acme.base], "naming_contexts")
        same([c[0] for c in info.supported_controls], [PAGED_RESULTS], "supported_controls")
        same(list(info.supported_ldap_versions), ["3"], "supported_ldap_versions")
        client.close()

    run.check("ldapwhoami: a read key binds as its service account cn=<key id>,<base>", read_key)
    run.check(
        "ldapwhoami: a provision key is refused (49) and told to use a read key", provision_key
    )
    run.check("ldapwhoami: a wrong password is refused (49)", wrong_password)
    run.check("ldapwhoami: another organization's key is refused (49)", other_org_key)
    run.check("ldapwhoami: a key revoked on the command line is refused at once (49)", revoked_key)
    run.check("ldapwhoami: a member cannot bind yet (49, and the diagnostic says so)", member)
    run.check("ldapwhoami: without a bind, WhoAmI is anonymous", anonymous_whoami)
    run.check(
        'ldapsearch: anonymous reads the root DSE (-s base -b "" +), without namingContexts',
        anonymous_root_dse,
    )
    run.check(
        "ldapsearch: bound, the root DSE's namingContexts is the organization's base",
        bound_root_dse,
    )
    run.check("ldapsearch: anonymous reads nothing else (50)", anonymous_reads_nothing_else)
    run.check("python ldap3: the same binds, accepted and refused (49)", python_ldap3_binds)
    run.check("python ldap3: the root DSE as Server.info (get_info=DSA)", python_ldap3_root_dse)


def tree(run, f):
    acme = f.acme
    client = f.bound()

    def units():
        same(
            client.dns(acme.base, "(objectClass=*)", "one"),
            {acme.people(), acme.groups_ou()},
            "one level below the base",
        )
        base = client.entry(acme.base)
        same(
            set(base["objectclass"]), {"top", "domain"}, "the base's objectClass"
        )
        same(base.get("dc"), ["acme"], "the base's dc")

    def ann():
        entry = client.entry(f.user_dn("ann"))
        expected = {
            "objectclass": [
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "posixAccount",
            ],
            "uid": ["ann"],
            "cn": ["Ann Lee"],
            "sn": ["Lee"],
            "givenname": ["Ann"],
            "displayname": ["Ann Lee"],
            "mail": ["ann@acme.test", "ann.lee@home.test"],
            "telephonenumber": ["+1 555 0100"],
            "title": ["Engineer"],
            "employeenumber": ["7"],
            "departmentnumber": ["R&D"],
            "entryuuid": [acme.users["ann"]],
            "uidnumber": ["10000"],
            "gidnumber": ["10000"],
            "homedirectory": ["/home/ann"],
            "loginshell": ["/bin/bash"],
        }
        for name, values in expected.items():
            same(entry.get(name), values, name)
        same(
            ci(entry.get("memberof", [])),
            ci(
                f.group_dn(g)
                for g in [
                    "jellyfin-users",
                    "jellyfin-admins",
                    "gitea-admins",
                    "nextcloud",
                    f"ops ({acme.groups['ops']})",
                ]
            ),
            "memberOf",
        )
        for stamp in ["createtimestamp", "modifytimestamp"]:
            value = entry.get(stamp, [""])[0]
            expect(
                len(value) == 15 and value.endswith("Z") and value[:14].isdigit(),
                f"{stamp} {value!r} is not GeneralizedTime",
            )

    def fallbacks():
        bob = client.entry(f.user_dn("bob"), ["cn", "sn", "givenName", "displayName", "mail"])
        same(
            bob,
            {
                "cn": ["Robert Smith"],
                "sn": ["Smith"],
                "givenname": ["Robert"],
                "mail": ["bob@acme.test"],
            },
            "bob (name.formatted)",
        )
        carol = client.entry(f.user_dn("carol@acme.test"), ["cn", "sn", "mail", "uid"])
        same(
            carol,
            {
                "uid": ["carol@acme.test"],
                "cn": ["carol@acme.test"],
                "sn": ["carol@acme.test"],
                "mail": ["carol@acme.test"],
            },
            "carol (userName only)",
        )

    def operational():
        plain = client.entry(f.user_dn("ann"), ["*"])
        for name in ["entryuuid", "memberof", "createtimestamp", "modifytimestamp"]:
            expect(name not in plain, f"{name} came with '*' alone")
        only = client.entry(f.user_dn("ann"), ["+"])
        same(
            sorted(only),
            ["createtimestamp", "entryuuid", "memberof", "modifytimestamp"],
            "'+' alone",
        )
        named = client.entry(f.user_dn("ann"), ["ENTRYUUID", "uid"])
        same(
            named,
            {"entryuuid": [acme.users["ann"]], "uid": ["ann"]},
            "attributes named in any case",
        )
        none = client.entry(f.user_dn("ann"), ["1.1"])
        same(none, {}, "'1.1'")

    def posix_ids():
        people = client.search(
            acme.people(), "(objectClass=posixAccount)", attrs=["uidNumber", "gidNumber"]
        )
        groups = client.search(acme.groups_ou(), "(objectClass=posixGroup)", attrs=["gidNumber"])
        user_ids = [int(e["uidnumber"][0]) for e in people.values()]
        for dn, e in people.items():
            same(e["gidnumber"], e["uidnumber"], f"{dn}: gidNumber")
        group_ids = [int(e["gidnumber"][0]) for e in groups.values()]
        ids = user_ids + group_ids
        same(len(set(ids)), len(ids), "distinct POSIX ids")
        expect(min(ids) == 10000, f"POSIX ids start at 10000, the lowest is {min(ids)}")
        same(len(people), 8, "posixAccount entries (the active members)")
        same(len(groups), 9, "posixGroup entries")

    def escaping():
        dn = "uid=Smith\\, John,ou=people,dc=acme,dc=test"
        same(client.dns(acme.people(), "(uid=Smith, John)"), {dn}, "the escaped DN")
        for spelling in [dn, "UID=smith\\2c john,OU=People,DC=Acme,DC=Test"]:
            found = client.search(spelling, "(objectClass=*)", "base", ["uid"])
            same(list(found.values()), [{"uid": ["Smith, John"]}], f"a base search of {spelling!r}")
        # (python ldap3 refuses spaces around the separators; OpenLDAP's tools send them.)
        spaced = " UID = smith\\2c john , OU=People ; DC=Acme,DC=Test"
        code, found = f.ldapsearch("-s", "base", "-b", spaced, "(objectClass=*)", "uid")
        same(
            (code, list(found.values())),
            (SUCCESS, [{"uid": ["Smith, John"]}]),
            f"ldapsearch -b {spaced!r}",
        )
        fan = "uid=\\#1 fan\\+club\\=yes,ou=people,dc=acme,dc=test"
        same(client.dns(acme.people(), "(uid=#1 fan+club=yes)"), {fan}, "a leading # and + =")
        same(client.entry(fan, ["uid"]), {"uid": ["#1 fan+club=yes"]}, "a base search of it")
        rd = "cn=R&D\\, Europe,ou=groups,dc=acme,dc=test"
        same(client.dns(acme.groups_ou(), "(cn=R&D, Europe)"), {rd}, "a group with a comma")
        smith = client.entry(dn, ["memberOf"])
        expect(rd in smith.get("memberof", []), f"{rd} not in Smith's memberOf {smith}")
        by_group = client.dns(acme.people(), f"(memberOf={escape_filter_chars(rd)})")
        same(by_group, {dn}, "(memberOf=<a DN with an escaped comma>)")

    def disambiguation():
        later = f"ops ({acme.groups['ops']})"
        found = client.search(acme.groups_ou(), "(|(cn=ops)(cn=Ops))", attrs=["cn", "entryUUID"])
        same(
            found,
            {
                f.group_dn("Ops"): {"cn": ["Ops"], "entryuuid": [acme.groups["Ops"]]},
                f.group_dn(later): {"cn": [later, "ops"], "entryuuid": [acme.groups["ops"]]},
            },
            "two groups named ops",
        )

    def revoked_from_start():
        for filter in [
            "(uid=frank)",
            "(mail=frank@acme.test)",
            f"(entryUUID={acme.users['frank']})",
        ]:
            same(client.dns(acme.base, filter), set(), filter)
        for group in ["jellyfin-users", "nextcloud"]:
            entry = client.entry(f.group_dn(group), ["member", "uniqueMember", "memberUid"])
            values = " ".join(v for vs in entry.values() for v in vs)
            expect("frank" not in values, f"frank appears in {group}: {entry}")
        same(
            client.answer(f.user_dn("frank"), "(objectClass=*)", "base")[1],
            NO_SUCH_OBJECT,
            "frank's DN",
        )

    run.check("tree: ou=people and ou=groups one level below the base; the base entry", units)
    run.check("attributes: ann as inetOrgPerson and posixAccount, every value from SCIM", ann)
    run.check("attributes: cn falls back to name.formatted then userName, sn to cn", fallbacks)
    run.check(
        "attributes: operational ones only with '+' or by name; '1.1' gives none", operational
    )
    run.check("attributes: POSIX ids from 10000, distinct, gidNumber = uidNumber", posix_ids)
    run.check("DNs: RFC 4514 escaping, and either spelling of a DN finds the entry", escaping)
    run.check(
        "DNs: groups sharing a displayName: the oldest keeps cn=<name>, the later gets (<id>)",
        disambiguation,
    )
    run.check("revoked members: one created inactive appears nowhere", revoked_from_start)
    client.close()


def applications(run, f):
    acme = f.acme
    client = f.bound()
    base, people, groups = acme.base, acme.people(), acme.groups_ou()
    ann = f.user_dn("ann")
    smith = "uid=Smith\\, John,ou=people,dc=acme,dc=test"
    fan = "uid=\\#1 fan\\+club\\=yes,ou=people,dc=acme,dc=test"
    active = {f.user_dn(u) for u in ["ann", "bob", "carol@acme.test", "dave", "erin", "zoe"]} | {
        smith,
        fan,
    }
    grouped = active - {f.user_dn("zoe"), fan}
    ann_groups = {
        f.group_dn(g)
        for g in [
            "jellyfin-users",
            "jellyfin-admins",
            "gitea-admins",
            "nextcloud",
            f"ops ({acme.groups['ops']})",
        ]
    }
    smith_groups = {f.group_dn(g) for g in ["jellyfin-users", "grafana-editors"]} | {
        "cn=R&D\\, Europe,ou=groups,dc=acme,dc=test"
    }
    all_groups = {
        f.group_dn(g)
        for g in [
            "jellyfin-users",
            "jellyfin-admins",
            "gitea-admins",
            "grafana-editors",
            "nextcloud",
            "Ops",
            f"ops ({acme.groups['ops']})",
            "empty",
        ]
    }
    all_groups.add("cn=R&D\\, Europe,ou=groups,dc=acme,dc=test")

    # Gitea and Forgejo, "LDAP (via BindDN)": findUserDN searches the user search base with
    # fmt.Sprintf(Filter, name); the attributes are read with the same filter under the user's
    # DN; the admin and restricted filters run under the user's DN; sync uses Sprintf(Filter, "*").
    gitea_filter = "(&(objectClass=person)(|(uid=%[1]s)(mail=%[1]s)))"

    def gitea(name):
        return gitea_filter.replace("%[1]s", name)

    def gitea_login():
        same(client.dns(people, gitea("ann")), {ann}, "login as ann")
        same(client.dns(people, gitea("ann@acme.test")), {ann}, "login as ann's email")
        same(
            client.dns(people, gitea("carol@acme.test")),
            {f.user_dn("carol@acme.test")},
            "login as carol@acme.test",
        )
        same(client.dns(people, gitea("frank")), set(), "login as a revoked member")
        attrs = client.search(ann, gitea("ann"), attrs=["uid", "givenName", "sn", "mail"])
        same(
            attrs,
            {
                ann: {
                    "uid": ["ann"],
                    "givenname": ["Ann"],
                    "sn": ["Lee"],
                    "mail": ["ann@acme.test", "ann.lee@home.test"],
                }
            },
            "the attributes Gitea reads",
        )

    def gitea_admin():
        admin_filter = "(memberOf=cn=gitea-admins,ou=groups,dc=acme,dc=test)"
        same(client.dns(ann, admin_filter, attrs=["uid"]), {ann}, "ann is an admin")
        same(client.dns(f.user_dn("bob"), admin_filter, attrs=["uid"]), set(), "bob is not")

    def gitea_sync():
        got = client.conn.extend.standard.paged_search(
            people,
            gitea("*"),
            attributes=["uid", "givenName", "sn", "mail"],
            paged_size=500,
            generator=False,
        )
        same(set(entries_of(got)), active, "Gitea's user sync (paged, 500)")

    def gitea_ldapsearch():
        code, found = f.ldapsearch("-b", people, gitea("ann@acme.test"), "uid")
        same(
            (code, found), (SUCCESS, {ann: {"uid": ["ann"]}}), "ldapsearch with Gitea's user filter"
        )

    # Nextcloud user_ldap: filters as its wizard composes them (ldapUserFilterObjectclass
    # inetOrgPerson, login with username and email, groups of objectclass groupOfNames), and the
    # searches Access and Group_LDAP make with them (ldapUserDisplayName cn, paging 500).
    nc_users = "(|(objectclass=inetOrgPerson))"
    nc_login = (
        "(&(|(objectclass=inetOrgPerson))(|(uid=%uid)(|(mailPrimaryAddress=%uid)(mail=%uid))))"
    )
    nc_groups = "(&(|(objectclass=groupOfNames)))"

    def nextcloud_wizard():
        code, out, _ = tool(
            "ldapsearch", *f.bind_args(), "-LLL", "-b", base, "-z", "1", "objectClass=*", "dn"
        )
        expect(code in (SUCCESS, SIZE_LIMIT), f"the wizard's base check answered {code}")
        same(len(parse_ldif(out)), 1, "entries of the base check (size limit 1)")
        member_of = client.dns(base, f"(&{nc_users}(memberOf=*))")
        same(member_of, grouped, "testMemberOf: members with memberOf")

    def nextcloud_users():
        filter = f"(&{nc_users}(cn=*))"
        got = client.conn.extend.standard.paged_search(
            base,
            filter,
            attributes=["uid", "cn", "mail", "entryUUID", "memberOf"],
            paged_size=500,
            generator=False,
        )
        found = entries_of(got)
        same(set(found), active, "the user list")
        same(
            found[ann]["entryuuid"],
            [acme.users["ann"]],
            "entryUUID (the UUID attribute Nextcloud detects)",
        )
        restricted = f"(&{nc_users}(|(memberof=cn=nextcloud,ou=groups,dc=acme,dc=test)))"
        same(
            client.dns(base, restricted),
            {ann, f.user_dn("carol@acme.test")},
            "users limited to the nextcloud group",
        )

    def nextcloud_login():
        for login, dn in [
            ("ann", ann),
            ("ANN", ann),
            ("carol@acme.test", f.user_dn("carol@acme.test")),
            ("john.smith@acme.test", smith),
        ]:
            same(
                client.dns(base, nc_login.replace("%uid", escape_filter_chars(login))),
                {dn},
                f"login as {login}",
            )
        same(client.dns(base, nc_login.replace("%uid", "frank")), set(), "a revoked member")

    def nextcloud_groups():
        same(client.dns(base, nc_groups), all_groups, "the group list")
        members = client.search(f.group_dn("nextcloud"), "(objectClass=*)", "base", ["member"])
        same(
            ci(members[f.group_dn("nextcloud")]["member"]),
            ci({ann, f.user_dn("carol@acme.test")}),
            "the nextcloud group's member",
        )

    # Jellyfin LDAP-Auth plugin: LdapSearchFilter without {username}, so the plugin searches
    # (&<filter>(|(<attr>=<name>)…)) over LdapSearchAttributes "uid, mail" from LdapBaseDn; the
    # admin filter runs from LdapBaseDn and the plugin compares the DNs with the user's.
    jf_users = "(memberOf=cn=jellyfin-users,ou=groups,dc=acme,dc=test)"
    jf_admins = "(memberOf=cn=jellyfin-admins,ou=groups,dc=acme,dc=test)"

    def jellyfin_login():
        def login(name):
            escaped = escape_filter_chars(name)
            return client.dns(
                base, f"(&{jf_users}(|(uid={escaped})(mail={escaped})))", attrs=["uid"]
            )

        same(login("ann"), {ann}, "login as ann")
        same(login("bob@acme.test"), {f.user_dn("bob")}, "login as bob's email")
        same(login("zoe"), set(), "zoe (not in jellyfin-users)")
        same(login("frank"), set(), "frank (revoked)")

    def jellyfin_admin_and_sync():
        same(client.dns(base, jf_admins, attrs=[]), {ann}, "the admin filter")
        same(
            client.dns(base, jf_users, attrs=["uid"]), grouped, "the user filter alone (user sync)"
        )
        code, found = f.ldapsearch("-b", base, jf_users, "uid")
        same((code, set(found)), (SUCCESS, grouped), "ldapsearch with the user filter")

    # Grafana ldap.toml: search_filter "(uid=%s)" under search_base_dns; memberOf read from the
    # user (group_search_filter empty), or the POSIX group search with %s the uid, or the
    # groupOfNames search with group_search_filter_user_attribute = "dn".
    def grafana_login():
        found = client.search(
            people, "(uid=ann)", attrs=["uid", "givenName", "sn", "mail", "memberOf"]
        )
        same(set(found), {ann}, "search_filter (uid=%s)")
        same(ci(found[ann]["memberof"]), ci(ann_groups), "memberOf as Grafana reads it")
        bob = client.entry(f.user_dn("bob"), ["memberOf"])
        expect(
            "cn=grafana-editors,ou=groups,dc=acme,dc=test" in bob["memberof"],
            f"a group_mappings group_dn in bob's memberOf: {bob}",
        )
        same(
            client.dns(people, "(|(uid=ann)(uid=bob))"),
            {ann, f.user_dn("bob")},
            "the sync search of two logins",
        )

    def grafana_group_search():
        posix = client.dns(groups, "(&(objectClass=posixGroup)(memberUid=ann))", attrs=["dn"])
        same(posix, ann_groups, "group_search_filter (&(objectClass=posixGroup)(memberUid=%s))")
        names = client.dns(
            groups,
            f"(&(objectClass=groupOfNames)(member={escape_filter_chars(smith)}))",
            attrs=["dn"],
        )
        same(
            names,
            smith_groups,
            "group_search_filter (&(objectClass=groupOfNames)(member=%s)) with the DN",
        )

    # Portainer (api/ldap): searchUser "(&<Filter>(<UserNameAttribute>=<name>))", groups
    # "(&<GroupFilter>(<GroupAttribute>=<user DN>))" reading cn, and the listing searches.
    def portainer():
        same(
            client.dns(people, "(&(objectClass=inetOrgPerson)(uid=ann))", attrs=["dn"]),
            {ann},
            "searchUser",
        )
        found = client.search(
            groups,
            f"(&(objectClass=groupOfNames)(member={escape_filter_chars(ann)}))",
            attrs=["cn"],
        )
        same(set(found), ann_groups, "getGroupsByUser")
        same(
            {e["cn"][0] for e in found.values()},
            {
                "jellyfin-users",
                "jellyfin-admins",
                "gitea-admins",
                "nextcloud",
                f"ops ({acme.groups['ops']})",
            },
            "the group names Portainer takes (the first cn)",
        )
        same(
            client.dns(people, "(objectClass=inetOrgPerson)", attrs=["dn", "uid"]),
            active,
            "SearchUsers",
        )
        listed = client.search(groups, "(objectClass=groupOfNames)", attrs=["cn", "member"])
        same(set(listed), all_groups, "SearchGroups")

    # Authelia, implementation: custom, with the filters of its documentation.
    au_users = "(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person))"
    au_groups = "(&(member={dn})(objectClass=groupOfNames))"

    def authelia():
        def user(name):
            f_ = au_users.replace("{username_attribute}", "uid").replace("{mail_attribute}", "mail")
            return client.dns(
                people,
                f_.replace("{input}", escape_filter_chars(name)),
                attrs=["uid", "displayName", "mail", "memberOf"],
            )

        same(user("ann"), {ann}, "users_filter with ann")
        same(user("john.smith@acme.test"), {smith}, "users_filter with an email")
        same(user("frank"), set(), "users_filter with a revoked member")
        for dn, expected in [(ann, ann_groups), (smith, smith_groups)]:
            got = client.dns(
                groups, au_groups.replace("{dn}", escape_filter_chars(dn)), attrs=["cn"]
            )
            same(got, expected, f"groups_filter for {dn}")

    # SSSD with ldap_schema = rfc2307bis (and rfc2307's memberUid), no ID mapping: the filters
    # of sdap_async_users.c, sdap_async_groups.c and sdap_async_initgroups.c.
    def sssd():
        ann_entry = client.entry(ann, ["uidNumber"])
        uid = ann_entry["uidnumber"][0]
        nonzero_uid = "(&(uidNumber=*)(!(uidNumber=0)))"
        nonzero_gid = "(&(gidNumber=*)(!(gidNumber=0)))"
        same(
            client.dns(people, f"(&(uid=ann)(objectclass=posixAccount)(uid=*){nonzero_uid})"),
            {ann},
            "getpwnam",
        )
        same(
            client.dns(
                people, f"(&(uidNumber={uid})(objectclass=posixAccount)(uid=*){nonzero_uid})"
            ),
            {ann},
            "getpwuid",
        )
        same(
            client.dns(people, "(&(uid=ann)(objectclass=posixAccount))"),
            {ann},
            "(&(uid=ann)(objectclass=posixAccount))",
        )
        same(
            client.dns(people, f"(&(uidNumber={uid})(objectclass=posixAccount))"),
            {ann},
            "(&(uidNumber=…)(objectclass=posixAccount))",
        )
        nextcloud = client.entry(f.group_dn("nextcloud"), ["gidNumber", "memberUid"])
        gid = nextcloud["gidnumber"][0]
        same(sorted(nextcloud["memberuid"]), ["ann", "carol@acme.test"], "memberUid of nextcloud")
        same(
            client.dns(groups, f"(&(cn=nextcloud)(objectclass=posixGroup)(cn=*){nonzero_gid})"),
            {f.group_dn("nextcloud")},
            "getgrnam",
        )
        same(
            client.dns(groups, f"(&(gidNumber={gid})(objectclass=posixGroup)(cn=*){nonzero_gid})"),
            {f.group_dn("nextcloud")},
            "getgrgid",
        )
        same(
            client.dns(groups, f"(&(gidNumber={gid})(objectclass=posixGroup))"),
            {f.group_dn("nextcloud")},
            "(&(gidNumber=…)(objectclass=posixGroup))",
        )
        bis = f"(&(member={escape_filter_chars(ann)})(objectclass=posixGroup)(cn=*){nonzero_gid})"
        same(client.dns(groups, bis), ann_groups, "initgroups, rfc2307bis (member=<DN>)")
        same(
            client.dns(groups, f"(&(memberUid=ann)(objectclass=posixGroup)(cn=*){nonzero_gid})"),
            ann_groups,
            "initgroups, rfc2307 (memberUid)",
        )
        same(
            client.dns(groups, "(&(objectclass=posixGroup)(memberUid=ann))"),
            ann_groups,
            "(&(objectclass=posixGroup)(memberUid=ann))",
        )
        code, found = f.ldapsearch(
            "-b",
            people,
            "(&(uid=ann)(objectclass=posixAccount))",
            "uidNumber",
            "gidNumber",
            "homeDirectory",
            "loginShell",
        )
        same(
            (code, found),
            (
                SUCCESS,
                {
                    ann: {
                        "uidnumber": [uid],
                        "gidnumber": [uid],
                        "homedirectory": ["/home/ann"],
                        "loginshell": ["/bin/bash"],
                    }
                },
            ),
            "ldapsearch, getpwnam's attributes",
        )

    run.check(
        "Gitea/Forgejo: user filter finds the member by uid or mail, under the user search base",
        gitea_login,
    )
    run.check("Gitea/Forgejo: admin filter (memberOf=…) under the user's DN", gitea_admin)
    run.check("Gitea/Forgejo: user sync, the user filter with * (paged 500)", gitea_sync)
    run.check("Gitea/Forgejo: the user filter through ldapsearch", gitea_ldapsearch)
    run.check(
        "Nextcloud: the wizard's base check (objectClass=* without parentheses) and memberOf test",
        nextcloud_wizard,
    )
    run.check(
        "Nextcloud: user list (paged 500), entryUUID, users limited to a group", nextcloud_users
    )
    run.check("Nextcloud: the login filter with username and email", nextcloud_login)
    run.check("Nextcloud: the group filter, and a group's member read", nextcloud_groups)
    run.check("Jellyfin: login search (&<memberOf filter>(|(uid=…)(mail=…)))", jellyfin_login)
    run.check(
        "Jellyfin: admin filter, user filter alone, and through ldapsearch", jellyfin_admin_and_sync
    )
    run.check(
        "Grafana: search_filter (uid=%s), memberOf for group_mappings, the sync search",
        grafana_login,
    )
    run.check(
        "Grafana: group_search_filter, POSIX (memberUid) and groupOfNames (member=<DN>)",
        grafana_group_search,
    )
    run.check("Portainer: searchUser, getGroupsByUser, SearchUsers, SearchGroups", portainer)
    run.check("Authelia: users_filter and groups_filter", authelia)
    run.check(
        "SSSD: getpwnam, getpwuid, getgrnam, getgrgid, initgroups (rfc2307bis and rfc2307)", sssd
    )
    client.close()


def agreement(f, org):
    """memberOf of every member and member/uniqueMember/memberUid of every group are exactly
    what SCIM's GET /Groups says."""
    client = f.bound(org)
    users = org.scim("GET", "/Users?count=1000")["Resources"]
    groups = org.scim("GET", "/Groups?count=1000")["Resources"]
    active = {u["id"]: u["userName"] for u in users if u.get("active", True)}

    def dn_of(scim_id, base):
        found = client.dns(base, f"(entryUUID={scim_id})")
        expect(len(found) == 1, f"entryUUID={scim_id}: {found}")
        return found.pop()

    user_dns = {uid: dn_of(uid, org.people()) for uid in active}
    expected_member_of = {dn: set() for dn in user_dns.values()}
    for group in groups:
        gdn = dn_of(group["id"], org.groups_ou())
        members = [m["value"] for m in group.get("members", []) if m["value"] in active]
        entry = client.entry(gdn, ["member", "uniqueMember", "memberUid"])
        want = {user_dns[m] for m in members}
        same(ci(entry.get("member", [])), ci(want), f"{gdn}: member")
        same(ci(entry.get("uniquemember", [])), ci(want), f"{gdn}: uniqueMember")
        same(
            sorted(entry.get("memberuid", [])),
            sorted(active[m] for m in members),
            f"{gdn}: memberUid",
        )
        for m in members:
            expected_member_of[user_dns[m]].add(gdn.lower())
    for dn, want in expected_member_of.items():
        got = client.entry(dn, ["memberOf"]).get("memberof", [])
        same(ci(got), want, f"{dn}: memberOf")
    client.close()


def paging(run, f):
    org = f.paging
    expected = {f.user_dn(name, org) for name in f.paging_names}
    client = f.bound(org)

    def python_paged_search():
        got = client.conn.extend.standard.paged_search(
            org.people(),
            "(objectClass=inetOrgPerson)",
            attributes=["uid"],
            paged_size=500,
            generator=False,
        )
        dns = [e["dn"] for e in got if e.get("type") == "searchResEntry"]
        same(len(dns), PAGING_MEMBERS, "entries")
        same(set(dns), expected, "every member exactly once")

    def python_pages():
        cookie, pages, seen = None, [], []
        while True:
            client.conn.search(
                org.people(), "(uid=*)", attributes=["1.1"], paged_size=500, paged_cookie=cookie
            )
            same(client.code(), SUCCESS, f"page {len(pages) + 1}")
            page = [e["dn"] for e in client.conn.response if e.get("type") == "searchResEntry"]
            pages.append(len(page))
            seen.extend(page)
            cookie = client.conn.result["controls"][PAGED_RESULTS]["value"]["cookie"]
            if not cookie or len(pages) > 20:
                break
        same(pages, [500] * 5, "page sizes")
        same((len(seen), set(seen)), (PAGING_MEMBERS, expected), "entries over the pages")

    def ldapsearch_paged():
        code, found = f.ldapsearch(
            "-E",
            "pr=500/noprompt",
            "-b",
            org.people(),
            "(objectClass=inetOrgPerson)",
            "1.1",
            org=org,
        )
        same(code, SUCCESS, "exit status")
        same(set(found), expected, "every member exactly once")

    def nextcloud_paged():
        got = client.conn.extend.standard.paged_search(
            org.base,
            "(&(|(objectclass=inetOrgPerson))(cn=*))",
            attributes=["cn", "uid", "mail", "entryUUID"],
            paged_size=500,
            generator=False,
        )
        same(
            {e["dn"] for e in got if e.get("type") == "searchResEntry"},
            expected,
            "Nextcloud's user listing",
        )

    def unpaged_and_size_limit():
        same(
            client.dns(org.people(), "(objectClass=posixAccount)"),
            expected,
            "one unpaged search of 2,500",
        )
        code, found = f.ldapsearch(
            "-z", "10", "-b", org.people(), "(objectClass=*)", "1.1", org=org
        )
        same(
            (code, len(found)), (SIZE_LIMIT, 10), "ldapsearch -z 10 (sizeLimitExceeded, 10 entries)"
        )

    def changes_between_pages():
        # A sync that pages through the directory while the identity provider revokes someone
        # must still see every other member once (RFC 2696 leaves this to the server; a
        # cookie that is an offset into the current answer skips the entry after a removed one).
        client.conn.search(org.people(), "(uid=*)", attributes=["1.1"], paged_size=500)
        seen = [e["dn"] for e in client.conn.response if e.get("type") == "searchResEntry"]
        cookie = client.conn.result["controls"][PAGED_RESULTS]["value"]["cookie"]
        gone = seen[0]
        gone_name = gone.split(",")[0].removeprefix("uid=")
        org.patch(
            f"/Users/{org.users_by_name(gone_name)}",
            {"op": "replace", "path": "active", "value": False},
        )
        try:
            while cookie:
                client.conn.search(
                    org.people(), "(uid=*)", attributes=["1.1"], paged_size=500, paged_cookie=cookie
                )
                same(client.code(), SUCCESS, "a later page")
                seen.extend(
                    e["dn"] for e in client.conn.response if e.get("type") == "searchResEntry"
                )
                cookie = client.conn.result["controls"][PAGED_RESULTS]["value"]["cookie"]
            missing = sorted(expected - set(seen))
            same(missing, [], f"members never returned after {gone} was revoked between pages")
            same(len(seen), len(set(seen)), "entries returned once")
        finally:
            org.patch(
                f"/Users/{org.users_by_name(gone_name)}",
                {"op": "replace", "path": "active", "value": True},
            )

    def beyond_ten_thousand():
        # More members than one search used to load: the last one is found, and paging
        # returns everyone.
        more = [f"q{i:05d}@paging.test" for i in range(BEYOND - PAGING_MEMBERS)]
        csv = os.path.join(f.args.data_dir, "more-members.csv")
        with open(csv, "w") as out:
            out.write("userName,displayName\n")
            out.writelines(f"{name},{name.split('@')[0]}\n" for name in more)
        f.app.cli("import", org.id, csv)
        everyone = expected | {f.user_dn(name, org) for name in more}
        problems = []
        last = client.dns(org.people(), f"(uid={more[-1]})")
        if last != {f.user_dn(more[-1], org)}:
            problems.append(f"(uid={more[-1]}), the {BEYOND:,}th member, found {sorted(last)}")
        got = client.conn.extend.standard.paged_search(
            org.people(),
            "(objectClass=inetOrgPerson)",
            attributes=["1.1"],
            paged_size=1000,
            generator=False,
        )
        dns = [e["dn"] for e in got if e.get("type") == "searchResEntry"]
        if len(dns) != BEYOND or set(dns) != everyone:
            problems.append(
                f"a paged search (1,000 a page) returned {len(dns):,} entries,"
                f" {len(set(dns)):,} distinct, {len(everyone - set(dns)):,} members missing"
            )
        entries, code = client.answer(org.people(), "(objectClass=inetOrgPerson)", attrs=["1.1"])
        if (code, len(entries)) != (SIZE_LIMIT, 5000):
            problems.append(
                f"an unpaged search answered {code} with {len(entries):,} entries"
                " (expected 4 with 5,000)"
            )
        expect(not problems, "; ".join(problems))

    run.check(
        f"paging: python ldap3 paged_search(paged_size=500) over {PAGING_MEMBERS:,}, each once",
        python_paged_search,
    )
    run.check(
        "paging: python ldap3 search(paged_size=500) pages by cookie: 5 pages of 500", python_pages
    )
    run.check("paging: ldapsearch -E pr=500/noprompt, each member once", ldapsearch_paged)
    run.check("paging: Nextcloud's paged user listing over the 2,500", nextcloud_paged)
    run.check(
        "limits: an unpaged search of 2,500; ldapsearch -z 10 gets 10 and sizeLimitExceeded (4)",
        unpaged_and_size_limit,
    )
    run.check(
        "paging: a member revoked between pages does not hide another member from the pages after",
        changes_between_pages,
    )
    run.check(
        f"scale: {BEYOND:,} members (8,000 more by `import`): the last found by uid,"
        " all paged once, unpaged capped at 5,000",
        beyond_ten_thousand,
    )
    client.close()


def changes(run, f):
    acme = f.acme
    client = f.bound()
    jf = f.group_dn("jellyfin-users")

    def members_of(group_dn):
        entry = client.entry(group_dn, ["member", "uniqueMember", "memberUid"])
        return (
            ci(entry.get("member", [])),
            ci(entry.get("uniquemember", [])),
            set(entry.get("memberuid", [])),
        )

    # SSSD's incremental enumeration asks for what changed since the newest modifyTimestamp
    # it has seen; the changes below land at least a second later.
    newest = max(
        e["modifytimestamp"][0]
        for e in client.search(acme.people(), "(uid=*)", attrs=["modifyTimestamp"]).values()
    )
    time.sleep(1.1)

    def sssd_incremental():
        # Members: dave (revoked, restored), erin (renamed), and bob and Smith, whose memberOf
        # changed with the group's name. Groups: the renamed one, and jellyfin-users, whose
        # member values changed with dave and erin.
        since = f"(modifyTimestamp>={newest})(!(modifyTimestamp={newest}))"
        users = f"(&(uid=*)(objectclass=posixAccount){since})"
        smith = "uid=Smith\\, John,ou=people,dc=acme,dc=test"
        same(
            client.dns(acme.people(), users),
            {f.user_dn("dave"), f.user_dn("erin.new"), f.user_dn("bob"), smith},
            users,
        )
        groups = f"(&(cn=*)(objectclass=posixGroup){since})"
        same(
            client.dns(acme.groups_ou(), groups),
            {f.group_dn("grafana-writers"), f.group_dn("jellyfin-users")},
            groups,
        )

    def revoke_and_restore():
        dave = f.user_dn("dave")
        before = client.entry(dave)
        before_members = members_of(jf)
        acme.patch(
            f"/Users/{acme.users['dave']}", {"op": "replace", "path": "active", "value": False}
        )
        same(client.dns(acme.base, "(uid=dave)"), set(), "(uid=dave) right after the revoke")
        same(
            client.answer(dave, "(objectClass=*)", "base")[1],
            NO_SUCH_OBJECT,
            "dave's DN after the revoke",
        )
        member, unique, uids = members_of(jf)
        expect(
            dave.lower() not in member and dave.lower() not in unique and "dave" not in uids,
            f"dave still in jellyfin-users: {member} {uids}",
        )
        expect(
            dave
            not in client.dns(acme.base, "(memberOf=cn=jellyfin-users,ou=groups,dc=acme,dc=test)"),
            "dave still found by memberOf",
        )
        acme.patch(f"/Users/{acme.users['dave']}", {"op": "replace", "value": {"active": True}})
        after = client.entry(dave)
        same(
            {k: v for k, v in after.items() if k != "modifytimestamp"},
            {k: v for k, v in before.items() if k != "modifytimestamp"},
            "dave after the restore",
        )
        same(members_of(jf), before_members, "jellyfin-users after the restore")

    def rename_user():
        old, new = f.user_dn("erin"), f.user_dn("erin.new")
        before = client.entry(old)
        acme.patch(
            f"/Users/{acme.users['erin']}",
            {"op": "replace", "path": "userName", "value": "erin.new"},
        )
        same(client.answer(old, "(objectClass=*)", "base")[1], NO_SUCH_OBJECT, "the old DN")
        same(client.dns(acme.base, "(uid=erin)"), set(), "(uid=erin)")
        same(client.dns(acme.base, "(uid=erin.new)"), {new}, "(uid=erin.new)")
        after = client.entry(new)
        for name in ["entryuuid", "uidnumber", "gidnumber", "memberof", "mail", "cn"]:
            same(after.get(name), before.get(name), f"{name} after the rename")
        same(after["homedirectory"], ["/home/erin.new"], "homeDirectory")
        member, unique, uids = members_of(jf)
        expect(
            new.lower() in member and old.lower() not in member, f"jellyfin-users member: {member}"
        )
        expect(
            new.lower() in unique and old.lower() not in unique,
            f"jellyfin-users uniqueMember: {unique}",
        )
        expect("erin.new" in uids and "erin" not in uids, f"jellyfin-users memberUid: {uids}")

    def rename_group():
        old, new = f.group_dn("grafana-editors"), f.group_dn("grafana-writers")
        before = client.entry(old, ["entryUUID", "gidNumber", "member"])
        acme.patch(
            f"/Groups/{acme.groups['grafana-editors']}",
            {"op": "replace", "path": "displayName", "value": "grafana-writers"},
        )
        same(client.answer(old, "(objectClass=*)", "base")[1], NO_SUCH_OBJECT, "the old DN")
        same(
            client.entry(new, ["entryUUID", "gidNumber", "member"]),
            before,
            "the group under its new DN",
        )
        for user in [
            "uid=bob,ou=people,dc=acme,dc=test",
            "uid=Smith\\, John,ou=people,dc=acme,dc=test",
        ]:
            member_of = ci(client.entry(user, ["memberOf"]).get("memberof", []))
            expect(
                new.lower() in member_of and old.lower() not in member_of,
                f"{user} memberOf: {member_of}",
            )
        same(
            client.dns(acme.people(), "(memberOf=cn=grafana-writers,ou=groups,dc=acme,dc=test)"),
            {f.user_dn("bob"), "uid=Smith\\, John,ou=people,dc=acme,dc=test"},
            "(memberOf=<new DN>)",
        )
        same(
            client.dns(acme.people(), "(memberOf=cn=grafana-editors,ou=groups,dc=acme,dc=test)"),
            set(),
            "(memberOf=<old DN>)",
        )

    run.check(
        "SCIM revoke (PATCH active false) hides the member from the next search and from"
        " groups; restore brings it back unchanged",
        revoke_and_restore,
    )
    run.check("SCIM rename of a user (userName) changes its DN everywhere; ids stay", rename_user)
    run.check(
        "SCIM rename of a group (displayName) changes its DN everywhere; ids stay", rename_group
    )
    run.check(
        "SSSD: incremental enumeration (modifyTimestamp>=…): exactly what changed since",
        sssd_incremental,
    )
    run.check(
        "memberOf and member/uniqueMember/memberUid agree with SCIM (after the changes)",
        lambda: agreement(f, acme),
    )
    client.close()


def isolation(run, f):
    acme, globex = f.acme, f.globex

    def globex_sees_nothing_of_acme():
        client = f.bound(globex)
        bases = [
            acme.base,
            acme.people(),
            acme.groups_ou(),
            f.user_dn("ann"),
            "dc=test",
            "o=nowhere",
            "",
        ]
        for base in bases:
            for scope in ["base", "one", "subtree"]:
                if base == "" and scope == "base":
                    continue  # the root DSE
                entries, code = client.answer(base, "(objectClass=*)", scope, ["*", "+"])
                same((code, entries), (NO_SUCH_OBJECT, {}), f"base {base!r}, scope {scope}")
        own = client.search(globex.base, "(objectClass=*)", "subtree", ["*", "+"])
        expect(
            all(dn.lower().endswith("o=globex") for dn in own), f"Globex's tree holds {sorted(own)}"
        )
        same(
            client.dns(globex.base, "(uid=ann)"),
            {f"uid=ann,ou=people,{globex.base}"},
            "(uid=ann) in Globex",
        )
        same(
            client.dns(globex.base, f"(entryUUID={acme.users['ann']})"),
            set(),
            "Acme's ann by entryUUID",
        )
        same(
            client.dns(globex.base, "(memberOf=cn=jellyfin-users,ou=groups,dc=acme,dc=test)"),
            set(),
            "Acme's group by memberOf",
        )
        dse = client.search("", "(objectClass=*)", "base", ["namingContexts"])
        same(dse, {"": {"namingcontexts": [globex.base]}}, "Globex's root DSE")
        client.close()

    def acme_sees_nothing_of_globex():
        client = f.bound()
        for scope in ["base", "one", "subtree"]:
            same(
                client.answer(globex.base, "(objectClass=*)", scope)[1],
                NO_SUCH_OBJECT,
                f"Globex's base, scope {scope}",
            )
        client.close()

    def ldapsearch_isolation():
        for scope in ["base", "one", "sub"]:
            code, found = f.ldapsearch("-s", scope, "-b", acme.base, "(objectClass=*)", org=globex)
            same(
                (code, found),
                (NO_SUCH_OBJECT, {}),
                f"ldapsearch -s {scope} -b {acme.base} with Globex's key",
            )

    run.check(
        "isolation: Globex's key sees nothing of Acme on every scope, from any base",
        globex_sees_nothing_of_acme,
    )
    run.check("isolation: and Acme's key nothing of Globex", acme_sees_nothing_of_globex)
    run.check(
        "isolation: ldapsearch with Globex's key under Acme's base: noSuchObject (32)",
        ldapsearch_isolation,
    )


def writes(run, f):
    ann = f.user_dn("ann")
    bind = f.bind_args()
    entry = (
        f"dn: uid=mallory,{f.acme.people()}\n"
        "objectClass: inetOrgPerson\nuid: mallory\ncn: Mallory\nsn: M\n"
    )
    change = f"dn: {ann}\nchangetype: modify\nreplace: title\ntitle: Boss\n"
    tools = {
        "ldapadd": (["ldapadd", *bind], entry),
        "ldapmodify": (["ldapmodify", *bind], change),
        "ldapdelete": (["ldapdelete", *bind, ann], None),
        "ldapmodrdn": (["ldapmodrdn", *bind, ann, "uid=ann2"], None),
        "ldappasswd": (["ldappasswd", *bind, "-s", "new password", ann], None),
    }

    def openldap_tools():
        for name, (command, stdin) in tools.items():
            code, out, err = tool(*command, stdin=stdin)
            if name == "ldappasswd":
                # ldappasswd exits 1 on any refusal and prints the result code.
                expect(code != SUCCESS and "(53)" in out, f"ldappasswd: {code} {out.strip()!r}")
            else:
                same(code, UNWILLING, f"{name} exit status ({err.strip()})")
        client = f.bound()
        same(
            client.entry(ann, ["title", "uid"]),
            {"title": ["Engineer"], "uid": ["ann"]},
            "ann afterwards",
        )
        client.close()

    def python_ldap3():
        client = f.bound()
        attempts = {
            "add": lambda c: c.add(
                f"uid=mallory,{f.acme.people()}", ["inetOrgPerson"], {"cn": "M", "sn": "M"}
            ),
            "modify": lambda c: c.modify(ann, {"title": [(ldap3.MODIFY_REPLACE, ["Boss"])]}),
            "delete": lambda c: c.delete(ann),
            "modify_dn": lambda c: c.modify_dn(ann, "uid=ann2"),
            "password modify": lambda c: c.extend.standard.modify_password(ann, None, "new"),
        }
        for name, attempt in attempts.items():
            attempt(client.conn)
            same(client.code(), UNWILLING, name)
        client.close()

    def ldapcompare():
        # Compare reads: a server may answer it (compareTrue 6, compareFalse 5) or refuse it
        # (53), but never answer it wrongly.
        for assertion, right in [
            ("uid:ann", 6),
            ("uid:bob", 5),
            ("title:Engineer", 6),
            ("mail:nobody@acme.test", 5),
        ]:
            code, _, err = tool("ldapcompare", *bind, ann, assertion)
            expect(
                code in (right, UNWILLING),
                f"ldapcompare {assertion}: expected {right} (or 53), got {code} ({err.strip()})",
            )

    run.check(
        "writes: ldapadd, ldapmodify, ldapdelete, ldapmodrdn, ldappasswd: unwillingToPerform (53)",
        openldap_tools,
    )
    run.check("ldapcompare: answered right (6 or 5) or refused (53), never wrong", ldapcompare)
    run.check(
        "writes: python ldap3 add, modify, delete, modify_dn, password modify get 53", python_ldap3
    )


def ldaps(run, f):
    acme = f.acme
    uri = f"ldaps://127.0.0.1:{f.args.ldaps_port}"
    bind = ["-x", "-H", uri, "-D", acme.service_dn(f.acme_key_id), "-w", f.acme_key]

    def ldapwhoami_ldaps():
        code, out, err = tool(
            "ldapwhoami", *bind, env={"LDAPTLS_CACERT": f.args.cacert, "LDAPTLS_REQCERT": "demand"}
        )
        same(
            (code, out.strip()),
            (SUCCESS, f"dn:{acme.service_dn(f.acme_key_id)}"),
            f"ldapwhoami over LDAPS ({err.strip()})",
        )
        code, out, err = tool(
            "ldapsearch",
            *bind,
            "-LLL",
            "-b",
            acme.people(),
            "(uid=ann)",
            "uid",
            env={"LDAPTLS_CACERT": f.args.cacert},
        )
        same(
            (code, parse_ldif(out)),
            (SUCCESS, {f.user_dn("ann"): {"uid": ["ann"]}}),
            f"ldapsearch over LDAPS ({err.strip()})",
        )

    def untrusted_is_refused():
        code, _, _ = tool(
            "ldapwhoami", *bind, env={"LDAPTLS_CACERT": "/dev/null", "LDAPTLS_REQCERT": "demand"}
        )
        expect(code != SUCCESS, "a client that does not trust the certificate connected anyway")

    def python_ldaps():
        client = f.bound(use_ssl=True)
        same(
            client.conn.extend.standard.who_am_i(),
            f"dn:{acme.service_dn(f.acme_key_id)}",
            "who_am_i over LDAPS",
        )
        same(
            client.dns(acme.people(), "(mail=ann@acme.test)"),
            {f.user_dn("ann")},
            "a search over LDAPS",
        )
        client.close()

    run.check(
        "LDAPS: ldapwhoami and ldapsearch with LDAPTLS_CACERT=<the test certificate>",
        ldapwhoami_ldaps,
    )
    run.check(
        "LDAPS: a client that does not trust the certificate is refused", untrusted_is_refused
    )
    run.check("LDAPS: python ldap3 over SSL, certificate verified", python_ldaps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--http", required=True)
    parser.add_argument("--ldap-port", type=int, required=True)
    parser.add_argument("--ldaps-port", type=int)
    parser.add_argument("--cacert")
    args = parser.parse_args()

    run = Run()
    run.section("provisioning: three organizations over SCIM, 2,500 members by Bulk")
    fixture = Fixture(args)
    run.section("binds and the root DSE (ldapwhoami, ldapsearch, python ldap3)")
    binds(run, fixture)
    run.section("the tree and its attributes")
    tree(run, fixture)
    run.section("each application's own filters")
    applications(run, fixture)
    run.check(
        "memberOf and member/uniqueMember/memberUid agree with SCIM's GET /Groups",
        lambda: agreement(fixture, fixture.acme),
    )
    run.section(f"paged results over {PAGING_MEMBERS} members")
    paging(run, fixture)
    run.section("SCIM changes seen by the very next search")
    changes(run, fixture)
    run.section("two organizations")
    isolation(run, fixture)
    run.section("writes refused")
    writes(run, fixture)
    if args.ldaps_port:
        run.section("LDAPS")
        ldaps(run, fixture)
    else:
        print("SKIP LDAPS: this build has no --ldaps-listen", flush=True)

    print(f"ldap: {run.passed} passed, {len(run.failed)} failed ({time.monotonic() - START:.0f} s)")
    for name in run.failed:
        print(f"  failed: {name}")
    sys.exit(1 if run.failed else 0)


if __name__ == "__main__":
    main()
