// Errors arrive as application/problem+json naming the field and the fix; screens show them
// next to the field they name.
import { apiLocation } from "./client";
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];
export type FieldProblem = components["schemas"]["ProblemFieldError"];

export function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "status" in value && "detail" in value;
}

/** Turn whatever an API call failed with into a Problem the screens can render. */
export function toProblem(error: unknown, status?: number): Problem {
  if (isProblem(error)) {
    const problem = { ...error, errors: error.errors ?? [] };
    if (problem.status !== 401) return problem;
    // The API's fix speaks to HTTP clients; in the panel the fix is to sign in again.
    return {
      ...problem,
      detail: "Your API token was not accepted (unknown, expired or revoked): sign in again with a valid token.",
      errors: [],
    };
  }
  if (error instanceof TypeError) {
    // fetch() rejects with a TypeError when nothing answers (API down, wrong URL, CORS refused).
    return {
      type: "about:blank",
      title: "API unreachable",
      status: 0,
      detail: `The LakeForge API at ${apiLocation()} did not answer. Nothing was changed; check that it is running (lakeforge up) and try again.`,
      errors: [],
    };
  }
  const detail = error instanceof Error ? error.message : String(error ?? "Request failed");
  return { type: "about:blank", title: "Error", status: status ?? 0, detail, errors: [] };
}

/** The first message for a field (or one of its children), e.g. "schedule.quartz_cron". */
export function errorFor(problem: Problem | null, ...fields: string[]): FieldProblem | undefined {
  if (!problem?.errors) return undefined;
  const wanted = fields.map((f) => f.replace(/^intent\./, ""));
  return problem.errors.find((e) => {
    const name = e.field.replace(/^intent\./, "");
    return wanted.some((w) => name === w || name.startsWith(`${w}.`) || name.startsWith(`${w}[`));
  });
}

/** Errors not claimed by any field the form shows: rendered above the form. */
export function unclaimed(problem: Problem | null, shown: string[]): FieldProblem[] {
  if (!problem?.errors) return [];
  return problem.errors.filter((e) => !errorFor({ ...problem, errors: [e] }, ...shown));
}
