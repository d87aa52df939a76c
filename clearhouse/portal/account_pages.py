"""Pages to create an account, sign in and out, and get a new verification link.

They go through the same service functions and rate limits as the API's routes: a sign-up
answers alike whether or not the address has an account, failed sign-ins are counted per
email and per client, and signing out ends the token everywhere.
"""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError

from clearhouse.accounts import service as accounts
from clearhouse.accounts.schemas import AccountCreate
from clearhouse.deps import KeysDep, ReadSessionDep, SessionDep, SettingsDep
from clearhouse.errors import InvalidRequest, Unauthenticated
from clearhouse.mail.dependencies import MailerDep
from clearhouse.portal.pages import PageRoute, field_errors, render, safe_next, see_other
from clearhouse.portal.sessions import (
    CsrfChecked,
    MaybeSignedIn,
    PortalAccount,
    end_session,
    start_session,
)
from clearhouse.rate_limit import RateLimited, RateLimiterDep, client_address

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Text = Annotated[str, Form(max_length=400)]


@router.get("/")
def home(account: MaybeSignedIn):
    return see_other("/dashboard" if account is not None else "/sign-in")


@router.get("/sign-up")
def sign_up_page(request: Request, account: MaybeSignedIn):
    if account is not None:
        return see_other("/dashboard")
    return render(request, "sign_up.html", account=None, title="Create your account", form={})


@router.post("/sign-up", dependencies=[CsrfChecked])
def sign_up(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    limiter: RateLimiterDep,
    display_name: Text = "",
    email: Text = "",
    password: Text = "",
    date_of_birth: Text = "",
    role: Text = "holder",
):
    form = {"display_name": display_name, "email": email, "date_of_birth": date_of_birth}
    form["role"] = role
    try:
        data = AccountCreate(**form, password=password)
    except ValidationError as invalid:
        return render(
            request,
            "sign_up.html",
            account=None,
            title="Create your account",
            status_code=400,
            form=form,
            errors=field_errors(invalid),
        )
    try:
        limiter.limit_mail(recipient=data.email, address=client_address(request))
        accounts.sign_up(session, data=data, settings=settings, mailer=mailer)
    except InvalidRequest as weak:  # the password's strength, checked by the service
        return render(
            request,
            "sign_up.html",
            account=None,
            title="Create your account",
            status_code=400,
            form=form,
            errors={"password": weak.detail},
        )
    except RateLimited as refused:
        return render(
            request,
            "sign_up.html",
            account=None,
            title="Create your account",
            status_code=refused.status_code,
            form=form,
            errors={"form": refused.detail},
        )
    return see_other("/sign-in", notice="signed-up")


@router.get("/sign-in")
def sign_in_page(request: Request, account: MaybeSignedIn, next: str = "/dashboard"):
    if account is not None:
        return see_other(safe_next(next))
    return render(
        request, "sign_in.html", account=None, title="Sign in", next=safe_next(next), email=""
    )


@router.post("/sign-in", dependencies=[CsrfChecked])
def sign_in(
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    keys: KeysDep,
    limiter: RateLimiterDep,
    email: Text = "",
    password: Text = "",
    next: Text = "/dashboard",
):
    try:
        attempt = limiter.limit_sign_in(email=email, address=client_address(request))
        account = accounts.authenticate(session, email=email, password=password, settings=settings)
    except (Unauthenticated, RateLimited) as refused:
        return render(
            request,
            "sign_in.html",
            account=None,
            title="Sign in",
            status_code=refused.status_code,
            next=safe_next(next),
            email=email,
            error=refused.detail,
        )
    limiter.give_back(attempt)
    response = see_other(safe_next(next))
    start_session(response, account=account, settings=settings, keys=keys)
    return response


@router.post("/sign-out", dependencies=[CsrfChecked])
def sign_out(request: Request, session: SessionDep, settings: SettingsDep, keys: KeysDep):
    response = see_other("/sign-in", notice="signed-out")
    end_session(session, request, response, settings=settings, keys=keys)
    return response


@router.post("/account/verification-email", dependencies=[CsrfChecked])
def send_verification_email(
    request: Request,
    account: PortalAccount,
    session: SessionDep,
    settings: SettingsDep,
    mailer: MailerDep,
    limiter: RateLimiterDep,
):
    limiter.limit_mail(recipient=account.email, address=client_address(request))
    accounts.send_verification_email(session, account=account, settings=settings, mailer=mailer)
    return see_other("/dashboard", notice="verification-sent")
