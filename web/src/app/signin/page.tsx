"use client";
import { useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import { toProblem, type Problem } from "@/lib/api/problem";
import { clearToken, setToken } from "@/lib/auth";
import { Button, FieldMessage, ProblemBanner, inputClass } from "@/components/ui";

export default function SignIn() {
  const [token, setValue] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setToken(token);
    // Any authenticated read proves the token; the API answers 401 problem+json otherwise.
    // fetch() rejects when nothing answers: that is reported as the API being unreachable.
    const answer = await api.GET("/api/v1/groups").then(
      ({ error, response }) => ({ error, status: response.status }),
      (failure: unknown) => ({ error: failure, status: 0 }),
    );
    setBusy(false);
    if (answer.error !== undefined) {
      clearToken();
      const p = toProblem(answer.error, answer.status);
      setProblem(answer.status === 401 ? { ...p, errors: [{ field: "token", message: "This token was not accepted: it is unknown, expired or revoked.", fix: "Create one with `lakeforge token create --user NAME --role ROLE`." }] } : p);
      return;
    }
    const next = new URLSearchParams(window.location.search).get("next");
    window.location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
  }

  // A refused token is the field's error; an API that did not answer is not the token's fault.
  const fieldError = problem?.errors?.find((e) => e.field === "token");
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <form onSubmit={submit} className="w-full max-w-sm space-y-4 rounded-lg border border-zinc-200 p-6 dark:border-zinc-800">
        <h1 className="text-lg font-semibold">Sign in to LakeForge</h1>
        <div>
          <label htmlFor="token" className="mb-1 block text-xs font-medium">API token</label>
          <input id="token" name="token" type="password" autoComplete="off" required autoFocus value={token} onChange={(e) => setValue(e.target.value)} className={inputClass} aria-invalid={fieldError ? true : undefined} aria-describedby="token-error" />
          <FieldMessage error={fieldError} id="token-error" />
        </div>
        {problem && !fieldError ? <ProblemBanner problem={problem} /> : null}
        <Button type="submit" tone="primary" disabled={busy || !token} className="w-full">{busy ? "Checking…" : "Sign in"}</Button>
        <p className="text-xs text-zinc-500 dark:text-zinc-400">The token stays in this browser and is sent only to the LakeForge API.</p>
      </form>
    </main>
  );
}
