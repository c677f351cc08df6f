// The state diagrams in ARCHITECTURE.md are the transitions the protocol modules list, word for word.

import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { asyncStatusDiagram } from "../../gateway/protocol/async-lifecycle.js";
import { containerStateDiagram } from "../../gateway/protocol/container-lifecycle.js";

describe("lifecycle diagrams", () => {
  it("ARCHITECTURE.md shows the container and async lifecycles as the protocol lists them", async () => {
    const doc = await readFile("ARCHITECTURE.md", "utf8");
    const diagrams = [...doc.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((match) => match[1]);
    expect(diagrams).toContain(containerStateDiagram());
    expect(diagrams).toContain(asyncStatusDiagram());
  });
});
