// The seed's two functions, over the auth service instead of Lucia:
//   createAuthSession(token) after sign-up and login, then redirect("/training");
//   verifyAuth() -> {user, session} or {user: null, session: null}.
// The session itself lives in the service's DynamoDB table; this app keeps only its token, in
// an HttpOnly cookie of its own.

import { cookies, headers } from "next/headers";
import { cache } from "react";

import { apiError, callApi, visitorOf } from "./api";

export const SESSION_COOKIE = "app_session";
const NO_SESSION = { user: null, session: null };

// Secure unless the app says it is served over plain http (`next dev` on localhost).
const SECURE = !(process.env.APP_URL ?? "").startsWith("http://");

export function sessionCookie(token, expiresAt) {
  return {
    name: SESSION_COOKIE,
    value: token,
    httpOnly: true,
    sameSite: "lax",
    secure: SECURE,
    path: "/",
    expires: new Date(expiresAt),
  };
}

export function blankCookie() {
  return { ...sessionCookie("", 0), maxAge: 0 };
}

/** Who made the request this app is answering (lib/api.js). */
export async function visitor() {
  return visitorOf(await headers());
}

/**
 * What the service says of a token (`GET /auth/session`: one read on its side): null when the
 * session is gone (logged out, revoked, expired, the user banned), else {user, session} with
 * `session.fresh` true when this check slid its expiry.
 */
export async function sessionOf(token, visitor) {
  const answer = await callApi("/auth/session", { token, visitor });
  if (answer.status === 401) return null;
  if (answer.status !== 200) throw apiError(answer);
  return { user: answer.body.user, session: answer.body.session };
}

/** Keeps a new session's token in the cookie, with the session's own expiry. */
export async function createAuthSession(token) {
  const found = await sessionOf(token, await visitor());
  if (found === null) throw new Error("The auth service did not keep the new session");
  (await cookies()).set(sessionCookie(token, found.session.expires_at));
}

/**
 * The signed-in user and their session, or nulls. Like the seed, it passes on a refreshed
 * session (a later expiry) and blanks a dead one; Next.js refuses cookie writes while it
 * renders a page, so there the error is ignored and proxy.js does the same upkeep before the
 * page renders. Once per request: React's cache shares the answer within one render.
 */
export const verifyAuth = cache(async () => {
  const cookieStore = await cookies();
  const token = cookieStore.get(SESSION_COOKIE)?.value;
  if (!token) return NO_SESSION;
  const found = await sessionOf(token, await visitor());
  try {
    if (found === null) {
      cookieStore.set(blankCookie());
    } else if (found.session.fresh) {
      cookieStore.set(sessionCookie(token, found.session.expires_at));
    }
  } catch {
    // Rendering a page: Next.js allows cookie writes only in actions, route handlers and proxy.
  }
  return found ?? NO_SESSION;
});

/** A call to the API as the signed-in user; null when the session is gone meanwhile. */
export async function callApiAsUser(path, options = {}) {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return null;
  const answer = await callApi(path, { ...options, token, visitor: await visitor() });
  if (answer.status === 401) return null;
  if (answer.status >= 400) throw apiError(answer);
  return answer.body;
}

/** Logout: the service ends the session at once (every device holding the token is out). */
export async function destroySession() {
  const cookieStore = await cookies();
  const token = cookieStore.get(SESSION_COOKIE)?.value;
  if (token) {
    const answer = await callApi("/auth/logout", {
      method: "POST",
      token,
      visitor: await visitor(),
    });
    if (answer.status !== 204 && answer.status !== 401) throw apiError(answer);
  }
  cookieStore.set(blankCookie());
}
