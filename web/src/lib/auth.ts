// The API token lives in this browser tab's localStorage only; it is never sent anywhere but the API.
const KEY = "lakeforge.token";

export function getToken(): string | null {
  if (typeof window === "undefined") return null;
  return window.localStorage.getItem(KEY);
}

export function setToken(token: string): void {
  window.localStorage.setItem(KEY, token.trim());
}

export function clearToken(): void {
  window.localStorage.removeItem(KEY);
}

/** The sign-in page, coming back afterwards to where the user is now (path, query and hash). */
export function signInHref(): string {
  if (typeof window === "undefined") return "/signin";
  const { pathname, search, hash } = window.location;
  return `/signin?next=${encodeURIComponent(pathname + search + hash)}`;
}
