"""Invitations for tests: naming an agent or adding a member sends one, and the relation
exists once the invitee accepts it."""


def invited(client, inviter, path: str, body: dict) -> dict:
    """``inviter``'s invitation, sent by a POST to ``path``: the 202's body."""
    sent = client.post(path, headers=inviter.headers, json=body)
    assert sent.status_code == 202, sent.text
    return sent.json()


def accepted(client, invitee, invitation: dict) -> dict:
    answer = client.post(f"/v1/invitations/{invitation['id']}/accept", headers=invitee.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "accepted"
    return answer.json()


def name_agent(client, person, agent) -> None:
    """``agent`` acts for ``person``: invited, and accepted."""
    accepted(
        client, agent, invited(client, person, "/v1/accounts/me/agents", {"email": agent.email})
    )
