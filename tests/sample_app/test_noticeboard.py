"""The noticeboard through the test client, against the emulators: accounts, posts, API."""

from __future__ import annotations

from framework import Flask
from framework.testing import FlaskClient

from .conftest import Users, csrf_from


def test_front_page_is_empty_and_anonymous_visitors_get_no_session(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "No posts yet." in response.text
    assert "Set-Cookie" not in response.headers


def test_signup_login_logout(users: Users, app: Flask) -> None:
    client = users.signup("alice")
    assert "alice" in client.get("/").text
    old_cookie = client.get_cookie("session")
    assert old_cookie is not None
    token = csrf_from(client, "/")
    response = client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 302
    page = client.get("/").text
    assert "You are logged out." in page
    assert "Log in" in page
    # The logged-in session is gone on the server: its old cookie opens nothing.
    stale = app.test_client()
    stale.set_cookie("session", old_cookie.value)
    assert "Log in" in stale.get("/").text

    token = csrf_from(client)
    response = client.post(
        "/auth/login",
        data={"username": "alice", "password": "correct horse", "csrf_token": token},
    )
    assert response.headers["Location"] == "/"
    assert "alice" in client.get("/").text


def test_wrong_password_and_unknown_user_get_the_same_clear_error(
    users: Users, client: FlaskClient
) -> None:
    users.signup("bob")
    for username, password in [("bob", "wrong password"), ("nobody", "whatever1")]:
        token = csrf_from(client)
        response = client.post(
            "/auth/login",
            data={"username": username, "password": password, "csrf_token": token},
        )
        assert response.status_code == 400
        assert "Wrong username or password." in response.text


def test_failed_logins_are_rate_limited(users: Users, client: FlaskClient) -> None:
    users.signup("carol")
    for _ in range(5):
        token = csrf_from(client)
        client.post(
            "/auth/login", data={"username": "carol", "password": "nope", "csrf_token": token}
        )
    token = csrf_from(client)
    response = client.post(
        "/auth/login",
        data={"username": "carol", "password": "correct horse", "csrf_token": token},
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text


def test_signup_form_errors(client: FlaskClient, users: Users) -> None:
    users.signup("dave")
    token = csrf_from(client, "/auth/signup")
    response = client.post(
        "/auth/signup", data={"username": "dave", "password": "short", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "That username is taken." in response.text
    assert "Use at least 8 characters." in response.text


def test_next_only_accepts_local_paths(users: Users, client: FlaskClient) -> None:
    users.signup("erin")
    for target, expected in [
        ("/u/erin", "/u/erin"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        token = csrf_from(client)
        response = client.post(
            "/auth/login",
            data={
                "username": "erin",
                "password": "correct horse",
                "csrf_token": token,
                "next": target,
            },
        )
        assert response.headers["Location"] == expected, target
        client.post("/auth/logout", data={"csrf_token": csrf_from(client, "/")})


def test_login_required_redirects_with_next(client: FlaskClient) -> None:
    response = client.get("/new")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/new"


def test_missing_or_wrong_csrf_token_is_a_clear_400(users: Users) -> None:
    client = users.signup("frank")
    response = client.post("/new", data={"title": "t", "text": "x"})
    assert response.status_code == 400
    assert "security token" in response.text
    response = client.post("/new", data={"title": "t", "text": "x", "csrf_token": "forged"})
    assert response.status_code == 400


def test_create_show_edit_delete_own_post_with_escaping(users: Users) -> None:
    client = users.signup("gina")
    post_id = users.post(client, "A <b>title</b>", "line one\n<script>alert(1)</script>")
    page = client.get(f"/p/{post_id}").text
    assert "A &lt;b&gt;title&lt;/b&gt;" in page
    assert "line one<br>\n&lt;script&gt;alert(1)&lt;/script&gt;" in page

    token = csrf_from(client, f"/p/{post_id}/edit")
    response = client.post(
        f"/p/{post_id}/edit", data={"title": "New title", "text": "New text", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "New title" in client.get(f"/p/{post_id}").text

    token = csrf_from(client, f"/p/{post_id}")
    assert client.post(f"/p/{post_id}/delete", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/p/{post_id}").status_code == 404


def test_someone_elses_post_cannot_be_edited_or_deleted(users: Users) -> None:
    owner = users.signup("hank")
    post_id = users.post(owner, "Mine", "Only mine")
    other = users.signup("ivy")
    token = csrf_from(other, "/")
    assert other.get(f"/p/{post_id}/edit").status_code == 403
    response = other.post(
        f"/p/{post_id}/edit", data={"title": "pwned", "text": "x", "csrf_token": token}
    )
    assert response.status_code == 403
    assert other.post(f"/p/{post_id}/delete", data={"csrf_token": token}).status_code == 403
    assert "Mine" in other.get(f"/p/{post_id}").text


def test_cursor_pagination_newest_first(users: Users, client: FlaskClient) -> None:
    author = users.signup("jack")
    for n in range(23):
        users.post(author, f"Post {n:02d}", "text")
    titles: list[str] = []
    url = "/u/jack"
    pages = 0
    while url:
        page = client.get(url).text
        pages += 1
        titles += [t for t in (f"Post {n:02d}" for n in range(23)) if t in page]
        marker = 'href="/u/jack?cursor='
        start = page.find(marker)
        url = page[start + 6 : page.find('"', start + 6)] if start >= 0 else ""
    assert pages == 3
    assert sorted(titles) == [f"Post {n:02d}" for n in range(23)]
    first_page = client.get("/").text
    assert first_page.index("Post 22") < first_page.index("Post 21")


def test_bad_cursor_is_a_400(client: FlaskClient) -> None:
    assert client.get("/?cursor=not-a-cursor").status_code == 400


def test_error_pages_use_the_layout(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "404 · Not Found" in response.text
    assert "Noticeboard" in response.text


def test_health_and_warmup(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/_ah/warmup").status_code == 200


def test_spoofed_cron_header_off_app_engine_is_refused(client: FlaskClient) -> None:
    response = client.get("/tasks/session-cleanup", headers={"X-Appengine-Cron": "true"})
    assert response.status_code == 403


def test_api_list_read_create_delete(users: Users, client: FlaskClient) -> None:
    author = users.signup("kate")
    session = author.get("/api/session").get_json()
    assert session["user"] == "kate"
    headers = {"X-CSRF-Token": session["csrf_token"]}
    created = author.post("/api/posts", json={"title": "Via API", "text": "Hi"}, headers=headers)
    assert created.status_code == 201
    post_id = created.get_json()["id"]
    assert created.headers["Location"] == f"/api/posts/{post_id}"

    listing = client.get("/api/posts").get_json()
    assert [p["title"] for p in listing["posts"]] == ["Via API"]
    assert listing["next"] is None
    assert client.get(f"/api/posts/{post_id}").get_json()["attachments"] == []

    assert author.delete(f"/api/posts/{post_id}", headers=headers).status_code == 204
    missing = client.get(f"/api/posts/{post_id}")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == 404


def test_api_rules(users: Users, client: FlaskClient) -> None:
    assert client.post("/api/posts", json={"title": "x", "text": "y"}).status_code == 400
    author = users.signup("liam")
    no_token = author.post("/api/posts", json={"title": "x", "text": "y"})
    assert no_token.status_code == 400
    assert no_token.get_json()["error"]["name"] == "Bad Request"
    token = author.get("/api/session").get_json()["csrf_token"]
    bad = author.post("/api/posts", data="not json", headers={"X-CSRF-Token": token})
    assert bad.status_code == 400
    assert "JSON object" in bad.get_json()["error"]["message"]
    invalid = author.post(
        "/api/posts", json={"title": "", "text": ""}, headers={"X-CSRF-Token": token}
    )
    assert invalid.get_json()["error"]["fields"] == {
        "title": "Give the post a title.",
        "text": "Write something.",
    }
    anonymous = client.delete("/api/posts/1")
    assert anonymous.status_code in {400, 401}
