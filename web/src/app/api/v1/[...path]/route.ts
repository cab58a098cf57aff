// Forwards /api/v1/* to the LakeForge API named by PANEL_API_URL (read per request, so
// one build serves any deployment). Bodies stream both ways, which keeps server-sent events live.
import type { NextRequest } from "next/server";

export const dynamic = "force-dynamic";

const FORWARDED = ["authorization", "content-type", "accept", "idempotency-key", "x-lakeforge-surface", "x-lakeforge-channel"];

function apiBase(): string {
  return (process.env.PANEL_API_URL ?? "http://127.0.0.1:8765").replace(/\/+$/, "");
}

async function forward(request: NextRequest, context: { params: Promise<{ path: string[] }> }): Promise<Response> {
  const { path } = await context.params;
  const target = `${apiBase()}/api/v1/${path.map(encodeURIComponent).join("/")}${request.nextUrl.search}`;
  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = request.headers.get(name);
    if (value) headers.set(name, value);
  }
  const hasBody = !["GET", "HEAD"].includes(request.method);
  try {
    const upstream = await fetch(target, {
      method: request.method,
      headers,
      body: hasBody ? await request.arrayBuffer() : undefined,
      cache: "no-store",
      redirect: "manual",
    });
    const out = new Headers();
    for (const name of ["content-type", "www-authenticate", "retry-after", "cache-control"]) {
      const value = upstream.headers.get(name);
      if (value) out.set(name, value);
    }
    return new Response(upstream.body, { status: upstream.status, headers: out });
  } catch {
    const problem = {
      type: "https://lakeforge.dev/problems/unavailable",
      title: "Service unavailable",
      status: 502,
      detail: `The LakeForge API at ${apiBase()} did not answer.`,
      errors: [{ field: "PANEL_API_URL", message: "API unreachable", fix: "Start it with `lakeforge up` or fix PANEL_API_URL." }],
    };
    return Response.json(problem, { status: 502, headers: { "content-type": "application/problem+json" } });
  }
}

export { forward as GET, forward as POST, forward as PUT, forward as PATCH, forward as DELETE };
