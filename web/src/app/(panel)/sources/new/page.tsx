"use client";
import { SourceForm } from "@/components/source-form";
import { PageTitle } from "@/components/ui";

export default function NewSource() {
  return (
    <>
      <PageTitle title="Register a source" />
      <SourceForm />
    </>
  );
}
