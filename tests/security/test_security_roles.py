"""Role escalation: what staff and directors try beyond their role is refused and changes nothing.

Staff may see and annotate only the cases assigned to them; review verdicts, workflow actions
and evidence exports belong to the director (exports) or director and admin (the rest); accounts
and sources belong to the admin. A role comes from the database on every request, never from a
form field, so a downgraded or deactivated account loses its rights at its next request."""

from __future__ import annotations

from sqlalchemy import select

from store.models import Post
from tests.security.helpers import (
    ADMIN,
    DIRECTOR,
    FORBIDDEN,
    OTHER_STAFF,
    SOURCE,
    STAFF,
    Site,
    app_routes,
    form_token,
    snapshot,
)

ADMIN_PAGES = ("/admin/users", "/admin/audit", "/sources")


def test_staff_cannot_reach_admin_or_review_pages_nor_act_there(site: Site) -> None:
    staff = site.client(STAFF)
    token = form_token(staff)
    for path in (*ADMIN_PAGES, "/review"):
        response = staff.get(path)
        assert response.status_code == 403 and FORBIDDEN in response.text, path
    before = snapshot(site.settings)
    post, user = site.review_post, site.users[OTHER_STAFF]
    forged_role = {"csrf_token": token, "role": "admin", "user_role": "admin", "is_admin": "1"}
    attempts = [
        ("/admin/users", {"email": "ik@school.example", "name": "Ik", "password": "lang-genoeg-wachtwoord"}),
        (f"/admin/users/{user}/deactivate", {}), (f"/admin/users/{site.users[STAFF]}/activate", {}),
        (f"/sources/{SOURCE}/toggle", {}), (f"/sources/{SOURCE}/run", {}),
        (f"/review/{post}/confirm", {}), (f"/review/{post}/dismiss", {}),
        (f"/review/{post}/correct", {"sentiment": "neutral"}),
        # their own case: they may read it and add notes, not move it or hand it out
        (f"/cases/{site.own_case}/status", {"to": "closed", "note": "klaar"}),
        (f"/cases/{site.own_case}/assign", {"assignee": str(site.users[STAFF])}),
        (f"/cases/{site.own_case}/recheck", {}),
        (f"/cases/{site.own_case}/evidence", {}),
    ]
    for path, data in attempts:
        response = staff.post(path, data={**forged_role, **data})
        assert response.status_code == 403 and FORBIDDEN in response.text, (path, response.status_code)
        assert "application/zip" not in response.headers.get("content-type", "")
    assert snapshot(site.settings) == before
    assert not list((site.settings.storage.dir / "exports").glob("*.zip"))


def test_staff_cannot_see_or_touch_another_staff_members_case(site: Site) -> None:
    staff = site.client(STAFF)
    token = form_token(staff)
    assert staff.get(f"/cases/{site.own_case}").status_code == 200
    # Someone else's case answers like a case that does not exist: its existence does not leak.
    missing = staff.get("/cases/999999")
    other = staff.get(f"/cases/{site.other_case}")
    assert other.status_code == missing.status_code == 404 and "sukkel" not in other.text
    # The list shows only their own, whatever filter is asked for.
    listing = staff.get(f"/cases?status=all&toegewezen={site.users[OTHER_STAFF]}&zoek=sukkel").text
    assert f'href="/cases/{site.other_case}"' not in listing
    assert f'href="/cases/{site.own_case}"' in staff.get("/cases?status=all").text
    before = snapshot(site.settings)
    for action, data in (("note", {"note": "gezien"}), ("status", {"to": "closed"}), ("evidence", {})):
        response = staff.post(f"/cases/{site.other_case}/{action}", data={"csrf_token": token, **data})
        assert response.status_code in (403, 404), (action, response.status_code)
    assert snapshot(site.settings) == before


def test_the_director_cannot_reach_admin_pages_and_the_admin_cannot_export_evidence(site: Site) -> None:
    director, admin = site.client(DIRECTOR), site.client(ADMIN)
    director_token, admin_token = form_token(director), form_token(admin)
    for path in ADMIN_PAGES:
        assert director.get(path).status_code == 403, path
        assert admin.get(path).status_code == 200, path
    before = snapshot(site.settings)
    for path, data in (("/admin/users", {"email": "tweede@school.example", "role": "admin",
                                         "password": "lang-genoeg-wachtwoord"}),
                       (f"/admin/users/{site.users[ADMIN]}/deactivate", {}),
                       (f"/sources/{SOURCE}/toggle", {})):
        response = director.post(path, data={"csrf_token": director_token, **data})
        assert response.status_code == 403 and FORBIDDEN in response.text, path
    # The evidence bundle for the police is the director's decision (protocol rule 4), not the admin's.
    response = admin.post(f"/cases/{site.own_case}/evidence", data={"csrf_token": admin_token})
    assert response.status_code == 403 and "application/zip" not in response.headers.get("content-type", "")
    assert snapshot(site.settings) == before


def test_forged_role_and_identity_fields_are_ignored(site: Site) -> None:
    admin = site.client(ADMIN)
    token = form_token(admin)
    # Only the three roles exist, spelled exactly; anything else is refused with a message.
    for role in ("Admin", "admin ", "root", "superadmin", "director,admin", ""):
        response = admin.post("/admin/users", data={"csrf_token": token, "email": "x@school.example", "name": "X",
                                                    "role": role, "password": "lang-genoeg-wachtwoord"})
        assert response.status_code == 400 and "Kies een rol." in response.text, role
    site.classify_with_shared_model()
    staff = site.client(STAFF)
    staff_token = form_token(staff, "/report")
    # A report names its reporter from the session, whatever the form claims.
    response = staff.post("/report", data={
        "csrf_token": staff_token, "text": "Wat een waardeloze school, dat Verkruisen", "platform": "whatsapp",
        "school": "obs BM Verkruisen", "reporter_id": str(site.users[DIRECTOR]), "reported_by": str(site.users[ADMIN]),
        "user_id": str(site.users[ADMIN]), "role": "admin", "actor": DIRECTOR})
    assert response.status_code == 303, response.text[:300]
    with site.env.session() as session:
        post = session.execute(select(Post).where(Post.text.contains("waardeloze school"))).scalars().one()  # type: ignore[attr-defined]
        assert post.reported_by == site.users[STAFF]
    # Still staff afterwards: the role fields did nothing.
    assert staff.get("/admin/users").status_code == 403 and staff.get("/review").status_code == 403


def test_a_downgraded_or_deactivated_account_loses_its_rights_at_once(site: Site) -> None:
    admin, director, staff = site.client(ADMIN), site.client(DIRECTOR), site.client(STAFF)
    staff_token = form_token(staff)
    assert director.get("/review").status_code == 200 and staff.get("/").status_code == 200
    admin_token = form_token(admin, "/admin/users")
    # The admin makes the director a staff member (the account form resets role, name and password).
    response = admin.post("/admin/users", data={"csrf_token": admin_token, "email": DIRECTOR, "name": "Dirk",
                                                "role": "staff", "password": "correct-horse-battery"})
    assert response.status_code == 303
    assert director.get("/review").status_code == 403  # the same session, the new role
    # The admin deactivates the staff member: their open session ends at its next request.
    response = admin.post(f"/admin/users/{site.users[STAFF]}/deactivate", data={"csrf_token": admin_token})
    assert response.status_code == 303
    assert "is uitgeschakeld en overal uitgelogd" in admin.get(response.headers["location"]).text
    before = snapshot(site.settings)
    for method, path in (("GET", "/"), ("GET", f"/cases/{site.own_case}"), ("POST", f"/cases/{site.own_case}/note")):
        response = staff.request(method, path, data={"csrf_token": staff_token, "note": "nog even"}
                                 if method == "POST" else None)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    assert snapshot(site.settings) == before
    # ... and cannot log in again.
    fresh = site.client()
    token = form_token(fresh, "/login")
    response = fresh.post("/login", data={"email": STAFF, "password": "correct-horse-battery", "csrf_token": token})
    assert response.status_code == 401 and "Onjuist e-mailadres of wachtwoord" in response.text


def test_every_get_route_a_role_may_not_see_is_refused_for_that_role(site: Site) -> None:
    """The page-level matrix, from the enumerated routes: no page answers 200 to a role outside it."""
    routes, _ = app_routes(site.app)
    allowed = {"/admin/users": {"admin"}, "/admin/audit": {"admin"}, "/sources": {"admin"},
               "/review": {"admin", "director"}}
    clients = {"admin": site.client(ADMIN), "director": site.client(DIRECTOR), "staff": site.client(STAFF)}
    for route in routes:
        if route.method != "GET" or route.path.startswith(("/login", "/static")):
            continue
        values = {**site.values(), "case_id": site.other_case}  # staff: not their case
        for role, client in clients.items():
            status = client.get(route.url(values)).status_code
            may = role in allowed.get(route.path, {"admin", "director", "staff"})
            if route.path == "/cases/{case_id}" and role == "staff":
                may = False
            assert (status == 200) == may, f"{role} GET {route.path}: {status}"
