"use client";
// Chat console: the free-text pipeline Slack uses. The text is parsed into a proposed intent
// (nothing runs), the plan is shown, and only a confirmation applies it.
import { useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import { toProblem, type Problem } from "@/lib/api/problem";
import { useCommand, type Intent } from "@/lib/command";
import { PlanView } from "@/components/plan-view";
import { Badge, Button, Card, Json, PageTitle, ProblemBanner, Text, inputClass } from "@/components/ui";

interface Turn {
  text: string;
  intent: Intent | null;
  message: string;
  outcome?: string;
}

export default function Chat() {
  const [text, setText] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const command = useCommand();
  const pending = turns.at(-1)?.intent && !turns.at(-1)?.outcome ? turns.at(-1) : undefined;

  async function send(event: FormEvent) {
    event.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    command.reset();
    const { data, error, response } = await api.POST("/api/v1/commands/parse", { body: { text } });
    setBusy(false);
    if (error !== undefined || !data) return setProblem(toProblem(error, response.status));
    setProblem(null);
    const intent = (data.intent ?? null) as Intent | null;
    // A missing slot comes back as a clarifying question; nothing is planned until the intent is whole.
    const message = data.clarify ?? (intent ? `Understood (${data.parser}, confidence ${Math.round(data.confidence * 100)}%).` : "I could not read an intent from that.");
    // A new message leaves the plan waiting above unconfirmed: say so rather than keep it open.
    const earlier = turns.map((t) => (t === pending ? { ...t, outcome: "not confirmed" } : t));
    setTurns([...earlier, { text, intent, message }]);
    setText("");
    if (intent) await command.plan(intent);
  }

  async function confirm() {
    if (!pending?.intent) return;
    const answer = await command.apply(pending.intent, command.result?.confirm_token);
    setTurns(turns.map((t) => (t === pending ? { ...t, outcome: answer?.status ?? "rejected", message: answer?.message ?? t.message } : t)));
  }
  function cancel() {
    setTurns(turns.map((t) => (t === pending ? { ...t, outcome: "cancelled" } : t)));
    command.reset();
  }

  return (
    <>
      <PageTitle title="Chat console" />
      <div className="mx-auto max-w-3xl space-y-3">
        {turns.map((t, i) => (
          <Card key={i}>
            <p className="mb-2 font-medium">&gt; {t.text}</p>
            {t.intent ? <Json value={t.intent} /> : null}
            {t.message ? <p className="mt-2 text-sm"><Text value={t.message} /></p> : null}
            {t.outcome ? <p className="mt-2"><Badge value={t.outcome} /></p> : null}
          </Card>
        ))}
        {pending ? (
          <Card title="Plan">
            <ProblemBanner problem={command.problem} />
            {command.result ? <PlanView plan={command.result.plan} /> : null}
            <div className="mt-3 flex gap-2">
              <Button tone="primary" disabled={command.busy || Boolean(command.problem)} onClick={confirm}>Confirm</Button>
              <Button onClick={cancel}>Cancel</Button>
            </div>
          </Card>
        ) : null}
        <ProblemBanner problem={problem} />
        <form onSubmit={send} className="flex gap-2" aria-label="Chat">
          <label htmlFor="chat-text" className="sr-only">Command</label>
          <input id="chat-text" className={inputClass} placeholder="e.g. pause sales, run orders, show runs of retail" value={text} onChange={(e) => setText(e.target.value)} disabled={busy} />
          <Button type="submit" tone="primary" disabled={busy || !text.trim()}>Send</Button>
        </form>
      </div>
    </>
  );
}
