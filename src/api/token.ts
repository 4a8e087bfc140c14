import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

export const TOKEN_FILE = "token";

/** The API token in `<root>/token`, created (mode 0600) on first start. */
export async function ensureToken(root: string): Promise<string> {
  const file = path.join(root, TOKEN_FILE);
  if (existsSync(file)) {
    const token = (await readFile(file, "utf8")).trim();
    if (token.length >= 16) {
      await chmod(file, 0o600);
      return token;
    }
  }
  const token = randomBytes(32).toString("base64url");
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}

/** Constant-time check of an `Authorization: Bearer <token>` header. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
