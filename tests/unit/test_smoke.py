from tests.builders import get, hit


def test_hit_is_counted(twin):
    assert twin.post(hit("hello")) == (202, {"accepted": True})
    twin.settle()
    assert twin.get(get("/statistics/hello")) == (200, {"slug": "hello", "hits": 1, "visitors": 1, "likes": 0})
