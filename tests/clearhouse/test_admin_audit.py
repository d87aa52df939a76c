"""Every staff action leaves a trace in the audit log, naming who did it; the account it
was done to sees it in its data export."""

from factories import PASSWORD, promote, sign_up


def _account_trail(client, user) -> list[dict]:
    export = client.get("/v1/accounts/me/export", headers=user.headers).json()
    return [entry["body"] for entry in export["audit_entries"] if entry["body"]["asset_id"] is None]


def test_role_revenue_share_and_disabling_are_audited_with_the_admin(client, holder, session):
    admin = promote(session, sign_up(client), "admin")
    url = f"/v1/admin/accounts/{holder.id}"
    client.patch(url, headers=admin.headers, json={"role": "moderator", "revenue_share_bps": 7000})
    client.patch(url, headers=admin.headers, json={"role": "holder"})
    client.patch(url, headers=admin.headers, json={"disabled": True})
    client.patch(url, headers=admin.headers, json={"disabled": False})
    # Asking for what already is changes nothing and records nothing.
    client.patch(url, headers=admin.headers, json={"role": "holder", "revenue_share_bps": 7000})

    # Disabling ended the holder's tokens: they sign in again to read their export.
    token = client.post("/v1/auth/token", data={"username": holder.email, "password": PASSWORD})
    holder.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    trail = _account_trail(client, holder)
    assert [(body["action"], body["details"].get("after")) for body in trail] == [
        ("account.role_changed", "moderator"),
        ("account.revenue_share_changed", 7000),
        ("account.role_changed", "holder"),
        ("account.disabled", None),
        ("account.enabled", None),
    ]
    assert {body["actor_id"] for body in trail} == {str(admin.id)}
    assert trail[1]["details"]["before"] == 8000
    assert all(body["details"]["account_id"] == str(holder.id) for body in trail)
    # The admin's own export does not carry what they did to others' accounts.
    assert _account_trail(client, admin) == []


def test_a_refused_admin_change_leaves_no_trace(client, holder):
    refused = client.patch(
        f"/v1/admin/accounts/{holder.id}", headers=holder.headers, json={"role": "admin"}
    )
    assert refused.status_code == 403
    assert _account_trail(client, holder) == []
