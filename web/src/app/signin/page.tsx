"use client";
import { useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import { toProblem, type Problem } from "@/lib/api/problem";
import { clearToken, setToken } from "@/lib/auth";
import { Button, FieldMessage, inputClass } from "@/components/ui";

export default function SignIn() {
  const [token, setValue] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setToken(token);
    // Any authenticated read proves the token; the API answers 401 problem+json otherwise.
    const { error, response } = await api.GET("/api/v1/groups").catch((e: unknown) => ({ error: e, response: new Response(null, { status: 0 }) }));
    setBusy(false);
    if (error !== undefined) {
      clearToken();
      const p = toProblem(error, response.status);
      setProblem(response.status === 401 ? { ...p, errors: [{ field: "token", message: p.detail, fix: "Create one with `lakeforge token create --user NAME --role ROLE`." }] } : p);
      return;
    }
    const next = new URLSearchParams(window.location.search).get("next");
    window.location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
  }

  const fieldError = problem?.errors?.find((e) => e.field === "token") ?? (problem ? { field: "token", message: problem.detail, fix: null } : undefined);
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-lg border border-zinc-200 p-6 dark:border-zinc-800">
        <h1 className="text-lg font-semibold">Sign in to LakeForge</h1>
        <div>
          <label htmlFor="token" className="mb-1 block text-xs font-medium">API token</label>
          <input id="token" name="token" type="password" autoComplete="off" required autoFocus value={token} onChange={(e) => setValue(e.target.value)} className={inputClass} aria-invalid={fieldError ? true : undefined} aria-describedby="token-error" />
          <FieldMessage error={fieldError} id="token-error" />
        </div>
        <Button type="submit" tone="primary" disabled={busy || !token} className="w-full">{busy ? "Checking…" : "Sign in"}</Button>
        <p className="text-xs text-zinc-500">The token stays in this browser and is sent only to the LakeForge API.</p>
      </form>
    </main>
  );
}
