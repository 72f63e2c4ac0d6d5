// This app's server talking to the auth service's JSON API with the token transport: sign-ins
// ask for the session token in the body (`X-Session-Transport: token`), and every later call
// carries it as `Authorization: Bearer`. Only this server ever holds the token; the browser
// holds it in this app's own HttpOnly cookie, which its JavaScript cannot read.

const API_URL = (process.env.AUTH_API_URL ?? "http://localhost:8000").replace(/\/$/, "");
const TIMEOUT_MS = 10_000;
// Every visitor reaches the API from this server's address, so its per-IP limits would count
// them all together. Where the API can be reached only through this app (its CLIENT_IP_HEADER,
// docs/deployment.md), name that header here: each call then carries the visitor's address.
const CLIENT_IP_HEADER = process.env.AUTH_API_CLIENT_IP_HEADER;

/** An answer of the API that a user should see: its `message`, with the wait of a 429. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * Who is behind a request to this app: their browser's User-Agent, so that the API's session
 * list and audit log name it rather than Node, and their address, the last entry of
 * X-Forwarded-For (the one the nearest proxy wrote; `next start` alone writes the socket's).
 */
export function visitorOf(requestHeaders) {
  const forwarded = requestHeaders.get("x-forwarded-for") ?? "";
  return {
    userAgent: requestHeaders.get("user-agent") ?? undefined,
    address: forwarded.split(",").at(-1).trim() || undefined,
  };
}

/**
 * One call to the API for a `visitor`. Resolves with `{status, body}` for any answer below 500
 * (a 4xx is the caller's to read); rejects when the API is down or answers 5xx, so an outage
 * never reads as "signed out".
 */
export async function callApi(path, { method = "GET", token, json, visitor } = {}) {
  const headers = { Accept: "application/json" };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  } else {
    headers["X-Session-Transport"] = "token";
  }
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (visitor?.userAgent) headers["User-Agent"] = visitor.userAgent;
  if (CLIENT_IP_HEADER && visitor?.address) headers[CLIENT_IP_HEADER] = visitor.address;
  const response = await fetch(`${API_URL}${path}`, {
    method,
    headers,
    body: json === undefined ? undefined : JSON.stringify(json),
    cache: "no-store",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (response.status >= 500) {
    throw new Error(`The auth service answered ${response.status} to ${method} ${path}`);
  }
  const body = response.status === 204 ? null : await response.json();
  return { status: response.status, body, headers: response.headers };
}

/** The API's error body as an ApiError: `{"error": {"code", "message"}}`, plus Retry-After. */
export function apiError({ status, body, headers }) {
  const error = body?.error ?? {};
  const wait = Number.parseInt(headers.get("Retry-After") ?? "", 10);
  return new ApiError(
    status,
    error.code ?? "unknown",
    error.message ?? `The auth service answered ${status}.`,
    Number.isFinite(wait) ? wait : undefined,
  );
}
