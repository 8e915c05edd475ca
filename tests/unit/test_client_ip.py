"""Behind the optional CloudFront edge the visitor's address comes from CloudFront, and only from it."""

from aws_lambda_powertools.utilities.data_classes.api_gateway_proxy_event import APIGatewayProxyEventV2
from hitstream.api.ingest_routes import client_ip

from tests.builders import hit

SECRET = "4b1c7f0e-0000-4000-8000-5e5e5e5e5e5e"


def event(**headers: str) -> APIGatewayProxyEventV2:
    return APIGatewayProxyEventV2(hit("a", ip="130.176.0.1", headers=headers))


def test_without_an_edge_the_tcp_peer_is_the_client():
    assert client_ip(event(**{"cloudfront-viewer-address": "198.51.100.7:5000"}), "") == "130.176.0.1"


def test_behind_the_edge_the_viewer_address_is_used():
    viewer = {"cloudfront-viewer-address": "198.51.100.7:5000", "x-hitstream-origin": SECRET}
    assert client_ip(event(**viewer), SECRET) == "198.51.100.7"
    v6 = {"cloudfront-viewer-address": "2001:db8::7:443", "x-hitstream-origin": SECRET}
    assert client_ip(event(**v6), SECRET) == "2001:db8::7"


def test_a_forged_viewer_address_without_the_secret_is_ignored():
    forged = {"cloudfront-viewer-address": "198.51.100.7:5000", "x-hitstream-origin": "guess"}
    assert client_ip(event(**forged), SECRET) == "130.176.0.1"
