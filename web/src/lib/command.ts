"use client";
// Plan → confirm → apply against POST /api/v1/commands, the same command layer Slack and the CLI use.
import { useState } from "react";
import { api } from "@/lib/api/client";
import { toProblem, type Problem } from "@/lib/api/problem";
import type { components } from "@/lib/api/schema";

export type CommandResponse = components["schemas"]["CommandResponse"];
export type Intent = { kind: string } & Record<string, unknown>;

export function useCommand() {
  const [result, setResult] = useState<CommandResponse | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function send(intent: Intent, options: { dry_run?: boolean; confirm_token?: string | null } = {}) {
    setBusy(true);
    try {
      const { data, error, response } = await api.POST("/api/v1/commands", {
        // The intent union is validated by the API; the panel sends what the form collected.
        body: { intent: intent as never, dry_run: options.dry_run ?? false, confirm_token: options.confirm_token ?? null },
      });
      if (error !== undefined || !data) {
        setProblem(toProblem(error, response.status));
        setResult(null);
        return null;
      }
      setProblem(null);
      setResult(data);
      return data;
    } catch (error) {
      setProblem(toProblem(error));
      return null;
    } finally {
      setBusy(false);
    }
  }

  return {
    result,
    problem,
    busy,
    /** Ask for the plan only (dry run). */
    plan: (intent: Intent) => send(intent, { dry_run: true }),
    /** Apply: with the confirm token of a plan when there is one. */
    apply: (intent: Intent, confirmToken?: string | null) => send(intent, { confirm_token: confirmToken }),
    reset: () => {
      setResult(null);
      setProblem(null);
    },
  };
}

/** What the panel says about an answer: a dry run changed nothing, and `action` applies it. */
export function planNote(result: CommandResponse, action: string): string {
  return result.status === "planned" ? `Nothing has changed yet: ${action} applies exactly this plan.` : result.message;
}
