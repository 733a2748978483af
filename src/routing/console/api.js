// The admin API, called with the signed-in admin JWT. The token lives in sessionStorage only: it
// goes with this tab, never into a URL, a cookie or a log line (design §2).

const KEY = "scimgate.adminJwt";

/** An answer of the admin API that was not a success: its status and message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The stored token, or null. */
export function token() {
  return sessionStorage.getItem(KEY);
}

/** Keeps `jwt` for this tab. */
export function signIn(jwt) {
  sessionStorage.setItem(KEY, jwt);
}

/** Forgets the token and tells the app why, which shows the sign-in page with the reason. */
export function signOut(reason) {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new CustomEvent("signed-out", { detail: reason }));
}

/** Signs out because the token's `exp` (milliseconds) has passed. */
export function signOutExpired(at) {
  signOut(`Signed out: your token expired at ${new Date(at).toLocaleString()}. Sign in with a new one.`);
}

/** The token's `exp` in milliseconds, or null; read only to warn before it lapses. */
export function expiry(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(payload)).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/**
 * Calls the admin API. A 401 signs out with the server's reason (expired, wrong signature …);
 * any other failure throws an ApiError carrying the server's message.
 */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "The gateway could not be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (response.status === 401) {
    // The gateway says no more than "refused" (it tells an attacker nothing); the token's own
    // `exp` tells the one reason a person can act on without help.
    const at = expiry(token());
    if (at !== null && at <= Date.now()) signOutExpired(at);
    else signOut(`Signed out: the gateway refused the token (${answer?.message ?? response.status}). Check that it was issued for this gateway.`);
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) {
    throw new ApiError(response.status, answer?.message ?? `the gateway answered ${response.status}`);
  }
  return answer;
}

/** `/api/orgs/{id}` + rest. */
export function orgPath(orgId, rest) {
  return `/api/orgs/${encodeURIComponent(orgId)}${rest}`;
}
