// The benchmark's function: a no-op for the event {} that the measured requests send. Set-up
// requests use `sleepMs` (to hold containers busy while more start) or `wait` (a URL on the bench's
// loopback gate to call before returning: requests held in flight, or a signal that the last async
// request ran), or `whoami` (answers with the host name: in a container, its Docker id, to count which
// container served). Deployed to Hearth and loaded as it is by the direct express server.
"use strict";
const http = require("node:http");
const os = require("node:os");

const call = (url) =>
  new Promise((resolve, reject) => {
    http.get(url, (res) => res.resume().on("end", resolve)).on("error", reject);
  });

exports.handler = async (event) => {
  if (event && event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  if (event && event.wait) await call(event.wait);
  if (event && event.whoami) return { host: os.hostname() };
  return { ok: true };
};
