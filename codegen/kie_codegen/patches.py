"""The patch table: every change the generator makes to kie.ai's published documents, with its reason.

Two stages. ``DOCUMENT_PATCHES`` fix what a published document states wrongly or in a form no tool
reads; they apply before the merge, so the contract tests (tests/contract.py) see them too. ``PATCHES``
normalise the merged document for the generator only: the generated parsers are strict (reference §7
"Known generator pitfalls"): an enum value the spec does not list raises ValueError, ``"data": null``
raises TypeError, a missing required key raises KeyError. kie.ai replies do carry such values (reference
"The reply envelope and codes": codes outside the table, ``data`` null on errors; §2: states beyond the
five listed must not crash a client). So response schemas are loosened there, while request schemas keep
their enums and required fields (the facade validates user input against them).

This module is data only: what each kind of entry does is in ``patch_types``, how it is applied in
``documents`` (document stage) and ``normalise`` (normalisation stage).
"""

from __future__ import annotations

from .patch_types import (
    DeriveOperationIds,
    DocumentPatch,
    DropNumberEnums,
    DropOperationKey,
    DropSchemaTitles,
    DropSecurityKey,
    Hoist,
    Loosen,
    Patch,
    Replace,
    Rewrite,
    SetAsideOtherApis,
    Supersede,
)
from .settings import MISSING, SEED

__all__ = ["DOCUMENT_PATCHES", "PATCHES"]

_RECORD_200 = "/paths/~1api~1v1~1jobs~1recordInfo/get/responses/200/content/application~1json/schema"


_CREATE_200_DOC = "/paths/~1api~1v1~1jobs~1createTask/post/responses/200/content/application~1json/schema"
_ENVELOPE = (
    "reference 'The reply envelope and codes': errors normally arrive as HTTP 200 with the code in the "
    "body and `data` null or absent (reported by clients tested live for 401, 402, 422, 501); the "
    "published 200 schema requires `data`, which such a reply lacks"
)


def _upload_200(path: str) -> str:
    return f"/paths/~1api~1{path}/post/responses/200/content/application~1json/schema"


_TASK_PATH = "/api/v1/jobs/createTask"
_QWEN2_T2I_MODEL = (
    "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json/schema/properties/model"
)
_QWEN2_T2I_WHY = (
    "openapi/qwen2--text-to-image.json states the image-edit model's id (qwen2/image-edit, the id of "
    "openapi/qwen2--image-edit.json) in its `model` enum, default and examples; the page itself names "
    "its model qwen2/text-to-image in its summary ('Image generation by qwen2/text-to-image') and in its "
    'request example (`"model": "qwen2/text-to-image"`): corrected to that value'
)

DOCUMENT_PATCHES: list[DocumentPatch] = [
    SetAsideOtherApis(
        _TASK_PATH,
        endpoints=(
            "GET /api/v1/jobs/recordInfo",
            "GET /api/v1/chat/credit",
            "POST /api/v1/common/download-url",
            "POST /api/file-stream-upload",
            "POST /api/file-base64-upload",
            "POST /api/file-url-upload",
        ),
        why="kie.ai's 'Market' docs section also publishes other APIs (chat completions, Claude messages, "
        "codex responses, Gemini: openapi/claude--claude-haiku-4-5.json, openapi/chat--gpt-5-2.json...): "
        "they are not createTask tasks (no taskId, no recordInfo), so they never become models; only "
        "market tasks and the endpoints the client calls are merged",
    ),
    DeriveOperationIds(
        why="some market pages state no operationId (openapi/google--nanobanana2.json, "
        "openapi/wan--2-7-image.json) but name their model in the one-value `model` enum; the generator "
        "needs one per operation and the model id is the page's identity",
    ),
    Rewrite(
        "strip-property-names",
        why='some pages publish field names with stray whitespace (`"image_urls "` in '
        'openapi/happyhorse--image-to-video.json, `"reference_video_urls "` in '
        "openapi/bytedance--seedance-2-fast.json) while their own request examples send the name without "
        "it; the name kie.ai reads is the trimmed one (a name that would then collide is an error)",
    ),
    *(
        Replace(
            f"{_QWEN2_T2I_MODEL}/{key}",
            before=before,
            after=after,
            documents="qwen2--text-to-image.json",
            why=_QWEN2_T2I_WHY,
        )
        for key, before, after in (
            ("enum", ["qwen2/image-edit"], ["qwen2/text-to-image"]),
            ("default", "qwen2/image-edit", "qwen2/text-to-image"),
            ("examples", ["qwen2/image-edit"], ["qwen2/text-to-image"]),
            (
                "x-apidog-enum",
                [{"value": "qwen2/image-edit", "name": "", "description": ""}],
                [{"value": "qwen2/text-to-image", "name": "", "description": ""}],
            ),
        )
    ),
    Supersede(
        "gpt-image--1-5-image-to-image.json",
        by=SEED,
        why="both describe gpt-image/1.5-image-to-image; the reference (intro: 'The seed document is "
        "the authority for createTask') makes the seed authoritative. The published copy stays in "
        "openapi/ unedited (tests/test_specs.py compares it with kie.ai's export) but is not merged",
    ),
    DropSecurityKey(
        "x-apidog",
        why="every key of an OpenAPI 3.0 Security Requirement Object names a security scheme; kie.ai's "
        "exports add an 'x-apidog' entry there, which openapi-python-client refuses to parse",
    ),
    Rewrite(
        "examples-to-example",
        why="OpenAPI 3.0 Schema Objects have `example` (one value); kie.ai's exports write 3.1's "
        "`examples` (a list) in 3.0.1 documents, which openapi-spec-validator and openapi-core reject; "
        "the first listed example is kept",
    ),
    Rewrite(
        "null-type-to-nullable",
        why="OpenAPI 3.0 has no type 'null' (3.1's spelling): openapi/common--get-task-detail.json's 422 "
        "reply says `data: {type: null}`; 3.0 says the same with nullable and the single value null",
    ),
    Replace(
        "/components/securitySchemes/BearerAuth/type",
        before="bearer",
        after="http",
        documents="*",
        why="OpenAPI 3.0 has no security scheme type 'bearer' (it is type 'http' with scheme 'bearer', "
        "as the seed states); reference 'Hosts and auth': every call sends 'Authorization: Bearer <key>'",
    ),
    Replace(
        "/servers",
        before=[{"url": "https://api.kie.ai", "description": "正式环境"}],
        after=[{"url": "https://kieai.redpandaai.co", "description": "File Upload API host"}],
        documents="file-upload-api--*.json",
        why="reference 'Hosts and auth': the File Upload API pages name https://kieai.redpandaai.co and a "
        "client tested live gets 404 for the upload paths on https://api.kie.ai, which these exports state",
    ),
    Replace(
        "/components/schemas/ApiResponse/required",
        before=["data"],
        after=MISSING,
        documents="*",
        why=_ENVELOPE,
    ),
    Replace(
        f"{_CREATE_200_DOC}/allOf/0/required",
        before=["data"],
        after=MISSING,
        documents="gpt--*.json",
        why=_ENVELOPE,
    ),
    Replace(
        "/paths/~1api~1v1~1chat~1credit/get/responses/200/content/application~1json/schema/required",
        before=["code", "msg", "data"],
        after=["code", "msg"],
        documents="common-api--get-account-credits.json",
        why=_ENVELOPE,
    ),
    *(
        Replace(
            f"{_upload_200(path)}/required",
            before=["success", "code", "msg", "data"],
            after=["success", "code", "msg"],
            documents=f"file-upload-api--upload-file-{name}.json",
            why="reference §3: upload errors (400/401/405/500) carry no usable `data`; " + _ENVELOPE[10:],
        )
        for path, name in (
            ("file-stream-upload", "stream"),
            ("file-base64-upload", "base-64"),
            ("file-url-upload", "url"),
        )
    ),
    Replace(
        "/paths/~1api~1v1~1jobs~1createTask/post/requestBody/content/application~1json/schema/properties"
        "/input/properties/prompt/maxLength",
        before=MISSING,
        after=20000,
        documents="gpt--gpt-image-2-image-to-image.json",
        why="openapi/gpt--gpt-image-2-image-to-image.json states the limit only in prose ('Text prompts, up "
        "to 20,000 characters'); its text-to-image sibling states it as maxLength 20000",
    ),
    Replace(
        "/paths/~1api~1v1~1common~1download-url/post/operationId",
        before="download-url",
        after="get-download-url",
        documents="common-api--download-url.json",
        why="keeps the generated names (kie_api.api.default.get_download_url, GetDownloadUrlBody) that "
        "facade/kie_gpt_image/_api.py and the emulator's fault names use; the page is 'Get Download URL'",
    ),
]


PATCHES: list[Patch] = [
    DropNumberEnums(
        why="openapi-python-client makes enums of strings or of integers only: a number enum with a "
        "fraction (`stability: 0, 0.5, 1` in openapi/elevenlabs--text-to-dialogue-v3.json) is refused "
        "('Got {float, int}') and --fail-on-warning stops the run. The generated body takes a float; the "
        "allowed values stay in models_catalog (read from the merged document) for the facade's checks",
    ),
    DropSchemaTitles(
        why="the generator names a component's class after its `title`, and kie.ai's exports give "
        "differing envelopes one title ('response not with recordId'): two classes of one name fail "
        "the run (--fail-on-warning). Without it each class is named after its (namespaced) component",
    ),
    DropOperationKey(
        "tags",
        why="kie.ai's tags are its docs site's folders ('docs/en/Market/Image    Models/GPT Image'), which "
        "the generator turns into package names that move with the site; every endpoint module stays in "
        "kie_api.api.default, where facade/kie_gpt_image/_api.py imports it",
    ),
    Replace(
        f"{_RECORD_200}/allOf/0",
        before={"$ref": "#/components/schemas/GetTaskDetailsApiResponse"},
        after={"$ref": "#/components/schemas/ApiResponse"},
        why="openapi/common--get-task-detail.json's envelope (titled 'response not with recordId') "
        "declares `data` as createTask's {taskId}, and the generator's allOf merge lets that win over the "
        "record beside it; the seed's ApiResponse is the same envelope without `data` (reference §2)",
    ),
    Hoist(
        f"{_RECORD_200}/allOf/1/properties/data",
        "TaskRecord",
        why="reference §2: recordInfo answers an unknown task id with `data: null`; one named class for "
        "the record (facade/kie_gpt_image/_api.py parses callbacks with it too)",
    ),
    *(
        Hoist(
            _upload_200(path),
            "FileUploadResponse",
            nullable=False,
            why="reference §3: the three uploads share one reply envelope; one class parses all three "
            "(facade/kie_gpt_image/_api.py parse_upload)",
        )
        for path in ("file-stream-upload", "file-base64-upload", "file-url-upload")
    ),
    Loosen(
        "drop-enum",
        "code",
        why="reference 'The reply envelope and codes': codes outside the table may appear (433 is missing "
        "from several documents' lists); §7: an unlisted code makes the generated parser raise ValueError",
    ),
    Loosen(
        "drop-enum",
        "state",
        why="reference §7: an unlisted state (e.g. 'canceled') makes the generated parser raise; the "
        "facade maps unknown states to TaskState.UNKNOWN",
    ),
    Loosen(
        "drop-required",
        "",
        why="reference 'The reply envelope and codes': error envelopes come as HTTP 200 without `data` "
        "(or with `message` instead of `msg`); a required key the reply lacks makes the parser raise "
        "KeyError",
    ),
    Loosen(
        "nullable",
        "data",
        why="reference 'The reply envelope and codes': `data` can be null on errors (§2: recordInfo of an "
        "unknown task, §4: download-url of an external URL)",
    ),
    Loosen(
        "drop-format",
        "date-time",
        why="a date-time field makes the generated parser import python-dateutil (runtime deps are httpx "
        "and attrs only) and raise on a non-ISO value; reference §3: uploadedAt is read leniently",
    ),
]
