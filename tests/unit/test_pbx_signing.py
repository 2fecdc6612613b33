"""The PBX APIs' signatures, against values computed apart from leadbot's code (md5sum,
`openssl dgst -sha1 -hmac`, base64 and sha256sum in a shell, following zadarma/user-api-v1's
Client.php and Mango Office's VPBX API document), so a signing mistake fails here and not
only at the stand-in (which is written from the same documents)."""

from __future__ import annotations

import json

from bot.adapters.pbx.dialer import digits
from bot.adapters.pbx.mango import mango_form, result_code
from bot.adapters.pbx.zadarma import php_query, zadarma_api_signature, zadarma_authorization

CALLBACK = "/v1/request/callback/"
# printf '%s' "$Q" | md5sum  ->  9a6528e6a89ecbb17b0c296abcf18d2f, then
# printf '%s' "/v1/request/callback/$Q$MD5" | openssl dgst -sha1 -hmac zd-secret, base64 -w0
SIGNED = "YWVjNzZiNmU1NmM3ZjM5NmUxMzUyYWY0OWU3Nzc4ODg1NDcwNjM3Ng=="


def test_zadarmas_signature_is_base64_of_the_hex_hmac_of_path_sorted_query_and_its_md5() -> None:
    params = {"to": "79001234567", "from": "101", "format": "json"}  # any order: sorted
    assert php_query(params) == "format=json&from=101&to=79001234567"
    assert zadarma_api_signature(CALLBACK, params, "zd-secret") == SIGNED
    assert zadarma_authorization("zd-key", CALLBACK, params, "zd-secret") == f"zd-key:{SIGNED}"
    assert zadarma_api_signature(CALLBACK, params, "another") != SIGNED


def test_zadarmas_query_is_phps_rfc1738_form() -> None:
    """A space is +, ~ is %7E (PHP's urlencode), as the PHP client signs them."""
    params = {"from": "101", "to": "79001234567", "format": "json", "name": "Ivan Petrov~"}
    query = "format=json&from=101&name=Ivan+Petrov%7E&to=79001234567"
    assert php_query(params) == query
    expected = "NWUyNGY1YThkYjk4NzJlNjkxMjE2ZDM4MTQyMGM1MmU0MzdmNDA1MQ=="
    assert zadarma_api_signature(CALLBACK, params, "zd-secret") == expected


def test_mangos_form_signs_the_json_it_carries() -> None:
    payload = {"command_id": "c-1", "from": {"extension": "101"}, "to_number": "79001234567"}
    form = mango_form("mango-key", "mango-salt", payload)
    assert form["json"] == (
        '{"command_id":"c-1","from":{"extension":"101"},"to_number":"79001234567"}'
    )
    assert json.loads(form["json"]) == payload
    # printf '%s' "mango-key${JSON}mango-salt" | sha256sum
    assert form["sign"] == "1a816b9a468358360f586d2d8008e47926108bf617b7706e5e2a057b570697d4"
    assert form["vpbx_api_key"] == "mango-key"


def test_mangos_result_code_is_read_only_when_it_is_a_number() -> None:
    assert result_code({"result": 1000}) == 1000
    assert result_code({"result": "3102"}) == 3102
    assert result_code({"result": True}) is None
    assert result_code({"result": "ok"}) is None
    assert result_code({}) is None


def test_both_apis_get_the_number_as_digits() -> None:
    assert digits("+7 900 123-45-67") == "79001234567"
    assert digits("+79001234567") == "79001234567"
