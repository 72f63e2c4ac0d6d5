"""Organizations over HTTP, on DynamoDB Local: an invitation accepted by 6 parallel requests
of its invited user makes exactly one membership, whichever request wins."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import ANN, BOB, sign_up_over_http

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def test_six_parallel_acceptances_of_one_invitation_give_exactly_one_2xx(live_server):
    url = live_server.url
    ann = sign_up_over_http(live_server, ANN)
    created = ann.post(f"{url}/orgs", json={"name": "Acme", "slug": "acme"})
    assert created.status_code == 201, created.text
    org_id = created.json()["organization"]["id"]
    sent = ann.post(f"{url}/orgs/{org_id}/invitations", json={"email": BOB, "role": "admin"})
    assert sent.status_code == 201, sent.text
    token = live_server.outbox.link(BOB).split("token=", 1)[1]
    bob = sign_up_over_http(live_server, BOB)

    def accept(_: int) -> int:
        response = bob.post(f"{url}/orgs/invitations/accept", json={"token": token})
        return response.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(accept, range(6)))
    assert [s for s in statuses if s < 300] == [200], statuses
    # The others lost the race: the invitation used up (404 invitation_not_found), or, read
    # just before the winner's write and asked after it, the membership there (409
    # already_member). Never a 5xx.
    assert set(statuses[1:]) <= {404, 409}, statuses
    members = [i for i in live_server.items("MEMBER#") if i["member_org_id"]["S"] == org_id]
    assert sorted(i["member_role"]["S"] for i in members) == ["admin", "owner"]
    (org,) = live_server.items("ORG#")
    assert org["member_count"]["N"] == "2"
    assert live_server.items("INVITE#") == []
    assert live_server.items("INVITETOKEN#") == []
    (bob_item,) = [i for i in live_server.items("USER#") if i["email"]["S"] == BOB]
    assert bob_item["orgs"]["SS"] == [org_id]
