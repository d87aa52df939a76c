"""Organisations for tests: one made by its first owner, and members added in their roles."""


def organisation(client, owner, name="Nova Studio") -> str:
    made = client.post("/v1/organisations", headers=owner.headers, json={"name": name})
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "owner"
    return made.json()["id"]


def add(client, owner, organisation_id, member, role) -> None:
    added = client.post(
        f"/v1/organisations/{organisation_id}/members",
        headers=owner.headers,
        json={"email": member.email, "role": role},
    )
    assert added.status_code == 201, added.text
