"""The shared fake-server parts (storyboard/testing/fakes/) carry a vendor of their own: a fake
for one more provider is only its protocol, and the fault draws keep their order."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from storyboard.testing.fakes.faults import FaultDraws
from storyboard.testing.fakes.handler import ApiError, FakeHandler, Route, invalid
from storyboard.testing.fakes.jobs import Job
from storyboard.testing.fakes.server import FakeServer

pytestmark = pytest.mark.timeout(60)


class TinyVendor(FakeServer):
    """A made-up API: POST /tasks, GET /tasks/{id}, answers {"task": id, "state": ...}."""

    label = "fake tiny"
    server_version = "FakeTiny/0.1"
    key_variable = "TINY_API_KEY"

    def routes(self) -> list[Route]:
        return [("POST", re.compile(r"/tasks"), FakeHandler.serve_create),
                ("GET", re.compile(r"/tasks/(.*)"), FakeHandler.serve_job), *super().routes()]

    def validate(self, body: Any) -> None:
        if not isinstance(body, dict) or not body.get("prompt"):
            raise invalid("prompt is required", "prompt")

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        state = job.status(time.monotonic()) if base_url else "in_progress"
        answer = {"task": job.id, "state": state}
        if state == "completed" and base_url:
            answer["url"] = self.download_url(job, base_url)
        return answer

    def price(self, body: dict[str, Any]) -> float:
        return 0.01

    def fault_error(self, kind: str) -> ApiError:
        return ApiError(int(kind), f"tiny fault {kind}", type_="server_error")

    def failure(self, kind: str) -> tuple[str, str]:
        return kind, f"tiny job {kind}"

    def unauthorized(self) -> ApiError:
        return ApiError(401, "tiny: who are you?")

    def job_not_found(self, job_id: str) -> ApiError:
        return ApiError(404, f"tiny: no task {job_id}")


def clip(body: dict[str, Any], out) -> None:
    out.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))


def test_a_new_vendor_fake_is_only_its_protocol():
    with TinyVendor(api_key="k", latency=0.05, renderer=clip, create_503=1) as fake, \
            httpx.Client(base_url=fake.base_url, headers={"Authorization": "Bearer k"}, timeout=10) as c:
        assert c.post("/tasks", json={"prompt": "x"}).json()["error"]["message"] == "tiny fault 503"
        assert c.post("/tasks", json={}).status_code == 400
        assert httpx.post(f"{fake.base_url}/tasks", json={"prompt": "x"}).status_code == 401
        task = c.post("/tasks", json={"prompt": "x"}).json()
        assert task["state"] == "in_progress"
        deadline = time.monotonic() + 10
        while (got := c.get(f"/tasks/{task['task']}").json())["state"] != "completed":
            assert time.monotonic() < deadline, got
            time.sleep(0.02)
        assert c.get(got["url"]).content.startswith(b"\0\0\0\x18ftyp")
        assert c.get("/tasks/nope").json()["error"]["message"] == "tiny: no task nope"
        assert c.get("/v2/videos/x").status_code == 404  # Together's routes are Together's only
        stats = c.get("/_fake/stats").json()
        assert (stats["creates"], stats["rejected"], stats["downloads"]) == (1, 3, 1)
        assert c.get("/").headers["server"].startswith("FakeTiny/0.1")


def test_counted_faults_are_drawn_in_a_fixed_order_and_consumed_once():
    draws = FaultDraws({"drop_before_create": 1, "create_429": 1, "create_500": 1, "create_402": 1})
    assert [draws.on_create("sha") for _ in range(5)] == ["drop", "429", "500", "402", None]
    draws = FaultDraws({"drop_get": 1, "get_503": 1})
    assert [draws.on_get("sha") for _ in range(3)] == ["drop", "503", None]
    draws = FaultDraws({"expire_downloads": 1, "drop_download": 1})
    assert draws.on_download("sha", url_expired=True) == "expired"  # an expired URL spends no count
    assert [draws.on_download("sha", url_expired=False) for _ in range(3)] == ["expired", "drop", None]


def test_chaos_draws_depend_on_the_request_not_on_arrival_order():
    def run(keys: list[str]) -> dict[str, str | None]:
        draws = FaultDraws({"chaos": 7, "chaos_rate": 0.5})
        return {k: draws.on_get(k) for k in keys}

    keys = [f"body-{i}" for i in range(40)]
    forward, backward = run(keys), run(keys[::-1])
    assert forward == backward and len(set(forward.values())) > 1
