"""Shared fixtures for the foundation's tests.

Every rule is exercised through a genuine boto3 client (``lab.client()``), so what passes here is
what a learner's code sees. ``lab`` and ``kms`` are shared by the tests of one module (each test
makes its own fresh keys, so they do not interfere); tests that move the clock, count the trail
or list everything in a Region take a private lab from ``make_lab`` or ``private`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from kmslab import LocalKms, ManualClock

ACCOUNT = "111122223333"
REGION = "us-east-1"
START = datetime(2026, 1, 1, tzinfo=UTC)

#: botocore checks only lower bounds client-side; this config lets a request reach the lab so
#: its own (AWS-worded) validation answers. Retries off: a 500 must surface at once.
RAW = Config(parameter_validation=False, retries={"total_max_attempts": 1})


def error_of(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a botocore ClientError, as AWS put them on the wire."""
    assert isinstance(exc, ClientError), f"expected a ClientError, got {exc!r}"
    err = exc.response["Error"]
    return err["Code"], err.get("Message", "")


def fails(call: Callable[..., Any], /, **kwargs: Any) -> tuple[str, str]:
    """Call a client method that must fail; return its (code, message)."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return error_of(info.value)


def key_arn(key_id: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"


def new_key(kms: Any, **kwargs: Any) -> str:
    """A fresh symmetric key's id."""
    key_id: str = kms.create_key(**kwargs)["KeyMetadata"]["KeyId"]
    return key_id


@pytest.fixture(scope="module", params=["in-process", "http"])
def wire(request: pytest.FixtureRequest) -> str:
    """How the shared lab's clients reach it: answered in-process at botocore's before-send,
    or over HTTP through `kmslab serve`'s server on a loopback port. Every test that uses the
    shared lab runs both ways: the wire suite covers both transports."""
    return str(request.param)


@pytest.fixture(scope="module")
def lab(wire: str) -> Iterator[LocalKms]:
    """A seeded lab on a manual clock, shared by one module (and one transport); do not
    advance its clock."""
    with LocalKms(seed=7, clock=ManualClock(START)) as shared:
        yield shared


@pytest.fixture(scope="module")
def transport(wire: str, lab: LocalKms) -> Iterator[Callable[..., Any]]:
    """A client factory for the shared lab over the module's transport."""
    if wire == "in-process":
        yield lab.client
        return
    from kmslab.server import start

    server = start(lab)
    try:
        yield server.client
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kms(transport: Callable[..., Any]) -> Any:
    return transport()


@pytest.fixture(scope="module")
def raw_kms(transport: Callable[..., Any]) -> Any:
    """A client of the shared lab without botocore's client-side checks and retries."""
    return transport(config=RAW)


@pytest.fixture
def key_id(kms: Any) -> str:
    return new_key(kms, Description="kmslab test key")


@pytest.fixture
def make_lab() -> Iterator[Callable[..., LocalKms]]:
    """Private labs (manual clock at START unless given), closed after the test."""
    made: list[LocalKms] = []

    def make(**kwargs: Any) -> LocalKms:
        kwargs.setdefault("seed", 11)
        if "state" not in kwargs:
            kwargs.setdefault("clock", ManualClock(START))
        made.append(LocalKms(**kwargs))
        return made[-1]

    yield make
    for one in made:
        one.close()


@pytest.fixture
def private(make_lab: Callable[..., LocalKms]) -> tuple[LocalKms, Any]:
    """(lab, client) of a private lab whose clock a test may move."""
    own = make_lab()
    return own, own.client(config=RAW)
