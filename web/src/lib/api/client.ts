// The one typed API client. Paths, parameters and bodies come from schema.d.ts, which is
// generated from the API's OpenAPI document (make web-api); nothing here is written twice.
import createClient, { type Middleware } from "openapi-fetch";
import { getToken } from "@/lib/auth";
import type { paths } from "./schema";

const auth: Middleware = {
  async onRequest({ request }) {
    const token = getToken();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    // The audit log records which surface a command came from.
    request.headers.set("X-LakeForge-Surface", "web");
    if (typeof window !== "undefined") request.headers.set("X-LakeForge-Channel", window.location.pathname);
    return request;
  },
};

declare global {
  interface Window {
    __LAKEFORGE_API__?: string;
  }
}

// The root layout sets window.__LAKEFORGE_API__ before any script runs: the API's own URL when the
// browser may call it directly, or "" for the panel's same-origin proxy (src/app/api/v1/[...path]).
const baseUrl = typeof window === "undefined" ? "http://127.0.0.1" : (window.__LAKEFORGE_API__ ?? "");

/** Where the browser sends API calls, for messages that say which API did not answer. */
export function apiLocation(): string {
  if (baseUrl) return `${baseUrl}/api/v1`;
  return typeof window === "undefined" ? "/api/v1" : `${window.location.origin}/api/v1 (the panel's proxy)`;
}
export const api = createClient<paths>({ baseUrl });
api.use(auth);

export type { paths };
