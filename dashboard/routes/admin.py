"""Admin pages: accounts (`/admin/users`) and the audit log (`/admin/audit`). Admins only."""

from __future__ import annotations

import json
import math

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from dashboard.app import DB, form_viewer, record, redirect, render, role
from dashboard.auth import ROLE_NAMES_NL, Viewer
from schoolwacht.errors import InputError
from store import overview as queries
from store.audit import verify_chain
from store.models import User
from store.users import MIN_PASSWORD_LENGTH, ROLES, find_user, set_user

router = APIRouter()
admin = role("admin")
AUDIT_PER_PAGE = 50


def _users_page(request: Request, session: Session, *, values: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "admin_users.html", {
        "title": "Gebruikers", "users": queries.list_users(session), "roles": [(r, ROLE_NAMES_NL[r]) for r in ROLES],
        "values": {"role": "staff", **(values or {})}, "errors": errors or {}, "min_password": MIN_PASSWORD_LENGTH,
    }, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users(request: Request, who: Viewer = Depends(admin), session: Session = DB) -> HTMLResponse:
    return _users_page(request, session)


@router.post("/admin/users")
def add_user(request: Request, who: Viewer = Depends(admin), _csrf: Viewer = Depends(form_viewer),
             session: Session = DB, email: str = Form(""), name: str = Form(""),
             user_role: str = Form("", alias="role"), password: str = Form("")) -> Response:
    email, name = email.strip().lower(), name.strip()
    values = {"email": email, "name": name, "role": user_role}
    errors: dict[str, str] = {}
    if "@" not in email or len(email) > 320 or any(ch.isspace() for ch in email):
        errors["email"] = "Vul een geldig e-mailadres in."
    if len(name) > 200:
        errors["name"] = "De naam is langer dan 200 tekens."
    if user_role not in ROLES:
        errors["role"] = "Kies een rol."
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = f"Het wachtwoord moet minstens {MIN_PASSWORD_LENGTH} tekens lang zijn."
    elif len(password) > 1024:
        errors["password"] = "Het wachtwoord is te lang (hoogstens 1024 tekens)."
    if errors:
        return _users_page(request, session, values=values, errors=errors, status_code=400)
    existed = find_user(session, email) is not None
    try:
        user = set_user(session, email=email, role=user_role, password=password, name=name)
    except InputError:
        return _users_page(request, session, values=values, status_code=400,
                           errors={"email": "Deze gebruiker kon niet worden opgeslagen. Controleer de velden."})
    record(session, who, "user_updated" if existed else "user_added", "user", int(user.id),  # type: ignore[arg-type]
           email=email, role=user_role)
    if existed:
        return redirect("/admin/users", f"Gebruiker {email} bijgewerkt: rol, naam en wachtwoord zijn opnieuw "
                                        "ingesteld en het account is actief.")
    return redirect("/admin/users", f"Gebruiker {email} toegevoegd als {ROLE_NAMES_NL[user_role]}.")


def _set_active(session: Session, who: Viewer, user_id: int, active: bool) -> Response:
    if user_id == who.id and not active:
        return redirect("/admin/users", "U kunt uw eigen account niet uitschakelen.")
    target = session.get(User, user_id)
    if target is None:
        raise HTTPException(status_code=404)
    if not active and target.active and target.role == "admin" and queries.active_admins(session) <= 1:
        return redirect("/admin/users", "Dit is de laatste actieve beheerder; die kunt u niet uitschakelen.")
    before = queries.count_sessions(session, user_id=user_id)
    user = queries.set_user_active(session, user_id=user_id, active=active)
    if active:
        record(session, who, "user_activated", "user", user_id, email=user.email)
        return redirect("/admin/users", f"Gebruiker {user.email} is weer actief.")
    record(session, who, "user_deactivated", "user", user_id, email=user.email, sessions_ended=before)
    return redirect("/admin/users", f"Gebruiker {user.email} is uitgeschakeld en overal uitgelogd.")


@router.post("/admin/users/{user_id}/deactivate")
def deactivate(user_id: int, who: Viewer = Depends(admin), _csrf: Viewer = Depends(form_viewer),
               session: Session = DB) -> Response:
    return _set_active(session, who, user_id, False)


@router.post("/admin/users/{user_id}/activate")
def activate(user_id: int, who: Viewer = Depends(admin), _csrf: Viewer = Depends(form_viewer),
             session: Session = DB) -> Response:
    return _set_active(session, who, user_id, True)


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(request: Request, pagina: int = 1, actie: str = "", who: Viewer = Depends(admin),
              session: Session = DB) -> HTMLResponse:
    chain = verify_chain(session)  # before this view's own entry: it reports what was there
    record(session, who, "audit_viewed", "audit", "", page=pagina, filter=actie or None)
    entries, total = queries.audit_page(session, page=max(pagina, 1), per_page=AUDIT_PER_PAGE,
                                        action=actie or None)
    pages = max(1, math.ceil(total / AUDIT_PER_PAGE))
    rows = [(e, json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else "") for e in entries]
    return render(request, "admin_audit.html", {
        "title": "Logboek", "chain": chain, "rows": rows, "page": max(pagina, 1), "pages": pages,
        "total": total, "action": actie, "actions": queries.audit_actions(session),
    })
