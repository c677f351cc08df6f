// A deploy is either multipart/form-data (field `config` as JSON, file `code`) or a JSON config alone
// (which keeps the function's current code).

import busboy from "busboy";
import type { Request } from "express";
import { HearthError } from "../errors.js";

export interface DeployRequest {
  config: unknown;
  code?: Buffer;
}

export async function readDeployRequest(req: Request, maxCodeBytes: number): Promise<DeployRequest> {
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("multipart/form-data")) return readMultipart(req, maxCodeBytes);
  if (type.startsWith("application/json")) return { config: req.body ?? {} };
  throw new HearthError(415, "UnsupportedMediaType", "send multipart/form-data (config, code) or application/json (config only)");
}

function readMultipart(req: Request, maxCodeBytes: number): Promise<DeployRequest> {
  return new Promise((resolve, reject) => {
    let config: string | undefined;
    const chunks: Buffer[] = [];
    let sawCode = false;
    let tooLarge = false;
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 4, fieldSize: 1024 * 1024, fileSize: maxCodeBytes } });
    } catch (error) {
      return reject(new HearthError(400, "InvalidRequest", (error as Error).message));
    }
    parser.on("field", (name, value) => {
      if (name === "config") config = value;
    });
    parser.on("file", (name, stream) => {
      if (name !== "code") return stream.resume();
      sawCode = true;
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("limit", () => (tooLarge = true));
    });
    parser.on("error", (error: Error) => reject(new HearthError(400, "InvalidRequest", `malformed multipart body: ${error.message}`)));
    parser.on("close", () => {
      if (tooLarge) return reject(new HearthError(413, "CodePackageTooLarge", `code package exceeds ${maxCodeBytes} bytes`));
      let parsed: unknown = {};
      try {
        if (config !== undefined) parsed = JSON.parse(config);
      } catch {
        return reject(new HearthError(400, "InvalidFunctionConfig", "field config is not valid JSON"));
      }
      resolve({ config: parsed, code: sawCode ? Buffer.concat(chunks) : undefined });
    });
    req.on("aborted", () => reject(new HearthError(400, "InvalidRequest", "the upload was aborted")));
    req.pipe(parser);
  });
}
