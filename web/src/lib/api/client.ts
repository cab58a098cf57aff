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

// Same origin: the panel's /api/v1 route forwards to the API (see src/app/api/v1/[...path]/route.ts).
export const api = createClient<paths>({ baseUrl: typeof window === "undefined" ? "http://127.0.0.1" : "" });
api.use(auth);

export type { paths };
