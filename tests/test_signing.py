"""The official signature vectors of jushuitan-api.md, offline and over real HTTP."""

import pytest

from qeasy.erp.signing import sign

SECRET = "e9c5ca33fecb404b8e6cdbd0ef4a6d25"
APP_KEY = "5b53060f23d84ddf9703056e84fa5a2d"
TOKEN = "d7b01bf0842a4742a9450e21ffd95f60"
VECTOR_TOKEN = {"app_key": APP_KEY, "timestamp": "1639128407", "grant_type": "authorization_code",
                "charset": "utf-8", "code": "123456"}
VECTOR_BIZ = {"app_key": APP_KEY, "access_token": TOKEN, "timestamp": "1639128407", "charset": "utf-8",
              "version": "2", "biz": '{"page_index":"1","page_size":"100","nicks":["老板"]}'}


def test_official_vectors() -> None:
    assert sign(VECTOR_TOKEN, SECRET) == "05e3a51e19e0883afd1882ccd309e0b9"
    assert sign(VECTOR_BIZ, SECRET) == "395f5a78b446be465ac03a02491296c7"


def test_empty_fields_and_sign_are_left_out() -> None:
    assert sign(VECTOR_TOKEN | {"sign": "x", "empty": ""}, SECRET) == sign(VECTOR_TOKEN, SECRET)


@pytest.fixture
def demo_sandbox(make_sandbox):
    """A sandbox holding the documentation's demonstration credentials; the vectors' 2021
    timestamp is accepted by widening the allowed clock skew for this test only."""
    return make_sandbox(app_key=APP_KEY, app_secret=SECRET, access_token=TOKEN,
                        max_skew_seconds=10 * 365 * 86_400)


def test_vectors_accepted_over_http(demo_sandbox) -> None:
    _, caller = demo_sandbox
    token_call = caller.http.post("/openWeb/auth/getInitToken",
                                  data=VECTOR_TOKEN | {"sign": "05e3a51e19e0883afd1882ccd309e0b9"}).json()
    assert token_call["code"] == 0, token_call
    assert set(token_call["data"]) == {"access_token", "expires_in", "refresh_token", "scope"}
    shops = caller.http.post("/open/shops/query",
                             data=VECTOR_BIZ | {"sign": "395f5a78b446be465ac03a02491296c7"}).json()
    assert shops["code"] == 0, shops
    assert shops["data"]["page_size"] == 100 and shops["data"]["datas"]


def test_vector_with_one_changed_character_is_refused(demo_sandbox) -> None:
    _, caller = demo_sandbox
    body = caller.http.post("/open/shops/query",
                            data=VECTOR_BIZ | {"sign": "395f5a78b446be465ac03a02491296c8"}).json()
    assert body["code"] == 10
