"""Every example reply in the documents of ``openapi/`` reads as the document says (issue 23 item 8).

createTask's and recordInfo's example replies (each status, ``example`` or ``examples``) go through the
facade's parsers: a success envelope gives the task id (createTask) or a ``TaskInfo`` holding the
record's values (recordInfo); an error envelope raises the class ``_replies.ERRORS_BY_CODE`` names for
its code, carrying that code and message, whether the code comes as the HTTP status the document files
it under or in the body of an HTTP 200 (kie.ai sends both; reference "The reply envelope and codes").
The documents are read from ``openapi/`` (never ../shared), so a document added there is covered too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kie_gpt_image import APIError, ServerError, TaskState
from kie_gpt_image._api import parse_created_task, parse_task_info
from kie_gpt_image._replies import ERRORS_BY_CODE

ROOT = Path(__file__).resolve().parent.parent
CREATE = "/api/v1/jobs/createTask"
RECORD = "/api/v1/jobs/recordInfo"


def _examples() -> list[Any]:
    """(document, path, status, example name, reply) of every example reply of createTask and recordInfo."""
    found = []
    for file in sorted((ROOT / "openapi").glob("*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        for path in (CREATE, RECORD):
            for operation in doc.get("paths", {}).get(path, {}).values():
                for status, response in operation.get("responses", {}).items():
                    media = response.get("content", {}).get("application/json", {})
                    named = [("example", media["example"])] if "example" in media else []
                    named += [(k, v.get("value", v)) for k, v in (media.get("examples") or {}).items()]
                    for name, reply in named:
                        found.append(
                            pytest.param(
                                file.name,
                                path,
                                status,
                                reply,
                                id=f"{file.name}:{path.rsplit('/', 1)[1]}:{status}:{name}",
                            )
                        )
    return found


EXAMPLES = _examples()


def test_the_documents_carry_the_example_replies_the_issue_names() -> None:
    kinds = {(p.values[1], p.values[2]) for p in EXAMPLES}
    assert {(CREATE, "200"), (CREATE, "500"), (RECORD, "200")} <= kinds
    assert {status for path, status in kinds if path == RECORD} >= {"400", "401", "404", "422", "429", "500"}
    # one createTask success example per market page but the two that publish none
    assert sum(1 for p in EXAMPLES if p.values[1:3] == (CREATE, "200")) >= 59


def _expected_error(code: int) -> type[APIError]:
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        return ServerError if 500 <= code <= 599 else APIError
    return cls


def _parse(path: str, response: httpx.Response) -> Any:
    if path == CREATE:
        return parse_created_task(response)
    return parse_task_info(response, "asked-for-id")


def _millis(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


def _check_record(info: Any, record: dict[str, Any]) -> None:
    assert info.task_id == record["taskId"]
    if "state" in record:
        assert info.raw_state == record["state"]
        assert info.state is TaskState(record["state"])  # one of the five documented states
    if "model" in record:
        assert info.model == record["model"]
    if record.get("resultJson"):
        assert info.result_urls == tuple(json.loads(record["resultJson"]).get("resultUrls", ()))
    if record.get("param"):
        assert info.param == json.loads(record["param"])
    if "costTime" in record:
        assert info.cost_time_ms == record["costTime"]
    for key, value in (("createTime", info.created_at), ("completeTime", info.completed_at)):
        if record.get(key):
            assert _millis(value) == record[key]
            assert value is not None
            assert value.tzinfo is UTC
    for key, value in (("failCode", info.fail_code), ("failMsg", info.fail_msg)):
        if key in record:
            assert value == (record[key] or None)  # "" is no failure


@pytest.mark.parametrize(("document", "path", "status", "reply"), EXAMPLES)
def test_every_example_reply_is_parsed_as_documented(
    document: str, path: str, status: str, reply: Any
) -> None:
    assert isinstance(reply, dict), f"{document}: the example reply is not a JSON object"
    code = reply["code"]
    if code == 200:
        result = _parse(path, httpx.Response(int(status), json=reply))
        if path == CREATE:
            assert result.task_id == reply["data"]["taskId"]
        else:
            _check_record(result, reply["data"])
        return
    # The code as the document files it (HTTP status), and in the body of an HTTP 200.
    for http_status in (int(status), 200):
        with pytest.raises(APIError) as caught:
            _parse(path, httpx.Response(http_status, json=reply))
        assert type(caught.value) is _expected_error(code), http_status
        assert caught.value.code == code
        assert caught.value.msg == reply["msg"]
