"""The app's mailer, for routes that send email."""

from typing import Annotated

from fastapi import Depends, Request

from clearhouse.mail.outbox import Mailer


async def get_mailer(request: Request) -> Mailer:
    return request.app.state.mailer


MailerDep = Annotated[Mailer, Depends(get_mailer)]
