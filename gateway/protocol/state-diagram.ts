// A lifecycle's transitions, each with the script that makes it, and the mermaid state diagram
// ARCHITECTURE.md shows of them (test/unit/lifecycle-diagrams.test.ts keeps the two equal).

export interface Transition<S extends string> {
  from: S | "none";
  to: S;
  /** The script that makes it (gateway/protocol/lua/<script>.lua). */
  script: string;
  when: string;
}

/** `none` is the start; `ends` are the states a life ends in. */
export function stateDiagram<S extends string>(transitions: readonly Transition<S>[], ends: readonly S[]): string {
  const name = (state: S | "none"): string => (state === "none" ? "[*]" : state);
  return ["stateDiagram-v2", ...transitions.map((t) => `  ${name(t.from)} --> ${name(t.to)}: ${t.script}`), ...ends.map((state) => `  ${state} --> [*]`)].join("\n");
}
