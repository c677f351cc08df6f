// Reading /metrics as Prometheus would, one series at a time.

import { expect } from "vitest";

/** One scrape of `url`/metrics: the value of a series (NaN when it is absent). */
export async function scrape(url: string): Promise<(series: string) => number> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  const lines = (await response.text()).split("\n");
  return (series) => {
    const line = lines.find((l) => l.startsWith(series + " "));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };
}
