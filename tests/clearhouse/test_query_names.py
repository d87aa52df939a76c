"""A query parameter an API route does not read is refused, so a misspelt filter is never
silently ignored; the portal's pages take what browsers and links add."""

from factories import sign_up


def test_an_unknown_query_parameter_is_refused_and_named(client):
    holder = sign_up(client)

    assert client.get("/v1/notices?unread=true", headers=holder.headers).status_code == 200
    refused = client.get("/v1/notices?unred=true", headers=holder.headers)

    assert refused.status_code == 400
    assert refused.json()["type"].endswith("/invalid-parameters")
    assert "'unred'" in refused.json()["detail"]
    assert client.get("/sign-in?notice=signed-out").status_code == 200


def test_a_filter_sent_twice_is_refused_not_read_as_the_last(client):
    creator = sign_up(client)

    for query in ("state=released&state=blocked", "taken_down=true&taken_down=false"):
        refused = client.get(f"/v1/generations?{query}", headers=creator.headers)

        assert refused.status_code == 400, refused.text
        assert refused.json()["type"].endswith("/invalid-parameters")
        assert "once" in refused.json()["detail"]
    assert client.get("/v1/generations?state=released", headers=creator.headers).status_code == 200


def test_a_yes_or_no_filter_takes_true_or_false_only(client):
    # The schema says boolean: "0", "yes" or "on" would be read by guesswork (pydantic's
    # lax booleans), and a typo such as "ture" would be refused while "1" was not.
    holder = sign_up(client)

    for path in ("/v1/notices?unread={}", "/v1/generations?taken_down={}"):
        for value in ("true", "false"):
            assert client.get(path.format(value), headers=holder.headers).status_code == 200
        for value in ("0", "1", "yes", "off", "True"):
            refused = client.get(path.format(value), headers=holder.headers)

            assert refused.status_code == 400, (path, value, refused.text)
            assert refused.json()["type"].endswith("/invalid-parameters")
