"use client";
// Groups and schedules: each group is one Databricks job. Quartz editor with English description
// and the next five fire times in the viewer's time zone; pause, resume, run now.
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { api } from "@/lib/api/client";
import type { GroupRow, ScheduleRow } from "@/lib/api/models";
import type { components } from "@/lib/api/schema";
import { errorFor, toProblem, unclaimed, type Problem } from "@/lib/api/problem";
import { useCommand } from "@/lib/command";
import { formatTime, viewerTimeZone } from "@/lib/format";
import { may, useMe } from "@/lib/me";
import { useApi } from "@/lib/use-api";
import { PlanView } from "@/components/plan-view";
import { Badge, Button, Card, Empty, Field, PageTitle, ProblemBanner, inputClass } from "@/components/ui";

export default function Groups() {
  const groups = useApi<GroupRow[]>(() => api.GET("/api/v1/groups"), []);
  const schedules = useApi<ScheduleRow[]>(() => api.GET("/api/v1/schedules", { params: { query: { upcoming: 5 } } }), []);
  const reload = async () => {
    await Promise.all([groups.reload(), schedules.reload()]);
  };
  const byGroup = new Map((schedules.data ?? []).map((s) => [s.group, s]));
  const me = useMe();
  // A card waits for the schedules: an editor filled before they arrive would show an existing
  // schedule as empty (and a save would replace it unseen).
  const ready = groups.data !== undefined && schedules.data !== undefined;
  return (
    <>
      <PageTitle title="Groups & schedules" />
      <ProblemBanner problem={groups.problem ?? schedules.problem} />
      <div className="space-y-4">
        {ready ? (groups.data ?? []).map((g) => {
          const schedule = byGroup.get(g.name);
          return <GroupCard key={`${g.name}|${schedule?.quartz_cron ?? ""}|${schedule?.timezone ?? ""}`} group={g} schedule={schedule} onChange={reload} />;
        }) : groups.loading || schedules.loading ? <Empty>Loading…</Empty> : null}
        {ready && !groups.data?.length ? <Empty>No groups yet.</Empty> : null}
        {may(me, "create_group") ? <NewGroup onChange={reload} /> : null}
      </div>
    </>
  );
}

function GroupCard({ group, schedule, onChange }: { group: GroupRow; schedule?: ScheduleRow; onChange: () => Promise<void> }) {
  const router = useRouter();
  const me = useMe();
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function act(action: "pause" | "resume" | "run") {
    setBusy(true);
    const path = `/api/v1/groups/{name}/${action}` as const;
    const { data, error, response } = await api.POST(path, { params: { path: { name: group.name } } });
    setBusy(false);
    if (error !== undefined) return setProblem(toProblem(error, response.status));
    setProblem(null);
    const batch = (data as { result?: { batch_id?: number } } | undefined)?.result?.batch_id;
    if (action === "run") router.push(batch ? `/runs/${batch}` : `/runs?group=${group.name}`);
    else await onChange();
  }

  return (
    <Card title={<span id={group.name} className="flex items-center gap-2">{group.name} {group.paused ? <Badge value="paused" /> : null}</span>}>
      <ProblemBanner problem={problem} />
      <div className="grid gap-4 lg:grid-cols-[1fr_1.4fr]">
        <div className="space-y-2 text-sm">
          <p className="text-zinc-600 dark:text-zinc-400">{group.description ?? "No description."}</p>
          <p>{group.source_count} source{group.source_count === 1 ? "" : "s"} · compute <code>{group.compute_profile}</code> · engine {group.engine} · channel {group.channel ?? "none"}</p>
          <p>Last run: {group.last_batch_id ? <Link className="hover:underline" href={`/runs/${group.last_batch_id}`}>#{group.last_batch_id} <Badge value={group.last_status} /></Link> : "never"}</p>
          <div className="flex flex-wrap gap-2 pt-2">
            {may(me, "run_now", group.name) ? <Button tone="primary" disabled={busy} onClick={() => act("run")}>Run now</Button> : null}
            {schedule && may(me, group.paused ? "resume_schedule" : "pause_schedule", group.name) ? (group.paused ? <Button disabled={busy} onClick={() => act("resume")}>Resume</Button> : <Button disabled={busy} onClick={() => act("pause")}>Pause</Button>) : null}
          </div>
        </div>
        <ScheduleEditor group={group.name} schedule={schedule} onChange={onChange} />
      </div>
    </Card>
  );
}

type Preview = components["schemas"]["SchedulePreview"];
const PREVIEW_DELAY_MS = 350;

// Explains the expression while it is typed (GET /schedules/preview, debounced); nothing is saved.
function useSchedulePreview(cron: string, timezone: string): { preview: Preview | null; problem: Problem | null } {
  const [state, setState] = useState<{ key: string; preview: Preview | null; problem: Problem | null }>({ key: "", preview: null, problem: null });
  const key = `${cron.trim()}\u0000${timezone.trim()}`;
  useEffect(() => {
    if (!cron.trim() || !timezone.trim()) return;
    const controller = new AbortController();
    const timer = window.setTimeout(async () => {
      try {
        const { data, error, response } = await api.GET("/api/v1/schedules/preview", {
          params: { query: { quartz_cron: cron.trim(), timezone: timezone.trim(), count: 5 } },
          signal: controller.signal,
        });
        if (error !== undefined) setState({ key, preview: null, problem: toProblem(error, response.status) });
        else setState({ key, preview: data ?? null, problem: null });
      } catch {
        // Aborted by a newer keystroke: that request's answer will replace this one.
      }
    }, PREVIEW_DELAY_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [cron, timezone, key]);
  // An answer for an older expression is not shown next to the newer one.
  return state.key === key && cron.trim() ? state : { preview: null, problem: null };
}

function ScheduleEditor({ group, schedule, onChange }: { group: string; schedule?: ScheduleRow; onChange: () => Promise<void> }) {
  const canSet = may(useMe(), "set_schedule", group);
  const [cron, setCron] = useState(schedule?.quartz_cron ?? "");
  const [timezone, setTimezone] = useState(schedule?.timezone ?? viewerTimeZone());
  const command = useCommand();
  const [checked, setChecked] = useState(false);
  const live = useSchedulePreview(cron, timezone);
  // set_schedule replaces the whole schedule: a paused one stays paused (Resume is its own action).
  // The zone is sent when it is the first schedule's or was changed here; left as shown, it is
  // omitted, so the command layer keeps the group's current zone even if it changed meanwhile.
  const zoneChanged = !schedule || timezone.trim() !== schedule.timezone;
  const intent = () => ({ kind: "set_schedule", group, quartz_cron: cron.trim(), ...(zoneChanged ? { timezone: timezone.trim() } : {}), paused: schedule?.paused ?? false });

  async function check(event: FormEvent) {
    event.preventDefault();
    setChecked(Boolean(await command.plan(intent())));
  }
  async function save() {
    const answer = await command.apply(intent(), command.result?.confirm_token);
    if (answer?.status === "applied") {
      setChecked(false);
      command.reset();
      await onChange();
    }
  }
  const planned = command.result?.result as { description?: string; next_fire_times?: string[] } | null | undefined;
  const unchanged = schedule && cron.trim() === schedule.quartz_cron && timezone.trim() === schedule.timezone;
  const description = live.preview?.description ?? (checked ? planned?.description : unchanged ? schedule?.description : undefined);
  const fires = live.preview?.next_fire_times ?? (checked ? planned?.next_fire_times : unchanged ? schedule?.next_fire_times : undefined);
  // The dry run's answer wins once asked for; until then the live preview's error shows.
  const problem = command.problem ?? live.problem;
  const id = `cron-${group}`;
  return (
    <form onSubmit={check} className="space-y-2" aria-label={`Schedule of ${group}`}>
      <ProblemBanner problem={problem} extra={unclaimed(problem, ["quartz_cron", "timezone", "schedule"])} />
      <div className="grid gap-2 sm:grid-cols-[2fr_1fr]">
        <Field label="Quartz cron" name={id} error={errorFor(problem, "quartz_cron", "schedule")} hint="sec min hour day-of-month month day-of-week [year]">
          <input id={id} className={`${inputClass} font-mono`} value={cron} placeholder="0 0 2 * * ?" onChange={(e) => { setCron(e.target.value); setChecked(false); command.reset(); }} aria-invalid={errorFor(problem, "quartz_cron", "schedule") ? true : undefined} aria-describedby={errorFor(problem, "quartz_cron", "schedule") ? `${id}-error` : `${id}-hint`} />
        </Field>
        <Field label="Time zone" name={`tz-${group}`} error={errorFor(problem, "timezone")} hint={schedule ? "the schedule's zone" : "your zone, for a first schedule"}>
          <input id={`tz-${group}`} className={inputClass} value={timezone} onChange={(e) => { setTimezone(e.target.value); setChecked(false); command.reset(); }} />
        </Field>
      </div>
      {description ? <p className="text-sm" data-testid="cron-description">{description}</p> : null}
      {fires?.length ? (
        <div className="text-xs">
          <p className="mb-1 text-zinc-500 dark:text-zinc-400">Next fire times ({viewerTimeZone()}):</p>
          <ol className="list-inside list-decimal space-y-0.5" data-testid="next-fires">{fires.slice(0, 5).map((t) => <li key={t}>{formatTime(t)}</li>)}</ol>
        </div>
      ) : null}
      {checked && command.result?.plan ? <PlanView plan={command.result.plan} /> : null}
      <div className="flex gap-2">
        {canSet ? <Button type="submit" disabled={command.busy || !cron.trim()}>Check</Button> : null}
        {checked && canSet ? <Button type="button" tone="primary" disabled={command.busy} onClick={save}>Save schedule</Button> : null}
      </div>
    </form>
  );
}

function NewGroup({ onChange }: { onChange: () => Promise<void> }) {
  const command = useCommand();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  async function create(event: FormEvent) {
    event.preventDefault();
    const answer = await command.apply({ kind: "create_group", name: name.trim(), description: description.trim() || null });
    if (answer?.status === "applied") {
      setName("");
      setDescription("");
      await onChange();
    }
  }
  return (
    <Card title="New group">
      <form onSubmit={create} className="space-y-2" aria-label="New group">
        <ProblemBanner problem={command.problem} extra={unclaimed(command.problem, ["name", "description"])} />
        <div className="grid gap-2 sm:grid-cols-2">
          <Field label="Group name" name="group_name" error={errorFor(command.problem, "name")}><input id="group_name" className={inputClass} required value={name} onChange={(e) => setName(e.target.value)} /></Field>
          <Field label="Description" name="group_description" error={errorFor(command.problem, "description")}><input id="group_description" className={inputClass} value={description} onChange={(e) => setDescription(e.target.value)} /></Field>
        </div>
        <Button type="submit" tone="primary" disabled={command.busy}>Create group</Button>
      </form>
    </Card>
  );
}
