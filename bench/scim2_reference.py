"""The Python reference server of bench/run.sh: scim2-server's ASGI application over its
in-memory storage (AsyncInMemoryStorage), with RFC 7643's schemas and resource types, under
uvicorn:

    SCIM2_BENCH_TOKEN=… uvicorn --app-dir bench scim2_reference:app --port 8081

- One static bearer token, SCIM2_BENCH_TOKEN, checked as `scim2-server --bearer-token` does.
- Served under /v2/<any name>/… as well as /v2/…, so that the benchmark's wrk scripts, which
  address /v2/<org>/Users, drive both servers unchanged.
- At start, before it listens, it creates SCIM2_BENCH_SEED members (userName, emails,
  displayName, name, externalId, active) named by SCIM2_BENCH_TEMPLATE with "{}" replaced by
  0…N-1, each through the same handler a POST /Users goes through, and writes their ids, one
  per line in that order, to SCIM2_BENCH_IDS.

scim2-server's own command (`scim2-server`) serves the same service over WSGI with a thread
per request; the ASGI application under uvicorn is the faster of the two.
"""

import json
import os

from scim2_models import ScimProvider
from scim2_models import UnauthorizedException
from scim2_server.applications.asgi import ASGIApplication
from scim2_server.memory import AsyncInMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config

TOKEN = os.environ["SCIM2_BENCH_TOKEN"]
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


class BenchApplication(ASGIApplication):
    """Refuses a request without the bench's token; seeds members at start."""

    def check_auth(self, request) -> None:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != TOKEN:
            raise UnauthorizedException

    async def seed(self) -> None:
        count = int(os.environ.get("SCIM2_BENCH_SEED", "0"))
        template = os.environ.get("SCIM2_BENCH_TEMPLATE", "u{}@bench.test")
        ids = []
        for i in range(count):
            name = template.replace("{}", str(i))
            body = {
                "schemas": [USER_URN],
                "userName": name,
                "displayName": f"Member {i}",
                "name": {"givenName": "Member", "familyName": f"N{i}"},
                "externalId": f"ext-{i}",
                "emails": [{"value": name, "type": "work", "primary": True}],
                "active": True,
            }
            response = await self.serve(
                ScimRequest(
                    method="POST",
                    base_url="http://127.0.0.1/v2",
                    path="/Users",
                    headers={
                        "Authorization": f"Bearer {TOKEN}",
                        "Content-Type": "application/scim+json",
                    },
                    body=json.dumps(body).encode(),
                )
            )
            if int(response.status) != 201:
                raise RuntimeError(f"seeding {name}: {response.status} {response.body}")
            ids.append(response.body["id"])
        if "SCIM2_BENCH_IDS" in os.environ:
            with open(os.environ["SCIM2_BENCH_IDS"], "w") as out:
                out.write("".join(f"{i}\n" for i in ids))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await self.seed()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
            return
        parts = scope["path"].split("/", 3)  # "", "v2", <tenant or endpoint>, rest
        if len(parts) == 4 and parts[1] == "v2" and parts[2] not in ENDPOINTS:
            scope = {**scope, "path": f"/v2/{parts[3]}"}
        await super().__call__(scope, receive, send)


ENDPOINTS = {
    "Users",
    "Groups",
    "Me",
    "Bulk",
    ".search",
    "Schemas",
    "ResourceTypes",
    "ServiceProviderConfig",
}

config = load_default_service_provider_config()
config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
provider = ScimProvider.from_discovery(
    load_default_schemas().values(), load_default_resource_types().values(), config=config
)
app = BenchApplication(
    AsyncInMemoryStorage(), provider, service=ScimService(provider, secret=os.urandom(32))
)
