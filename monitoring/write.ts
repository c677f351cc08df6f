// `npm run monitoring`: writes the dashboards and the rules (generated-files.ts) into the repository.

import { writeFileSync } from "node:fs";
import { generatedFiles } from "./generated-files.js";

for (const [file, content] of Object.entries(generatedFiles())) {
  writeFileSync(file, content);
  console.log(`wrote ${file}`);
}
