// Small building blocks shared by every screen: cards, badges, buttons, field errors.
import type { ButtonHTMLAttributes, ReactNode } from "react";
import type { FieldProblem, Problem } from "@/lib/api/problem";
import { signInHref } from "@/lib/auth";

export function PageTitle({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="mb-6 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-xl font-semibold tracking-tight">{title}</h1>
      <div className="flex flex-wrap items-center gap-2">{children}</div>
    </div>
  );
}

export function Card({ title, children, className = "" }: { title?: ReactNode; children: ReactNode; className?: string }) {
  return (
    // A table wider than the screen scrolls inside its card, not the whole page (phones); relative
    // keeps its sr-only labels (absolutely placed) inside that scroll too.
    <section className={`relative overflow-x-auto rounded-lg border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900 ${className}`}>
      {title ? <h2 className="mb-3 text-sm font-semibold text-zinc-700 dark:text-zinc-300">{title}</h2> : null}
      {children}
    </section>
  );
}

const TONES: Record<string, string> = {
  succeeded: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-300",
  passed: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-300",
  applied: "bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-300",
  failed: "bg-red-100 text-red-800 dark:bg-red-900/50 dark:text-red-300",
  rejected: "bg-red-100 text-red-800 dark:bg-red-900/50 dark:text-red-300",
  running: "bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-300",
  queued: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  paused: "bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-300",
  planned: "bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-300",
  needs_confirmation: "bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-300",
};

export function Badge({ value }: { value: string | null | undefined }) {
  const text = value ?? "none";
  const tone = TONES[text] ?? "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300";
  return <span className={`inline-block rounded px-1.5 py-0.5 text-xs font-medium ${tone}`} data-status={text}>{text}</span>;
}

type ButtonProps = ButtonHTMLAttributes<HTMLButtonElement> & { tone?: "primary" | "plain" | "danger" };

export function Button({ tone = "plain", className = "", ...props }: ButtonProps) {
  const tones = {
    primary: "bg-sky-700 text-white hover:bg-sky-800 disabled:bg-sky-300 dark:disabled:bg-sky-900",
    plain: "border border-zinc-300 bg-white hover:bg-zinc-50 dark:border-zinc-700 dark:bg-zinc-900 dark:hover:bg-zinc-800",
    danger: "bg-red-600 text-white hover:bg-red-700 disabled:bg-red-300",
  };
  return <button className={`rounded-md px-3 py-1.5 text-sm font-medium disabled:cursor-not-allowed ${tones[tone]} ${className}`} {...props} />;
}

export const inputClass =
  "w-full rounded-md border border-zinc-300 bg-white px-2.5 py-1.5 text-sm dark:border-zinc-700 dark:bg-zinc-950 aria-[invalid=true]:border-red-500";

// API and chat messages mark commands and values with backticks, as Slack shows them: render
// those as code rather than as literal backticks.
export function Text({ value }: { value: string }) {
  return <>{value.split(/`([^`]+)`/).map((part, i) => (i % 2 ? <code key={i} className="rounded bg-zinc-100 px-1 font-mono text-[0.9em] dark:bg-zinc-800">{part}</code> : part))}</>;
}

export function FieldMessage({ error, id }: { error?: FieldProblem; id: string }) {
  if (!error) return null;
  return (
    <p id={id} role="alert" className="mt-1 text-xs text-red-700 dark:text-red-400" data-field-error={error.field}>
      <Text value={error.message} />
      {error.fix ? <span className="block text-zinc-600 dark:text-zinc-400"><Text value={error.fix} /></span> : null}
    </p>
  );
}

export function Field({ label, name, error, hint, children }: { label: string; name: string; error?: FieldProblem; hint?: string; children: ReactNode }) {
  return (
    <div>
      <label htmlFor={name} className="mb-1 block text-xs font-medium text-zinc-700 dark:text-zinc-300">{label}</label>
      {children}
      {hint && !error ? <p id={`${name}-hint`} className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">{hint}</p> : null}
      <FieldMessage error={error} id={`${name}-error`} />
    </div>
  );
}

/** A refused request. A form passes `extra` (the errors none of its fields shows) and then shows
 * every error of the problem, under its field or here; a screen without fields passes nothing. */
export function ProblemBanner({ problem, extra }: { problem: Problem | null; extra?: FieldProblem[] }) {
  if (!problem) return null;
  // The API's detail repeats its first error with the field's path ("intent.name: …"): on a form
  // that error is already shown, so the banner only says where to look.
  const errors = problem.errors ?? [];
  const repeated = extra !== undefined && errors.some((e) => problem.detail.startsWith(`${e.field}: ${e.message}`));
  const underFields = extra !== undefined ? errors.length - extra.length : 0;
  return (
    <div role="alert" className="mb-4 rounded-md border border-red-300 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/50 dark:text-red-300" data-problem={problem.status}>
      {!repeated ? <p className="font-medium"><Text value={problem.detail} /></p> : underFields ? (
        <p className="font-medium">Nothing was changed: fix the {underFields === 1 ? "field" : `${underFields} fields`} marked below.</p>
      ) : null}
      {problem.status === 401 ? (
        <a href={signInHref()} className="mt-1 inline-block font-medium underline">Sign in again</a>
      ) : null}
      {(extra ?? []).map((e) => (
        <p key={`${e.field}-${e.message}`} className="mt-1 text-xs">
          <code>{e.field}</code>: <Text value={e.message} /> {e.fix ? <>— <Text value={e.fix} /></> : null}
        </p>
      ))}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="py-6 text-center text-sm text-zinc-500 dark:text-zinc-400">{children}</p>;
}

export function Json({ value }: { value: unknown }) {
  return <pre className="overflow-x-auto rounded bg-zinc-50 p-2 font-mono text-xs dark:bg-zinc-950">{JSON.stringify(value, null, 2)}</pre>;
}

export const th = "px-2 py-1.5 text-left text-xs font-medium uppercase tracking-wide text-zinc-500 dark:text-zinc-400";
export const td = "px-2 py-1.5 align-top";
