"""One face, one owner, raced: two accounts enrol the same face at the same moment through
two `clearhouse serve` processes on one database (each with its own face index). Exactly one
becomes the owner; the other is held as a conflict for a moderator."""

import threading
from contextlib import ExitStack

import httpx
from enrolling import OBAMA, open_enrolment, send_frames
from factories import create_asset, sign_up
from live_server import clearhouse_serve

ROUNDS = 3


def test_two_accounts_enrolling_one_face_at_once_make_one_owner(stills_settings, tmp_path):
    with ExitStack() as stack:
        urls = [
            stack.enter_context(clearhouse_serve(stills_settings, log=tmp_path / f"{n}.log"))
            for n in range(2)
        ]
        clients = [stack.enter_context(httpx.Client(base_url=u, timeout=300)) for u in urls]
        for _ in range(ROUNDS):
            people = [sign_up(client) for client in clients]
            assets = [
                create_asset(client, person, kind="likeness")
                for client, person in zip(clients, people, strict=True)
            ]
            enrolments = [
                open_enrolment(client, person, asset["id"])
                for client, person, asset in zip(clients, people, assets, strict=True)
            ]
            start, outcomes = threading.Barrier(2), {}

            def enrol(n: int, start=start, outcomes=outcomes, enrolments=enrolments, people=people):
                start.wait()
                answer = send_frames(clients[n], people[n], enrolments[n]["id"], OBAMA)
                outcomes[n] = answer.json()["enrolment"]["status"]

            threads = [threading.Thread(target=enrol, args=(n,)) for n in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(outcomes.values()) == ["conflict", "enrolled"]
            # Free the face for the next round: the owner deletes their likeness.
            for client, person, asset in zip(clients, people, assets, strict=True):
                client.delete(f"/v1/assets/{asset['id']}", headers=person.headers)
