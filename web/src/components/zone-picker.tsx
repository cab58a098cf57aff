"use client";
// Which zones a run or rerun goes through. All checked sends no `zones` (the whole flow); a zone
// unchecked sends the list of the checked ones, in flow order, and the API plans exactly those.
import { useId } from "react";

export const ZONES = ["raw", "bronze", "silver", "gold"] as const;
export type Zone = (typeof ZONES)[number];

/** The `zones` field of a run_now/rerun_batch intent for the checked zones: omitted when all are. */
export function zonesField(checked: readonly Zone[]): { zones?: Zone[] } {
  return checked.length === ZONES.length ? {} : { zones: ZONES.filter((z) => checked.includes(z)) };
}

export function ZonePicker({ value, onChange, disabled }: { value: readonly Zone[]; onChange: (zones: Zone[]) => void; disabled?: boolean }) {
  const id = useId();
  return (
    <fieldset className="mb-3" aria-describedby={`${id}-hint`}>
      <legend className="mb-1 text-xs font-medium text-zinc-500 dark:text-zinc-400">Zones</legend>
      <div className="flex flex-wrap gap-3 text-sm">
        {ZONES.map((zone) => (
          <label key={zone} className="flex items-center gap-1">
            <input
              type="checkbox"
              checked={value.includes(zone)}
              disabled={disabled || (value.length === 1 && value.includes(zone))}
              onChange={(e) => onChange(e.target.checked ? [...value, zone] : value.filter((z) => z !== zone))}
            />
            {zone}
          </label>
        ))}
      </div>
      <p id={`${id}-hint`} className="mt-1 text-xs text-zinc-500 dark:text-zinc-400">At least one zone; the plan below follows the choice.</p>
    </fieldset>
  );
}
