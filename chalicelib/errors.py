"""The one error hierarchy. Each error knows its HTTP status and its public code and message;
`chalicelib.web` turns them into `{"error": {"code", "message"}}` in a single place.

They derive from ChaliceUnhandledError because Chalice converts any other exception raised in
a view into its own 500 body before middleware can see it.
"""

from __future__ import annotations

from chalice import ChaliceUnhandledError


class AppError(ChaliceUnhandledError):
    status = 500
    code = "internal_error"
    message = "Something went wrong on our side."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(AppError):
    status = 400
    code = "invalid_request"
    message = "The request body is not valid."


class InvalidEmail(AppError):
    status = 400
    code = "invalid_email"
    message = "Enter a valid email address."


class InvalidPassword(AppError):
    status = 400
    code = "invalid_password"
    message = "Passwords must be 8 to 256 characters long."


class WeakPassword(AppError):
    status = 400
    code = "weak_password"
    message = "This password is among the most common ones. Choose another."


class InvalidCode(AppError):
    status = 400
    code = "invalid_code"
    message = "This code is not right. Check it and try again."


class CodeExpired(AppError):
    status = 400
    code = "code_expired"
    message = "This code has expired. We sent you a new one."


class InvalidResetToken(AppError):
    """A password reset's link that is not (or no longer) good. Not RFC 6750's
    `invalid_token`, which a 401's WWW-Authenticate says of a bad bearer token."""

    status = 400
    code = "invalid_reset_token"
    message = "This link is invalid, expired or already used. Ask for a new one."


class SecondFactorMissing(AppError):
    """A request that changes a two-factor account's password without its second factor (the
    request's lack, 400; not the session's `two_factor_required`, 403)."""

    status = 400
    code = "second_factor_missing"
    message = "Confirm with your second factor: a passkey, an app's code or a recovery code."


class InvalidPasskey(AppError):
    status = 400
    code = "invalid_credential"
    message = "The passkey's answer could not be verified. Try again."


class OAuthFailed(AppError):
    """A social sign-in that did not prove anyone: denied, a missing, foreign or used attempt,
    a token that does not verify, an answer that makes no sense."""

    status = 400
    code = "oauth_failed"
    message = "The sign-in with that provider did not work. Try again, or sign in another way."


class InvalidCredentials(AppError):
    status = 401
    code = "invalid_credentials"
    message = "The email or password is incorrect."


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    message = "Sign in to continue."


class ReauthenticationRequired(AppError):
    status = 401
    code = "reauthentication_required"
    message = "Confirm it is you first: with your password, a code we email you, or a passkey."


class CrossOriginRequest(AppError):
    status = 403
    code = "cross_origin_request"
    message = "This request came from another site and was refused."


class TwoFactorRequired(AppError):
    status = 403
    code = "two_factor_required"
    message = "Confirm your sign-in with your second factor to continue."


class EmailUnverified(AppError):
    status = 403
    code = "email_unverified"
    message = "Verify your email address to continue."


class AccountDisabled(AppError):
    """A banned account: every way in is refused until the ban ends or is lifted."""

    status = 403
    code = "account_disabled"
    message = "This account is disabled. Contact support if you think this is a mistake."


class SignUpDenied(AppError):
    """The team's before_sign_up hook refused the sign-up (chalicelib.hooks), or failed with
    on_error=deny. The message is the hook's, as plain text: the sign-up page shows it."""

    status = 403
    code = "sign_up_denied"
    message = "Sign-up is not open to this address."


class InsufficientPermissions(AppError):
    status = 403
    code = "insufficient_permissions"
    message = "You do not have permission to do this."


class AdminMfaRequired(AppError):
    status = 403
    code = "admin_mfa_required"
    message = (
        "Administration needs two-factor sign-in: sign in with a passkey, or with your"
        " authenticator app's code, first."
    )


class ImpersonationForbidden(AppError):
    status = 403
    code = "impersonation_forbidden"
    message = "Not while impersonating: only the account's owner can do this."


class UnknownRole(AppError):
    status = 400
    code = "unknown_role"
    message = "That role does not exist on this service."


class LastAdmin(AppError):
    status = 409
    code = "last_admin"
    message = "This is the last administrator who can grant roles. Make another one first."


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "There is nothing here."


# -- organizations (chalicelib.orgs) --------------------------------------------------------


class SlugTaken(AppError):
    status = 409
    code = "slug_taken"
    message = "Another organization has this slug. Choose another."


class LastOwner(AppError):
    status = 409
    code = "last_owner"
    message = "This is the organization's last owner. Make another member an owner first."


class NotAMember(AppError):
    status = 403
    code = "not_a_member"
    message = "You are not a member of this organization."


class NoActiveOrganization(AppError):
    status = 409
    code = "no_active_organization"
    message = "Choose the organization you are working in first."


class InvitationEmailMismatch(AppError):
    status = 403
    code = "invitation_email_mismatch"
    message = "This invitation is for another email address. Sign in with that address."


class InvitationNotFound(AppError):
    status = 404
    code = "invitation_not_found"
    message = "This invitation is not valid: it was used, revoked, replaced or has expired."


class AlreadyMember(AppError):
    status = 409
    code = "already_member"
    message = "You are a member of this organization already."


class TooManyOrganizations(AppError):
    status = 409
    code = "too_many_organizations"
    message = "You belong to as many organizations as an account may. Leave one first."


class TooManyInvitations(AppError):
    status = 409
    code = "too_many_invitations"
    message = "This organization has as many pending invitations as it may. Revoke one first."


class MethodNotAllowed(AppError):
    status = 405
    code = "method_not_allowed"
    message = "This method is not allowed here."


class EmailTaken(AppError):
    status = 409
    code = "email_taken"
    message = "An account with this email already exists."


class AccountExists(AppError):
    status = 409
    code = "account_exists"
    message = "An account uses this email: sign in another way, then connect it in settings."


class IdentityTaken(AppError):
    status = 409
    code = "identity_taken"
    message = "That sign-in is connected to another account already."


class LastSignInMethod(AppError):
    status = 409
    code = "last_sign_in_method"
    message = "This is your last way to sign in. Add a password or a passkey first."


class AlreadyImported(AppError):
    """An import's line whose source id an earlier import brought in (devtools.users: skipped,
    so running an import again is safe). No route answers with it: a first sign-in whose
    migration meets it signs in to the account that holds it, or fails as a wrong password."""

    status = 409
    code = "already_imported"
    message = "This user was imported already."


class AlreadyVerified(AppError):
    status = 409
    code = "already_verified"
    message = "This email address is verified already."


class TwoFactorAlreadyOn(AppError):
    status = 409
    code = "two_factor_already_enabled"
    message = "Two-factor sign-in is on already. Turn it off first to set it up again."


class TwoFactorOff(AppError):
    status = 409
    code = "two_factor_not_enabled"
    message = "Two-factor sign-in with an authenticator app is not on."


class TooManyPasskeys(AppError):
    status = 409
    code = "too_many_passkeys"
    message = "You have 10 passkeys already. Delete one to add another."


class PasskeyExists(AppError):
    status = 409
    code = "passkey_exists"
    message = "This passkey is registered already."


class NoPasskeys(AppError):
    status = 409
    code = "no_passkeys"
    message = "This account has no passkey."


class TooManyAttempts(AppError):
    status = 429
    code = "too_many_attempts"
    message = "Too many failed sign-in attempts. Wait a little and try again."

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"
    message = "Send the request body as application/json."


class ServiceUnavailable(AppError):
    """The store failed or timed out. Never treated as "not signed in": cookies stay as they are."""

    status = 503
    code = "service_unavailable"
    message = "The service is briefly unavailable. Try again shortly."
    retry_after_seconds = 1

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
