"""Schemathesis hooks for test_openapi_schemathesis.py, loaded through $SCHEMATHESIS_HOOKS.

Open311 submissions carry their API key in a form field, which OpenAPI cannot describe as a
security scheme, so Schemathesis would only ever send made-up keys and never get past the 403.
When $DOTHI_OPEN311_API_KEY is set, every generated `api_key` is replaced by that real key so
that submissions reach validation, storage and the success response.
"""
import dataclasses
import os

import schemathesis

KEY = os.environ.get("DOTHI_OPEN311_API_KEY")


def _with_key(body):
    if isinstance(body, dict) and isinstance(body.get("api_key"), str):
        return {**body, "api_key": KEY}
    # multipart/form-data bodies arrive wrapped, with the chosen content type of each part
    inner = getattr(body, "body", None)
    if dataclasses.is_dataclass(body) and isinstance(inner, dict) and isinstance(inner.get("api_key"), str):
        return dataclasses.replace(body, body={**inner, "api_key": KEY})
    return body


@schemathesis.hook
def map_case(context, case):
    operation = case.operation
    if KEY and operation.method.upper() == "POST" and operation.path.startswith("/open311/"):
        case.body = _with_key(case.body)
    return case
