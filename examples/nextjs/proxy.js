// Before every page: the session cookie's upkeep, which a page cannot do while it renders. A
// dead session's cookie is blanked, and a session whose expiry slid gets the later expiry.
// The page then asks verifyAuth() again (React caches it within the render), so a session
// revoked on the service's side is refused at the very next navigation.

import { NextResponse } from "next/server";

import { visitorOf } from "./lib/api";
import { SESSION_COOKIE, blankCookie, sessionCookie, sessionOf } from "./lib/auth";

export async function proxy(request) {
  const token = request.cookies.get(SESSION_COOKIE)?.value;
  if (!token || request.method !== "GET") return NextResponse.next();
  let found;
  try {
    found = await sessionOf(token, visitorOf(request.headers));
  } catch {
    return NextResponse.next(); // the service is down: the page says so (app/error.js)
  }
  if (found === null) {
    request.cookies.delete(SESSION_COOKIE); // the page renders as signed out
    const response = NextResponse.next({ request: { headers: request.headers } });
    response.cookies.set(blankCookie());
    return response;
  }
  const response = NextResponse.next();
  if (found.session.fresh) response.cookies.set(sessionCookie(token, found.session.expires_at));
  return response;
}

export const config = {
  // Pages only: not Next.js's own files, and not server actions (POSTs, which set cookies).
  matcher: ["/((?!_next/static|_next/image|favicon.ico).*)"],
};
