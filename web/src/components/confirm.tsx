"use client";
// A modal that shows what will change and asks before anything destructive happens.
import { useEffect, useId, useRef, type ReactNode } from "react";
import { Button } from "./ui";

export function Confirm({ open, title, children, confirmLabel = "Confirm", dismissLabel = "Cancel", busy, onConfirm, onCancel }: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel?: string;
  // "Cancel" would read as the action itself in a dialog that cancels a batch.
  dismissLabel?: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // Several dialogs can sit on one page (restore, remove a rule): each names its own title.
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
      aria-labelledby={titleId}
      className="m-auto w-full max-w-2xl rounded-lg border border-zinc-200 bg-white p-5 text-zinc-900 backdrop:bg-black/40 dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100"
    >
      <h2 id={titleId} className="mb-3 text-base font-semibold">{title}</h2>
      <div className="max-h-[60vh] overflow-y-auto">{children}</div>
      <div className="mt-4 flex justify-end gap-2">
        <Button type="button" onClick={onCancel}>{dismissLabel}</Button>
        <Button type="button" tone="primary" disabled={busy} onClick={onConfirm} autoFocus>{confirmLabel}</Button>
      </div>
    </dialog>
  );
}
