"""CORS (issue 16): off by default; listed origins read (and write with the token), `*`
reads only; preflights answered with what a path allows; OPTIONS answers Allow."""

from tests.support.server import running_server

A = "0x" + "7a" * 20
SITE = "https://app.example"


def test_off_by_default_and_options_says_what_a_path_allows(tmp_path):
    with running_server(tmp_path) as (client, _):
        response, _ = client.get("/readyz", headers={"Origin": SITE})
        assert response.getheader("Access-Control-Allow-Origin") is None
        assert response.getheader("Vary") is None
        response, body = client.request("OPTIONS", f"/dalle/empty/{A}/job")
        assert response.status == 204 and body == b""
        assert response.getheader("Allow") == "DELETE"
        assert client.request("OPTIONS", "/no/such/path")[0].status == 404


def test_a_listed_origin_reads_and_sees_the_exposed_headers(tmp_path):
    with running_server(tmp_path, env={"TB_DALLE_CORS_ORIGINS": f"{SITE}, http://b.test"}) \
            as (client, _):
        response, _ = client.get(f"/dalle/empty/{A}", headers={"Origin": SITE})
        assert response.getheader("Access-Control-Allow-Origin") == SITE
        exposed = response.getheader("Access-Control-Expose-Headers")
        for name in ("X-Request-ID", "ETag", "Retry-After", "Location", "RateLimit-Remaining"):
            assert name in exposed
        assert "Origin" in response.getheader("Vary")
        other, _ = client.get("/readyz", headers={"Origin": "https://evil.example"})
        assert other.getheader("Access-Control-Allow-Origin") is None
        assert "Origin" in other.getheader("Vary")  # the answer depends on who asks


def test_preflights(tmp_path):
    with running_server(tmp_path, env={"TB_DALLE_CORS_ORIGINS": f"{SITE},*"}) as (client, _):
        listed, _ = client.request("OPTIONS", f"/dalle/empty/{A}/job", headers={
            "Origin": SITE, "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "authorization"})
        assert listed.status == 204
        assert listed.getheader("Access-Control-Allow-Origin") == SITE
        assert listed.getheader("Access-Control-Allow-Methods") == "DELETE"
        assert "Authorization" in listed.getheader("Access-Control-Allow-Headers")
        # any other page may read, but never write
        anyone, _ = client.request("OPTIONS", f"/dalle/empty/{A}/job", headers={
            "Origin": "https://other.example", "Access-Control-Request-Method": "DELETE"})
        assert anyone.status == 204 and anyone.getheader("Access-Control-Allow-Origin") is None
        reads, _ = client.request("OPTIONS", f"/dalle/empty/{A}", headers={
            "Origin": "https://other.example", "Access-Control-Request-Method": "GET"})
        assert reads.getheader("Access-Control-Allow-Origin") == "*"
        assert reads.getheader("Access-Control-Allow-Methods") == "GET, HEAD"


def test_a_bad_origin_setting_is_a_startup_error(tmp_path):
    from tests.conftest import clean_env, run_cli

    result = run_cli("check", "--data-dir", str(tmp_path / "d"),
                     env=clean_env(HOME=str(tmp_path), TB_DALLE_CORS_ORIGINS="app.example/x"))
    assert result.returncode == 2 and "TB_DALLE_CORS_ORIGINS" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_page_on_another_site_cannot_delete_without_the_token(tmp_path):
    with running_server(tmp_path, env={"TB_DALLE_CORS_ORIGINS": SITE}) as (client, _):
        for headers in ({"Origin": SITE}, {"Sec-Fetch-Site": "cross-site"},
                        {"Sec-Fetch-Site": "same-site"}):
            response, doc = client.json("GET", f"/dalle/empty/{A}?remove=1", headers=headers)
            assert response.status == 401, headers
            assert "another origin" in doc["error"]["message"]
        # the machine's own tools (no Origin, or the server's own) still may
        own = {"Origin": f"http://127.0.0.1:{client.port}"}
        assert client.json("GET", f"/dalle/empty/{A}?remove=1", headers=own)[0].status == 200
        assert client.json("GET", f"/dalle/empty/{A}?remove=1")[0].status == 200
