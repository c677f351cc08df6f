// A progress line on stderr: redrawn in place on a terminal, a single final line otherwise (logs stay readable).

import { bytes } from "./output.js";

export class UploadProgress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  sent(count: number): void {
    if (!this.tty || (Date.now() - this.lastDraw < 100 && count < this.total)) return;
    this.lastDraw = Date.now();
    process.stderr.write(`\r${this.label}: ${bytes(count)} / ${bytes(this.total)} (${Math.floor((count / this.total) * 100)}%)\x1b[K`);
  }

  done(): void {
    const line = `${this.label}: ${bytes(this.total)} sent.`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K\n` : `${line}\n`);
  }
}

/** A body that reports how much of it the connection has taken (fetch pulls the next slice when it can send it). */
export function reportingBody(data: Buffer, onSent: (count: number) => void, onEnd: () => void): ReadableStream<Uint8Array> {
  const SLICE = 64 * 1024;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= data.length) {
        controller.close();
        onEnd();
        return;
      }
      const slice = data.subarray(offset, offset + SLICE);
      offset += slice.length;
      controller.enqueue(new Uint8Array(slice));
      onSent(offset);
    },
  });
}
