// A deploy is either multipart/form-data (field `config` as JSON, file `code`) or a JSON config alone
// (which keeps the function's current code). The multipart reader is strict: anything else in the
// form, or too much of it, is an error that names what is wrong, and so is a body cut short.

import busboy from "busboy";
import express, { type Request } from "express";
import { HearthError } from "../errors.js";

/** The most a deploy's settings may take: the multipart field `config`, or a JSON deploy's body. */
export const MAX_CONFIG_BYTES = 64 * 1024;

const CONFIG = "config";
const CODE = "code";

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

const parseJson = express.json({ limit: MAX_CONFIG_BYTES });

/** Parses a JSON deploy's body, held to the limit of the field config. */
export const jsonConfigBody: ReturnType<typeof express.json> = (req, res, next) => {
  parseJson(req, res, (error?: unknown) => next((error as { type?: string } | undefined)?.type === "entity.too.large" ? configTooLarge() : error));
};

function configTooLarge(): HearthError {
  return new HearthError(413, "FunctionConfigTooLarge", `the function's config exceeds ${MAX_CONFIG_BYTES} bytes (the limit)`);
}

function invalidForm(message: string): HearthError {
  return new HearthError(400, "InvalidRequest", `${message}; a deploy is the field ${CONFIG} (JSON) and the file ${CODE} (the code package)`);
}

function readMultipart(req: Request, maxCodeBytes: number): Promise<DeployRequest> {
  return new Promise((resolve, reject) => {
    let config: string | undefined;
    let code: Buffer[] | undefined;
    let settled = false;
    let parser: busboy.Busboy;
    // The first problem answers the request; parsing stops, and the rest of the body is read and dropped.
    const fail = (error: HearthError): void => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.resume();
      // Not from inside busboy's own callback: it still touches its state after emitting ('limit').
      process.nextTick(() => parser.destroy());
      reject(error);
    };
    const malformed = (error: Error): void => fail(new HearthError(400, "InvalidRequest", `malformed multipart body: ${error.message}`));
    try {
      // Limits one above what a deploy has, so that a second field or file reaches the handlers below and is named.
      parser = busboy({ headers: req.headers, limits: { fields: 2, files: 2, parts: 4, fieldSize: MAX_CONFIG_BYTES, fileSize: maxCodeBytes } });
    } catch (error) {
      return reject(new HearthError(400, "InvalidRequest", (error as Error).message));
    }
    parser.on("field", (name, value, info) => {
      if (name === CODE) return fail(invalidForm(`${CODE} is a text field, not a file`));
      if (name !== CONFIG) return fail(invalidForm(`unknown field ${JSON.stringify(name)}`));
      if (config !== undefined) return fail(invalidForm(`a second field ${CONFIG}`));
      if (info.valueTruncated) return fail(configTooLarge());
      config = value;
    });
    parser.on("file", (name, stream) => {
      stream.on("error", malformed);
      if (name !== CODE || code) {
        stream.resume();
        if (name === CONFIG) return fail(invalidForm(`${CONFIG} is a file, not a text field`));
        return fail(invalidForm(name === CODE ? `a second file ${CODE}` : `unknown file ${JSON.stringify(name)}`));
      }
      const chunks: Buffer[] = [];
      code = chunks;
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("limit", () => fail(new HearthError(413, "CodePackageTooLarge", `code package exceeds ${maxCodeBytes} bytes`)));
    });
    for (const limit of ["fieldsLimit", "filesLimit", "partsLimit"] as const) parser.on(limit, () => fail(invalidForm("too many parts")));
    parser.on("error", malformed);
    parser.on("close", () => {
      if (settled) return;
      settled = true;
      let parsed: unknown = {};
      try {
        if (config !== undefined) parsed = JSON.parse(config);
      } catch {
        return reject(new HearthError(400, "InvalidFunctionConfig", "field config is not valid JSON"));
      }
      resolve({ config: parsed, code: code && Buffer.concat(code) });
    });
    // A client that goes away mid-upload: nothing more will come, and nobody reads the answer.
    req.on("close", () => {
      if (!req.complete) fail(new HearthError(400, "InvalidRequest", "the upload was aborted"));
    });
    req.pipe(parser);
  });
}
