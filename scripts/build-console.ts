// Copies the console's static files next to the compiled app.js (dist/console).
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const out = path.join(root, "dist", "console");
mkdirSync(out, { recursive: true });
for (const file of ["index.html", "style.css"]) copyFileSync(path.join(root, "src", "console", file), path.join(out, file));
