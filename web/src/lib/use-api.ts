"use client";
// Loading state for one API read, with optional polling (live updates while a batch runs).
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { toProblem, type Problem } from "@/lib/api/problem";
import { signInHref } from "@/lib/auth";

type Fetcher = () => Promise<{ data?: unknown; error?: unknown; response: Response }>;

export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | null;
  loading: boolean;
  reload: () => Promise<void>;
}

export function useApi<T>(fetcher: Fetcher, deps: unknown[], pollMs?: (data: T | undefined) => number | null): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [settled, setSettled] = useState(false);
  const router = useRouter();
  const fetcherRef = useRef(fetcher);
  const pollRef = useRef(pollMs);
  useEffect(() => {
    fetcherRef.current = fetcher;
    pollRef.current = pollMs;
  });

  const reload = useCallback(async () => {
    try {
      const { data: body, error, response } = await fetcherRef.current();
      if (response.status === 401) {
        router.replace(signInHref());
        return;
      }
      if (error !== undefined) {
        setProblem(toProblem(error, response.status));
      } else {
        setData(body as T);
        setProblem(null);
      }
    } catch (error) {
      setProblem(toProblem(error));
    } finally {
      setSettled(true);
    }
  }, [router]);

  useEffect(() => {
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  // A refused read (unknown batch, bad parameter, no permission) answers the same every time:
  // polling stops. An unreachable API (status 0) or a 5xx is asked again.
  const refused = problem !== null && problem.status >= 400 && problem.status < 500;
  useEffect(() => {
    const every = refused ? null : (pollRef.current?.(data) ?? null);
    if (!every) return;
    const timer = window.setTimeout(() => void reload(), every);
    return () => window.clearTimeout(timer);
  }, [data, problem, refused, reload]);

  return { data, problem, loading: !settled, reload };
}
