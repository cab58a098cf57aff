"use client";
import { useParams } from "next/navigation";
import { api } from "@/lib/api/client";
import type { SourceDetail } from "@/lib/api/models";
import { useApi } from "@/lib/use-api";
import { SourceForm } from "@/components/source-form";
import { Empty, PageTitle, ProblemBanner } from "@/components/ui";

export default function EditSource() {
  const { name } = useParams<{ name: string }>();
  const source = useApi<SourceDetail>(() => api.GET("/api/v1/sources/{name}", { params: { path: { name } } }), [name]);
  return (
    <>
      <PageTitle title={`Edit ${name}`} />
      <ProblemBanner problem={source.problem} />
      {source.data ? <SourceForm source={source.data} /> : <Empty>{source.loading ? "Loading…" : source.problem?.status === 404 ? "Not found." : "Could not load this source."}</Empty>}
    </>
  );
}
